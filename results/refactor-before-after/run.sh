#!/usr/bin/env bash
# usage: bash results/refactor-before-after/run.sh CHECKOUT OUT
# runs eval binary, table1 --no-train and recall with the package of CHECKOUT (its src/ on PYTHONPATH)
set -e
src=$1; out=$2; mkdir -p $out
export PYTHONPATH=$src/src
python - <<'PY'
import numpy as np
rng = np.random.default_rng(0)
x = rng.integers(0, 2, (32, 128)).astype("float32"); q = x.copy(); q[:, :64] = 0.5
np.save("/tmp/ba_store.npy", x); np.save("/tmp/ba_query.npy", q)
PY
python -m ebmm eval binary --memory binary-erase -N 16,96 --min-patterns 256 --threads 1 --out $out/eval > $out/eval.md 2>/dev/null
python -m ebmm table1 --no-train -N 16,96 --min-patterns 128 --threads 1 --out $out/table1 > $out/table1.md 2>/dev/null
python -m ebmm recall --memory binary-erase --store /tmp/ba_store.npy --queries /tmp/ba_query.npy --out $out/recall.npy > $out/recall.txt 2>&1
