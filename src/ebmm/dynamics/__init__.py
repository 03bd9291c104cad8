"""Read and write dynamics: pure functions of explicit weights."""

from .clamp import keep_known
from .read import EnergyFn, energy_grad, project, read
from .schedules import inverse_softplus, logit, non_increasing
from .write import sum_event, write, writing_terms

__all__ = [
    "EnergyFn",
    "energy_grad",
    "inverse_softplus",
    "keep_known",
    "logit",
    "non_increasing",
    "project",
    "read",
    "sum_event",
    "write",
    "writing_terms",
]
