"""The MANN baseline: LRUA writes fill the least-used slot, its memory is S·W + 2S floats,
it learns, it reloads, it refuses bad input."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

import ebmm
from ebmm import LearnedMemory
from ebmm.baselines.mann import MANN, controller, cosine_weights
from ebmm.config import TrainConfig
from ebmm.meta.protocol import LearnedModel, model_kinds
from ebmm.meta.trainer import evaluate_params, train
from ebmm.tasks import Distortion, random_patterns

TINY = MANN(dim=16, max_patterns=4, slots=4, width=8, hidden=32)


def perturbed(params, gen, scale=0.05):
    return {g: {k: v + scale * torch.randn(v.shape, generator=gen) for k, v in d.items()} for g, d in params.items()}


def test_protocol_shapes_and_trajectory(gen):
    assert isinstance(TINY, LearnedModel) and model_kinds()["mann"] is MANN
    params = TINY.init_params(seed=3)
    x = random_patterns((3, 5, 16), generator=gen)
    q = Distortion.parse("erase:4").apply(x, generator=gen)
    state = TINY.write(params, x)
    assert {k: tuple(v.shape) for k, v in state.items()} == {"memory": (3, 4, 8), "usage": (3, 4), "read_weights": (3, 4)}
    out = TINY.read(params, state, q, False)
    assert out.shape == (3, 5, 16) and bool(((out > 0) & (out < 1)).all())
    traj = TINY.read(params, state, q, True)
    assert traj.shape == (3, 2, 5, 16)
    torch.testing.assert_close(traj[:, 0], q)
    torch.testing.assert_close(traj[:, -1], out)
    loss, retrieved = TINY.loss(params, x, q)
    torch.testing.assert_close(loss, (out - x).pow(2).sum(-1).mean())
    torch.testing.assert_close(retrieved, out)


def test_memory_size_is_the_lrua_state():
    assert MANN().memory_size() == 64 * 127 + 2 * 64 == 128 * 127 // 2 + 128 == 8256
    assert MANN(slots=5, width=7).memory_size() == 5 * 7 + 2 * 5
    state = TINY.write(TINY.init_params(), torch.zeros(1, 3, 16))
    assert ebmm.memory_size({k: v[0] for k, v in state.items()}) == TINY.memory_size() == 40


def test_lrua_writes_each_key_to_the_least_used_slot(gen):
    """With the write gate shut, pattern t lands verbatim (its key) in the t-th empty slot, and
    once every slot is used the next key replaces the least recently used one, slot 0."""
    params = TINY.init_params()
    params["heads"]["gate_bias"] = torch.full((1,), -50.0)
    x = random_patterns((2, 5, 16), generator=gen)
    keys, _, _ = TINY.heads(params, controller(params, x))
    full = TINY.write(params, x[:, :4])
    torch.testing.assert_close(full["memory"], keys[:, :4])
    used = full["usage"]
    assert bool((used[:, :1] < used[:, 1:]).all())  # the oldest write has decayed most
    over = TINY.write(params, x)
    torch.testing.assert_close(over["memory"][:, 0], keys[:, 4])
    torch.testing.assert_close(over["memory"][:, 1:], keys[:, 1:4])


def test_cosine_read_weights():
    memory = torch.tensor([[[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]]])  # the last slot is empty
    w = cosine_weights(torch.tensor([[[0.0, 3.0]]]), memory, torch.tensor([[4.0]]))
    expected = torch.softmax(torch.tensor([0.0, 4.0, 0.0]), dim=0)
    torch.testing.assert_close(w[0, 0], expected)


def test_queries_are_read_independently(gen):
    params = perturbed(TINY.init_params(), gen)
    x = random_patterns((2, 4, 16), generator=gen)
    q = Distortion.parse("erase:8").apply(x, generator=gen)
    state = TINY.write(params, x)
    together = TINY.read(params, state, q, False)
    for j in range(4):
        torch.testing.assert_close(TINY.read(params, state, q[:, j : j + 1], False)[:, 0], together[:, j])


def test_masked_patterns_are_neither_written_nor_scored(gen):
    params = perturbed(TINY.init_params(), gen)
    x = random_patterns((2, 6, 16), generator=gen)
    q = Distortion.parse("erase:8").apply(x, generator=gen)
    mask = torch.tensor([[1.0] * 4 + [0.0] * 2, [1.0] * 3 + [0.0] * 3])
    loss, retrieved = TINY.loss(params, x, q, mask)
    sq = []
    for b, n in enumerate((4, 3)):
        _, alone = TINY.loss(params, x[b : b + 1, :n], q[b : b + 1, :n])
        torch.testing.assert_close(retrieved[b, :n], alone[0])
        sq.append((alone[0] - x[b, :n]).pow(2).sum(-1))
    torch.testing.assert_close(loss, torch.cat(sq).mean())


def test_config_json_round_trip():
    model = MANN(dim=32, max_patterns=7, slots=3, width=5, hidden=11)
    again = MANN.from_config_dict(json.loads(json.dumps(model.config_dict())))
    assert again == model and again.config_dict() == model.config_dict()
    with pytest.raises(ValueError, match="slots"):
        MANN(slots=0)


def test_saved_memory_reloads_to_identical_outputs(gen, tmp_path):
    memory = LearnedMemory(TINY, perturbed(TINY.init_params(), gen), name="tiny-mann")
    x = random_patterns((4, 16), generator=gen).numpy()
    q = Distortion.parse("erase:8").apply(torch.from_numpy(x), generator=gen).numpy()
    expected = memory.read(q, memory.write(x), trajectory=True)
    again = ebmm.load(memory.save(tmp_path / "mann.safetensors"))
    assert isinstance(again, LearnedMemory) and again.model == TINY and again.name == "tiny-mann"
    for g, d in memory.params.items():
        for k, v in d.items():
            assert torch.equal(again.params[g][k], v), (g, k)
    np.testing.assert_allclose(again.read(q, again.write(x), trajectory=True), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "bad, match",
    [(np.zeros((4, 15)), "16-dimensional"), (np.full((4, 16), 1.5), r"\[0, 1\]"), (np.full((4, 16), -0.5), r"\[0, 1\]")],
)
def test_bad_input_is_refused(bad, match):
    memory = LearnedMemory(TINY)
    with pytest.raises(ValueError, match=match):
        memory.write(bad)
    with pytest.raises(ValueError, match=match):
        memory.read(bad, memory.write(np.zeros((2, 16))))


def test_tiny_meta_training_beats_the_query():
    model = replace(TINY, width=16, hidden=48)
    cfg = TrainConfig(patterns=4, episodes=16, distortion="erase:8", lr=1e-2, clip_norm=1.0, steps=150, eval_every=0)
    before = evaluate_params(model, model.init_params(), 4, "erase:8", 64, seed=99)
    result = train(model, cfg, progress=False)
    after = evaluate_params(model, result.params, 4, "erase:8", 64, seed=99)
    query_bits = 4.0  # 8 erased positions: half are wrong after thresholding at 0.5
    assert after < 0.5 * query_bits, (before, after)
    assert after < 0.5 * before, (before, after)
