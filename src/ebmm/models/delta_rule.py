"""A delta-rule fast-weight memory (DeltaNet; optionally gated, as Gated DeltaNet), meta-trained
on the binary task.

The memory is one fast-weight matrix ``S (d_v, d_k)``, zero when empty. Each pattern ``x_t``
is encoded to a unit key ``k_t`` and a value ``v_t`` by the shared encoder
(:mod:`ebmm.models._fast_weights`) and written by the delta rule (Schlag et al. 2021;
Yang et al. 2024)::

    S_t = S_{t−1} + β_t (v_t − S_{t−1} k_t) k_tᵀ  =  S_{t−1} (I − β_t k_t k_tᵀ) + β_t v_t k_tᵀ

with a per-pattern writing strength ``β_t = σ(w_β·s_t + b_β)`` from a learned projection
(DeltaNet's), ``s_t = 2x_t − 1``. With ``decay=True`` a forgetting gate
``α_t = σ(w_α·s_t + b_α)`` multiplies the old memory, the gated delta rule of Gated DeltaNet
(Yang, Kautz & Hatamizadeh 2025)::

    S_t = α_t S_{t−1} (I − β_t k_t k_tᵀ) + β_t v_t k_tᵀ

Reading a query iterates the retrieval ``S k(x)`` to a fixed point through the shared decoder:
``x_0 = q``, ``x_{t+1} = σ(decoder([S k(x_t), 2q − 1]))``, ``read_steps`` times
(:func:`~ebmm.models._fast_weights.fixed_point_read`).

**Two forms of the same write.** :func:`delta_rule_sequential` applies the N rank-one updates
one by one. :func:`delta_rule_chunked` is the chunk-parallel (WY / UT transform) form of Yang
et al. 2024 (as in ``fla/ops/delta_rule/naive.py`` of flash-linear-attention), extended to
the gate: within a chunk of C patterns, with ``γ_i = α_1⋯α_i`` the gate's running product
inside the chunk, the updates ``δ_i = β_i (v_i − α_i S_{i−1} k_i)`` (so that
``S_i = α_i S_{i−1} + δ_i k_iᵀ``) solve one unit lower-triangular system::

    (I + A) Δ = diag(β) V − diag(β γ) K S_0ᵀ,       A_ij = β_i (γ_i / γ_j) k_iᵀ k_j   (j < i)
    i.e.  Δ = U − W S_0ᵀ  with  T = (I + A)⁻¹,  U = T diag(β) V,  W = T diag(β γ) K
    S_C = γ_C S_0 + Δᵀ diag(γ_C / γ) K

(``γ ≡ 1`` without the gate). ``U`` and ``W`` of every chunk come from batched triangular
solves; only the C-fold shorter loop over chunks is sequential. Both forms are pure tensor
algebra, so the meta-gradient differentiates through them, to any order. A chunk size that
does not divide N pads the last chunk with patterns of ``β = 0, α = 1``, which change nothing.

**Budget.** The state is ``S`` alone: ``d_v · d_k`` floats. The defaults ``d_k = 96``,
``d_v = 86`` give ``96 · 86 = 8256 = 128·127/2 + 128``, the binary budget — keys as wide as
the most patterns trained for (96 keys of 96 dimensions can be linearly independent, so the
delta rule can hold each one's value), values 86 wide like the compressed slots of Memory
Networks at N = 96. The encoder, β and α projections and decoder are slow weights, not state.

**Streaming.** ``write(more, state=S)`` continues the rule from ``S``: the same updates as
writing every pattern in one call (exactly so in exact arithmetic; the chunked form regroups
the sums, so to float rounding).

**Sweeps and the box read** (both off by default). ``passes = P`` applies the rule to a call's
patterns P times in turn, as writing them again with ``write_more`` would: each sweep takes every
``v_t − S k_t`` residual further towards zero (with β = 1, the Kaczmarz method for ``S K = V``),
so the written matrix nears the least-squares fit of the associative loss. With P > 1 writing in
parts sweeps each part on its own, so it no longer equals writing at once. ``decoder="box"``
decodes a retrieved value by the value encoder itself (box-constrained least squares,
:func:`~ebmm.models._fast_weights.fixed_point_read`) instead of Memory Networks' learned decoder.

References:
    I. Schlag, K. Irie, J. Schmidhuber, "Linear transformers are secretly fast weight
    programmers", ICML 2021.
    S. Yang, B. Wang, Y. Zhang, Y. Shen, Y. Kim, "Parallelizing linear transformers with the
    delta rule over sequence length", NeurIPS 2024 (arXiv:2406.06484).
    S. Yang, J. Kautz, A. Hatamizadeh, "Gated delta networks: improving Mamba2 with delta
    rule", ICLR 2025 (arXiv:2412.06464, 2024).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from ..dynamics import logit
from .protocol import MetaParams
from ._common import LearnedBaseline
from ._fast_weights import check_decoder, check_mask, fixed_point_read, init_decoder, init_encoder, keys_of, values_of


# --- the two forms of the write ----------------------------------------------------------------
def _check_rule_inputs(state: Tensor, keys: Tensor, values: Tensor, beta: Tensor, log_alpha: Tensor | None) -> None:
    b, n, dk = keys.shape
    if state.shape != (b, values.shape[-1], dk) or values.shape[:2] != (b, n) or beta.shape != (b, n):
        raise ValueError(f"delta rule: state {tuple(state.shape)}, keys {tuple(keys.shape)}, values {tuple(values.shape)} "
                         f"and beta {tuple(beta.shape)} do not fit (expected (B, d_v, d_k), (B, N, d_k), (B, N, d_v), (B, N))")
    if log_alpha is not None and log_alpha.shape != (b, n):
        raise ValueError(f"delta rule: log_alpha of shape {tuple(log_alpha.shape)}, expected {(b, n)}")


def delta_rule_sequential(state: Tensor, keys: Tensor, values: Tensor, beta: Tensor,
                          log_alpha: Tensor | None = None) -> Tensor:
    """The (gated) delta rule, one pattern at a time: the reference form.

    ``state (B, d_v, d_k)``, ``keys (B, N, d_k)``, ``values (B, N, d_v)``, ``beta (B, N)``,
    ``log_alpha (B, N)`` (log of the gate α; None: no gate) -> the state after the N updates
    ``S ← α_t S (I − β_t k_t k_tᵀ) + β_t v_t k_tᵀ``."""
    _check_rule_inputs(state, keys, values, beta, log_alpha)
    s = state
    for t in range(keys.shape[1]):
        k, v, b = keys[:, t], values[:, t], beta[:, t, None]  # (B, d_k), (B, d_v), (B, 1)
        if log_alpha is not None:
            s = log_alpha[:, t, None, None].exp() * s
        s = s + (b * (v - (s @ k.unsqueeze(-1)).squeeze(-1))).unsqueeze(-1) * k.unsqueeze(-2)
    return s


def delta_rule_chunked(state: Tensor, keys: Tensor, values: Tensor, beta: Tensor,
                       log_alpha: Tensor | None = None, chunk: int = 32) -> Tensor:
    """The same updates as :func:`delta_rule_sequential`, ``chunk`` patterns at a time through
    the UT transform (the module's docstring has the algebra). Any ``chunk >= 1``; the last
    chunk is padded with patterns that change nothing."""
    _check_rule_inputs(state, keys, values, beta, log_alpha)
    if isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        raise ValueError(f"delta rule: chunk must be a positive integer, got {chunk!r}")
    b, n, dk = keys.shape
    dv = values.shape[-1]
    c = min(chunk, n) if n else 1
    pad = (-n) % c
    if pad:  # padded patterns: β = 0 (nothing written), log α = 0 (nothing forgotten)
        keys, values, beta = F.pad(keys, (0, 0, 0, pad)), F.pad(values, (0, 0, 0, pad)), F.pad(beta, (0, pad))
        log_alpha = None if log_alpha is None else F.pad(log_alpha, (0, pad))
    m = (n + pad) // c
    k = keys.reshape(b, m, c, dk)
    v = values.reshape(b, m, c, dv)
    be = beta.reshape(b, m, c)
    a = be.unsqueeze(-1) * (k @ k.transpose(-1, -2))  # (B, m, C, C): β_i k_iᵀ k_j
    lower = torch.ones(c, c, dtype=torch.bool, device=keys.device).tril(-1)
    if log_alpha is None:
        rhs_w = be.unsqueeze(-1) * k
        carry = None
    else:
        g = log_alpha.reshape(b, m, c).cumsum(-1)  # log γ_i within each chunk
        ratio = (g.unsqueeze(-1) - g.unsqueeze(-2)).masked_fill(~lower, float("-inf")).exp()  # γ_i / γ_j, j < i
        a = a * ratio
        rhs_w = (be * g.exp()).unsqueeze(-1) * k
        carry = (g[..., -1:] - g).exp()  # (B, m, C): γ_C / γ_i
    eye = torch.eye(c, dtype=keys.dtype, device=keys.device)
    system = eye + a.masked_fill(~lower, 0.0)  # I + A, unit lower-triangular
    u = torch.linalg.solve_triangular(system, be.unsqueeze(-1) * v, upper=False, unitriangular=True)  # (B, m, C, d_v)
    w = torch.linalg.solve_triangular(system, rhs_w, upper=False, unitriangular=True)  # (B, m, C, d_k)
    s = state
    for j in range(m):
        delta = u[:, j] - w[:, j] @ s.transpose(-1, -2)  # (B, C, d_v): Δ = U − W S_0ᵀ
        if carry is None:
            s = s + delta.transpose(-1, -2) @ k[:, j]
        else:
            s = g[:, j, -1, None, None].exp() * s + delta.transpose(-1, -2) @ (carry[:, j].unsqueeze(-1) * k[:, j])
    return s


# --- the model ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class DeltaRuleMemory(LearnedBaseline):
    """A fast-weight matrix written by the (gated) delta rule: the ``"delta_rule"``
    :class:`~ebmm.models.protocol.LearnedModel`.

    **Fields:** ``dim`` pattern dimension d; ``max_patterns`` N it is trained for; ``key_dim``
    d_k and ``value_dim`` d_v (state ``d_v · d_k`` floats: 8256 at the defaults); ``hidden``
    the decoder's hidden units; ``read_steps`` fixed-point iterations per read; ``chunk``
    patterns per chunk of the chunk-parallel write (0: the sequential form); ``decay`` whether
    the Gated DeltaNet forgetting gate α is used; ``beta_init`` and ``decay_init`` the initial
    β and α; ``decoder`` ``"learned"`` (Memory Networks' decoder) or ``"box"`` (the box read of
    :mod:`ebmm.models._fast_weights`, ``decode_steps`` FISTA steps per iterate); ``passes`` how
    many times each call sweeps the rule over its patterns (module docstring).

    ``MetaParams``::

        {"encoder": {"key_weight": (d_k, d), "key_bias": (d_k,), "value_weight": (d_v, d), "value_bias": (d_v,)},
         "write":   {"beta_weight": (d,), "beta_bias": (),
                     "decay_weight": (d,), "decay_bias": ()},          # the last two only with decay
         "decoder": {"hidden_weight": (h, d_v + d), "hidden_bias": (h,),
                     "out_weight": (d, h), "out_bias": (d,), "skip_weight": (d, d_v + d)}}
                    # or, with decoder="box": {"log_pull": ()}
    """

    kind: ClassVar[str] = "delta_rule"
    dim: int = 128
    max_patterns: int = 96
    key_dim: int = 96  # d_k
    value_dim: int = 86  # d_v: 96·86 = 8256, the binary budget
    hidden: int = 256
    read_steps: int = 3
    chunk: int = 32
    decay: bool = False
    beta_init: float = 0.9
    decay_init: float = 0.99
    decoder: str = "learned"
    decode_steps: int = 30
    passes: int = 1

    def __post_init__(self):
        check_decoder("DeltaRuleMemory", self.decoder)
        self._check_positive_ints("dim", "max_patterns", "key_dim", "value_dim", "hidden", "read_steps", "passes",
                                  "decode_steps")
        if isinstance(self.chunk, bool) or not isinstance(self.chunk, int) or self.chunk < 0:
            raise ValueError(f"DeltaRuleMemory.chunk must be an integer >= 0 (0: sequential), got {self.chunk!r}")
        if not isinstance(self.decay, bool):
            raise ValueError(f"DeltaRuleMemory.decay must be True or False, got {self.decay!r}")
        for name in ("beta_init", "decay_init"):
            if not 0 < getattr(self, name) < 1:
                raise ValueError(f"DeltaRuleMemory.{name} must lie in (0, 1), got {getattr(self, name)!r}")

    # --- LearnedModel protocol (config, loss, memory_size: LearnedBaseline's) -----------------
    def init_params(self, seed: int = 0) -> MetaParams:
        """Seeded: orthonormal key and value projections, β = ``beta_init`` and α =
        ``decay_init`` for every pattern (zero projection weights), Memory Networks' decoder."""
        gen = torch.Generator().manual_seed(seed)
        enc = init_encoder(gen, self.dim, self.key_dim, self.value_dim)
        write = {"beta_weight": torch.zeros(self.dim), "beta_bias": torch.tensor(logit(self.beta_init))}
        if self.decay:
            write |= {"decay_weight": torch.zeros(self.dim), "decay_bias": torch.tensor(logit(self.decay_init))}
        return {"encoder": enc, "write": write,
                "decoder": init_decoder(gen, self.dim, self.value_dim, self.hidden, enc["value_weight"], self.decoder)}

    def write(self, params: MetaParams, patterns: Tensor, mask: Tensor | None = None,
              state: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """``patterns (B, N, d)`` -> ``{"fast_weights": (B, d_v, d_k)}``; a pattern left out by
        ``mask (B, N)`` (0/1, None: none) is written with β = 0 and α = 1, i.e. not at all.
        From ``state`` (None: the empty memory, S = 0) the rule continues."""
        keys, values, beta, log_alpha = self.rule_inputs(params, patterns, mask)
        b = patterns.shape[0]
        s = patterns.new_zeros(b, self.value_dim, self.key_dim) if state is None else state["fast_weights"]
        for _ in range(self.passes):
            if self.chunk == 0:
                s = delta_rule_sequential(s, keys, values, beta, log_alpha)
            else:
                s = delta_rule_chunked(s, keys, values, beta, log_alpha, self.chunk)
        return {"fast_weights": s}

    def write_more(self, params: MetaParams, state: dict[str, Tensor], patterns: Tensor) -> dict[str, Tensor]:
        """Add ``patterns (B, N, d)`` to a written state: the delta rule continues from it."""
        return self.write(params, patterns, state=state)

    def read(self, params: MetaParams, state: dict[str, Tensor], queries: Tensor, trajectory: bool) -> Tensor:
        """``queries (B, M, d)`` -> ``(B, M, d)``, or every iterate ``(B, read_steps + 1, M, d)``."""
        s = state["fast_weights"]
        return fixed_point_read(params, lambda k: k @ s.transpose(-1, -2), queries, self.read_steps, trajectory,
                                self.decoder, self.decode_steps)

    def _state_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"fast_weights": (self.value_dim, self.key_dim)}

    # --- helpers ------------------------------------------------------------------------------
    def rule_inputs(self, params: MetaParams, patterns: Tensor, mask: Tensor | None = None
                    ) -> tuple[Tensor, Tensor, Tensor, Tensor | None]:
        """``patterns (B, N, d)`` -> keys ``(B, N, d_k)``, values ``(B, N, d_v)``, β ``(B, N)``
        and log α ``(B, N)`` (None without the gate), with the patterns outside ``mask`` made
        inert (β = 0, log α = 0)."""
        keep = check_mask(mask, patterns)
        enc, w = params["encoder"], params["write"]
        s = 2 * patterns - 1
        beta = torch.sigmoid(s @ w["beta_weight"] + w["beta_bias"]) * keep
        log_alpha = F.logsigmoid(s @ w["decay_weight"] + w["decay_bias"]) * keep if self.decay else None
        return keys_of(enc, patterns), values_of(enc, patterns), beta, log_alpha
