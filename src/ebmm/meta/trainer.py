"""The meta-training loop: fresh random episodes each step, one (optionally compiled) step
batched over episodes, AdamW with global-norm clipping, a non-finite guard, a progress bar,
JSONL metrics, atomic checkpoints and exact resumption.

The library never reads argv; the CLI builds the configs and calls :func:`train`.
"""

from __future__ import annotations

import json
import functools
import math
import signal
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..config import MemoryConfig, TrainConfig, to_dict
from ..devices import check_precision, precision_context, resolve_device
from ..errors import CheckpointError
from ..tasks import (
    BinaryTask,
    Distortion,
    EpisodeTask,
    Occlusion,
    parse_corruption,
    task_from_config,
)
from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .distributed import world_from_env
from ..models.ebmm import Architecture
from ..models.protocol import LearnedModel, MetaParams, read_known

CHECKPOINT_NAME = "checkpoint.safetensors"
BEST_NAME = "best.safetensors"
METRICS_NAME = "metrics.jsonl"


def leaves(params: MetaParams) -> list[Tensor]:
    """The leaves of a ``MetaParams`` pytree in a fixed order (the optimiser's order)."""
    return [t for g in params.values() for t in g.values()]


def lr_lambda(cfg: TrainConfig):
    """Multiplier of the base learning rate at a step: linear warm-up, then constant or cosine."""

    def f(step: int) -> float:
        if cfg.warmup_steps and step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.lr_schedule == "constant":
            return 1.0
        span = max(1, cfg.steps - cfg.warmup_steps)
        progress = min(1.0, (step - cfg.warmup_steps) / span)
        lo = cfg.final_lr_fraction
        return lo + (1 - lo) * 0.5 * (1 + math.cos(math.pi * progress))

    return f


def distortion_at(cfg: TrainConfig, step: int) -> Distortion | Occlusion:
    """The training corruption at ``step``, with the curriculum's ramp of corrupted positions
    (binary) or of the occluded square's side (images)."""
    target = parse_corruption(cfg.distortion)
    if cfg.curriculum_steps <= 0 or step >= cfg.curriculum_steps:
        return target
    frac = cfg.curriculum_start_fraction + (1 - cfg.curriculum_start_fraction) * step / cfg.curriculum_steps
    return target.with_count(max(1, round(target.count * frac)))


def episode_generator(seed: int, step: int) -> torch.Generator:
    """The RNG of one training step: a function of (seed, step), so a resumed run sees exactly
    the episodes the interrupted one would have."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def _sigterm_as_interrupt() -> Callable[[], None]:
    """Turn SIGTERM (a scheduler's pre-emption, ``kill``) into ``KeyboardInterrupt`` so the
    loop's ``finally`` writes the exit checkpoint. Main thread only. Returns the restorer."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)


@dataclass
class TrainResult:
    params: MetaParams
    step: int
    skipped: int
    #: mean held-out error (in the task's metric, e.g. error bits) at the last and best evaluation
    final_eval_error: float | None
    best_eval_error: float | None
    out_dir: Path | None
    metric: str = "error_bits"
    #: CPU-seconds of this process spent in meta-steps, over the whole run (resumes included)
    train_cpu_s: float = 0.0


class MetaStep:
    """One meta-gradient evaluation: ``(params, stored, queries) -> (grads, loss, retrieved)``.

    Built once per run; with ``compile=True`` the whole write–read–backward graph is compiled by
    ``torch.compile`` (the ``torch.func`` form compiles; autograd's double backward does not).
    """

    def __init__(self, model: LearnedModel, compile: bool, write_chunks: int = 1):
        loss = model.loss
        if write_chunks > 1:
            if not hasattr(model, "write_more"):
                raise ValueError(f"{model.kind} cannot write an episode in chunks (it has no incremental write)")
            loss = functools.partial(model.loss, chunks=write_chunks)
        fn = torch.func.grad_and_value(loss, has_aux=True)
        self._fn = torch.compile(fn, dynamic=False) if compile else fn

    def __call__(self, params: MetaParams, x: Tensor, q: Tensor, mask: Tensor | None = None,
                 known: Tensor | None = None):
        grads, (loss, last) = (self._fn(params, x, q, mask) if known is None else self._fn(params, x, q, mask, known))
        return grads, loss, last


class SpikeGuard:
    """Flags a gradient norm more than ``factor`` × the median of the last ``window`` applied
    steps' norms (a finite explosion; NaN/inf are caught by :func:`clipped_update` itself).

    Only applied steps enter the history, so a run of spikes cannot raise the median it is
    judged by; after ``window`` spikes in a row the history is cleared (the norms' scale has
    really changed) and counting starts afresh. ``factor = 0`` turns the guard off."""

    def __init__(self, factor: float, window: int, history: list[float] | None = None):
        self.factor = factor
        self.norms: deque[float] = deque(history or (), maxlen=window)
        self.in_a_row = 0

    def is_spike(self, norm: float) -> bool:
        if self.factor <= 0 or len(self.norms) < min(10, self.norms.maxlen or 10):
            return False
        spike = norm > self.factor * statistics.median(self.norms)
        self.in_a_row = self.in_a_row + 1 if spike else 0
        if self.in_a_row >= (self.norms.maxlen or 1):
            self.norms.clear()
            self.in_a_row = 0
        return spike

    def record(self, norm: float) -> None:
        self.norms.append(norm)

    def typical(self) -> float | None:
        """The median of the recorded norms, once there are at least 10 (else None)."""
        return statistics.median(self.norms) if len(self.norms) >= min(10, self.norms.maxlen or 10) else None


def clipped_update(
    opt: torch.optim.Optimizer, flat: list[Tensor], grads: list[Tensor], loss: Tensor, clip_norm: float,
    guard: SpikeGuard | None = None, clip_relative: float = 0.0,
) -> tuple[Tensor, bool]:
    """One optimiser step on ``flat`` with ``grads`` clipped to global norm ``clip_norm`` (0: no
    clipping) and, with ``clip_relative > 0``, to ``clip_relative`` × the median norm of the
    ``guard``'s recent applied steps; skipped (nothing changes) when the loss or the gradient
    norm is not finite, or when ``guard`` flags the norm as a spike.

    **Returns:** ``(global gradient norm, whether the step was applied)``."""
    norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
    if not (bool(torch.isfinite(norm)) and bool(torch.isfinite(loss))):
        return norm, False
    limits = [clip_norm] if clip_norm > 0 else []
    if guard is not None:
        typical = guard.typical()
        if clip_relative > 0 and typical is not None:
            limits.append(clip_relative * typical)
        if guard.is_spike(float(norm)):
            return norm, False
        guard.record(float(norm))
    scale = min([1.0] + [limit / (float(norm) + 1e-12) for limit in limits])
    for p, g in zip(flat, grads):
        p.grad = g * scale
    opt.step()
    opt.zero_grad(set_to_none=True)
    return norm, True


def param_groups(params: MetaParams, cfg: TrainConfig) -> list[dict[str, Any]]:
    """The optimiser's parameter groups: one per ``MetaParams`` group, with the learning rate
    ``lr × group_lr[name]`` (1 for groups not named), in :func:`leaves` order; a single group
    when ``group_lr`` is empty (as in runs saved before groups existed, so they resume)."""
    unknown = set(cfg.group_lr) - set(params)
    if unknown:
        raise ValueError(f"group_lr names {sorted(unknown)}, not groups of this model's parameters {sorted(params)}")
    if not cfg.group_lr:
        return [{"params": leaves(params)}]
    return [{"params": list(d.values()), "lr": cfg.lr * cfg.group_lr.get(g, 1.0)} for g, d in params.items()]


def pattern_mask(cfg: TrainConfig, generator: torch.Generator) -> Tensor | None:
    """``(episodes, patterns)`` 0/1 mask: episode b stores its first n_b patterns, n_b uniform
    in ``[min_patterns, patterns]``; None when every episode stores ``patterns``."""
    if cfg.min_patterns is None or cfg.min_patterns == cfg.patterns:
        return None
    n = torch.randint(cfg.min_patterns, cfg.patterns + 1, (cfg.episodes, 1), generator=generator)
    return (torch.arange(cfg.patterns).unsqueeze(0) < n).float()


def eval_sizes(cfg: TrainConfig) -> list[int]:
    """The N at which held-out evaluation runs: ``eval_patterns``, by default the extremes of
    the training range."""
    return sorted(set(cfg.eval_patterns) or {cfg.min_patterns or cfg.patterns, cfg.patterns})


def evaluate_params(
    model: LearnedModel, params: MetaParams, patterns: int, distortion: str, episodes: int, seed: int,
    task: EpisodeTask | None = None,
    clamp_known: bool = False,
    device: torch.device | str | None = None,
) -> float:
    """Mean per-pattern error of the retrievals on a fixed set of held-out episodes of ``task``
    (default: random binary patterns) under ``distortion``; ``clamp_known``: the read holds the
    intact entries fixed (in its dynamics if the model can, else in its output). The episodes are
    drawn on the CPU (the same on every device) and moved to ``device`` (default: where
    ``params`` are)."""
    spec = parse_corruption(distortion)
    task = task or BinaryTask(model.dim, spec)
    gen = torch.Generator().manual_seed(seed)
    x, q, known = task.sample(episodes, patterns, split="eval", corruption=spec, generator=gen, known=True)
    device = device if device is not None else leaves(params)[0].device
    x, q, known = x.to(device), q.to(device), known.to(device)
    with torch.no_grad():
        state = model.write(params, x)
        retrieved = read_known(model, params, state, q, False, known) if clamp_known else model.read(params, state, q, False)
    return float(task.error(retrieved, x).mean())


def train(
    model: LearnedModel | MemoryConfig,
    train_config: TrainConfig,
    out_dir: str | Path | None = None,
    *,
    resume: bool = False,
    progress: bool = True,
    params: MetaParams | None = None,
    task: EpisodeTask | None = None,
) -> TrainResult:
    """Meta-train a memory model.

    **Arguments:** the model (any :class:`~ebmm.models.protocol.LearnedModel`; a
    :class:`~ebmm.config.MemoryConfig` means the energy memory) and the training config; ``out_dir`` for checkpoints and metrics
    (None: keep nothing on disk); ``resume`` continues the run saved in ``out_dir`` (its
    configs must match, except the bookkeeping fields of :data:`RESUMABLE_CHANGES`; raise
    ``steps`` to train longer); ``params`` a starting point
    (e.g. a pretrained memory to fine-tune); ``task`` the episodes (default: the one
    ``train_config`` names, see :func:`ebmm.tasks.task_from_config`).

    **Returns:** a :class:`TrainResult`.
    """
    out = Path(out_dir) if out_dir is not None else None
    if isinstance(model, MemoryConfig):
        model = Architecture.from_config(model)
    cfg = train_config
    world = world_from_env(cfg.device)  # several processes under torchrun: each trains on its share of the episodes
    device = world.device if world.size > 1 else resolve_device(cfg.device)
    energy_kind = getattr(getattr(model, "config", None), "energy", None)
    check_precision(cfg.precision, getattr(energy_kind, "kind", None))
    if cfg.episodes % world.size:
        raise ValueError(f"{cfg.episodes} episodes per step do not split over {world.size} processes")
    if task is None:
        task = task_from_config(cfg.task, model.dim, cfg.distortion, cfg.dataset, cfg.data_path)
    step, skipped, opt_state = 0, 0, None
    norm_history, spikes, cpu_s = [], 0, 0.0
    best = math.inf
    if resume:
        if out is None or not (out / CHECKPOINT_NAME).is_file():
            raise CheckpointError(f"--resume: no checkpoint to resume in {out}")
        ck = load_checkpoint(out / CHECKPOINT_NAME)
        if ck.model.kind != model.kind or ck.model.config_dict() != model.config_dict():
            raise CheckpointError(
                f"--resume: the run in {out} has a different model "
                f"({ck.model.kind} {ck.model.config_dict()} vs {model.kind} {model.config_dict()})"
            )
        if ck.train_config is None or _without_steps(ck.train_config) != _without_steps(cfg):
            raise CheckpointError(f"--resume: the run in {out} was started with a different training configuration")
        params, step, skipped, opt_state = ck.params, ck.step, ck.skipped, ck.optimizer_state
        norm_history, spikes = ck.info.get("norm_history", []), ck.info.get("spikes", 0)
        cpu_s = float(ck.info.get("train_cpu_s", 0.0))
        saved_best = ck.info.get("best_eval_error", ck.info.get("best_eval_error_bits"))
        best = math.inf if saved_best is None else float(saved_best)
    elif params is None:
        params = model.init_params(seed=cfg.seed)
        if hasattr(model, "init_from_data") and hasattr(task, "train"):
            params = model.init_from_data(params, task.train)
    params = {g: {n: t.detach().to(device, copy=True) for n, t in d.items()} for g, d in params.items()}

    flat = leaves(params)
    opt = torch.optim.AdamW(param_groups(params, cfg), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg))
    if opt_state is not None:
        try:
            opt.load_state_dict(opt_state)
        except ValueError as e:  # e.g. a checkpoint of an older energy with fewer meta-parameters
            raise CheckpointError(f"--resume: the optimiser state in {out} does not fit this model's meta-parameters "
                                  f"(saved by an older version of the model?): {e}; start a new run instead") from None
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_lambda(cfg), last_epoch=step - 1)

    meta_step = MetaStep(model, cfg.compile, cfg.write_chunks)
    guard = SpikeGuard(cfg.spike_factor, cfg.spike_window, norm_history)
    if not world.is_main:  # only rank 0 writes (all ranks have read the checkpoint to resume)
        out, progress = None, False
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(
            json.dumps({"model_kind": model.kind, "model": model.config_dict(), "train": to_dict(cfg)}, indent=2)
        )

    metrics = open(out / METRICS_NAME, "a") if out is not None else None

    def checkpoint(path_name: str, with_optim: bool):
        if out is None:
            return
        save_checkpoint(
            out / path_name,
            Checkpoint(
                model, params, cfg, step, skipped, opt.state_dict() if with_optim else None,
                info={"best_eval_error": best if math.isfinite(best) else None,
                      "norm_history": list(guard.norms), "spikes": spikes, "train_cpu_s": cpu_s},
            ),
        )

    def log(record: dict[str, Any]):
        if metrics is not None:
            metrics.write(json.dumps(record) + "\n")
            metrics.flush()

    def evaluate() -> float:
        nonlocal best
        per_n = {n: evaluate_params(model, params, n, cfg.distortion, cfg.eval_episodes, 10_000 + cfg.seed, task, cfg.clamp_known)
                 for n in eval_sizes(cfg)}
        value = sum(per_n.values()) / len(per_n)
        log({"step": step, f"eval_{task.metric}": value, "eval_by_patterns": {str(n): v for n, v in per_n.items()},
             "train_cpu_s": cpu_s})
        if value < best:
            best = value
            checkpoint(BEST_NAME, with_optim=False)
        return value

    last_eval = None
    if cfg.eval_every and step == 0:  # the untrained memory: where the curve starts
        last_eval = evaluate()
    bar = tqdm(total=cfg.steps, initial=step, disable=not progress, desc="meta-train", unit="step", dynamic_ncols=True)
    t0, steps_since = time.perf_counter(), 0
    restore_sigterm = _sigterm_as_interrupt()
    try:
        while step < cfg.steps and not world.any(bool(cfg.cpu_budget_s) and cpu_s >= cfg.cpu_budget_s):
            c0 = time.process_time()
            gen = episode_generator(cfg.seed, step)
            x, q, known = task.sample(cfg.episodes, cfg.patterns, corruption=distortion_at(cfg, step), generator=gen, known=True)
            mask = pattern_mask(cfg, gen)
            if world.size > 1:  # the same draws on every rank; each keeps its share
                x, q, known, mask = (world.share(t, cfg.episodes) for t in (x, q, known, mask))
            x, q, known = x.to(device), q.to(device), known.to(device)  # drawn on the CPU: the same on every device
            mask = None if mask is None else mask.to(device)
            with precision_context(cfg.precision, device):
                grads, loss, last = meta_step(params, x, q, mask, known if cfg.clamp_known else None)
            grads = {g: {n: t.float() for n, t in d.items()} for g, d in grads.items()}
            world.mean_([*leaves(grads), loss])
            finite = bool(torch.isfinite(loss))
            norm, applied = clipped_update(opt, flat, leaves(grads), loss, cfg.clip_norm, guard, cfg.clip_relative)
            skipped += not applied
            spikes += (not applied) and finite and bool(torch.isfinite(norm))
            sched.step()
            step += 1
            steps_since += 1
            cpu_s += time.process_time() - c0
            out_of_budget = world.any(bool(cfg.cpu_budget_s) and cpu_s >= cfg.cpu_budget_s)
            wrong = task.error(last, x)
            bits = float(wrong.mean() if mask is None else (wrong * mask).sum() / mask.sum())
            if step % cfg.log_every == 0 or step == cfg.steps or out_of_budget:
                dt = time.perf_counter() - t0
                rate = steps_since / dt if dt > 0 else float("nan")
                t0, steps_since = time.perf_counter(), 0
                log({"step": step, "loss": float(loss), task.metric: bits, "grad_norm": float(norm), "train_cpu_s": cpu_s,
                     "lr": sched.get_last_lr()[0], "steps_per_s": rate, "skipped": skipped, "spikes": spikes,
                     "distortion": str(distortion_at(cfg, step - 1))})
            if cfg.eval_every and (step % cfg.eval_every == 0 or step == cfg.steps or out_of_budget):
                last_eval = evaluate()
            if out is not None and cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                checkpoint(CHECKPOINT_NAME, with_optim=True)
            bar.set_postfix(loss=f"{float(loss):.2f}", bits=f"{bits:.2f}", eval="-" if last_eval is None else f"{last_eval:.2f}", skipped=skipped)
            bar.update(1)
    finally:
        bar.close()
        try:
            checkpoint(CHECKPOINT_NAME, with_optim=True)  # at exit, also on Ctrl-C, SIGTERM or error
        finally:
            restore_sigterm()
            if metrics is not None:
                metrics.close()
    return TrainResult(params, step, skipped, last_eval, best if math.isfinite(best) else None, out, task.metric, cpu_s)


#: Fields that may change when a run is resumed (bookkeeping, not the optimisation problem).
RESUMABLE_CHANGES = ("steps", "log_every", "eval_every", "eval_episodes", "eval_patterns", "checkpoint_every", "compile",
                     "cpu_budget_s", "device", "precision")


def _without_steps(cfg: TrainConfig) -> dict[str, Any]:
    d = to_dict(cfg)
    for k in RESUMABLE_CHANGES:
        d.pop(k)
    return d
