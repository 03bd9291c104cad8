"""The image slot energy's read with ``trust="memory"``: which stored image a covered query
copies and which of its pixels to trust, from the query and the written slots alone — and the
auxiliary loss that meta-trains the detector and matcher that decide it.

:class:`~ebmm.energies.ImageSlotEnergy` calls these (``condition_read``, ``read_auxiliary_loss``);
the networks are in :mod:`ebmm.energies.disagreement`, the Gaussian fill in
:mod:`ebmm.energies.gaussian_fill`. ``energy`` is always an image slot energy with
``trust="memory"`` (typed by its base class: this module sits below it).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ._base import ConditionedRead, EnergyModel, Params
from .disagreement import detect, rank_slots, whitener
from .gaussian_fill import ReadPlan, read_plan


def condition_on_memory(energy: EnergyModel, static: Params, theta: Params, queries: Tensor, known: Tensor | None = None) -> ConditionedRead:
    """``trust="memory"``: which stored image each query copies and which of its pixels to
    trust, from the query and the written slots alone (:mod:`ebmm.energies.disagreement`).

    1. Rank the slots by the clipped whitened distance of their decoded images to the query
       and keep the ``candidates`` first (:func:`~ebmm.energies.disagreement.rank_slots`).
    2. Choose among them: with a matcher (``matcher=True``), take the ``recheck`` it scores
       highest (:class:`~ebmm.energies.disagreement.Matcher`), let the detector say which
       query pixels agree with each, and choose the one under which the query is likeliest —
       a Gaussian on the pixels it trusts (c_j + ½ log det Λ_uu,
       :mod:`ebmm.energies.gaussian_fill`), ``outlier_cost`` nats for each pixel it does not
       (measured after 600 meta-steps at 36 floats per image: the right image for 95 / 92 /
       91 / 85 % of noise / binary / zeros / ones queries, against the matcher's own first
       choice's 87 / 90 / 84 / 66 %). This needs a trained detector: the untrained rule
       trusts noise pixels near the decoded value, whose residual costs more than the
       outlier cost, so wrong candidates that distrust more would win — an untrained memory
       reads best with ``recheck=1`` (the matcher's first choice), the default; a trained
       one is exported with ``ebmm export RUN OUT --read recheck=4``. ``outlier_cost=0`` judges
       every candidate on the same pixels instead, those that agree with at least one (worse
       once trained: 34 / 29 / 30 / 55). With ``choice_weights`` the candidate with the lowest
       weighted sum of :data:`CHOICE_FEATURES` is chosen instead — weights learned on training
       episodes (:func:`ebmm.meta.read_choice.fit_choice_weights`; at 16,128 floats noise 2.59 →
       1.64 held out). Without a matcher: the candidate whose Gaussian
       cost is lowest on the pixels that agree with the first one by the detector's rule.
    With ``known`` (the clamped protocol) the read trusts exactly the known pixels instead of
    the detector's.
    3. Trust by the whole detector against the chosen candidate; with ``region`` > 0 (the
       region prior), distrust too every pixel amid distrusted ones (:func:`among_distrusted`:
       about half of a noise square agrees with the blurred decoded image by chance, and an
       occluder is a region); the read holds the trusted pixels and fills the others by the
       Gaussian residual mixture over the candidates, as the other trusts do. With ``trust_margin``
       > 0 it also distrusts each pixel whose detector logit does not exceed the margin — pixel by
       pixel, not widened by the region prior: a detector trained on square occluders trusts
       isolated disagreement (flipped or noisy pixels one by one) as the code's blur, yet ranks
       it below the intact pixels. With ``region_keep`` > 0 the region prior spares each pixel whose
       detector logit exceeds it: the prior otherwise distrusts the intact ring around an occluder
       too, the pixels that say most about how strokes continue under it (told the square at 2304
       floats, 128 held-out images, distrusting that one-pixel ring as well raises the error from 14.1
       to 20.6).
       With ``box_fill`` > 0, where the detector's distrust fills at least that share of the box
       bounding it (one compact region, as one occluder makes), the whole box is distrusted too
       (:func:`fill_box`): the detector trusts pixels inside an occluder that agree with the blurred
       stored image (ink around its strokes under a square of ones), in blobs wider than the region
       prior's window and often sure of them, and ``rerank`` and the fill's mixture then weigh the
       candidates on them as if they were intact (2304 floats, 512 held-out images: ones 21.0 → 18.5).
       With ``loo_z`` > 0, the leave-one-out test: each trusted pixel's residual under the
       Gaussian read given every other pixel (:func:`leave_one_out_z`; the distrusted ones at
       the first fill) is standardised, and where more than ``loo_count`` trusted pixels of a
       query lie beyond ``loo_z``, those pixels are distrusted. The detector judges each pixel
       against the blurred decoded image alone and trusts scattered corruption (a noisy or
       flipped pixel here and there) that the pixel's neighbours contradict; the count keeps
       the test off queries whose only outliers are the few that intact images show too; it is
       calibrated on clean training queries at ``loo_z`` = 5, not on any corruption
       (:func:`ebmm.meta.outlier_test.calibrate_leave_one_out`). Held out it trades every square
       fill (0.5–1.7 pixels higher) for scattered corruption (10 % scattered noise at 16,128
       floats: 21.7 → 1.3): docs/image-memories.md.
    4. With ``rerank``, the candidates are ranked again by the squared distance on the pixels now
       trusted, as under the clamped protocol, before the fill: the first ranking sees the
       occluder too, and a square of ink pushes the right image out of the 16 candidates for
       about one query in twenty at 2304 floats."""
    t = judge_trust(energy, static, theta, queries, known)
    held, logits, cand = t.held, t.logits, t.cand
    plan = None  # the read's plan, where the test's own plan still holds (nothing distrusted, no second ranking)
    if known is None:
        if energy.loo_z:  # trusted pixels their neighbours contradict, where a query has more than intact ones do
            plan = read_plan(t.precision, cand, t.q, held, t.gamma)
            out = held & (leave_one_out_z(t.precision, cand, t.q, held, t.gamma, plan=plan).abs() > energy.loo_z)
            fired = out & (out.sum(-1, keepdim=True) > energy.loo_count)
            if fired.any():
                held, plan = held & ~fired, None
        if energy.region_keep or energy.trust_margin or energy.loo_z:
            logits = torch.where(held, logits, -logits.abs())
        if energy.rerank:  # the candidates again, ranked on the pixels now trusted (as told pixels are)
            cand, _ = candidates(energy, static, t.flat, t.decoded, known=held.reshape(t.flat.shape).to(t.flat.dtype))
            plan = None
    if plan is None:
        plan = read_plan(t.precision, cand, t.q, held, t.gamma)
    d, lead = energy.dim, queries.shape[:-3]

    def direction(_theta: Params, x: Tensor) -> Tensor:
        return plan.newton_direction(x.reshape(-1, d)).reshape(x.shape)

    return ConditionedRead(plan.start(t.q).reshape(queries.shape), held.reshape(queries.shape),
                           torch.sigmoid(logits).reshape(*lead, d), direction)


@dataclass
class MemoryTrust:
    """What :func:`judge_trust` found for queries ``q (Q, D)`` (flattened; ``flat`` with their
    leading axes): the decoded slots ``decoded (..., S, D)``, the candidates ``cand (Q, k, D)``,
    the trusted pixels ``held (Q, D)`` and the detector's ``logits (Q, D)`` against the chosen
    candidate, and the Gaussian read's ``precision`` Λ and ``gamma`` γ."""

    q: Tensor
    flat: Tensor
    decoded: Tensor
    cand: Tensor
    held: Tensor
    logits: Tensor
    precision: Tensor
    gamma: Tensor


def judge_trust(energy: EnergyModel, static: Params, theta: Params, queries: Tensor, known: Tensor | None = None) -> MemoryTrust:
    """Steps 1–3 of :func:`condition_on_memory`: the candidates, the choice among them and the
    trust against the chosen one, with the region prior, ``region_keep`` and ``trust_margin``;
    not the leave-one-out test nor ``rerank``, which :func:`condition_on_memory` applies on top.
    With ``known`` the trust is exactly the known pixels (logits ±20)."""
    d = energy.dim
    slots = theta["memory.weight"]
    flat = queries.flatten(-3)
    decoded = energy.decoded_slots(static, slots)  # (..., S, D)
    told = None if known is None else known.expand(queries.shape).flatten(-3).to(flat.dtype)
    cand, cost = candidates(energy, static, flat, decoded, known=told)  # (Q, k, D), (Q, k)
    q = flat.reshape(-1, d)
    prec, gamma = static["residual_precision"], static["log_residual_weight"].exp()
    rows = torch.arange(q.shape[0], device=q.device)
    if known is None and energy.has_matcher:
        with torch.no_grad():  # the matcher's likeliest candidates, each judged by its own trusted pixels
            best, judged, trusted, rank, scores = rechecked(energy, static, q, cand, cost)
            if energy.choice_weights or energy.outlier_cost > 0:  # a weighing of what each candidate's trust says
                weights = energy.choice_weights or fixed_rule_weights(energy.outlier_cost)  # learned (fit_choice_weights) or the rule
                region = any(weights[REGION_FEATURES])  # weights that ignore the region features skip their plans
                nll = choice_features(energy, static, q, judged, trusted, rank, scores, region) @ torch.tensor(weights, dtype=q.dtype, device=q.device)
            else:  # every candidate judged on the same pixels: those that agree with at least one of them
                nll = read_plan(prec, judged, q, trusted.any(-2), gamma).costs
            choice = torch.gather(best, -1, nll.argmin(-1, keepdim=True)).squeeze(-1)
    elif known is None:
        with torch.no_grad():  # the candidates' Gaussian costs on the pixels that agree with the first one, by the rule
            first = read_plan(prec, cand, q, energy.detector.rule(q, cand[:, 0], static, "detector.") > 0, gamma)
            choice = first.costs.argmin(-1)
    if known is None:
        logits = energy._detect(static, q, cand[rows, choice])
        held = logits > 0
        if energy.box_fill:  # where the detector's distrust is one compact region, all of the box bounding it
            box = fill_box(~held, energy.shape, energy.box_fill)
        if energy.region:  # an occluder is a region: distrust what lies amid distrust ...
            amid = among_distrusted(~held, energy.shape, energy.region, energy.region_share)
            if energy.region_keep:  # ... unless the detector is sure of the pixel (the occluder's outer ring)
                amid = amid & (logits <= energy.region_keep)
            held = held & ~amid
        if energy.box_fill:
            held = held & ~box
        if energy.trust_margin:  # and what the detector barely trusts, each pixel alone (not widened by the region prior)
            held = held & (logits > energy.trust_margin)
    else:  # told which pixels are intact (the clamped protocol): trust exactly those
        held = known.expand(queries.shape).reshape(-1, d)
        logits = torch.where(held, 20.0, -20.0).to(q.dtype)
    return MemoryTrust(q, flat, decoded, cand, held, logits, prec, gamma)


def rechecked(energy: EnergyModel, static: Params, q: Tensor, cand: Tensor, cost: Tensor) -> tuple[Tensor, ...]:
    """The matcher's ``recheck`` likeliest of each query ``q (Q, D)``'s candidates ``cand (Q, k, D)``
    (ranking costs ``cost (Q, k)``) and what judging them needs: their indices into the candidates
    ``(Q, m)``, decoded images ``(Q, m, D)``, the detector's trust against each ``(Q, m, D)`` (bool),
    ranking costs and matcher scores ``(Q, m)``."""
    scores = detect(energy.matcher, static, "matcher.", q, cand, cost)  # (Q, k)
    best = scores.topk(min(energy.recheck, cand.shape[-2]), dim=-1).indices  # (Q, m)
    judged = torch.gather(cand, -2, best.unsqueeze(-1).expand(*best.shape, energy.dim))  # (Q, m, D)
    trusted = energy._detect(static, q.unsqueeze(-2).expand(judged.shape), judged) > 0  # (Q, m, D)
    return best, judged, trusted, torch.gather(cost, -1, best), torch.gather(scores, -1, best)


#: the most (query, candidate) rows whose read plans :func:`choice_features` builds at once
_PLAN_ROWS = 512


#: what a learned choice among the rechecked candidates weighs (read option ``choice_weights``, one
#: weight each; the candidate with the lowest weighted sum is chosen): the ranking's clipped whitened
#: distance, the matcher's score, then — for the detector's trust against the candidate, and again with
#: the region prior applied to it — the Gaussian cost of the trusted pixels, ½ log det Λ_uu and the
#: number of distrusted pixels; last, ``spread``, the area of the box bounding the pixels distrusted
#: against the candidate, as a share of the image (one occluder covers one region: a query whose square
#: hid nearly all its ink tells the stored images apart mainly by *where* each disagrees with it; its
#: weight is fitted after the others, :func:`ebmm.meta.read_choice.fit_choice_weights`, docs/image-memories.md
#: "A ninth feature"). The recheck's fixed rule is the weights (0, 0, 1, 1, outlier_cost, 0, 0, 0, 0).
#: Weights fitted before ``spread`` existed (eight of them) read as before: its weight is 0.
#: (The distrusted pixels where the query is below and above the candidate, as two more features, were
#: tried: better under binary, worse under noise and ones at 16,128 floats; not kept. The box between the
#: 10 % and 90 % quantiles of the distrusted rows and columns, in place of ``spread``: a negative weight,
#: binary 1.33 → 1.89 at 13,824 floats; not kept.)
CHOICE_FEATURES = ("rank", "matcher", "cost", "half_logdet", "distrusted", "region_cost", "region_half_logdet", "region_distrusted",
                   "spread")
#: the features a read computes from the region prior's view (``choice_features(region=False)`` skips them)
REGION_FEATURES = slice(5, 8)


def fixed_rule_weights(outlier_cost: float) -> tuple[float, ...]:
    """The recheck's fixed rule as ``choice_weights``: the Gaussian cost of the trusted pixels,
    plus ½ log det Λ_uu, plus ``outlier_cost`` nats per distrusted pixel."""
    return (0.0, 0.0, 1.0, 1.0, float(outlier_cost), 0.0, 0.0, 0.0, 0.0)


def box_share(mask: Tensor) -> Tensor:
    """``mask (..., H, W)`` bool -> the area of the smallest axis-aligned box holding every True
    pixel, as a share of ``H·W`` (0: none)."""
    h, w = mask.shape[-2:]
    return bounding_box(mask).flatten(-2).sum(-1).to(torch.float32) / (h * w)


def bounding_box(mask: Tensor) -> Tensor:
    """``mask (..., H, W)`` bool -> bool ``(..., H, W)``: the smallest axis-aligned box holding every
    True pixel (all False where there is none)."""
    def span(v: Tensor) -> Tensor:  # (..., L) -> (..., L): the positions from the first True to the last
        idx = torch.arange(v.shape[-1], device=v.device)
        lo = torch.where(v, idx, v.shape[-1]).min(-1, keepdim=True).values
        hi = torch.where(v, idx, -1).max(-1, keepdim=True).values
        return (idx >= lo) & (idx <= hi)
    return span(mask.any(-1)).unsqueeze(-1) & span(mask.any(-2)).unsqueeze(-2)


def fill_box(distrusted: Tensor, shape: tuple[int, int, int], share: float) -> Tensor:
    """The box to distrust in each of the images ``distrusted (Q, D)`` of ``shape (C, H, W)``: where
    the distrusted pixels (any channel) fill at least ``share`` of the box bounding them, that box
    (every channel), else nothing. One occluder covers one compact region; the pixels inside it
    that the detector trusts (where the blurred stored image agrees with the fill: ink under a
    square of ones) lie inside the box. Scattered distrust fills a small share
    of its box (the whole image) and is left as it is. Keys on no pixel value and no size.
    Returns bool ``(Q, D)``."""
    c, h, w = shape
    grid = distrusted.reshape(-1, c, h, w).any(-3)  # (Q, H, W)
    box = bounding_box(grid)
    area = box.flatten(-2).sum(-1)
    compact = (area > 0) & (grid.flatten(-2).sum(-1) >= share * area)
    box = box & compact[:, None, None]
    return box.unsqueeze(-3).expand(-1, c, h, w).reshape(distrusted.shape)


def choice_features(energy: EnergyModel, static: Params, q: Tensor, judged: Tensor, trusted: Tensor, rank: Tensor,
                    matcher: Tensor, region: bool = True) -> Tensor:
    """:data:`CHOICE_FEATURES` ``(Q, m, F)`` of each query ``q (Q, D)``'s judged candidates
    ``judged (Q, m, D)``, given the detector's trust against each ``trusted (Q, m, D)`` (bool), the
    candidates' ranking costs and matcher scores ``(Q, m)``. Without a region prior
    (``region=0``), or with ``region=False`` (weights that ignore them: their read plans, one
    Cholesky factorisation per candidate, are skipped), the region features repeat the plain ones."""
    d, m = energy.dim, judged.shape[-2]
    prec, gamma = static["residual_precision"], static["log_residual_weight"].exp()
    qs = q.repeat_interleave(m, 0)
    out = [rank, matcher]
    views = [trusted]
    if energy.region and region:
        views.append(trusted & ~among_distrusted(~trusted.reshape(-1, d), energy.shape, energy.region, energy.region_share).reshape(trusted.shape))
    rows = judged.reshape(-1, 1, d)
    for view in views:
        flat_view, parts = view.reshape(-1, d), []
        for i in range(0, rows.shape[0], _PLAN_ROWS):  # a Cholesky factorisation per row: bound the memory
            alone = read_plan(prec, rows[i:i + _PLAN_ROWS], qs[i:i + _PLAN_ROWS], flat_view[i:i + _PLAN_ROWS], gamma)
            parts.append(torch.stack([alone.costs[:, 0], 0.5 * alone.logdet], -1))
            del alone
        both = torch.cat(parts).reshape(-1, m, 2)
        out += [both[..., 0], both[..., 1], (~view).sum(-1).to(q.dtype)]
    if len(views) == 1:
        out += out[2:5]
    c, h, w = energy.shape
    out.append(box_share((~trusted).reshape(*trusted.shape[:-1], c, h, w).any(-3)).to(q.dtype))
    return torch.stack(out, -1)


def among_distrusted(distrusted: Tensor, shape: tuple[int, int, int], window: int, share: float) -> Tensor:
    """Pixels of ``distrusted (Q, D)`` images of ``shape (C, H, W)`` whose ``window × window``
    neighbourhood (every channel) holds more than ``share`` distrusted pixels: an occluder is a
    region, so a pixel amid many that disagree with the stored image is more likely covered than
    one that agrees by chance. Returns bool ``(Q, D)``."""
    c, h, w = shape
    grid = distrusted.reshape(-1, c, h, w).to(torch.float32).mean(-3, keepdim=True)
    frac = nn.functional.avg_pool2d(grid, window, stride=1, padding=window // 2, count_include_pad=False)
    return (frac > share).expand(-1, c, h, w).reshape(distrusted.shape)


def leave_one_out_z(precision: Tensor, cand: Tensor, q: Tensor, held: Tensor, gamma: Tensor, plan: ReadPlan | None = None) -> Tensor:
    """``(Q, D)``: each pixel's standardised leave-one-out residual under the Gaussian read of
    queries ``q (Q, D)`` with trusted pixels ``held (Q, D)`` and candidates ``cand (Q, S, D)``.
    The image is the query with its distrusted pixels at the read's first fill
    (:meth:`~ebmm.energies.gaussian_fill.ReadPlan.start`), μ the candidates' decoded images
    weighed by the fill's responsibilities; under ``N(μ, Λ⁻¹)`` pixel i given all the others
    has mean ``x_i − (Λ(x − μ))_i / Λ_ii`` and variance ``1 / Λ_ii``, so its z-score is
    ``(Λ(x − μ))_i / √Λ_ii``. ``plan``: :func:`read_plan` of these same arguments, where the
    caller has it already (built here otherwise)."""
    plan = read_plan(precision, cand, q, held, gamma) if plan is None else plan
    x = plan.start(q)
    mean = (torch.softmax(-plan.costs, dim=-1).unsqueeze(-2) @ cand).squeeze(-2)
    lam = 0.5 * (precision + precision.T)
    return ((x - mean) @ lam) / lam.diagonal().sqrt()


def gather_slots(decoded: Tensor, top: Tensor) -> Tensor:
    """The decoded images ``(..., S, D)`` of the slots ``top (..., M, k)`` names for each of M
    queries: ``(..., M, k, D)``."""
    lead, d = top.shape[:-1], decoded.shape[-1]
    return torch.gather(decoded.unsqueeze(-3).expand(*lead, decoded.shape[-2], d), -2, top.unsqueeze(-1).expand(*top.shape, d))


def candidates(energy: EnergyModel, static: Params, flat: Tensor, decoded: Tensor, top_only: bool = False, known: Tensor | None = None):
    """The ``candidates`` slots each query ``flat (..., M, D)`` most likely copies among the
    decoded slots ``(..., S, D)`` (:func:`~ebmm.energies.disagreement.rank_slots`; told the
    intact pixels ``known (..., M, D)``, by the squared distance on those alone): their
    decoded images ``(Q, k, D)`` and ranking costs ``(Q, k)``, Q the flattened queries; with
    ``top_only`` the indices ``(..., M, k)`` and costs instead."""
    d = energy.dim
    k = energy.candidates or decoded.shape[-2]
    with torch.no_grad():
        if known is None:
            top, cost = rank_slots(flat, decoded, whitener(static["residual_precision"]), energy.rank_clip, k)  # (..., M, k)
        else:
            gap = (flat.unsqueeze(-2) - decoded.unsqueeze(-3)).pow(2) * known.unsqueeze(-2)  # (..., M, S, D)
            best = gap.sum(-1).topk(min(k, decoded.shape[-2]), dim=-1, largest=False)
            top, cost = best.indices, best.values
    if top_only:
        return top, cost
    k = top.shape[-1]
    return gather_slots(decoded, top).reshape(-1, k, d), cost.reshape(-1, k)


def detection_loss(energy: EnergyModel, static: Params, theta: Params, patterns: Tensor, queries: Tensor,
                   own: Tensor, mask: Tensor | None = None) -> Tensor:
    """The detector's (and matcher's) classification loss, weighted by
    ``detector_loss`` — for each query, the binary cross-entropy between its trust logits
    against the slot that holds its stored image and whether each query pixel is within
    ``detector_tolerance`` of the stored image, plus, with a matcher, the cross-entropy of
    its choice among the query's candidate slots when the own slot is among them
    (``patterns, queries (B, N, C, H, W)``; ``mask (B, N)`` the stored patterns of padded
    episodes; ``own (B, N)`` the slot each stored image is in). Meta-training knows the stored
    images; the read never sees them."""
    d = energy.dim
    x, q = patterns.flatten(-3), queries.flatten(-3)  # (B, N, D)
    slots = theta["memory.weight"]
    all_decoded = energy.decoded_slots(static, slots)
    decoded = torch.gather(all_decoded, -2, own.unsqueeze(-1).expand(*own.shape, d))
    logits = energy._detect(static, q, decoded)
    target = ((q - x).abs() <= energy.detector_tolerance).to(logits.dtype)
    per_pattern = nn.functional.binary_cross_entropy_with_logits(logits, target, reduction="none").mean(-1)  # (B, N)
    if energy.has_matcher:  # cross-entropy of the choice among the candidates, where the own slot is one of them
        top, cost = candidates(energy, static, q, all_decoded, top_only=True)  # (B, N, k)
        k = top.shape[-1]
        scores = detect(energy.matcher, static, "matcher.", q, gather_slots(all_decoded, top), cost)  # (B, N, k)
        hit = top == own.unsqueeze(-1)
        found = hit.any(-1)
        ce = nn.functional.cross_entropy(scores.reshape(-1, k), hit.float().argmax(-1).reshape(-1), reduction="none")
        per_pattern = per_pattern + ce.reshape(found.shape) * found
    if mask is not None:
        per_episode = (per_pattern * mask).sum(-1) / mask.sum(-1).clamp_min(1.0)
    else:
        per_episode = per_pattern.mean(-1)
    return energy.detector_loss * per_episode.mean()
