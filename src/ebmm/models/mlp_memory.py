"""A gradient-written MLP memory in the Titans / TTT line, meta-trained on the binary task.

The memory is a small MLP ``M_W(k) = W_2 gelu(W_1 k + b_1) + b_2`` whose weights ``W`` are
written by gradient steps on the associative loss of each pattern (Titans, Behrouz et al.
2024; TTT, Sun et al. 2024, with this reconstruction loss)::

    ℓ(W; x_t) = ‖M_W(k_t) − v_t‖²

with the key ``k_t`` and value ``v_t`` of ``x_t`` from the shared encoder
(:mod:`ebmm.models._fast_weights`). The steps carry momentum and a weight decay that is the
forgetting gate (Titans)::

    S_t = η_t S_{t−1} − θ_t ∇_W ℓ(W_{t'}; x_t)          momentum ("surprise")
    W_t = W_0 + D_t,   D_t = (1 − α_t) D_{t−1} + S_t    decayed update

with data-dependent rates from learned projections of ``s_t = 2x_t − 1``: step
``θ_t = softplus(w_θ·s_t + b_θ)``, momentum ``η_t = σ(w_η·s_t + b_η)`` and forgetting
``α_t = σ(w_α·s_t + b_α)``. ``W_0``, the initial MLP, is meta-learned.

**Chunked per-sample gradients.** As in Titans' parallel training and TTT's mini-batch
form, the N patterns are taken ``chunk`` at a time: every gradient in a chunk is taken at the
weights ``W_{t'}`` the chunk starts from, so the ``chunk`` per-sample gradients are computed at
once (``torch.func.vmap`` of ``torch.func.grad``, itself vmapped over the episodes, each with
its own weights); the momentum and decay then run over the chunk's patterns in order. With
``chunk = 1`` every gradient is taken at the current weights (Titans' sequential rule). The
write is built from ``torch.func`` transforms and tensor algebra, so the meta-gradient
differentiates through it (through the gradient, i.e. to second order).

**Options beyond Titans' rule** (all off by default): ``passes`` P sweeps the chunked rule over
the patterns P times (TTT's inner epochs; P = 2 equals writing the patterns, then writing them
again with ``write_more``); ``normalized`` takes Polyak's step for each pattern,
``θ_t ℓ_t / ‖∇ℓ_t‖²`` (θ_t = 1 brings the linearised loss of x_t to zero: for a linear memory
with unit keys, the delta rule's step), so that the rate no longer depends on the scale of the
gradient; ``residual`` adds a linear path, ``M_W(k) = W_r k + W_2 gelu(W_1 k + b_1) + b_2``
(TTT-MLP's residual connection; ``v·k`` more weights in the budget).

Reading a query iterates the retrieval ``M_W(k(x))`` to a fixed point through the shared
decoder: ``x_0 = q``, ``x_{t+1} = σ(decoder([M_W(k(x_t)), 2q − 1]))``, ``read_steps`` times.
With ``decoder="box"`` the retrieved value is decoded by box-constrained least squares on the
value encoder instead (:func:`~ebmm.models._fast_weights.fixed_point_read`). Why the shipped
memory (``mlp_memory-binary-erase``) is the weakest learned one — an exactly fitted MLP of this
budget recalls 18.8 error bits at N = 32 — is measured by ``benchmarks/mlp_memory_ceiling.py``
(docs/fast-weights.md).

**Budget: the momentum is state.** What a memory needs to go on writing is counted, so the
state is the update ``D`` and the momentum ``S``, two vectors of ``P`` floats (the empty
memory: both zero, i.e. ``W = W_0``). ``P = h(k + 1) + v(h + 1)`` for key width ``k``, hidden
width ``h`` and value width ``v``; the defaults ``k = 32, h = 56, v = 40`` give
``P = 56·33 + 40·57 = 1848 + 2280 = 4128`` and a state of ``2P = 8256 = 128·127/2 + 128``
floats, the binary budget. (Without momentum the MLP could be twice as large.)

**Streaming.** ``write(more, state=(D, S))`` continues the rule. The chunks of each call start
at its first pattern, so the result equals writing every pattern in one call exactly when the
earlier calls wrote a multiple of ``chunk`` patterns (always with ``chunk = 1``); otherwise the
gradients of the straddling chunk are taken at other weights — the same rule, other chunks.

Departures from Titans and TTT, all small:
    - the forgetting gate decays the update ``D = W − W_0`` towards the learned initial MLP
      ``W_0`` rather than the weights towards 0 (Titans' ``(1 − α_t) M_{t−1}``), so that an
      empty memory is all zeros and forgetting returns to the meta-learned prior;
    - one memory (no persistent memory tokens, no attention branch, no convolutions); keys and
      values are linear projections of the pattern, the keys L2-normalised as in Titans;
    - the MLP has two layers and no residual connection or layer norm (TTT-MLP has both).

References:
    A. Behrouz, P. Zhong, V. Mirrokni, "Titans: learning to memorize at test time",
    arXiv:2501.00663 (2024).
    Y. Sun, X. Li, K. Dalal, J. Xu, A. Vikram, G. Zhang, Y. Dubois, X. Chen, X. Wang,
    S. Koyejo, T. Hashimoto, C. Guestrin, "Learning to (learn at test time): RNNs with
    expressive hidden states", arXiv:2407.04620 (2024).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from ..dynamics import inverse_softplus, logit
from .protocol import MetaParams
from ._common import LearnedBaseline, blend, dense
from ._fast_weights import check_decoder, check_mask, fixed_point_read, init_decoder, init_encoder, keys_of, values_of


#: keeps Polyak's step finite where a pattern's gradient vanishes
NORMALIZED_EPS = 1e-6


def mlp_size(key_dim: int, hidden: int, value_dim: int, residual: bool = False) -> int:
    """Weights of the MLP ``key_dim → hidden → value_dim`` with biases, ``h(k + 1) + v(h + 1)``,
    plus ``v·k`` for a linear residual path."""
    return hidden * (key_dim + 1) + value_dim * (hidden + 1) + (value_dim * key_dim if residual else 0)


def mlp(weights: Tensor, keys: Tensor, key_dim: int, hidden: int, value_dim: int, residual: bool = False) -> Tensor:
    """``M_W(k) = W_2 gelu(W_1 k + b_1) + b_2`` (``+ W_r k`` with ``residual``): flat ``weights
    (*B, P)`` and ``keys (*B, M, k)`` -> ``(*B, M, v)``. The flat layout is ``[W_1 (h, k), b_1
    (h), W_2 (v, h), b_2 (v)]``, then ``W_r (v, k)``."""
    sizes = [hidden * key_dim, hidden, value_dim * hidden, value_dim] + ([value_dim * key_dim] if residual else [])
    w1, b1, w2, b2, *wr = torch.split(weights, sizes, dim=-1)
    w1 = w1.unflatten(-1, (hidden, key_dim))
    w2 = w2.unflatten(-1, (value_dim, hidden))
    h = F.gelu(keys @ w1.transpose(-1, -2) + b1.unsqueeze(-2))
    out = h @ w2.transpose(-1, -2) + b2.unsqueeze(-2)
    return out + keys @ wr[0].unflatten(-1, (value_dim, key_dim)).transpose(-1, -2) if residual else out


@dataclass(frozen=True)
class MLPMemory(LearnedBaseline):
    """An MLP written by gradient steps with momentum and decay: the ``"mlp_memory"``
    :class:`~ebmm.models.protocol.LearnedModel`.

    **Fields:** ``dim`` pattern dimension d; ``max_patterns`` N it is trained for; ``key_dim``
    k, ``memory_hidden`` h and ``value_dim`` v of the memory MLP (state ``2·(h(k + 1) +
    v(h + 1))`` floats: 8256 at the defaults); ``hidden`` the decoder's hidden units;
    ``read_steps`` fixed-point iterations per read; ``chunk`` patterns whose gradients are
    taken at the same weights; ``passes`` sweeps over the patterns; ``normalized`` Polyak's step;
    ``residual`` the linear path (module docstring); ``step_init``, ``momentum_init``, ``decay_init`` the initial
    θ, η and α; ``decoder`` ``"learned"`` (Memory Networks' decoder) or ``"box"`` (the box read of
    :mod:`ebmm.models._fast_weights`, ``decode_steps`` FISTA steps per iterate).

    ``MetaParams`` (``P`` the MLP's weights)::

        {"encoder":        {"key_weight": (k, d), "key_bias": (k,), "value_weight": (v, d), "value_bias": (v,)},
         "initial_memory": {"weights": (P,)},                                   # W_0
         "write":          {"step_weight": (d,), "step_bias": (), "momentum_weight": (d,),
                            "momentum_bias": (), "decay_weight": (d,), "decay_bias": ()},
         "decoder":        {"hidden_weight": (hd, v + d), "hidden_bias": (hd,),
                            "out_weight": (d, hd), "out_bias": (d,), "skip_weight": (d, v + d)}}
    """

    kind: ClassVar[str] = "mlp_memory"
    dim: int = 128
    max_patterns: int = 96
    key_dim: int = 32  # k
    memory_hidden: int = 56  # h
    value_dim: int = 40  # v: 2·(56·33 + 40·57) = 8256, the binary budget
    hidden: int = 256  # the decoder's
    read_steps: int = 3
    chunk: int = 8
    passes: int = 1
    normalized: bool = False
    residual: bool = False
    step_init: float = 0.01
    momentum_init: float = 0.5
    decay_init: float = 0.01
    decoder: str = "learned"
    decode_steps: int = 30

    def __post_init__(self):
        check_decoder("MLPMemory", self.decoder)
        self._check_positive_ints("dim", "max_patterns", "key_dim", "memory_hidden", "value_dim", "hidden", "read_steps",
                                  "chunk", "passes", "decode_steps")
        for name in ("normalized", "residual"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"MLPMemory.{name} must be True or False, got {getattr(self, name)!r}")
        if not self.step_init > 0:
            raise ValueError(f"MLPMemory.step_init must be positive, got {self.step_init!r}")
        for name in ("momentum_init", "decay_init"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"MLPMemory.{name} must lie in (0, 1), got {getattr(self, name)!r}")

    @property
    def mlp_size(self) -> int:
        """P, the memory MLP's weights: ``h(k + 1) + v(h + 1)``."""
        return mlp_size(self.key_dim, self.memory_hidden, self.value_dim, self.residual)

    # --- LearnedModel protocol (config, loss, memory_size: LearnedBaseline's) -----------------
    def init_params(self, seed: int = 0) -> MetaParams:
        """Seeded: orthonormal key and value projections; ``W_0`` with ``W_1 ~ N(0, 1)`` (unit
        keys give unit-variance pre-activations), Glorot ``W_2``, zero biases; the rates at
        ``step_init``, ``momentum_init`` and ``decay_init`` for every pattern; Memory Networks'
        decoder."""
        gen = torch.Generator().manual_seed(seed)
        k, h, v, d = self.key_dim, self.memory_hidden, self.value_dim, self.dim
        enc = init_encoder(gen, d, k, v)
        w0 = torch.cat([torch.randn(h * k, generator=gen), torch.zeros(h), dense(gen, v, h).flatten(), torch.zeros(v)]
                       + ([torch.zeros(v * k)] if self.residual else []))  # the residual path starts empty
        write = {
            "step_weight": torch.zeros(d), "step_bias": torch.tensor(inverse_softplus(self.step_init)),
            "momentum_weight": torch.zeros(d), "momentum_bias": torch.tensor(logit(self.momentum_init)),
            "decay_weight": torch.zeros(d), "decay_bias": torch.tensor(logit(self.decay_init)),
        }
        return {"encoder": enc, "initial_memory": {"weights": w0}, "write": write,
                "decoder": init_decoder(gen, d, v, self.hidden, enc["value_weight"], self.decoder)}

    def write(self, params: MetaParams, patterns: Tensor, mask: Tensor | None = None,
              state: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """``patterns (B, N, d)`` -> ``{"update": (B, P), "momentum": (B, P)}`` (the weights are
        ``W_0 + update``); a pattern left out by ``mask (B, N)`` (0/1, None: none) changes
        nothing. From ``state`` (None: the empty memory, both zero) the writes continue."""
        b, n, _ = patterns.shape
        keep = check_mask(mask, patterns)
        enc, w = params["encoder"], params["write"]
        keys, values = keys_of(enc, patterns), values_of(enc, patterns)
        s = 2 * patterns - 1
        step = F.softplus(s @ w["step_weight"] + w["step_bias"])  # θ_t (B, N)
        momentum = torch.sigmoid(s @ w["momentum_weight"] + w["momentum_bias"])  # η_t
        forget = torch.sigmoid(s @ w["decay_weight"] + w["decay_bias"])  # α_t
        w0 = params["initial_memory"]["weights"]
        if state is None:
            update = patterns.new_zeros(b, self.mlp_size)
            surprise = patterns.new_zeros(b, self.mlp_size)
        else:
            update, surprise = state["update"], state["momentum"]
        grads = self._per_sample_grads()
        for start in [s for _ in range(self.passes) for s in range(0, n, self.chunk)]:
            stop = min(start + self.chunk, n)
            g, loss = grads(w0 + update, keys[:, start:stop], values[:, start:stop])  # (B, c, P), (B, c) at W_{t'}
            rate = step[:, start:stop]
            if self.normalized:  # Polyak's step: θ_t = 1 takes the linearised loss of x_t to 0
                rate = rate * loss / (g.pow(2).sum(-1) + NORMALIZED_EPS)
            for j, t in enumerate(range(start, stop)):
                new_surprise = momentum[:, t, None] * surprise - rate[:, j, None] * g[:, j]
                new_update = (1 - forget[:, t, None]) * update + new_surprise
                if mask is None:
                    surprise, update = new_surprise, new_update
                else:
                    kt = keep[:, t, None]
                    surprise, update = blend(kt, new_surprise, surprise), blend(kt, new_update, update)
        return {"update": update, "momentum": surprise}

    def write_more(self, params: MetaParams, state: dict[str, Tensor], patterns: Tensor) -> dict[str, Tensor]:
        """Add ``patterns (B, N, d)`` to a written state: the gradient steps continue from its
        weights and momentum."""
        return self.write(params, patterns, state=state)

    def read(self, params: MetaParams, state: dict[str, Tensor], queries: Tensor, trajectory: bool) -> Tensor:
        """``queries (B, M, d)`` -> ``(B, M, d)``, or every iterate ``(B, read_steps + 1, M, d)``."""
        weights = params["initial_memory"]["weights"] + state["update"]  # (B, P)
        return fixed_point_read(params, lambda k: self.apply(weights, k), queries, self.read_steps, trajectory,
                                self.decoder, self.decode_steps)

    def _state_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"update": (self.mlp_size,), "momentum": (self.mlp_size,)}

    # --- helpers ------------------------------------------------------------------------------
    def apply(self, weights: Tensor, keys: Tensor) -> Tensor:
        """The memory MLP: flat ``weights (*B, P)``, ``keys (*B, M, k)`` -> ``(*B, M, v)``."""
        return mlp(weights, keys, self.key_dim, self.memory_hidden, self.value_dim, self.residual)

    def loss_of_one(self, weights: Tensor, key: Tensor, value: Tensor) -> Tensor:
        """``ℓ(W; x) = ‖M_W(k) − v‖²`` for one pattern: ``weights (P,)``, ``key (k,)``, ``value (v,)``."""
        return (self.apply(weights, key.unsqueeze(0)).squeeze(0) - value).pow(2).sum()

    def _per_sample_grads(self):
        """``(weights (B, P), keys (B, c, k), values (B, c, v))`` -> ``(∇_W ℓ (B, c, P), ℓ (B, c))``:
        each episode's own weights, each pattern's gradient and loss at them."""
        per_pattern = torch.func.vmap(torch.func.grad_and_value(self.loss_of_one), in_dims=(None, 0, 0))
        return torch.func.vmap(per_pattern, in_dims=(0, 0, 0))
