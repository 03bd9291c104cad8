"""Meta-training: it learns, it resumes exactly, it survives bad steps and crashes."""

import json
import math

import pytest
import torch

import ebmm.meta.trainer as trainer_mod
from ebmm.config import TrainConfig
from ebmm.errors import CheckpointError
from ebmm.meta.checkpoint import load_checkpoint
from ebmm.meta.model import Architecture, init_params
from ebmm.meta.trainer import CHECKPOINT_NAME, METRICS_NAME, distortion_at, evaluate_params, lr_lambda, train

from dataclasses import replace


def test_tiny_meta_training_beats_the_query_and_the_untrained_memory(tiny_memory_config, tiny_train_config):
    cfg = replace(tiny_train_config, steps=250, eval_every=0)
    arch = Architecture.from_config(tiny_memory_config)
    before = evaluate_params(arch, init_params(arch), 8, "erase:16", 32, seed=99)
    result = train(tiny_memory_config, cfg, progress=False)
    after = evaluate_params(arch, result.params, 8, "erase:16", 32, seed=99)
    query_bits = 8.0  # 16 erased positions of random bits: half are wrong after thresholding at 0.5
    assert after < 0.5 * query_bits
    assert after < 0.8 * before, (before, after)


def test_resumed_run_continues_the_interrupted_one(tiny_memory_config, tiny_train_config, tmp_path):
    straight = train(tiny_memory_config, tiny_train_config, tmp_path / "a", progress=False)
    half = replace(tiny_train_config, steps=10)
    train(tiny_memory_config, half, tmp_path / "b", progress=False)
    resumed = train(tiny_memory_config, tiny_train_config, tmp_path / "b", resume=True, progress=False)
    assert resumed.step == straight.step == 20
    for g in straight.params:
        for k in straight.params[g]:
            torch.testing.assert_close(resumed.params[g][k], straight.params[g][k], rtol=1e-5, atol=1e-6)
    steps = [json.loads(l)["step"] for l in (tmp_path / "b" / METRICS_NAME).read_text().splitlines()]
    assert steps == sorted(steps) and steps[-1] == 20


def test_resume_without_any_evaluation(tiny_memory_config, tiny_train_config, tmp_path):
    cfg = replace(tiny_train_config, steps=3, eval_every=0)
    train(tiny_memory_config, cfg, tmp_path, progress=False)
    assert train(tiny_memory_config, replace(cfg, steps=5), tmp_path, resume=True, progress=False).step == 5


def test_resume_refuses_a_different_run(tiny_memory_config, tiny_train_config, tmp_path):
    train(tiny_memory_config, replace(tiny_train_config, steps=5), tmp_path, progress=False)
    with pytest.raises(CheckpointError, match="different training configuration"):
        train(tiny_memory_config, replace(tiny_train_config, lr=0.5), tmp_path, resume=True, progress=False)
    with pytest.raises(CheckpointError, match="no checkpoint"):
        train(tiny_memory_config, tiny_train_config, tmp_path / "empty", resume=True, progress=False)


def test_non_finite_meta_gradients_are_skipped_and_counted(tiny_memory_config, tiny_train_config, monkeypatch):
    real = trainer_mod.MetaStep.__call__
    calls = {"n": 0}

    def poisoned(self, params, x, q, mask=None):
        grads, loss, last = real(self, params, x, q, mask)
        calls["n"] += 1
        if calls["n"] % 2 == 0:
            grads = {g: {k: torch.full_like(v, math.nan) for k, v in d.items()} for g, d in grads.items()}
        return grads, loss, last

    monkeypatch.setattr(trainer_mod.MetaStep, "__call__", poisoned)
    result = train(tiny_memory_config, replace(tiny_train_config, steps=6, eval_every=0), progress=False)
    assert result.skipped == 3
    assert all(torch.isfinite(t).all() for d in result.params.values() for t in d.values())


def test_a_crash_while_checkpointing_keeps_the_last_good_checkpoint(tiny_memory_config, tiny_train_config, tmp_path, monkeypatch):
    train(tiny_memory_config, replace(tiny_train_config, steps=10), tmp_path, progress=False)
    good = (tmp_path / CHECKPOINT_NAME).read_bytes()
    import ebmm.meta.checkpoint as ck

    def crash(tensors, path, metadata=None):
        with open(path, "wb") as f:
            f.write(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(ck, "save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        train(tiny_memory_config, tiny_train_config, tmp_path, resume=True, progress=False)
    assert (tmp_path / CHECKPOINT_NAME).read_bytes() == good
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME).step == 10
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_lr_schedule_and_curriculum():
    cfg = TrainConfig(steps=100, warmup_steps=10, lr_schedule="cosine", final_lr_fraction=0.1,
                      curriculum_steps=50, curriculum_start_fraction=0.25, distortion="erase:64")
    f = lr_lambda(cfg)
    assert f(0) == pytest.approx(0.1) and f(10) == pytest.approx(1.0) and f(100) == pytest.approx(0.1)
    assert distortion_at(cfg, 0).count == 16 and distortion_at(cfg, 50).count == 64
    assert distortion_at(cfg, 25).count == 40
    with pytest.raises(ValueError, match="lr_schedule"):
        TrainConfig(lr_schedule="linear")


def test_sigterm_writes_the_exit_checkpoint(tiny_memory_config, tiny_train_config, tmp_path, monkeypatch):
    import os
    import signal

    real = trainer_mod.MetaStep.__call__
    calls = {"n": 0}

    def terminated_at_step_7(self, params, x, q, mask=None):
        calls["n"] += 1
        if calls["n"] == 7:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(self, params, x, q, mask)

    monkeypatch.setattr(trainer_mod.MetaStep, "__call__", terminated_at_step_7)
    cfg = replace(tiny_train_config, steps=50, checkpoint_every=1000, eval_every=0)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_memory_config, cfg, tmp_path, progress=False)
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME).step in (6, 7)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_variable_pattern_counts_are_masked(tiny_memory_config, tiny_train_config):
    """Padding an episode with extra patterns that the mask excludes changes nothing."""
    from ebmm.meta.trainer import pattern_mask

    arch = Architecture.from_config(tiny_memory_config)
    params = init_params(arch)
    gen = torch.Generator().manual_seed(3)
    x = torch.randint(0, 2, (2, 6, 32), generator=gen).float()
    q = x.clone()
    q[..., :8] = 0.5
    mask = torch.tensor([[1.0] * 4 + [0.0] * 2, [1.0] * 4 + [0.0] * 2])
    loss_masked, last_masked = arch.loss(params, x, q, mask)
    loss_small, last_small = arch.loss(params, x[:, :4], q[:, :4])
    torch.testing.assert_close(loss_masked, loss_small)
    torch.testing.assert_close(last_masked[:, :4], last_small)
    m = pattern_mask(replace(tiny_train_config, patterns=10, min_patterns=3, episodes=200), gen)
    counts = m.sum(1)
    assert counts.min() == 3 and counts.max() == 10 and (m[:, 0] == 1).all()
    assert pattern_mask(tiny_train_config, gen) is None
    with pytest.raises(ValueError, match="min_patterns"):
        TrainConfig(patterns=8, min_patterns=9)
