"""The differentiable-plasticity baseline: its trace is a decayed Hebbian sum stored as a
triangle of d(d+1)/2 floats. (What every learned baseline shares, learning, reloading and
refusing bad input included: test_learned_baselines.py.)"""

from __future__ import annotations

from dataclasses import replace

import torch

from ebmm.models.plasticity import DifferentiablePlasticity
from ebmm.models.protocol import LearnedModel
from ebmm.models import model_kinds
from ebmm.tasks import Distortion, random_patterns

TINY = DifferentiablePlasticity(dim=16, max_patterns=4, read_steps=3)


def test_protocol_shapes_and_trajectory(gen, perturbed):
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
    assert DifferentiablePlasticity().memory_size() == 128 * 127 // 2 + 128
    assert DifferentiablePlasticity(dim=10).memory_size() == 10 * 11 // 2


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
