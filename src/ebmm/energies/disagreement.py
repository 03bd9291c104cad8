r"""Where an occluded query disagrees with what a memory stores: a per-pixel trust computed from
the query *and the written state*, not from what the pixel's value looks like.

A read of an image memory must restore the pixels that something covered — uniform noise, a
patch of random ink, zeros, ones, anything — and keep the others. A rule that trusts pixels by
their values (``q(1 − q)`` is 0 only at 0/1 pixels, so uniform noise stands out) works only for
the corruptions it was written for: zeros or random 0/1 values pass as intact, and the read
returns the query. The memory itself knows better: it holds a decoded image ``d`` for each slot,
and where the query disagrees with the stored image it belongs to, the query is suspect.

:class:`Disagreement` turns a query ``q`` and one decoded slot ``d`` (the stored image the read
believes the query is a copy of) into a logit per pixel that the query's value there is right:

.. math::

    \ell_p = s\,\big(\tau - \overline{|q - d|}_p\big) + f_\psi(q, d, q - d)_p

The first term is the untrained rule — trust a pixel whose value is within τ of the decoded
slot's (``|q − d|`` averaged over the channels), with slope s. The second is a small
convolutional network (dilated 3×3 convolutions, a receptive field of 19 pixels) whose last
layer starts at zero, so the untrained detector *is* the rule; meta-training learns ψ, τ and s.
A decoded slot is a linear code's projection of its image (36 to 252 floats for 1024 pixels),
blurred where the image has detail, so the rule alone distrusts many intact pixels and trusts
some covered ones; the network learns from episodes what disagreement looks like when it comes
from a covering object (contiguous, and unlike the stored image) rather than from the code's
blur.

The network sees the query's values, so it could learn what the training fills look like; the
image task scores a memory on fills it was not trained on to show whether it did
(``benchmarks/image_occlusion.py``).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.func import functional_call

from ._base import Params


#: what a detector's or matcher's network may see, and its input channels per image channel
FEATURE_CHANNELS = {"query": 3, "gap": 2, "gap_certainty": 3}


def _first_layer(shape: tuple[int, int, int], features: str, hidden: int) -> tuple[tuple[int, int, int], nn.Conv2d]:
    """The image shape as ints and the first convolution of a network that sees ``features``
    (``ValueError`` for an unknown kind) — shared by :class:`Disagreement` and :class:`Matcher`."""
    if features not in FEATURE_CHANNELS:
        raise ValueError(f"features must be one of {tuple(FEATURE_CHANNELS)}, got {features!r}")
    shape = tuple(int(s) for s in shape)
    return shape, nn.Conv2d(FEATURE_CHANNELS[features] * shape[0], hidden, 3, padding=1)


def _seen(features: str, q: Tensor, d: Tensor) -> Tensor:
    """What a network with ``features`` sees of queries ``q`` and decoded slots ``d (n, C, H, W)``."""
    if features == "query":
        return torch.cat([q, d, q - d], dim=1)
    gap = [d, (q - d).abs()]
    return torch.cat(gap if features == "gap" else [*gap, (2 * q - 1).abs()], dim=1)


class Disagreement(nn.Module):
    """The per-pixel trust logit ``ℓ (…, D)`` of queries ``q (…, D)`` against decoded slots
    ``d (…, D)``, images of shape ``shape (C, H, W)`` flattened to D; see the module docstring.

    **Arguments:** ``shape`` one image's (C, H, W); ``hidden`` channels of the network;
    ``threshold`` τ and ``slope`` s of the untrained rule; ``features`` what the network sees:
    ``"query"`` the query, the decoded slot and their difference ``(q, d, q − d)``; ``"gap"``
    the decoded slot and the size of the disagreement ``(d, |q − d|)`` — blind to which way the
    query's values depart from the stored image, so a fill cannot be recognised by its values;
    ``"gap_certainty"`` those and how far each query value is from ½, ``|2q − 1|`` — the same for
    a 0 and a 1, so ink cannot be told from background by it either."""

    FEATURES = tuple(FEATURE_CHANNELS)

    def __init__(self, shape: tuple[int, int, int], hidden: int = 16, threshold: float = 0.5, slope: float = 20.0,
                 features: str = "query"):
        super().__init__()
        if hidden < 1 or slope <= 0:
            raise ValueError(f"hidden must be >= 1 and slope > 0, got {hidden}, {slope}")
        self.shape, first = _first_layer(shape, features, hidden)
        self.features = features
        self.threshold = nn.Parameter(torch.tensor(float(threshold)))
        self.log_slope = nn.Parameter(torch.tensor(math.log(slope)))
        layers: list[nn.Module] = [first, nn.GELU()]
        for dilation in (2, 4, 2):
            layers += [nn.Conv2d(hidden, hidden, 3, padding=dilation, dilation=dilation), nn.GELU()]
        layers.append(nn.Conv2d(hidden, 1, 3, padding=1))
        nn.init.zeros_(layers[-1].weight)
        nn.init.zeros_(layers[-1].bias)
        self.net = nn.Sequential(*layers)

    def forward(self, q: Tensor, d: Tensor) -> Tensor:
        c, h, w = self.shape
        lead = q.shape[:-1]
        qi, di = q.reshape(-1, c, h, w), d.reshape(-1, c, h, w)
        gap = (qi - di).abs().mean(1, keepdim=True)  # (n, 1, H, W)
        rule = self.log_slope.exp() * (self.threshold - gap)
        logit = rule + self.net(_seen(self.features, qi, di))
        return logit.expand(-1, c, h, w).reshape(*lead, c * h * w)

    def rule(self, q: Tensor, d: Tensor, static: Params | None = None, prefix: str = "") -> Tensor:
        """The untrained rule's logits alone, ``s (τ − mean_c |q − d|)`` per pixel (the same for
        every channel), ``(…, D)``; with ``static``, τ and s are taken from it (``prefix + name``)."""
        c, h, w = self.shape
        tau = self.threshold if static is None else static[prefix + "threshold"]
        log_s = self.log_slope if static is None else static[prefix + "log_slope"]
        gap = (q - d).abs().reshape(*q.shape[:-1], c, h * w).mean(-2, keepdim=True)
        return (log_s.exp() * (tau - gap)).expand(*q.shape[:-1], c, h * w).reshape(q.shape)


class Matcher(nn.Module):
    r"""Which stored image a query copies: a score per candidate, ``q (…, D)`` and candidates
    ``d (…, k, D)`` -> ``(…, k)``, higher is likelier.

    .. math::

        s_j = -a\,\mathrm{cost}_j + g_\phi(q, d_j, q - d_j)

    ``cost_j`` is the ranking's clipped whitened distance (:func:`rank_slots`), ``a`` a learned
    scale, and ``g_φ`` a small strided convolutional network pooled to one number, whose last
    layer starts at zero: untrained, the choice is the ranking's first candidate. At 36 floats
    per stored image the ranking's first candidate is the right one for only 64–92 % of covered
    queries (by fill; the right one is among the first 8 for 93–98 %), and a wrong choice costs
    a whole image; meta-training learns from episodes to pick the right one among the candidates
    (:meth:`ebmm.energies.ImageSlotEnergy.read_auxiliary_loss`). ``features`` as for
    :class:`Disagreement`: ``"query"`` sees ``(q, d_j, q − d_j)``, ``"gap"`` ``(d_j, |q − d_j|)``,
    ``"gap_certainty"`` also ``|2q − 1|``."""

    def __init__(self, shape: tuple[int, int, int], hidden: int = 16, scale: float = 0.05, features: str = "query"):
        super().__init__()
        if hidden < 1 or scale <= 0:
            raise ValueError(f"hidden must be >= 1 and scale > 0, got {hidden}, {scale}")
        self.shape, first = _first_layer(shape, features, hidden)
        self.features = features
        self.log_scale = nn.Parameter(torch.tensor(math.log(scale)))
        self.net = nn.Sequential(
            first, nn.GELU(),
            nn.Conv2d(hidden, hidden, 3, stride=2, padding=1), nn.GELU(),
            nn.Conv2d(hidden, hidden, 3, stride=2, padding=1), nn.GELU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(hidden, 1),
        )
        nn.init.zeros_(self.net[-1].weight)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, q: Tensor, d: Tensor, cost: Tensor) -> Tensor:
        c, h, w = self.shape
        k = d.shape[-2]
        qi = q.unsqueeze(-2).expand(d.shape).reshape(-1, c, h, w)
        di = d.reshape(-1, c, h, w)
        learned = self.net(_seen(self.features, qi, di)).reshape(*d.shape[:-2], k)
        return learned - self.log_scale.exp() * cost


def detect(module: nn.Module, static: Params, prefix: str, *args: Tensor) -> Tensor:
    """A module (:class:`Disagreement`, :class:`Matcher`) called with its weights taken from
    ``static`` (the slow weights named ``prefix + name``), so the meta-gradient reaches them."""
    weights = {name: static[prefix + name] for name, _ in module.named_parameters()}
    return functional_call(module, weights, args)


def whitener(precision: Tensor) -> Tensor:
    """``Λ^{1/2}`` (symmetric, ``(D, D)``) of a residual precision: ``‖(q − d)Λ^{1/2}‖² =
    (q − d)ᵀΛ(q − d)`` with each coordinate tied to one pixel and its neighbours (the symmetric
    square root is the most local one), so a covered region inflates only its own coordinates
    and a clipped sum of their squares ranks stored images robustly (:func:`rank_slots`)."""
    lam = 0.5 * (precision + precision.T).double()
    values, vectors = torch.linalg.eigh(lam)
    return ((vectors * values.clamp_min(0).sqrt()) @ vectors.T).to(precision.dtype)


def rank_slots(queries: Tensor, decoded: Tensor, root: Tensor, clip: float, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` stored images each query most likely copies, best first: ``queries (…, M, D)``,
    ``decoded (…, S, D)`` -> ``(indices (…, M, k) into S, their costs (…, M, k))``, by the
    clipped whitened distance ``Σ_i min(((q − d_j)Λ^{1/2})_i², clip)`` (``root`` =
    :func:`whitener`). A covered square adds at most ``clip`` per coordinate it touches,
    whatever fills it."""
    zq, zd = queries @ root, decoded @ root  # (…, M, D), (…, S, D)
    cost = (zq.unsqueeze(-2) - zd.unsqueeze(-3)).pow(2).clamp(max=clip).sum(-1)  # (…, M, S)
    best = cost.topk(min(k, decoded.shape[-2]), dim=-1, largest=False)
    return best.indices, best.values
