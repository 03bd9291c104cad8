"""The image energies of appendix B.2/B.3 and the per-episode writable convolution."""

import pytest
import torch
from torch.func import functional_call
from torch.nn import functional as F

from ebmm.config import EnergyConfig, MemoryConfig, ReadConfig, WriteConfig
from ebmm.dynamics import read
from ebmm.energies import ENERGIES, build_energy, memory_size, split_params, writable_width_for
from ebmm.energies._writable_conv import WritableConv2d
from ebmm.models.ebmm import EBMM, init_params, meta_loss, read_schedule, write_batch, write_episode


def _conv_with(weight, bias, stride=2):
    conv = WritableConv2d(weight.shape[-3], weight.shape[-4], weight.shape[-1], stride, 1)
    conv.weight, conv.bias = torch.nn.Parameter(weight), torch.nn.Parameter(bias)
    return conv


@pytest.mark.parametrize("lead", [(4,), (2, 3)])
def test_writable_conv2d_equals_a_loop_over_episodes(gen, lead):
    w, b = torch.randn(3, 5, 2, 3, 3, generator=gen), torch.randn(3, 5, generator=gen)
    x = torch.randn(3, *lead, 2, 8, 8, generator=gen)
    y = _conv_with(w, b)(x)
    assert y.shape == (3, *lead, 5, 4, 4)
    for i in range(3):
        ref = F.conv2d(x[i].reshape(-1, 2, 8, 8), w[i], b[i], 2, 1).reshape(*lead, 5, 4, 4)
        torch.testing.assert_close(y[i], ref)


def test_writable_conv2d_with_4d_weights_is_conv2d_on_any_leading_axes(gen):
    w, b = torch.randn(5, 2, 3, 3, generator=gen), torch.randn(5, generator=gen)
    x = torch.randn(2, 3, 2, 8, 8, generator=gen)
    ref = F.conv2d(x.reshape(6, 2, 8, 8), w, b, 2, 1).reshape(2, 3, 5, 4, 4)
    torch.testing.assert_close(_conv_with(w, b)(x), ref)


@pytest.mark.parametrize(("kind", "per_width", "layers"), [("resnet_fc", 257, 1), ("resnet_conv", 1154, 2)])
@pytest.mark.parametrize("channels", [1, 3])
def test_image_energy_shapes_and_memory_sizes(gen, kind, per_width, layers, channels):
    energy = build_energy(kind, dim=channels * 1024, memory_width=3)
    assert ENERGIES[kind] is type(energy)
    assert energy.event_shape == (channels, 32, 32)
    assert memory_size(energy) == per_width * 3
    assert len(energy.writable_layers()) == layers
    e = energy(torch.rand(2, 3, channels, 32, 32, generator=gen))
    assert e.shape == (2, 3) and torch.isfinite(e).all()


@pytest.mark.parametrize("kind", ["resnet_fc", "resnet_conv"])
def test_per_episode_writable_weights_read_their_own_episode(gen, kind):
    energy = build_energy(kind, dim=256, size=16, memory_width=2)
    static, writable = split_params(energy)
    theta = {k: v + 0.1 * torch.randn(2, *v.shape, generator=gen) for k, v in writable.items()}
    x = torch.rand(2, 3, 1, 16, 16, generator=gen)
    batched = functional_call(energy, (static, theta), (x,))
    for i in range(2):
        one = functional_call(energy, (static, {k: v[i] for k, v in theta.items()}), (x[i],))
        torch.testing.assert_close(batched[i], one, rtol=1e-4, atol=1e-5)


def test_writable_width_for_matches_the_paper_budgets():
    assert writable_width_for(8224, "resnet_fc") == 32
    assert writable_width_for(9232, "resnet_conv") == 8
    assert writable_width_for(2307, "resnet_conv") == 2
    assert writable_width_for(10, "resnet_conv") == 1
    with pytest.raises(ValueError, match="unknown image energy"):
        writable_width_for(1000, "logcosh")


def test_image_energies_reject_bad_shapes():
    with pytest.raises(ValueError, match="dim"):
        build_energy("resnet_fc", dim=1000)
    with pytest.raises(ValueError, match="width"):
        build_energy("resnet_conv", dim=1024, memory_width=64)


def _tiny_image_memory(kind):
    return MemoryConfig(
        energy=EnergyConfig(kind, 256, {"size": 16, "memory_width": 2}),
        read=ReadConfig(steps=2, step_init=0.3),
        write=WriteConfig(steps=2, rate_init=0.1),
        max_patterns=4,
    )


@pytest.mark.parametrize("kind", ["resnet_fc", "resnet_conv"])
def test_image_write_read_round_trip_and_meta_gradient(gen, kind):
    arch = EBMM.from_config(_tiny_image_memory(kind))
    assert arch.event_shape == (1, 16, 16) and arch.event_dims == 3
    params = init_params(arch)
    x = torch.rand(2, 4, 1, 16, 16, generator=gen)
    q = torch.rand(x.shape, generator=gen)

    theta = write_batch(arch, params, x)  # batched write equals one episode at a time
    for k, v in write_episode(arch, params, x[1]).items():
        torch.testing.assert_close(theta[k][1], v, rtol=1e-4, atol=1e-6)

    fn = arch.energy_fn(params["static"])
    gammas, momenta = read_schedule(params)
    iterates = read(fn, theta, q, gammas * 0 + 30.0, momenta * 0)  # small plain descent steps
    assert iterates.shape == (2, 2, 4, 1, 16, 16)
    assert (fn(theta, iterates[-1]) < fn(theta, q)).all()

    leaves = [v.requires_grad_() for group in params.values() for v in group.values()]
    loss, retrieved = meta_loss(arch, params, x, q)
    assert retrieved.shape == x.shape
    # the loss sums over every pixel: K iterates × ~256 squared errors of ~1/6 each
    assert 2 * 256 / 12 < loss.item() < 2 * 256
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    assert all(torch.isfinite(g).all() for g in grads if g is not None)
    assert sum(g.abs().sum() for g in grads if g is not None) > 0
