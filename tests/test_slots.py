"""The slot energy: closed forms equal torch.func, the sequential write gives every pattern a
slot of its own, and the untrained memory already retrieves."""

import dataclasses

import pytest
import torch

from ebmm.config import EnergyConfig, MemoryConfig, ReadConfig, WriteConfig
from ebmm.energies import SlotEnergy, memory_size, split_params
from ebmm.models.ebmm import EBMM, read_batch, write_batch
from ebmm.meta.trainer import evaluate_params
from ebmm.presets import PRESETS
from ebmm.tasks import Distortion, random_patterns


def small_config(chunk: int = 1, beta: float = 50.0, write_norm: float = 1.0) -> MemoryConfig:
    """24 slots of 20 floats for 32-bit patterns (a soft β so that every gradient is non-zero)."""
    return MemoryConfig(
        energy=EnergyConfig("slots", 32, {"slots": 24, "code": 20, "beta": beta, "curvature": 0.8, "init_scale": 0.1,
                                               "write_norm": write_norm}),
        read=ReadConfig(steps=4, step_init=0.15, momentum_init=0.85),
        write=WriteConfig(steps=1, rate_init=0.8, terms=("energy",), reduction="sum", chunk=chunk),
        max_patterns=16,
    )


@pytest.mark.parametrize("write_norm", [1.0, 2.5])
def test_closed_form_gradients_equal_torch_func_in_float64(gen, write_norm):
    energy = SlotEnergy(dim=32, slots=24, code=20, beta=5.0, write_norm=write_norm).double()
    static, _ = split_params(energy)
    theta = {"memory.weight": torch.randn(3, 24, 20, generator=gen, dtype=torch.float64)}  # per-episode slots
    x = torch.rand(3, 7, 32, generator=gen, dtype=torch.float64)
    weights = torch.rand(3, 7, generator=gen, dtype=torch.float64)
    fn = lambda th, x_: torch.func.functional_call(energy, (static, th), (x_,))  # noqa: E731

    ref_x = torch.func.grad(lambda x_: fn(theta, x_).sum())(x)
    torch.testing.assert_close(SlotEnergy.grad_x(static, theta, x), ref_x, rtol=1e-10, atol=1e-12)
    fn_w = lambda th, x_: torch.func.functional_call(energy, (static, th), (x_,), {"write": True})  # noqa: E731
    ref_w = torch.func.grad(lambda th: (fn_w(th, x) * weights).sum())(theta)  # the writing energy's
    got, none = SlotEnergy.write_param_grads(static, theta, x, weights)
    torch.testing.assert_close(got["memory.weight"], ref_w["memory.weight"], rtol=1e-10, atol=1e-12)
    assert none is None
    with pytest.raises(ValueError, match="gradient-norm"):
        SlotEnergy.write_param_grads(static, theta, x, weights, grad_norm=True)


def test_closed_form_meta_step_equals_the_torch_func_reference_in_float64(gen, closed_form_meta_step):
    """Write, read, loss and every meta-gradient: the fast path is the reference path."""
    x = random_patterns((2, 6, 32), generator=gen).double()
    q = Distortion.parse("erase:16").apply(x, generator=gen)
    mask = torch.tensor([[1.0] * 6, [1.0] * 4 + [0.0] * 2], dtype=torch.float64)
    g_fast = closed_form_meta_step(small_config(write_norm=2.0), x, q, mask)
    assert g_fast["static"]["encoder.weight"].abs().sum() > 0 and g_fast["write"]["energy"].abs().sum() > 0
    assert g_fast["static"]["log_write_norm"].abs() > 0  # λ is meta-learned through the write


def distinct_slots(arch, params, x):
    """How many different slots hold the patterns (a pattern's slot: the one it moved most)."""
    theta = write_batch(arch, params, x)["memory.weight"]
    moved = (theta - params["init"]["memory.weight"]).norm(dim=-1)  # (B, S)
    return (moved > 0.5 * moved.max(dim=-1, keepdim=True).values).sum(-1).float()


def test_sequential_write_gives_every_pattern_its_own_slot_and_a_batch_write_does_not(gen):
    mcfg, _ = PRESETS["slots"]
    x = random_patterns((4, 48, 128), generator=gen)
    seq = EBMM.from_config(mcfg)
    batch = EBMM.from_config(dataclasses.replace(mcfg, write=dataclasses.replace(mcfg.write, chunk=0)))
    assert distinct_slots(seq, seq.init_params(), x).min() >= 47  # 48 patterns, at most one collision
    assert distinct_slots(batch, batch.init_params(), x).max() <= 40  # free slots tie: patterns pile up


def test_padded_patterns_write_nothing(gen):
    arch = EBMM.from_config(small_config())
    params = arch.init_params()
    x = random_patterns((2, 10, 32), generator=gen)
    mask = torch.tensor([[1.0] * 10, [1.0] * 6 + [0.0] * 4])
    padded = write_batch(arch, params, x, mask)["memory.weight"]
    alone = write_batch(arch, params, x[1:, :6])["memory.weight"]
    torch.testing.assert_close(padded[1], alone[0])


@pytest.mark.parametrize("n", [16, 48, 96])
def test_the_untrained_slot_memory_retrieves_far_better_than_the_query(n):
    """Under erase:64 a query has ≈ 32 wrong bits; the slot memory at its initialisation (no
    training) retrieves all but a fraction of a bit."""
    mcfg, _ = PRESETS["slots"]
    arch = EBMM.from_config(mcfg)
    assert memory_size(arch.energy) == 8256
    err = evaluate_params(arch, arch.init_params(), n, "erase:64", 4, seed=5)
    assert err < 1.0, err


def test_a_read_is_a_pure_function_of_the_written_slots(gen):
    arch = EBMM.from_config(small_config())
    params = arch.init_params()
    x = random_patterns((1, 8, 32), generator=gen)
    theta = write_batch(arch, params, x)
    q = Distortion.parse("erase:16").apply(x, generator=gen)
    first = read_batch(arch, params, theta, q)
    again = read_batch(arch, params, {k: v.clone() for k, v in theta.items()}, q.clone())
    assert torch.equal(first, again)
    assert float(((first[:, -1] > 0.5) != (x > 0.5)).float().sum(-1).mean()) < float(((q > 0.5) != (x > 0.5)).float().sum(-1).mean())


def test_slot_energy_rejects_a_code_wider_than_the_pattern():
    with pytest.raises(ValueError, match="code"):
        SlotEnergy(dim=16, slots=4, code=32)
