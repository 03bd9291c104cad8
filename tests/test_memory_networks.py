"""The Memory Networks baseline: slots within the budget, ring-buffer writes, exact verbatim
recall at initialisation. (What every learned baseline shares, learning in the compressed
regime and reloading included: test_learned_baselines.py.)"""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from ebmm.models.memory_networks import MemoryNetwork, slot_layout, split_slots, write_slots
from ebmm.models.protocol import LearnedModel
from ebmm.models import model_kinds
from ebmm.tasks import error_bits

# 16-bit patterns, 8 slots of 8 floats + a flag: each pattern compressed to half its size
TINY = MemoryNetwork(dim=16, max_patterns=8, budget=72, hidden=32)


@pytest.mark.parametrize("hops", [1, 2])
def test_protocol_shapes_and_trajectory(hops, gen, episodes):
    model = replace(TINY, hops=hops)
    assert isinstance(model, LearnedModel) and model_kinds()["memory_networks"] is MemoryNetwork
    params = model.init_params(seed=3)
    assert ("hop" in params) == (hops > 1) and params["attention"]["log_beta"].shape == (hops,)
    x, q = episodes(gen, 3, 5, "erase:4")
    state = model.write(params, x)
    assert {k: tuple(v.shape) for k, v in state.items()} == {"slots": (3, 8, 9)}
    out = model.read(params, state, q, False)
    assert out.shape == (3, 5, 16) and bool(((out >= 0) & (out <= 1)).all())
    traj = model.read(params, state, q, True)
    assert traj.shape == (3, 2, 5, 16)
    torch.testing.assert_close(traj[:, 0], q)
    torch.testing.assert_close(traj[:, -1], out)
    loss, retrieved = model.loss(params, x, q)
    torch.testing.assert_close(loss, (out - x).pow(2).sum(-1).mean())


def test_memory_size_fills_the_budget():
    # d = 128: 64 verbatim slots of 128 + flag, or 96 compressed slots of 85 + flag
    assert slot_layout(128, 64, 8256) == (64, 129) and slot_layout(128, 16, 8256) == (64, 129)
    assert slot_layout(128, 96, 8256) == (96, 86)
    assert MemoryNetwork(max_patterns=64).memory_size() == 8256
    assert MemoryNetwork().code_width == 85 and MemoryNetwork(max_patterns=64).code_width == 128
    # small d, budget d(d-1)/2 + d = 136: verbatim 8 slots of 17; compressed 12 slots of 11 = 132
    assert MemoryNetwork(dim=16, max_patterns=4, budget=136).memory_size() == 8 * 17 == 136
    assert MemoryNetwork(dim=16, max_patterns=12, budget=136).memory_size() == 12 * (136 // 12) == 132


def test_slots_are_a_ring_buffer_with_written_flags():
    codes = torch.arange(1.0, 8.0).reshape(1, 7, 1)  # seven one-float codes 1..7
    slots = write_slots(codes, 4)
    stored, written = split_slots(slots)
    # 7 codes in 4 slots: 5, 6, 7 overwrite 1, 2, 3; 4 stays
    assert stored.flatten().tolist() == [5.0, 6.0, 7.0, 4.0] and written.all()
    stored, written = split_slots(write_slots(codes[:, :2], 4))
    assert stored.flatten().tolist() == [1.0, 2.0, 0.0, 0.0] and written.tolist() == [[True, True, False, False]]
    # a mask leaves patterns out: stored 1, 3, 4, 6, 7 -> the last four, 3 4 6 7, with 7 in slot 0
    mask = torch.tensor([[1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0]])
    assert split_slots(write_slots(codes, 4, mask))[0].flatten().tolist() == [7.0, 3.0, 4.0, 6.0]


def test_verbatim_slots_recall_exactly_at_initialisation(gen, episodes):
    """With room for every pattern, the fresh model is a nearest-slot memory: its square
    orthonormal embedding keeps cosines, β = 10 picks the slot, the skip decodes it."""
    model = MemoryNetwork(max_patterns=64)
    x, q = episodes(gen, 2, 16, "erase:64", d=128)
    out = model.read(model.init_params(), model.write(model.init_params(), x), q, False)
    assert float(error_bits(out, x).max()) == 0.0
