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
