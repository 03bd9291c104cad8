"""Write and read every memory ``ebmm.load`` knows by name (the shipped ones and the Hopfield
rules) on fixed inputs, and save the retrievals: run with the package before and after a
restructuring, then compare the two files (``--compare A B``: bit-identical or not, per memory).

    PYTHONPATH=CHECKOUT/src python results/refactor-before-after/retrievals.py OUT.npz
    python results/refactor-before-after/retrievals.py --compare BEFORE.npz AFTER.npz
"""

import sys

import numpy as np


def retrieve_all(out: str) -> None:
    import torch

    import ebmm

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    results = {}
    for name in ebmm.available():
        memory = ebmm.load(name)
        shape = memory.event_shape
        x = (rng.random((2, 8, *shape)) < 0.3).astype("float32")  # two sets of 8 patterns
        q = x.copy()
        if len(shape) == 1:
            q[..., : shape[0] // 2] = 0.5  # half of every pattern erased
        else:
            q[..., 8:24, 8:24] = rng.random(q[..., 8:24, 8:24].shape)  # a 16×16 square of noise
        results[name] = memory.read(q, memory.write(x))
        results[name + "/known"] = memory.read(q, memory.write(x), known=q == x)
        print(name, float(np.abs(results[name] - x).mean()), flush=True)
    np.savez(out, **results)


def compare(a: str, b: str) -> None:
    before, after = np.load(a), np.load(b)
    assert sorted(before.files) == sorted(after.files), (before.files, after.files)
    for k in sorted(before.files):
        print(f"{k}: {'bit-identical' if np.array_equal(before[k], after[k]) else 'DIFFERENT'}")


if __name__ == "__main__":
    compare(sys.argv[2], sys.argv[3]) if sys.argv[1] == "--compare" else retrieve_all(sys.argv[1])
