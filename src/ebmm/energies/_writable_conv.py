"""``WritableConv2d``: a 2-D convolution whose weights may carry a leading episode axis."""

from __future__ import annotations

import math

from torch import Tensor, nn
from torch.nn import functional as F


def conv_any(conv: nn.Module, x: Tensor) -> Tensor:
    """Apply a per-image module ``(n, C, H, W) -> (n, C', H', W')`` to ``x (..., C, H, W)``
    with any number of leading axes (flattened, then restored)."""
    lead = x.shape[:-3]
    y = conv(x.reshape(-1, *x.shape[-3:]))
    return y.reshape(*lead, *y.shape[-3:])


class WritableConv2d(nn.Conv2d):
    """``nn.Conv2d`` whose weights may carry leading episode axes, like
    :class:`~ebmm.energies._base.WritableLinear`.

    With ``weight (*E, out, in, kh, kw)`` and ``bias (*E, out)`` (as after writing a batch of
    episodes), ``x (*E, *n, in, H, W) -> (*E, *n, out, H', W')``: every episode convolves with
    its own kernel. The episodes are folded into the channels and convolved in one grouped
    convolution (``groups = prod(E)``), so no ``vmap`` is needed. With ordinary 4-D weights it
    is exactly ``nn.Conv2d`` applied to every image of ``x (..., in, H, W)``.
    """

    def forward(self, x: Tensor) -> Tensor:
        if self.weight.dim() == 4:
            return conv_any(super().forward, x)
        if self.groups != 1 or self.padding_mode != "zeros":
            raise NotImplementedError("per-episode weights need groups=1 and zero padding")
        episodes = self.weight.shape[:-4]
        b = math.prod(episodes)
        c_out, c_in, kh, kw = self.weight.shape[-4:]
        n_shape = x.shape[len(episodes):-3]
        xs = x.reshape(b, -1, *x.shape[-3:])  # (B, n, in, H, W)
        n = xs.shape[1]
        xs = xs.transpose(0, 1).reshape(n, b * c_in, *x.shape[-2:])  # (n, B·in, H, W)
        w = self.weight.reshape(b * c_out, c_in, kh, kw)
        bias = self.bias.reshape(b * c_out) if self.bias is not None else None
        y = F.conv2d(xs, w, bias, self.stride, self.padding, self.dilation, groups=b)
        y = y.unflatten(1, (b, c_out))  # (n, B, out, H', W')
        return y.transpose(0, 1).reshape(*episodes, *n_shape, *y.shape[-3:])
