"""The meta-learned energy memory as pure functions of an explicit parameter pytree.

``MetaParams`` is a nested dict of tensors — every leaf is meta-learned::

    {"static": {...},            # slow energy weights
     "init":   {...},            # θ̄, the initial writable weights
     "read":   {"step": (), "step_decay": (K-1,), "momentum": (), "momentum_decay": (K-1,)},
     "write":  {"energy": (T, L), "grad_norm": (T, L), "prior": (T-1, L)}}   # the terms that are on

(``prior`` has ``T`` rows when the write is chunked: only the very first step of a batch write
starts at θ̄, where the prior's gradient is zero.)

:class:`EBMM` holds what is *not* learned (the energy network's structure and the
configuration); the functions below take it plus ``MetaParams`` and never mutate either.
"""

from __future__ import annotations

import dataclasses

from dataclasses import dataclass
from functools import cached_property

import torch
from torch import Tensor
from torch.func import functional_call

from ..config import WRITE_TERMS, MemoryConfig, memory_config_from_dict, to_dict
from ..dynamics import EnergyFn, inverse_softplus, logit, non_increasing, read, sum_event, write
from ..energies import EnergyModel, Params, build_energy, memory_size, split_params
from .protocol import MetaParams


@dataclass(frozen=True, eq=False)
class EBMM:
    """An energy network's structure plus the memory configuration: the EBMM
    :class:`~ebmm.models.protocol.LearnedModel`. Its methods delegate to the pure functions below.
    (Called ``Architecture`` before; that name still works for one release, with a
    ``DeprecationWarning``.)"""

    config: MemoryConfig
    energy: EnergyModel
    #: use the energy's closed-form gradients (``grad_x``, ``write_param_grads``) where it has
    #: them; False differentiates the energy with ``torch.func`` (the reference path)
    closed_form: bool = True
    kind = "ebmm"
    #: ``read`` and ``loss`` take ``known=``: intact entries are held fixed inside the read
    clamps_in_read = True

    @classmethod
    def from_config(cls, config: MemoryConfig, closed_form: bool = True) -> EBMM:
        # the structure's own weights are never used (they live in MetaParams), but building the
        # modules draws random numbers: build_energy draws them from a private stream, not the caller's
        energy = build_energy(config.energy.kind, seed=0, dim=config.energy.dim, **config.energy.kwargs)
        return cls(config, energy, closed_form)

    # --- LearnedModel protocol ----------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.config.energy.dim

    @property
    def event_shape(self) -> tuple[int, ...]:
        """One pattern's shape: ``(dim,)`` for vectors, ``(C, H, W)`` for images."""
        return self.energy.event_shape

    @property
    def event_dims(self) -> int:
        return len(self.event_shape)

    @property
    def max_patterns(self) -> int:
        return self.config.max_patterns

    def config_dict(self) -> dict:
        return to_dict(self.config)

    def with_read_options(self, **options) -> EBMM:
        """The same model with some of its energy's read-time arguments changed — those its
        energy lists in ``READ_OPTIONS`` (the image slot energy's ``recheck``, ``outlier_cost``,
        ``candidates``): they change how a read uses the meta-parameters, not which there are, so
        the same parameters serve both. ``ValueError`` for any other argument."""
        allowed = self.energy.READ_OPTIONS
        bad = sorted(set(options) - set(allowed))
        if bad:
            raise ValueError(f"{bad} are not read-time options of the {self.config.energy.kind} energy (those are {list(allowed)})")
        energy = dataclasses.replace(self.config.energy, kwargs={**self.config.energy.kwargs, **options})
        return EBMM.from_config(dataclasses.replace(self.config, energy=energy), self.closed_form)

    @classmethod
    def from_config_dict(cls, d: dict) -> EBMM:
        return cls.from_config(memory_config_from_dict(d))

    def migrate(self, tensors: dict[str, Tensor], version: int) -> dict[str, Tensor]:
        """Checkpoint tensors of an older layout (format ``version`` < the current
        :data:`~ebmm.checkpoint.FORMAT_VERSION`; only such files are migrated, so a current
        file missing a tensor is refused) in today's. From version 1: ``params/write/rates (T, L, 3)``
        (one rate per step, layer and term) becomes one ``(T, L)`` tensor per term that is on,
        the prior's first row dropped for a batch write (its gradient was always zero); a slot
        energy saved before the writing energy existed gets λ = 1 (``log_write_norm = 0``),
        which is what it was written with; an image slot energy saved before its sharpening and
        read-norm terms gets κ = 0 and a read-norm factor 1 (the energy it was trained with)."""
        if self.config.energy.kind == "slots" and "params/static/log_write_norm" not in tensors:
            tensors = {**tensors, "params/static/log_write_norm": torch.tensor(0.0)}
        if self.config.energy.kind == "image_slots":  # saved before the sharpening and read-norm terms: κ = 0, λ_read = 1
            tensors = {"params/static/sharpen": torch.tensor(0.0), "params/static/log_read_norm": torch.tensor(0.0), **tensors}
        legacy = tensors.get("params/write/rates")
        if legacy is None or legacy.dim() != 3:
            return tensors
        out = {k: v for k, v in tensors.items() if k != "params/write/rates"}
        wc = self.config.write
        for i, term in enumerate(WRITE_TERMS):
            if term in wc.terms:
                rows = legacy[1:, :, i] if term == "prior" and wc.chunk == 0 else legacy[:, :, i]
                out[f"params/write/{term}"] = rows.contiguous()
        return out

    def init_params(self, seed: int = 0) -> MetaParams:
        return init_params(self, seed=seed)

    def init_from_data(self, params: MetaParams, patterns: Tensor) -> MetaParams:
        """Fresh meta-parameters whose slow weights start from training data ``patterns (n, *event)``
        where the energy defines such a start (:meth:`ebmm.energies.ImageSlotEnergy.data_init`);
        otherwise ``params`` unchanged."""
        static = self.energy.data_init(params["static"], patterns)
        return params if static is None else {**params, "static": static}

    def loss(
        self, params: MetaParams, patterns: Tensor, queries: Tensor, mask: Tensor | None = None,
        known: Tensor | None = None, chunks: int = 1,
    ) -> tuple[Tensor, Tensor]:
        return meta_loss(self, params, patterns, queries, self.config.read.train_leak, mask, known, chunks)

    def write(self, params: MetaParams, patterns: Tensor) -> Params:
        return write_batch(self, params, patterns)

    def write_more(self, params: MetaParams, state: Params, patterns: Tensor) -> Params:
        """Add ``patterns (B, N, *event)`` to written weights ``state`` (leading axis B)."""
        return write_more(self, params, state, patterns)

    def empty_state(self, params: MetaParams, batch_size: int) -> Params:
        """``batch_size`` memories holding nothing: the meta-learned initial writable weights θ̄."""
        return {k: v.expand(batch_size, *v.shape) for k, v in params["init"].items()}

    def read(
        self, params: MetaParams, state: Params, queries: Tensor, trajectory: bool, known: Tensor | None = None
    ) -> Tensor:
        b, descents = queries.shape[0], self.energy.read_descents
        size = max(1, READ_CHUNK_FLOATS // (queries[0].numel() * descents)) if descents > 1 and queries.device.type == "cpu" else b
        if known is not None:
            known = known.expand(queries.shape)
        iterates = torch.cat([  # (B, K, M, *event), a few episodes at a time on a CPU
            read_batch(self, params, {k: v[i:i + size] for k, v in state.items()}, queries[i:i + size],
                       known=None if known is None else known[i:i + size])
            for i in range(0, b, size)
        ])
        return torch.cat([queries.unsqueeze(1), iterates], dim=1) if trajectory else iterates[:, -1]

    def memory_size(self) -> int:
        return memory_size(self.energy)

    # --- helpers ------------------------------------------------------------------------------

    @cached_property
    def layers(self) -> list[list[str]]:
        return self.energy.writable_layers()

    def _closed(self, terms: tuple[str, ...] = ()) -> bool:
        """Whether the closed forms serve: asked for, and the energy has them (for ``terms``)."""
        have = self.energy.closed_form_terms
        return self.closed_form and bool(have) and all(t in have for t in terms)

    def param_grad_fn(self, static: Params):
        """Closed forms of the writing loss's data-term gradients, or None (then ``torch.func``)."""
        data_terms = tuple(t for t in self.config.write.terms if t != "prior")
        if not self._closed(data_terms):
            return None
        f = self.energy.write_param_grads
        return lambda theta, x, w, e, g: f(static, theta, x, w, e, g)

    def grad_x_fn(self, static: Params, trust: Tensor | None = None):
        """The closed form of ``∇ₓE``, or None (then ``torch.func``); ``trust`` the read's pixel
        trust for energies that condition on the query (:meth:`ImageSlotEnergy.read_start`)."""
        if not self._closed():
            return None
        f = self.energy.grad_x
        if trust is not None:
            return lambda theta, x: f(static, theta, x, trust)
        return lambda theta, x: f(static, theta, x)

    def energy_fn(self, static: Params, trust: Tensor | None = None) -> EnergyFn:
        """``(theta, x) -> E(x; static, theta)`` (given the read's pixel ``trust``, if any)."""
        energy = self.energy
        kwargs = {} if trust is None else {"trust": trust}

        def fn(theta: Params, x: Tensor) -> Tensor:
            return functional_call(energy, (static, theta), (x,), kwargs)

        return fn

    def write_energy_fn(self, static: Params) -> EnergyFn:
        """``(theta, x) -> E_w(x; static, theta)``: the energy term of the writing loss — the
        energy itself, unless the energy defines a writing energy of its own
        (:class:`~ebmm.energies.SlotEnergy`'s slot-norm factor λ)."""
        if not self.energy.has_write_energy:
            return self.energy_fn(static)
        energy = self.energy

        def fn(theta: Params, x: Tensor) -> Tensor:
            return functional_call(energy, (static, theta), (x,), {"write": True})

        return fn


def init_params(arch: EBMM, *, seed: int = 0) -> MetaParams:
    """Fresh meta-parameters: the energy's own initialisation (seeded, without touching the
    caller's global random state) and the configured initial step sizes, momenta and write
    rates."""
    fresh = build_energy(arch.config.energy.kind, seed=seed, dim=arch.dim, **arch.config.energy.kwargs)
    static, writable = split_params(fresh)
    rc, wc = arch.config.read, arch.config.write
    k = rc.steps
    n_layers, rate = len(arch.layers), inverse_softplus(wc.rate_init)
    rows = {t: wc.steps - (1 if t == "prior" and wc.chunk == 0 else 0) for t in wc.terms}
    return {
        "static": static,
        "init": writable,
        "read": {
            "step": torch.tensor(inverse_softplus(rc.step_init)),
            "step_decay": torch.full((k - 1,), rc.decay_logit_init),
            "momentum": torch.tensor(logit(rc.momentum_init)),
            "momentum_decay": torch.full((k - 1,), rc.decay_logit_init),
        },
        "write": {t: torch.full((rows[t], n_layers), rate) for t in WRITE_TERMS if t in wc.terms},
    }


#: a read of several descents per query (``EnergyModel.read_descents`` > 1) on a CPU takes at most
#: this many floats of iterate at a time (episodes in chunks): its element-wise steps then stay in
#: cache (the compressive memory's candidate read, 16 sets at N = 200: 1.6–1.8× faster, the same outputs)
READ_CHUNK_FLOATS = 1 << 18


def read_schedule(params: MetaParams) -> tuple[Tensor, Tensor]:
    """Step sizes ``γ (K,)`` and momenta ``ψ (K,)``, both non-increasing."""
    r = params["read"]
    gammas = non_increasing(torch.nn.functional.softplus(r["step"]), r["step_decay"])
    momenta = non_increasing(torch.sigmoid(r["momentum"]), r["momentum_decay"])
    return gammas, momenta


def write_rates(params: MetaParams) -> dict[str, Tensor]:
    """Non-negative write rates per term that is on, ``(T, L)`` (the prior's ``(T − 1, L)`` for a
    batch write)."""
    return {term: torch.nn.functional.softplus(r) for term, r in params["write"].items()}


def write_episode(arch: EBMM, params: MetaParams, patterns: Tensor, mask: Tensor | None = None) -> Params:
    """Store one episode ``patterns (N, *event)``; returns writable weights θ. With
    ``patterns (B, N, *event)`` and θ̄ given a leading axis B, ``mask (B, N)`` marks the stored
    patterns of episodes padded to one N."""
    static, wc = params["static"], arch.config.write
    own = arch.energy.direct_write(static, params["init"], patterns, write_rates(params), mask)
    if own is not None:
        return own
    return write(
        arch.write_energy_fn(static), params["init"], patterns, write_rates(params), arch.layers, mask,
        wc.reduction, arch.event_dims, wc.chunk, arch.param_grad_fn(static),
    )


def write_more(
    arch: EBMM, params: MetaParams, theta: Params, patterns: Tensor, mask: Tensor | None = None
) -> Params:
    """Continue writing: the same T write steps on the writing loss of the new ``patterns (B, N,
    *event)``, starting from the written weights ``theta`` (leading axis B) instead of θ̄. The
    prior term, if on, then pulls towards ``theta`` — what the memory held before these
    patterns — rather than towards θ̄, so that adding patterns does not undo the earlier
    writes. With the slot energy's sequential write (``chunk = 1``, no prior term), writing N₁
    patterns and then N₂ more gives exactly the weights of writing all N₁ + N₂ at once.
    ``mask (B, N)`` marks the patterns really added (as in :func:`write_batch`)."""
    return write_episode(arch, {**params, "init": theta}, patterns, mask)


def read_episode(
    arch: EBMM, params: MetaParams, theta: Params, queries: Tensor, leak: float = 0.0,
    known: Tensor | None = None,
) -> Tensor:
    """Retrieve ``queries (M, *event)`` from θ; returns the iterates ``(K, M, *event)``.
    ``known`` (bool, like ``queries``): entries held at the query's values (clamped completion).
    An energy with a ``condition_read`` (:meth:`ebmm.energies.ImageSlotEnergy.condition_read`)
    may condition the read on the query: its pixel trust enters the energy, the read starts from
    its start point, also holds the entries it trusts, and may step along a direction of its own,
    or descend several times per query and choose among the descents (``ConditionedRead.choose``)."""
    gammas, momenta = read_schedule(params)
    static = params["static"]
    cond = arch.energy.condition_read(static, theta, queries, known)
    if cond is None:
        return read(arch.energy_fn(static), theta, queries, gammas, momenta, leak, arch.grad_x_fn(static), known)
    # the energy trusts some of the query's entries (ImageSlotEnergy): it holds them, starts elsewhere,
    # and may step along a direction of its own (a Newton direction) instead of ∇ₓE
    known = cond.held if known is None or cond.choose is not None else known | cond.held
    grad = cond.direction or arch.grad_x_fn(static, cond.trust)
    iterates = read(arch.energy_fn(static, cond.trust), theta, cond.start, gammas, momenta, leak, grad, known)
    # several descents per query (CompressiveSlotEnergy's candidates): the energy chooses among them
    return iterates if cond.choose is None else cond.choose(iterates)


def write_batch(arch: EBMM, params: MetaParams, patterns: Tensor, mask: Tensor | None = None) -> Params:
    """``patterns (B, N, *event)`` -> θ with a leading episode axis B; ``mask (B, N)`` marks the
    stored patterns of episodes padded to one N.

    The energies' writable layers accept per-episode weights, so a batch is written in one
    pass (measured ~3× faster than ``vmap`` over episodes in eager mode)."""
    b = patterns.shape[0]
    init = {k: v.expand(b, *v.shape) for k, v in params["init"].items()}
    return write_episode(arch, {**params, "init": init}, patterns, mask)


def read_batch(
    arch: EBMM, params: MetaParams, theta: Params, queries: Tensor, leak: float = 0.0,
    known: Tensor | None = None,
) -> Tensor:
    """``queries (B, M, *event)`` with batched θ -> iterates ``(B, K, M, *event)``; ``known``
    (bool, like ``queries``) as in :func:`read_episode`."""
    return read_episode(arch, params, theta, queries, leak, known).transpose(0, 1)


def meta_loss(
    arch: EBMM,
    params: MetaParams,
    patterns: Tensor,
    queries: Tensor,
    leak: float = 0.0,
    mask: Tensor | None = None,
    known: Tensor | None = None,
    chunks: int = 1,
) -> tuple[Tensor, Tensor]:
    """The meta-training objective: squared reconstruction error summed over all K read
    iterates (and over each pattern's entries), averaged over each episode's stored patterns,
    then over episodes — so that an episode of 16 patterns weighs as much as one of 96 (averaged
    over patterns instead, large episodes dominate and a memory trained over N in [16, 96]
    learns to trade its small-N error away: measured 0.16 → 2.7 error bits at N = 16 in 500
    steps while N = 96 went 0.16 → 0.07). Plus the energy's auxiliary term, if it has one
    (:meth:`~ebmm.energies.EnergyModel.read_auxiliary_loss`: the image slot energy's trust
    detector, whose choice of pixels the reconstruction's gradient cannot train).

    **Arguments:** ``patterns (B, N, *event)`` stored; ``queries (B, N, *event)`` their
    distortions; ``mask (B, N)`` which patterns are stored and scored (None: all); ``known
    (B, N, *event)`` bool, the intact entries a clamped read holds fixed (None: no clamping);
    ``chunks`` writes each episode in that many consecutive parts (:func:`write_more` after the
    first), as a memory used incrementally would be.
    **Returns:** ``(loss, final_iterate (B, N, *event))``.
    """
    bounds = torch.linspace(0, patterns.shape[1], chunks + 1).round().long().tolist()
    theta = None
    for a, b in zip(bounds[:-1], bounds[1:]):
        part, part_mask = patterns[:, a:b], None if mask is None else mask[:, a:b]
        theta = write_batch(arch, params, part, part_mask) if theta is None else write_more(arch, params, theta, part, part_mask)
    iterates = read_batch(arch, params, theta, queries, leak, known)  # (B, K, N, *event)
    sq = sum_event((iterates - patterns.unsqueeze(1)).pow(2), arch.event_dims)  # (B, K, N)
    if mask is not None:
        per_episode = (sq * mask.unsqueeze(1)).sum(2) / mask.sum(1, keepdim=True).clamp_min(1.0)  # (B, K)
        loss = per_episode.mean(0).sum()
    else:
        loss = sq.mean(dim=(0, 2)).sum()
    # a term for what the reconstruction's gradient cannot train (the image slot energy's trust detector)
    aux = arch.energy.read_auxiliary_loss(params["static"], theta, patterns, queries, mask)
    return (loss if aux is None else loss + aux), iterates[:, -1].detach()


def __getattr__(name: str):
    """``Architecture``, the old name of :class:`EBMM`, for one release (a ``DeprecationWarning``)."""
    if name == "Architecture":
        import warnings

        warnings.warn("ebmm.models.ebmm.Architecture is now ebmm.models.EBMM; the old name goes in the next release",
                      DeprecationWarning, stacklevel=2)
        return EBMM
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
