"""The paper's two energies for 32×32 images (appendix B.2 and B.3).

- :class:`ResNetFCEnergy` — a ResNet encoder, then a *fully connected* writable layer
  (``257·d`` floats) and gated hops;
- :class:`ResNetConvEnergy` — a ResNet whose two bottleneck blocks have a *convolutional*
  writable part (``1154·d`` floats), then hops of a convolutional GRU.

Both map ``x (..., C, 32, 32)`` in [0, 1] to an energy ``(...)``. Written weights may carry a
leading episode axis B (``x (B, N, C, 32, 32)``), so a batch of episodes is written and read
without ``vmap``: static layers see the images with their leading axes flattened, the
writable layers (:class:`~ebmm.energies._base.WritableLinear`,
:class:`~ebmm.energies._writable_conv.WritableConv2d`) see them per episode.

Not stated in the paper, chosen here: SiLU activations (smooth, so ∇ₓE is smooth and its
derivative with respect to the weights, used by the writing loss, is informative); no batch
normalisation (it would couple the patterns of a batch); inputs centred as ``2x − 1``;
``out_scale`` multiplies the initial output weights (as for the gated RNN energy).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ._base import EnergyModel, WritableLinear
from ._writable_conv import WritableConv2d, conv_any

# Writable floats per unit of writable width d (weights + bias), the budgets of appendix B.
_FLOATS_PER_WIDTH = {
    "resnet_fc": 256 + 1,  # memory = Linear(256 -> d)
    "resnet_conv": 2 * (3 * 3 * 64 + 1),  # two 3×3 convs, 64 -> d channels
}


def writable_width_for(memory_floats: int, kind: str) -> int:
    """The writable width d whose memory size is nearest ``memory_floats`` (at least 1).

    ``kind`` is ``"resnet_fc"`` (257·d floats) or ``"resnet_conv"`` (1154·d floats); e.g.
    ``writable_width_for(8224, "resnet_fc") == 32`` and ``writable_width_for(9232,
    "resnet_conv") == 8``.
    """
    if kind not in _FLOATS_PER_WIDTH:
        raise ValueError(f"unknown image energy {kind!r}; choose one of {sorted(_FLOATS_PER_WIDTH)}")
    if memory_floats < 1:
        raise ValueError(f"memory_floats must be positive, got {memory_floats}")
    return max(1, round(memory_floats / _FLOATS_PER_WIDTH[kind]))


def _image_shape(dim: int, size: int) -> tuple[int, int, int]:
    if size % 8 or dim % (size * size):
        raise ValueError(f"dim={dim} must be C·{size}·{size} with size divisible by 8")
    return (dim // (size * size), size, size)


class ResBlock(nn.Module):
    """``y = silu(conv(silu(conv_s(x))) + skip(x))``: two 3×3 convs, the first with stride
    ``stride``; ``skip`` a strided 1×1 conv. Acts on ``(n, C, H, W)``."""

    def __init__(self, c_in: int, c_out: int, stride: int = 2):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1, stride)

    def forward(self, x: Tensor) -> Tensor:
        return F.silu(self.conv2(F.silu(self.conv1(x))) + self.skip(x))


class WritableBottleneck(nn.Module):
    """A bottleneck block whose 3×3 conv is split into a writable part (``memory``, ``d``
    output channels) and a static part (``mid − d``)::

        h = silu(reduce(x))                             # 1×1, c_in -> mid
        h = silu([memory(h), static(h)])                # 3×3, stride s, mid -> d + (mid − d)
        y = silu(expand(h) + skip(x))                   # 1×1, mid -> c_out

    Acts on ``x (..., c_in, H, W)`` with any leading axes (episode-batched memory)."""

    def __init__(self, c_in: int, c_out: int, mid: int, width: int, stride: int):
        super().__init__()
        if not 0 < width < mid:
            raise ValueError(f"writable width must be in (0, {mid}), got {width}")
        self.reduce = nn.Conv2d(c_in, mid, 1)
        self.memory = WritableConv2d(mid, width, 3, stride, 1)
        nn.init.kaiming_normal_(self.memory.weight, nonlinearity="linear")
        nn.init.zeros_(self.memory.bias)
        self.static = nn.Conv2d(mid, mid - width, 3, stride, 1)
        self.expand = nn.Conv2d(mid, c_out, 1)
        self.skip = nn.Conv2d(c_in, c_out, 1, stride) if stride != 1 or c_in != c_out else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        h = F.silu(conv_any(self.reduce, x))
        h = F.silu(torch.cat([self.memory(h), conv_any(self.static, h)], dim=-3))
        return F.silu(conv_any(self.expand, h) + conv_any(self.skip, x))


class _Readout(nn.Module):
    """``tanh(Linear(features -> 1024))`` then ``Linear(1)``: the energy of a final state."""

    def __init__(self, features: int, out_scale: float, hidden: int = 1024):
        super().__init__()
        self.hidden = nn.Linear(features, hidden)
        self.out = nn.Linear(hidden, 1)
        with torch.no_grad():
            self.out.weight.mul_(out_scale)

    def forward(self, h: Tensor) -> Tensor:
        return self.out(torch.tanh(self.hidden(h))).squeeze(-1)


class ResNetFCEnergy(EnergyModel):
    """Appendix B.2: a ResNet encoder with a fully connected writable layer.

    ::

        e    = LayerNorm(Linear(flatten(ResBlocks_{32, 64, 96}(2x − 1))))    # 256, static
        f    = tanh([memory(e), static(e)])        # memory: Linear(256 -> d), writable; 512 in all
        3 hops: z = [f, s];  s = u·tanh(LN(W z)) + (1 − u)·s,  u = sigmoid(G z)   # s: 512
        E(x) = Linear(1)(tanh(Linear(1024)(s)))

    Memory size ``257·d``.

    **Arguments:** ``dim`` floats per image, ``C·size·size`` (C = 1 for Omniglot, 3 for
    CIFAR); ``memory_width`` d (< ``hidden``); ``size`` the image side (32); ``hidden`` the
    hop state (512); ``hops`` (3); ``out_scale`` scales the initial output weights.
    """

    def __init__(
        self,
        dim: int = 1024,
        memory_width: int = 32,
        size: int = 32,
        hidden: int = 512,
        hops: int = 3,
        out_scale: float = 1.0,
    ):
        super().__init__()
        if not 0 < memory_width < hidden:
            raise ValueError(f"memory_width must be in (0, hidden={hidden}), got {memory_width}")
        self.dim, self.hops = dim, hops
        self._event_shape = _image_shape(dim, size)
        c = self._event_shape[0]
        self.encoder = nn.Sequential(ResBlock(c, 32), ResBlock(32, 64), ResBlock(64, 96), nn.Flatten())
        self.embed = nn.Linear(96 * (size // 8) ** 2, 256)
        self.embed_norm = nn.LayerNorm(256)
        self.memory = WritableLinear(256, memory_width)
        nn.init.kaiming_normal_(self.memory.weight, nonlinearity="tanh")
        nn.init.zeros_(self.memory.bias)
        self.static = nn.Linear(256, hidden - memory_width)
        self.cand = nn.Linear(2 * hidden, hidden)
        self.cand_norm = nn.LayerNorm(hidden)
        self.gate = nn.Linear(2 * hidden, hidden)
        self.readout = _Readout(hidden, out_scale)

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self._event_shape

    def forward(self, x: Tensor) -> Tensor:
        """``x: (..., C, H, W) -> energy (...)``."""
        lead = x.shape[:-3]
        e = self.encoder((2.0 * x - 1.0).reshape(-1, *self._event_shape))
        e = self.embed_norm(self.embed(e)).reshape(*lead, 256)
        f = torch.tanh(torch.cat([self.memory(e), self.static(e)], dim=-1))  # (..., hidden)
        s = torch.zeros_like(f)
        for _ in range(self.hops):
            z = torch.cat([f, s], dim=-1)
            u = torch.sigmoid(self.gate(z))
            s = u * torch.tanh(self.cand_norm(self.cand(z))) + (1 - u) * s
        return self.readout(s)


class ResNetConvEnergy(EnergyModel):
    """Appendix B.3: a ResNet whose bottleneck blocks hold convolutional writable weights.

    ::

        h = ResBlocks_{32, 64}(2x − 1)                          # 32 -> 16 -> 8 px
        h = Bottleneck_128(h, stride 2); h = Bottleneck_128(h)   # 8 -> 4 px; writable 3×3 convs
        3 hops of a conv-GRU (hidden 128, 3×3 kernels, LayerNorm) on h, from a zero state s
        E(x) = Linear(1)(tanh(Linear(1024)(flatten(s))))

    The three stride-2 stages take 32×32 images to a 4×4 state (``size/8`` in general), the
    paper's "hidden 128 at 4×4". Each bottleneck's 3×3 conv (64 -> 64) is split into a
    writable part with d output channels and a static part with 64 − d, so the memory size is
    ``2·(3·3·64 + 1)·d = 1154·d``.

    **Arguments:** ``dim`` floats per image, ``C·size·size``; ``memory_width`` d (< 64);
    ``size`` the image side (32); ``hidden`` GRU channels (128); ``hops`` (3);
    ``gru_kernel`` the GRU's kernel size (3; the paper does not state it, and at 3 the GRU
    is most of the compute — 1 halves a meta-step's time); ``out_scale`` scales the initial
    output weights.
    """

    def __init__(
        self,
        dim: int = 1024,
        memory_width: int = 4,
        size: int = 32,
        hidden: int = 128,
        hops: int = 3,
        gru_kernel: int = 3,
        out_scale: float = 1.0,
    ):
        super().__init__()
        if gru_kernel % 2 != 1:
            raise ValueError(f"gru_kernel must be odd, got {gru_kernel}")
        self.dim, self.hops, self.hidden = dim, hops, hidden
        self._event_shape = _image_shape(dim, size)
        c, s = self._event_shape[0], size // 8
        self.stem = nn.Sequential(ResBlock(c, 32), ResBlock(32, 64))
        self.blocks = nn.ModuleList([
            WritableBottleneck(64, 128, 64, memory_width, stride=2),
            WritableBottleneck(128, 128, 64, memory_width, stride=1),
        ])
        pad = gru_kernel // 2
        self.gates = nn.Conv2d(128 + hidden, 2 * hidden, gru_kernel, 1, pad)  # update u, reset r
        self.cand = nn.Conv2d(128 + hidden, hidden, gru_kernel, 1, pad)
        self.cand_norm = nn.LayerNorm([hidden, s, s])
        self.readout = _Readout(hidden * s * s, out_scale)

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self._event_shape

    def forward(self, x: Tensor) -> Tensor:
        """``x: (..., C, H, W) -> energy (...)``."""
        h = conv_any(self.stem, 2.0 * x - 1.0)  # (..., 64, 8, 8)
        for block in self.blocks:
            h = block(h)  # (..., 128, 4, 4)
        lead, h = h.shape[:-3], h.reshape(-1, *h.shape[-3:])
        s = torch.zeros(h.shape[0], self.hidden, *h.shape[-2:], dtype=h.dtype, device=h.device)
        for _ in range(self.hops):
            u, r = torch.sigmoid(self.gates(torch.cat([h, s], dim=1))).chunk(2, dim=1)
            c = torch.tanh(self.cand_norm(self.cand(torch.cat([h, r * s], dim=1))))
            s = u * c + (1 - u) * s
        return self.readout(s.flatten(1)).reshape(lead)
