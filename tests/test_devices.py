"""Devices and precision: `--device` / `ebmm.load(device=)` / `memory.to()` on the CPU, the
device-free checkpoints, bf16 where it is allowed and refused where it is not; tests marked
``cuda`` run only where a GPU is present (benchmarks/gpu_check.sh)."""

import dataclasses
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import ebmm
from ebmm.cli import main
from ebmm.devices import DeviceError, check_precision, precision_context, resolve_device
from ebmm.checkpoint import load_checkpoint
from ebmm.models.ebmm import EBMM
from ebmm.meta.trainer import MetaStep, train
from ebmm.presets import PRESETS
from ebmm.tasks import Distortion, random_patterns


def test_resolve_device_names_and_clear_errors(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu") and resolve_device(None) == torch.device("cpu")
    for spec, match in [("cuda", "not available"), ("cuda:1", "not available"), ("mps", "not available"),
                        ("tpu", "unknown device"), ("cuda:x", "unknown device")]:
        with pytest.raises(DeviceError, match=match):
            resolve_device(spec)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == torch.device("cuda") and resolve_device("cuda:1") == torch.device("cuda:1")
    with pytest.raises(DeviceError, match="2 CUDA device"):
        resolve_device("cuda:2")


def _device_params(group, path=()):
    import click

    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _device_params(command, path + (name,))
        for param in command.params:
            if param.name == "device":
                yield " ".join(path + (name,)), param


def test_one_default_device_for_the_cli_and_the_api_the_cpu_even_with_a_gpu(monkeypatch, tmp_path):
    """``ebmm.load`` and every ``--device`` default to the CPU: a GPU is used when asked for
    (``cuda``, ``auto``), so the command line and the API compute in the same place."""
    commands = dict(_device_params(main))
    assert {"recall", "write", "eval binary", "train binary", "train images", "demo"} <= set(commands)
    for name, param in commands.items():
        if name.startswith("train"):  # no default of its own: a new run takes TrainConfig.device, a resumed one its own
            assert not isinstance(param.default, str), (name, param.default)
        else:
            assert param.default == "cpu", (name, param.default)
    assert ebmm.TrainConfig().device == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a GPU "visible": nothing below may use it
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert ebmm.load("binary-erase").device == torch.device("cpu")
    assert ebmm.load("hopfield-hebb", dim=16).device == torch.device("cpu")
    r = CliRunner().invoke(main, ["train", "binary", "--preset", "tiny", "--steps", "1", "--eval-every", "0",
                                  "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "config.json").read_text())["train"]["device"] == "cpu"
    assert "training on the CPU (the default); --device cuda trains on the GPU (1 visible)" in r.output


def test_bf16_is_refused_for_the_slot_energies_only():
    assert check_precision("bf16", "logcosh") == "bf16" and check_precision("tf32", "slots") == "tf32"
    for kind in ("slots", "image_slots"):
        with pytest.raises(DeviceError, match="refused"):
            check_precision("bf16", kind)
    with pytest.raises(DeviceError, match="unknown precision"):
        check_precision("fp16")


def _tiny_step(precision: str, gen):
    mcfg, _ = PRESETS["tiny"]
    arch = EBMM.from_config(mcfg)
    params = arch.init_params(seed=0)
    x = random_patterns((4, 8, 32), generator=gen)
    q = Distortion.parse("erase:16").apply(x, generator=gen)
    before = torch.get_float32_matmul_precision()
    with precision_context(precision, torch.device("cpu")):
        grads, loss, _ = MetaStep(arch, compile=False)(params, x, q)
    assert torch.get_float32_matmul_precision() == before  # restored on exit
    return grads, loss


def test_precisions_on_the_cpu_tf32_changes_nothing_and_bf16_stays_close():
    g32, l32 = _tiny_step("fp32", torch.Generator().manual_seed(0))
    gtf, ltf = _tiny_step("tf32", torch.Generator().manual_seed(0))
    g16, l16 = _tiny_step("bf16", torch.Generator().manual_seed(0))
    assert torch.equal(l32, ltf)  # TF32 is a CUDA matmul mode: no effect on the CPU
    assert all(g.dtype == torch.float32 for d in g16.values() for g in d.values())  # parameters stay float32
    # bf16 rounds every matmul output to 8 mantissa bits (relative 2^-8 ≈ 0.4 %); through the
    # unrolled write and read of the tiny preset the loss stays within a few percent of fp32's
    assert torch.isfinite(l16) and abs(float(l16) - float(l32)) < 0.05 * float(l32), (float(l16), float(l32))
    assert float(l16) != float(l32)  # autocast really ran in bfloat16


def test_load_with_a_device_and_to_give_the_same_retrievals(gen):
    default = ebmm.load("binary-erase")
    on_cpu = ebmm.load("binary-erase", device="cpu")
    assert on_cpu.device == torch.device("cpu") and on_cpu.to("auto" if not torch.cuda.is_available() else "cpu") is on_cpu
    x = random_patterns((16, 128), generator=gen)
    q = Distortion.parse("erase:64").apply(x, generator=gen)
    np.testing.assert_array_equal(default.read(q, default.write(x)), on_cpu.read(q.numpy(), on_cpu.write(x)))
    hop = ebmm.load("hopfield-hebb", dim=128, device="cpu")
    assert hop.device == torch.device("cpu") and hop.read(q, hop.write(x)).shape == (16, 128)
    with pytest.raises(DeviceError):
        ebmm.load("binary-erase", device="tpu")


def test_train_on_cpu_records_the_device_and_resumes_with_another_spelling(tmp_path):
    mcfg, tcfg = PRESETS["tiny"]
    tcfg = dataclasses.replace(tcfg, steps=4, eval_every=2, checkpoint_every=2, device="auto")
    train(mcfg, tcfg, tmp_path, progress=False)
    saved = json.loads((tmp_path / "config.json").read_text())["train"]
    assert saved["device"] == "auto" and saved["precision"] == "fp32"
    ck = load_checkpoint(tmp_path / "checkpoint.safetensors")
    assert all(t.device.type == "cpu" for d in ck.params.values() for t in d.values())
    more = train(mcfg, dataclasses.replace(tcfg, steps=6, device="cpu"), tmp_path, resume=True, progress=False)
    assert more.step == 6  # the device is bookkeeping: a run resumes on another one


def test_cli_device_and_precision_options(tmp_path):
    runner = CliRunner()
    r = runner.invoke(main, ["train", "binary", "--preset", "tiny", "--steps", "3", "--device", "cpu", "--precision", "bf16",
                             "--out", str(tmp_path / "bf16"), "--quiet"])
    assert r.exit_code == 0, r.output
    cfg = json.loads((tmp_path / "bf16" / "config.json").read_text())["train"]
    assert cfg["device"] == "cpu" and cfg["precision"] == "bf16"
    r = runner.invoke(main, ["train", "binary", "--preset", "slots", "--steps", "1", "--precision", "bf16",
                             "--out", str(tmp_path / "slots"), "--quiet"])
    assert r.exit_code != 0 and "refused" in r.output
    if not torch.cuda.is_available():
        r = runner.invoke(main, ["eval", "binary", "--device", "cuda", "-N", "16"])
        assert r.exit_code == 2 and "not available" in r.output


# ----------------------------------------------------------------------------- CUDA only
@pytest.mark.cuda
def test_cuda_memory_reads_like_the_cpu_one(gen):
    cpu, gpu = ebmm.load("binary-erase"), ebmm.load("binary-erase", device="cuda")
    x = random_patterns((32, 128), generator=gen)
    q = Distortion.parse("erase:64").apply(x, generator=gen)
    a, b = cpu.read(q, cpu.write(x)), gpu.read(q, gpu.write(x))
    assert np.mean((a > 0.5) != (b > 0.5)) < 1e-3  # same retrievals up to float differences


@pytest.mark.cuda
def test_cuda_training_saves_a_checkpoint_that_loads_on_the_cpu(tmp_path):
    mcfg, tcfg = PRESETS["tiny"]
    train(mcfg, dataclasses.replace(tcfg, steps=3, eval_every=3, device="cuda"), tmp_path, progress=False)
    memory = ebmm.load(tmp_path / "checkpoint.safetensors")
    assert memory.device.type == "cpu" and memory.to("cuda").device.type == "cuda"


def test_the_gpu_check_speed_script_runs_on_the_cpu(tmp_path):
    """benchmarks/device_speed.py (what gpu_check.sh runs) works without a GPU: CPU times only."""
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "benchmarks" / "device_speed.py"
    r = subprocess.run([sys.executable, str(script), "--cases", "binary slots", "--cpu-steps", "1", "--out", str(tmp_path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    rec = json.loads((tmp_path / "device_speed.json").read_text())
    (row,) = rec["rows"]
    assert row["case"] == "binary slots" and row["cpu_s"] > 0
    assert (row["cuda_s"] is None) == (not torch.cuda.is_available())


def test_the_gpu_check_script_parses_and_its_summary_counts_a_junit_report(tmp_path):
    """benchmarks/gpu_check.sh is valid bash, and its summary (gpu_check_summary.py) turns pytest's
    JUnit report into pass/fail counts and the CUDA-marked tests' outcomes, on any machine."""
    import subprocess
    import sys
    from pathlib import Path

    bench = Path(__file__).resolve().parent.parent / "benchmarks"
    assert subprocess.run(["bash", "-n", str(bench / "gpu_check.sh")], capture_output=True).returncode == 0
    (tmp_path / "suite.xml").write_text(
        '<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" tests="4" time="12.5">'
        '<testcase classname="tests.test_a" name="test_ok" time="1"/>'
        '<testcase classname="tests.test_a" name="test_bad[x]" time="1"><failure message="boom"/></testcase>'
        '<testcase classname="tests.test_devices" name="test_on_cuda" time="0"><skipped message="needs a CUDA GPU"/></testcase>'
        '<testcase classname="tests.test_b" name="test_broken" time="0"><error message="fixture"/></testcase>'
        "</testsuite></testsuites>")
    (tmp_path / "speed.log").write_text('{"case": "binary fast", "episodes": 16, "patterns": 96, "cpu_s": 2.0, '
                                        '"cuda_s": 1.0, "speedup": 2.0}\nTerminated\n')  # cut by the cap after one case
    (tmp_path / "ids.txt").write_text("tests/test_devices.py::test_on_cuda\n\n1/40 tests collected (39 deselected) in 1.2s\n")
    r = subprocess.run([sys.executable, str(bench / "gpu_check_summary.py"), "--junit", str(tmp_path / "suite.xml"),
                        "--cuda-ids", str(tmp_path / "ids.txt"), "--speed", str(tmp_path / "absent.json"),
                        "--speed-log", str(tmp_path / "speed.log"),
                        "--seconds", '{"suite": 13}', "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert r.returncode == 1, r.stderr  # a failure in the suite: the check fails
    record = json.loads((tmp_path / "out" / "gpu_check.json").read_text())
    assert {k: record["suite"][k] for k in ("tests", "passed", "failed", "errors", "skipped")} == {
        "tests": 4, "passed": 1, "failed": 1, "errors": 1, "skipped": 1}
    assert record["suite"]["failures"] == ["tests/test_a.py::test_bad[x]", "tests/test_b.py::test_broken"]
    assert record["cuda_tests"] == {"tests/test_devices.py::test_on_cuda": "skipped"}
    assert record["device_speed"]["partial"] and [r["case"] for r in record["device_speed"]["rows"]] == ["binary fast"]
    assert "missing" in record["training"] and record["seconds"] == {"suite": 13}
    md = (tmp_path / "out" / "gpu_check.md").read_text()
    assert "1 passed, 1 failed, 1 errors, 1 skipped of 4" in md and "| binary fast | 2.000 | 1.0000 | 2.0× |" in md


def test_the_global_matmul_precision_is_set_once_per_run_not_per_step(monkeypatch):
    """issue 21: the step holds no global state; the trainer sets the run's matmul precision
    once around its loop and restores it, however many steps it takes."""
    from ebmm.meta.step import Batch, TrainStep, init_state

    calls = []
    real = torch.set_float32_matmul_precision
    monkeypatch.setattr(torch, "set_float32_matmul_precision", lambda p: (calls.append(p), real(p))[1])
    mcfg, tcfg = PRESETS["tiny"]
    arch = EBMM.from_config(mcfg)
    gen = torch.Generator().manual_seed(0)
    x = random_patterns((2, 4, 32), generator=gen)
    step = TrainStep(arch, dataclasses.replace(tcfg, precision="tf32"))
    step(init_state(arch.init_params(seed=0)), Batch(x, Distortion.parse("erase:16").apply(x, generator=gen)))
    assert calls == []  # the step alone: no global state
    before = torch.get_float32_matmul_precision()
    train(mcfg, dataclasses.replace(tcfg, precision="tf32", steps=3, eval_every=0, patterns=4, episodes=2), None, progress=False)
    assert calls == ["high", before] and torch.get_float32_matmul_precision() == before
