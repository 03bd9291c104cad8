"""One meta-training step as a pure function: ``state, metrics = step(state, batch)``.

:class:`TrainState` holds everything a step reads and replaces — the meta-parameters, AdamW's
moments, the step and update counts, the gradient-norm history of the clipping and spike
guards — and a step returns a new one without touching its input (optax-style: parameters and
optimiser state in, new ones out). :class:`TrainStep` is built once per run (it holds the
possibly compiled meta-gradient and the configuration) and is what the trainer's loop, the
energy comparison benchmark and every process of a ``torchrun`` job call.

What a step does, in order: the meta-gradient of the model's loss on the batch (under the
configured precision); its average over processes; a skip when the loss or the gradient norm is
not finite, or when the norm exceeds ``spike_factor`` × the median of the recent applied norms
(a finite explosion: counted as a spike); otherwise clipping at ``clip_norm`` and at
``clip_relative`` × that median, and one AdamW update (``torch.optim.adamw.adamw``, the
functional form of ``torch.optim.AdamW``) at the scheduled learning rate times the group's
multiplier. A skipped step still advances the schedule.
"""

from __future__ import annotations

import functools
import math
import statistics
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor
from torch.optim.adamw import adamw

from ..config import TrainConfig
from ..devices import autocast
from ..models.protocol import LearnedModel, MetaParams
from .distributed import World

BETAS = (0.9, 0.999)
EPS = 1e-8


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


def group_multipliers(params: MetaParams, cfg: TrainConfig) -> dict[str, float]:
    """Learning-rate multiplier of each ``MetaParams`` group: ``group_lr[name]``, 1 for groups not
    named; ``ValueError`` for a name that is not a group of these parameters, or a
    ``GROUP/PREFIX`` key (:func:`param_multipliers`) that matches no parameter."""
    groups = {k for k in cfg.group_lr if "/" not in k}
    unknown = groups - set(params)
    for key in set(cfg.group_lr) - groups:
        g, prefix = key.split("/", 1)
        if g not in params or not any(n.startswith(prefix) for n in params[g]):
            unknown.add(key)
    if unknown:
        raise ValueError(f"group_lr names {sorted(unknown)}, not groups of this model's parameters {sorted(params)} "
                         "(or GROUP/PREFIX matching none of a group's parameters)")
    return {g: cfg.group_lr.get(g, 1.0) for g in params}


def param_multipliers(params: MetaParams, cfg: TrainConfig) -> dict[str, dict[str, float]]:
    """Learning-rate multiplier of every parameter: its group's (:func:`group_multipliers`),
    unless a ``GROUP/PREFIX`` key of ``group_lr`` names a prefix of its name — then that key's
    (the longest matching prefix wins). ``{"static/detector.": 10}`` trains the image slot
    energy's trust detector 10× faster than the other slow weights."""
    base = group_multipliers(params, cfg)
    prefixed = sorted(((k.split("/", 1), v) for k, v in cfg.group_lr.items() if "/" in k), key=lambda kv: -len(kv[0][1]))
    out = {}
    for g, d in params.items():
        out[g] = {}
        for n in d:
            out[g][n] = next((v for (pg, prefix), v in prefixed if pg == g and n.startswith(prefix)), base[g])
    return out


@dataclass(frozen=True)
class Batch:
    """One step's episodes: ``stored``, ``queries (B, N, *event)``; ``mask (B, N)`` the patterns
    each episode really stores (None: all); ``known (B, N, *event)`` the intact query entries
    (used when the run trains under clamped completion)."""

    stored: Tensor
    queries: Tensor
    mask: Tensor | None = None
    known: Tensor | None = None


@dataclass(frozen=True)
class TrainState:
    """Everything one step reads and replaces (see the module docstring)."""

    params: MetaParams
    exp_avg: MetaParams
    exp_avg_sq: MetaParams
    #: meta-steps taken (applied or skipped): the schedule's position and the episodes' seed
    step: int = 0
    #: AdamW updates applied (its bias correction counts these)
    updates: int = 0
    skipped: int = 0
    #: skipped steps whose loss and norm were finite (the spike guard's)
    spikes: int = 0
    #: gradient norms of the last applied steps (at most ``spike_window``)
    norm_history: tuple[float, ...] = ()
    #: consecutive spikes (after ``spike_window`` of them the history is cleared)
    spikes_in_a_row: int = 0


def init_state(params: MetaParams) -> TrainState:
    """A fresh state: ``params`` (used as given) and zero moments."""
    zeros = {g: {n: torch.zeros_like(t) for n, t in d.items()} for g, d in params.items()}
    return TrainState(params, zeros, {g: dict(d) for g, d in zeros.items()})


def typical_norm(state: TrainState, cfg: TrainConfig) -> float | None:
    """The median of the recent applied norms, once there are at least min(10, window)."""
    need = min(10, cfg.spike_window)
    return statistics.median(state.norm_history) if len(state.norm_history) >= need else None


class MetaStep:
    """One meta-gradient evaluation: ``(params, stored, queries) -> (grads, loss, retrieved)``.

    With ``compile=True`` the whole write–read–backward graph is compiled by ``torch.compile``
    (the ``torch.func`` form compiles; autograd's double backward does not).
    """

    def __init__(self, model: LearnedModel, compile: bool, write_chunks: int = 1, frozen: frozenset[tuple[str, str]] = frozenset()):
        loss = model.loss
        if write_chunks > 1:
            if not hasattr(model, "write_more"):
                raise ValueError(f"{model.kind} cannot write an episode in chunks (it has no incremental write)")
            loss = functools.partial(model.loss, chunks=write_chunks)
        self.frozen = frozen

        def split_loss(trainable: MetaParams, constants: MetaParams, *args):
            # the model sees every parameter, in its own order; only ``trainable`` is differentiated
            merged = {g: {n: trainable[g][n] if n in trainable[g] else constants[g][n] for n in order}
                      for g, order in self._order.items()}
            return loss(merged, *args)

        fn = torch.func.grad_and_value(split_loss, has_aux=True)
        self._fn = torch.compile(fn, dynamic=False) if compile else fn
        self._order: dict[str, list[str]] = {}

    def __call__(self, params: MetaParams, x: Tensor, q: Tensor, mask: Tensor | None = None,
                 known: Tensor | None = None):
        self._order = {g: list(d) for g, d in params.items()}
        trainable = {g: {n: t for n, t in d.items() if (g, n) not in self.frozen} for g, d in params.items()}
        constants = {g: {n: t for n, t in d.items() if (g, n) in self.frozen} for g, d in params.items()}
        args = (x, q, mask) if known is None else (x, q, mask, known)
        part, (loss, last) = self._fn(trainable, constants, *args)
        grads = {g: {n: part[g][n] if n in part[g] else torch.zeros_like(t) for n, t in d.items()} for g, d in params.items()}
        return grads, loss, last


class TrainStep:
    """``state, metrics = step(state, batch)`` for one model and training configuration.

    ``metrics``: ``loss``, ``grad_norm`` (before clipping), ``applied``, ``spike``, ``lr`` (the
    base rate used), ``clip_scale`` (applied steps: the factor the gradient was scaled by) and
    ``retrieved`` (the final read of the batch, detached)."""

    def __init__(self, model: LearnedModel, cfg: TrainConfig, world: World | None = None, device: torch.device | None = None):
        self.cfg = cfg
        self.world = world or World()
        self.device = device or torch.device("cpu")
        frozen: frozenset[tuple[str, str]] = frozenset()
        if not cfg.grad_frozen:  # parameters with a zero learning-rate multiplier are constants of the step
            mult = param_multipliers(model.init_params(cfg.seed), cfg)
            frozen = frozenset((g, n) for g, d in mult.items() for n, m in d.items() if m == 0)
        self.meta_step = MetaStep(model, cfg.compile, cfg.write_chunks, frozen)
        self.schedule = lr_lambda(cfg)

    def __call__(self, state: TrainState, batch: Batch) -> tuple[TrainState, dict[str, Any]]:
        cfg = self.cfg
        with autocast(cfg.precision, self.device):  # the run's matmul precision is the trainer's to set
            grads, loss, last = self.meta_step(state.params, batch.stored, batch.queries, batch.mask,
                                               batch.known if cfg.clamp_known else None)
        grads = {g: {n: t.float() for n, t in d.items()} for g, d in grads.items()}
        loss = loss.float()
        self.world.mean_([*leaves(grads), loss])
        norm = torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in leaves(grads)]))
        lr = cfg.lr * self.schedule(state.step)
        metrics: dict[str, Any] = {"loss": loss, "grad_norm": norm, "applied": False, "spike": False, "lr": lr,
                                   "retrieved": last.detach()}
        advanced = replace(state, step=state.step + 1)
        if not (bool(torch.isfinite(norm)) and bool(torch.isfinite(loss))):
            return replace(advanced, skipped=state.skipped + 1), metrics
        value = float(norm)
        typical = typical_norm(state, cfg)
        if cfg.spike_factor > 0 and typical is not None and value > cfg.spike_factor * typical:
            in_a_row = state.spikes_in_a_row + 1
            cleared = in_a_row >= cfg.spike_window  # the norms' scale has really changed: start afresh
            metrics["spike"] = True
            return replace(advanced, skipped=state.skipped + 1, spikes=state.spikes + 1,
                           norm_history=() if cleared else state.norm_history,
                           spikes_in_a_row=0 if cleared else in_a_row), metrics
        limits = [cfg.clip_norm] if cfg.clip_norm > 0 else []
        if cfg.clip_relative > 0 and typical is not None:
            limits.append(cfg.clip_relative * typical)
        scale = min([1.0] + [limit / (value + 1e-12) for limit in limits])
        params, exp_avg, exp_avg_sq = self._adamw(state, grads, scale, lr)
        history = (*state.norm_history, value)[-cfg.spike_window:]
        metrics["applied"], metrics["clip_scale"] = True, scale
        return replace(advanced, params=params, exp_avg=exp_avg, exp_avg_sq=exp_avg_sq, updates=state.updates + 1,
                       norm_history=history, spikes_in_a_row=0), metrics

    def _adamw(self, state: TrainState, grads: MetaParams, scale: float, lr: float) -> tuple[MetaParams, MetaParams, MetaParams]:
        """One AdamW update on copies: ``(new params, new first moments, new second moments)``."""
        cfg = self.cfg
        mult = param_multipliers(state.params, cfg)
        new_p, new_m, new_v = {}, {}, {}
        for g, d in state.params.items():
            new_p[g], new_m[g], new_v[g] = {}, {}, {}
            by_rate: dict[float, list[str]] = {}
            for n in d:
                by_rate.setdefault(mult[g][n], []).append(n)
            for rate, names in by_rate.items():  # one functional AdamW call per learning rate
                p = [d[n].detach().clone() for n in names]
                m = [state.exp_avg[g][n].clone() for n in names]
                v = [state.exp_avg_sq[g][n].clone() for n in names]
                steps = [torch.tensor(float(state.updates)) for _ in names]
                gr = [grads[g][n] * scale for n in names]
                adamw(p, gr, m, v, [], steps, amsgrad=False, beta1=BETAS[0], beta2=BETAS[1], lr=lr * rate,
                      weight_decay=cfg.weight_decay, eps=EPS, maximize=False)
                new_p[g].update(zip(names, p))
                new_m[g].update(zip(names, m))
                new_v[g].update(zip(names, v))
            new_p[g], new_m[g], new_v[g] = ({n: x[n] for n in d} for x in (new_p[g], new_m[g], new_v[g]))  # the group's order
        return new_p, new_m, new_v


# --- the checkpoint form of the optimiser state (that of torch.optim.AdamW, so runs saved
# before the pure step existed resume) -------------------------------------------------------

def optimizer_state_dict(state: TrainState, cfg: TrainConfig) -> dict[str, Any]:
    """The moments and update count in ``torch.optim.AdamW.state_dict()``'s layout (leaves order)."""
    mult = group_multipliers(state.params, cfg)
    out: dict[int, dict[str, Tensor]] = {}
    groups, i = [], 0
    for g, d in state.params.items():
        idx = []
        for n in d:
            out[i] = {"step": torch.tensor(float(state.updates)), "exp_avg": state.exp_avg[g][n], "exp_avg_sq": state.exp_avg_sq[g][n]}
            idx.append(i)
            i += 1
        groups.append({"lr": cfg.lr * mult[g], "betas": list(BETAS), "eps": EPS, "weight_decay": cfg.weight_decay,
                       "amsgrad": False, "group": g, "params": idx})
    return {"state": out, "param_groups": groups}


def state_from_checkpoint(params: MetaParams, optim: dict[str, Any] | None, step: int, skipped: int,
                          info: dict[str, Any]) -> TrainState:
    """The :class:`TrainState` of a saved run: ``params``, the optimiser state in AdamW's layout
    (None: fresh moments), the step and skip counts and the guard's history from ``info``.
    ``ValueError`` when the saved moments do not fit ``params`` (an older model's run)."""
    state = init_state(params)
    updates = 0
    if optim is not None:
        flat = [(g, n) for g, d in params.items() for n in d]
        saved = optim.get("state", {})
        if len(saved) != len(flat) or any(saved[i]["exp_avg"].shape != params[g][n].shape for i, (g, n) in enumerate(flat)):
            raise ValueError(f"{len(saved)} saved moment tensors do not fit the {len(flat)} meta-parameters")
        for i, (g, n) in enumerate(flat):
            state.exp_avg[g][n] = saved[i]["exp_avg"].to(params[g][n])
            state.exp_avg_sq[g][n] = saved[i]["exp_avg_sq"].to(params[g][n])
        updates = int(float(saved[0]["step"])) if flat else 0
    return replace(state, step=step, updates=updates, skipped=skipped, spikes=int(info.get("spikes", 0)),
                   norm_history=tuple(float(v) for v in info.get("norm_history", ())))
