"""Issue 23: what a gradient-written MLP memory (Titans / TTT) of our budget could recall at best,
beside a delta-rule matrix of the same floats — why the shipped ``mlp_memory-binary-erase`` is the
weakest learned memory.

The trained MLP memory stays at 19–23 error bits at N = 16–32 under ``erase:64`` (the query alone:
32; the shipped one 20.8 / 23.1), whatever its write (docs/fast-weights.md). This asks whether any write could do much better
with that shape, by replacing both learned parts of the memory with idealised ones:

- **the write** is an exact fit: the MLP's weights are optimised to convergence (Adam, ``--fit-steps``)
  on the associative loss ``Σ_t ‖M_W(k_t) − v_t‖²`` of the episode's patterns, from the shipped
  initialisation ``W_0`` (``MLPMemory.init_params``); the delta rule's matrix is the ridge
  least-squares fit of the same loss (``S = V ᵀK (KᵀK + λI)⁻¹``, the delta rule's fixed point);
- **the read** is the library's box read (``decoder="box"`` of
  :func:`ebmm.models._fast_weights.fixed_point_read`) at each query pull of ``--pulls``: the retrieved value is
  decoded by box-constrained least squares on the value encoder, ``min ‖W_v s + b_v − R‖² +
  λ Σ_i |s_q,i| (s_i − s_q,i)²`` over ``s ∈ [−1, 1]^d`` (no mask: a bit is pulled as far as the
  query's value says), and the key of that estimate is read again, ``--iterations`` times.

Keys and values are the shared encoder's random orthonormal projections
(:func:`ebmm.models._fast_weights.init_encoder`): for random patterns no learned projection has
structure to exploit. Each shape's state is counted as the issue counts it: the MLP memory keeps its
update *and* its momentum (``2P`` floats, docs/fast-weights.md), so ``P = 4128``; the rows marked
"momentum not counted" spend all 8256 floats on weights, what the MLP could do if momentum were
not state.

    python benchmarks/mlp_memory_ceiling.py --out results/mlp-memory-ceiling      # ≈ 5 CPU-minutes

Writes ``mlp_memory_ceiling.json`` and ``.md``. A diagnostic of the memory's shape, not a test.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import torch

from harness import git_info, log, machine_info, write_results  # noqa: E402

from ebmm.models.mlp_memory import MLPMemory, mlp, mlp_size  # noqa: E402
from ebmm.models._fast_weights import fixed_point_read, init_box_decoder, init_encoder, keys_of, values_of  # noqa: E402
from ebmm.tasks import Distortion, error_bits, random_patterns  # noqa: E402

#: (label, key_dim k, hidden h, value_dim v, weights counted twice: update and momentum)
MLP_SHAPES = [
    ("MLP 32→56→40 (the shipped shape)", 32, 56, 40, True),
    ("MLP 62→32→64", 62, 32, 64, True),
    ("MLP 71→27→78", 71, 27, 78, True),
    ("MLP 95→23→80", 95, 23, 80, True),
    ("MLP 103→43→86, momentum not counted", 103, 43, 86, False),
]
DELTA_SHAPE = ("delta rule 86 × 96 (ridge fit)", 96, 86)


def best_read(retrieve, enc: dict, x: torch.Tensor, query: torch.Tensor, iterations: int, decode_steps: int,
              pulls: list[float]) -> tuple[float, float]:
    """The library's box read (:func:`ebmm.models._fast_weights.fixed_point_read`) at each query pull λ:
    the lowest mean error bits and its λ (an idealisation: the pull chosen on the scored episodes)."""
    scores = []
    for pull in pulls:
        params = {"encoder": enc, "decoder": init_box_decoder(pull)}
        r = fixed_point_read(params, retrieve, query, iterations, trajectory=False, decoder="box",
                             decode_steps=decode_steps)
        scores.append((float(error_bits(r, x).mean()), pull))
    return min(scores)


def mlp_row(k: int, h: int, v: int, x: torch.Tensor, q: torch.Tensor, gen: torch.Generator, fit_steps: int,
            iterations: int, decode_steps: int, pulls: list[float]) -> tuple[float, float, float]:
    """Error bits of the idealised MLP memory, its pull, and its associative loss per pattern after the fit."""
    enc = init_encoder(gen, x.shape[-1], k, v)
    w0 = MLPMemory(key_dim=k, memory_hidden=h, value_dim=v).init_params(int(torch.randint(1 << 30, (), generator=gen)))
    w0 = w0["initial_memory"]["weights"]
    weights = w0.expand(x.shape[0], -1).clone().requires_grad_()
    keys, values = keys_of(enc, x), values_of(enc, x)
    opt = torch.optim.Adam([weights], lr=1e-2)
    for _ in range(fit_steps):
        opt.zero_grad()
        loss = (mlp(weights, keys, k, h, v) - values).pow(2).sum(-1).mean()
        loss.backward()
        opt.step()
    weights = weights.detach()
    with torch.no_grad():
        err, pull = best_read(lambda key: mlp(weights, key, k, h, v), enc, x, q, iterations, decode_steps, pulls)
    return err, pull, float(loss.detach())


def delta_row(k: int, v: int, x: torch.Tensor, q: torch.Tensor, gen: torch.Generator, iterations: int,
              decode_steps: int, pulls: list[float], ridge: float = 0.1) -> tuple[float, float]:
    """Error bits of the idealised delta-rule matrix (ridge least-squares fit of the same loss), and its pull."""
    enc = init_encoder(gen, x.shape[-1], k, v)
    keys, values = keys_of(enc, x), values_of(enc, x)  # (B, N, k), (B, N, v)
    gram = keys.transpose(-1, -2) @ keys + ridge * torch.eye(k)
    s = torch.linalg.solve(gram, keys.transpose(-1, -2) @ values).transpose(-1, -2)  # (B, v, k)
    return best_read(lambda key: key @ s.transpose(-1, -2), enc, x, q, iterations, decode_steps, pulls)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--patterns", default="16,32,64,96", help="comma-separated N")
    ap.add_argument("--episodes", type=int, default=8, help="episodes per N (each its own encoder and fit)")
    ap.add_argument("--fit-steps", type=int, default=500, help="Adam steps of the idealised write")
    ap.add_argument("--iterations", type=int, default=3, help="fixed-point iterations of the read")
    ap.add_argument("--decode-steps", type=int, default=30, help="FISTA steps of each box decode")
    ap.add_argument("--pulls", default="0.3,3,30,300", help="comma-separated query pulls λ; each cell keeps its best")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ns = [int(n) for n in args.patterns.split(",")]
    pulls = [float(p) for p in args.pulls.split(",")]
    erase = Distortion.parse("erase:64")
    rows: dict[str, dict] = {}
    for n in ns:
        gen = torch.Generator().manual_seed(args.seed * 1000 + n)
        x = random_patterns((args.episodes, n, 128), generator=gen)
        q = erase.apply(x, generator=gen)
        rows.setdefault("the query", {"floats": 0, "errors": {}})["errors"][n] = float(error_bits(q, x).mean())
        label, k, v = DELTA_SHAPE
        row = rows.setdefault(label, {"floats": k * v, "errors": {}, "pull": {}})
        row["errors"][n], row["pull"][n] = delta_row(k, v, x, q, gen, args.iterations, args.decode_steps, pulls)
        for label, k, h, v, momentum in MLP_SHAPES:
            err, pull, loss = mlp_row(k, h, v, x, q, gen, args.fit_steps, args.iterations, args.decode_steps, pulls)
            row = rows.setdefault(label, {"floats": (2 if momentum else 1) * mlp_size(k, h, v), "errors": {},
                                          "pull": {}, "fit_loss": {}})
            row["errors"][n], row["pull"][n], row["fit_loss"][n] = err, pull, loss
        log(f"N = {n}: " + ", ".join(f"{name.split(' (')[0]} {r['errors'][n]:.2f}" for name, r in rows.items()))
    record = {"command": "python " + " ".join(shlex.quote(a) for a in sys.argv), "git": git_info(),
              "machine": machine_info(args.threads), "args": {k: str(v) for k, v in vars(args).items()}, "rows": rows}
    table = [
        f"Error bits per pattern under `erase:64`, {args.episodes} episodes per N, idealised write (exact fit) "
        f"and the box read ({args.iterations} fixed-point iterations of {args.decode_steps} FISTA steps; each cell at "
        f"the best of the query pulls λ = {args.pulls}, chosen on the same episodes); "
        "state floats as counted for the memory (the MLP's update and momentum):",
        "",
        "| memory | state floats | " + " | ".join(f"N = {n}" for n in ns) + " |",
        "|---|---|" + "---|" * len(ns),
        *(f"| {name} | {r['floats'] or '—'} | " + " | ".join(f"{r['errors'][n]:.2f}" for n in ns) + " |"
          for name, r in rows.items()),
        "",
        "The pull each cell chose: " + "; ".join(f"{name.split(' (')[0]}: " + " / ".join(f"{r['pull'][n]:g}" for n in ns)
                                                  for name, r in rows.items() if "pull" in r) + ".",
        "",
        "Associative loss per pattern after the fit (|v|² ≈ v): "
        + "; ".join(f"{name.split(' (')[0]}: " + " / ".join(f"{r['fit_loss'][n]:.2g}" for n in ns)
                    for name, r in rows.items() if "fit_loss" in r) + ".",
    ]
    write_results(args.out, "mlp_memory_ceiling", record, "An idealised MLP memory against an idealised delta rule "
                  "at 8256 floats (issue 23)", table)


if __name__ == "__main__":
    main()
