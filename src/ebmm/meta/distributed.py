"""Data-parallel meta-training under ``torchrun``: which rank this process is, and the few
collective operations the trainer needs.

Launched by ``torchrun --standalone --nproc-per-node=P -m ebmm train binary ...`` (the launcher
sets ``WORLD_SIZE``, ``RANK`` and the rendezvous variables), every rank draws the *same* episodes
of a step from ``(seed, step)`` and keeps its own contiguous share, so the union over ranks is
exactly the episodes a single process would train on. Each rank's meta-loss is the mean over its
episodes; the gradients are averaged over ranks with an all-reduce of the ``MetaParams`` leaves,
which is the gradient of the single-process loss (the mean over all episodes) when the shares are
equal. Every rank then applies the same update, so the parameters stay identical without a
broadcast; rank 0 alone writes metrics and checkpoints. Backend: ``gloo`` on the CPU, ``nccl`` with
``--device cuda`` (each rank then uses the GPU ``LOCAL_RANK`` of its node; more processes than
GPUs is an error with ``cuda`` and a fall-back to the CPU with ``auto``, see :func:`world_from_env`). Several nodes: the
same command with ``--nnodes=N --node-rank=i --rdzv-backend=c10d --rdzv-endpoint=HOST:PORT``
instead of ``--standalone``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

_ENDED_GROUP = False  # set by World.close once it destroyed a process group it started


def ended_process_group() -> bool:
    """Whether a :class:`World` of this process started and then ended a process group (a
    multi-process run finished here). The command line then leaves with ``os._exit`` once its
    output is flushed: gloo's transport threads, torn down by the interpreter's exit, abort a
    rank now and then (SIGABRT, "terminate called without an active exception") even after
    ``destroy_process_group`` (twice in about six CI runs of ``tests/test_distributed.py``)."""
    return _ENDED_GROUP


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (``size == 1``: no distribution)."""

    rank: int = 0
    size: int = 1
    #: where this rank computes (its own GPU under nccl, else the CPU)
    device: torch.device = torch.device("cpu")
    #: whether :func:`world_from_env` started the process group (then :meth:`close` ends it)
    owns_group: bool = False

    def close(self, wait: bool = True) -> None:
        """End the process group this world started (nothing otherwise): with ``wait``, after
        every rank has arrived (a barrier), so that no rank leaves while another is still in a
        collective. Left to the interpreter's exit instead, gloo's threads can abort a rank
        ("terminate called without an active exception", seen in about one run in three of
        ``tests/test_distributed.py``)."""
        if not (self.owns_group and dist.is_initialized()):
            return
        global _ENDED_GROUP
        if wait:
            dist.barrier()
        dist.destroy_process_group()
        _ENDED_GROUP = True

    @property
    def is_main(self) -> bool:
        """Whether this rank writes metrics and checkpoints."""
        return self.rank == 0

    def share(self, t: Tensor | None, total: int) -> Tensor | None:
        """This rank's contiguous share of the leading axis (``total`` items, divisible by ``size``)."""
        if t is None or self.size == 1:
            return t
        per = total // self.size
        return t[self.rank * per : (self.rank + 1) * per]

    def mean_(self, tensors: list[Tensor]) -> None:
        """Average ``tensors`` over ranks, in place."""
        if self.size == 1:
            return
        for t in tensors:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
            t.div_(self.size)

    def any(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is true on any (keeps ranks stopping together)."""
        if self.size == 1:
            return flag
        t = torch.tensor([1.0 if flag else 0.0], device=self.device)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return bool(t.item())


def world_from_env(device: str = "cpu") -> World:
    """The :class:`World` of this process: from ``torchrun``'s environment when ``WORLD_SIZE > 1``
    (initialising the process group if needed: ``nccl`` on ``cuda:LOCAL_RANK`` when ``device``
    resolves to CUDA, else ``gloo`` on the CPU), else a single process.

    Each CUDA process needs a GPU of its own. With more processes on a machine
    (``LOCAL_WORLD_SIZE``) than GPUs visible there, ``device="cuda"`` (or ``cuda:N``) raises
    :class:`~ebmm.devices.DeviceError` on every rank before any process group exists — one
    line, no NCCL error — and ``device="auto"`` falls back to the CPU (``gloo``) on every rank,
    saying so once."""
    from ..devices import DeviceError, resolve_device

    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size <= 1:
        return World()
    where = resolve_device(device)
    if where.type == "cuda":
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        local_size = int(os.environ.get("LOCAL_WORLD_SIZE", str(size)))
        gpus = torch.cuda.device_count()
        if max(local_size, local_rank + 1) > gpus:
            message = (f"{local_size} processes on this machine but {gpus} CUDA GPU(s): each process under torchrun needs "
                       f"a GPU of its own")
            if str(device).strip().lower() != "auto":
                raise DeviceError(f"{message}; use --nproc-per-node={gpus} or fewer, or --device cpu (gloo)")
            if os.environ.get("RANK", "0") == "0":
                print(f"{message}: --device auto trains on the CPU (gloo) instead", file=sys.stderr, flush=True)
            where = torch.device("cpu")
        else:
            where = torch.device("cuda", local_rank)
            torch.cuda.set_device(where)
    if where.type not in ("cuda", "cpu"):
        raise DeviceError(f"multi-process training runs on CUDA (nccl) or the CPU (gloo), not on {where.type}")
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend="nccl" if where.type == "cuda" else "gloo")
    return World(dist.get_rank(), dist.get_world_size(), where, owns)
