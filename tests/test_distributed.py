"""Data-parallel meta-training under torchrun (2 CPU processes, gloo): the same weights as one
process on the same episodes, and --resume across runs."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
import torch.distributed as dist
from click.testing import CliRunner

from ebmm.cli import main
from ebmm.devices import DeviceError
from ebmm.checkpoint import load_checkpoint
from ebmm.meta.distributed import world_from_env
from ebmm.meta.trainer import CHECKPOINT_NAME

needs_distributed = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed not available")
TORCHRUN_ENV = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


def _cmd(out, steps, *extra, processes=1):
    # pinned to the CPU (gloo): a one-GPU machine must run this too, and 2 processes cannot share one GPU
    args = ["train", "binary", "--preset", "tiny", "--steps", str(steps), "--eval-every", "0", "--checkpoint-every", "2",
            "--out", str(out), "--threads", "1", "--quiet", "--device", "cpu", *extra]
    if processes == 1:
        return [sys.executable, "-m", "ebmm", *args]
    # torchrun is this module; run through the same interpreter, whether or not its script is on PATH
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}", "-m", "ebmm", *args]


def _run(cmd):
    env = {k: v for k, v in os.environ.items() if k not in TORCHRUN_ENV}
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    # the ranks' own messages come first, the launcher's traceback last: keep both ends
    assert res.returncode == 0, res.stderr if len(res.stderr) < 6000 else res.stderr[:4000] + "\n[...]\n" + res.stderr[-2000:]
    return res


def _max_diff(a, b):
    return max(float((a.params[g][n] - b.params[g][n]).abs().max()) for g in a.params for n in a.params[g])


@needs_distributed
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


# ------------------------------------- more torchrun processes than GPUs (simulated on the CPU)
@pytest.fixture
def one_gpu_two_processes(monkeypatch):
    """torchrun's environment for local rank ``rank`` of 2 processes on a machine with one GPU;
    returns ``as_rank(rank)`` and the process groups that were started."""
    started = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "set_device", lambda d: started.append(("set_device", str(d))))
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", lambda backend: started.append(("init", backend)))
    monkeypatch.setattr(dist, "get_world_size", lambda: 2)

    def as_rank(rank):
        for k, v in {"WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2", "RANK": str(rank), "LOCAL_RANK": str(rank)}.items():
            monkeypatch.setenv(k, v)
        monkeypatch.setattr(dist, "get_rank", lambda: rank)

    return as_rank, started


@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_more_processes_than_gpus_fails_at_once_on_every_rank_with_cuda(one_gpu_two_processes, device):
    as_rank, started = one_gpu_two_processes
    for rank in (0, 1):  # rank 0 has a GPU, but would wait for rank 1 forever: both refuse
        as_rank(rank)
        with pytest.raises(DeviceError, match=r"2 processes on this machine but 1 CUDA GPU.*--nproc-per-node=1 .*--device cpu"):
            world_from_env(device)
    assert started == []  # no process group, no GPU claimed: nothing for NCCL to fail on


def test_more_processes_than_gpus_falls_back_to_the_cpu_with_auto(one_gpu_two_processes, capsys):
    as_rank, started = one_gpu_two_processes
    worlds = []
    for rank in (0, 1):
        as_rank(rank)
        worlds.append(world_from_env("auto"))
    assert [(w.rank, w.size, w.device.type) for w in worlds] == [(0, 2, "cpu"), (1, 2, "cpu")]
    assert started == [("init", "gloo"), ("init", "gloo")]
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["2 processes on this machine but 1 CUDA GPU(s): each process under torchrun needs a GPU of its own: "
                   "--device auto trains on the CPU (gloo) instead"]  # said once, by rank 0


def test_as_many_gpus_as_processes_each_rank_takes_its_own(one_gpu_two_processes, monkeypatch):
    as_rank, started = one_gpu_two_processes
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    as_rank(1)
    world = world_from_env("cuda")
    assert world.device == torch.device("cuda", 1) and started == [("set_device", "cuda:1"), ("init", "nccl")]


def test_the_train_command_says_it_in_one_line_from_rank_0_only(one_gpu_two_processes, tmp_path):
    as_rank, started = one_gpu_two_processes
    args = ["train", "binary", "--preset", "tiny", "--steps", "1", "--device", "cuda", "--quiet", "--out", str(tmp_path)]
    as_rank(0)
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 1 and r.output.splitlines() == [
        "Error: 2 processes on this machine but 1 CUDA GPU(s): each process under torchrun needs a GPU of its own; "
        "use --nproc-per-node=1 or fewer, or --device cpu (gloo)"], r.output
    as_rank(1)
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 1 and r.output == ""
    assert started == [] and not (tmp_path / CHECKPOINT_NAME).exists()


@pytest.fixture
def fake_group(monkeypatch):
    """A process group that exists without gloo: the barriers and destroys it gets, in order;
    the ended-group flag is restored after (a later in-process CLI run must not os._exit)."""
    from ebmm.meta import distributed

    calls = []
    monkeypatch.setattr(distributed, "_ENDED_GROUP", False)
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "barrier", lambda: calls.append("barrier"))
    monkeypatch.setattr(dist, "destroy_process_group", lambda: calls.append("destroy"))
    return calls


def test_a_world_ends_only_the_process_group_it_started(fake_group):
    """World.close: a barrier and destroy_process_group for a group world_from_env started, no
    barrier when a rank leaves on an error, nothing for a group someone else started."""
    from ebmm.meta.distributed import World

    calls = fake_group
    World(0, 2, torch.device("cpu"), owns_group=True).close()
    assert calls == ["barrier", "destroy"]
    calls.clear()
    World(1, 2, torch.device("cpu"), owns_group=True).close(wait=False)
    assert calls == ["destroy"]
    calls.clear()
    World(0, 2, torch.device("cpu"), owns_group=False).close()
    World().close()
    assert calls == []


def test_only_ending_a_group_it_started_lets_the_command_line_leave_at_once(fake_group):
    """ended_process_group: false until a World destroys a group it started (the CLI then exits
    with os._exit after its output, skipping gloo's teardown at the interpreter's exit)."""
    from ebmm.meta.distributed import World, ended_process_group

    World(0, 2, torch.device("cpu"), owns_group=False).close()
    World().close()
    assert not ended_process_group()
    World(0, 2, torch.device("cpu"), owns_group=True).close()
    assert ended_process_group()
