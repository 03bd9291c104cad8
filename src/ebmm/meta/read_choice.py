"""Fit the image slot read's choice among its rechecked candidates on training episodes.

The read with ``trust="memory"`` (:mod:`ebmm.energies.memory_trust`) ranks the stored images a
covered query may copy, lets the matcher keep the ``recheck`` likeliest, and judges each by what
the detector's trust against it says. The fixed rule adds the Gaussian cost of the trusted
pixels, ½ log det Λ_uu and ``outlier_cost`` nats per distrusted pixel. Which of these signals
to believe, and how much, depends on the memory's size (a 36-float code blurs more than a
252-float one) and on what covers the query; a fixed rule chosen at one size misjudges the
others (measured at 16,128 floats: the ranking's first choice beats the fixed rule under noise,
1.93 against 2.59 pixels, and loses under zeros, 15.0 against 2.5).

:func:`fit_choice_weights` learns the weighing instead, one weight per
:data:`~ebmm.energies.memory_trust.CHOICE_FEATURES`, by maximum likelihood of the slot each
query's stored image was written to, among the judged candidates (a softmax over them, which is
convex in the weights: L-BFGS finds the optimum). It sees training-split episodes only — the
stored images are known there, as in meta-training; a read never sees them. The result is a
read option (``choice_weights``): :meth:`ebmm.memory.AssociativeMemory.with_read_options`
applies it, ``ebmm export`` stores it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from ..energies import memory_trust
from ..models.ebmm import EBMM, write_batch
from ..tasks import parse_corruption


@dataclass(frozen=True)
class ChoiceFit:
    """What :func:`fit_choice_weights` learned: ``weights`` (one per
    :data:`~ebmm.energies.memory_trust.CHOICE_FEATURES`, on the features' own scale), and on the
    training queries whose stored image was among the judged candidates (``examples`` of them,
    out of ``queries``): how often the fitted weighing and the fixed rule choose it."""

    weights: tuple[float, ...]
    accuracy: float
    fixed_rule_accuracy: float
    examples: int
    queries: int


def choice_examples(model: EBMM, params: dict, images: Tensor, queries: Tensor, region: bool = True) -> tuple[Tensor, Tensor]:
    """Write ``images (B, N, C, H, W)`` and judge their ``queries`` as the read does: the features
    of each query's rechecked candidates ``(Q, m, F)``, whether each is the stored image's slot
    ``(Q, m)`` (bool), Q = B·N; ``region=False`` skips the region features' read plans (they
    repeat the plain ones). No gradient."""
    energy = model.energy
    if getattr(energy, "trust", None) != "memory" or not energy.has_matcher:
        raise ValueError("fitting the read's choice needs an image slot energy with trust='memory' and a matcher")
    static, d = params["static"], energy.dim
    with torch.no_grad():
        theta = write_batch(model, params, images)
        own = energy.stored_slots(static, theta, images).reshape(-1, 1)  # (Q, 1)
        decoded = energy.decoded_slots(static, theta["memory.weight"])
        top, cost = memory_trust.candidates(energy, static, queries.flatten(-3), decoded, top_only=True)  # (B, N, k)
        k = top.shape[-1]
        q = queries.reshape(-1, d)
        cand = memory_trust.gather_slots(decoded, top).reshape(-1, k, d)
        best, judged, trusted, rank, scores = memory_trust.rechecked(energy, static, q, cand, cost.reshape(-1, k))
        features = memory_trust.choice_features(energy, static, q, judged, trusted, rank, scores, region)
        hit = torch.gather(top.reshape(-1, k), -1, best) == own
    return features, hit


def fit_choice_weights(model: EBMM, params: dict, task, fills: list[str], episodes: int = 8, patterns: int = 64,
                       seed: int = 0, l2: float = 1e-6, region: bool = True, spread: Literal["after", "joint", "off"] = "after") -> ChoiceFit:
    """Learn ``choice_weights`` for ``model``'s read (its ``candidates`` and ``recheck`` as they
    are) on ``episodes`` training-split episodes of ``patterns`` images per fill in ``fills``
    (occlusions such as ``"noise:16"``), drawn from ``task`` (an image task) with ``seed``; ``l2``
    weighs a ridge penalty on the standardised weights; ``region=False`` fits without the region
    features (:data:`~ebmm.energies.memory_trust.REGION_FEATURES`: their weights stay 0, and the read skips their Cholesky
    factorisations: as cheap as the fixed rule). ``spread``: ``"after"`` fits the ``spread`` feature's
    weight alone once the others are fitted without it (where the distrust is everywhere — noise
    scattered over the image — every candidate's spread is the same, and the choice is the one
    fitted without it), ``"joint"`` fits all at once, ``"off"`` keeps its weight at 0. ``ValueError`` for a memory whose read has
    no such choice, or fewer than two candidates to judge."""
    if spread not in ("after", "joint", "off"):
        raise ValueError(f"spread must be 'after', 'joint' or 'off', got {spread!r}")
    if getattr(model.energy, "recheck", 1) < 2:
        raise ValueError("the read judges one candidate (recheck < 2): there is no choice to learn; raise recheck first")
    g = torch.Generator().manual_seed(seed)
    xs, hits = [], []
    for fill in fills:
        occlusion = parse_corruption(fill)
        for _ in range(episodes):  # one episode at a time: each judged candidate costs a Cholesky factorisation per query
            images, queries = task.sample(1, patterns, split="train", corruption=occlusion, generator=g)
            f, h = choice_examples(model, params, images, queries, region)
            xs.append(f)
            hits.append(h)
    x, hit = torch.cat(xs).double(), torch.cat(hits)
    found = hit.any(-1)
    x, target = x[found], hit[found].to(torch.int64).argmax(-1)
    mean, scale = x.reshape(-1, x.shape[-1]).mean(0), x.reshape(-1, x.shape[-1]).std(0).clamp_min(1e-9)
    z = (x - mean) / scale
    fixed = torch.tensor(memory_trust.fixed_rule_weights(model.energy.outlier_cost), dtype=torch.float64)
    used = torch.ones_like(fixed)
    if not region:
        used[memory_trust.REGION_FEATURES] = 0.0
    last = memory_trust.CHOICE_FEATURES.index("spread")
    if spread != "joint":
        used[last] = 0.0
    w = _fit(z, target, fixed * scale, used, l2)  # start at the fixed rule
    if spread == "after":  # the spread's weight alone, the others held where the fit without it put them
        alone = torch.zeros_like(used)
        alone[last] = 1.0
        w = _fit(z, target, w, alone, l2, frozen=w * used)
        used[last] = 1.0
    weights = w * used / scale

    def accuracy(v: Tensor) -> float:
        return (torch.gather(hit[found], -1, (x @ v).argmin(-1, keepdim=True))).float().mean().item()

    return ChoiceFit(tuple(weights.tolist()), accuracy(weights), accuracy(fixed), int(found.sum()), int(found.numel()))


def _fit(z: Tensor, target: Tensor, start: Tensor, free: Tensor, l2: float, frozen: Tensor | None = None) -> Tensor:
    """The weights ``(F,)`` on standardised features ``z (Q, m, F)`` that make each ``target (Q,)``
    candidate likeliest (softmax over the lowest weighted sums, ridge ``l2``): those where ``free``
    is 1 fitted from ``start`` by L-BFGS, the others ``frozen`` (default 0)."""
    frozen = torch.zeros_like(start) if frozen is None else frozen * (1 - free)
    w = (start * free).detach().clone().requires_grad_(True)
    opt = torch.optim.LBFGS([w], max_iter=500, tolerance_grad=1e-9, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(-(z @ (w * free + frozen)), target) + l2 * (w * free).pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return (w * free + frozen).detach()
