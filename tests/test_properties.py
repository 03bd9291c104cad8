"""Property-based tests of the public API and CLI (hypothesis): any input gives either a correct
result or one clear error — never a traceback from deep inside, a hang, or an output file
written from bad input — and a training run killed with SIGKILL resumes to the same weights as
an uninterrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import ebmm
from ebmm import HopfieldMemory
from ebmm.cli import main
from ebmm.config import EnergyConfig, MemoryConfig, ReadConfig, WriteConfig
from ebmm.errors import CheckpointError
from ebmm.checkpoint import load_checkpoint
from ebmm.meta.trainer import CHECKPOINT_NAME

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
DIM = 16

# any small array: a shape of rank 0..3 around the right dimension, any common dtype, any values
dtypes = st.sampled_from([np.float16, np.float32, np.float64, np.int8, np.int64, np.uint8, np.bool_])
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=DIM + 2)
arrays = st.builds(lambda a: a, dtypes.flatmap(lambda dt: hnp.arrays(dt, shapes)))


def _memories():
    tiny = MemoryConfig(energy=EnergyConfig("logcosh", DIM, {"hidden": 8, "static_hidden": 0, "init_scale": 0.1}),
                        read=ReadConfig(steps=3), write=WriteConfig(steps=2, rate_init=0.1), max_patterns=8)
    return [HopfieldMemory("storkey", dim=DIM), ebmm.EnergyMemory(tiny)]


MEMORIES = _memories()


def _valid_patterns(a: np.ndarray) -> bool:
    with np.errstate(all="ignore"):
        f = a.astype(np.float64)
    return (a.ndim in (2, 3) and a.shape[-1] == DIM and a.shape[-2] > 0 and (a.ndim == 2 or a.shape[0] > 0)
            and bool(np.isfinite(f).all()) and bool(((f >= 0) & (f <= 1)).all()))


@SETTINGS
@given(a=arrays, which=st.integers(0, len(MEMORIES) - 1))
def test_write_read_any_array_gives_a_result_or_a_clear_error(a, which):
    memory = MEMORIES[which]
    try:
        with warnings.catch_warnings():  # more patterns than a memory was trained for warns (documented), not fails
            warnings.simplefilter("ignore", ebmm.CapacityWarning)
            state = memory.write(a)
    except (ValueError, TypeError) as e:
        assert str(e) and not _valid_patterns(a), f"valid input rejected: {e}"
        return
    assert _valid_patterns(a)
    out = memory.read(a, state)
    assert out.shape == a.shape and np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


@SETTINGS
@given(mask=arrays)
def test_any_known_mask_gives_a_clamped_result_or_a_clear_error(mask):
    memory = MEMORIES[0]
    x = np.random.default_rng(0).integers(0, 2, (5, DIM)).astype(np.float32)
    q = x.copy()
    q[:, : DIM // 2] = 0.5
    state = memory.write(x)
    try:
        out = memory.read(q, state, known=mask)
    except (ValueError, TypeError) as e:
        assert "known" in str(e)
        return
    known = np.broadcast_to(np.asarray(mask) != 0, q.shape)
    assert np.array_equal(out[known], q[known])


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return MEMORIES[1].save(tmp_path_factory.mktemp("ck") / "m.safetensors")


@SETTINGS
@given(cut=st.floats(0.0, 1.0), flips=st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 7)), max_size=4))
def test_truncated_or_bit_flipped_checkpoints_load_correctly_or_raise_checkpoint_error(saved, tmp_path, cut, flips):
    raw = bytearray(Path(saved).read_bytes())
    for where, bit in flips:
        i = min(int(where * len(raw)), len(raw) - 1)
        raw[i] ^= 1 << bit
    raw = raw[: max(1, int(cut * len(raw)))] if cut < 1.0 else raw
    path = tmp_path / f"bad-{os.getpid()}-{time.monotonic_ns()}.safetensors"
    path.write_bytes(bytes(raw))
    try:
        memory = ebmm.load(path)
    except CheckpointError as e:
        assert str(e)
        return
    # it loaded: flips that only touched tensor values or harmless metadata; it must still work
    x = np.random.default_rng(1).integers(0, 2, (4, DIM)).astype(np.float32)
    out = memory.read(x, memory.write(x))
    assert out.shape == x.shape


@SETTINGS
@given(a=arrays)
def test_recall_cli_on_any_array_exits_cleanly_and_writes_nothing_on_error(tmp_path, a):
    store = tmp_path / "s.npy"
    out = tmp_path / f"r-{time.monotonic_ns()}.npy"
    np.save(store, a)
    res = CliRunner().invoke(main, ["recall", "--memory", "hopfield-hebb", "--store", str(store), "--queries", str(store),
                                    "--out", str(out)])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    if res.exit_code == 0:
        assert out.exists()
    else:
        assert res.exit_code in (1, 2) and "Error" in res.output and "Traceback" not in res.output
        assert not out.exists()


def _train_cmd(out: Path, steps: int) -> list[str]:
    return [sys.executable, "-m", "ebmm.cli", "train", "binary", "--preset", "tiny", "--steps", str(steps), "--checkpoint-every", "5",
            "--eval-every", "0", "--out", str(out), "--threads", "1", "--quiet"]


def test_sigkill_during_training_then_resume_continues_identically(tmp_path):
    steps = 200
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    ref, run = tmp_path / "ref", tmp_path / "killed"
    subprocess.run(_train_cmd(ref, steps), check=True, env=env, capture_output=True, timeout=300)
    proc = subprocess.Popen(_train_cmd(run, steps), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:  # kill it mid-run, once a few checkpoints exist
        ck = run / CHECKPOINT_NAME
        if ck.exists():
            try:
                if load_checkpoint(ck).step >= 20:
                    break
            except CheckpointError:
                pass
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    if proc.returncode == 0:
        pytest.skip("the run finished before it could be killed")
    killed_at = load_checkpoint(run / CHECKPOINT_NAME).step
    assert 20 <= killed_at < steps
    res = subprocess.run(_train_cmd(run, steps) + ["--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    a, b = load_checkpoint(ref / CHECKPOINT_NAME), load_checkpoint(run / CHECKPOINT_NAME)
    assert a.step == b.step == steps
    for group in a.params:
        for name in a.params[group]:
            torch.testing.assert_close(b.params[group][name], a.params[group][name], rtol=0, atol=0)
