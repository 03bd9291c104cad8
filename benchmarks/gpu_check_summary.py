"""The summary of ``benchmarks/gpu_check.sh``: test counts from pytest's JUnit XML, the
CUDA-marked tests' outcomes, the meta-step speed rows and the short training run, in one JSON
and one markdown file.

    python benchmarks/gpu_check_summary.py --junit suite.xml [--cuda-ids cuda_ids.txt]
        [--speed device_speed.json] [--speed-log speed.log] [--train metrics.jsonl]
        [--seconds '{"suite": 123}'] --out DIR

Every input but ``--junit`` may be missing (a step that was skipped or timed out): the summary
says so instead of failing. Runs on any machine (``tests/test_devices.py`` runs it on the CPU).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def suite_counts(junit: Path) -> dict:
    """``{tests, passed, failed, errors, skipped, seconds, failures: [node ids], outcomes: {node id: outcome}}``
    from a JUnit XML report (pytest's ``--junitxml``); ``{"missing": reason}`` without one."""
    if not junit.is_file():
        return {"missing": f"no report at {junit} (the suite did not finish: timed out or crashed)"}
    root = ET.parse(junit).getroot()
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    outcomes: dict[str, str] = {}
    seconds = 0.0
    for suite in suites:
        seconds += float(suite.get("time", 0) or 0)
        for case in suite.iter("testcase"):
            node = f"{case.get('classname', '').replace('.', '/')}.py::{case.get('name')}"
            if case.find("failure") is not None:
                outcome = "failed"
            elif case.find("error") is not None:
                outcome = "error"
            elif case.find("skipped") is not None:
                outcome = "skipped"
            else:
                outcome = "passed"
            outcomes[node] = outcome if node not in outcomes or outcome == "error" else outcomes[node]
    counts = {k: sum(v == k for v in outcomes.values()) for k in ("passed", "failed", "error", "skipped")}
    return {"tests": len(outcomes), "passed": counts["passed"], "failed": counts["failed"], "errors": counts["error"],
            "skipped": counts["skipped"], "seconds": round(seconds, 1),
            "failures": sorted(n for n, o in outcomes.items() if o in ("failed", "error")), "outcomes": outcomes}


def cuda_outcomes(ids_file: Path | None, outcomes: dict[str, str]) -> dict[str, str]:
    """The outcome of each CUDA-marked test (``pytest -m cuda --collect-only -q`` lists their ids)."""
    if ids_file is None or not ids_file.is_file():
        return {}
    ids = [line.strip() for line in ids_file.read_text().splitlines() if "::" in line and not line.startswith(" ")]
    return {i: outcomes.get(i, "not run") for i in ids}


def training(metrics: Path | None) -> dict:
    if metrics is None or not metrics.is_file():
        return {"missing": "no metrics (the training step was skipped or did not start)"}
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    steps = [r for r in rows if "loss" in r]
    evals = [{k: r[k] for k in ("step", "eval_error_bits") if k in r} for r in rows if "eval_error_bits" in r]
    last = steps[-1] if steps else {}
    return {"steps": last.get("step"), "steps_per_s": last.get("steps_per_s"), "evaluations": evals}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--junit", type=Path, required=True)
    ap.add_argument("--cuda-ids", type=Path)
    ap.add_argument("--speed", type=Path)
    ap.add_argument("--speed-log", type=Path, help="device_speed.py's output, read when its JSON is missing")
    ap.add_argument("--train", type=Path)
    ap.add_argument("--seconds", default="{}", help="JSON: wall-clock seconds of each step")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)

    import torch

    suite = suite_counts(args.junit)
    outcomes = suite.pop("outcomes", {})
    cuda = cuda_outcomes(args.cuda_ids, outcomes)
    speed = json.loads(args.speed.read_text()) if args.speed and args.speed.is_file() else None
    if speed is None and args.speed_log and args.speed_log.is_file():  # cut by its time cap: the rows it printed
        rows = [json.loads(line) for line in args.speed_log.read_text().splitlines() if line.startswith('{"case"')]
        speed = {"rows": rows, "partial": True} if rows else None
    record = {
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
                    "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
                    "cpu_threads": torch.get_num_threads()},
        "suite": suite, "cuda_tests": cuda, "device_speed": speed, "training": training(args.train),
        "seconds": json.loads(args.seconds),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps(record, indent=2) + "\n")
    m = record["machine"]
    lines = [f"# GPU check: Python {m['python']}, torch {m['torch']} (CUDA {m['cuda']}), GPU {m['gpu']}", ""]
    if "missing" in suite:
        lines.append(f"- whole suite: {suite['missing']}")
    else:
        lines.append(f"- whole suite: {suite['passed']} passed, {suite['failed']} failed, {suite['errors']} errors, "
                     f"{suite['skipped']} skipped of {suite['tests']} in {suite['seconds']} s")
        lines += [f"  - failed: `{n}`" for n in suite["failures"]]
    lines.append("- CUDA-marked tests: " + (", ".join(f"`{n.split('::')[-1]}` {o}" for n, o in cuda.items()) or "none listed"))
    if speed:
        if speed.get("partial"):
            lines.append("- meta-step speed: cut by its time cap; the cases it finished:")
        lines += ["", "| case | CPU s/step | CUDA s/step | speed-up |", "|---|---|---|---|"]
        for r in speed.get("rows", []):
            gpu = f"{r['cuda_s']:.4f}" if r.get("cuda_s") else "—"
            up = f"{r['speedup']:.1f}×" if r.get("speedup") else "—"
            lines.append(f"| {r['case']} | {r['cpu_s']:.3f} | {gpu} | {up} |")
    else:
        lines.append("- meta-step speed: not measured (skipped or timed out)")
    t = record["training"]
    lines.append("- training: " + (t["missing"] if "missing" in t else f"{t['steps']} steps, {t['steps_per_s']} steps/s"))
    lines.append(f"- seconds per step of the check: {record['seconds']}")
    (args.out / "gpu_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if "missing" not in suite and not suite["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
