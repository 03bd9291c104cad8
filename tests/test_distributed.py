"""Data-parallel meta-training under torchrun (2 CPU processes, gloo): the same weights as one
process on the same episodes, and --resume across runs."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
import torch

from ebmm.meta.checkpoint import load_checkpoint
from ebmm.meta.trainer import CHECKPOINT_NAME

pytestmark = pytest.mark.skipif(shutil.which("torchrun") is None or not torch.distributed.is_available(),
                                reason="torchrun / torch.distributed not available")


def _cmd(out, steps, *extra, processes=1):
    args = ["train", "binary", "--preset", "tiny", "--steps", str(steps), "--eval-every", "0", "--checkpoint-every", "2",
            "--out", str(out), "--threads", "1", "--quiet", *extra]
    if processes == 1:
        return [sys.executable, "-m", "ebmm", *args]
    return ["torchrun", "--standalone", f"--nproc-per-node={processes}", "-m", "ebmm", *args]


def _run(cmd):
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    return res


def _max_diff(a, b):
    return max(float((a.params[g][n] - b.params[g][n]).abs().max()) for g in a.params for n in a.params[g])


def test_two_processes_train_like_one_and_resume(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    _run(_cmd(one, 4))
    res = _run(_cmd(two, 4, processes=2))
    assert res.stdout.count('"step": 4') == 1, res.stdout + res.stderr[-2000:]  # only rank 0 reports
    a, b = load_checkpoint(one / CHECKPOINT_NAME), load_checkpoint(two / CHECKPOINT_NAME)
    assert a.step == b.step == 4
    # the same episodes, the gradient averaged over 2 × 4 episodes instead of over 8: equal up to
    # float32 rounding of the sums (measured ≈ 1e-7 after 6 steps)
    assert _max_diff(a, b) < 1e-5, _max_diff(a, b)
    _run(_cmd(one, 6, "--resume"))
    _run(_cmd(two, 6, "--resume", processes=2))
    a, b = load_checkpoint(one / CHECKPOINT_NAME), load_checkpoint(two / CHECKPOINT_NAME)
    assert a.step == b.step == 6 and _max_diff(a, b) < 1e-5
    lines = (two / "metrics.jsonl").read_text().splitlines()
    assert len(lines) == len(set(lines))  # one writer
