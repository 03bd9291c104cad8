"""Issue 22: a floor on the compressive memory's code width under ``replace:64``: hold fewer
patterns well rather than all of them badly, and give back the query of a pattern no longer held.

    python benchmarks/compressive_floor.py [--memory binary-compressive-replace] [--sets 8] [--save FILE]
    python benchmarks/compressive_floor.py --floors 51 --save FILE --name binary-compressive-both \
        --stem compressive_floor_51       # the floor that drops nothing up to N = 160: one memory for erase and replace

The compressive memory gives each of N patterns ``c = ⌊8256 / N⌋`` floats. Under ``replace:64``
its error per pattern falls steeply with c (``curve`` below: 64 patterns or fewer at full width
are exact; the read decodes 32 wrong bits at unknown places from c ≥ 64 floats and not from c ≤ 51).
Such a curve is not convex, and for an average error the best use of a budget is then on its
lower convex envelope: keep some patterns at a width where decoding works and give the rest
nothing (rate-distortion's time-sharing), rather than everyone a width where it fails. With a
floor ``min_width`` the memory holds at most ``⌊8256 / min_width⌋`` patterns, the newest, and
drops the oldest; the read's novelty test then gives back the query where the read's end
overrode more of the query's bits than τ (``novelty``), counting also how far the nearest stored
code is from the end's bits (weight λ, ``novelty_misfit``), once the memory has dropped patterns.

The script

1. measures the curve: m patterns stored and read at ``⌊8256 / m⌋`` floats each (only stored
   patterns queried), ``sets`` sets per m;
2. chooses the floor, τ and λ on *training* sets (seed + 1000): every floor of ``--floors``, τ on a
   grid, λ on another, the error averaged over ``--choose-ns`` (sets of N patterns, every one queried, the
   dropped ones included);
3. scores the chosen memory on held-out sets (seed) at every N of ``--ns``, through the
   memory's own read (the novelty test inside it), split into patterns held and dropped;
4. with ``--save FILE``, writes the chosen memory (the same meta-parameters, the floor and τ
   set) as a ``.safetensors`` file ``ebmm.load`` reads.

Writes ``compressive_floor.json`` and ``.md`` (``--stem``). Not a test.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from harness import git_info, write_results  # noqa: E402
from replace_decoding import replaced_sets, with_floor  # noqa: E402

import ebmm  # noqa: E402
from ebmm.energies.compressive_slots import code_misfit, code_width, query_overridden  # noqa: E402
from ebmm.memory import EnergyMemory  # noqa: E402
from ebmm.models.ebmm import read_batch, write_batch  # noqa: E402
from ebmm.tasks import error_bits  # noqa: E402


def curve(memory: ebmm.AssociativeMemory, counts: list[int], sets: int, seed: int) -> dict[int, dict[str, float]]:
    """Error bits per stored pattern with m patterns held at ``⌊B / m⌋`` floats each (no floor)."""
    model, params = with_floor(memory, 0)
    rows = {}
    for m in counts:
        x, q = replaced_sets(memory, m, sets, seed)
        out = read_batch(model, params, write_batch(model, params, x), q)[:, -1]
        width = int(code_width(torch.tensor(float(m)), memory.dim, model.energy.budget).item())
        rows[m] = {"width": width, "error_bits": float(error_bits(out, x).mean())}
        print("curve", m, rows[m], flush=True)
    return rows


def reads(memory: ebmm.AssociativeMemory, floor: int, n: int, sets: int, seed: int) -> dict[str, torch.Tensor]:
    """Sets of N patterns written through a memory with the floor and no novelty test, every
    query read: each query's error with the read's end and with the query, and what it overrode."""
    model, params = with_floor(memory, floor)
    x, q = replaced_sets(memory, n, sets, seed)
    theta = write_batch(model, params, x)
    out = read_batch(model, params, theta, q)[:, -1]
    e = model.energy
    return {"read": error_bits(out, x), "query": error_bits(q, x), "overridden": query_overridden(out, q),
            "misfit": code_misfit(params["static"], theta, out, e.budget, e.min_width)}


def choose(memory: ebmm.AssociativeMemory, floors: list[int], taus: list[float], lams: list[float], ns: list[int],
           sets: int, seed: int) -> tuple[int, float, float, dict]:
    """The floor, τ and λ of least error averaged over ``ns`` on training sets (``seed``)."""
    table: dict[str, float] = {}
    for floor in floors:
        runs = [reads(memory, floor, n, sets, seed) for n in ns]
        for tau in taus:
            for lam in lams:
                errs = [torch.where(r["overridden"] + lam * r["misfit"] > tau, r["query"], r["read"]).mean() for r in runs]
                table[f"{floor},{tau:g},{lam:g}"] = float(torch.stack(errs).mean())
        best = min((k for k in table if k.startswith(f"{floor},")), key=table.get)
        print("floor", floor, "best (floor, tau, lambda)", best, round(table[best], 3), flush=True)
    best = min(table, key=table.get)
    floor, tau, lam = best.split(",")
    return int(floor), float(tau), float(lam), table


def score(memory: ebmm.AssociativeMemory, floor: int, tau: float, lam: float, ns: list[int], sets: int,
          seed: int) -> dict[int, dict[str, float]]:
    """Held-out error through the chosen memory's own read, split into patterns held and dropped."""
    model, params = with_floor(memory, floor, tau, lam)
    rows = {}
    for n in ns:
        x, q = replaced_sets(memory, n, sets, seed)
        e = error_bits(read_batch(model, params, write_batch(model, params, x), q)[:, -1], x)
        kept = min(n, model.energy.slots)
        free, free_params = with_floor(memory, 0)
        no_floor = error_bits(read_batch(free, free_params, write_batch(free, free_params, x), q)[:, -1], x)
        plain, plain_params = with_floor(memory, floor)  # the floor without the novelty test
        untested = error_bits(read_batch(plain, plain_params, write_batch(plain, plain_params, x), q)[:, -1], x)
        rows[n] = {"error_bits": float(e.mean()), "held": float(e[:, n - kept:].mean()),
                   "dropped": float(e[:, : n - kept].mean()) if n > kept else None, "patterns_held": kept,
                   "dropped_without_test": float(untested[:, : n - kept].mean()) if n > kept else None,
                   "held_without_test": float(untested[:, n - kept:].mean()),
                   "no_floor": float(no_floor.mean()), "query": float(error_bits(q, x).mean())}
        print("score", n, rows[n], flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--memory", default="binary-compressive-replace", help="a compressive memory (shipped name or file)")
    ap.add_argument("--curve", default="64,96,112,129,147,160,192,256", help="patterns held for the error-against-width curve")
    ap.add_argument("--floors", default="51,56,64,73", help="floors offered (floats per pattern)")
    ap.add_argument("--taus", default=",".join(str(t) for t in range(24, 81, 2)), help="novelty thresholds τ offered (bits)")
    ap.add_argument("--lambdas", default="0,0.25,0.5,1,2", help="weights λ of the code misfit offered")
    ap.add_argument("--choose-ns", default="160,192,256", help="N the choice averages over (training sets)")
    ap.add_argument("--ns", default="16,64,96,128,160,192,256", help="N scored held out")
    ap.add_argument("--sets", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--save", type=Path, help="write the chosen memory here (.safetensors)")
    ap.add_argument("--name", help="the saved memory's name (default: the memory's)")
    ap.add_argument("--stem", default="compressive_floor", help="name of the result files")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ints = lambda s: [int(v) for v in s.split(",")]  # noqa: E731
    memory = ebmm.load(args.memory)
    with torch.no_grad():
        widths = curve(memory, ints(args.curve), args.sets, args.seed)
        floats = lambda s: [float(v) for v in s.split(",")]  # noqa: E731
        floor, tau, lam, choice = choose(memory, ints(args.floors), floats(args.taus), floats(args.lambdas), ints(args.choose_ns),
                                         args.sets, args.seed + 1000)
        rows = score(memory, floor, tau, lam, ints(args.ns), args.sets, args.seed)
    if args.save is not None:
        model, params = with_floor(memory, floor, tau, lam)
        info = {k: v for k, v in memory.info.items() if k != "description"}
        EnergyMemory(model, params, name=args.name or memory.name, info=info).save(args.save)
        print("saved", args.save)
    table = ["Error per stored pattern against its code width (m patterns held at ⌊8256 / m⌋ floats, all of them queried):", "",
             "| patterns held | floats each | error bits |", "|---|---|---|"]
    table += [f"| {m} | {r['width']} | {r['error_bits']:.2f} |" for m, r in widths.items()]
    table += ["", f"Chosen on training sets (N = {args.choose_ns}): floor **{floor}** floats (≤ {rows[max(rows)]['patterns_held']} patterns held), "
              f"novelty τ = **{tau:g}** bits, misfit weight λ = **{lam:g}**. Held out, every pattern queried:", "",
              "| N | patterns held | with the floor | of those held | of those dropped | without the novelty test: held / dropped | without the floor | query |",
              "|---|---|---|---|---|---|---|---|"]
    for n, r in rows.items():
        dropped = "—" if r["dropped"] is None else f"{r['dropped']:.2f}"
        untested = f"{r['held_without_test']:.2f} / " + ("—" if r["dropped_without_test"] is None else f"{r['dropped_without_test']:.2f}")
        table.append(f"| {n} | {r['patterns_held']} | {r['error_bits']:.2f} | {r['held']:.2f} | {dropped} | {untested} | "
                     f"{r['no_floor']:.2f} | {r['query']:.2f} |")
    record = {"command": "python benchmarks/compressive_floor.py " + " ".join(sys.argv[1:]), "git": git_info(),
              "memory": args.memory, "sets": args.sets, "seed": args.seed, "curve": widths,
              "chosen": {"min_width": floor, "novelty": tau, "novelty_misfit": lam}, "choice": choice, "rows": rows}
    write_results(args.out, args.stem, record,
                  f"`replace:64`: a floor on the code width ({args.memory}, {args.sets} sets per N, error bits)", table)


if __name__ == "__main__":
    main()
