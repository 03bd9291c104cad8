"""The Kanerva Machine baseline: sequential Kalman writes equal the paper's batch posterior,
its memory is K·c + K(K+1)/2 floats. (What every learned baseline shares, learning,
reloading and refusing bad input included: test_learned_baselines.py.)"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from ebmm.models.kanerva import KanervaMachine, least_squares_address, pack_upper, unpack_upper
from ebmm.models.protocol import LearnedModel
from ebmm.models import model_kinds
from ebmm.tasks import Distortion, random_patterns

TINY = KanervaMachine(dim=16, max_patterns=4, slots=8, code=16, hidden=32)
TINY_LEARNED = replace(TINY, addressing="learned")


@pytest.mark.parametrize("model", [TINY, TINY_LEARNED], ids=["least_squares", "learned"])
def test_protocol_shapes_and_trajectory(model, gen):
    assert isinstance(model, LearnedModel) and model_kinds()["kanerva"] is KanervaMachine
    params = model.init_params(seed=3)
    x = random_patterns((3, 5, 16), generator=gen)
    q = Distortion.parse("erase:4").apply(x, generator=gen)
    state = model.write(params, x)
    assert {k: tuple(v.shape) for k, v in state.items()} == {"mean": (3, 8, 16), "row_cov": (3, 36)}
    out = model.read(params, state, q, False)
    assert out.shape == (3, 5, 16) and bool(((out > 0) & (out < 1)).all())
    traj = model.read(params, state, q, True)
    assert traj.shape == (3, 1 + model.read_iterations, 5, 16)
    torch.testing.assert_close(traj[:, 0], q)
    torch.testing.assert_close(traj[:, -1], out)
    loss, retrieved = model.loss(params, x, q)
    torch.testing.assert_close(loss, (out - x).pow(2).sum(-1).mean())
    torch.testing.assert_close(retrieved, out)


def test_memory_size_is_the_mean_and_a_covariance_triangle():
    assert KanervaMachine().memory_size() == 43 * 170 + 43 * 44 // 2
    assert KanervaMachine(slots=5, code=7).memory_size() == 5 * 7 + 5 * 6 // 2


def test_packed_covariance_round_trip(gen):
    a = torch.randn(2, 5, 5, generator=gen)
    u = a @ a.transpose(-1, -2)
    assert pack_upper(u).shape == (2, 15)
    assert torch.equal(unpack_upper(pack_upper(u), 5), u)
    with pytest.raises(ValueError, match="15 entries"):
        unpack_upper(torch.zeros(2, 14), 5)


def test_sequential_writes_equal_the_batch_posterior(gen, perturbed):
    """The paper's closed form for a whole episode at once, R + Σ_cᵀ Σ_z⁻¹ Δ and
    U − Σ_cᵀ Σ_z⁻¹ Σ_c with Σ_z = W U Wᵀ + σ_ξ² I, Σ_c = W U, Δ = Z − W R, equals N
    one-pattern Kalman writes (learned addressing: the addresses do not depend on the memory)."""
    model = TINY_LEARNED
    params = perturbed(model.init_params(), gen, scale=0.3)
    params = {g: {k: v.double() for k, v in d.items()} for g, d in params.items()}
    x = random_patterns((2, 6, 16), generator=gen).double()
    mean, cov = model.write_posterior(params, x)
    z, w = model._encode(params, x)  # (B, N, c), (B, N, K)
    prior = params["prior"]
    r0, u0 = prior["mean"], prior["log_var"].exp() * torch.eye(8, dtype=torch.float64)
    sigma_z = w @ u0 @ w.transpose(-1, -2) + prior["log_noise"].exp() * torch.eye(6, dtype=torch.float64)
    sigma_c = w @ u0  # (B, N, K)
    gain = torch.linalg.solve(sigma_z, sigma_c).transpose(-1, -2)  # Σ_cᵀ Σ_z⁻¹ (B, K, N)
    torch.testing.assert_close(mean, r0 + gain @ (z - w @ r0))
    torch.testing.assert_close(cov, u0 - gain @ sigma_c)


def test_least_squares_address_is_the_ridge_solution(gen):
    mean = torch.randn(2, 5, 7, generator=gen, dtype=torch.float64)
    z = torch.randn(2, 3, 7, generator=gen, dtype=torch.float64)
    ridge = torch.tensor(0.3, dtype=torch.float64)
    w = least_squares_address(z, mean, ridge)  # (2, 3, 5)
    # the gradient of ‖z − Rᵀw‖² + ridge ‖w‖² vanishes at w
    residual = z - w @ mean
    torch.testing.assert_close(-residual @ mean.transpose(-1, -2) + ridge * w, torch.zeros_like(w))
