"""A user's own energy, as the README's "Write your own energy" shows it: 20 lines, registered by
name, meta-trained through the public API, saved and loaded back."""

import numpy as np
import pytest
import torch
from torch import nn

import ebmm
from ebmm.energies import ENERGIES, EnergyModel, WritableLinear, register_energy
from ebmm.evaluation import evaluate_binary
from ebmm.meta.trainer import train
from ebmm.models.ebmm import EBMM, init_params


class TinyModernHopfield(EnergyModel):
    """E(x) = −log Σ_j exp(β w_jᵀ s)/β, s = 2x − 1: the rows w_j (writable) are the memory."""

    def __init__(self, dim: int, slots: int = 16, beta: float = 1.0, init_scale: float = 0.1):
        super().__init__()
        self.dim = dim
        self.memory = WritableLinear(dim, slots, bias=False)  # named "memory": writable (per episode)
        nn.init.normal_(self.memory.weight, std=init_scale)  # θ̄, meta-learned
        self.log_beta = nn.Parameter(torch.tensor(beta).log())  # slow, meta-learned

    def forward(self, x):
        s, beta = 2 * x - 1, self.log_beta.exp()
        return -torch.logsumexp(beta * self.memory(s), dim=-1) / beta


@pytest.fixture
def registered():
    register_energy("tiny_modern_hopfield", TinyModernHopfield)
    yield
    ENERGIES.pop("tiny_modern_hopfield", None)


def test_a_custom_energy_meta_trains_beats_its_start_and_the_query_and_reloads(registered, tmp_path):
    cfg = ebmm.MemoryConfig(energy=ebmm.EnergyConfig("tiny_modern_hopfield", 32, {"slots": 16}),
                            read=ebmm.ReadConfig(steps=5), write=ebmm.WriteConfig(steps=3, rate_init=0.5), max_patterns=4)
    result = train(cfg, ebmm.TrainConfig(patterns=4, episodes=8, distortion="erase:8", lr=1e-2, steps=60, eval_every=0),
                   progress=False)
    arch = EBMM.from_config(cfg)
    assert not arch._closed()  # no hooks declared: the write and the read differentiate forward with torch.func
    untrained = evaluate_binary(ebmm.AssociativeMemory(arch, init_params(arch)), 4, "erase:8", min_patterns=512, seed=1)
    memory = ebmm.AssociativeMemory(arch, result.params)
    trained = evaluate_binary(memory, 4, "erase:8", min_patterns=512, seed=1)
    assert trained.mean < 0.5 * untrained.mean and trained.mean < 0.25 * trained.query_mean
    memory.save(tmp_path / "mine.safetensors")
    again = ebmm.load(tmp_path / "mine.safetensors")
    x = (np.random.default_rng(0).random((4, 32)) < 0.5).astype(np.float32)
    q = x.copy()
    q[:, :8] = 0.5
    np.testing.assert_array_equal(again.read(q, again.write(x)), memory.read(q, memory.write(x)))


def test_register_energy_refuses_a_taken_name_and_a_class_that_is_no_energy(registered):
    register_energy("tiny_modern_hopfield", TinyModernHopfield)  # the same class again: fine
    with pytest.raises(ValueError, match="taken by SlotEnergy"):
        register_energy("slots", TinyModernHopfield)
    with pytest.raises(TypeError, match="EnergyModel subclass"):
        register_energy("linear", nn.Linear)


def test_the_base_energy_declares_every_hook_with_a_default_that_does_nothing():
    energy = TinyModernHopfield(8)
    static = {n: p for n, p in energy.named_parameters() if "memory" not in n}
    assert energy.closed_form_terms == () and not energy.has_write_energy and energy.READ_OPTIONS == ()
    assert energy.data_init(static, torch.rand(3, 8)) is None
    assert energy.condition_read(static, {}, torch.rand(2, 8)) is None
    assert energy.read_auxiliary_loss(static, {}, torch.rand(1, 2, 8), torch.rand(1, 2, 8)) is None
    with pytest.raises(NotImplementedError, match="closed-form"):
        energy.grad_x(static, {}, torch.rand(2, 8))
