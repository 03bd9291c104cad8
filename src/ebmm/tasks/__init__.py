"""Tasks and data: what is stored, how queries are distorted, how errors are counted."""

from .binary import DISTORTION_KINDS, Distortion, error_bits, random_patterns, sample_episodes

__all__ = ["DISTORTION_KINDS", "Distortion", "error_bits", "random_patterns", "sample_episodes"]
