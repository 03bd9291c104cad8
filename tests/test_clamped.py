"""Clamped completion (``read(..., known=...)``): the known entries of a query are held fixed.

The energy memory and the Hopfield networks hold them inside their dynamics; the other memories
overwrite them in their output. Checked against a reference written here, on fixed seeds.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import ebmm
from ebmm import HopfieldMemory
from ebmm.cli import main
from ebmm.evaluation import evaluate_binary
from ebmm.memory import AssociativeMemory
from ebmm.models import model_from_config
from ebmm.meta.trainer import train
from ebmm.presets import PRESETS
from ebmm.tasks import BinaryTask, Distortion, random_patterns


def test_corrupt_marks_exactly_the_drawn_positions_with_the_same_draws_as_apply():
    x = random_patterns((3, 5, 32), generator=torch.Generator().manual_seed(0))
    for spec in ("erase:8", "replace:8", "flip:8", "zero:8"):
        d = Distortion.parse(spec)
        q_apply = d.apply(x, generator=torch.Generator().manual_seed(1))
        q, corrupted = d.corrupt(x, generator=torch.Generator().manual_seed(1))
        assert torch.equal(q, q_apply)
        assert corrupted.dtype == torch.bool and (corrupted.sum(-1) == 8).all()
        assert torch.equal(q[~corrupted], x[~corrupted])  # outside the mask the query is the pattern
    x2, q2, known = BinaryTask(32, Distortion("erase", 8)).sample(2, 4, generator=torch.Generator().manual_seed(2), known=True)
    assert torch.equal(known, q2 != 0.5)


def _hopfield_clamped_reference(s0: np.ndarray, w: np.ndarray, known: np.ndarray, sweeps: int = 100) -> np.ndarray:
    """Synchronous sign dynamics with the known units fixed, written from the definition."""
    s = s0.copy()
    for _ in range(sweeps):
        field = s @ w
        new = np.where(field > 0, 1.0, np.where(field < 0, -1.0, s))
        new = np.where(known, s0, new)
        if np.array_equal(new, s):
            break
        s = new
    return s


def test_hopfield_clamped_read_matches_a_reference_and_keeps_known_units():
    gen = torch.Generator().manual_seed(3)
    x = random_patterns((40, 64), generator=gen)
    q, corrupted = Distortion.parse("replace:24").corrupt(x, generator=gen)
    known = ~corrupted
    mem = HopfieldMemory("pseudo_inverse", dim=64)
    state = mem.write(x.numpy())
    clamped = mem.read(q.numpy(), state, known=known.numpy())
    free = mem.read(q.numpy(), state)
    w = (ebmm.models.hopfield.unpack_symmetric(state.tensors["weights_upper"], 64)
         + torch.diag_embed(state.tensors["diagonal"]))[0].numpy()
    ref = _hopfield_clamped_reference(2 * q.numpy() - 1, w, known.numpy())
    np.testing.assert_array_equal(clamped, (ref + 1) / 2)
    assert np.array_equal(clamped[known.numpy()], q.numpy()[known.numpy()])
    assert not np.array_equal(clamped, free)  # the protocol really changes the dynamics
    # async: known units are never touched either
    amem = HopfieldMemory("hebb", dim=64, update="async")
    out = amem.read(q.numpy(), amem.write(x.numpy()), known=known.numpy())
    assert np.array_equal(out[known.numpy()], q.numpy()[known.numpy()])


def test_energy_memory_clamps_inside_the_read_and_completes_better():
    mcfg, _ = PRESETS["slots"]
    mem = ebmm.EnergyMemory(mcfg)
    gen = torch.Generator().manual_seed(4)
    x = random_patterns((4, 48, 128), generator=gen)
    q, corrupted = Distortion.parse("replace:48").corrupt(x, generator=gen)
    known = (~corrupted).numpy()
    state = mem.write(x.numpy())
    traj = mem.read(q.numpy(), state, trajectory=True, known=known)
    qn = q.numpy()
    for k in range(traj.shape[1]):  # every iterate keeps the known entries
        assert np.array_equal(traj[:, k][known], qn[known])
    free = mem.read(q.numpy(), state)
    bits = lambda r: float(((r > 0.5) != (x.numpy() > 0.5)).sum(-1).mean())  # noqa: E731
    assert bits(traj[:, -1]) < bits(free)  # telling it which bits are right helps
    assert bits(traj[:, -1]) < float(corrupted.sum(-1).float().mean()) / 4  # and it really retrieves


def test_learned_baseline_overwrites_known_entries_in_its_output():
    model = model_from_config("memory_networks", {"dim": 32, "max_patterns": 8, "budget": 300})
    mem = AssociativeMemory(model, name="mn")
    gen = torch.Generator().manual_seed(5)
    x = random_patterns((8, 32), generator=gen)
    q, corrupted = Distortion.parse("erase:8").corrupt(x, generator=gen)
    state = mem.write(x.numpy())
    free = mem.read(q.numpy(), state)
    out = mem.read(q.numpy(), state, known=(~corrupted).numpy())
    k = (~corrupted).numpy()
    assert np.array_equal(out[k], q.numpy()[k])
    assert np.array_equal(out[~k], free[~k])  # the unknown entries are the memory's own answer


def test_known_mask_validation(tiny_memory_config):
    mem = ebmm.EnergyMemory(tiny_memory_config)
    x = np.random.default_rng(0).integers(0, 2, (4, 32)).astype(np.float32)
    state = mem.write(x)
    one = np.zeros(32, dtype=bool)
    one[:16] = True
    out = mem.read(x, state, known=one)  # one query's shape applies to all
    assert np.array_equal(out[:, :16], x[:, :16])
    with pytest.raises(ValueError, match="known: expected shape"):
        mem.read(x, state, known=np.ones((3, 32), dtype=bool))
    with pytest.raises(ValueError, match="booleans or 0/1"):
        mem.read(x, state, known=np.full((4, 32), 0.5))
    with pytest.raises(TypeError, match="known"):
        mem.read(x, state, known=np.array([["a"] * 32] * 4))


def test_training_under_clamping_runs_and_evaluates_clamped(tiny_memory_config, tiny_train_config):
    cfg = dataclasses.replace(tiny_train_config, steps=4, eval_every=2, checkpoint_every=0, clamp_known=True)
    result = train(tiny_memory_config, cfg, progress=False)
    assert result.step == 4 and result.skipped == 0
    mem = ebmm.EnergyMemory(tiny_memory_config, result.params)
    clamped = evaluate_binary(mem, 8, "replace:16", min_patterns=64, min_batches=4, clamp_known=True)
    free = evaluate_binary(mem, 8, "replace:16", min_patterns=64, min_batches=4)
    assert clamped.query_mean == free.query_mean  # the same episodes
    assert clamped.mean != free.mean


def test_eval_binary_equals_the_mean_of_per_episode_reads(tiny_memory_config):
    """The table's batched path and the one-set path of `recall` give the same retrievals."""
    mem = ebmm.EnergyMemory(tiny_memory_config)
    stats = evaluate_binary(mem, 8, "erase:16", min_patterns=40, min_batches=5, seed=9)
    task = BinaryTask(32, Distortion("erase", 16))
    x, q = task.sample(stats.batches, 8, split="eval", generator=torch.Generator().manual_seed(9))
    per_episode = [((mem.read(q[b].numpy(), mem.write(x[b].numpy())) > 0.5) != (x[b].numpy() > 0.5)).sum(-1).mean()
                   for b in range(stats.batches)]
    assert float(np.mean(per_episode)) == pytest.approx(stats.mean, abs=1e-6)


def test_recall_cli_clamps_the_non_erased_entries(tmp_path):
    gen = torch.Generator().manual_seed(6)
    x = random_patterns((12, 128), generator=gen)
    q = Distortion.parse("erase:64").apply(x, generator=gen)
    np.save(tmp_path / "p.npy", x.numpy())
    np.save(tmp_path / "q.npy", q.numpy())
    runner = CliRunner()
    base = ["recall", "--memory", "hopfield-hebb", "--store", str(tmp_path / "p.npy"), "--queries", str(tmp_path / "q.npy")]
    res = runner.invoke(main, [*base, "--out", str(tmp_path / "r.npy"), "--clamp-known"])
    assert res.exit_code == 0, res.output
    r = np.load(tmp_path / "r.npy")
    kept = q.numpy() != 0.5
    assert np.array_equal(r[kept], q.numpy()[kept])
    np.save(tmp_path / "k.npy", kept)  # an explicit mask file gives the same
    res = runner.invoke(main, [*base, "--out", str(tmp_path / "r2.npy"), "--known", str(tmp_path / "k.npy")])
    assert res.exit_code == 0, res.output
    assert np.array_equal(np.load(tmp_path / "r2.npy"), r)
    np.save(tmp_path / "bad.npy", np.ones((3, 128), dtype=bool))
    res = runner.invoke(main, [*base, "--out", str(tmp_path / "r3.npy"), "--known", str(tmp_path / "bad.npy")])
    assert res.exit_code != 0 and "known: expected shape" in res.output
    assert not (tmp_path / "r3.npy").exists()


def test_table1_under_both_protocols(tmp_path):
    runner = CliRunner()
    rows = {}
    for flag in ([], ["--clamp-known"]):
        out = tmp_path / ("clamped" if flag else "free")
        res = runner.invoke(main, ["table1", "--quick", "--systems", "hopfield-storkey", "--patterns", "32",
                                   "--distortion", "replace:64", "--out", str(out), *flag])
        assert res.exit_code == 0, res.output
        record = json.loads((out / "table1.json").read_text())
        assert record["clamp_known"] is bool(flag)
        assert ("Protocol: clamped completion" in (out / "table1.md").read_text()) is bool(flag)
        rows[bool(flag)] = record["results"]["hopfield-storkey"]["32"]
    assert rows[True]["query_mean"] == rows[False]["query_mean"]  # the same queries
    assert rows[True]["mean"] < rows[False]["mean"] / 2  # told which bits are right, it completes far better


def test_mask_distortion_is_a_fixed_block_and_the_slot_memory_recalls_values_from_keys():
    d = Distortion.parse("mask:64-127")
    assert (d.kind, d.count, d.start, str(d), d.extent) == ("mask", 64, 64, "mask:64-127", 128)
    x = random_patterns((3, 8, 128), generator=torch.Generator().manual_seed(7))
    q, corrupted = d.corrupt(x)
    assert corrupted[..., 64:].all() and not corrupted[..., :64].any()
    assert (q[..., 64:] == 0.5).all() and torch.equal(q[..., :64], x[..., :64])
    for bad in ("mask:5", "mask:9-3", "mask:a-b"):
        with pytest.raises(ValueError, match="mask:A-B"):
            Distortion.parse(bad)
    with pytest.raises(ValueError, match="cannot corrupt"):
        Distortion.parse("mask:100-140").corrupt(x)
    memory = ebmm.EnergyMemory(PRESETS["slots"][0])  # key -> value with the untrained slot memory
    stats = evaluate_binary(memory, 32, "mask:64-127", min_patterns=256, min_batches=8)
    assert stats.query_mean > 25 and stats.mean < 1.0
    res = CliRunner().invoke(main, ["eval", "binary", "--memory", "hopfield-hebb", "--distortion", "mask:100-140", "-N", "8"])
    assert res.exit_code == 2 and "cannot corrupt" in res.output
