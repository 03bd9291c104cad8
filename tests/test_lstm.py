"""The LSTM baseline: its cell is torch's, its memory is 2H floats. (What every learned
baseline shares, learning and reloading included: test_learned_baselines.py.)"""

from __future__ import annotations

from dataclasses import replace

import torch

from ebmm.models.lstm import LSTM, input_gates, lstm_update, recurrent_gates
from ebmm.models.protocol import LearnedModel
from ebmm.models import model_kinds
from ebmm.tasks import Distortion, random_patterns

TINY = LSTM(dim=16, max_patterns=4, hidden=64, recurrent_rank=0)


def test_protocol_shapes_and_trajectory(gen):
    model = replace(TINY, recurrent_rank=8)
    assert isinstance(model, LearnedModel) and model_kinds()["lstm"] is LSTM
    params = model.init_params(seed=3)
    x = random_patterns((3, 5, 16), generator=gen)
    q = Distortion.parse("erase:4").apply(x, generator=gen)
    state = model.write(params, x)
    assert {k: tuple(v.shape) for k, v in state.items()} == {"h": (3, 64), "c": (3, 64)}
    out = model.read(params, state, q, False)
    assert out.shape == (3, 5, 16) and bool(((out > 0) & (out < 1)).all())
    traj = model.read(params, state, q, True)
    assert traj.shape == (3, 2, 5, 16)
    torch.testing.assert_close(traj[:, 0], q)
    torch.testing.assert_close(traj[:, -1], out)
    loss, retrieved = model.loss(params, x, q)
    torch.testing.assert_close(loss, (out - x).pow(2).sum(-1).mean())
    torch.testing.assert_close(retrieved, out)


def test_memory_size_is_two_hidden_states():
    assert LSTM().memory_size() == 2 * LSTM().hidden
    assert LSTM(dim=16, hidden=10).memory_size() == 20


def test_cell_matches_torch_lstm_cell(gen):
    """One step of ours equals ``torch.nn.LSTMCell`` with the same weights, and a factored
    recurrent matrix equals the full one it multiplies out to."""
    model = replace(TINY, recurrent_rank=8)
    cell = model.init_params(seed=1)["cell"]
    ref = torch.nn.LSTMCell(16, 64)
    full = cell["w_hh_up"] @ cell["w_hh_down"]
    ref.load_state_dict(
        {"weight_ih": cell["w_ih"], "weight_hh": full, "bias_ih": cell["bias"], "bias_hh": torch.zeros(256)}
    )
    x, h, c = torch.randn(5, 16, generator=gen), torch.randn(5, 64, generator=gen), torch.randn(5, 64, generator=gen)
    ours = lstm_update(input_gates(cell, x) + recurrent_gates(cell, h), c)
    with torch.no_grad():
        theirs = ref(x, (h, c))
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    full_cell = {**cell, "w_hh": full}
    torch.testing.assert_close(recurrent_gates(full_cell, h), recurrent_gates(cell, h), rtol=1e-5, atol=1e-5)
