"""Issue 24: how ambiguous is the ``patch`` fill — a 16×16 square of another *stored* image — to
a read that finds the covering by where the query disagrees with a stored image?

    python benchmarks/patch_ambiguity.py [--sets 8] [--memory omniglot-slots,...]

For held-out Omniglot sets of 64 images, under each fill, which stored image each query is
closest to, with the stored images *exactly* known (an upper bound for any memory that chooses
by disagreement): by Hamming distance, and by the area of the bounding box of the pixels that
disagree (a prior that a covering is one compact region, whatever its values). With
``--memory``, the same for that memory's written slots: how often its ranking
(:func:`ebmm.energies.disagreement.rank_slots`) and, if it has one, its matcher put the own
image first, and how often the ranking's cost times the bounding box of the disagreement (the
same compactness prior on the memory's decoded images) does. Writes ``patch_ambiguity.json`` and ``.md``. Not a test.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from harness import git_info, write_results  # noqa: E402

import ebmm  # noqa: E402
from ebmm.energies.memory_trust import box_share  # noqa: E402
from ebmm.tasks import parse_corruption  # noqa: E402
from ebmm.tasks.episodes import task_from_config  # noqa: E402


def exact_choice(x: torch.Tensor, q: torch.Tensor) -> dict[str, float]:
    """Own-image rates when the stored images ``x (B, N, 1, H, W)`` are known exactly."""
    xb, qb = x > 0.5, q > 0.5
    differ = qb.unsqueeze(2) != xb.unsqueeze(1)  # (B, query, stored, 1, H, W)
    own = torch.arange(x.shape[1])
    ham = differ.flatten(3).sum(-1)
    area = box_share(differ.squeeze(3))
    return {"hamming": (ham.argmin(-1) == own).float().mean().item(),
            "bbox": (area.argmin(-1) == own).float().mean().item()}


def memory_choice(name: str, x: torch.Tensor, q: torch.Tensor) -> dict[str, float]:
    """Own-image rates of a written image slot memory's ranking and matcher."""
    from ebmm.energies.disagreement import detect
    from ebmm.energies.memory_trust import candidates, gather_slots
    from ebmm.energies.image_slots import _pieces
    from ebmm.models.ebmm import write_batch

    mem = ebmm.load(name)
    arch, params = mem.arch, mem.params
    e, static = arch.energy, params["static"]
    with torch.no_grad():
        theta = write_batch(arch, params, x)
        slots, flat = theta["memory.weight"], q.flatten(-3)
        own = _pieces(static, slots, x.flatten(-3), write=True)[2].argmax(-1)
        decoded = e.decoded_slots(static, slots)
        top, cost = candidates(e, static, flat, decoded, top_only=True)
        cand = gather_slots(decoded, top)  # (B, N, k, D)
        # a compactness prior on the decoded candidates: the ranking's cost times the bounding box
        # of the pixels where the query and the candidate disagree by more than 1/2
        area = box_share(((q.flatten(-3).unsqueeze(-2) - cand).abs() > 0.5).reshape(*cand.shape[:-1], *x.shape[-2:]))
        compact = torch.gather(top, -1, (cost * area).argmin(-1, keepdim=True)).squeeze(-1)
        out = {"among candidates": (top == own.unsqueeze(-1)).any(-1).float().mean().item(),
               "ranking first": (top[..., 0] == own).float().mean().item(),
               "ranking x bbox first": (compact == own).float().mean().item()}
        if e.has_matcher:
            pick = torch.gather(top, -1, detect(e.matcher, static, "matcher.", flat, cand, cost).argmax(-1, keepdim=True))
            out["matcher first"] = (pick.squeeze(-1) == own).float().mean().item()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sets", type=int, default=8)
    ap.add_argument("--fills", default="noise,binary,zeros,ones,grey,patch")
    ap.add_argument("--memory", default="", help="comma-separated image slot memories (names or paths)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args()
    task = task_from_config("images", 1024, "noise:16", "omniglot")
    memories = [m for m in args.memory.split(",") if m]
    rows, table = [], ["| fill | ink in the square / image | exact images: Hamming | exact images: bounding box |"
                       + "".join(f" {m}: ranking | ranking × bbox | matcher |" for m in memories),
                       "|---|---|---|---|" + "---|---|---|" * len(memories)]
    for fill in args.fills.split(","):
        g = torch.Generator().manual_seed(5)
        x, q, known = task.sample(args.sets, 64, split="eval", corruption=parse_corruption(f"{fill}:16"), generator=g, known=True)
        ink = ((x > 0.5) & ~known).flatten(2).sum(-1).float().mean().item(), (x > 0.5).flatten(2).sum(-1).float().mean().item()
        row = {"fill": fill, "ink_in_square": ink[0], "ink_per_image": ink[1], "exact": exact_choice(x, q),
               "memories": {m: memory_choice(m, x, q) for m in memories}}
        rows.append(row)
        cells = "".join(f" {r['ranking first']:.2f} | {r['ranking x bbox first']:.2f} | {r.get('matcher first', float('nan')):.2f} |" for r in row["memories"].values())
        table.append(f"| {fill} | {ink[0]:.1f} / {ink[1]:.1f} | {row['exact']['hamming']:.2f} | {row['exact']['bbox']:.2f} |{cells}")
    table += ["", f"Fraction of queries whose own image is chosen first, {args.sets} held-out sets of 64."]
    record = {"command": " ".join(sys.argv), "git": git_info(), "sets": args.sets, "rows": rows}
    write_results(args.out, "patch_ambiguity", record, "Which stored image a covered query is closest to (issue 24)", table)
    print("\n".join(table))


if __name__ == "__main__":
    main()
