"""Issue 24: the queries an image slot read gets wrong under a square of zeros — was the stored
image it copies judged at all, and could any read told only the query have found it?

    python benchmarks/zeros_failures.py --memory M --read KEY=VALUE ... [--fill zeros:16] [--sets 8]

For ``sets`` sets of 64 held-out images (seeds 100, 101, …; not Figure 3's images), read through
the memory as given, every query whose error exceeds ``--wrong`` pixels (a wrong stored image
costs 65–140) is listed with

- its ink: in all, and visible outside the square;
- whether its own stored image (its slot) was among those the read judges — the ``candidates``
  ranked by distance to the whole query, then the matcher's ``recheck`` first of them;
- how many of the set's *exact* stored images agree with the query outside some square of the fill's size
  (within 2 pixels): more than one, and no read told only the query can tell them apart.

Writes ``zeros_failures_NAME.json`` and ``.md``. Not a test.
"""

from __future__ import annotations

import argparse
import sys

import torch

import read_selection  # noqa: E402
from harness import git_info, write_results  # noqa: E402

from ebmm.energies import memory_trust  # noqa: E402
from ebmm.tasks import parse_corruption  # noqa: E402
from ebmm.tasks.episodes import task_from_config  # noqa: E402


def outside_squares(h: int, w: int, side: int = 16) -> torch.Tensor:
    """bool ``(P, H, W)``: for each of the P positions of a ``side × side`` square in an ``H × W``
    image, the pixels outside it."""
    outside = torch.ones(h - side + 1, w - side + 1, h, w, dtype=torch.bool)
    for r in range(h - side + 1):
        for c in range(w - side + 1):
            outside[r, c, r:r + side, c:c + side] = False
    return outside.flatten(0, 1)


def agreeing(images: torch.Tensor, query: torch.Tensor, outside: torch.Tensor, slack: int = 2) -> int:
    """How many binary ``images (S, H, W)`` agree with the binary ``query (H, W)`` outside some
    square of ``outside`` (:func:`outside_squares`), within ``slack`` pixels."""
    off = ((images.unsqueeze(1) != query) & outside).flatten(2).sum(-1)  # (S, positions)
    return int((off.min(-1).values <= slack).sum())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    read_selection.add_arguments(ap, select_images=0)
    ap.add_argument("--fill", default="zeros:16")
    ap.add_argument("--sets", type=int, default=8)
    ap.add_argument("--wrong", type=float, default=30.0, help="the error above which a query counts as read with a wrong image")
    args = ap.parse_args()
    memory, name = read_selection.load(args)
    model, params = memory.model, memory.params
    energy, static = model.energy, params["static"]
    task = task_from_config("images", 1024, "noise:16", "omniglot")
    outside = outside_squares(*task.event_shape[-2:], side=parse_corruption(args.fill).count)
    rows, total = [], []
    for s in range(args.sets):
        x, q, known = task.sample(1, 64, split="eval", corruption=parse_corruption(args.fill),
                                  generator=torch.Generator().manual_seed(100 + s), known=True)
        with torch.no_grad():
            theta = model.write(params, x)
            out = model.read(params, theta, q, False)
            own = energy.stored_slots(static, theta, x)[0]  # (64,)
            decoded = energy.decoded_slots(static, theta["memory.weight"])
            flat = q.flatten(-3)
            top, cost = memory_trust.candidates(energy, static, flat, decoded, top_only=True)  # (1, 64, k)
            cand = memory_trust.gather_slots(decoded, top).reshape(-1, top.shape[-1], energy.dim)
            best = memory_trust.rechecked(energy, static, flat.reshape(-1, energy.dim), cand, cost.reshape(cand.shape[:2]))[0]  # (64, m)
        judged = torch.gather(top[0], -1, best)  # (64, m) slot indices
        err = ((out.flatten(-3) > 0.5) != (x.flatten(-3) > 0.5)).sum(-1)[0]
        total.append(err.float())
        xs, qs, kn = (x[0, :, 0] > 0.5), (q[0, :, 0] > 0.5), known[0, :, 0]
        for i in torch.nonzero(err > args.wrong).flatten().tolist():
            rows.append({"set": s, "query": i, "error": int(err[i]), "ink": int(xs[i].sum()), "visible_ink": int((qs[i] & kn[i]).sum()),
                         "own_judged": bool((judged[i] == own[i]).any()), "agreeing_stored": agreeing(xs, qs[i], outside)})
    errors = torch.cat(total)
    mean = float(errors.mean())
    wrong_share = sum(r["error"] for r in rows) / len(errors)
    table = [f"{args.fill}, {args.sets} sets of 64 held-out images: mean error {mean:.2f} pixels, of which {wrong_share:.2f} from the "
             f"{len(rows)} queries above {args.wrong:g}.", "",
             "| set | query | error | ink | visible ink | own image judged | exact stored images agreeing outside some square |",
             "|---|---|---|---|---|---|---|"]
    table += [f"| {r['set']} | {r['query']} | {r['error']} | {r['ink']} | {r['visible_ink']} | {'yes' if r['own_judged'] else 'no'} | "
              f"{r['agreeing_stored']} |" for r in sorted(rows, key=lambda r: -r["error"])]
    record = {"command": " ".join(sys.argv), "git": git_info(), "memory": args.memory, "read": args.read, "fill": args.fill,
              "mean": mean, "from_wrong": wrong_share, "wrong": rows}
    write_results(args.out, f"zeros_failures_{name}", record, f"Queries read with a wrong stored image, {args.memory} (issue 24)", table)
    print("\n".join(table))


if __name__ == "__main__":
    main()
