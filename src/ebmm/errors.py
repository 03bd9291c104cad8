"""Exceptions raised at the library's boundary."""


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
