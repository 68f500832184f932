"""Split attention ("Splat"), ResNeSt's grouped conv with a softmax over its radix splits.

Paper: `ResNeSt: Split-Attention Networks` - https://arxiv.org/abs/2004.08955
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .activations import LayerType, get_act_layer
from .helpers import make_divisible

__all__ = ["RadixSoftmax", "SplitAttn"]


class RadixSoftmax(nn.Module):
    """Attention logits ``(B, cardinality * radix * C', ...)`` to weights: a softmax across the
    ``radix`` splits of each cardinal group (a sigmoid when ``radix`` is 1), flattened to
    ``(B, radix * cardinality * C')`` radix-major, the layout of the splits they weigh."""

    def __init__(self, radix: int, cardinality: int) -> None:
        super().__init__()
        self.radix = radix
        self.cardinality = cardinality

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.size(0)
        if self.radix > 1:
            x = x.view(batch, self.cardinality, self.radix, -1).transpose(1, 2)
            return F.softmax(x, dim=1).reshape(batch, -1)
        return torch.sigmoid(x)


class SplitAttn(nn.Module):
    """A grouped conv producing ``radix`` splits of ``out_channels``; their sum is squeezed
    (global mean, two grouped 1x1 convs) into per-channel weights, softmax-normalised across
    the splits, and the output is the weighted sum of the splits.

    Args:
        in_channels: input channels.
        out_channels: output channels (``in_channels`` when None).
        kernel_size, stride, padding, dilation, groups, bias: the conv's (``groups`` is the
            cardinality; the conv has ``groups * radix`` groups). ``padding`` None: ``k // 2``.
        radix: number of splits (1: a sigmoid-gated conv).
        rd_ratio, rd_channels, rd_divisor: the attention's hidden width (``rd_channels`` per
            split when given, else ``in_channels * radix * rd_ratio`` rounded, at least 32).
        act_layer: activation after the conv and in the attention.
        norm_layer: norm after the conv and in the attention (none when None).
        drop_layer: a factory of a spatial dropout (DropBlock) applied after the conv's norm.
        kwargs: further ``nn.Conv2d`` arguments (``device``, ``dtype``, ``padding_mode``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int | None = None,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = False,
        radix: int = 2,
        rd_ratio: float = 0.25,
        rd_channels: int | None = None,
        rd_divisor: int = 8,
        act_layer: LayerType = nn.ReLU,
        norm_layer: Callable[..., nn.Module] | None = None,
        drop_layer: Callable[[], nn.Module] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        dd = {"device": kwargs.pop("device", None), "dtype": kwargs.pop("dtype", None)}
        # NOTE: device/dtype reach the norm only when set, so norm factories without them work
        norm_dd = dd if any(v is not None for v in dd.values()) else {}
        out_channels = out_channels or in_channels
        act = get_act_layer(act_layer)
        if act is None:
            raise ValueError(f"SplitAttn needs an act_layer, got {act_layer!r}")
        self.radix = radix
        mid_chs = out_channels * radix
        if rd_channels is None:
            attn_chs = make_divisible(in_channels * radix * rd_ratio, min_value=32, divisor=rd_divisor)
        else:
            attn_chs = rd_channels * radix
        padding = kernel_size // 2 if padding is None else padding

        self.conv = nn.Conv2d(
            in_channels,
            mid_chs,
            kernel_size,
            stride,
            padding,
            dilation,
            groups=groups * radix,
            bias=bias,
            **kwargs,
            **dd,
        )
        self.bn0 = norm_layer(mid_chs, **norm_dd) if norm_layer else nn.Identity()
        self.drop = drop_layer() if drop_layer is not None else nn.Identity()
        self.act0 = act(inplace=True)
        self.fc1 = nn.Conv2d(out_channels, attn_chs, 1, groups=groups, **dd)
        self.bn1 = norm_layer(attn_chs, **norm_dd) if norm_layer else nn.Identity()
        self.act1 = act(inplace=True)
        self.fc2 = nn.Conv2d(attn_chs, mid_chs, 1, groups=groups, **dd)
        self.rsoftmax = RadixSoftmax(radix, groups)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act0(self.drop(self.bn0(self.conv(x))))
        b, rc, h, w = x.shape
        if self.radix > 1:
            x = x.reshape((b, self.radix, rc // self.radix, h, w))
            squeezed = x.sum(dim=1)
        else:
            squeezed = x
        squeezed = squeezed.mean((2, 3), keepdim=True)
        logits = self.fc2(self.act1(self.bn1(self.fc1(squeezed))))
        attn = self.rsoftmax(logits).view(b, -1, 1, 1)
        if self.radix > 1:
            out = (x * attn.reshape((b, self.radix, rc // self.radix, 1, 1))).sum(dim=1)
        else:
            out = x * attn
        return out.contiguous()
