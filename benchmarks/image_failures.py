"""Issue 24: where an image slot memory's remaining error lies, image by image — a few
catastrophic reads or many small ones, and what the catastrophic queries look like.

    python benchmarks/image_failures.py --memory RUN_OR_FILE --fill zeros:16 [--read KEY=VALUE ...] [--choice-fit FIT.json]

For ``sets`` held-out sets of 64 Omniglot images under one square fill (free protocol), reads every
query and splits the error: inside / outside the square, at hidden ink the read trusted / did
not, the per-image quantiles, and the share of the error from images with more than 10 wrong
pixels. For those images it reports whether the retrieval is another stored image, how much of
the image's ink the square hid, and whether a compactness rule — the stored image whose
disagreement with the query fits in the smallest bounding box — would have named the right one
(a diagnostic with the stored images known, which no read may see; the read's learned choice
weighs such a box, the ``spread`` feature, since). Writes
``image_failures_NAME.json`` and ``.md``. Not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from harness import git_info, write_results  # noqa: E402

import ebmm  # noqa: E402
from ebmm.energies.memory_trust import CHOICE_FEATURES, box_share  # noqa: E402
from ebmm.tasks.episodes import task_from_config  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--memory", required=True)
    ap.add_argument("--fill", default="zeros:16")
    ap.add_argument("--read", action="append", default=[], metavar="KEY=VALUE", help="read options, VALUE as JSON; repeatable")
    ap.add_argument("--choice-fit", type=Path, help="a choice_fit.py JSON whose weights the read uses (choice_weights)")
    ap.add_argument("--sets", type=int, default=8)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--name", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    options = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.read)}
    if args.choice_fit:
        weights = json.loads(args.choice_fit.read_text())["weights"]
        options["choice_weights"] = [weights.get(k, 0.0) for k in CHOICE_FEATURES]
    memory = ebmm.load(args.memory)
    memory = memory.with_read_options(**options) if options else memory
    task = task_from_config("images", memory.dim, args.fill, "omniglot")
    x, q, known = task.sample(args.sets, 64, split="eval", generator=torch.Generator().manual_seed(args.seed), known=True)
    state = memory.write(x.numpy())  # the written weights the read uses: the trust below is the read's own
    with torch.no_grad():
        held = memory.model.energy.condition_read(memory.params["static"], state.tensors, q).held.expand(q.shape)
    r = torch.as_tensor(memory.read(q.numpy(), state))
    square, ink, wrong = ~known, x > 0.5, (r > 0.5) != (x > 0.5)

    def per_image(m: torch.Tensor) -> float:
        return float(m.float().sum((-3, -2, -1)).mean())

    errors = wrong.float().sum((-3, -2, -1)).flatten()
    bad = (errors > 10).nonzero().flatten().tolist()
    other, own_box = 0, 0
    hidden_share = []
    for i in bad:
        b, own = divmod(i, 64)
        stored = x[b] > 0.5
        if int(((r[b, own] > 0.5).unsqueeze(0) != stored).float().sum((-3, -2, -1)).argmin()) != own:
            other += 1
        hidden_share.append(float((ink[b, own] & square[b, own]).sum() / ink[b, own].sum().clamp_min(1)))
        own_box += int(int(box_share(((q[b, own] > 0.5).unsqueeze(0) != stored)[:, 0]).argmin()) == own)
    row = {
        "error": float(errors.mean()), "inside_square": per_image(wrong & square), "outside_square": per_image(wrong & ~square),
        "hidden_ink_trusted": per_image(square & ink & held), "errors_at_hidden_ink_distrusted": per_image(wrong & square & ink & ~held),
        "quantiles_50_90_99_100": [float(v) for v in errors.quantile(torch.tensor([0.5, 0.9, 0.99, 1.0]))],
        "images": len(errors), "images_over_10": len(bad),
        "share_of_error_from_them": float(errors[errors > 10].sum() / errors.sum().clamp_min(1)),
        "of_them_another_stored_image_returned": other,
        "of_them_mean_share_of_ink_hidden": sum(hidden_share) / max(len(hidden_share), 1),
        "of_them_own_image_has_the_smallest_disagreement_box": own_box,
    }
    print(json.dumps(row, indent=1))
    table = ["| quantity | value |", "|---|---|"] + [f"| {k.replace('_', ' ')} | {v if not isinstance(v, float) else round(v, 3)} |" for k, v in row.items()]
    record = {"command": "python benchmarks/image_failures.py " + " ".join(sys.argv[1:]), "git": git_info(), "row": row}
    write_results(args.out, f"image_failures_{args.name}", record,
                  f"Where the error lies: {args.name} under {args.fill} ({row['images']} held-out Omniglot images)", table)


if __name__ == "__main__":
    main()
