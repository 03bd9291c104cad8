"""Where tensors live and in what precision the meta-step runs: ``--device`` and ``--precision``.

**Devices.** :func:`resolve_device` turns ``auto|cpu|cuda|cuda:N|mps`` into a ``torch.device``
(``auto``: CUDA when present, else Apple's MPS, else the CPU) and raises :class:`DeviceError`
with the reason when the device is not there.

**Reproducibility across devices.** Every random number of the library — episodes, corruptions,
occlusions, evaluation sets, parameter initialisation — is drawn from a *CPU* generator seeded
by (seed, step[, rank]) and then moved to the device. The same seed therefore gives bit-identical
episodes and initial weights on every device. The arithmetic is not bit-identical across
devices (reduction orders, fused kernels, TF32), so losses and trained weights agree to
floating-point tolerance, not bit for bit; on one device and one thread count a run is
reproducible.

**Precision** (:func:`matmul_precision` for the run, :func:`autocast` for the step; both: :func:`precision_context`):

* ``fp32`` (default): float32 everywhere, full-precision matmuls.
* ``tf32``: float32 storage, TensorFloat-32 matmuls and convolutions on CUDA (Ampere and later;
  ``torch.set_float32_matmul_precision("high")``); no effect on the CPU.
* ``bf16``: the meta-loss runs under ``torch.autocast(dtype=bfloat16)`` — matmuls and
  convolutions in bfloat16, parameters, optimiser and the read/write iterates in float32.
  **Refused for the slot energies** (``slots``, ``image_slots``): their write and read pick a
  slot by ``softmax(β·sim)`` with β up to 10⁵, and bfloat16's 8-bit mantissa puts an error of
  ~0.4 % of |sim| ≈ 0.1–1 into β·sim — thousands of logits — which turns the slot choice into
  noise. The energies with smooth dynamics (log-cosh, gated RNN, the ResNet image energies) and
  the learned baselines accept it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from .errors import EBMMError

#: the ``--device`` forms
DEVICE_HELP = "auto|cpu|cuda|cuda:N|mps"
PRECISIONS = ("fp32", "tf32", "bf16")
#: energies whose slot selection does not survive bfloat16 (see the module docstring)
BF16_REFUSED_ENERGIES = ("slots", "image_slots")


class DeviceError(EBMMError, ValueError):
    """The requested device or precision is not available here."""


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """``auto|cpu|cuda|cuda:N|mps`` (or a ``torch.device``; None means ``auto``) -> ``torch.device``.

    Raises :class:`DeviceError` when the device is unknown or absent (no CUDA build or driver,
    an index past the GPUs present, no MPS)."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not _mps_available():
            raise DeviceError("device 'mps' is not available here (it needs Apple silicon and a torch build with MPS)")
        return torch.device("mps")
    if spec == "cuda" or spec.startswith("cuda:"):
        index = spec.partition(":")[2]
        if index and not index.isdigit():
            raise DeviceError(f"unknown device {spec!r}: expected {DEVICE_HELP}")
        if not torch.cuda.is_available():
            build = "this torch build has no CUDA" if torch.version.cuda is None else "no CUDA GPU or driver is visible"
            raise DeviceError(f"device {spec!r} is not available: {build} (see docs/devices.md, 'GPUs and other devices')")
        if index and int(index) >= torch.cuda.device_count():
            raise DeviceError(f"device {spec!r} is not available: {torch.cuda.device_count()} CUDA device(s) present")
        return torch.device(spec)
    raise DeviceError(f"unknown device {spec!r}: expected {DEVICE_HELP}")


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def check_precision(precision: str, energy_kind: str | None = None) -> str:
    """Validate ``precision`` (one of :data:`PRECISIONS`) for a model whose energy is
    ``energy_kind`` (None: a learned baseline); raises :class:`DeviceError` with the reason."""
    if precision not in PRECISIONS:
        raise DeviceError(f"unknown precision {precision!r}: expected one of {', '.join(PRECISIONS)}")
    if precision == "bf16" and energy_kind in BF16_REFUSED_ENERGIES:
        raise DeviceError(
            f"bf16 is refused for the {energy_kind!r} energy: its slot choice softmax(β·sim), β up to 1e5, does not "
            "survive bfloat16's 8-bit mantissa; use fp32 or tf32"
        )
    return precision


@contextlib.contextmanager
def matmul_precision(precision: str) -> Iterator[None]:
    """The process-wide float32 matmul precision of a run (``tf32``: ``"high"``, else
    ``"highest"``), restored on exit. Global state: the trainer sets it once, around its whole
    loop (:func:`ebmm.meta.trainer.train`), not inside the step."""
    check_precision(precision)
    before = torch.get_float32_matmul_precision()
    torch.set_float32_matmul_precision("high" if precision == "tf32" else "highest")
    try:
        yield
    finally:
        torch.set_float32_matmul_precision(before)


def autocast(precision: str, device: torch.device) -> contextlib.AbstractContextManager:
    """The meta-loss's autocast: ``torch.autocast(bfloat16)`` on ``device`` for ``bf16``, nothing
    for the others. Local to the enclosed code (no global state): the step enters it itself."""
    check_precision(precision)
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16) if precision == "bf16" else contextlib.nullcontext()


@contextlib.contextmanager
def precision_context(precision: str, device: torch.device) -> Iterator[None]:
    """Both: the enclosed meta-loss in ``precision`` on ``device`` (see the module docstring),
    the global matmul precision restored on exit — for code that runs a step outside the trainer."""
    with matmul_precision(precision), autocast(precision, device):
        yield
