"""Issue 22: why the compressive memory, its code narrowing with N, misses `replace:64` at N = 192
and 256 — finding the slot, or decoding from it? (A memory with a floor on its code width is
measured without it: the question is what the narrow codes allow.)

    python benchmarks/replace_decoding.py [--memory binary-compressive-replace] [--ns 96,128,160,192,256] [--sets 8]

For each N: ``sets`` sets of N random 128-bit patterns, written through the memory's own write,
queried under ``replace:64`` (64 positions replaced by fresh random bits: about 32 wrong bits at
unknown places). Measures

- how often the query's own slot is the nearest by code distance (where one descent goes), and
  among the 4 nearest (where the candidate read looks);
- the error bits of one descent per query, of the candidate read (4 descents, the lowest energy
  kept), and of one descent *given the query's own slot* (the candidate read's descent towards
  the right slot: what decoding alone can do once the slot is found).

Writes ``replace_decoding.json`` and ``.md``. Not a test.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch

from harness import git_info, write_results  # noqa: E402

import ebmm  # noqa: E402
from ebmm.dynamics.read import read  # noqa: E402
from ebmm.energies.compressive_slots import _pieces, code_width, held_slots  # noqa: E402
from ebmm.memory import EnergyMemory  # noqa: E402
from ebmm.models.ebmm import EBMM, read_batch, read_schedule, write_batch  # noqa: E402
from ebmm.tasks import Distortion, error_bits, random_patterns  # noqa: E402


def with_floor(memory: ebmm.AssociativeMemory, min_width: int, novelty: float = 0.0, misfit: float = 0.0) -> tuple[EBMM, dict]:
    """The memory's model and meta-parameters with a floor ``min_width`` on the code width (0: none,
    whatever the memory had) and the novelty test (τ = ``novelty``, λ = ``misfit``): the same slow
    weights; the writable table's initial value resized to the floor's ``⌊B / min_width⌋`` rows
    (it is zero)."""
    cfg = memory.model.config
    energy = dataclasses.replace(cfg.energy, kwargs={**cfg.energy.kwargs, "min_width": min_width, "novelty": float(novelty),
                                                     "novelty_misfit": float(misfit)})
    model = EBMM.from_config(dataclasses.replace(cfg, energy=energy), memory.model.closed_form)
    table = memory.params["init"]["memory.weight"]
    if table.abs().max() > 0:
        raise ValueError("the memory's table starts non-zero: resizing it would change what it writes")
    init = {**memory.params["init"], "memory.weight": table.new_zeros(model.energy.slots, table.shape[-1])}
    return model, {**memory.params, "init": init}


def without_floor(memory: ebmm.AssociativeMemory) -> ebmm.AssociativeMemory:
    """The memory with no floor on its code width (its weights and read otherwise): what the
    scripts measuring decoding read, where slot i holds pattern i at every N."""
    model, params = with_floor(memory, 0)
    return EnergyMemory(model, params, name=memory.name, info=memory.info)


def replaced_sets(memory: ebmm.AssociativeMemory, n: int, sets: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``sets`` sets of N random patterns ``(sets, N, d)`` and their ``replace:64`` queries, the
    same for the same ``seed`` and N in every script that asks."""
    gen = torch.Generator().manual_seed(seed + n)
    x = random_patterns((sets, n, memory.dim), generator=gen)
    return x, Distortion.parse("replace:64").apply(x, generator=gen)


def own_slot_descent(model, params: dict, theta: dict, q: torch.Tensor, n: int) -> torch.Tensor:
    """The one-descent read of queries ``q (B, N, d)`` towards each query's own slot (slot i holds
    pattern i): the candidate read's descent given the right slot, what decoding alone can do."""
    static = params["static"]
    trust = model.energy.condition_read(static, theta, q).trust  # (B, N, 2, d): the query's evidence
    given = torch.cat([trust, held_slots(theta)[:, :n].unsqueeze(-2)], dim=-2)
    gammas, momenta = read_schedule(params)
    return read(model.energy_fn(static, given), theta, q, gammas, momenta, 0.0, model.grad_x_fn(static, given))[-1]


def measure(memory: ebmm.AssociativeMemory, n: int, sets: int, seed: int) -> dict[str, float]:
    x, q = replaced_sets(memory, n, sets, seed)
    one, four = memory.model.with_read_options(candidates=0), memory.model.with_read_options(candidates=4)
    params, static = memory.params, memory.params["static"]
    theta = write_batch(one, params, x)
    _, sims, _, _ = _pieces(static, theta, q, one.energy.budget)  # (B, N, S): slot i holds pattern i
    own = sims.diagonal(dim1=-2, dim2=-1).unsqueeze(-1)  # (B, N, 1)
    rank = (sims > own).sum(-1)  # slots nearer than the own one
    oracle = own_slot_descent(one, params, theta, q, n)
    return {
        "code_width": int(code_width(torch.tensor(float(n)), memory.dim, one.energy.budget).item()),
        "own_slot_nearest": float((rank == 0).float().mean()),
        "own_slot_in_4_nearest": float((rank < 4).float().mean()),
        "query": float(error_bits(q, x).mean()),
        "one_descent": float(error_bits(read_batch(one, params, theta, q)[:, -1], x).mean()),
        "candidates_4": float(error_bits(read_batch(four, params, theta, q)[:, -1], x).mean()),
        "own_slot_given": float(error_bits(oracle, x).mean()),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--memory", default="binary-compressive-replace", help="a compressive memory (shipped name or file)")
    ap.add_argument("--ns", default="96,128,160,192,256")
    ap.add_argument("--sets", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    memory = without_floor(ebmm.load(args.memory))
    rows = {}
    with torch.no_grad():
        for n in (int(v) for v in args.ns.split(",")):
            rows[n] = measure(memory, n, args.sets, args.seed)
            print(n, {k: round(v, 3) for k, v in rows[n].items()}, flush=True)
    table = ["| N | code floats | own slot nearest | own slot among the 4 nearest | query | one descent | 4 candidates | own slot given |",
             "|---|---|---|---|---|---|---|---|"]
    for n, r in rows.items():
        table.append(f"| {n} | {r['code_width']} | {100 * r['own_slot_nearest']:.1f} % | {100 * r['own_slot_in_4_nearest']:.1f} % | "
                     f"{r['query']:.2f} | {r['one_descent']:.2f} | {r['candidates_4']:.2f} | {r['own_slot_given']:.2f} |")
    record = {"command": "python benchmarks/replace_decoding.py " + " ".join(sys.argv[1:]), "git": git_info(),
              "memory": args.memory, "sets": args.sets, "seed": args.seed, "rows": rows}
    write_results(args.out, "replace_decoding", record,
                  f"`replace:64`: finding the slot or decoding from it ({args.memory}, {args.sets} sets per N, error bits)", table)


if __name__ == "__main__":
    main()
