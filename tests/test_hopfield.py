"""Tests of the classical Hopfield baselines (Hebb, Storkey, pseudo-inverse)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ebmm.baselines import (
    HOPFIELD_RULES,
    HopfieldMemory,
    hebb_weights,
    hopfield_retrieve,
    pack_symmetric,
    pseudo_inverse_weights,
    storkey_weights,
    unpack_symmetric,
)
from ebmm.tasks import Distortion, error_bits, random_patterns

D = 128


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)


def episodes(gen, b, n, spec, d=D):
    x = random_patterns((b, n, d), generator=gen)
    return x, Distortion.parse(spec).apply(x, generator=gen)


def mean_error(memory, x, q):
    out = torch.from_numpy(memory.read(q, memory.write(x)))
    return error_bits(out, x).mean().item()


# --- write rules ------------------------------------------------------------------------------
def test_hebb_weights_match_outer_products(gen):
    s = 2 * random_patterns((2, 3, 6), generator=gen) - 1
    w = hebb_weights(s)
    for b in range(2):
        want = sum(torch.outer(p, p) for p in s[b]) / 6
        want.fill_diagonal_(0)
        torch.testing.assert_close(w[b], want)


def test_storkey_weights_match_elementwise_rule(gen):
    s = 2 * random_patterns((2, 4, 7), generator=gen) - 1
    d = 7
    w = storkey_weights(s)
    for b in range(2):
        ref = torch.zeros(d, d)
        for p in s[b]:
            h = [sum(ref[i, k] * p[k] for k in range(d) if k != i) for i in range(d)]
            new = ref.clone()
            for i in range(d):
                for j in range(d):
                    if i != j:
                        new[i, j] += (p[i] * p[j] - p[i] * h[j] - h[i] * p[j]) / d
            ref = new
        torch.testing.assert_close(w[b], ref)
    torch.testing.assert_close(w, w.transpose(-1, -2))


def test_pseudo_inverse_weights_project_onto_span(gen):
    s = 2 * random_patterns((3, 10, 32), generator=gen) - 1
    w = pseudo_inverse_weights(s)
    assert torch.all(torch.diagonal(w, dim1=-2, dim2=-1) == 0)
    torch.testing.assert_close(w, w.transpose(-1, -2))
    # restoring the projection's diagonal gives P with P s = s for every stored pattern
    p = torch.linalg.pinv(s.double()) @ s.double()
    full = w.double() + torch.diag_embed(torch.diagonal(p, dim1=-2, dim2=-1))
    torch.testing.assert_close(s.double() @ full, s.double(), atol=1e-5, rtol=0)


def test_pack_unpack_round_trip(gen):
    d = 9
    a = torch.randn(4, d, d, generator=gen)
    w = a + a.transpose(-1, -2)
    w = w - torch.diag_embed(torch.diagonal(w, dim1=-2, dim2=-1))
    v = pack_symmetric(w)
    assert v.shape == (4, d * (d - 1) // 2)
    assert torch.equal(unpack_symmetric(v, d), w)
    v2 = torch.randn(4, d * (d - 1) // 2, generator=gen)
    assert torch.equal(pack_symmetric(unpack_symmetric(v2, d)), v2)
    with pytest.raises(ValueError):
        unpack_symmetric(v2, d + 1)


@pytest.mark.parametrize("rule", HOPFIELD_RULES)
def test_memory_size_is_upper_triangle_plus_bias(rule, gen):
    memory = HopfieldMemory(rule, dim=D)
    assert memory.memory_size() == 128 * 127 // 2 + 128 == 8256
    state = memory.write(random_patterns((2, 5, D), generator=gen))
    assert state.memory_size() == 8256
    assert state.tensors["weights_upper"].shape == (2, 128 * 127 // 2)
    assert state.tensors["bias"].shape == (2, D)
    assert torch.all(state.tensors["bias"] == 0)


# --- retrieval --------------------------------------------------------------------------------
@pytest.mark.parametrize("update", ["sync", "async"])
def test_pseudo_inverse_recalls_exactly_below_capacity(update, gen):
    x, q = episodes(gen, 4, 16, "flip:8")
    memory = HopfieldMemory("pseudo_inverse", dim=D, update=update)
    state = memory.write(x)
    clean = torch.from_numpy(memory.read(x, state))
    assert error_bits(clean, x).max().item() == 0
    noisy = torch.from_numpy(memory.read(q, state))
    assert error_bits(noisy, x).max().item() == 0


def test_hebb_recalls_at_small_load_and_degrades_at_large(gen):
    memory = HopfieldMemory("hebb", dim=D)
    small = mean_error(memory, *episodes(gen, 4, 5, "flip:10"))
    large = mean_error(memory, *episodes(gen, 4, 40, "flip:10"))
    assert small < 0.1
    assert large > 5.0 and large > small + 5.0


def test_storkey_beats_hebb_above_hebb_capacity(gen):
    x, q = episodes(gen, 6, 20, "flip:16")
    hebb = mean_error(HopfieldMemory("hebb", dim=D), x, q)
    storkey = mean_error(HopfieldMemory("storkey", dim=D), x, q)
    assert storkey < 0.5
    assert hebb > storkey + 1.0


@pytest.mark.parametrize("update", ["sync", "async"])
def test_retrieval_is_a_fixed_point(update, gen):
    x, q = episodes(gen, 3, 10, "flip:12")
    memory = HopfieldMemory("storkey", dim=D, update=update)
    state = memory.write(x)
    out = memory.read(q, state)
    # one more sweep from the retrieval changes nothing
    w = unpack_symmetric(state.tensors["weights_upper"], D)
    s = 2 * torch.from_numpy(out) - 1
    again = hopfield_retrieve(s, w, state.tensors["bias"], update=update, max_sweeps=1)
    assert again.shape[0] == 1
    assert np.array_equal(memory.read(out, state), out)


def test_sweep_limit_is_respected(gen):
    x, q = episodes(gen, 2, 40, "flip:30")
    memory = HopfieldMemory("hebb", dim=D, max_sweeps=1)
    traj = memory.read(q, memory.write(x), trajectory=True)
    assert traj.shape[1] == 2  # the query and one sweep: this load does not settle in one


def test_async_reads_are_reproducible_and_seeded(gen):
    x, q = episodes(gen, 2, 30, "flip:20")
    a, b = HopfieldMemory("hebb", update="async", seed=0), HopfieldMemory("hebb", update="async", seed=0)
    out_a = a.read(q, a.write(x))
    assert np.array_equal(out_a, a.read(q, a.write(x)))
    assert np.array_equal(out_a, b.read(q, b.write(x)))
    c = HopfieldMemory("hebb", update="async", seed=1)
    assert not np.array_equal(out_a, c.read(q, c.write(x)))


@pytest.mark.parametrize("update", ["sync", "async"])
def test_trajectory_shape_and_ends(update, gen):
    x, q = episodes(gen, 2, 12, "erase:40")
    memory = HopfieldMemory("hebb", dim=D, update=update, max_sweeps=7)
    state = memory.write(x)
    traj = memory.read(q, state, trajectory=True)
    assert traj.ndim == 4 and traj.shape[0] == 2 and traj.shape[2:] == (12, D)
    assert 2 <= traj.shape[1] <= 8
    assert np.array_equal(traj[:, 0], q.numpy())
    assert np.array_equal(traj[:, -1], memory.read(q, state))
    single = memory.write(x[0])
    traj1 = memory.read(q[0], single, trajectory=True)
    assert traj1.ndim == 3 and traj1.shape[1:] == (12, D)
    assert np.array_equal(traj1[0], q[0].numpy())


def test_erased_entries_read_as_zero_spins(gen):
    x = random_patterns((1, 3, D), generator=gen)
    q = torch.full_like(x, 0.5)  # all erased: every field is 0, so nothing moves
    memory = HopfieldMemory("hebb", dim=D)
    traj = memory.read(q, memory.write(x), trajectory=True)
    assert traj.shape[1] == 1 and np.all(traj == 0.5)


# --- interface and errors ---------------------------------------------------------------------
def test_names_and_compatibility():
    hebb = HopfieldMemory("hebb")
    assert hebb.name == "hopfield-hebb" and hebb.max_patterns is None
    assert hebb.compatible(HopfieldMemory("hebb", update="async"))
    assert not hebb.compatible(HopfieldMemory("storkey"))
    assert not hebb.compatible(HopfieldMemory("hebb", dim=64))


def test_bad_inputs_raise(gen):
    with pytest.raises(ValueError, match="rule"):
        HopfieldMemory("oja")
    with pytest.raises(ValueError, match="update"):
        HopfieldMemory("hebb", update="parallel")
    with pytest.raises(ValueError, match="max_sweeps"):
        HopfieldMemory("hebb", max_sweeps=0)
    memory = HopfieldMemory("hebb", dim=D)
    x = random_patterns((4, D), generator=gen)
    with pytest.raises(ValueError, match="dimension"):
        memory.write(torch.zeros(4, 64))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        memory.write(x * 2)
    with pytest.raises(ValueError, match="NaN"):
        memory.write(torch.where(x > 0, float("nan"), x))
    with pytest.raises(ValueError, match="empty"):
        memory.write(torch.zeros(0, D))
    state = memory.write(x)
    with pytest.raises(ValueError, match="dimension"):
        memory.read(torch.zeros(2, 64), state)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        memory.read(x - 1, state)
    with pytest.raises(ValueError, match="written by"):
        HopfieldMemory("storkey", dim=D).read(x, state)
