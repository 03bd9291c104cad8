"""The meta-training loop around the pure step (:mod:`ebmm.meta.step`): fresh random episodes
each step, then the step, then the callbacks that do all I/O — JSONL metrics, held-out
evaluation and the best memory, checkpoints (atomic; exact resumption), the progress bar.

The library never reads argv; the CLI builds the configs and calls :func:`train`.
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from ..config import MemoryConfig, TrainConfig, to_dict
from ..devices import check_precision, matmul_precision, resolve_device
from ..errors import CheckpointError, TrainingInterrupted
from ..tasks import (
    BinaryTask,
    Distortion,
    EpisodeTask,
    Occlusion,
    parse_corruption,
    task_from_config,
)
from ..models.ebmm import EBMM
from ..tasks.held_out import held_out_errors
from ..models.protocol import LearnedModel, MetaParams, read_known
from ..checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .distributed import world_from_env
from .step import (  # noqa: F401  (MetaStep, leaves, lr_lambda: used by callers of the trainer too)
    Batch,
    MetaStep,
    TrainState,
    TrainStep,
    group_multipliers,
    leaves,
    lr_lambda,
    optimizer_state_dict,
    state_from_checkpoint,
)

CHECKPOINT_NAME = "checkpoint.safetensors"
BEST_NAME = "best.safetensors"
METRICS_NAME = "metrics.jsonl"


def distortion_at(cfg: TrainConfig, step: int) -> Distortion | Occlusion:
    """The training corruption at ``step``, with the curriculum's ramp of corrupted positions
    (binary) or of the occluded square's side (images)."""
    target = cfg.distortion  # typed: parsed once, by TrainConfig
    if cfg.curriculum_steps <= 0 or step >= cfg.curriculum_steps:
        return target
    frac = cfg.curriculum_start_fraction + (1 - cfg.curriculum_start_fraction) * step / cfg.curriculum_steps
    return target.with_count(max(1, round(target.count * frac)))


def episode_generator(seed: int, step: int) -> torch.Generator:
    """The RNG of one training step: a function of (seed, step), so a resumed run sees exactly
    the episodes the interrupted one would have."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


class _Signalled(KeyboardInterrupt):
    """A signal turned into an interruption of the loop (``signum`` says which)."""

    def __init__(self, signum: int):
        super().__init__(f"signal {signum}")
        self.signum = signum


def _sigterm_as_interrupt() -> Callable[[], None]:
    """Turn SIGTERM (a scheduler's pre-emption, ``kill``) into ``KeyboardInterrupt`` so the
    loop's ``finally`` writes the exit checkpoint. Main thread only. Returns the restorer."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum, frame):
        raise _Signalled(signum)

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
    ``params`` are). The loop is the tables' own (:func:`ebmm.tasks.held_out.held_out_errors`),
    on the model's write and read."""
    spec = parse_corruption(distortion)
    task = task or BinaryTask(model.dim, spec)
    device = device if device is not None else leaves(params)[0].device

    def write(x: Tensor, state: None) -> dict[str, Tensor]:  # written at once (write_parts=1): state is None
        return model.write(params, x.to(device))

    def read(q: Tensor, state: dict[str, Tensor], known: Tensor | None) -> Tensor:
        q = q.to(device)
        return model.read(params, state, q, False) if known is None else read_known(model, params, state, q, False, known.to(device))

    with torch.no_grad():  # every episode in one draw, as the held-out sets of every table
        errors, _ = held_out_errors(write, read, task, patterns, episodes, corruption=spec, chunk=episodes, seed=seed,
                                    clamp_known=clamp_known)
    return float(errors.mean())


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

    **Returns:** a :class:`TrainResult`. **Raises** :class:`~ebmm.errors.TrainingInterrupted` (a
    ``KeyboardInterrupt``) on SIGTERM or Ctrl-C, after the exit checkpoint is written;
    ``ValueError`` for a model with nothing to train (a Hopfield network).
    """
    out = Path(out_dir) if out_dir is not None else None
    if isinstance(model, MemoryConfig):
        model = EBMM.from_config(model)
    if not getattr(model, "trainable", True):
        raise ValueError(f"a {model.kind} model has no meta-parameters to train (its rule is fixed); use it as it is, "
                         "e.g. ebmm.load('hopfield-hebb')")
    cfg = train_config
    world = world_from_env(cfg.device)  # several processes under torchrun: each trains on its share of the episodes
    device = world.device if world.size > 1 else resolve_device(cfg.device)
    energy_kind = getattr(getattr(model, "config", None), "energy", None)
    check_precision(cfg.precision, getattr(energy_kind, "kind", None))
    if cfg.episodes % world.size:
        raise ValueError(f"{cfg.episodes} episodes per step do not split over {world.size} processes")
    if task is None:
        task = task_from_config(cfg.task, model.dim, cfg.distortion, cfg.dataset, cfg.data_path)
    state, run = _initial_state(model, cfg, task, out, resume, params, device)
    step_fn = TrainStep(model, cfg, world, device)
    if not world.is_main:  # only rank 0 writes (all ranks have read the checkpoint to resume)
        out, progress = None, False
    run.out = out
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(
            json.dumps({"model_kind": model.kind, "model": model.config_dict(), "train": to_dict(cfg)}, indent=2)
        )
    log = _MetricsFile(out, task.metric, cfg, run)
    callbacks = [log, _Evaluation(model, cfg, task, run, log), _Checkpoints(cfg, run), _ProgressBar(cfg, state.step, progress, run)]
    for cb in callbacks:
        cb.start(state)
    restore_sigterm = _sigterm_as_interrupt()
    out_of_budget = world.any(bool(cfg.cpu_budget_s) and run.cpu_s >= cfg.cpu_budget_s)  # a resumed run may have spent it
    finished = False
    with matmul_precision(cfg.precision):  # global state: set once for the run, restored at its end
        try:
            while state.step < cfg.steps and not out_of_budget:
                c0 = time.process_time()
                gen = episode_generator(cfg.seed, state.step)
                x, q, known = task.sample(cfg.episodes, cfg.patterns, corruption=distortion_at(cfg, state.step), generator=gen, known=True)
                mask = pattern_mask(cfg, gen)
                if world.size > 1:  # the same draws on every rank; each keeps its share
                    x, q, known, mask = (world.share(t, cfg.episodes) for t in (x, q, known, mask))
                batch = Batch(x.to(device), q.to(device), None if mask is None else mask.to(device), known.to(device))
                state, metrics = step_fn(state, batch)  # drawn on the CPU: the same episodes on every device
                run.cpu_s += time.process_time() - c0
                out_of_budget = world.any(bool(cfg.cpu_budget_s) and run.cpu_s >= cfg.cpu_budget_s)  # one collective per step
                metrics["last"] = out_of_budget or state.step == cfg.steps
                wrong = task.error(metrics["retrieved"], batch.stored)
                metrics["error"] = float(wrong.mean() if batch.mask is None else (wrong * batch.mask).sum() / batch.mask.sum())
                metrics["distortion"] = str(distortion_at(cfg, state.step - 1))
                for cb in callbacks:
                    cb.after_step(state, metrics)
            finished = True
        except KeyboardInterrupt as e:  # SIGTERM or Ctrl-C: the finally below saves first, then this propagates
            signum = e.signum if isinstance(e, _Signalled) else int(signal.SIGINT)
            raise TrainingInterrupted(signum, state.step, cfg.steps, run.out / CHECKPOINT_NAME if run.out else None) from None
        finally:
            try:
                run.save(CHECKPOINT_NAME, state, with_optim=True)  # at exit, also on Ctrl-C, SIGTERM or error
            finally:
                restore_sigterm()
                for cb in callbacks:
                    cb.close()
                world.close(wait=finished)  # the process group ends here, not at the interpreter's exit
    best = run.best if math.isfinite(run.best) else None
    return TrainResult(state.params, state.step, state.skipped, run.last_eval, best, out, task.metric, run.cpu_s)


# --- the loop's pieces -------------------------------------------------------------------------

@dataclass
class _Run:
    """What the callbacks share about a run: where it writes, the best held-out error, the
    last evaluation, CPU-seconds spent in steps."""

    model: LearnedModel
    cfg: TrainConfig
    out: Path | None = None
    best: float = math.inf
    last_eval: float | None = None
    cpu_s: float = 0.0

    def save(self, name: str, state: TrainState, with_optim: bool) -> None:
        if self.out is None:
            return
        save_checkpoint(self.out / name, Checkpoint(
            self.model, state.params, self.cfg, state.step, state.skipped,
            optimizer_state_dict(state, self.cfg) if with_optim else None,
            info={"best_eval_error": self.best if math.isfinite(self.best) else None,
                  "norm_history": list(state.norm_history), "spikes": state.spikes, "train_cpu_s": self.cpu_s},
        ))


def _initial_state(model: LearnedModel, cfg: TrainConfig, task: EpisodeTask, out: Path | None, resume: bool,
                   params: MetaParams | None, device: torch.device) -> tuple[TrainState, _Run]:
    """The state to start from — the saved run's (``resume``), ``params``, or a fresh
    initialisation (from training data where the model has such a start) — on ``device``."""
    run = _Run(model, cfg)
    optim, step, skipped, info = None, 0, 0, {}
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
        params, step, skipped, optim, info = ck.params, ck.step, ck.skipped, ck.optimizer_state, ck.info
        run.cpu_s = float(info.get("train_cpu_s", 0.0))
        saved_best = info.get("best_eval_error", info.get("best_eval_error_bits"))
        run.best = math.inf if saved_best is None else float(saved_best)
    elif params is None:
        params = model.init_params(seed=cfg.seed)
        if hasattr(model, "init_from_data") and hasattr(task, "train"):
            params = model.init_from_data(params, task.train)
    params = {g: {n: t.detach().to(device, copy=True) for n, t in d.items()} for g, d in params.items()}
    group_multipliers(params, cfg)  # a bad group name fails before any step
    try:
        state = state_from_checkpoint(params, optim, step, skipped, info)
    except ValueError as e:  # e.g. a checkpoint of an older energy with fewer meta-parameters
        raise CheckpointError(f"--resume: the optimiser state in {out} does not fit this model's meta-parameters "
                              f"(saved by an older version of the model?): {e}; start a new run instead") from None
    return state, run


class _Callback:
    """A piece of the loop's I/O: ``start`` before the first step, ``after_step`` after each,
    ``close`` at the end (also after an interruption)."""

    def start(self, state: TrainState) -> None:
        pass

    def after_step(self, state: TrainState, metrics: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


class _MetricsFile(_Callback):
    """Appends a training record to ``metrics.jsonl`` every ``log_every`` steps (and at the end)."""

    def __init__(self, out: Path | None, metric: str, cfg: TrainConfig, run: _Run):
        self.metric, self.cfg, self.run = metric, cfg, run
        self.file = open(out / METRICS_NAME, "a") if out is not None else None  # noqa: SIM115 (closed in close())
        self.t0, self.steps = time.perf_counter(), 0
        self.schedule = lr_lambda(cfg)

    def write(self, record: dict[str, Any]) -> None:
        if self.file is not None:
            self.file.write(json.dumps(record) + "\n")
            self.file.flush()

    def after_step(self, state, metrics):
        self.steps += 1
        if state.step % self.cfg.log_every == 0 or metrics["last"]:
            dt = time.perf_counter() - self.t0
            rate = self.steps / dt if dt > 0 else float("nan")
            self.t0, self.steps = time.perf_counter(), 0
            # the base learning rate of the next step; each group's (and prefix's) multiplier applies on
            # top of it (group_lr), so a run whose first group is frozen does not log 0
            lr = self.cfg.lr * self.schedule(state.step)
            self.write({"step": state.step, "loss": float(metrics["loss"]), self.metric: metrics["error"],
                        "grad_norm": float(metrics["grad_norm"]), "train_cpu_s": self.run.cpu_s, "lr": lr,
                        "steps_per_s": rate, "skipped": state.skipped, "spikes": state.spikes, "distortion": metrics["distortion"]})

    def close(self):
        if self.file is not None:
            self.file.close()


class _Evaluation(_Callback):
    """Held-out evaluation at step 0 and every ``eval_every`` steps (and at the end); keeps the
    best memory as ``best.safetensors``; logs through the metrics file."""

    def __init__(self, model: LearnedModel, cfg: TrainConfig, task: EpisodeTask, run: _Run, log: _MetricsFile):
        self.model, self.cfg, self.task, self.run, self.log = model, cfg, task, run, log

    def evaluate(self, state: TrainState) -> None:
        cfg, run = self.cfg, self.run
        per_n = {n: evaluate_params(self.model, state.params, n, cfg.distortion, cfg.eval_episodes, 10_000 + cfg.seed, self.task,
                                    cfg.clamp_known) for n in eval_sizes(cfg)}
        value = sum(per_n.values()) / len(per_n)
        self.log.write({"step": state.step, f"eval_{self.task.metric}": value,
                        "eval_by_patterns": {str(n): v for n, v in per_n.items()}, "train_cpu_s": run.cpu_s})
        run.last_eval = value
        if value < run.best:
            run.best = value
            run.save(BEST_NAME, state, with_optim=False)

    def start(self, state):
        if self.cfg.eval_every and state.step == 0:  # the untrained memory: where the curve starts
            self.evaluate(state)

    def after_step(self, state, metrics):
        if self.cfg.eval_every and (state.step % self.cfg.eval_every == 0 or metrics["last"]):
            self.evaluate(state)


class _Checkpoints(_Callback):
    """A checkpoint (with the optimiser state) every ``checkpoint_every`` steps."""

    def __init__(self, cfg: TrainConfig, run: _Run):
        self.cfg, self.run = cfg, run

    def after_step(self, state, metrics):
        if self.cfg.checkpoint_every and state.step % self.cfg.checkpoint_every == 0:
            self.run.save(CHECKPOINT_NAME, state, with_optim=True)


class _ProgressBar(_Callback):
    """The tqdm bar: loss, training error, last held-out error, skipped steps."""

    def __init__(self, cfg: TrainConfig, initial: int, enabled: bool, run: _Run):
        self.run = run
        self.bar = tqdm(total=cfg.steps, initial=initial, disable=not enabled, desc="meta-train", unit="step", dynamic_ncols=True)

    def after_step(self, state, metrics):
        last = self.run.last_eval
        self.bar.set_postfix(loss=f"{float(metrics['loss']):.2f}", err=f"{metrics['error']:.2f}",
                             eval="-" if last is None else f"{last:.2f}", skipped=state.skipped)
        self.bar.update(1)

    def close(self):
        self.bar.close()


#: Fields that may change when a run is resumed (bookkeeping, not the optimisation problem).
RESUMABLE_CHANGES = ("steps", "log_every", "eval_every", "eval_episodes", "eval_patterns", "checkpoint_every", "compile",
                     "cpu_budget_s", "device", "precision")


def _without_steps(cfg: TrainConfig) -> dict[str, Any]:
    d = to_dict(cfg)
    for k in RESUMABLE_CHANGES:
        d.pop(k)
    return d
