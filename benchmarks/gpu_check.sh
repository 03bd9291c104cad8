#!/usr/bin/env bash
# The GPU check, within a time budget (default 360 s = 6 minutes on one GPU, set GPU_CHECK_BUDGET_S):
#   1. the whole test suite, CUDA-marked tests included, with CUDA present (pass/fail counts);
#   2. the meta-step on CUDA against the CPU (binary fast/paper/slots, images fast/paper/slots);
#   3. a short training of the fast binary preset on CUDA (SIGTERM at its time limit: it checkpoints).
# Each step gets what is left of the budget, up to its own cap; a step with too little left is
# skipped and the summary says so. Run from the repository root of a checkout or a copy of the
# source tree: it puts src/ on PYTHONPATH (an installed ebmm is not needed, only its dependencies,
# and the optional data packages are optional: their tests skip). Results, in GPU_CHECK_OUT
# (default benchmarks/results): gpu_check.{json,md} (the summary), device_speed.{json,md},
# gpu_check_suite.xml (pytest's JUnit report), gpu_check_*.log and gpu_train_fast/ (metrics only).
# GPU_CHECK_DEVICE=cpu runs the same steps without a GPU (to try the script itself).
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
out="${GPU_CHECK_OUT:-benchmarks/results}"
device="${GPU_CHECK_DEVICE:-cuda}"
budget="${GPU_CHECK_BUDGET_S:-360}"
start=$SECONDS
mkdir -p "$out"
left() { echo $(( budget - (SECONDS - start) )); }
cap() { local l; l=$(left); echo $(( l < $1 ? l : $1 )); }   # min(what is left, the step's cap)
declare -A took

python - "$device" <<'PY' || exit 1
import importlib.util, sys, torch
missing = [m for m in ("click", "tqdm", "safetensors", "numpy", "matplotlib", "PIL", "pytest") if importlib.util.find_spec(m) is None]
print(f"Python {sys.version.split()[0]}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
      f"GPU: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}")
if missing:
    sys.exit(f"missing packages: {missing} (pip install -e '.[test]' where a registry is reachable)")
if sys.argv[1] == "cuda" and not torch.cuda.is_available():
    sys.exit("no CUDA device: this script is for a GPU machine (GPU_CHECK_DEVICE=cpu tries it without one)")
PY

echo "== 1. the whole test suite (CUDA-marked tests included)"
plugins=()
if python -c "import importlib.util, sys; sys.exit(importlib.util.find_spec('pytest_benchmark') is None)"; then
    plugins=(-p no:benchmark)  # pytest-benchmark is installed: keep it out of the suite
fi
rm -f "$out/gpu_check_suite.xml" "$out/gpu_check_cuda_ids.txt"
python -m pytest -q -m cuda --collect-only -p no:cacheprovider ${plugins[@]+"${plugins[@]}"} > "$out/gpu_check_cuda_ids.txt" 2>&1
t0=$SECONDS
# SIGINT at the cap: pytest stops, prints its summary and still writes the JUnit report of what ran
timeout -s INT -k 20 "$(cap 250)" python -m pytest -q -p no:cacheprovider ${plugins[@]+"${plugins[@]}"} \
    --junitxml="$out/gpu_check_suite.xml" 2>&1 | tee "$out/gpu_check_suite.log" | tail -n 40
suite_rc=${PIPESTATUS[0]}
took[suite]=$(( SECONDS - t0 ))

echo "== 2. meta-step, CPU vs $device (same episodes, one run)"
rm -f "$out/device_speed.json" "$out/device_speed.md" "$out/gpu_check_speed.log"
t0=$SECONDS
if (( $(left) > 60 )); then
    # every case prints its row as it finishes (kept in the log if the cap cuts the rest)
    timeout "$(cap 150)" python benchmarks/device_speed.py --cpu-steps 1 --gpu-steps 10 --out "$out" \
        2>&1 | tee "$out/gpu_check_speed.log"
    speed_rc=${PIPESTATUS[0]}
else
    echo "skipped: $(left) s of the budget left"; speed_rc=skipped
fi
took[speed]=$(( SECONDS - t0 ))

echo "== 3. training of the fast binary preset on $device"
rm -rf "$out/gpu_train_fast"
t0=$SECONDS
if (( $(left) > 30 )); then
    # SIGTERM at the limit: the trainer checkpoints, says where it stopped and exits with 143
    timeout -s TERM "$(cap 60)" python -m ebmm train binary --preset fast --device "$device" --eval-every 200 \
        --checkpoint-every 200 --out "$out/gpu_train_fast" --quiet 2>&1 | tail -n 3
    train_rc=${PIPESTATUS[0]}
    rm -f "$out/gpu_train_fast/"*.safetensors  # keep the metrics and config, not the weights
else
    echo "skipped: $(left) s of the budget left"; train_rc=skipped
fi
took[train]=$(( SECONDS - t0 ))

echo "== summary"
seconds="{\"suite\": ${took[suite]}, \"speed\": ${took[speed]}, \"train\": ${took[train]}, \"total\": $(( SECONDS - start ))}"
python benchmarks/gpu_check_summary.py --junit "$out/gpu_check_suite.xml" --cuda-ids "$out/gpu_check_cuda_ids.txt" \
    --speed "$out/device_speed.json" --speed-log "$out/gpu_check_speed.log" --train "$out/gpu_train_fast/metrics.jsonl" --seconds "$seconds" --out "$out"
summary_rc=$?
echo "suite rc=$suite_rc speed rc=$speed_rc train rc=$train_rc (143: stopped at its time limit, as intended)" \
     "summary rc=$summary_rc; $(( SECONDS - start )) s in all"
exit "$summary_rc"
