"""The public API: numpy in, numpy out, saved memories reload exactly, bad input is refused."""

import json

import numpy as np
import pytest
import torch

import ebmm
from ebmm import CapacityWarning, CheckpointError, EnergyMemory, TrainConfig, UnknownMemoryError
from ebmm.checkpoint import FORMAT, load_checkpoint
from ebmm.tasks import Distortion, error_bits, random_patterns


@pytest.fixture
def memory(tiny_memory_config):
    return EnergyMemory(tiny_memory_config, name="tiny")


@pytest.fixture
def patterns(gen):
    return random_patterns((6, 32), generator=gen).numpy()


def test_write_read_roundtrip_numpy_and_torch(memory, patterns):
    state = memory.write(patterns)
    out = memory.read(patterns, state)
    assert isinstance(out, np.ndarray) and out.shape == patterns.shape and out.dtype == np.float32
    assert (out >= 0).all() and (out <= 1).all()
    out_t = memory.read(torch.from_numpy(patterns), memory.write(torch.from_numpy(patterns)))
    np.testing.assert_allclose(out, out_t)
    traj = memory.read(patterns, state, trajectory=True)
    assert traj.shape == (memory.config.read.steps + 1, *patterns.shape)
    np.testing.assert_array_equal(traj[0], patterns)
    np.testing.assert_allclose(traj[-1], out)


def test_batched_write_and_read(memory, gen):
    x = random_patterns((3, 5, 32), generator=gen).numpy()
    state = memory.write(x)
    assert state.batched and state.batch_size == 3 and state.memory_size() == memory.memory_size()
    out = memory.read(x, state)
    assert out.shape == (3, 5, 32)
    single = memory.read(x[1], memory.write(x[1]))
    np.testing.assert_allclose(out[1], single, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="do not match"):
        memory.read(x[0], state)


def test_saved_memory_reloads_to_identical_outputs(memory, patterns, tmp_path, gen):
    # perturb the parameters so the test does not pass on a fresh initialisation alone
    for d in memory.params.values():
        for k in d:
            d[k] = d[k] + 0.01 * torch.randn(d[k].shape, generator=gen)
    q = Distortion.parse("erase:16").apply(torch.from_numpy(patterns), generator=gen).numpy()
    expected = memory.read(q, memory.write(patterns), trajectory=True)
    path = memory.save(tmp_path / "m.safetensors")
    again = ebmm.load(path)
    np.testing.assert_array_equal(again.read(q, again.write(patterns), trajectory=True), expected)
    assert again.config == memory.config and again.name == "tiny"


@pytest.mark.parametrize(
    "bad, error, match",
    [
        (np.zeros((4, 31)), ValueError, "32-dimensional"),
        (np.full((4, 32), 1.5), ValueError, r"\[0, 1\]"),
        (np.full((4, 32), -0.1), ValueError, r"\[0, 1\]"),
        (np.full((4, 32), np.nan), ValueError, "NaN"),
        (np.full((4, 32), np.inf), ValueError, "NaN or infinite"),
        (np.zeros((0, 32)), ValueError, "empty"),
        (np.zeros(32), ValueError, "shape"),
        (np.array([["a"] * 32]), TypeError, "numbers"),
    ],
)
def test_bad_patterns_are_refused(memory, bad, error, match):
    with pytest.raises(error, match=match):
        memory.write(bad)
    state = memory.write(np.zeros((2, 32)))
    with pytest.raises(error, match=match):
        memory.read(bad, state)


def test_more_patterns_than_trained_for_warns(memory, gen):
    x = random_patterns((memory.max_patterns + 1, 32), generator=gen).numpy()
    with pytest.warns(CapacityWarning, match="trained for"):
        memory.write(x)


def test_state_from_another_memory_is_refused(memory, tiny_memory_config, patterns):
    from ebmm.models.ebmm import EBMM, init_params

    other = EnergyMemory(tiny_memory_config, init_params(EBMM.from_config(tiny_memory_config), seed=1), name="other")
    with pytest.raises(ValueError, match="written by"):
        other.read(patterns, memory.write(patterns))
    # the same memory loaded twice (same parameters) reads the other's states
    twin = EnergyMemory(tiny_memory_config, {g: dict(d) for g, d in memory.params.items()}, name="twin")
    twin.read(patterns, memory.write(patterns))
    with pytest.raises(TypeError, match="MemoryState"):
        memory.read(patterns, {"memory.weight": 0})


def test_unknown_memory_name():
    with pytest.raises(UnknownMemoryError, match="unknown memory 'no-such-memory'"):
        ebmm.load("no-such-memory")


def test_corrupt_truncated_and_mismatched_checkpoints(memory, tmp_path, tiny_memory_config):
    path = memory.save(tmp_path / "m.safetensors")
    raw = path.read_bytes()
    (tmp_path / "trunc.safetensors").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        ebmm.load(tmp_path / "trunc.safetensors")
    (tmp_path / "garbage.safetensors").write_bytes(b"\x00" * 64)
    with pytest.raises(CheckpointError):
        ebmm.load(tmp_path / "garbage.safetensors")
    with pytest.raises(CheckpointError, match="no checkpoint file"):
        ebmm.load(tmp_path / "missing.safetensors")

    # a file whose configuration promises a different architecture than its tensors hold
    from safetensors.torch import load_file, save_file
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    cfg = json.loads(meta["memory_config"])
    cfg["energy"]["kwargs"]["hidden"] = 17
    save_file(load_file(str(path)), str(tmp_path / "mismatch.safetensors"), metadata={**meta, "memory_config": json.dumps(cfg)})
    with pytest.raises(CheckpointError, match="shape"):
        ebmm.load(tmp_path / "mismatch.safetensors")
    save_file(load_file(str(path)), str(tmp_path / "other.safetensors"), metadata={**meta, "format": "something-else"})
    with pytest.raises(CheckpointError, match="not an ebmm memory"):
        ebmm.load(tmp_path / "other.safetensors")
    tensors = load_file(str(path))
    tensors["params/init/memory.weight"][0, 0] = float("nan")
    save_file(tensors, str(tmp_path / "nan.safetensors"), metadata=meta)
    with pytest.raises(CheckpointError, match="non-finite"):
        ebmm.load(tmp_path / "nan.safetensors")
    assert load_checkpoint(path).model.config == tiny_memory_config and meta["format"] == FORMAT


def _without(path, out, key, **meta_changes):
    """A copy of the checkpoint ``path`` without tensor ``key`` (metadata updated by ``meta_changes``;
    None deletes an entry)."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    tensors = load_file(str(path))
    assert key in tensors
    del tensors[key]
    meta = {k: v for k, v in {**meta, **meta_changes}.items() if v is not None}
    save_file(tensors, str(out), metadata=meta)
    return out


@pytest.mark.parametrize("energy", ["slots", "image_slots"])
def test_a_current_checkpoint_missing_a_tensor_is_refused_an_old_one_migrates(tmp_path, energy):
    """Migration fills in the tensors an older layout lacked, and only for files of an older
    format version: in a current file a missing tensor is damage."""
    from ebmm.config import EnergyConfig, MemoryConfig, ReadConfig, WriteConfig
    from ebmm.checkpoint import FORMAT_VERSION

    kwargs = {"slots": {"slots": 8, "code": 8}, "image_slots": {"shape": [1, 16, 16], "code": 8, "slots": 4}}[energy]
    config = MemoryConfig(energy=EnergyConfig(energy, 32 if energy == "slots" else 256, kwargs),
                          read=ReadConfig(steps=2), write=WriteConfig(steps=1, chunk=1), max_patterns=4)
    path = EnergyMemory(config).save(tmp_path / "m.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        assert f.metadata()["format_version"] == str(FORMAT_VERSION)  # recorded on save
    added_since_v1 = {"slots": "params/static/log_write_norm", "image_slots": "params/static/sharpen"}[energy]
    damaged = _without(path, tmp_path / "damaged.safetensors", added_since_v1)
    with pytest.raises(CheckpointError, match=f"lacks tensor '{added_since_v1}'"):
        ebmm.load(damaged)
    old = _without(path, tmp_path / "old.safetensors", added_since_v1, format_version=None)  # no version: format 1
    assert load_checkpoint(old).params["static"][added_since_v1.rsplit("/", 1)[1]].item() == 0.0  # filled in
    ebmm.load(old)
    newer = _without(path, tmp_path / "newer.safetensors", added_since_v1, format_version=str(FORMAT_VERSION + 1))
    with pytest.raises(CheckpointError, match="newer ebmm"):
        ebmm.load(newer)


def test_every_shipped_memory_loads(gen):
    """The shipped files predate the recorded format version: they load through the migration."""
    shipped = ebmm.pretrained()
    assert {"binary-erase", "binary-replace", "omniglot-slots"} <= set(shipped)
    for name in shipped:
        memory = ebmm.load(name)
        x = torch.rand((2, *memory.event_shape), generator=gen).round().numpy()
        assert memory.read(x, memory.write(x)).shape == x.shape, name


def test_a_memory_read_with_other_read_options_shares_its_weights_and_device(gen):
    """``AssociativeMemory.with_read_options``: the same parameters, on the same device, read
    another way; the original keeps its own options; an option the energy does not take, or a
    model without read options, is refused."""
    shipped = ebmm.load("omniglot-slots")
    plain = shipped.with_read_options(region=0, recheck=1)
    assert plain.params is shipped.params and plain.device == shipped.device and plain.name == shipped.name
    assert (plain.config.energy.kwargs["region"], plain.config.energy.kwargs["recheck"]) == (0, 1)
    assert (shipped.config.energy.kwargs["region"], shipped.config.energy.kwargs["recheck"]) == (3, 16)
    x = torch.rand((2, 8, *shipped.event_shape), generator=gen).round().numpy()
    q = x.copy()
    q[..., 8:24, 8:24] = torch.rand(q[..., 8:24, 8:24].shape, generator=gen).numpy()
    assert not np.array_equal(plain.read(q, plain.write(x)), shipped.read(q, shipped.write(x)))
    with pytest.raises(ValueError, match="read-time options"):
        shipped.with_read_options(beta=1.0)
    with pytest.raises(ValueError, match="no read-time options"):
        ebmm.load("memory_networks-binary-erase").with_read_options(recheck=2)


def test_a_missing_pretrained_index_is_an_error_that_says_so(monkeypatch, tmp_path, memory):
    from ebmm import PackageDataError, registry
    from ebmm.cli import main
    from click.testing import CliRunner

    monkeypatch.setattr(registry, "_pretrained_root", lambda: tmp_path / "pretrained")
    with pytest.raises(PackageDataError, match="package data is missing"):
        ebmm.pretrained()
    with pytest.raises(PackageDataError, match="package data is missing"):
        ebmm.load("binary-erase")
    assert ebmm.load("hopfield-hebb", dim=16).dim == 16  # what does not need the shipped files still loads
    assert ebmm.load(memory.save(tmp_path / "own.safetensors")).dim == memory.dim
    r = CliRunner().invoke(main, ["list"])
    assert r.exit_code == 1 and "package data is missing" in r.output and "Traceback" not in r.output


def test_hopfield_baselines_by_name(gen):
    x = random_patterns((8, 128), generator=gen).numpy()
    q = Distortion.parse("flip:8").apply(torch.from_numpy(x), generator=gen).numpy()
    for name in ("hopfield-hebb", "hopfield-storkey", "hopfield-pseudo-inverse"):
        mem = ebmm.load(name)
        assert mem.memory_size() == 8256
        r = mem.read(q, mem.write(x))
        assert float(error_bits(torch.from_numpy(r), torch.from_numpy(x)).mean()) < 1.0


def test_evaluate_binary_reports_percentiles(memory):
    from ebmm.evaluation import evaluate_binary

    st = evaluate_binary(memory, 4, "erase:16", min_patterns=64, min_batches=8)
    assert st.batches == 16 and st.patterns == 64
    assert st.p5 <= st.mean <= st.p95
    assert st.query_mean == pytest.approx(8.0, abs=1.5)


def test_image_memory_accepts_image_shaped_patterns_and_refuses_others(gen):
    """The public API validates against the memory's pattern shape, here (1, 16, 16)."""
    from ebmm.config import EnergyConfig, MemoryConfig, ReadConfig, WriteConfig

    cfg = MemoryConfig(
        energy=EnergyConfig("resnet_fc", 256, {"size": 16, "memory_width": 4, "hidden": 32}),
        read=ReadConfig(steps=2, step_init=30.0), write=WriteConfig(steps=1, rate_init=1e-3), max_patterns=4,
    )
    try:
        memory = EnergyMemory(cfg)
    except TypeError as e:  # constructor arguments of the image energy
        pytest.fail(f"image energy config: {e}")
    assert memory.event_shape == (1, 16, 16)
    x = torch.rand(3, 1, 16, 16, generator=gen).numpy()
    out = memory.read(x, memory.write(x), trajectory=True)
    assert out.shape == (3, 3, 1, 16, 16)
    with pytest.raises(ValueError, match=r"patterns of shape \(1, 16, 16\)"):
        memory.write(np.zeros((3, 1, 16, 15)))
    with pytest.raises(ValueError, match="expected shape"):
        memory.write(np.zeros((3, 256)))


def _load_and_build_everything(tiny_memory_config):
    from ebmm.energies import build_energy
    from ebmm.models.ebmm import EBMM, init_params

    for name in [*ebmm.pretrained(), "hopfield-storkey"]:
        ebmm.load(name)
    ebmm.EnergyMemory(tiny_memory_config)
    for kind, kwargs in [("slots", {"dim": 128}), ("logcosh", {"dim": 32, "hidden": 8}), ("image_slots", {"dim": 256, "shape": (1, 16, 16)}),
                         ("gated_rnn", {"dim": 32})]:
        build_energy(kind, **kwargs)
    init_params(EBMM.from_config(tiny_memory_config), seed=5)


def test_loading_or_building_a_memory_leaves_the_callers_random_state_alone(tiny_memory_config, monkeypatch):
    seeded_cuda = []  # torch.manual_seed also seeds every CUDA generator through these (lazily without a GPU)
    monkeypatch.setattr(torch.cuda, "manual_seed_all", seeded_cuda.append)
    monkeypatch.setattr(torch.cuda, "manual_seed", seeded_cuda.append)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(123)
        expected = torch.rand(5)
        torch.manual_seed(123)
        seeded_cuda.clear()
        before = torch.get_rng_state()
        _load_and_build_everything(tiny_memory_config)
        assert torch.equal(torch.get_rng_state(), before)
        assert torch.equal(torch.rand(5), expected)
    assert seeded_cuda == []  # no CUDA generator was reseeded (fork_rng(devices=[]) would not restore it)


def test_build_energy_draws_its_initial_weights_from_its_seed():
    from ebmm.energies import build_energy

    a, b, c = (build_energy("slots", dim=128, seed=s).state_dict() for s in (3, 3, 4))
    assert all(torch.equal(a[k], b[k]) for k in a) and not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.cuda
def test_loading_or_building_a_memory_leaves_the_callers_cuda_random_state_alone(tiny_memory_config):
    torch.cuda.init()
    before = torch.cuda.get_rng_state_all()
    _load_and_build_everything(tiny_memory_config)
    ebmm.load("binary-erase", device="cuda")
    assert all(torch.equal(a, b) for a, b in zip(before, torch.cuda.get_rng_state_all(), strict=True))


def test_the_omniglot_search_path_is_relative_to_the_checkout():
    from pathlib import Path

    from ebmm.data import omniglot

    here = Path(omniglot.__file__).resolve()
    for path in omniglot.OMNIGLOT_SEARCH_PATHS:
        assert path == here.parents[4] / "shared" / "data" / "omniglot"


def test_every_memory_is_one_class(tiny_memory_config):
    energy = ebmm.EnergyMemory(tiny_memory_config, name="tiny")
    shipped = ebmm.load("binary-erase")
    baseline = ebmm.load("memory_networks-binary-erase")
    hopfield = ebmm.load("hopfield-storkey")
    assert all(type(m) is ebmm.AssociativeMemory for m in (energy, shipped, baseline, hopfield))
    assert energy.config == tiny_memory_config and shipped.arch.kind == "ebmm"
    assert hopfield.model.kind == "hopfield" and hopfield.params == {} and hopfield.name == "hopfield-storkey"
    with pytest.raises(AttributeError, match="config_dict"):
        baseline.config
    with pytest.warns(DeprecationWarning, match="now ebmm.AssociativeMemory"):
        assert ebmm.LearnedMemory is ebmm.AssociativeMemory


def test_a_hopfield_memory_saves_and_reloads_like_any_other(tmp_path, gen):
    """A Hopfield network is a model with no meta-parameters: it saves to one file like every
    memory and comes back reading the same, its update mode and sweeps included; a state it
    wrote reads in a reloaded copy, and in the same rule read asynchronously."""
    memory = ebmm.HopfieldMemory("storkey", dim=48, update="async", max_sweeps=7, seed=3)
    x = random_patterns((10, 48), generator=gen).numpy()
    q = Distortion.parse("flip:6").apply(torch.from_numpy(x), generator=gen).numpy()
    state = memory.write(x)
    again = ebmm.load(memory.save(tmp_path / "storkey.safetensors"))
    assert again.model == memory.model and again.name == "hopfield-storkey"
    np.testing.assert_array_equal(again.read(q, state), memory.read(q, state))
    assert ((memory.read(q, state) > 0.5) != x).sum() < (q != x).sum()  # it really retrieves
    assert ebmm.HopfieldMemory("storkey", dim=48).compatible(memory)  # same rule and d: the same weights
    assert not ebmm.HopfieldMemory("hebb", dim=48).compatible(memory)


def test_a_hopfield_network_has_nothing_to_meta_train():
    from ebmm.meta.trainer import train
    from ebmm.models import HopfieldNetwork, system_kinds

    assert HopfieldNetwork().init_params() == {} and "hopfield" not in system_kinds()
    with pytest.raises(ValueError, match="no meta-parameters to train"):
        train(HopfieldNetwork(dim=16), TrainConfig(steps=1, patterns=4, episodes=2))


def test_the_old_model_name_still_imports_with_a_deprecation_warning():
    from ebmm.models import EBMM

    with pytest.warns(DeprecationWarning, match="now ebmm.models.EBMM"):
        from ebmm.models.ebmm import Architecture
    assert Architecture is EBMM
    with pytest.warns(DeprecationWarning):
        import ebmm.models as models

        assert models.Architecture is EBMM
    with pytest.raises(AttributeError):
        import ebmm.models.ebmm as module

        module.Architectur  # noqa: B018 - a typo is still an AttributeError
