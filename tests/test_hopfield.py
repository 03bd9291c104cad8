"""Tests of the classical Hopfield baselines (Hebb, Storkey, pseudo-inverse)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ebmm import HopfieldMemory
from ebmm.models.hopfield import (
    HOPFIELD_RULES,
    hebb_weights,
    hopfield_retrieve,
    pack_symmetric,
    pseudo_inverse_weights,
    pseudo_inverse_zero_diagonal_weights,
    storkey_local_weights,
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


def _storkey_reference(s, d, original):
    """Storkey (1997), element by element from the paper's formula: the local field h_ij
    excludes units i and j (``original``); the local-field variant uses h_i (excludes i only)."""
    ref = torch.zeros(d, d, dtype=torch.float64)
    for p in s.double():
        def h(i, j):
            return sum(ref[i, k] * p[k] for k in range(d) if k != i and (not original or k != j))
        new = ref.clone()
        for i in range(d):
            for j in range(d):
                if i != j:
                    new[i, j] += (p[i] * p[j] - p[i] * h(j, i) - h(i, j) * p[j]) / d
        ref = new
    return ref


@pytest.mark.parametrize("original", [True, False])
def test_storkey_rules_match_the_elementwise_formulas(original, gen):
    s = 2 * random_patterns((2, 5, 7), generator=gen) - 1
    w = (storkey_weights if original else storkey_local_weights)(s)
    for b in range(2):
        torch.testing.assert_close(w[b].double(), _storkey_reference(s[b], 7, original), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(w, w.transpose(-1, -2))
    assert not torch.allclose(storkey_weights(s), storkey_local_weights(s))  # two different rules


def test_pseudo_inverse_is_the_projection_onto_the_span_with_or_without_its_diagonal(gen):
    s = 2 * random_patterns((3, 10, 32), generator=gen) - 1
    p = torch.linalg.pinv(s.double()) @ s.double()
    full = pseudo_inverse_weights(s)
    torch.testing.assert_close(full.double(), p, atol=1e-6, rtol=0)
    torch.testing.assert_close(s.double() @ full.double(), s.double(), atol=1e-5, rtol=0)  # P s = s
    zero = pseudo_inverse_zero_diagonal_weights(s)
    assert torch.all(torch.diagonal(zero, dim1=-2, dim2=-1) == 0)
    torch.testing.assert_close(zero + torch.diag_embed(torch.diagonal(full, dim1=-2, dim2=-1)), full)


def test_hopfield_rules_against_textbook_references_on_fixed_seeds():
    """Weights and recalls against references written here from the papers' formulas (numpy,
    float64), on ±1 patterns d = 64 at N = 8 / 24: the memory's state and retrievals must equal
    an independent synchronous run of sign(W s) to convergence."""
    rng = np.random.default_rng(11)
    d = 64
    for n in (8, 24):
        x = rng.integers(0, 2, (n, d)).astype(np.float32)
        q = x.copy()
        q[:, rng.permutation(d)[:16]] = 0.5
        s = 2 * x.astype(np.float64) - 1
        refs = {
            "hebb": (s.T @ s / d) * (1 - np.eye(d)),
            "pseudo_inverse": np.linalg.pinv(s) @ s,
            "pseudo_inverse_zero_diagonal": (np.linalg.pinv(s) @ s) * (1 - np.eye(d)),
        }
        for rule, w_ref in refs.items():
            memory = HopfieldMemory(rule, dim=d)
            state = memory.write(x)
            w = unpack_symmetric(state.tensors["weights_upper"], d)[0] + torch.diag(state.tensors["diagonal"][0])
            np.testing.assert_allclose(w.numpy(), w_ref, atol=1e-5)
            v = 2 * q.astype(np.float64) - 1
            for _ in range(100):
                field = v @ w_ref
                new = np.where(field > 1e-9, 1.0, np.where(field < -1e-9, -1.0, v))
                if np.array_equal(new, v):
                    break
                v = new
            np.testing.assert_array_equal(memory.read(q, state), (v + 1) / 2)


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
def test_memory_size_is_upper_triangle_plus_diagonal(rule, gen):
    memory = HopfieldMemory(rule, dim=D)
    assert memory.memory_size() == 128 * 127 // 2 + 128 == 8256
    state = memory.write(random_patterns((2, 5, D), generator=gen))
    assert state.memory_size() == 8256
    assert state.tensors["weights_upper"].shape == (2, 128 * 127 // 2)
    assert state.tensors["diagonal"].shape == (2, D)
    assert torch.any(state.tensors["diagonal"] != 0) == (rule == "pseudo_inverse")


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
    again = hopfield_retrieve(s, w, update=update, max_sweeps=1)
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
