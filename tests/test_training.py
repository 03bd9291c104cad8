"""Meta-training: it learns, it resumes exactly, it survives bad steps and crashes."""

import json
import math

import pytest
import torch

import ebmm.meta.trainer as trainer_mod
from ebmm.config import TrainConfig
from ebmm.errors import CheckpointError, TrainingInterrupted
from ebmm.checkpoint import load_checkpoint
from ebmm.models.ebmm import EBMM, init_params
from ebmm.meta.trainer import CHECKPOINT_NAME, METRICS_NAME, distortion_at, evaluate_params, lr_lambda, train

from dataclasses import replace


def test_tiny_meta_training_beats_the_query_and_the_untrained_memory(tiny_memory_config, tiny_train_config):
    cfg = replace(tiny_train_config, steps=250, eval_every=0)
    arch = EBMM.from_config(tiny_memory_config)
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

    def poisoned(self, params, x, q, mask=None, known=None):
        grads, loss, last = real(self, params, x, q, mask, known)
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
    import ebmm.files as ck  # the one safetensors writer

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

    def terminated_at_step_7(self, params, x, q, mask=None, known=None):
        calls["n"] += 1
        if calls["n"] == 7:
            os.kill(os.getpid(), signal.SIGTERM)
        return real(self, params, x, q, mask, known)

    monkeypatch.setattr(trainer_mod.MetaStep, "__call__", terminated_at_step_7)
    cfg = replace(tiny_train_config, steps=50, checkpoint_every=1000, eval_every=0)
    with pytest.raises(TrainingInterrupted) as stopped:  # a KeyboardInterrupt, as before
        train(tiny_memory_config, cfg, tmp_path, progress=False)
    step = load_checkpoint(tmp_path / CHECKPOINT_NAME).step
    assert step in (6, 7) and isinstance(stopped.value, KeyboardInterrupt)
    assert (stopped.value.signum, stopped.value.step, stopped.value.exit_status) == (signal.SIGTERM, step, 143)
    assert stopped.value.checkpoint == tmp_path / CHECKPOINT_NAME
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_sigterm_during_ebmm_train_says_where_it_stopped_and_exits_143(tmp_path):
    """`ebmm train` sent SIGTERM mid-run: the checkpoint is saved, one line on stderr says at
    which step it stopped, where the checkpoint is and how to resume (no click "Aborted!"), the
    exit status is 128 + 15, and --resume continues from that step."""
    import os
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "ebmm", "train", "binary", "--preset", "tiny", "--steps", "100000", "--eval-every", "0",
           "--checkpoint-every", "100000", "--out", str(out), "--threads", "1", "--quiet", "--device", "cpu"]
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    metrics, deadline = out / METRICS_NAME, time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:  # wait until it has taken steps (a log line every 10)
        if metrics.exists() and metrics.read_text().count("\n") >= 2:
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, (proc.returncode, stderr[-2000:])
    step = load_checkpoint(out / CHECKPOINT_NAME).step
    assert step >= 20
    assert stderr.strip().splitlines() == [
        f"stopped by SIGTERM at step {step} of 100000; checkpoint saved to {out / CHECKPOINT_NAME}; "
        "continue with the same command and --resume"], stderr
    assert "Aborted" not in stdout + stderr and stdout == ""
    resumed = subprocess.run([*cmd[:cmd.index("--steps") + 1], str(step + 2), *cmd[cmd.index("--steps") + 2:], "--resume"],
                             capture_output=True, text=True, env=env, timeout=120)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert load_checkpoint(out / CHECKPOINT_NAME).step == step + 2


def test_variable_pattern_counts_are_masked(tiny_memory_config, tiny_train_config):
    """Padding an episode with extra patterns that the mask excludes changes nothing."""
    from ebmm.meta.trainer import pattern_mask

    arch = EBMM.from_config(tiny_memory_config)
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


def _scripted_step(tiny_memory_config, cfg, grads):
    """A TrainStep whose meta-gradients are ``grads`` (a list of 3-vectors), one per call, on a
    one-leaf parameter pytree: the guards and the update, nothing else."""
    from ebmm.meta.step import Batch, TrainStep, init_state

    step = TrainStep(EBMM.from_config(tiny_memory_config), cfg)
    feed = iter(grads)
    step.meta_step = lambda params, x, q, mask, known: ({"static": {"w": next(feed)}}, torch.tensor(1.0), x)
    state = init_state({"static": {"w": torch.zeros(3)}})
    batch = Batch(torch.zeros(1, 1, 32), torch.zeros(1, 1, 32))
    return step, state, batch


def test_spike_guard_skips_a_finite_explosion_and_counts_it(tiny_memory_config):
    cfg = TrainConfig(lr=0.1, clip_norm=0.0, spike_factor=10.0, spike_window=20)
    grads = [torch.tensor([1.0, 0.0, 0.1 * i]) for i in range(12)] + [torch.tensor([1e5, 0.0, 0.0])]
    step, state, batch = _scripted_step(tiny_memory_config, cfg, grads)
    for _ in range(12):  # ordinary steps: norms ≈ 1 are applied and recorded
        state, m = step(state, batch)
        assert m["applied"]
    before = state
    state, m = step(state, batch)
    assert not m["applied"] and m["spike"] and float(m["grad_norm"]) == 1e5
    assert torch.equal(state.params["static"]["w"], before.params["static"]["w"])  # a finite explosion changes nothing
    assert state.norm_history == before.norm_history  # and does not raise the median it is judged by
    assert (state.step, state.skipped, state.spikes, state.updates) == (13, 1, 1, 12)
    assert before.step == 12  # the step returned a new state; the old one is untouched


def test_spike_guard_accepts_a_new_scale_after_a_full_window_of_spikes(tiny_memory_config):
    cfg = TrainConfig(lr=0.1, clip_norm=0.0, spike_factor=10.0, spike_window=10)
    step, state, batch = _scripted_step(tiny_memory_config, cfg, [torch.tensor([100.0, 0.0, 0.0])] * 11)
    state = replace(state, norm_history=(1.0,) * 10)
    flags = []
    for _ in range(10):
        state, m = step(state, batch)
        flags.append(m["spike"])
    assert all(flags) and state.norm_history == ()  # history cleared: the scale really changed
    state, m = step(state, batch)
    assert m["applied"]  # too little history to judge


def test_relative_clipping_scales_an_outlier_down_to_a_multiple_of_the_median(tiny_memory_config):
    cfg = TrainConfig(lr=0.1, clip_norm=0.0, clip_relative=3.0, spike_factor=0.0, spike_window=20)
    step, state, batch = _scripted_step(tiny_memory_config, cfg, [torch.tensor([1.0, 0.0, 0.0])] * 10 + [torch.tensor([0.0, 400.0, 0.0])])
    for _ in range(10):
        state, m = step(state, batch)
        assert m["clip_scale"] == 1.0
    state, m = step(state, batch)
    assert m["applied"] and float(m["grad_norm"]) == 400.0
    assert m["clip_scale"] == pytest.approx(3.0 / 400.0)  # clipped to 3 × median(1)


def test_the_pure_step_matches_torch_adamw(tiny_memory_config):
    """The functional update is torch.optim.AdamW's: same parameters after the same gradients."""
    cfg = TrainConfig(lr=0.01, weight_decay=0.1, clip_norm=0.0)
    grads = [torch.tensor([0.3, -1.0, 2.0]) * (i + 1) for i in range(5)]
    step, state, batch = _scripted_step(tiny_memory_config, cfg, list(grads))
    w = torch.nn.Parameter(torch.zeros(3))
    opt = torch.optim.AdamW([w], lr=0.01, weight_decay=0.1)
    for g in grads:
        state, _ = step(state, batch)
        w.grad = g.clone()
        opt.step()
    torch.testing.assert_close(state.params["static"]["w"], w.detach(), rtol=0, atol=1e-7)


def test_group_learning_rates_and_a_frozen_group(tiny_memory_config, tiny_train_config):
    from ebmm.meta.step import group_multipliers

    arch = EBMM.from_config(tiny_memory_config)
    params = init_params(arch)
    cfg = replace(tiny_train_config, lr=1e-3, group_lr={"read": 10.0, "write": 0.0})
    assert group_multipliers(params, cfg) == {"static": 1.0, "init": 1.0, "read": 10.0, "write": 0.0}
    with pytest.raises(ValueError, match="not groups"):
        group_multipliers(params, replace(cfg, group_lr={"rates": 2.0}))
    with pytest.raises(ValueError, match=">= 0"):
        TrainConfig(group_lr={"read": -1.0})
    result = train(tiny_memory_config, replace(cfg, steps=5, eval_every=0), progress=False)
    for name, value in params["write"].items():  # frozen: unchanged (weight decay is scaled by lr too)
        assert torch.equal(result.params["write"][name], value)
    assert not torch.equal(result.params["read"]["step"], params["read"]["step"])


def test_the_log_shows_the_base_learning_rate_when_the_first_group_is_frozen(tiny_memory_config, tiny_train_config, tmp_path):
    cfg = replace(tiny_train_config, lr=1e-3, group_lr={"static": 0.0, "write": 0.0}, steps=4, eval_every=0, log_every=1,
                  lr_schedule="constant", warmup_steps=0)
    train(tiny_memory_config, cfg, tmp_path, progress=False)
    logged = [r["lr"] for r in map(json.loads, (tmp_path / METRICS_NAME).read_text().splitlines()) if "lr" in r]
    assert logged and all(lr == pytest.approx(1e-3) for lr in logged)


def test_the_untrained_memory_is_evaluated_and_logged_at_step_0(tiny_memory_config, tiny_train_config, tmp_path):
    train(tiny_memory_config, replace(tiny_train_config, steps=5), tmp_path, progress=False)
    records = [json.loads(l) for l in (tmp_path / METRICS_NAME).read_text().splitlines()]
    first = next(r for r in records if "eval_error_bits" in r)
    assert first["step"] == 0
    arch = EBMM.from_config(tiny_memory_config)
    untrained = evaluate_params(arch, init_params(arch), 8, "erase:16", tiny_train_config.eval_episodes, 10_000)
    assert first["eval_by_patterns"]["8"] == pytest.approx(untrained)


def test_a_checkpoint_of_the_older_rate_layout_loads_into_per_term_rates(tiny_memory_config, tmp_path):
    """Before per-term rates, a memory held ``write/rates (T, L, 3)``; such a file still loads
    and writes exactly as it did (the prior's first row, always unused, is dropped)."""
    from safetensors.torch import load_file, save_file
    from safetensors import safe_open

    from ebmm.checkpoint import Checkpoint, save_checkpoint

    arch = EBMM.from_config(tiny_memory_config)
    params = init_params(arch)
    params["write"] = {k: v + 0.1 * torch.arange(v.numel()).reshape(v.shape) for k, v in params["write"].items()}
    path = save_checkpoint(tmp_path / "new.safetensors", Checkpoint(arch, params))
    tensors = load_file(str(path))
    with safe_open(str(path), framework="pt") as f:
        meta = {k: v for k, v in f.metadata().items() if k != "format_version"}  # files of that layout predate the version
    e, g, pr = (tensors.pop(f"params/write/{t}") for t in ("energy", "grad_norm", "prior"))
    legacy = torch.stack([e, g, torch.cat([torch.full_like(pr[:1], 7.0), pr])], dim=-1)  # (T, L, 3)
    save_file({**tensors, "params/write/rates": legacy}, str(tmp_path / "old.safetensors"), metadata=meta)
    old = load_checkpoint(tmp_path / "old.safetensors")
    for k, v in params["write"].items():
        torch.testing.assert_close(old.params["write"][k], v)


def test_a_cpu_budget_stops_the_run_evaluates_it_and_resumes_its_count(tiny_memory_config, tiny_train_config, tmp_path):
    cfg = replace(tiny_train_config, steps=10_000, eval_every=1000, cpu_budget_s=0.5, eval_patterns=(4, 8))
    first = train(tiny_memory_config, cfg, tmp_path, progress=False)
    assert 0 < first.step < 10_000 and first.train_cpu_s >= 0.5
    records = [json.loads(l) for l in (tmp_path / METRICS_NAME).read_text().splitlines()]
    last_eval = [r for r in records if "eval_by_patterns" in r][-1]
    assert last_eval["step"] == first.step and set(last_eval["eval_by_patterns"]) == {"4", "8"}
    more = train(tiny_memory_config, replace(cfg, cpu_budget_s=1.0), tmp_path, resume=True, progress=False)
    assert more.step > first.step and more.train_cpu_s >= 1.0  # the budget counts the whole run


def test_the_config_holds_a_typed_corruption_and_serialises_its_string():
    from ebmm.config import to_dict, train_config_from_dict
    from ebmm.tasks import Distortion, Occlusion

    cfg = TrainConfig(distortion="replace:64")
    assert cfg.distortion == Distortion("replace", 64) and to_dict(cfg)["distortion"] == "replace:64"
    assert train_config_from_dict(json.loads(json.dumps(to_dict(cfg)))) == cfg
    assert TrainConfig().distortion == Distortion("erase", 64)
    assert TrainConfig(task="images", dataset="mnist").distortion == Occlusion("noise", 16)
    assert str(TrainConfig(distortion="mask:0-63").distortion) == "mask:0-63"
    for bad, match in [(dict(distortion="noise:16"), "distortion like"), (dict(task="images", dataset="mnist", distortion="erase:8"), "occlusion like"),
                       (dict(distortion="blur:3"), "KIND:K|expected")]:
        with pytest.raises(ValueError, match=match):
            TrainConfig(**bad)


def test_binary_configs_from_a_preset_and_overrides():
    from ebmm.presets import BASELINE_TRAIN, PRESETS, binary_base, energy_memory_config

    mcfg, tcfg = binary_base("slots")
    assert (mcfg, tcfg) == PRESETS["slots"]
    _, btcfg = binary_base("slots", "lstm")
    assert btcfg.lr == BASELINE_TRAIN.lr and btcfg.distortion == tcfg.distortion and btcfg.min_patterns == tcfg.min_patterns
    fast = energy_memory_config(PRESETS["fast"][0], max_patterns=32, hidden=48, read_steps=4, write_chunk=1)
    assert (fast.energy.kwargs["hidden"], fast.read.steps, fast.write.chunk, fast.max_patterns) == (48, 4, 1, 32)
    other = energy_memory_config(PRESETS["slots"][0], max_patterns=96, energy="logcosh")
    assert other.energy.kind == "logcosh" and other.energy.kwargs == {}  # another energy: its own defaults
    with pytest.raises(ValueError, match="no hidden layer"):
        energy_memory_config(mcfg, max_patterns=96, hidden=10)
    with pytest.raises(ValueError, match="unknown preset"):
        binary_base("huge")


@pytest.mark.parametrize("clamp", [False, True])
def test_the_trainers_held_out_evaluation_is_the_tables_loop(clamp):
    """One held-out loop: the trainer's ``evaluate_params`` on a model's parameters and the
    tables' ``per_set_errors`` on the same memory score the same sets alike, free and clamped."""
    import ebmm
    from ebmm.evaluation.binary import per_set_errors
    from ebmm.tasks import BinaryTask, Distortion

    memory = ebmm.load("memory_networks-binary-erase")
    spec = Distortion.parse("erase:64")
    errs, query = per_set_errors(memory, BinaryTask(memory.dim, spec), 24, 6, chunk=6, seed=77, clamp_known=clamp)
    assert query.mean() > 20 and errs.mean() < query.mean() / 4  # the memory really retrieves
    trained = evaluate_params(memory.model, memory.params, 24, "erase:64", 6, 77, clamp_known=clamp)
    assert trained == pytest.approx(float(errs.mean()), abs=1e-5)
