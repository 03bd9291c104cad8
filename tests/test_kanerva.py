"""The Kanerva Machine baseline: sequential Kalman writes equal the paper's batch posterior,
its memory is K·c + K(K+1)/2 floats, it learns, it reloads, it refuses bad input."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

import ebmm
from ebmm import LearnedMemory
from ebmm.baselines.kanerva import KanervaMachine, least_squares_address, pack_upper, unpack_upper
from ebmm.config import TrainConfig
from ebmm.meta.protocol import LearnedModel, model_kinds
from ebmm.meta.trainer import evaluate_params, train
from ebmm.tasks import Distortion, random_patterns

TINY = KanervaMachine(dim=16, max_patterns=4, slots=8, code=16, hidden=32)
TINY_LEARNED = replace(TINY, addressing="learned")


def perturbed(params, gen, scale=0.05):
    return {g: {k: v + scale * torch.randn(v.shape, generator=gen) for k, v in d.items()} for g, d in params.items()}


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
    assert KanervaMachine().memory_size() == 43 * 170 + 43 * 44 // 2 == 128 * 127 // 2 + 128 == 8256
    assert KanervaMachine(slots=5, code=7).memory_size() == 5 * 7 + 5 * 6 // 2
    state = TINY.write(TINY.init_params(), torch.zeros(1, 3, 16))
    assert ebmm.memory_size({k: v[0] for k, v in state.items()}) == TINY.memory_size() == 8 * 16 + 36


def test_packed_covariance_round_trip(gen):
    a = torch.randn(2, 5, 5, generator=gen)
    u = a @ a.transpose(-1, -2)
    assert pack_upper(u).shape == (2, 15)
    assert torch.equal(unpack_upper(pack_upper(u), 5), u)
    with pytest.raises(ValueError, match="15 entries"):
        unpack_upper(torch.zeros(2, 14), 5)


def test_sequential_writes_equal_the_batch_posterior(gen):
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


@pytest.mark.parametrize("model", [TINY, TINY_LEARNED], ids=["least_squares", "learned"])
def test_queries_are_read_independently(model, gen):
    params = perturbed(model.init_params(), gen)
    x = random_patterns((2, 4, 16), generator=gen)
    q = Distortion.parse("erase:8").apply(x, generator=gen)
    state = model.write(params, x)
    together = model.read(params, state, q, False)
    for j in range(4):
        torch.testing.assert_close(model.read(params, state, q[:, j : j + 1], False)[:, 0], together[:, j])


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
    model = KanervaMachine(dim=32, max_patterns=7, slots=3, code=5, hidden=11, read_iterations=4, addressing="learned")
    again = KanervaMachine.from_config_dict(json.loads(json.dumps(model.config_dict())))
    assert again == model and again.config_dict() == model.config_dict()
    with pytest.raises(ValueError, match="addressing"):
        KanervaMachine(addressing="random")
    with pytest.raises(ValueError, match="code"):
        KanervaMachine(code=0)


@pytest.mark.parametrize("model", [TINY, TINY_LEARNED], ids=["least_squares", "learned"])
def test_saved_memory_reloads_to_identical_outputs(model, gen, tmp_path):
    memory = LearnedMemory(model, perturbed(model.init_params(), gen), name="tiny-kanerva")
    x = random_patterns((4, 16), generator=gen).numpy()
    q = Distortion.parse("erase:8").apply(torch.from_numpy(x), generator=gen).numpy()
    expected = memory.read(q, memory.write(x), trajectory=True)
    again = ebmm.load(memory.save(tmp_path / "kanerva.safetensors"))
    assert isinstance(again, LearnedMemory) and again.model == model and again.name == "tiny-kanerva"
    for g, d in memory.params.items():
        for k, v in d.items():
            assert torch.equal(again.params[g][k], v), (g, k)
    np.testing.assert_allclose(again.read(q, again.write(x), trajectory=True), expected, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "bad, match",
    [(np.zeros((4, 8)), "16-dimensional"), (np.full((4, 16), 2.0), r"\[0, 1\]"), (np.full((4, 16), np.nan), "NaN")],
)
def test_bad_input_is_refused(bad, match):
    memory = LearnedMemory(TINY)
    with pytest.raises(ValueError, match=match):
        memory.write(bad)
    with pytest.raises(ValueError, match=match):
        memory.read(bad, memory.write(np.zeros((2, 16))))


def test_tiny_meta_training_beats_the_query():
    model = replace(TINY, slots=4, code=32, hidden=48)
    cfg = TrainConfig(patterns=4, episodes=16, distortion="erase:8", lr=1e-2, clip_norm=1.0, steps=150, eval_every=0)
    before = evaluate_params(model, model.init_params(), 4, "erase:8", 64, seed=99)
    result = train(model, cfg, progress=False)
    after = evaluate_params(model, result.params, 4, "erase:8", 64, seed=99)
    query_bits = 4.0  # 8 erased positions: half are wrong after thresholding at 0.5
    assert after < 0.5 * query_bits, (before, after)
    assert after < 0.5 * before, (before, after)
