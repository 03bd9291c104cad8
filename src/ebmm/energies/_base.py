"""Energy models: the base class, the writable/static split and the one memory-size count.

An energy model maps a pattern ``x`` of shape ``(..., *event_shape)`` — ``(..., d)`` for
vectors, ``(..., C, H, W)`` for images — to a scalar energy per pattern ``(...)``. Its *writable* (fast) weights are the parameters of every submodule named
``memory`` — the convention of the paper's pseudocode. Everything else is *static*
(slow, meta-learned only).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn

WRITABLE_MODULE_NAME = "memory"

Params = dict[str, Tensor]


@dataclass
class ConditionedRead:
    """A read conditioned on its queries (:meth:`EnergyModel.condition_read`): ``start`` where it
    starts (like the queries), ``held`` the entries it keeps (bool, like the queries), ``trust
    (..., M, D)`` the per-entry trust that ``forward`` then takes as ``trust=``, and
    ``direction(theta, x)`` the step direction when it is not ``∇ₓE`` (None: ∇ₓE).

    ``choose`` (None: one descent per query) makes it a read of several descents per query: then
    ``start``, ``held`` and ``trust`` hold R rows per query (``(..., M·R, *event)``; ``held``
    already includes the clamped protocol's ``known``), and ``choose`` maps the descents'
    iterates ``(K, ..., M·R, *event)`` to the read's ``(K, ..., M, *event)``
    (:class:`~ebmm.energies.CompressiveSlotEnergy`'s ``candidates``: the descent of lowest energy)."""

    start: Tensor
    held: Tensor
    trust: Tensor
    direction: Callable[[Params, Tensor], Tensor] | None
    choose: Callable[[Tensor], Tensor] | None = None


class EnergyModel(nn.Module):
    """Base class of all energy networks.

    Subclasses set ``self.dim`` (floats per pattern) and implement
    ``forward(x: (..., *event_shape)) -> (...)``; image energies also override ``event_shape``.
    Parameters of submodules named ``memory`` are writable. That is all an energy must do:
    ``torch.func`` differentiates ``forward`` for the write and the read. Everything else below is
    an optional hook with a default that does nothing — override one when your energy has what it
    describes (the library's energies show each in use):

    * ``closed_form_terms``, :meth:`grad_x`, :meth:`write_param_grads` — gradients in closed form
      (faster than ``torch.func``; :class:`~ebmm.energies.SlotEnergy`, :class:`~ebmm.energies.LogCoshEnergy`);
    * ``has_write_energy`` — ``forward(x, write=True)`` is a writing energy of its own (SlotEnergy's λ);
    * :meth:`direct_write` — a write of its own (CompressiveSlotEnergy's one-step, position-addressed write);
    * ``stored_floats`` — the floats a written state holds when not every writable entry is one
      (CompressiveSlotEnergy's table holds at most its budget);
    * :meth:`data_init` — slow weights that start from training data (ImageSlotEnergy's PCA);
    * :meth:`condition_read` — a read that depends on the query beyond its start (ImageSlotEnergy);
    * :meth:`read_auxiliary_loss` — a meta-training term for parts of a read the reconstruction's
      gradient cannot train;
    * ``READ_OPTIONS`` — constructor arguments that only change how a read uses the weights, so
      one trained memory may be read with other values (``ebmm export --read``).
    """

    dim: int

    #: the writing-loss terms (``"energy"``, ``"grad_norm"``) whose gradients :meth:`write_param_grads`
    #: gives in closed form; non-empty also means :meth:`grad_x` is implemented. Empty: ``torch.func``.
    closed_form_terms: tuple[str, ...] = ()
    #: True when ``forward(x, write=True)`` is the energy term of the writing loss (default: E itself)
    has_write_energy: bool = False
    #: constructor arguments that are read-time options (:meth:`ebmm.models.ebmm.EBMM.with_read_options`)
    READ_OPTIONS: tuple[str, ...] = ()
    #: the floats a written state holds, when that is not the count of writable entries (None: it is)
    stored_floats: int | None = None
    #: descents a read runs per query (several with :attr:`ConditionedRead.choose`); sizes a CPU read's chunks
    read_descents: int = 1

    @property
    def event_shape(self) -> tuple[int, ...]:
        """The shape of one pattern: ``(dim,)`` for vectors; image energies give ``(C, H, W)``.

        Sums over a pattern (the gradient norm of the writing loss, the reconstruction error)
        run over these trailing axes."""
        return (self.dim,)

    def forward(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def grad_x(static: Params, theta: Params, x: Tensor, *args) -> Tensor:
        """``∇ₓE (..., M, *event)`` in closed form, a pure function of the static weights, the
        writable ``theta`` and ``x``; implement it with ``closed_form_terms`` (the library checks
        closed forms against ``torch.func`` in its tests; do the same for yours)."""
        raise NotImplementedError("this energy declares no closed-form gradient (closed_form_terms is empty)")

    @staticmethod
    def write_param_grads(static: Params, theta: Params, x: Tensor, weights: Tensor | None = None,
                          energy: bool = True, grad_norm: bool = False) -> tuple[Params | None, Params | None]:
        """The gradients of ``Σ_i w_i E(x_i)`` (``energy``) and of ``Σ_i w_i ‖∇ₓE(x_i)‖²``
        (``grad_norm``) with respect to the writable weights, for the terms in ``closed_form_terms``
        (None for a term not asked for); ``x (..., N, *event)``, ``weights (..., N)``."""
        raise NotImplementedError("this energy declares no closed-form write gradient (closed_form_terms is empty)")

    def direct_write(self, static: Params, theta: Params, patterns: Tensor, rates: dict[str, Tensor],
                     mask: Tensor | None = None) -> Params | None:
        """A write of the energy's own (None, the default: the library's T gradient steps on the
        writing loss, :func:`ebmm.dynamics.write`): the new writable weights after storing
        ``patterns (..., N, *event)`` (those of ``mask (..., N)``) into ``theta``, with the write
        ``rates`` per term ``(T, L)``. :class:`~ebmm.energies.CompressiveSlotEnergy` writes each
        pattern into a slot of its own by one step, all in one matrix product."""
        return None

    def data_init(self, static: Params, patterns: Tensor) -> Params | None:
        """Slow weights that start from training ``patterns (n, *event)`` (the trainer calls it
        once, before the first step), or None: the random start stays."""
        return None

    def condition_read(self, static: Params, theta: Params, queries: Tensor,
                       known: Tensor | None = None) -> ConditionedRead | None:
        """How a read of ``queries (..., M, *event)`` from the written ``theta`` depends on the
        query beyond starting there, or None (the default: gradient descent on ``forward`` from
        the query, holding ``known`` entries if given). ``known`` (bool, like the queries): the
        entries the clamped protocol says are intact."""
        return None

    def read_auxiliary_loss(self, static: Params, theta: Params, patterns: Tensor, queries: Tensor,
                            mask: Tensor | None = None) -> Tensor | None:
        """A term the meta-training loss adds to the reconstruction error (None: nothing), for
        parts of a read that the reconstruction's gradient cannot train — e.g. a discrete choice
        of which query pixels to trust (:meth:`ebmm.energies.ImageSlotEnergy.read_auxiliary_loss`).
        ``static`` and the written ``theta`` as the read gets them; ``patterns`` and their
        ``queries (B, N, *event)``; ``mask (B, N)`` the stored patterns of padded episodes.
        Override it when a read has such a part; it may use the stored patterns, which
        meta-training knows and the read never sees."""
        return None

    def writable_names(self) -> list[str]:
        """Names (as in ``named_parameters``) of the writable parameters, in a fixed order."""
        return [n for n, _ in self.named_parameters() if is_writable(n)]

    def writable_layers(self) -> list[list[str]]:
        """Writable parameter names grouped by the layer (module) that owns them.

        The write rule learns one rate per layer and per loss term.
        """
        groups: dict[str, list[str]] = {}
        for name in self.writable_names():
            groups.setdefault(name.rsplit(".", 1)[0], []).append(name)
        return list(groups.values())


def is_writable(param_name: str) -> bool:
    """True when a parameter belongs to a module named ``memory``."""
    return WRITABLE_MODULE_NAME in param_name.split(".")[:-1]


def split_params(model: nn.Module) -> tuple[Params, Params]:
    """Split a model's parameters into ``(static, writable)`` dicts of detached copies."""
    static, writable = {}, {}
    for name, p in model.named_parameters():
        (writable if is_writable(name) else static)[name] = p.detach().clone()
    if not writable:
        raise ValueError(
            f"{type(model).__name__} has no writable weights: put them in a submodule named "
            f"'{WRITABLE_MODULE_NAME}'"
        )
    return static, writable


def memory_size(memory: nn.Module | Mapping[str, Tensor]) -> int:
    """Memory size in float32 numbers — the one count every model is compared by.

    For an energy model: the number of writable weights. For a memory state (a mapping of
    tensors, e.g. a Hopfield network's packed upper triangle and biases): the number of
    floats it holds. Objects exposing ``memory_tensors()`` are counted through it.
    """
    if hasattr(memory, "memory_tensors"):
        memory = memory.memory_tensors()  # type: ignore[union-attr]
    if isinstance(memory, EnergyModel):
        if memory.stored_floats is not None:
            return int(memory.stored_floats)
        return sum(p.numel() for n, p in memory.named_parameters() if is_writable(n))
    if isinstance(memory, nn.Module):
        raise TypeError(f"{type(memory).__name__} is not an EnergyModel; cannot count its memory")
    return int(sum(t.numel() for t in memory.values()))


class WritableLinear(nn.Linear):
    """``nn.Linear`` whose weights may carry leading episode axes.

    With ``weight (..., out, in)`` and ``bias (..., out)`` (as after writing a batch of
    episodes), ``x (..., n, in) -> (..., n, out)``: every episode reads its own weights, no
    ``vmap`` needed. With ordinary 2-D weights it is exactly ``nn.Linear``.
    """

    def forward(self, x: Tensor) -> Tensor:
        if self.weight.dim() == 2:
            return super().forward(x)
        out = x @ self.weight.transpose(-1, -2)
        return out + self.bias.unsqueeze(-2) if self.bias is not None else out


def logcosh(h: Tensor) -> Tensor:
    """Numerically stable ``log(cosh(h))``."""
    h = h.abs()
    return h + torch.nn.functional.softplus(-2.0 * h) - 0.6931471805599453
