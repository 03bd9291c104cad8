"""The capacity finder: the largest N within an error budget."""

import json

import pytest
from click.testing import CliRunner

from ebmm import HopfieldMemory
from ebmm.cli import main
from ebmm.evaluation.capacity import find_capacity


def test_a_tighter_budget_gives_a_smaller_capacity_and_the_boundary_is_probed():
    memory = HopfieldMemory("hebb", dim=64)
    loose = find_capacity(memory, budget=4.0, distortion="flip:4", max_n=64, min_patterns=200)
    tight = find_capacity(memory, budget=0.2, distortion="flip:4", max_n=64, min_patterns=200)
    assert 1 <= tight.capacity < loose.capacity < 64
    for result in (loose, tight):
        by_n = {p.n: p for p in result.probes}
        assert by_n[result.capacity].mean <= result.budget < by_n[result.capacity + 1].mean
        assert all(p.low <= p.mean <= p.high for p in result.probes)
    with pytest.raises(ValueError, match="budget"):
        find_capacity(memory, budget=-1)


def test_capacity_cli_writes_json_and_a_plot(tmp_path):
    res = CliRunner().invoke(main, ["capacity", "--memory", "hopfield-storkey", "--budget", "1", "--distortion", "flip:8",
                                    "--max-n", "64", "--min-patterns", "128", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    record = json.loads((tmp_path / "capacity.json").read_text())
    assert record["capacity"] >= 1 and "ebmm capacity" in record["command"]
    assert (tmp_path / "capacity.png").stat().st_size > 1000


def test_information_limits_count_what_an_erasure_leaves_to_store():
    """8256 floats, erase:64: 64 bits per pattern beyond what the query keeps — 4128 patterns by
    counting float32 bits, 129 by exact linear algebra, 258 where box-constrained recovery of
    bits reaches its phase transition; no such count for replace (unknown positions)."""
    from ebmm.evaluation.capacity import information_limits

    limits = information_limits(8256, "erase:64")
    assert limits == {"float32 bits": 4128.0, "linear, exact": 129.0, "linear, binary": 258.0}
    assert information_limits(8256, "erase:32")["linear, exact"] == 8256 / 32
    assert information_limits(8256, "replace:64") == {}
