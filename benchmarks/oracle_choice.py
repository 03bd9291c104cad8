"""Issue 24: what the image slot read's misses at small sizes are made of. Three reads of the same
held-out queries, one memory:

- ``read``: the memory as it reads (free protocol: it finds the square and chooses the stored image);
- ``right image``: the same read, but the fill made from the stored image the query really copies,
  wherever that image is among the read's candidates (as ``read`` otherwise). What is left beyond
  ``read`` - ``right image`` is the cost of the wrong choices;
- ``told the square``: the clamped protocol (``known``: the read trusts exactly the pixels the
  square left intact). What is left beyond it is the fill itself, from a code of memory-size / 64
  floats per image;
- ``told the square and its ring``: the same, with the intact one-pixel ring around the square
  withheld too — what a trust that distrusts the ring as well (the region prior does) costs.

    python benchmarks/oracle_choice.py --memory results/ratedistortion-omniglot-region-wide/runs/image_slots-2304 \
        --choice-fit results/choice-fit/choice_fit_slots-2304.json --name slots-2304

A diagnostic, not a read: ``right image`` uses the stored images, which no read may see. It
wraps two functions of :mod:`ebmm.energies.memory_trust` for its run (the detector's call on the
chosen candidate, and the last read plan, whose costs it sets to pick the stored image).
Writes ``oracle_choice_NAME.json`` and ``.md``. Not a test.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from pathlib import Path

import torch

from harness import git_info, write_results  # noqa: E402
import read_selection  # noqa: E402

import ebmm  # noqa: E402
from ebmm.energies import image_slots, memory_trust  # noqa: E402
from ebmm.tasks import Occlusion  # noqa: E402
from ebmm.tasks.episodes import task_from_config  # noqa: E402

FILLS = ("noise", "binary", "zeros", "ones", "mix")


class RightImage:
    """While ``active``, the read's last plan fills from ``true (Q, D)``, each query's stored image
    decoded, where it is among the plan's candidates; counts how often it is, and how often the
    read's own choice was it."""

    def __init__(self):
        self.active, self.true, self.chosen = False, None, None
        self.present, self.right = [], []
        self._detect, self._plan = image_slots.ImageSlotEnergy._detect, memory_trust.read_plan

    def __enter__(self):
        spy = self

        def detect(energy, static, q, d):
            if d.dim() == 2:  # the detector on the chosen candidate: the last call before the read's plan
                spy.chosen = d
            return spy._detect(energy, static, q, d)

        def plan(precision, decoded, queries, held, gamma):
            p = spy._plan(precision, decoded, queries, held, gamma)
            if spy.chosen is not None:
                true = (decoded - spy.true.unsqueeze(-2)).abs().sum(-1) < 1e-4  # (Q, k)
                chosen = (decoded - spy.chosen.unsqueeze(-2)).abs().sum(-1) == 0
                spy.present.append(true.any(-1).float().mean().item())
                spy.right.append((true & chosen).any(-1).float().mean().item())
                if spy.active:
                    p.costs = torch.where(true, 0.0, torch.where(true.any(-1, keepdim=True), 1e4, p.costs))
                spy.chosen = None
            return p

        image_slots.ImageSlotEnergy._detect, memory_trust.read_plan = detect, plan
        return self

    def __exit__(self, *exc):
        image_slots.ImageSlotEnergy._detect, memory_trust.read_plan = self._detect, self._plan


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--memory", required=True)
    ap.add_argument("--choice-fit", type=Path, help="a choice_fit.py JSON whose weights the read uses (choice_weights)")
    ap.add_argument("--read", action="append", default=["candidates=16", "recheck=16", "region=3", "region_share=0.1"],
                    metavar="KEY=VALUE", help="read options (JSON values); the default: Figure 3's")
    ap.add_argument("--images", type=int, default=256, help="held-out images per fill")
    ap.add_argument("--name", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    options = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.read)}
    if args.choice_fit:
        weights = json.loads(args.choice_fit.read_text())["weights"]
        options["choice_weights"] = [weights.get(k, 0.0) for k in memory_trust.CHOICE_FEATURES]
    memory = ebmm.load(args.memory).with_read_options(**options)
    task = task_from_config("images", 1024, "mix:16", "omniglot")
    x = read_selection.held_out_images(task, 64, args.images)
    err = lambda r: ((torch.as_tensor(r) > 0.5) != (x > 0.5)).flatten(2).sum(-1).float().mean().item()  # noqa: E731
    state = memory.write(x)
    decoded = memory.model.energy.decoded_slots(memory.params["static"], state.tensors["memory.weight"])  # (B, S, D)
    slot = memory.model.energy.stored_slots(memory.params["static"], state.tensors, x)  # (B, N)
    rows = {}
    with RightImage() as spy:
        spy.true = torch.gather(decoded, 1, slot.unsqueeze(-1).expand(-1, -1, decoded.shape[-1])).flatten(0, 1)
        for fill in FILLS:
            q, hidden = Occlusion(fill, 16).corrupt(x, generator=torch.Generator().manual_seed(5))
            spy.active, spy.present, spy.right = False, [], []
            read = err(memory.read(q, state))
            present, right = sum(spy.present) / len(spy.present), sum(spy.right) / len(spy.right)
            spy.active = True
            forced = err(memory.read(q, state))
            spy.active = False
            told = err(memory.read(q, state, known=~hidden))
            ring = torch.nn.functional.max_pool2d(hidden.flatten(0, 1).float(), 3, stride=1, padding=1).reshape(hidden.shape) > 0.5
            told_ring = err(memory.read(q, state, known=~ring))
            rows[fill] = {"query": err(q), "read": read, "right_image": forced, "told_the_square": told, "told_the_square_and_its_ring": told_ring,
                          "right_image_among_candidates": present, "read_chose_it": right}
            print(fill, rows[fill], flush=True)
    table = [f"{args.memory} ({memory.memory_size()} floats), {x.shape[0] * x.shape[1]} held-out Omniglot images per fill, "
             "mean Hamming error per image:", "",
             "| fill | query | read (free protocol) | fill from the right image | told the square | told the square and its ring | right image among candidates | the read chose it |",
             "|---|---|---|---|---|---|---|---|"]
    table += [f"| {f} | {r['query']:.1f} | {r['read']:.2f} | {r['right_image']:.2f} | {r['told_the_square']:.2f} | {r['told_the_square_and_its_ring']:.2f} | "
              f"{100 * r['right_image_among_candidates']:.1f} % | {100 * r['read_chose_it']:.1f} % |" for f, r in rows.items()]
    record = {"command": shlex.join(sys.argv), "git": git_info(), "memory": args.memory, "read": options,
              "images": int(x.shape[0] * x.shape[1]), "fills": rows, "seconds": time.time() - t0}
    write_results(args.out, f"oracle_choice_{args.name}", record, "What the image slot read's error is made of (issue 24)", table)
    print("\n".join(table))


if __name__ == "__main__":
    main()
