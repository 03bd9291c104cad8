"""The modern Hopfield baseline: the update is Ramsauer et al.'s, storage is verbatim within
the budget (a learned projection beyond it), exact one-step recall. (What every learned
baseline shares, learning and reloading included: test_learned_baselines.py.)"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest
import torch

from ebmm.models.modern_hopfield import ModernHopfield
from ebmm.models.protocol import LearnedModel
from ebmm.models import model_kinds
from ebmm.tasks import error_bits

# 16-bit patterns, 8 rows of 8 floats + a flag: a learned projection to half the size
TINY = ModernHopfield(dim=16, max_patterns=8, budget=72)
# 16-bit patterns with room for 8 verbatim rows of 16 + a flag
TINY_VERBATIM = ModernHopfield(dim=16, max_patterns=8, budget=136, steps=2)


@pytest.mark.parametrize("model", [TINY, TINY_VERBATIM], ids=["projected", "verbatim"])
def test_protocol_shapes_and_trajectory(model, gen, episodes):
    assert isinstance(model, LearnedModel) and model_kinds()["modern_hopfield"] is ModernHopfield
    params = model.init_params(seed=3)
    assert ("projection" in params) == model.projected
    x, q = episodes(gen, 3, 5, "erase:4")
    state = model.write(params, x)
    assert {k: tuple(v.shape) for k, v in state.items()} == {"patterns": (3, model.slots, model.code_width + 1)}
    out = model.read(params, state, q, False)
    assert out.shape == (3, 5, 16) and bool(((out >= 0) & (out <= 1)).all())
    traj = model.read(params, state, q, True)
    assert traj.shape == (3, model.steps + 1, 5, 16)
    torch.testing.assert_close(traj[:, 0], q)
    torch.testing.assert_close(traj[:, -1], out)
    loss, _ = model.loss(params, x, q)
    torch.testing.assert_close(loss, (out - x).pow(2).sum(-1).mean())


def test_memory_size_fills_the_budget():
    assert ModernHopfield(max_patterns=64).memory_size() == 8256
    assert (ModernHopfield().slots, ModernHopfield().code_width) == (96, 85)
    assert (ModernHopfield(max_patterns=64).slots, ModernHopfield(max_patterns=64).code_width) == (64, 128)
    assert not ModernHopfield(max_patterns=64).projected and ModernHopfield().projected
    # small d, budget d(d-1)/2 + d = 136: 8 verbatim rows of 17, or 12 projected rows of 11
    assert TINY_VERBATIM.memory_size() == 136
    assert ModernHopfield(dim=16, max_patterns=12, budget=136).memory_size() == 132


def test_verbatim_rows_are_the_spin_images(gen, episodes):
    x, _ = episodes(gen, 2, 5, "erase:4")
    rows = TINY_VERBATIM.write(TINY_VERBATIM.init_params(), x)["patterns"]  # (2, 8, 17)
    torch.testing.assert_close(rows[:, :5, :16], 2 * x - 1, rtol=0, atol=0)
    assert rows[:, :5, 16].eq(1).all() and rows[:, 5:].eq(0).all()
    assert set(TINY_VERBATIM.init_params()) == {"retrieval"}  # β, gain, query weight: nothing else


def test_one_step_is_the_modern_hopfield_update(gen, perturbed, episodes):
    """ξ' = Xᵀ softmax(β X ξ) over the stored rows only, output sigmoid(g ξ' + a s)."""
    model = replace(TINY_VERBATIM, steps=1)
    params = perturbed(model.init_params(), gen, scale=0.5)
    x, q = episodes(gen, 2, 3, "erase:6")
    out = model.read(params, model.write(params, x), q, False)
    r = params["retrieval"]
    beta, g, a = float(r["log_beta"].exp()), float(r["gain"]), float(r["query_weight"])
    for b in range(2):
        stored = (2 * x[b] - 1).double()  # (3, 16): the 5 empty rows take no part
        for j in range(3):
            s = (2 * q[b, j] - 1).double()
            xi = stored.T @ torch.softmax(beta * stored @ s, dim=0)
            torch.testing.assert_close(out[b, j].double(), torch.sigmoid(g * xi + a * s), rtol=1e-5, atol=1e-6)


def test_large_beta_retrieves_the_stored_pattern_exactly_in_one_step(gen, episodes):
    """d = 128, 32 patterns in 64 rows, 16 flipped bits: the stored pattern overlaps its query
    by 128 − 2·16 = 96, any other one by O(√128), so with β = 1 the softmax is one-hot to
    float precision and ξ₁ is the stored ±1 image: the output is sigmoid(g (2x − 1))."""
    model = ModernHopfield(max_patterns=64, steps=1)
    params = model.init_params()
    params["retrieval"]["log_beta"] = torch.tensor(0.0)
    x, q = episodes(gen, 2, 32, "flip:16", d=128)
    out = model.read(params, model.write(params, x), q, False)
    torch.testing.assert_close(out, torch.sigmoid(params["retrieval"]["gain"] * (2 * x - 1)), rtol=0, atol=1e-6)
    assert float(error_bits(out, x).max()) == 0.0
    assert float(error_bits(q, x).mean()) == 16.0  # the queries really were 16 bits away


def test_beta_init_survives_the_config_round_trip():
    model = ModernHopfield(dim=32, max_patterns=7, budget=300, steps=5, beta_init=0.5)
    again = ModernHopfield.from_config_dict(json.loads(json.dumps(model.config_dict())))
    assert float(again.init_params()["retrieval"]["log_beta"]) == pytest.approx(math.log(0.5))
