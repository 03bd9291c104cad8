"""The two fast-weight memories (issue 23): the delta rule (DeltaNet, Gated DeltaNet) and the
gradient-written MLP memory (Titans / TTT). Their writes equal their reference forms (the
chunk-parallel delta rule the sequential one; the MLP's vmapped per-sample gradients a plain
loop of autograd gradients), they hold 8256 floats at the binary defaults, streaming writes
continue exactly, the meta-gradient reaches every slow weight through the write (to second
order), the box read decodes a value by the value encoder, bad input is refused, and a tiny CLI
training saves a memory that loads and reads.
(The contract every learned baseline shares is also checked in test_learned_baselines.py.)"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

import ebmm
from ebmm import AssociativeMemory
from ebmm.cli import main
from ebmm.models import DeltaRuleMemory, MLPMemory, model_kinds, system_kinds
from ebmm.models.delta_rule import delta_rule_chunked, delta_rule_sequential
from ebmm.models.mlp_memory import NORMALIZED_EPS, mlp_size
from ebmm.models._fast_weights import box_decode, init_encoder, keys_of, values_of
from ebmm.tasks import Distortion, error_bits, random_patterns

BUDGET = 128 * 127 // 2 + 128  # 8256, every row of Table 1


def f64(params):
    return {g: {k: v.double() for k, v in d.items()} for g, d in params.items()}


def tiny_delta(**changes):
    return DeltaRuleMemory(**{**dict(dim=16, max_patterns=8, key_dim=6, value_dim=5, hidden=12, read_steps=2), **changes})


def tiny_mlp(**changes):
    return MLPMemory(**{**dict(dim=16, max_patterns=8, key_dim=4, memory_hidden=5, value_dim=3, hidden=12, read_steps=2),
                        **changes})


def rule_inputs(gen, b=2, n=13, dk=5, dv=4):
    """Random delta-rule inputs in float64: unit keys, values, β in (0, 1) (one 0: a masked
    pattern), log α of gates in (0.5, 1), a non-zero initial state."""
    keys = F.normalize(torch.randn(b, n, dk, generator=gen, dtype=torch.float64), dim=-1)
    values = torch.randn(b, n, dv, generator=gen, dtype=torch.float64)
    beta = torch.rand(b, n, generator=gen, dtype=torch.float64)
    beta[0, 3] = 0.0
    log_alpha = (0.5 + 0.5 * torch.rand(b, n, generator=gen, dtype=torch.float64)).log()
    state = torch.randn(b, dv, dk, generator=gen, dtype=torch.float64)
    return state, keys, values, beta, log_alpha


# --- registration and budget -------------------------------------------------------------------
def test_both_are_registered_and_hold_exactly_the_binary_budget(gen):
    assert model_kinds()["delta_rule"] is DeltaRuleMemory and model_kinds()["mlp_memory"] is MLPMemory
    assert {"delta_rule", "mlp_memory"} <= set(system_kinds())
    # the delta rule: S is d_v × d_k = 86 × 96; the MLP memory: update and momentum of P floats each
    assert DeltaRuleMemory().memory_size() == 86 * 96 == BUDGET
    assert mlp_size(32, 56, 40) == 56 * (32 + 1) + 40 * (56 + 1) == 4128
    assert MLPMemory().memory_size() == 2 * 4128 == BUDGET
    x = random_patterns((5, 128), generator=gen).numpy()
    for model in (DeltaRuleMemory(), MLPMemory()):
        state = AssociativeMemory(model).write(x)
        assert state.memory_size() == ebmm.memory_size({k: v[0] for k, v in state.tensors.items()}) == BUDGET


# --- the delta rule's two forms ----------------------------------------------------------------
@pytest.mark.parametrize("gated", [False, True], ids=["delta", "gated"])
@pytest.mark.parametrize("chunk", [1, 2, 3, 4, 5, 8, 13, 20])
def test_chunk_parallel_delta_rule_equals_the_sequential_one(gen, gated, chunk):
    state, keys, values, beta, log_alpha = rule_inputs(gen)
    la = log_alpha if gated else None
    expected = delta_rule_sequential(state, keys, values, beta, la)
    torch.testing.assert_close(delta_rule_chunked(state, keys, values, beta, la, chunk), expected, rtol=1e-12, atol=1e-12)
    # the sequential form is the rule S ← α S (I − β k kᵀ) + β v kᵀ, written out
    s = state.clone()
    for t in range(keys.shape[1]):
        k, v, b = keys[:, t, :, None], values[:, t, :, None], beta[:, t, None, None]
        a = log_alpha[:, t, None, None].exp() if gated else 1.0
        s = a * s @ (torch.eye(5, dtype=s.dtype) - b * k @ k.mT) + b * v @ k.mT
    torch.testing.assert_close(expected, s, rtol=1e-12, atol=1e-12)


def test_delta_rule_model_writes_agree_in_both_forms(gen, perturbed):
    x = random_patterns((3, 11, 16), generator=gen).double()
    mask = torch.ones(3, 11, dtype=torch.float64)
    mask[1, 7:] = 0
    for decay in (False, True):
        params = f64(perturbed(tiny_delta(decay=decay).init_params(), gen))
        sequential = tiny_delta(decay=decay, chunk=0).write(params, x, mask)["fast_weights"]
        for chunk in (1, 4, 32):
            chunked = tiny_delta(decay=decay, chunk=chunk).write(params, x, mask)["fast_weights"]
            torch.testing.assert_close(chunked, sequential, rtol=1e-10, atol=1e-12)
        # the masked patterns are not written: episode 1 holds its first 7 alone
        alone = tiny_delta(decay=decay, chunk=0).write(params, x[1:2, :7])["fast_weights"]
        torch.testing.assert_close(sequential[1:2], alone, rtol=1e-12, atol=1e-12)


def test_delta_rule_writes_are_twice_differentiable(gen):
    state, keys, values, beta, log_alpha = rule_inputs(gen, b=1, n=5, dk=3, dv=2)
    inputs = tuple(t.clone().requires_grad_() for t in (state, keys, values, beta, log_alpha))
    for fn in (delta_rule_sequential, lambda *a: delta_rule_chunked(*a, chunk=2)):
        assert torch.autograd.gradcheck(fn, inputs)
        assert torch.autograd.gradgradcheck(fn, inputs)


# --- the MLP memory's write --------------------------------------------------------------------
def reference_mlp_write(model, params, x, update, momentum):
    """Titans' chunked rule as a plain loop: every pattern's gradient by autograd at the weights
    its chunk starts from, then momentum and decay pattern by pattern."""
    enc, w = params["encoder"], params["write"]
    s = 2 * x - 1
    step = F.softplus(s @ w["step_weight"] + w["step_bias"])
    eta = torch.sigmoid(s @ w["momentum_weight"] + w["momentum_bias"])
    alpha = torch.sigmoid(s @ w["decay_weight"] + w["decay_bias"])
    keys, values = keys_of(enc, x), values_of(enc, x)
    w0 = params["initial_memory"]["weights"]
    out_u, out_m = [], []
    for b in range(x.shape[0]):
        u, m = update[b], momentum[b]
        for _ in range(model.passes):
            for start in range(0, x.shape[1], model.chunk):
                at = (w0 + u).detach().requires_grad_()
                grads, losses = [], []
                for t in range(start, min(start + model.chunk, x.shape[1])):
                    loss = (model.apply(at, keys[b, t][None]) - values[b, t]).pow(2).sum()
                    grads.append(torch.autograd.grad(loss, at)[0])
                    losses.append(loss.detach())
                for j, g in enumerate(grads):
                    t = start + j
                    rate = step[b, t] * (losses[j] / (g.pow(2).sum() + NORMALIZED_EPS) if model.normalized else 1.0)
                    m = eta[b, t] * m - rate * g
                    u = (1 - alpha[b, t]) * u + m
        out_u.append(u)
        out_m.append(m)
    return torch.stack(out_u), torch.stack(out_m)


@pytest.mark.parametrize("changes", [dict(chunk=1), dict(chunk=3), dict(chunk=16),
                                     dict(chunk=3, passes=2, normalized=True, residual=True)],
                         ids=["chunk1", "chunk3", "chunk16", "passes-normalized-residual"])
def test_mlp_write_equals_the_reference_loop(gen, perturbed, changes):
    """The write, its options included (passes over the patterns, Polyak's step, the linear
    residual path), equals the rule written as a plain loop."""
    model = tiny_mlp(**changes)
    params = f64(perturbed(model.init_params(), gen))
    x = random_patterns((2, 7, 16), generator=gen).double()
    update = 0.1 * torch.randn(2, model.mlp_size, generator=gen, dtype=torch.float64)
    momentum = 0.1 * torch.randn(2, model.mlp_size, generator=gen, dtype=torch.float64)
    state = model.write(params, x, state={"update": update, "momentum": momentum})
    ref_u, ref_m = reference_mlp_write(model, params, x, update, momentum)
    torch.testing.assert_close(state["update"], ref_u, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(state["momentum"], ref_m, rtol=1e-10, atol=1e-12)


def test_mlp_write_passes_gradcheck(gen, perturbed):
    """The write holds per-sample gradients; its derivative (second order in the MLP) is right."""
    model = tiny_mlp(chunk=2, key_dim=2, memory_hidden=3, value_dim=2)
    params = f64(perturbed(model.init_params(), gen))
    x = random_patterns((1, 3, 16), generator=gen).double()

    def write(w0, step_bias, momentum_bias, decay_bias, key_weight):
        p = {**params, "initial_memory": {"weights": w0},
             "write": {**params["write"], "step_bias": step_bias, "momentum_bias": momentum_bias, "decay_bias": decay_bias},
             "encoder": {**params["encoder"], "key_weight": key_weight}}
        state = model.write(p, x)
        return state["update"], state["momentum"]

    inputs = (params["initial_memory"]["weights"], params["write"]["step_bias"], params["write"]["momentum_bias"],
              params["write"]["decay_bias"], params["encoder"]["key_weight"])
    assert torch.autograd.gradcheck(write, tuple(t.clone().requires_grad_() for t in inputs))


# --- meta-gradients ----------------------------------------------------------------------------
@pytest.mark.parametrize("model", [tiny_delta(), tiny_delta(decay=True, chunk=3), tiny_delta(chunk=0), tiny_mlp(chunk=3),
                                   tiny_mlp(chunk=3, passes=2, normalized=True, residual=True),
                                   tiny_delta(decoder="box", decode_steps=4, passes=2), tiny_mlp(chunk=3, decoder="box", decode_steps=4)],
                         ids=["delta", "gated", "sequential", "mlp", "mlp-passes-normalized-residual", "delta-box", "mlp-box"])
def test_meta_gradient_reaches_every_slow_weight(model, gen, perturbed, episodes):
    params = perturbed(model.init_params(), gen)
    leaves = [(g, n, t.requires_grad_()) for g, d in params.items() for n, t in d.items()]
    x, q = episodes(gen, 2, 6, "erase:8")
    loss, _ = model.loss(params, x, q)
    grads = torch.autograd.grad(loss, [t for *_, t in leaves])
    for (g, n, _), grad in zip(leaves, grads):
        assert torch.isfinite(grad).all() and grad.abs().sum() > 0, (g, n)
    # the trainer's torch.func form gives the same meta-gradient
    detached = {g: {n: t.detach() for n, t in d.items()} for g, d in params.items()}
    functional = torch.func.grad(lambda p: model.loss(p, x, q)[0])(detached)
    for (g, n, _), grad in zip(leaves, grads):
        torch.testing.assert_close(functional[g][n], grad, rtol=1e-4, atol=1e-6)


# --- the box read ------------------------------------------------------------------------------
def test_box_decode_inverts_an_exact_value_and_holds_what_the_query_says(gen):
    """With more values than erased bits, the box decode of a pattern's own value is the pattern:
    the erased bits come back, the intact ones stay; and it solves the box-constrained problem
    (projected-gradient optimality) where the value is perturbed."""
    enc = init_encoder(gen, 128, 96, 86)
    x = random_patterns((4, 10, 128), generator=gen)
    q = Distortion.parse("erase:64").apply(x, generator=gen)
    log_pull = torch.tensor(0.0)
    s = box_decode(enc, log_pull, values_of(enc, x), 2 * q - 1, steps=200)
    assert error_bits((s + 1) / 2, x).max() == 0
    assert error_bits(q, x).mean() > 25  # the query itself is far off
    # a perturbed value: s is a fixed point of the projected-gradient map (the box optimum)
    noisy = values_of(enc, x) + 0.5 * torch.randn(4, 10, 86, generator=gen)
    s_q = 2 * q - 1
    s = box_decode(enc, log_pull, noisy, s_q, steps=2000)
    lam = log_pull.exp()
    grad = (s @ enc["value_weight"].T + enc["value_bias"] - noisy) @ enc["value_weight"] + lam * s_q.abs() * (s - s_q)
    torch.testing.assert_close((s - 0.01 * grad).clamp(-1, 1), s, atol=2e-4, rtol=0)


def test_delta_rule_sweeps_are_the_rule_written_again(gen, perturbed):
    """``passes = 3`` is writing the patterns, then writing them twice more with ``write_more``;
    each sweep brings the associative residuals ``v_t − S k_t`` down (β = 1, N < d_k)."""
    swept = tiny_delta(passes=3, beta_init=0.99)
    once = tiny_delta(beta_init=0.99)
    params = f64(perturbed(once.init_params(), gen))
    x = random_patterns((2, 5, 16), generator=gen).double()
    state = once.write(params, x)
    residuals = []
    for _ in range(2):
        keys, values, *_ = once.rule_inputs(params, x)
        residuals.append(float((values - keys @ state["fast_weights"].transpose(-1, -2)).norm()))
        state = once.write_more(params, state, x)
    torch.testing.assert_close(swept.write(params, x)["fast_weights"], state["fast_weights"], rtol=1e-10, atol=1e-12)
    keys, values, *_ = once.rule_inputs(params, x)
    residuals.append(float((values - keys @ state["fast_weights"].transpose(-1, -2)).norm()))
    assert residuals[2] < residuals[1] < residuals[0]


def test_box_read_of_a_written_delta_rule_beats_its_query_and_the_untrained_learned_decoder(gen):
    """Untrained, at the binary defaults (86 × 96), N = 16 under erase:64: the box read restores
    most erased bits; the same memory read by its untrained learned decoder does not."""
    x = random_patterns((4, 16, 128), generator=gen)
    q = Distortion.parse("erase:64").apply(x, generator=gen)
    errors = {}
    for decoder in ("box", "learned"):
        model = DeltaRuleMemory(decoder=decoder)
        params = model.init_params(0)
        with torch.no_grad():
            errors[decoder] = float(error_bits(model.read(params, model.write(params, x), q, False), x).mean())
    assert errors["box"] < 0.3 * float(error_bits(q, x).mean())
    assert errors["box"] < 0.7 * errors["learned"]


# --- streaming ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "model, splits",
    [(tiny_delta(chunk=0), (3, 10)), (tiny_delta(chunk=4), (3, 10)), (tiny_delta(decay=True, chunk=5), (7, 2, 4)),
     (tiny_mlp(chunk=1), (3, 10)), (tiny_mlp(chunk=4), (8, 5)), (tiny_mlp(chunk=3), (3, 6, 4))],
    ids=["delta-sequential", "delta-chunked", "gated", "mlp-chunk1", "mlp-chunk4", "mlp-chunk3"],
)
def test_streaming_writes_equal_writing_at_once(model, splits, gen, perturbed):
    """``write(more, state=state)`` continues exactly: for the MLP memory when the earlier
    writes hold a multiple of its chunk (always with chunk = 1)."""
    params = f64(perturbed(model.init_params(), gen))
    x = random_patterns((2, sum(splits), 16), generator=gen).double()
    at_once = model.write(params, x)
    state, start = model.empty_state(params, 2), 0
    state = {k: v.double() for k, v in state.items()}
    for n in splits:
        state = model.write_more(params, state, x[:, start : start + n])
        start += n
    for k in at_once:
        torch.testing.assert_close(state[k], at_once[k], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("kind", ["delta_rule", "mlp_memory"])
def test_streaming_through_the_public_api(kind, gen):
    memory = AssociativeMemory(model_kinds()[kind](dim=16, max_patterns=12, chunk=4))
    assert memory.supports_incremental_write
    x = random_patterns((12, 16), generator=gen).numpy()
    q = x.astype(np.float32)
    q[:, :8] = 0.5
    state = memory.write(x[:4], state=memory.empty_state())
    state = memory.write(x[4:], state=state)
    assert len(state) == 12
    np.testing.assert_allclose(memory.read(q, state), memory.read(q, memory.write(x)), atol=1e-5)


# --- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: DeltaRuleMemory(key_dim=0), "key_dim"), (lambda: DeltaRuleMemory(chunk=-1), "chunk"),
        (lambda: DeltaRuleMemory(chunk=2.5), "chunk"), (lambda: DeltaRuleMemory(decay="yes"), "decay"),
        (lambda: DeltaRuleMemory(beta_init=1.0), "beta_init"), (lambda: DeltaRuleMemory(read_steps=0), "read_steps"),
        (lambda: MLPMemory(memory_hidden=0), "memory_hidden"), (lambda: MLPMemory(chunk=0), "chunk"),
        (lambda: MLPMemory(step_init=0.0), "step_init"), (lambda: MLPMemory(momentum_init=1.0), "momentum_init"),
        (lambda: MLPMemory(passes=0), "passes"), (lambda: MLPMemory(normalized="yes"), "normalized"),
        (lambda: MLPMemory(residual=1), "residual"),
        (lambda: DeltaRuleMemory(decoder="boxed"), "decoder"), (lambda: MLPMemory(decoder=None), "decoder"),
        (lambda: DeltaRuleMemory(decode_steps=0), "decode_steps"), (lambda: DeltaRuleMemory(passes=0), "passes"),
    ],
)
def test_bad_configurations_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_input_is_refused(gen):
    state, keys, values, beta, log_alpha = rule_inputs(gen)
    with pytest.raises(ValueError, match="do not fit"):
        delta_rule_chunked(state, keys[..., :-1], values, beta)
    with pytest.raises(ValueError, match="log_alpha"):
        delta_rule_sequential(state, keys, values, beta, log_alpha[:, :-1])
    with pytest.raises(ValueError, match="chunk"):
        delta_rule_chunked(state, keys, values, beta, chunk=0)
    with pytest.raises(ValueError, match="mask"):
        tiny_delta().write(tiny_delta().init_params(), torch.zeros(2, 4, 16), torch.ones(2, 5))
    for model in (tiny_delta(), tiny_mlp()):
        memory = AssociativeMemory(model)
        for bad, match in ((np.zeros((4, 15)), "16-dimensional"), (np.full((4, 16), 1.5), r"\[0, 1\]"),
                           (np.full((4, 16), np.nan), "NaN")):
            with pytest.raises(ValueError, match=match):
                memory.write(bad)
        other = AssociativeMemory(model, {g: {k: v + 1 for k, v in d.items()} for g, d in model.init_params().items()})
        with pytest.raises(ValueError, match="written by"):
            memory.write(np.zeros((2, 16)), state=other.write(np.zeros((2, 16))))


# --- the command line --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["delta_rule", "mlp_memory"])
def test_train_binary_model_runs_saves_and_loads(kind, tmp_path, gen):
    run = tmp_path / kind
    res = CliRunner().invoke(main, ["train", "binary", "--model", kind, "--patterns", "8", "--min-patterns", "8",
                                    "--steps", "5", "--eval-every", "5", "--threads", "1", "--quiet", "--out", str(run)])
    assert res.exit_code == 0, res.output
    for path in (run / "best.safetensors", run / "checkpoint.safetensors"):
        memory = ebmm.load(path)
        assert isinstance(memory, AssociativeMemory) and memory.model.kind == kind and memory.memory_size() == BUDGET
        x = random_patterns((8, 128), generator=gen).numpy()
        q = x.astype(np.float32)
        q[:, :64] = 0.5
        out = memory.read(q, memory.write(x))
        assert out.shape == (8, 128) and np.isfinite(out).all() and out.min() >= 0 and out.max() <= 1
