import pytest
import torch

from ebmm.energies import GatedRNNEnergy, LogCoshEnergy, build_energy, memory_size, split_params
from ebmm.energies._base import WritableLinear


def test_paper_budgets():
    # the paper's gated RNN: writable Linear(128 -> 63) with bias = 8127 floats (budget 8256)
    assert memory_size(GatedRNNEnergy(hidden=64)) == 128 * 63 + 63
    # ours uses the budget exactly: 64 units x (128 + 1)
    assert memory_size(LogCoshEnergy()) == 128 * 127 // 2 + 128


def test_split_params_separates_memory_modules():
    static, writable = split_params(LogCoshEnergy(dim=16, hidden=4, static_hidden=8))
    assert set(writable) == {"memory.weight", "memory.bias"}
    assert "static.weight" in static and not set(static) & set(writable)


def test_model_without_memory_module_is_rejected():
    with pytest.raises(ValueError, match="no writable weights"):
        split_params(torch.nn.Linear(3, 3))
    with pytest.raises(TypeError):
        memory_size(torch.nn.Linear(3, 3))


def test_unknown_energy():
    with pytest.raises(ValueError, match="unknown energy"):
        build_energy("nope")


def test_writable_linear_batched_weights_match_per_episode(gen):
    lin = WritableLinear(5, 3)
    w, b = torch.randn(4, 3, 5, generator=gen), torch.randn(4, 3, generator=gen)
    x = torch.randn(4, 7, 5, generator=gen)
    batched = torch.func.functional_call(lin, {"weight": w, "bias": b}, (x,))
    for i in range(4):
        one = torch.func.functional_call(lin, {"weight": w[i], "bias": b[i]}, (x[i],))
        torch.testing.assert_close(batched[i], one)


@pytest.mark.parametrize("energy", [GatedRNNEnergy(dim=16, hidden=32, memory_units=8, hops=2), LogCoshEnergy(dim=16, hidden=8)])
def test_energy_shapes(energy, gen):
    x = torch.rand(3, 5, 16, generator=gen)
    assert energy(x).shape == (3, 5)
    assert torch.isfinite(energy(x)).all()


def test_logcosh_closed_forms_equal_torch_func_in_float64():
    """Both writing-loss terms' gradients and ∇ₓE, hand-derived as matrix products, against
    torch.func (second order for the gradient norm), with per-episode weights and pattern weights."""
    import torch

    from ebmm.energies import LogCoshEnergy, split_params
    from ebmm.dynamics import energy_grad

    gen = torch.Generator().manual_seed(3)
    energy = LogCoshEnergy(dim=12, hidden=5, static_hidden=0, init_scale=1.0).double()
    static, _ = split_params(energy)
    theta = {"memory.weight": torch.randn(2, 5, 12, generator=gen, dtype=torch.float64),
             "memory.bias": torch.randn(2, 5, generator=gen, dtype=torch.float64)}
    x = torch.rand(2, 7, 12, generator=gen, dtype=torch.float64)
    w = torch.rand(2, 7, generator=gen, dtype=torch.float64)
    fn = lambda th, x_: torch.func.functional_call(energy, (static, th), (x_,))  # noqa: E731
    torch.testing.assert_close(LogCoshEnergy.grad_x(static, theta, x), energy_grad(fn, theta, x), rtol=1e-10, atol=1e-12)
    ref_e = torch.func.grad(lambda th: (fn(th, x) * w).sum())(theta)
    ref_g = torch.func.grad(lambda th: (energy_grad(fn, th, x).pow(2).sum(-1) * w).sum())(theta)
    got_e, got_g = LogCoshEnergy.write_param_grads(static, theta, x, w, energy=True, grad_norm=True)
    for name in theta:
        torch.testing.assert_close(got_e[name], ref_e[name], rtol=1e-10, atol=1e-12)
        torch.testing.assert_close(got_g[name], ref_g[name], rtol=1e-10, atol=1e-12)
    assert LogCoshEnergy(dim=12, hidden=5, static_hidden=4).closed_form_terms == ()


def test_logcosh_closed_form_meta_step_equals_the_reference(tiny_memory_config):
    """The whole meta-step (T write steps with all three terms, K reads, the meta-gradient) on
    the closed forms equals the torch.func reference."""
    import torch

    from ebmm.models.ebmm import EBMM, meta_loss
    from ebmm.tasks import Distortion, random_patterns

    gen = torch.Generator().manual_seed(4)
    fast, ref = EBMM.from_config(tiny_memory_config), EBMM.from_config(tiny_memory_config, closed_form=False)
    assert fast.param_grad_fn(fast.init_params()["static"]) is not None
    params = {g: {k: v.double() for k, v in d.items()} for g, d in fast.init_params(seed=2).items()}
    x = random_patterns((3, 5, 32), generator=gen).double()
    q = Distortion.parse("erase:16").apply(x, generator=gen)
    gf, (lf, _) = torch.func.grad_and_value(lambda p: meta_loss(fast, p, x, q), has_aux=True)(params)
    gr, (lr_, _) = torch.func.grad_and_value(lambda p: meta_loss(ref, p, x, q), has_aux=True)(params)
    torch.testing.assert_close(lf, lr_, rtol=1e-10, atol=1e-10)
    for group in gr:
        for name in gr[group]:
            torch.testing.assert_close(gf[group][name], gr[group][name], rtol=1e-8, atol=1e-10)
