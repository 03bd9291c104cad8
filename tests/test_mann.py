"""The MANN baseline: LRUA writes fill the least-used slot, its memory is S·W + 2S floats.
(What every learned baseline shares, learning, reloading and refusing bad input included:
test_learned_baselines.py.)"""

from __future__ import annotations

import torch

from ebmm.models.mann import MANN, controller, cosine_weights
from ebmm.models.protocol import LearnedModel
from ebmm.models import model_kinds
from ebmm.tasks import Distortion, random_patterns

TINY = MANN(dim=16, max_patterns=4, slots=4, width=8, hidden=32)


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
    assert MANN().memory_size() == 64 * 127 + 2 * 64
    assert MANN(slots=5, width=7).memory_size() == 5 * 7 + 2 * 5


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
