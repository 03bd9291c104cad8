"""Read and write dynamics: energy goes down when reading, stored patterns become minima."""

import torch

from ebmm.config import WRITE_TERMS
from ebmm.dynamics import non_increasing, project, read, write
from ebmm.models.ebmm import EBMM, init_params, read_schedule, write_batch, write_episode, write_rates
from ebmm.tasks import random_patterns


def _written(cfg, gen, n=8, b=4):
    arch = EBMM.from_config(cfg)
    params = init_params(arch)
    x = random_patterns((b, n, arch.dim), generator=gen)
    return arch, params, x, write_batch(arch, params, x)


def test_schedule_is_non_increasing():
    s = non_increasing(torch.tensor(0.7), torch.tensor([3.0, -2.0, 0.0, 10.0]))
    assert s[0] == 0.7 and (s[1:] <= s[:-1]).all() and (s > 0).all()


def test_projection_clips_but_leaks_gradient():
    x = torch.tensor([-0.5, 0.5, 1.5], requires_grad=True)
    y = project(x, leak=0.25)
    torch.testing.assert_close(y.detach(), torch.tensor([0.0, 0.5, 1.0]))
    y.sum().backward()
    torch.testing.assert_close(x.grad, torch.tensor([0.25, 1.0, 0.25]))


def test_reading_lowers_the_energy(tiny_memory_config, gen):
    arch, params, x, theta = _written(tiny_memory_config, gen)
    q = torch.rand(x.shape, generator=gen)
    gammas, momenta = read_schedule(params)
    fn = arch.energy_fn(params["static"])
    iterates = read(fn, theta, q, gammas * 0.2, momenta * 0)  # plain small-step projected descent
    e0, ek = fn(theta, q), fn(theta, iterates[-1])
    assert (ek < e0).float().mean() > 0.95


def test_writing_makes_stored_patterns_lower_in_energy_than_fresh_ones(tiny_memory_config, gen):
    arch, params, x, theta = _written(tiny_memory_config, gen)
    fresh = random_patterns(x.shape, generator=gen)
    fn = arch.energy_fn(params["static"])
    margin = fn(theta, fresh).mean() - fn(theta, x).mean()
    init = {k: v.expand(x.shape[0], *v.shape) for k, v in params["init"].items()}
    margin_before = fn(init, fresh).mean() - fn(init, x).mean()
    assert margin > 0 and margin > 10 * abs(margin_before)


def test_write_is_pure_and_batched_equals_per_episode(tiny_memory_config, gen):
    arch = EBMM.from_config(tiny_memory_config)
    params = init_params(arch)
    before = {k: v.clone() for k, v in params["init"].items()}
    x = random_patterns((3, 6, arch.dim), generator=gen)
    theta = write_batch(arch, params, x)
    for k in before:
        assert torch.equal(params["init"][k], before[k])
    for i in range(3):
        one = write_episode(arch, params, x[i])
        for k in one:
            torch.testing.assert_close(theta[k][i], one[k], rtol=1e-5, atol=1e-6)


def test_write_terms_can_be_switched_off(tiny_memory_config, gen):
    arch = EBMM.from_config(tiny_memory_config)
    params = init_params(arch)
    fn = arch.energy_fn(params["static"])
    x = random_patterns((5, arch.dim), generator=gen)
    rates = write_rates(params)
    assert set(rates) == set(WRITE_TERMS)
    only_prior = write(fn, params["init"], x, {"prior": rates["prior"]}, arch.layers)
    for k in only_prior:  # θ starts at θ̄, so the prior term alone never moves it
        assert torch.equal(only_prior[k], params["init"][k])
    full = write(fn, params["init"], x, rates, arch.layers)
    assert any(not torch.equal(full[k], params["init"][k]) for k in full)


def test_terms_that_are_off_have_no_rates_and_the_first_prior_step_none(tiny_memory_config):
    """Dead meta-parameters are not created: a term that is off has no rates, and a batch
    write's prior term has none at step 0 (its gradient 2(θ − θ̄) is zero there)."""
    import dataclasses

    t = tiny_memory_config.write.steps
    params = init_params(EBMM.from_config(tiny_memory_config))
    assert params["write"]["energy"].shape[0] == t and params["write"]["prior"].shape[0] == t - 1
    cfg = dataclasses.replace(tiny_memory_config, write=dataclasses.replace(tiny_memory_config.write, terms=("energy",)))
    assert set(init_params(EBMM.from_config(cfg))["write"]) == {"energy"}
    chunked = dataclasses.replace(tiny_memory_config, write=dataclasses.replace(tiny_memory_config.write, chunk=2))
    assert init_params(EBMM.from_config(chunked))["write"]["prior"].shape[0] == t


def test_meta_gradient_matches_finite_differences(tiny_memory_config, gen):
    """The meta-gradient through the unrolled write (second order) and read, in float64."""
    torch.set_default_dtype(torch.float64)
    try:
        arch = EBMM.from_config(tiny_memory_config)
        params = init_params(arch)
        params = {g: {k: v.double() for k, v in d.items()} for g, d in params.items()}
        x = random_patterns((2, 4, arch.dim), generator=gen).double()
        q = x.clone()
        q[..., :8] = 0.5
        from ebmm.models.ebmm import meta_loss

        def f(rates):
            p = {**params, "write": {**params["write"], "energy": rates}}
            return meta_loss(arch, p, x, q)[0]

        rates = params["write"]["energy"]
        g = torch.func.grad(f)(rates)
        direction = torch.randn(rates.shape, generator=gen, dtype=torch.float64)
        eps = 1e-5
        fd = (f(rates + eps * direction) - f(rates - eps * direction)) / (2 * eps)
        torch.testing.assert_close((g * direction).sum(), fd, rtol=1e-4, atol=1e-7)
        assert g.abs().sum() > 0
    finally:
        torch.set_default_dtype(torch.float32)


def test_summed_writing_loss_imprints_each_pattern_independently_of_n(tiny_memory_config, gen):
    """With reduction='sum' the first write step's change is additive over patterns: writing
    A ∪ B moves θ by (move from A) + (move from B); with the mean it is their average."""
    import dataclasses

    for reduction, combine in (("sum", lambda a, b: a + b), ("mean", lambda a, b: (a + b) / 2)):
        cfg = dataclasses.replace(tiny_memory_config, write=dataclasses.replace(
            tiny_memory_config.write, steps=1, reduction=reduction, terms=("energy",)))
        arch = EBMM.from_config(cfg)
        params = init_params(arch)
        x = random_patterns((8, arch.dim), generator=gen)
        moved = {}
        for name, part in (("a", x[:4]), ("b", x[4:]), ("ab", x)):
            theta = write_episode(arch, params, part)
            moved[name] = theta["memory.weight"] - params["init"]["memory.weight"]
        torch.testing.assert_close(moved["ab"], combine(moved["a"], moved["b"]), rtol=1e-4, atol=1e-6)
