"""Capacity: the largest number of stored patterns whose mean error stays within a budget.

``find_capacity`` bisects over N, scoring each probe with the binary protocol
(:func:`~ebmm.evaluation.evaluate_binary`) on at least ``min_patterns`` stored patterns. The
mean error of a memory grows with N (it does for every memory we ship; a probe that breaks
this is reported, not hidden), so the capacity is the last N that passes before the first that
fails. Each probe's mean is given with a normal-approximation confidence interval over its
stored sets, so a user can see how close to the budget the answer is.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch

from ..memory import AssociativeMemory
from ..tasks import BinaryTask, Distortion
from .binary import per_set_errors


@dataclass(frozen=True)
class Probe:
    """One evaluated N: mean error bits and a confidence interval over stored sets."""

    n: int
    mean: float
    low: float
    high: float
    patterns: int


@dataclass(frozen=True)
class Capacity:
    """The result of :func:`find_capacity`."""

    capacity: int  # the largest N found within the budget (0: even N = 1 fails)
    budget: float
    distortion: str
    confidence: float
    probes: list[Probe] = field(default_factory=list)  # in the order evaluated
    monotone: bool = True  # False if a larger N scored better than a smaller failing one

    def as_dict(self) -> dict:
        return asdict(self)


def _probe(memory, task, n, min_patterns, seed, z, clamp_known) -> Probe:
    # every N its own episodes (seed + n), the same for every memory
    errs, _ = per_set_errors(memory, task, n, max(math.ceil(min_patterns / n), 8), seed=seed + n, clamp_known=clamp_known)
    mean = float(errs.mean())
    half = z * float(errs.std(ddof=1)) / math.sqrt(len(errs)) if len(errs) > 1 else float("inf")
    return Probe(n, mean, max(0.0, mean - half), mean + half, len(errs) * n)


def find_capacity(
    memory: AssociativeMemory,
    budget: float = 1.0,
    distortion: str | Distortion = "erase:64",
    *,
    max_n: int = 512,
    min_patterns: int = 1000,
    confidence: float = 0.95,
    seed: int = 1234,
    clamp_known: bool = False,
) -> Capacity:
    """The largest N in ``[1, max_n]`` whose mean error bits are ``<= budget``.

    Doubles N from 1 until a probe fails (or ``max_n``), then bisects between the last pass
    and the first failure. Every probe stores ``≥ min_patterns`` patterns; its interval is the
    mean ± z·(std over sets)/√sets at ``confidence``.
    """
    if budget < 0:
        raise ValueError(f"budget must be >= 0 error bits, got {budget}")
    if max_n < 1 or min_patterns < 1 or not 0 < confidence < 1:
        raise ValueError("max_n and min_patterns must be >= 1 and confidence in (0, 1)")
    dist = Distortion.parse(distortion)
    task = BinaryTask(memory.dim, dist)
    z = float(torch.distributions.Normal(0.0, 1.0).icdf(torch.tensor(0.5 + confidence / 2)))
    probes: dict[int, Probe] = {}

    def passes(n: int) -> bool:
        if n not in probes:
            probes[n] = _probe(memory, task, n, min_patterns, seed, z, clamp_known)
        return probes[n].mean <= budget

    good, bad = 0, None
    n = 1
    while n <= max_n:
        if passes(n):
            good = n
            if n == max_n:
                break
            n = min(2 * n, max_n)
        else:
            bad = n
            break
    if bad is not None:
        while bad - good > 1:
            mid = (good + bad) // 2
            if passes(mid):
                good = mid
            else:
                bad = mid
    ordered = list(probes.values())
    failing = [p.n for p in ordered if p.mean > budget]
    monotone = all(p.mean > budget for p in ordered if failing and p.n > min(failing))
    return Capacity(good, budget, str(dist), confidence, ordered, monotone)


def information_limits(floats: int, distortion: str | Distortion, dim: int = 128) -> dict[str, float]:
    """How many patterns a memory of ``floats`` numbers can hold and still restore every
    query under an erasure of K of ``dim`` bits, by three counts (empty for other distortions:
    where the wrong bits sit is unknown, and no such simple count applies):

    * ``"float32 bits"`` — ``32 · floats / K``: an erasure code needs K bits per pattern beyond
      the K the query keeps (an MDS code: any K of 2K symbols give the rest), and a float32
      holds 32 bits. No memory of this size can do better.
    * ``"linear, exact"`` — ``floats / K``: a memory that keeps c *real* linear measurements
      of each pattern (as the slot memories do) recovers K unknowns exactly by linear algebra
      only with c ≥ K.
    * ``"linear, binary"`` — ``floats / (K / 2)``: the unknowns are bits, so c ≥ K / 2
      measurements suffice for box-constrained recovery (the Donoho–Tanner phase transition
      of vectors at the bounds of a box, δ = ½: Donoho & Tanner, "Counting the faces of
      randomly-projected hypercubes and orthants", 2010); at that N, half the sets succeed.
    """
    d = distortion if isinstance(distortion, Distortion) else Distortion.parse(str(distortion))
    if d.kind != "erase" or not 0 < d.count <= dim:
        return {}
    k = d.count
    return {"float32 bits": 32.0 * floats / k, "linear, exact": floats / k, "linear, binary": floats / (k / 2)}

