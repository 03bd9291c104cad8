"""The contract every learned baseline shares, checked for each kind on a tiny configuration:
its config survives JSON, its memory fills the binary budget, a saved memory reloads to the
same outputs, padding with a mask changes nothing, queries are read independently, bad input
is refused, and a short meta-training run beats the query. Model-specific checks (closed
forms, mechanisms, state layouts) live in each model's own test file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch

import ebmm
from ebmm import AssociativeMemory
from ebmm.config import TrainConfig
from ebmm.models import model_kinds, system_kinds
from ebmm.meta.trainer import evaluate_params, train
from ebmm.tasks import Distortion, random_patterns

BUDGET = 8256  # the binary task's memory budget at d = 128

# kind -> the tiny configuration (16-bit patterns) every contract test starts from
SMALL = {
    "lstm": dict(dim=16, max_patterns=4, hidden=64, recurrent_rank=0),
    # 8 slots of 8 floats + a flag: each pattern compressed to half its size
    "memory_networks": dict(dim=16, max_patterns=8, budget=72, hidden=32),
    # 8 rows of 8 floats + a flag: a learned projection to half the size
    "modern_hopfield": dict(dim=16, max_patterns=8, budget=72),
    "mann": dict(dim=16, max_patterns=4, slots=4, width=8, hidden=32),
    "plasticity": dict(dim=16, max_patterns=4, read_steps=3),
    "kanerva": dict(dim=16, max_patterns=4, slots=8, code=16, hidden=32),
    # a 6 × 4 fast-weight matrix, written in chunks of 3
    "delta_rule": dict(dim=16, max_patterns=4, key_dim=4, value_dim=6, hidden=32, chunk=3),
    # a 4 → 6 → 5 MLP (65 weights) and its momentum
    "mlp_memory": dict(dim=16, max_patterns=4, key_dim=4, memory_hidden=6, value_dim=5, hidden=32, chunk=2),
}
KINDS = list(SMALL)

# variants of the tiny configurations some contracts are also checked on
FACTORED = {"recurrent_rank": 8}  # LSTM with a factored recurrent matrix
TWO_HOPS = {"hops": 2}  # Memory Networks
VERBATIM = {"budget": 136, "steps": 2}  # modern Hopfield with room for 8 verbatim rows of 16 + a flag
LEARNED = {"addressing": "learned"}  # Kanerva Machine
GATED = {"decay": True}  # the delta rule with Gated DeltaNet's forgetting gate
FOLLOW = {"width_follows_n": True}  # Memory Networks, modern Hopfield: the code width follows N (16 floats to 4, 8 at 8)


@dataclass(frozen=True)
class Training:
    """The tiny meta-training run (its N is the tiny config's ``max_patterns``) and how far
    below the query's 4 error bits, and below the untrained model, it must end."""

    steps: int
    below_query: float
    below_before: float
    changes: dict = field(default_factory=dict)  # to the tiny config


@dataclass(frozen=True)
class Contract:
    """A kind's settings for the contract tests, beyond its tiny config."""

    round_trip: dict  # a config off the defaults, for the JSON round trip
    refused: tuple  # (config, message): configs the constructor refuses
    tiny_memory_size: int  # floats in the tiny config's memory state
    reload_patterns: int  # patterns written before saving
    bad_inputs: tuple  # (patterns, message): input AssociativeMemory refuses
    training: Training
    reload_atol: float = 1e-6  # reloaded outputs may differ in the last bits


CONTRACTS = {
    "lstm": Contract(
        round_trip=dict(dim=32, max_patterns=7, hidden=12, recurrent_rank=3),
        refused=((dict(hidden=0), "hidden"), (dict(recurrent_rank=-1), "recurrent_rank")),
        tiny_memory_size=128,
        reload_patterns=4,
        bad_inputs=(
            (np.zeros((4, 15)), "16-dimensional"), (np.full((4, 16), 1.5), r"\[0, 1\]"),
            (np.full((4, 16), np.nan), "NaN"),
        ),
        training=Training(steps=250, below_query=0.8, below_before=0.5),
    ),
    "memory_networks": Contract(
        round_trip=dict(dim=32, max_patterns=7, budget=300, hops=3, hidden=5),
        refused=((dict(hops=0), "hops"), (dict(max_patterns=96, budget=100), "budget")),
        tiny_memory_size=72,
        reload_patterns=5,
        bad_inputs=(
            (np.zeros((4, 15)), "16-dimensional"), (np.full((4, 16), -0.5), r"\[0, 1\]"),
            (np.full((4, 16), np.inf), "infinite"),
        ),
        training=Training(steps=150, below_query=0.5, below_before=0.6),  # compressing
    ),
    "modern_hopfield": Contract(
        round_trip=dict(dim=32, max_patterns=7, budget=300, steps=5, beta_init=0.5),
        refused=((dict(steps=0), "steps"), (dict(beta_init=0.0), "beta_init")),
        tiny_memory_size=72,
        reload_patterns=5,
        bad_inputs=(
            (np.zeros((4, 17)), "16-dimensional"), (np.full((4, 16), 2.0), r"\[0, 1\]"),
            (np.full((4, 16), np.nan), "NaN"),
        ),
        training=Training(steps=200, below_query=0.7, below_before=0.6),  # compressing
    ),
    "mann": Contract(
        round_trip=dict(dim=32, max_patterns=7, slots=3, width=5, hidden=11),
        refused=((dict(slots=0), "slots"),),
        tiny_memory_size=40,
        reload_patterns=4,
        bad_inputs=(
            (np.zeros((4, 15)), "16-dimensional"), (np.full((4, 16), 1.5), r"\[0, 1\]"),
            (np.full((4, 16), -0.5), r"\[0, 1\]"),
        ),
        training=Training(steps=150, below_query=0.5, below_before=0.5, changes=dict(width=16, hidden=48)),
    ),
    "plasticity": Contract(
        round_trip=dict(dim=32, max_patterns=7, present_steps=3, read_steps=2, input_gain=5.0),
        refused=((dict(read_steps=0), "read_steps"), (dict(eta_init=1.0), "eta_init")),
        tiny_memory_size=136,
        reload_patterns=4,
        bad_inputs=(
            (np.zeros((4, 17)), "16-dimensional"), (np.full((4, 16), 1.5), r"\[0, 1\]"),
            (np.full((4, 16), np.inf), "NaN"),
        ),
        training=Training(steps=150, below_query=0.5, below_before=0.5),
    ),
    "kanerva": Contract(
        round_trip=dict(dim=32, max_patterns=7, slots=3, code=5, hidden=11, read_iterations=4, addressing="learned"),
        refused=((dict(addressing="random"), "addressing"), (dict(code=0), "code")),
        tiny_memory_size=8 * 16 + 36,
        reload_patterns=4,
        bad_inputs=(
            (np.zeros((4, 8)), "16-dimensional"), (np.full((4, 16), 2.0), r"\[0, 1\]"),
            (np.full((4, 16), np.nan), "NaN"),
        ),
        training=Training(steps=150, below_query=0.5, below_before=0.5, changes=dict(slots=4, code=32, hidden=48)),
        reload_atol=1e-5,
    ),
    "delta_rule": Contract(
        round_trip=dict(dim=32, max_patterns=7, key_dim=3, value_dim=5, hidden=11, read_steps=2, chunk=0, decay=True),
        refused=((dict(value_dim=0), "value_dim"), (dict(chunk=-1), "chunk"), (dict(decay_init=1.0), "decay_init")),
        tiny_memory_size=24,
        reload_patterns=4,
        bad_inputs=(
            (np.zeros((4, 15)), "16-dimensional"), (np.full((4, 16), 1.5), r"\[0, 1\]"),
            (np.full((4, 16), np.nan), "NaN"),
        ),
        # the decoder passes the query's intact bits from the start (1.7 error bits untrained)
        training=Training(steps=300, below_query=0.5, below_before=0.7, changes=dict(key_dim=8, value_dim=16, hidden=48)),
    ),
    "mlp_memory": Contract(
        round_trip=dict(dim=32, max_patterns=7, key_dim=3, memory_hidden=4, value_dim=5, hidden=11, chunk=5, step_init=0.1),
        refused=((dict(memory_hidden=0), "memory_hidden"), (dict(chunk=0), "chunk"), (dict(decay_init=0.0), "decay_init")),
        tiny_memory_size=2 * (6 * 5 + 5 * 7),
        reload_patterns=4,
        bad_inputs=(
            (np.zeros((4, 17)), "16-dimensional"), (np.full((4, 16), -0.5), r"\[0, 1\]"),
            (np.full((4, 16), np.inf), "infinite"),
        ),
        training=Training(steps=150, below_query=0.5, below_before=0.5,
                          changes=dict(key_dim=8, memory_hidden=16, value_dim=16, hidden=48)),
    ),
}


def tiny(kind, **changes):
    """The tiny model of ``kind``, with ``changes`` to its config."""
    return model_kinds()[kind](**{**SMALL[kind], **changes})


def cases(*table):
    """``(kind, variant name, config changes)`` rows -> pytest params ``(kind, changes)``."""
    return [pytest.param(kind, changes, id=f"{kind}-{name}" if name else kind) for kind, name, changes in table]


def test_every_learned_baseline_is_covered():
    # adapters (flat_images) wrap these kinds and have their own tests (test_image_training.py)
    assert set(system_kinds()) - {"ebmm"} == set(KINDS) == set(CONTRACTS)
    assert set(model_kinds()) - set(system_kinds()) == {"flat_images", "hopfield"}  # hopfield: nothing to train (test_api.py)


@pytest.mark.parametrize("kind", KINDS)
def test_config_json_round_trip(kind):
    cls, contract = model_kinds()[kind], CONTRACTS[kind]
    model = cls(**contract.round_trip)
    again = cls.from_config_dict(json.loads(json.dumps(model.config_dict())))
    assert again == model and again.config_dict() == model.config_dict()
    for config, match in contract.refused:
        with pytest.raises(ValueError, match=match):
            cls(**config)


@pytest.mark.parametrize("kind", KINDS)
def test_memory_size_fills_the_binary_budget(kind):
    assert model_kinds()[kind]().memory_size() == BUDGET == 128 * 127 // 2 + 128
    model = tiny(kind)
    state = model.write(model.init_params(), torch.zeros(1, 3, 16))
    counted = ebmm.memory_size({k: v[0] for k, v in state.items()})
    assert counted == model.memory_size() == CONTRACTS[kind].tiny_memory_size


@pytest.mark.parametrize(
    "kind, changes",
    cases(
        ("lstm", "", {}), ("lstm", "factored", FACTORED),
        ("memory_networks", "two_hops", TWO_HOPS), ("memory_networks", "follow", FOLLOW),
        ("modern_hopfield", "", {}), ("modern_hopfield", "verbatim", VERBATIM), ("modern_hopfield", "follow", FOLLOW),
        ("mann", "", {}),
        ("plasticity", "", {}),
        ("kanerva", "", {}), ("kanerva", "learned", LEARNED),
        ("delta_rule", "", {}), ("delta_rule", "gated", GATED),
        ("mlp_memory", "", {}),
    ),
)
def test_saved_memory_reloads_to_identical_outputs(kind, changes, gen, perturbed, tmp_path):
    model = tiny(kind, **changes)
    contract = CONTRACTS[kind]
    memory = AssociativeMemory(model, perturbed(model.init_params(), gen), name=f"tiny-{kind}")
    x = random_patterns((contract.reload_patterns, 16), generator=gen).numpy()
    q = Distortion.parse("erase:8").apply(torch.from_numpy(x), generator=gen).numpy()
    expected = memory.read(q, memory.write(x), trajectory=True)
    again = ebmm.load(memory.save(tmp_path / f"{kind}.safetensors"))
    assert isinstance(again, AssociativeMemory) and again.model == model and again.name == f"tiny-{kind}"
    for g, d in memory.params.items():
        for k, v in d.items():
            assert torch.equal(again.params[g][k], v), (g, k)
    # equal parameters; the outputs may differ in the last bits: tensors loaded from safetensors
    # sit at other memory alignments, and CPU matmul kernels round by alignment
    reread = again.read(q, again.write(x), trajectory=True)
    np.testing.assert_allclose(reread, expected, rtol=0, atol=contract.reload_atol)


@pytest.mark.parametrize(
    "kind, changes",
    cases(
        ("lstm", "", {}),
        ("memory_networks", "", {}), ("memory_networks", "follow", FOLLOW),
        ("modern_hopfield", "", {}), ("modern_hopfield", "verbatim", VERBATIM), ("modern_hopfield", "follow", {**FOLLOW, "steps": 2}),
        ("mann", "", {}),
        ("plasticity", "", {}),
        ("kanerva", "", {}),
        ("delta_rule", "", {}), ("delta_rule", "gated", GATED),
        ("mlp_memory", "", {}),
    ),
)
def test_masked_patterns_are_neither_written_nor_scored(kind, changes, gen, perturbed, episodes):
    """Episodes padded to one N by the trainer's mask equal the unpadded episodes."""
    model = tiny(kind, **changes)
    params = perturbed(model.init_params(), gen)
    x, q = episodes(gen, 2, 6, "erase:8")
    mask = torch.tensor([[1.0] * 4 + [0.0] * 2, [1.0] * 3 + [0.0] * 3])
    loss, retrieved = model.loss(params, x, q, mask)
    sq = []
    for b, n in enumerate((4, 3)):
        _, alone = model.loss(params, x[b : b + 1, :n], q[b : b + 1, :n])
        torch.testing.assert_close(retrieved[b, :n], alone[0])
        sq.append((alone[0] - x[b, :n]).pow(2).sum(-1))
    torch.testing.assert_close(loss, torch.stack([e.mean() for e in sq]).mean())  # each episode's mean, then theirs


@pytest.mark.parametrize(
    "kind, changes",
    cases(
        ("lstm", "", {}),
        ("memory_networks", "two_hops", TWO_HOPS), ("memory_networks", "follow", {**FOLLOW, **TWO_HOPS}),
        ("modern_hopfield", "", {}), ("modern_hopfield", "follow", FOLLOW),
        ("mann", "", {}),
        ("plasticity", "", {}),
        ("kanerva", "", {}), ("kanerva", "learned", LEARNED),
        ("delta_rule", "", {}),
        ("mlp_memory", "", {}),
    ),
)
def test_queries_are_read_independently(kind, changes, gen, perturbed, episodes):
    """Each query's retrieval, and its whole trajectory, is the same read alone or with others."""
    model = tiny(kind, **changes)
    params = perturbed(model.init_params(), gen)
    x, q = episodes(gen, 2, 4, "erase:8")
    state = model.write(params, x)
    for trajectory in (False, True):
        together = model.read(params, state, q, trajectory)  # (B, [S,] M, d)
        for j in range(4):
            alone = model.read(params, state, q[:, j : j + 1], trajectory)
            torch.testing.assert_close(alone[..., 0, :], together[..., j, :])


def _bad_input_id(bad: np.ndarray) -> str:
    if bad.shape[-1] != 16:
        return f"dim{bad.shape[-1]}"
    return "nan" if np.isnan(bad).any() else "inf" if np.isinf(bad).any() else f"value{bad.flat[0]:g}"


@pytest.mark.parametrize(
    "kind, bad, match",
    [
        pytest.param(kind, bad, match, id=f"{kind}-{_bad_input_id(bad)}")
        for kind, contract in CONTRACTS.items()
        for bad, match in contract.bad_inputs
    ],
)
def test_bad_input_is_refused(kind, bad, match):
    memory = AssociativeMemory(tiny(kind))
    with pytest.raises(ValueError, match=match):
        memory.write(bad)
    with pytest.raises(ValueError, match=match):
        memory.read(bad, memory.write(np.zeros((2, 16))))


@pytest.mark.parametrize("kind", KINDS)
def test_tiny_meta_training_beats_the_query(kind):
    t = CONTRACTS[kind].training
    model = tiny(kind, **t.changes)
    n = model.max_patterns  # 4, or 8 where the tiny slots compress
    cfg = TrainConfig(
        patterns=n, episodes=16, distortion="erase:8", lr=1e-2, clip_norm=1.0, steps=t.steps, eval_every=0
    )
    before = evaluate_params(model, model.init_params(), n, "erase:8", 64, seed=99)
    result = train(model, cfg, progress=False)
    after = evaluate_params(model, result.params, n, "erase:8", 64, seed=99)
    query_bits = 4.0  # 8 erased positions: half are wrong after thresholding at 0.5
    assert after < t.below_query * query_bits, (before, after)
    assert after < t.below_before * before, (before, after)


def test_the_baselines_loss_averages_each_episode_then_the_episodes():
    """An episode of one pattern weighs as much as one of three (issue 22: the same
    episode-averaged loss as EBMM's), and without a mask it is the plain mean."""
    from ebmm.models._common import reconstruction_loss

    patterns = torch.zeros(2, 3, 4)
    retrieved = torch.zeros(2, 3, 4)
    retrieved[0, 0] = 1.0  # episode 0: its one stored pattern is 4 squared units off
    mask = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    assert float(reconstruction_loss(retrieved, patterns, mask)) == 2.0  # (4 + 0) / 2, not 4 / 4
    assert float(reconstruction_loss(retrieved, patterns)) == pytest.approx(4.0 / 6)


@pytest.mark.parametrize("kind", ["memory_networks", "modern_hopfield"])
def test_a_layout_that_follows_n_holds_at_most_the_budget_and_narrows_as_patterns_arrive(kind, gen, perturbed):
    """width_follows_n (issue 22: the baselines may choose their slot width from N, as EBMM's
    compressive slots do): the budget is the memory size, the written slots hold at most that
    many non-zero floats at any N, the code narrows as N grows, and (Memory Networks, which can
    add to a written state) writing in parts gives the slots of writing all at once."""
    model = tiny(kind, **FOLLOW)
    params = perturbed(model.init_params(), gen)
    assert model.memory_size() == 72 and model.slots == 8
    for n, width in ((2, 16), (6, 11), (8, 8)):
        state = next(iter(model.write(params, random_patterns((1, n, 16), generator=gen)).values()))[0]  # (S, c + 1)
        assert int((state != 0).sum()) <= 72
        assert int((state[:, width:-1] != 0).sum()) == 0 and int((state[:n, :width] != 0).sum()) > 0
    if kind == "memory_networks":
        x = random_patterns((2, 8, 16), generator=gen)
        parts = model.write_more(params, model.write(params, x[:, :3]), x[:, 3:])
        torch.testing.assert_close(parts["slots"], model.write(params, x)["slots"])
