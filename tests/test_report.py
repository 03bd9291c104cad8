"""The one result writer and the experiments the CLI delegates to."""

import json

import numpy as np

import ebmm
from ebmm.evaluation.experiments import eval_binary
from ebmm.evaluation.report import write_report
from ebmm.tasks import Distortion


def test_write_report_writes_json_markdown_with_its_command_and_a_figure(tmp_path):
    drawn = []
    paths = write_report(tmp_path / "out", {"command": "ebmm x --y", "value": 1.5, "markdown": "not in the json"}, "| a |",
                         stem=("results", "table"), figure=("fig.png", lambda p: (drawn.append(p), p.write_bytes(b"png"))))
    assert [p.name for p in paths] == ["results.json", "table.md", "fig.png"] and drawn == [paths[2]]
    assert json.loads(paths[0].read_text()) == {"command": "ebmm x --y", "value": 1.5}
    assert paths[1].read_text().endswith("Made by: `ebmm x --y`\n") and paths[1].read_text().startswith("| a |")
    assert [p.name for p in write_report(tmp_path / "one", {"command": ""}, "", stem="table1")] == ["table1.json", "table1.md"]


def test_eval_binary_experiment_scores_every_memory_and_records_the_command():
    memories = {"binary-erase": ebmm.load("binary-erase"), "hopfield-hebb": ebmm.load("hopfield-hebb", dim=128)}
    record, md, results = eval_binary(memories, (16,), Distortion.parse("erase:64"), min_patterns=64, command="cmd")
    assert record["command"] == "cmd" and set(record["results"]) == set(memories) and "paper" in md
    ours, hebb = (results[n][16].mean for n in memories)
    assert ours < 0.5 and hebb > ours  # the shipped memory retrieves; Hebb at N = 16 does worse
    assert np.isfinite(record["results"]["hopfield-hebb"]["16"]["mean"])
