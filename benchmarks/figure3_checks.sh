#!/usr/bin/env bash
# Issue 24: every number the README gives beside Figure 3 at the small sizes, and the shapes
# comparison, made again from the committed runs (~5 CPU-hours on one thread; not a test):
#   results/figure3-2048     the 2304 and 4608 rows on 2048 other held-out images, and 2304 with trust_margin=2
#   results/oracle-choice    each row's error split three ways (benchmarks/oracle_choice.py)
#   results/trust-margin     the margin chosen on training squares at 2304 and 4608
#   results/occluder-region  the region prior chosen again at 2304 and 4608
#   results/occluder-ring    region_keep and rerank chosen at every size; the 2304 and 4608 rows with them
#                            (512 images, the README's table; 2048 images in results/figure3-2048/slots-N-ring)
#   results/box-fill         the occluder's box chosen at 2304-16,128; the 2304 / 4608 rows' MNIST cells and 2048-image rows
#   results/recheck-width    how many stored images the read judges, chosen at 2304, 13,824, 16,128; MNIST cells, zeros on 2048 images
#   results/shapes-every-system, results/figure3
# These checks read with the eight-feature learned choice of results/choice-fit (as they were made); the
# Figure 3 rows read with the spread feature too (results/choice-spread, docs/image-memories.md "A ninth feature").
# usage: bash benchmarks/figure3_checks.sh   (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."
run() { echo "$ $*" >&2; "$@"; }
weights() {  # the learned choice of a size, as a --read value
  python -c "import json; from ebmm.energies.memory_trust import CHOICE_FEATURES as F; w=json.load(open('results/choice-fit/choice_fit_slots-$1.json'))['weights']; print(json.dumps([w.get(k, 0.0) for k in F]))"
}
slots() { echo "results/ratedistortion-omniglot-region-wide/runs/image_slots-$1"; }
READ=(--read candidates=16 --read recheck=16 --read region=3 --read region_share=0.1)
SQUARES=noise:16,binary:16,zeros:16,ones:16,mix:16
for n in 2304 4608; do
  w=$(weights $n)
  run ebmm eval images --memory "$(slots $n)" --dataset omniglot --distortion $SQUARES --min-patterns 2048 --seed 2026 \
    "${READ[@]}" --read "choice_weights=$w" --threads 1 --out results/figure3-2048/slots-$n
  run python benchmarks/oracle_choice.py --memory "$(slots $n)" --choice-fit results/choice-fit/choice_fit_slots-$n.json \
    --name slots-$n --images 256 --out results/oracle-choice
  run python benchmarks/trust_margin.py --memory "$(slots $n)" --name slots-$n "${READ[@]}" --read "choice_weights=$w" \
    --select mix:16 --held-out $SQUARES --images 256 --threads 1 --out results/trust-margin
  run python benchmarks/occluder_region.py --memory "$(slots $n)" --name slots-$n --read candidates=16 --read recheck=16 \
    --read "choice_weights=$w" --windows 3,5,7 --shares 0.05,0.1,0.15,0.2 --fills $SQUARES --images 256 --threads 1 \
    --out results/occluder-region
done
for n in 2304 4608 13824 16128; do
  run python benchmarks/occluder_ring.py --memory "$(slots $n)" --name slots-$n "${READ[@]}" --read "choice_weights=$(weights $n)" \
    --keeps 0,3,4,5,6,8 --images 256 --threads 1 $([ $n -gt 4608 ] && echo --no-shapes) --out results/occluder-ring
done
run python benchmarks/occluder_ring.py --memory omniglot-slots --keeps 0,5,6,8 --images 256 --threads 1 --no-shapes --out results/occluder-ring
for n in 2304 4608; do   # the chosen options: region_keep 4 at both, rerank at 2304
  RING=("${READ[@]}" --read "choice_weights=$(weights $n)" --read region_keep=4 --read rerank=$([ $n = 2304 ] && echo true || echo false))
  run ebmm eval images --memory "$(slots $n)" --dataset omniglot --distortion $SQUARES,grey:16 --min-patterns 512 "${RING[@]}" \
    --threads 1 --out results/occluder-ring/figure3-512/slots-$n
  run ebmm eval images --memory "$(slots $n)" --dataset mnist --distortion mix:16 --min-patterns 512 "${RING[@]}" \
    --threads 1 --out results/occluder-ring/figure3-512/slots-$n-mnist
  run ebmm eval images --memory "$(slots $n)" --dataset omniglot --distortion $SQUARES --min-patterns 2048 --seed 2026 "${RING[@]}" \
    --threads 1 --out results/figure3-2048/slots-$n-ring
done
run python benchmarks/oracle_choice.py --memory "$(slots 2304)" --choice-fit results/choice-fit/choice_fit_slots-2304.json \
  --name slots-2304-ring --read region_keep=4 --read rerank=true --images 256 --threads 2 --out results/oracle-choice
U=results/ratedistortion-omniglot-untrained-region/runs/image_slots-2304   # the untrained start's best read, with and without them
run ebmm eval images --memory $U --dataset omniglot --distortion mix:16 --min-patterns 512 --read region=0 --threads 1 --out results/occluder-ring/untrained-2304/plain
run ebmm eval images --memory $U --dataset omniglot --distortion mix:16 --min-patterns 512 --read region=0 --read rerank=true --threads 1 --out results/occluder-ring/untrained-2304/rerank
run ebmm eval images --memory $U --dataset omniglot --distortion mix:16 --min-patterns 512 --read region_keep=4 --read rerank=true --threads 1 --out results/occluder-ring/untrained-2304/ring
run ebmm eval images --memory "$(slots 2304)" --dataset omniglot --distortion $SQUARES --min-patterns 2048 --seed 2026 \
  "${READ[@]}" --read "choice_weights=$(weights 2304)" --read trust_margin=2 --threads 1 --out results/figure3-2048/slots-2304-trust-margin-2
run python benchmarks/shapes_every_system.py --system 'EBMM image slots=omniglot-slots' \
  --system 'Memory Networks=results/ratedistortion-omniglot-mn-grey-patch/runs/memory_networks-9216' \
  --system 'MANN=results/ratedistortion-omniglot-mann/runs/mann-9216' \
  --system 'delta rule=results/ratedistortion-omniglot-delta-rule/runs/delta_rule-9216' \
  --images 512 --threads 1 --out results/shapes-every-system
# the occluder's box (read option box_fill; docs/image-memories.md "The occluder's box"), on the Figure 3 rows' read
# with the spread feature (results/choice-spread): chosen at every size, the 2304 and 4608 rows' MNIST cells and their rows on 2048 images
spread() {
  python -c "import json; from ebmm.energies.memory_trust import CHOICE_FEATURES as F; w=json.load(open('results/choice-spread/choice_fit_$1.json'))['weights']; print(json.dumps([w.get(k, 0.0) for k in F]))"
}
row() {  # the Figure 3 row of size $1 before the read options chosen below: its memory M and read ROW
  M=$(slots $1); [ $1 = 2304 ] && M=results/runs/omniglot-slots-2304
  case $1 in
    2304) ROW=("${READ[@]}" --read region_keep=4 --read rerank=true --read "choice_weights=$(spread slots-2304-ring)") ;;
    4608) ROW=("${READ[@]}" --read region_keep=4 --read rerank=false --read "choice_weights=$(spread slots-4608-ring)") ;;
    *) ROW=("${READ[@]}" --read "choice_weights=$(spread slots-$1)") ;;
  esac
}
for n in 2304 4608 13824 16128; do
  row $n; BOX=("${ROW[@]}")
  run python benchmarks/box_fill.py --memory $M --name slots-$n "${BOX[@]}" $([ $n -gt 4608 ] && echo --values 0,0.4,0.5,0.6) \
    --images 512 --threads 1 --out results/box-fill
  if [ $n -le 4608 ]; then
    run ebmm eval images --memory $M "${BOX[@]}" --read box_fill=0.4 --dataset mnist --distortion mix:16 --min-patterns 512 \
      --threads 1 --out results/box-fill/mnist/slots-$n
    run ebmm eval images --memory $M "${BOX[@]}" --read box_fill=0.4 --dataset omniglot --distortion $SQUARES \
      --min-patterns 2048 --seed 2026 --threads 1 --out results/figure3-2048/slots-$n-ring-spread-box
  fi
done
# how many stored images the read judges (read options candidates / recheck; docs/image-memories.md "How many stored images
# the read judges"): chosen at 2304, 13,824 and 16,128 on each row's read (32 of every slot); their MNIST cells and zeros on 2048 images
for n in 2304 13824 16128; do
  row $n; WIDE=("${ROW[@]}" $([ $n = 2304 ] && echo --read box_fill=0.4))   # on the row as read after the box
  run python benchmarks/recheck_width.py --memory $M --name slots-$n "${WIDE[@]}" --values 16,32 --images 512 --select-images 1024 \
    --threads 1 --out results/recheck-width
  run ebmm eval images --memory $M "${WIDE[@]}" --read candidates=64 --read recheck=32 --dataset mnist --distortion mix:16 \
    --min-patterns 512 --threads 1 --out results/recheck-width/mnist/slots-$n
  run ebmm eval images --memory $M "${WIDE[@]}" --read candidates=64 --read recheck=32 --dataset omniglot --distortion zeros:16 \
    --min-patterns 2048 --seed 2026 --threads 1 --out results/figure3-2048/slots-$n-recheck-32
done
run python benchmarks/figure3_plot.py --out results/figure3
