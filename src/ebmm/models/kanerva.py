"""The Kanerva Machine (Wu, Wayne, Graves & Lillicrap 2018): a distributed memory with a
Gaussian matrix-variate distribution, written by exact Bayesian (Kalman) updates.

The memory ``M (K, c)`` has a matrix-normal distribution with mean ``R (K, c)``, row
covariance ``U (K, K)`` and identity column covariance. Its prior is meta-learned:
``R_0`` and ``U_0 = σ_M² I``. A pattern x is encoded to a code ``z (c)`` and addressing
weights ``w (K)``; each of the N patterns is written in turn by the closed-form posterior
update with observation noise ``σ_ξ²``::

    Δ = z − Rᵀw,   σ_z = wᵀU w + σ_ξ²,   R ← R + (U w) Δᵀ / σ_z,   U ← U − (U w)(U w)ᵀ / σ_z

(the paper's batch update ``R + Σ_cᵀ Σ_z⁻¹ Δ``, ``U − Σ_cᵀ Σ_z⁻¹ Σ_c`` for one pattern at a
time; sequential and batch updates give the same posterior). Reading a query computes
``w``, reads ``z = Rᵀw`` and decodes ``sigmoid(decoder(z))``; it then reads again from that
reconstruction, ``read_iterations`` times in all (the paper's iterative reading).

Addressing, ``addressing`` in the config:
    - ``"least_squares"`` (the default; the Dynamic Kanerva Machine, Wu et al. 2018b): ``w``
      is the ridge solution ``argmin_w ‖z − Rᵀw‖² + (σ_ξ²/σ_w²) ‖w‖²`` against the current
      memory mean, i.e. content-based, for writing and for reading; ``σ_w`` is meta-learned;
    - ``"learned"`` (the Kanerva Machine): ``w`` is a linear map of the encoder's hidden
      layer, a learned addressing network that plays the role of the paper's key and
      address matrix.

The default is the stronger of the two here: after 3 CPU-minutes of meta-training at
d = 128, N = 16, ``erase:64`` (AdamW 1e-3, 16 episodes a step), it reached 0.33 error bits,
learned addressing 7.4.

The memory state is ``"mean"`` R (K·c floats) and ``"row_cov"``, the upper triangle of the
symmetric U with its diagonal (K(K+1)/2 floats): what the posterior carries to the next
write. Reading uses only R. Defaults K = 43, c = 170 fill the binary budget exactly:
``43·170 + 43·44/2 = 7310 + 946 = 8256`` (a full K×K U would be 8256 at K = 32, c = 226, but
stores U's symmetric half twice).

Simplified from the paper: the model is a deterministic autoencoder around the memory,
meta-trained with the project's squared reconstruction error rather than the variational
lower bound: codes and addresses are their posterior means, nothing is sampled, there are
no KL terms. The encoder and decoder are one-hidden-layer MLPs. The loss scores the last
read iterate only (the retrieval), through all of them.

References:
    Y. Wu, G. Wayne, A. Graves, T. Lillicrap, "The Kanerva Machine: a generative distributed
    memory", ICLR 2018.
    Y. Wu, G. Wayne, K. Gregor, T. Lillicrap, "Learning attractor dynamics for generative
    memory", NeurIPS 2018 (the Dynamic Kanerva Machine).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from .protocol import MetaParams
from ._common import LearnedBaseline, blend, dense_layer, reconstruction_loss

KANERVA_ADDRESSING = ("learned", "least_squares")
"""Addressing modes of :class:`KanervaMachine`."""


def pack_upper(u: Tensor) -> Tensor:
    """Upper triangle of ``U (..., K, K)`` including the diagonal, row by row: ``-> (..., K(K+1)/2)``."""
    k = u.shape[-1]
    i, j = torch.triu_indices(k, k, device=u.device)
    return u[..., i, j]


def unpack_upper(v: Tensor, k: int) -> Tensor:
    """The symmetric ``U (..., K, K)`` whose upper triangle (with diagonal) is ``v``."""
    if v.shape[-1] != k * (k + 1) // 2:
        raise ValueError(f"a packed {k}x{k} triangle has {k * (k + 1) // 2} entries, got {v.shape[-1]}")
    i, j = torch.triu_indices(k, k, device=v.device)
    u = v.new_zeros(*v.shape[:-1], k, k)
    u[..., i, j] = v
    u[..., j, i] = v
    return u


def kalman_write(mean: Tensor, cov: Tensor, w: Tensor, z: Tensor, noise: Tensor) -> tuple[Tensor, Tensor]:
    """One Bayesian write of code ``z (B, c)`` at address ``w (B, K)`` into the memory
    ``mean (B, K, c)``, ``cov (B, K, K)`` with observation noise variance ``noise``."""
    uw = (cov @ w.unsqueeze(-1)).squeeze(-1)  # (B, K)
    sigma_z = (w * uw).sum(-1, keepdim=True) + noise  # (B, 1)
    delta = z - (w.unsqueeze(-2) @ mean).squeeze(-2)  # (B, c)
    gain = uw / sigma_z  # (B, K)
    mean = mean + gain.unsqueeze(-1) * delta.unsqueeze(-2)
    cov = cov - gain.unsqueeze(-1) * uw.unsqueeze(-2)
    return mean, cov


def least_squares_address(z: Tensor, mean: Tensor, ridge: Tensor) -> Tensor:
    """``argmin_w ‖z − Rᵀw‖² + ridge·‖w‖²``: ``z (B, M, c)``, ``R (B, K, c)`` -> ``w (B, M, K)``."""
    k = mean.shape[-2]
    gram = mean @ mean.transpose(-1, -2) + ridge * torch.eye(k, dtype=mean.dtype, device=mean.device)
    return torch.linalg.solve(gram, mean @ z.transpose(-1, -2)).transpose(-1, -2)


@dataclass(frozen=True)
class KanervaMachine(LearnedBaseline):
    """The Kanerva Machine with the Dynamic Kanerva Machine's content addressing (or, with
    ``addressing="learned"``, the original's learned addressing): a
    :class:`~ebmm.models.protocol.LearnedModel`.

    **Fields:** ``dim`` pattern dimension d; ``max_patterns`` N it is trained for; ``slots`` K
    memory rows; ``code`` c, the code size; ``hidden`` encoder/decoder width;
    ``read_iterations`` reads per query; ``addressing`` one of :data:`KANERVA_ADDRESSING`.
    State: ``K·c + K(K+1)/2`` floats (8256 at the defaults).
    """

    kind: ClassVar[str] = "kanerva"
    dim: int = 128
    max_patterns: int = 96
    slots: int = 43  # K: 43·170 + 43·44/2 = 8256, the binary budget
    code: int = 170  # c
    hidden: int = 256
    read_iterations: int = 2
    addressing: str = "least_squares"  # the Dynamic Kanerva Machine's; see the module docstring

    def __post_init__(self):
        self._check_positive_ints("dim", "max_patterns", "slots", "code", "hidden", "read_iterations")
        if self.addressing not in KANERVA_ADDRESSING:
            raise ValueError(f"unknown addressing {self.addressing!r}; choose one of {KANERVA_ADDRESSING}")

    # --- LearnedModel protocol (config, memory_size: LearnedBaseline's) -----------------------
    def init_params(self, seed: int = 0) -> MetaParams:
        g = torch.Generator().manual_seed(seed)
        d, h, c, k = self.dim, self.hidden, self.code, self.slots
        ew, eb = dense_layer(g, h, d)
        cw, cb = dense_layer(g, c, h)
        aw, ab = dense_layer(g, k, h)
        dw1, db1 = dense_layer(g, h, c)
        dw2, db2 = dense_layer(g, d, h)
        params: MetaParams = {
            "encoder": {"hidden_weight": ew, "hidden_bias": eb, "code_weight": cw, "code_bias": cb},
            "decoder": {"hidden_weight": dw1, "hidden_bias": db1, "out_weight": dw2, "out_bias": db2},
            "prior": {
                "mean": torch.randn(k, c, generator=g) / math.sqrt(c),
                "log_var": torch.tensor(0.0),  # σ_M² = 1
                "log_noise": torch.tensor(0.0),  # σ_ξ² = 1
            },
        }
        if self.addressing == "learned":
            params["address"] = {"weight": aw, "bias": ab}
        else:
            params["prior"]["log_w_var"] = torch.tensor(0.0)  # σ_w² = 1
        return params

    def loss(
        self, params: MetaParams, patterns: Tensor, queries: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """:func:`~ebmm.models.memory_networks.reconstruction_loss` of the retrievals;
        ``mask (B, N)`` the stored patterns."""
        mean, _ = self.write_posterior(params, patterns, mask)
        out = self.read_mean(params, mean, queries)[:, -1]
        return reconstruction_loss(out, patterns, mask), out.detach()

    def write(self, params: MetaParams, patterns: Tensor, mask: Tensor | None = None) -> dict[str, Tensor]:
        """``patterns (B, N, d)`` -> ``{"mean": (B, K, c), "row_cov": (B, K(K+1)/2)}``; a
        pattern left out by ``mask (B, N)`` (0/1, None: none) is not written."""
        mean, cov = self.write_posterior(params, patterns, mask)
        return {"mean": mean, "row_cov": pack_upper(cov)}

    def read(self, params: MetaParams, state: dict[str, Tensor], queries: Tensor, trajectory: bool) -> Tensor:
        """``queries (B, M, d)`` -> ``(B, M, d)``, or ``(B, 1 + read_iterations, M, d)``."""
        steps = self.read_mean(params, state["mean"], queries)
        return torch.cat([queries.unsqueeze(1), steps], dim=1) if trajectory else steps[:, -1]

    def _state_shapes(self) -> dict[str, tuple[int, ...]]:
        k = self.slots
        return {"mean": (k, self.code), "row_cov": (k * (k + 1) // 2,)}

    # --- the memory ---------------------------------------------------------------------------
    def write_posterior(
        self, params: MetaParams, patterns: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """Write ``patterns (B, N, d)`` in order from the prior, skipping those left out by
        ``mask (B, N)``; returns ``R (B, K, c)``, ``U (B, K, K)``."""
        b, n, _ = patterns.shape
        prior = params["prior"]
        noise = prior["log_noise"].exp()
        mean = prior["mean"].expand(b, -1, -1)
        cov = (prior["log_var"].exp() * torch.eye(self.slots, dtype=patterns.dtype, device=patterns.device)).expand(b, -1, -1)
        z, w = self._encode(params, patterns)  # (B, N, c), (B, N, K) or None
        for t in range(n):
            w_t = w[:, t] if w is not None else self._solve(params, z[:, t : t + 1], mean).squeeze(1)
            new_mean, new_cov = kalman_write(mean, cov, w_t, z[:, t], noise)
            if mask is None:
                mean, cov = new_mean, new_cov
            else:
                keep = mask[:, t].view(b, 1, 1)
                mean, cov = blend(keep, new_mean, mean), blend(keep, new_cov, cov)
        return mean, cov

    def read_mean(self, params: MetaParams, mean: Tensor, queries: Tensor) -> Tensor:
        """Iterative reading of ``queries (B, M, d)`` from the memory mean ``R (B, K, c)``;
        returns every reconstruction ``(B, read_iterations, M, d)``."""
        x, steps = queries, []
        for _ in range(self.read_iterations):
            z, w = self._encode(params, x)
            if w is None:
                w = self._solve(params, z, mean)
            x = self._decode(params, w @ mean)  # (B, M, d)
            steps.append(x)
        return torch.stack(steps, dim=1)

    # --- helpers ------------------------------------------------------------------------------
    def _encode(self, params: MetaParams, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """``x (..., d)`` in [0, 1] -> code ``z (..., c)`` and, with learned addressing, ``w (..., K)``."""
        e = params["encoder"]
        h = torch.tanh(F.linear(2 * x - 1, e["hidden_weight"], e["hidden_bias"]))
        z = F.linear(h, e["code_weight"], e["code_bias"])
        if self.addressing == "learned":
            return z, F.linear(h, params["address"]["weight"], params["address"]["bias"])
        return z, None

    def _solve(self, params: MetaParams, z: Tensor, mean: Tensor) -> Tensor:
        prior = params["prior"]
        return least_squares_address(z, mean, (prior["log_noise"] - prior["log_w_var"]).exp())

    def _decode(self, params: MetaParams, z: Tensor) -> Tensor:
        d = params["decoder"]
        h = torch.tanh(F.linear(z, d["hidden_weight"], d["hidden_bias"]))
        return torch.sigmoid(F.linear(h, d["out_weight"], d["out_bias"]))
