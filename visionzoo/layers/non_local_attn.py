"""Bilinear attention transform (BAT), a non-local block that mixes rows and columns.

Paper: `Non-Local Neural Networks With Grouped Bilinear Attentional Transforms` -
https://openaccess.thecvf.com/content_CVPR_2020/html/Chi_Non-Local_Neural_Networks_With_Grouped_Bilinear_Attentional_Transforms_CVPR_2020_paper.html

Each channel group learns a ``block_size x block_size`` row-mixing matrix ``P`` and a
column-mixing matrix ``Q`` from pooled features; the map becomes ``P @ x @ Q``, the matrices
expanded block-diagonally to the map's size. Module names follow timm's, so its checkpoints load.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .activations import LayerType
from .conv_bn_act import ConvNormAct
from .helpers import make_divisible

__all__ = ["BatNonLocalAttn", "BilinearAttnTransform"]


def _block_diagonal(mat: torch.Tensor, t: int) -> torch.Tensor:
    """``(B, C, n, n)`` -> ``(B, C, n*t, n*t)``: entry ``(i, j)`` becomes ``mat[i, j] * I_t``, so
    each matrix entry mixes the ``t``-pixel runs it stands for."""
    if t <= 1:
        return mat
    b, c, n, _ = mat.shape
    eye = torch.eye(t, dtype=mat.dtype, device=mat.device)
    return (mat[..., :, None, :, None] * eye[:, None, :]).reshape(b, c, n * t, n * t)


class BilinearAttnTransform(nn.Module):
    """``conv2(P @ x @ Q)`` with per-group row / column attention matrices ``P`` and ``Q``
    (``block_size`` square, rows / columns normalised to sum to one)."""

    def __init__(
        self,
        in_channels: int,
        block_size: int,
        groups: int,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = dict(device=device, dtype=dtype)
        cna = dict(act_layer=act_layer, norm_layer=norm_layer, **dd)
        self.conv1 = ConvNormAct(in_channels, groups, 1, **cna)
        self.conv_p = nn.Conv2d(groups, block_size * block_size * groups, kernel_size=(block_size, 1), **dd)
        self.conv_q = nn.Conv2d(groups, block_size * block_size * groups, kernel_size=(1, block_size), **dd)
        self.conv2 = ConvNormAct(in_channels, in_channels, 1, **cna)
        self.block_size = block_size
        self.groups = groups
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        n, g = self.block_size, self.groups
        if h % n or w % n:
            raise ValueError(f"BilinearAttnTransform needs H and W divisible by {n}, got {h}x{w}")
        out = self.conv1(x)
        p = self.conv_p(F.adaptive_max_pool2d(out, (n, 1))).view(b, g, n, n).sigmoid()
        q = self.conv_q(F.adaptive_max_pool2d(out, (1, n))).view(b, g, n, n).sigmoid()
        p = p / p.sum(dim=3, keepdim=True)
        q = q / q.sum(dim=2, keepdim=True)
        # each group's matrices serve its c / g channels
        p = p[:, :, None].expand(b, g, c // g, n, n).reshape(b, c, n, n)
        q = q[:, :, None].expand(b, g, c // g, n, n).reshape(b, c, n, n)
        y = _block_diagonal(p, h // n).matmul(x).matmul(_block_diagonal(q, w // n))
        return self.conv2(y)


class BatNonLocalAttn(nn.Module):
    """Residual BAT block: reduce channels, bilinear transform, restore, dropout, add the input."""

    def __init__(
        self,
        in_channels: int,
        block_size: int = 7,
        groups: int = 2,
        rd_ratio: float = 0.25,
        rd_channels: int | None = None,
        rd_divisor: int = 8,
        drop_rate: float = 0.2,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        **_: Any,
    ) -> None:
        super().__init__()
        if rd_channels is None:
            rd_channels = make_divisible(in_channels * rd_ratio, divisor=rd_divisor)
        cna: dict[str, Any] = dict(act_layer=act_layer, norm_layer=norm_layer, device=device, dtype=dtype)
        self.conv1 = ConvNormAct(in_channels, rd_channels, 1, **cna)
        self.ba = BilinearAttnTransform(rd_channels, block_size, groups, **cna)
        self.conv2 = ConvNormAct(rd_channels, in_channels, 1, **cna)
        self.dropout = nn.Dropout2d(p=drop_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.conv2(self.ba(self.conv1(x)))) + x
