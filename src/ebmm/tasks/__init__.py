"""Tasks and data: what is stored, how queries are distorted, how errors are counted."""

from .binary import (
    DISTORTION_KINDS,
    Distortion,
    error_bits,
    random_patterns,
    sample_episodes,
)
from .episodes import (
    BinaryTask,
    EpisodeTask,
    ImageTask,
    Occlusion,
    check_corruption,
    parse_corruption,
    task_from_config,
)
from .images import (
    BASIC_FILLS,
    OCCLUSION_FILLS,
    fill_choices,
    hamming_error,
    occlude,
    occlude_with_mask,
    occlusion_mask,
    scatter_mask,
    sample_image_episodes,
    squared_error,
)

__all__ = [
    "BASIC_FILLS",
    "DISTORTION_KINDS",
    "fill_choices",
    "OCCLUSION_FILLS",
    "BinaryTask",
    "Distortion",
    "EpisodeTask",
    "ImageTask",
    "Occlusion",
    "error_bits",
    "hamming_error",
    "occlude",
    "occlude_with_mask",
    "occlusion_mask",
    "scatter_mask",
    "check_corruption",
    "parse_corruption",
    "random_patterns",
    "sample_episodes",
    "sample_image_episodes",
    "squared_error",
    "task_from_config",
]
