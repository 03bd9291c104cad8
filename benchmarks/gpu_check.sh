#!/usr/bin/env bash
# The GPU check: CUDA-marked tests, the meta-step on CUDA against the CPU (binary fast/paper/slots,
# images fast/paper/slots) and a 2-minute training of the fast binary preset on CUDA.
# Fits in 8 minutes on one GPU. Run from the repository root of a checkout (or a copy of the
# source tree: it puts src/ on PYTHONPATH, so an installed ebmm is not needed, only its
# dependencies). Results: benchmarks/results/device_speed.{json,md}, benchmarks/results/gpu_train_fast/.
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
out=benchmarks/results
mkdir -p "$out"

python - <<'PY' || exit 1
import importlib, sys, torch
missing = [m for m in ("click", "tqdm", "safetensors", "numpy", "matplotlib", "PIL", "pytest") if importlib.util.find_spec(m) is None]
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, GPU: {torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}")
if missing:
    sys.exit(f"missing packages: {missing} (pip install -e '.[test]' where a registry is reachable)")
if not torch.cuda.is_available():
    sys.exit("no CUDA device: this script is for a GPU machine")
PY

echo "== CUDA-marked tests"
timeout 120 python -m pytest -q -m cuda -p no:cacheprovider tests/test_devices.py
tests_rc=$?

echo "== meta-step, CPU vs CUDA (same episodes, one run)"
timeout 300 python benchmarks/device_speed.py --cpu-steps 1 --gpu-steps 10 --out "$out"
speed_rc=$?

echo "== 2-minute training of the fast binary preset on CUDA"
rm -rf "$out/gpu_train_fast"
# SIGTERM after 120 s: the trainer checkpoints and exits cleanly
timeout -s TERM 120 python -m ebmm train binary --preset fast --device cuda --eval-every 200 --checkpoint-every 200 \
    --out "$out/gpu_train_fast" --quiet
python - "$out/gpu_train_fast/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
train = [r for r in rows if "loss" in r]
evals = [r for r in rows if any(k.startswith("eval_") for k in r)]
last = train[-1] if train else {}
print(f"steps in 120 s: {last.get('step')}, steps/s (last window): {last.get('steps_per_s')}")
for r in evals:
    print({k: v for k, v in r.items() if k in ("step", "eval_error_bits")})
PY
rm -f "$out/gpu_train_fast/"*.safetensors  # keep the metrics and config, not the weights
echo "tests rc=$tests_rc speed rc=$speed_rc"
