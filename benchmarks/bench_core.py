"""Core performance benchmark of ebmm on CPU: meta-training step speed, achieved FLOP/s, and
write/read latency through the public API, all measured in one run against a dense-matmul
reference measured in that same run.

    python benchmarks/bench_core.py                # ~6 min on a loaded 2-core machine
    python benchmarks/bench_core.py --quick        # ~1.5 min, smaller cases
    python benchmarks/bench_core.py --compile      # + torch.compile'd log-cosh step (+~5 min)

What it measures (see benchmarks/README.md for how to read it):

1. The reference: float32 ``(n, n) @ (n, n)`` matmul FLOP/s (n = 1024), with the same thread
   count, at the start and at the end of the run (their ratio shows how much the machine's speed
   drifted: other processes, frequency scaling), and in short bursts right before and after each
   measurement, whose mean is that measurement's *local reference*.
2. Meta-training step time of exactly what :class:`ebmm.meta.trainer.MetaStep` runs
   (``grad_and_value`` of ``meta_loss`` over a batch of episodes), eager, for the "fast" preset
   (log-cosh energy) and the paper's gated RNN at reduced size; with ``--compile`` also the
   compiled log-cosh step (compile time reported separately from steady-state time).
3. FLOPs per step, counted by ``torch.utils.flop_counter.FlopCounterMode`` on the meta device
   (no arithmetic is done; the count is checked against a real-tensor count for the log-cosh
   step). The counter only counts matmul-like ops (mm, bmm, addmm, convolution, attention):
   the elementwise work (log-cosh, tanh, sigmoid, softplus, the update rules) is not counted.
   Achieved FLOP/s = counted FLOPs / step time, reported as a fraction of the local reference.
4. Write and read latency for N = 64 patterns of 128 bits through ``memory.write(x)`` and
   ``memory.read(q, state)`` (validation and numpy conversion included), for the log-cosh
   memory and the three Hopfield rules; median over repeats.

Results go to ``<out>/core.json`` and ``<out>/core.md`` (``core_quick.*`` with ``--quick``,
``*_compile`` with ``--compile``), with the command, git commit and machine that made them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from harness import FlatFlopCounter, dense_matmul, git_info, log, machine_info, summary, time_calls

from ebmm import HopfieldMemory
from ebmm.models.hopfield import HOPFIELD_RULES
from ebmm.config import MemoryConfig
from ebmm import EnergyMemory
from ebmm.models.ebmm import EBMM, MetaParams, init_params
from ebmm.meta.trainer import MetaStep
from ebmm.presets import PRESETS
from ebmm.tasks import sample_episodes

REPO = Path(__file__).resolve().parent.parent
MATMUL_N = 1024
DISTORTION = "erase:64"  # the trainer's default distortion, also used for the latency queries
MATMUL_OPS = {"aten::mm", "aten::bmm", "aten::addmm", "aten::baddbmm", "aten::addbmm", "aten::matmul"}


# --- cases -------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class StepCase:
    """One meta-step configuration to time."""

    key: str  # short identifier, used in the JSON
    label: str  # row label in the table
    preset: str  # "fast" or "paper" (ebmm.presets)
    hidden: int | None  # overrides the energy's hidden size (None: the preset's)
    episodes: int  # B, episodes per meta-step
    patterns: int = 96  # N stored per episode
    warmup: int = 1  # untimed calls before timing
    min_reps: int = 3  # timed calls, at least ...
    min_seconds: float = 0.0  # ... and until this much time has passed
    forward_reps: int = 1  # timed calls of the forward pass alone (meta_loss, no outer grad)
    closed_form: bool = True  # the energy's closed-form gradients where it has them (slots)

    def memory_config(self) -> MemoryConfig:
        config = PRESETS[self.preset][0]
        if self.hidden is None:
            return config
        energy = dataclasses.replace(config.energy, kwargs={**config.energy.kwargs, "hidden": self.hidden})
        return dataclasses.replace(config, energy=energy)


def step_cases(quick: bool) -> list[StepCase]:
    """The eager cases: the fast preset at its training size, the gated RNN reduced."""
    if quick:
        return [
            StepCase("fast", "fast (log-cosh)", "fast", None, 16, warmup=1, min_reps=3, min_seconds=2.0, forward_reps=2),
            StepCase("fast_func", "fast (log-cosh), torch.func", "fast", None, 16, warmup=1, min_reps=3, min_seconds=2.0,
                     forward_reps=2, closed_form=False),
            StepCase("slots", "slots, closed form", "slots", None, 16, warmup=1, min_reps=3, min_seconds=2.0, forward_reps=2),
            StepCase("gated256", "paper gated RNN, hidden 256", "paper", 256, 1, warmup=0, min_reps=3),
        ]
    return [
        StepCase("fast", "fast (log-cosh)", "fast", None, 16, warmup=1, min_reps=10, min_seconds=10.0, forward_reps=5),
        # the same step through torch.func (the reference path, and the eager step before the
        # closed-form gradients existed): the denominator of the speed-up
        StepCase("fast_func", "fast (log-cosh), torch.func", "fast", None, 16, warmup=1, min_reps=10, min_seconds=10.0,
                 forward_reps=5, closed_form=False),
        # the slot energy's sequential write (96 gradient steps per write), with its closed-form
        # gradients and with torch.func (the reference path), same episodes
        StepCase("slots", "slots, closed form", "slots", None, 16, warmup=1, min_reps=10, min_seconds=10.0, forward_reps=5),
        StepCase("slots_func", "slots, torch.func", "slots", None, 16, warmup=1, min_reps=5, min_seconds=10.0, forward_reps=3,
                 closed_form=False),
        # Long steps (tens of seconds): no warm-up, the median of 3 discards a slow first call.
        StepCase("gated256", "paper gated RNN, hidden 256", "paper", 256, 8, warmup=0, min_reps=3),
        StepCase("gated1024", "paper gated RNN, hidden 1024", "paper", None, 1, warmup=0, min_reps=3),
    ]


def count_step_flops(arch: EBMM, params: MetaParams, x: torch.Tensor, q: torch.Tensor) -> dict[str, Any]:
    """Matmul FLOPs of one meta-step, by op, counted with the step's inputs as given."""
    step = MetaStep(arch, compile=False)
    with FlatFlopCounter() as counter:
        step(params, x, q)
    by_op = {str(op): int(n) for op, n in counter.get_flop_counts()["Global"].items()}
    return {"total": int(counter.get_total_flops()), "by_op": by_op}


def count_step_flops_meta(arch: EBMM, params: MetaParams, episodes: int, patterns: int) -> dict[str, Any]:
    """The same count on the meta device: shapes only, no arithmetic, so it is free at any size."""
    meta = {g: {k: v.to("meta") for k, v in d.items()} for g, d in params.items()}
    x = torch.empty(episodes, patterns, arch.dim, device="meta")
    return count_step_flops(arch, meta, x, torch.empty_like(x))


def op_breakdown(fn: Callable[[], Any], top: int = 8) -> dict[str, Any]:
    """Where one call of ``fn`` spends its CPU time, by op (torch.profiler self time)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    events = [(e.key, e.self_cpu_time_total, e.count) for e in prof.key_averages()]
    total = sum(t for _, t, _ in events) or 1.0
    events.sort(key=lambda e: -e[1])
    return {
        "matmul_share": sum(t for k, t, _ in events if k in MATMUL_OPS) / total,
        "ops_called": sum(c for _, _, c in events),
        "top_ops": [{"op": k, "share": t / total, "calls": c} for k, t, c in events[:top]],
    }


def bench_step(case: StepCase, seed: int, reference: Callable[[str], float], *, compile: bool = False) -> dict[str, Any]:
    """Time one meta-step configuration between two reference bursts (``reference(label)``
    returns the reference FLOP/s measured now);
    with ``compile`` the first call (compilation) is timed apart from the steady state.

    The forward pass alone (``loss`` without the outer gradient) is timed interleaved with the
    steps, so that its share of the step is measured under the same load."""
    config = case.memory_config()
    arch = EBMM.from_config(config, closed_form=case.closed_form)
    params = init_params(arch, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    x, q = sample_episodes(case.episodes, case.patterns, arch.dim, DISTORTION, generator=gen)
    result: dict[str, Any] = {
        "key": case.key + ("_compiled" if compile else ""),
        "label": case.label + (", compiled" if compile else ""),
        "energy": config.energy.kind,
        "energy_kwargs": config.energy.kwargs,
        "episodes": case.episodes,
        "patterns": case.patterns,
        "read_steps": config.read.steps,
        "write_steps": config.write.steps,
        "compiled": compile,
        "flops": count_step_flops_meta(arch, params, case.episodes, case.patterns),
    }
    step = MetaStep(arch, compile=compile)
    warmup = case.warmup
    if compile:
        t0 = time.perf_counter()
        step(params, x, q)
        result["compile_s"] = time.perf_counter() - t0
        warmup = max(warmup, 2)
    elif case.key == "fast":  # a real-tensor count (also a warm-up call) checks the meta-device count
        result["flops_real_tensors"] = count_step_flops(arch, params, x, q)["total"]
    for _ in range(warmup):
        step(params, x, q)

    def forward():
        with torch.no_grad():  # write's inner torch.func transforms still run
            arch.loss(params, x, q)

    before = reference(f"before {result['key']}")
    steps: list[float] = []
    forwards: list[float] = []
    start = time.perf_counter()
    while len(steps) < case.min_reps or time.perf_counter() - start < case.min_seconds:
        steps.append(_timed(lambda: step(params, x, q)))
        if not compile and len(forwards) < case.forward_reps:
            forwards.append(_timed(forward))
    result["reference_flops_per_s"] = [before, reference(f"after {result['key']}")]
    result["step"] = summary(steps)
    if forwards:
        result["forward"] = summary(forwards)
    if not compile:
        result["profile"] = op_breakdown(lambda: step(params, x, q))
    return result


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def bench_latency(n: int, dim: int, seed: int, min_reps: int, min_seconds: float) -> list[dict[str, Any]]:
    """Write and read latency through the public API, one episode of ``n`` patterns."""
    gen = torch.Generator().manual_seed(seed)
    x, q = sample_episodes(1, n, dim, DISTORTION, generator=gen)
    patterns, queries = x[0].numpy(), q[0].numpy()  # what a user passes: numpy (N, d)
    memories: list[tuple[str, Any]] = [("log-cosh (fast preset, untrained)", EnergyMemory(PRESETS["fast"][0], name="logcosh")),
                                       ("slot energy (slots preset, the shipped memories' layout)",
                                        EnergyMemory(PRESETS["slots"][0], name="slots"))]
    memories += [(f"hopfield-{rule} (sync)", HopfieldMemory(rule, dim=dim)) for rule in HOPFIELD_RULES]
    rows = []
    for label, memory in memories:
        write = time_calls(lambda: memory.write(patterns), warmup=2, min_reps=min_reps, min_seconds=min_seconds)
        state = memory.write(patterns)
        read = time_calls(lambda: memory.read(queries, state), warmup=2, min_reps=min_reps, min_seconds=min_seconds)
        steps = memory.read(queries, state, trajectory=True).shape[0] - 1  # read iterations / sweeps
        rows.append({
            "memory": label, "name": memory.name, "patterns": n, "dim": dim, "distortion": DISTORTION,
            "write": {**summary(write), "profile": op_breakdown(lambda: memory.write(patterns), top=5)},
            "read": {**summary(read), "profile": op_breakdown(lambda: memory.read(queries, state), top=5)},
            "read_iterations": int(steps),
        })
    return rows


# --- the report --------------------------------------------------------------------------------
def derive(result: dict[str, Any]) -> None:
    """Add the ratios against the run's own reference to every measurement, in place.

    Each measurement is bracketed by two reference bursts; its *local* reference is their mean.
    ``cost`` = seconds × local reference FLOP/s: the dense-matmul work the machine could have
    done in that time, which cancels most of the load's drift between measurements. Every
    "vs" ratio is a ratio of costs."""
    ref = result["reference"]
    start, end = ref["bursts"][0], ref["bursts"][-1]
    ref["start_flops_per_s"], ref["end_flops_per_s"] = start["flops_per_s"], end["flops_per_s"]
    ref["end_over_start"] = end["flops_per_s"] / start["flops_per_s"]
    ref["mean_flops_per_s"] = (start["flops_per_s"] + end["flops_per_s"]) / 2
    all_bursts = [b["flops_per_s"] for b in ref["bursts"]]
    ref["min_over_max"] = min(all_bursts) / max(all_bursts)

    for s in result["meta_steps"]:
        local = statistics.mean(s["reference_flops_per_s"])
        t = s["step"]["median_s"]
        s["reference_local_flops_per_s"] = local
        s["steps_per_s"] = 1 / t
        s["achieved_flops_per_s"] = s["flops"]["total"] / t
        s["fraction_of_dense_matmul"] = s["achieved_flops_per_s"] / local
        s["cost_gflop_eq"] = t * local / 1e9
        if "forward" in s:
            s["forward_share"] = s["forward"]["median_s"] / t
    # the denominator: the log-cosh step through torch.func, i.e. the eager step as it was before
    # the closed-form gradients (falls back to the closed-form step when that case was not run)
    by_key = {s["key"]: s for s in result["meta_steps"]}
    fast = by_key.get("fast_func", by_key.get("fast"))
    result["cost_reference_key"] = fast["key"] if fast else None
    for s in result["meta_steps"]:
        s["cost_vs_fast_eager"] = s["cost_gflop_eq"] / fast["cost_gflop_eq"] if fast else None
        if "compile_s" in s and fast:
            s["speedup_vs_eager"] = fast["cost_gflop_eq"] / s["cost_gflop_eq"]
            s["compile_in_eager_steps"] = s["compile_s"] * s["reference_local_flops_per_s"] / 1e9 / fast["cost_gflop_eq"]
            saved = fast["cost_gflop_eq"] - s["cost_gflop_eq"]
            s["break_even_steps"] = s["compile_s"] * s["reference_local_flops_per_s"] / 1e9 / saved if saved > 0 else None

    local = statistics.mean(result["latency_reference_flops_per_s"])
    base = result["latency"][0]
    for row in result["latency"]:
        for phase in ("write", "read"):
            row[phase]["cost_mflop_eq"] = row[phase]["median_s"] * local / 1e6
            row[f"{phase}_vs_logcosh"] = row[phase]["median_s"] / base[phase]["median_s"]

    est = result.get("paper_estimate")
    if est and est.get("from_key"):
        src = next(s for s in result["meta_steps"] if s["key"] == est["from_key"])
        est["cost_gflop_eq"] = est["flops"] / src["fraction_of_dense_matmul"] / 1e9
        est["estimated_step_s"] = est["cost_gflop_eq"] * 1e9 / ref["mean_flops_per_s"]
        est["cost_vs_fast_eager"] = est["cost_gflop_eq"] / fast["cost_gflop_eq"] if fast else None


def _g(x: float | None, digits: int = 3) -> str:
    """``digits`` significant digits, without an exponent for large numbers."""
    if x is None:
        return "–"
    return f"{x:,.0f}" if abs(x) >= 10**digits else f"{x:.{digits}g}"


def render_markdown(r: dict[str, Any]) -> str:
    m, ref = r["machine"], r["reference"]
    gf = lambda v: f"{v / 1e9:.1f}"  # noqa: E731
    lines = [
        "# ebmm core benchmark",
        "",
        f"`{r['command']}` — {m['date']}, torch {m['torch']}, {m['threads']} thread(s), {m['cpu_model']} "
        f"({m['cpu_capability']}, {m['logical_cpus']} logical CPUs), commit {str(r['git']['commit'])[:10]}"
        f"{' (dirty)' if r['git']['dirty'] else ''}, {r['wall_s']:.0f} s.",
        f"Load average (1/5/15 min) at start / end: {ref['bursts'][0]['loadavg']} / {ref['bursts'][-1]['loadavg']}.",
        "",
        f"**Reference** — float32 {MATMUL_N}×{MATMUL_N} @ {MATMUL_N}×{MATMUL_N} matmul, median of repeats: "
        f"start {gf(ref['start_flops_per_s'])} GFLOP/s, end {gf(ref['end_flops_per_s'])} GFLOP/s "
        f"(end/start = {ref['end_over_start']:.2f}; slowest/fastest of all {len(ref['bursts'])} bursts = "
        f"{ref['min_over_max']:.2f}). Each measurement below is bracketed by two bursts and compared with their mean "
        "(*local reference*).",
        "",
        "## Meta-training step (`MetaStep`: grad_and_value of the meta-loss; K = 10 read, T = 5 write steps)",
        "",
        "| case | B × N | s / step | local ref GFLOP/s | GFLOP / step (matmul ops) | achieved GFLOP/s "
        "| **fraction of dense matmul** | **cost vs log-cosh torch.func step** | forward share | matmul share of CPU time | ops / step |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in r["meta_steps"]:
        prof = s.get("profile")
        lines.append(
            f"| {s['label']} | {s['episodes']} × {s['patterns']} | {_g(s['step']['median_s'])} "
            f"| {gf(s['reference_flops_per_s'][0])}→{gf(s['reference_flops_per_s'][1])} "
            f"| {_g(s['flops']['total'] / 1e9)} | {_g(s['achieved_flops_per_s'] / 1e9)} | **{s['fraction_of_dense_matmul']:.2f}** "
            f"| **{_g(s['cost_vs_fast_eager'])}** | {_g(s.get('forward_share'), 2)} "
            f"| {_g(prof['matmul_share'], 2) if prof else '–'} | {prof['ops_called'] if prof else '–'} |"
        )
    est = r.get("paper_estimate")
    if est and est.get("estimated_step_s") is not None:
        lines.append(
            f"| paper preset (hidden 1024), *estimate* | {est['episodes']} × {est['patterns']} | ≈{_g(est['estimated_step_s'], 2)} "
            f"| – | {_g(est['flops'] / 1e9)} | – | *assumed = {est['from_key']}'s* | ≈{_g(est['cost_vs_fast_eager'], 2)} | – | – | – |"
        )
    compiled = [s for s in r["meta_steps"] if s.get("compiled")]
    if compiled:
        lines += ["", "## torch.compile", "",
                  "| case | compile (s) | compile, in eager steps | **speed-up vs eager** | break-even steps |",
                  "|---|---|---|---|---|"]
        for s in compiled:
            lines.append(f"| {s['label']} | {s['compile_s']:.0f} | {_g(s['compile_in_eager_steps'])} "
                         f"| **{_g(s['speedup_vs_eager'])}** | {_g(s['break_even_steps'])} |")
    lat = r["latency"]
    lb = r["latency_reference_flops_per_s"]
    lines += [
        "",
        f"## Latency through the public API (N = {lat[0]['patterns']} patterns of {lat[0]['dim']} bits, "
        f"queries `{lat[0]['distortion']}`, median; local ref {gf(lb[0])}→{gf(lb[1])} GFLOP/s)",
        "",
        "| memory | write (ms) | read (ms) | write cost, MFLOP-eq | read cost, MFLOP-eq | **write vs log-cosh** "
        "| **read vs log-cosh** | read iterations | ops / write | ops / read |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in lat:
        w, rd = row["write"], row["read"]
        lines.append(
            f"| {row['memory']} | {w['median_s'] * 1e3:.3g} | {rd['median_s'] * 1e3:.3g} | {_g(w['cost_mflop_eq'])} "
            f"| {_g(rd['cost_mflop_eq'])} | **{_g(row['write_vs_logcosh'])}** | **{_g(row['read_vs_logcosh'])}** "
            f"| {row['read_iterations']} | {w['profile']['ops_called']} | {rd['profile']['ops_called']} |"
        )
    lines += [
        "",
        "FLOPs are counted by `torch.utils.flop_counter.FlopCounterMode` (on the meta device), which counts "
        "matmul-like ops only (mm, bmm, addmm, convolution, attention): elementwise work is not counted, so the "
        "fraction of dense matmul is a lower bound on the work done. *Cost* = seconds × local reference FLOP/s, "
        "in dense-matmul FLOP equivalents; *vs* columns are ratios of costs. *Forward share*: the meta-loss "
        "without the outer gradient, as a fraction of the step. *Ops*: aten op calls per call, nested ones "
        "included (torch.profiler). Hopfield reads stop when no unit changes or after 100 sweeps. Raw seconds depend on the "
        "machine's load; compare the ratios.",
        "",
    ]
    return "\n".join(lines)


# --- main --------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smaller cases and fewer repeats (~1.5 minutes)")
    p.add_argument("--compile", action="store_true", help="also time the torch.compile'd log-cosh step (cold compile: minutes)")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    p.add_argument("--seed", type=int, default=0, help="seeds the parameters, episodes and matmul operands")
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results", help="output folder")
    args = p.parse_args(argv)
    if args.threads < 1:
        p.error(f"--threads must be >= 1, got {args.threads}")
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)
    t_run = time.perf_counter()
    result: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/bench_core.py", *(argv if argv is not None else sys.argv[1:])]),
        "settings": {"quick": args.quick, "compile": args.compile, "threads": args.threads, "seed": args.seed},
        "git": git_info(),
        "machine": machine_info(args.threads),
        "reference": {"bursts": []},
        "meta_steps": [],
        "latency": [],
    }
    bursts: list[dict[str, Any]] = result["reference"]["bursts"]

    def reference(label: str, reps: int = 5 if args.quick else 10) -> float:
        bursts.append(dense_matmul(MATMUL_N, reps, gen, label))
        return bursts[-1]["flops_per_s"]

    log(f"reference matmul {MATMUL_N}³ ...")
    reference("start", reps=10 if args.quick else 20)
    cases = step_cases(args.quick)
    for case in cases:
        log(f"meta-step {case.label}, B={case.episodes} ...")
        result["meta_steps"].append(bench_step(case, args.seed, reference))
        log(f"  {result['meta_steps'][-1]['step']['median_s']:.3g} s/step")
    if args.compile:
        log("meta-step fast (log-cosh), compiled: cold compile takes minutes ...")
        result["meta_steps"].append(bench_step(cases[0], args.seed, reference, compile=True))
        log(f"  compile {result['meta_steps'][-1]['compile_s']:.0f} s")

    # The paper's step at its training size (16 episodes, hidden 1024) is too slow to time here;
    # its FLOPs are exact (meta device) and its time is estimated at the fraction of dense matmul
    # achieved by the last gated RNN case measured.
    paper_arch = EBMM.from_config(PRESETS["paper"][0])
    paper_flops = count_step_flops_meta(paper_arch, init_params(paper_arch, seed=args.seed), 16, 96)
    gated = [s["key"] for s in result["meta_steps"] if s["energy"] == "gated_rnn" and not s["compiled"]]
    result["paper_estimate"] = {"episodes": 16, "patterns": 96, "flops": paper_flops["total"],
                                "from_key": gated[-1] if gated else None}

    log("write/read latency ...")
    before = reference("before latency")
    result["latency"] = bench_latency(64, 128, args.seed, min_reps=5 if args.quick else 20, min_seconds=0.3 if args.quick else 2.0)
    result["latency_reference_flops_per_s"] = [before, reference("after latency")]
    log("reference matmul again ...")
    reference("end", reps=10 if args.quick else 20)
    result["wall_s"] = time.perf_counter() - t_run
    derive(result)

    stem = "core" + ("_quick" if args.quick else "") + ("_compile" if args.compile else "")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2) + "\n")
    md = render_markdown(result)
    (args.out / f"{stem}.md").write_text(md)
    print(md)
    log(f"done in {result['wall_s']:.0f} s: {args.out / stem}.json, .md")
    return result


if __name__ == "__main__":
    main()
