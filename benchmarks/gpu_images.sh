#!/usr/bin/env bash
# The image memory's GPU run, within ~10 minutes on one GPU (issue 24, item 5):
#   1. continue the committed meta-training run of the shipped image slot memory
#      (results/runs/omniglot-slots-2304: 2304 floats, trained on mix:16) for MORE steps on the
#      device — `ebmm train images --resume`, so the run's own episodes, optimiser state and
#      held-out curve carry on where the CPU left them;
#   2. score its best checkpoint under every fill, free protocol, on Omniglot and MNIST.
# The resumed run directory (checkpoint, metrics.jsonl) is copied to GPU_IMAGES_OUT so that it can
# be committed back: the next lent session continues it again.
#
#   GPU_IMAGES_DEVICE   cuda (default) or cpu, to try the script without a GPU
#   GPU_IMAGES_STEPS    how many steps to add (default 2000)
#   GPU_IMAGES_BUDGET_S a time limit for the training (default 420 s; the trainer checkpoints at it)
#   GPU_IMAGES_OUT      where the results go (default benchmarks/results/gpu_images)
#   GPU_IMAGES_MIN_PATTERNS  held-out images scored per data set and fill (default 1024)
#   GPU_IMAGES_RUN      the committed run to continue (default results/runs/omniglot-slots-2304;
#                       results/runs/omniglot-slots-grey-9216 continues omniglot-slots-grey's run)
#   GPU_IMAGES_READ     read options for the scoring, space-separated KEY=VALUE (default the
#                       2304 run's, chosen on the training split: region=3 region_share=0.1
#                       candidates=16 recheck=8; for omniglot-slots-grey's run: region=3 region_share=0.1)
#   EBMM_OMNIGLOT       the Omniglot zips (the GPU machine has no ../shared: carry a copy)
set -uo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
device="${GPU_IMAGES_DEVICE:-cuda}"
more="${GPU_IMAGES_STEPS:-2000}"
budget="${GPU_IMAGES_BUDGET_S:-420}"
out="${GPU_IMAGES_OUT:-benchmarks/results/gpu_images}"
min_patterns="${GPU_IMAGES_MIN_PATTERNS:-1024}"
run="${GPU_IMAGES_RUN:-results/runs/omniglot-slots-2304}"
read_args=()
for kv in ${GPU_IMAGES_READ:-region=3 region_share=0.1 candidates=16 recheck=8}; do read_args+=(--read "$kv"); done
mkdir -p "$out"
[ -f "$run/checkpoint.safetensors" ] || { echo "no committed run to resume in $run"; exit 1; }

done_steps=$(python - "$run" <<'PY'
import sys
from ebmm.checkpoint import load_checkpoint
print(load_checkpoint(sys.argv[1] + "/checkpoint.safetensors").step)
PY
) || exit 1
total=$(( done_steps + more ))
echo "== 1. resume $run on $device: step $done_steps -> $total (at most ${budget} s)"
work="$out/run"
rm -rf "$work" && cp -r "$run" "$work"
# SIGTERM at the budget: the trainer saves its checkpoint and exits with 143
timeout -s TERM "$budget" python -m ebmm train images --resume --out "$work" --steps "$total" --device "$device" --quiet
rc=$?
[ "$rc" = 0 ] || [ "$rc" = 143 ] || { echo "training failed with status $rc"; exit "$rc"; }

echo "== 2. score the best checkpoint under every fill (free protocol), Omniglot and MNIST"
python -m ebmm eval images --memory "$work/best.safetensors" --dataset omniglot,mnist \
    --distortion noise:16,binary:16,zeros:16,ones:16,grey:16,patch:16,mix:16 --min-patterns "$min_patterns" --device "$device" "${read_args[@]}" --out "$out/eval"
python -m ebmm curve "$work" --out "$out/curve.png" --title "$(basename "$run"), resumed on $device"
echo "== the resumed run is in $work: copy it over $run and commit it to continue from there next time"
