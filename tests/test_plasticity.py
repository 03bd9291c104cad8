"""The differentiable-plasticity baseline: its trace is a decayed Hebbian sum stored as a
triangle of d(d+1)/2 floats, it learns, it reloads, it refuses bad input."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

import ebmm
from ebmm import LearnedMemory
from ebmm.baselines.plasticity import DifferentiablePlasticity
from ebmm.config import TrainConfig
from ebmm.meta.protocol import LearnedModel, model_kinds
from ebmm.meta.trainer import evaluate_params, train
from ebmm.tasks import Distortion, random_patterns

TINY = DifferentiablePlasticity(dim=16, max_patterns=4, read_steps=3)


def perturbed(params, gen, scale=0.05):
    return {g: {k: v + scale * torch.randn(v.shape, generator=gen) for k, v in d.items()} for g, d in params.items()}


def test_protocol_shapes_and_trajectory(gen):
    assert isinstance(TINY, LearnedModel) and model_kinds()["plasticity"] is DifferentiablePlasticity
    params = perturbed(TINY.init_params(seed=3), gen)
    x = random_patterns((3, 5, 16), generator=gen)
    q = Distortion.parse("erase:4").apply(x, generator=gen)
    state = TINY.write(params, x)
    assert {k: tuple(v.shape) for k, v in state.items()} == {"trace_upper": (3, 120), "trace_diag": (3, 16)}
    out = TINY.read(params, state, q, False)
    assert out.shape == (3, 5, 16) and bool(((out >= 0) & (out <= 1)).all())
    traj = TINY.read(params, state, q, True)
    assert traj.shape == (3, 1 + 3, 5, 16)
    torch.testing.assert_close(traj[:, 0], q)
    torch.testing.assert_close(traj[:, -1], out)
    loss, retrieved = TINY.loss(params, x, q)
    torch.testing.assert_close(loss, (out - x).pow(2).sum(-1).mean())
    torch.testing.assert_close(retrieved, out)


def test_memory_size_is_a_symmetric_trace():
    assert DifferentiablePlasticity().memory_size() == 128 * 127 // 2 + 128 == 8256
    assert DifferentiablePlasticity(dim=10).memory_size() == 10 * 11 // 2
    state = TINY.write(TINY.init_params(), torch.zeros(1, 3, 16))
    assert ebmm.memory_size({k: v[0] for k, v in state.items()}) == TINY.memory_size() == 136


def test_trace_is_the_decayed_hebbian_sum(gen):
    """With no recurrent weights the activity is tanh(g·s_t + b), and the trace after N
    patterns is Σ_t Σ_p η(1−η)^(later steps) y_t y_tᵀ; the packed state unpacks to it."""
    model = replace(TINY, present_steps=2, input_gain=0.7)
    params = model.init_params()
    params["recurrent"]["weight"] = torch.zeros(16, 16)
    params["plasticity"]["alpha"] = torch.zeros(16, 16)
    params["recurrent"]["bias"] = 0.1 * torch.randn(16, generator=gen)
    eta = float(torch.sigmoid(params["plasticity"]["eta_logit"]))
    x = random_patterns((2, 3, 16), generator=gen)
    y = torch.tanh(0.7 * (2 * x - 1) + params["recurrent"]["bias"])  # (2, 3, 16)
    expected = torch.zeros(2, 16, 16)
    for t in range(3):
        for _ in range(2):
            expected = (1 - eta) * expected + eta * y[:, t, :, None] * y[:, t, None, :]
    trace = model.write_trace(params, x)
    torch.testing.assert_close(trace, expected)
    assert torch.equal(trace, trace.transpose(-1, -2))
    state = model.write(params, x)
    q = Distortion.parse("erase:8").apply(x, generator=gen)
    torch.testing.assert_close(model.read(params, state, q, True)[:, 1:], model.read_trace(params, trace, q))


def test_plastic_weights_complete_a_stored_pattern(gen):
    """Pure Hebbian plasticity (W = 0, α = 1) completes an erased half of one stored pattern."""
    model = DifferentiablePlasticity(dim=16, max_patterns=1, present_steps=1, read_steps=3)
    params = model.init_params()
    params["recurrent"]["weight"] = torch.zeros(16, 16)
    params["plasticity"]["alpha"] = torch.ones(16, 16)
    params["plasticity"]["eta_logit"] = torch.tensor(5.0)
    x = random_patterns((1, 1, 16), generator=gen)
    q = x.clone()
    q[..., :8] = 0.5
    out = model.read(params, model.write(params, x), q, False)
    assert torch.equal((out > 0.5).float(), x)


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
    model = DifferentiablePlasticity(dim=32, max_patterns=7, present_steps=3, read_steps=2, input_gain=5.0)
    again = DifferentiablePlasticity.from_config_dict(json.loads(json.dumps(model.config_dict())))
    assert again == model and again.config_dict() == model.config_dict()
    with pytest.raises(ValueError, match="read_steps"):
        DifferentiablePlasticity(read_steps=0)
    with pytest.raises(ValueError, match="eta_init"):
        DifferentiablePlasticity(eta_init=1.0)


def test_saved_memory_reloads_to_identical_outputs(gen, tmp_path):
    memory = LearnedMemory(TINY, perturbed(TINY.init_params(), gen), name="tiny-plasticity")
    x = random_patterns((4, 16), generator=gen).numpy()
    q = Distortion.parse("erase:8").apply(torch.from_numpy(x), generator=gen).numpy()
    expected = memory.read(q, memory.write(x), trajectory=True)
    again = ebmm.load(memory.save(tmp_path / "plasticity.safetensors"))
    assert isinstance(again, LearnedMemory) and again.model == TINY and again.name == "tiny-plasticity"
    for g, d in memory.params.items():
        for k, v in d.items():
            assert torch.equal(again.params[g][k], v), (g, k)
    np.testing.assert_allclose(again.read(q, again.write(x), trajectory=True), expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize(
    "bad, match",
    [(np.zeros((4, 17)), "16-dimensional"), (np.full((4, 16), 1.5), r"\[0, 1\]"), (np.full((4, 16), np.inf), "NaN")],
)
def test_bad_input_is_refused(bad, match):
    memory = LearnedMemory(TINY)
    with pytest.raises(ValueError, match=match):
        memory.write(bad)
    with pytest.raises(ValueError, match=match):
        memory.read(bad, memory.write(np.zeros((2, 16))))


def test_tiny_meta_training_beats_the_query():
    cfg = TrainConfig(patterns=4, episodes=16, distortion="erase:8", lr=1e-2, clip_norm=1.0, steps=150, eval_every=0)
    before = evaluate_params(TINY, TINY.init_params(), 4, "erase:8", 64, seed=99)
    result = train(TINY, cfg, progress=False)
    after = evaluate_params(TINY, result.params, 4, "erase:8", 64, seed=99)
    query_bits = 4.0  # 8 erased positions: half are wrong after thresholding at 0.5
    assert after < 0.5 * query_bits, (before, after)
    assert after < 0.5 * before, (before, after)
