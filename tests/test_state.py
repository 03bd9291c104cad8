"""Incremental writes (``write(more, state=state)``) and states as files (``MemoryState.save`` /
``ebmm.load_state``, ``ebmm write`` / ``ebmm recall --state``)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import ebmm
from ebmm import HopfieldMemory
from ebmm.cli import main
from ebmm.errors import CheckpointError
from ebmm.tasks import Distortion, error_bits, random_patterns


def _patterns(n, seed=0, d=128):
    return random_patterns((n, d), generator=torch.Generator().manual_seed(seed)).numpy()


def test_slot_memory_written_in_chunks_equals_written_at_once_and_retrieves_every_chunk():
    memory = ebmm.load("binary-erase")
    x = _patterns(96)
    whole = memory.write(x)
    state = None
    for a in range(0, 96, 16):  # 6 chunks of 16
        state = memory.write(x[a : a + 16], state=state)
    assert len(state) == 96
    torch.testing.assert_close(state.tensors["memory.weight"], whole.tensors["memory.weight"], rtol=0, atol=0)
    q = Distortion.parse("erase:64").apply(torch.from_numpy(x), generator=torch.Generator().manual_seed(1)).numpy()
    r = memory.read(q, state)
    first, last = (float(error_bits(torch.from_numpy(r[s]), torch.from_numpy(x[s])).mean()) for s in (slice(0, 16), slice(80, 96)))
    assert first < 1.0 and last < 1.0  # the first chunk is not forgotten


@pytest.mark.parametrize("rule", ["hebb", "storkey", "storkey_local", "pseudo_inverse"])
def test_hopfield_incremental_forms_equal_writing_all_at_once(rule):
    memory = HopfieldMemory(rule, dim=64)
    x = _patterns(30, 2, d=64)
    whole = memory.write(x)
    state = memory.write(x[20:], state=memory.write(x[:20]))
    for name in ("weights_upper", "diagonal"):
        torch.testing.assert_close(state.tensors[name], whole.tensors[name], atol=1e-5, rtol=0)


def test_memories_that_cannot_add_patterns_say_so(tiny_memory_config):
    with pytest.raises(ValueError, match="cannot add patterns"):
        m = HopfieldMemory("pseudo_inverse_zero_diagonal", dim=32)
        m.write(_patterns(4, d=32), state=m.write(_patterns(4, d=32)))
    from ebmm.memory import AssociativeMemory
    from ebmm.models import model_from_config

    mh = AssociativeMemory(model_from_config("modern_hopfield", {"dim": 32, "max_patterns": 8, "budget": 300}), name="mh")
    with pytest.raises(ValueError, match="cannot add patterns"):
        mh.write(_patterns(4, d=32), state=mh.write(_patterns(4, d=32)))
    from ebmm.models.ebmm import EBMM, init_params

    e = ebmm.EnergyMemory(tiny_memory_config)
    other = ebmm.EnergyMemory(tiny_memory_config, init_params(EBMM.from_config(tiny_memory_config), seed=1))
    with pytest.raises(ValueError, match="written by"):
        e.write(_patterns(2, d=32), state=other.write(_patterns(2, d=32)))
    with pytest.raises(ValueError, match="do not match the state"):
        e.write(_patterns(2, d=32)[None], state=e.write(_patterns(2, d=32)))


def test_a_saved_state_reloads_to_the_same_retrievals_and_only_for_its_memory(tmp_path):
    memory = ebmm.load("binary-erase")
    x = _patterns(40, 3)
    state = memory.write(x)
    path = state.save(tmp_path / "s.safetensors")
    again = ebmm.load_state(path, ebmm.load("binary-erase"))  # a fresh load of the same memory
    assert len(again) == 40
    q = x.copy()
    q[:, :64] = 0.5
    np.testing.assert_array_equal(memory.read(q, again), memory.read(q, state))
    with pytest.raises(ValueError, match="written by"):
        ebmm.load_state(path, ebmm.load("binary-replace"))
    raw = path.read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError):
        ebmm.load_state(tmp_path / "cut.safetensors", memory)


def test_cli_write_then_append_then_recall_from_the_state(tmp_path):
    runner = CliRunner()
    x = _patterns(32, 4)
    np.save(tmp_path / "a.npy", x[:16])
    np.save(tmp_path / "b.npy", x[16:])
    q = x.copy()
    q[:, 64:] = 0.5
    np.save(tmp_path / "q.npy", q)
    s = tmp_path / "state.safetensors"
    cpu = ["--device", "cpu"]  # compared exactly with the API below: both on the same device
    res = runner.invoke(main, ["write", "--store", str(tmp_path / "a.npy"), "--state-out", str(s)] + cpu)
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["write", "--store", str(tmp_path / "b.npy"), "--state", str(s), "--state-out", str(s)] + cpu)
    assert res.exit_code == 0 and "holds 32 patterns" in res.output, res.output
    res = runner.invoke(main, ["recall", "--state", str(s), "--queries", str(tmp_path / "q.npy"), "--out", str(tmp_path / "r.npy")]
                        + cpu)
    assert res.exit_code == 0, res.output
    memory = ebmm.load("binary-erase", device="cpu")
    np.testing.assert_array_equal(np.load(tmp_path / "r.npy"), memory.read(q, memory.write(x)))
    res = runner.invoke(main, ["recall", "--memory", "binary-replace", "--state", str(s), "--queries", str(tmp_path / "q.npy"),
                               "--out", str(tmp_path / "r2.npy")])
    assert res.exit_code == 2 and "written by" in res.output and not (tmp_path / "r2.npy").exists()
    res = runner.invoke(main, ["recall", "--queries", str(tmp_path / "q.npy"), "--out", str(tmp_path / "r3.npy")])
    assert res.exit_code == 2 and "--store" in res.output


@pytest.mark.parametrize("name", ["binary-erase", "hopfield-storkey"])
def test_an_empty_state_filled_equals_a_fresh_write(name):
    memory = ebmm.load(name)
    x = _patterns(24, 5)
    empty = memory.empty_state()
    assert len(empty) == 0
    filled = memory.write(x, state=empty)
    whole = memory.write(x)
    assert len(filled) == 24
    for k in whole.tensors:
        torch.testing.assert_close(filled.tensors[k], whole.tensors[k], atol=1e-6, rtol=0)
    batch = memory.empty_state(batch_size=3)
    assert memory.write(np.stack([x] * 3), state=batch).batch_size == 3
    with pytest.raises(ValueError, match="batch_size"):
        memory.empty_state(batch_size=0)
    with pytest.raises(ValueError, match="no empty state"):
        HopfieldMemory("pseudo_inverse_zero_diagonal").empty_state()


def test_training_in_chunks_writes_episodes_incrementally(tiny_memory_config, tiny_train_config):
    import dataclasses

    from ebmm.models.ebmm import EBMM, meta_loss
    from ebmm.meta.trainer import train
    from ebmm.presets import PRESETS

    gen = torch.Generator().manual_seed(8)
    x = random_patterns((2, 12, 128), generator=gen)
    q = Distortion.parse("erase:64").apply(x, generator=gen)
    slots = EBMM.from_config(PRESETS["slots"][0])
    p = slots.init_params()
    whole, chunked = meta_loss(slots, p, x, q), meta_loss(slots, p, x, q, chunks=3)
    torch.testing.assert_close(chunked[0], whole[0], rtol=0, atol=0)  # a sequential write is already incremental
    logcosh = EBMM.from_config(dataclasses.replace(tiny_memory_config, max_patterns=12))
    xs, qs = x[..., :32], q[..., :32]
    lp = logcosh.init_params()
    assert not torch.equal(meta_loss(logcosh, lp, xs, qs, chunks=3)[0], meta_loss(logcosh, lp, xs, qs)[0])
    result = train(tiny_memory_config, dataclasses.replace(tiny_train_config, steps=3, eval_every=0, write_chunks=2),
                   progress=False)
    assert result.step == 3 and result.skipped == 0
    with pytest.raises(ValueError, match="write_chunks"):
        dataclasses.replace(tiny_train_config, write_chunks=99)


def test_slot_baselines_continue_their_own_write():
    from ebmm.memory import AssociativeMemory
    from ebmm.models import model_from_config

    x = _patterns(12, 9, d=32)
    mann = AssociativeMemory(model_from_config("mann", {"dim": 32, "max_patterns": 16, "slots": 16, "width": 20}), name="mann")
    whole = mann.write(x)
    parts = mann.write(x[8:], state=mann.write(x[:8], state=mann.empty_state()))
    for k in whole.tensors:
        torch.testing.assert_close(parts.tensors[k], whole.tensors[k], rtol=1e-5, atol=1e-6)
    mn = AssociativeMemory(model_from_config("memory_networks", {"dim": 32, "max_patterns": 16, "budget": 16 * 33}), name="mn")
    assert mn.model.slots == 16
    whole = mn.write(x)
    parts = mn.write(x[5:], state=mn.write(x[:5]))
    torch.testing.assert_close(parts.tensors["slots"], whole.tensors["slots"], rtol=1e-6, atol=1e-6)
    import warnings

    with warnings.catch_warnings(), pytest.raises(ValueError, match="would overwrite"):
        warnings.simplefilter("ignore", ebmm.CapacityWarning)
        mn.write(_patterns(8, 10, d=32), state=parts)  # 12 + 8 > 16 slots


def test_saved_files_get_ordinary_permissions(tmp_path):
    """Atomic writes go through a temporary file; the file in place has the permissions a new
    file gets under the process's umask (others can read a shared memory), and the write leaves
    the umask as it was (it is never flipped to be read)."""
    import os

    import torch

    from ebmm.files import save_safetensors

    umask = os.umask(0o022)
    try:
        path = save_safetensors(tmp_path / "m.safetensors", {"a": torch.zeros(2)}, {})
        assert os.umask(0o077) == 0o022  # still the caller's umask after the write
        private = save_safetensors(tmp_path / "p.safetensors", {"a": torch.zeros(2)}, {})
        assert os.umask(0o022) == 0o077
    finally:
        os.umask(umask)
    assert (path.stat().st_mode & 0o777) == 0o644 and (private.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.safetensors", "p.safetensors"]  # no temporary left
