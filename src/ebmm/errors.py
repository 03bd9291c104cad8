"""Exceptions raised at the library's boundary."""

from __future__ import annotations

import signal
from pathlib import Path


class EBMMError(Exception):
    """Base class of ebmm's own errors."""


class CheckpointError(EBMMError, ValueError):
    """A checkpoint or memory file is missing, corrupt, truncated or does not match."""


class PackageDataError(EBMMError, FileNotFoundError):
    """Data the package ships (the pretrained memories and their index) is missing from the
    installation."""


class UnknownMemoryError(EBMMError, KeyError):
    """A memory name is neither a shipped memory, a baseline nor an existing file."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class CapacityWarning(UserWarning):
    """More patterns are written than the memory was trained to store."""


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by a signal (SIGTERM from a scheduler or ``kill``, SIGINT from Ctrl-C)
    after its exit checkpoint was written. A ``KeyboardInterrupt``, so code that catches those
    keeps working; ``str()`` is the one line to show: where it stopped, where the checkpoint
    is, how to resume."""

    def __init__(self, signum: int, step: int, steps: int, checkpoint: Path | None):
        self.signum, self.step, self.steps, self.checkpoint = signum, step, steps, checkpoint
        name = signal.Signals(signum).name
        saved = (f"checkpoint saved to {checkpoint}; continue with the same command and --resume"
                 if checkpoint is not None else "no checkpoint kept (no output directory)")
        super().__init__(f"stopped by {name} at step {step} of {steps}; {saved}")

    def __str__(self) -> str:  # KeyboardInterrupt would show the args tuple for several arguments
        return str(self.args[0])

    @property
    def exit_status(self) -> int:
        """The shell's convention for death by signal N: 128 + N (SIGTERM 143, SIGINT 130)."""
        return 128 + self.signum
