"""Selective kernel convolution: parallel conv paths of different receptive fields, mixed per
channel by a softmax attention over the paths.

Paper: `Selective Kernel Networks` - https://arxiv.org/abs/1903.06586
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .activations import LayerType
from .conv_bn_act import ConvNormAct
from .helpers import make_divisible

__all__ = ["SelectiveKernel", "SelectiveKernelAttn"]


class SelectiveKernelAttn(nn.Module):
    """Path weights from stacked path outputs ``(B, num_paths, C, H, W)``: sum the paths, global
    mean, 1x1 reduce + norm + act, 1x1 expand to ``num_paths * C`` logits, softmax across paths.
    Returns ``(B, num_paths, C, 1, 1)``."""

    def __init__(
        self,
        channels: int,
        num_paths: int = 2,
        attn_channels: int = 32,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        norm_dd = {k: v for k, v in dd.items() if v is not None}
        self.num_paths = num_paths
        self.fc_reduce = nn.Conv2d(channels, attn_channels, kernel_size=1, bias=False, **dd)
        self.bn = norm_layer(attn_channels, **norm_dd)  # type: ignore[operator]
        self.act = act_layer(inplace=True)  # type: ignore[operator]
        self.fc_select = nn.Conv2d(attn_channels, channels * num_paths, kernel_size=1, bias=False, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch._assert(x.shape[1] == self.num_paths, "SelectiveKernelAttn: dim 1 must be the paths")
        x = self.act(self.bn(self.fc_reduce(x.sum(1).mean((2, 3), keepdim=True))))
        x = self.fc_select(x)
        b, c, h, w = x.shape
        return torch.softmax(x.view(b, self.num_paths, c // self.num_paths, h, w), dim=1)


class SelectiveKernel(nn.Module):
    """One conv + norm + act path per kernel size, their outputs weighted per channel by
    :class:`SelectiveKernelAttn` and summed.

    Args:
        in_channels: input channels.
        out_channels: output channels (``in_channels`` when None).
        kernel_size: one kernel size per path (an int: two paths of it); default ``[3, 5]``.
        stride: stride of every path.
        dilation: the module's dilation, multiplied into each path's.
        groups: groups of each path's conv (at most ``out_channels``).
        rd_ratio, rd_channels, rd_divisor: the attention's hidden width (``rd_channels`` when
            given, else ``out_channels * rd_ratio`` rounded to ``rd_divisor``).
        keep_3x3: make every path a 3x3 conv, a larger kernel k becoming dilation (k - 1) // 2
            (same receptive field, fewer weights).
        split_input: give each path its own slice of the input channels (fewer weights), instead
            of the whole input to every path.
        act_layer, norm_layer, aa_layer, drop_layer: the paths' activation, norm, anti-aliasing
            and spatial dropout (the attention uses ReLU and BatchNorm, as timm's).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int | None = None,
        kernel_size: int | list[int] | None = None,
        stride: int = 1,
        dilation: int = 1,
        groups: int = 1,
        rd_ratio: float = 1.0 / 16,
        rd_channels: int | None = None,
        rd_divisor: int = 8,
        keep_3x3: bool = True,
        split_input: bool = True,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        aa_layer: LayerType | None = None,
        drop_layer: Any = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        out_channels = out_channels or in_channels
        kernel_sizes: list[int]
        if isinstance(kernel_size, (list, tuple)):
            kernel_sizes = list(kernel_size)
        else:
            kernel_sizes = [kernel_size] * 2 if kernel_size else [3, 5]  # 5x5 as a dilated 3x3
        if any(k < 3 or k % 2 == 0 for k in kernel_sizes):
            raise ValueError(f"SelectiveKernel kernel sizes must be odd and >= 3, got {kernel_sizes}")
        if keep_3x3:
            dilations = [dilation * (k - 1) // 2 for k in kernel_sizes]
            kernel_sizes = [3] * len(kernel_sizes)
        else:
            dilations = [dilation] * len(kernel_sizes)
        self.num_paths = len(kernel_sizes)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.split_input = split_input
        path_in = in_channels
        if split_input:
            if in_channels % self.num_paths:
                raise ValueError(f"in_channels {in_channels} do not split into {self.num_paths} paths")
            path_in = in_channels // self.num_paths
        groups = min(out_channels, groups)
        self.paths = nn.ModuleList(
            ConvNormAct(
                path_in,
                out_channels,
                kernel_size=k,
                stride=stride,
                dilation=d,
                groups=groups,
                act_layer=act_layer,
                norm_layer=norm_layer,
                aa_layer=aa_layer,
                drop_layer=drop_layer,
                **dd,
            )
            for k, d in zip(kernel_sizes, dilations, strict=True)
        )
        attn_channels = rd_channels or make_divisible(out_channels * rd_ratio, divisor=rd_divisor)
        self.attn = SelectiveKernelAttn(out_channels, self.num_paths, attn_channels, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.split_input:
            parts = torch.split(x, self.in_channels // self.num_paths, 1)
            paths = [op(parts[i]) for i, op in enumerate(self.paths)]
        else:
            paths = [op(x) for op in self.paths]
        stacked = torch.stack(paths, dim=1)
        return (stacked * self.attn(stacked)).sum(dim=1)
