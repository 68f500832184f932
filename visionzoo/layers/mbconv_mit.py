"""EfficientViT's (MIT) convolution units: a conv with an optional norm and activation
(``conv`` / ``norm`` / ``act``), the (fused) inverted residual bodies built of them with a per-conv
bias, norm and activation, and the residual wrapper (``main`` / ``shortcut``) around a body.

Shared by the families descended from EfficientViT (``efficientvit_mit``, ``cpubone``), whose
state-dict keys follow these module names.

Paper: `EfficientViT: Multi-Scale Linear Attention for High-Resolution Dense Prediction` -
https://arxiv.org/abs/2205.14756
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import nn

from .drop import DropPath

__all__ = ["ConvLayer", "FusedMBConv", "MBConv", "ResidualBlock"]

Layer = Callable[..., nn.Module]


class ConvLayer(nn.Module):
    """Conv, then an optional norm and an optional activation (either may be absent alone). A 2x2
    kernel at stride 1 keeps the size with a one-pixel pad on the top and left (``conv`` is then
    ``(ZeroPad2d, Conv2d)``); odd kernels pad ``k // 2``, 2x2 at stride 2 not at all."""

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        norm: nn.Module | None
        act: nn.Module | None

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        use_bias: bool = False,
        norm_layer: Layer | None = nn.BatchNorm2d,
        act_layer: Layer | None = nn.ReLU,
    ) -> None:
        super().__init__()
        if kernel_size == 2 and stride != 2:
            self.conv: nn.Module = nn.Sequential(
                nn.ZeroPad2d((1, 0, 1, 0)),
                nn.Conv2d(in_channels, out_channels, 2, stride=stride, groups=groups, bias=use_bias),
            )
        else:
            if kernel_size != 2 and kernel_size % 2 == 0:
                raise ValueError(f"ConvLayer takes odd kernels or 2, got kernel_size={kernel_size}")
            padding = 0 if kernel_size == 2 else kernel_size // 2
            self.conv = nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride=stride,
                padding=padding,
                groups=groups,
                bias=use_bias,
            )
        self.norm = norm_layer(out_channels) if norm_layer is not None else None
        self.act = act_layer() if act_layer is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.norm is not None:
            x = self.norm(x)
        if self.act is not None:
            x = self.act(x)
        return x


class ResidualBlock(nn.Module):
    """``main(x)``, plus ``shortcut(x)`` (with drop path on the main branch) where there is one."""

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        shortcut: nn.Module | None

    def __init__(self, main: nn.Module, shortcut: nn.Module | None = None, drop_path: float = 0.0) -> None:
        super().__init__()
        self.main = main
        self.shortcut = shortcut
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shortcut is None:
            return self.main(x)
        return self.drop_path(self.main(x)) + self.shortcut(x)


def _triple(value: Any) -> tuple[Any, Any, Any]:
    return cast("tuple[Any, Any, Any]", tuple(value))


class MBConv(nn.Module):
    """Inverted residual body: 1x1 (grouped) expansion, depthwise ``kernel_size`` conv at
    ``stride``, 1x1 projection (in ``project_groups`` groups: LowFormer groups it as the
    expansion); per-conv bias, norm and activation given as triples."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        expand_ratio: float = 6,
        expand_groups: int = 1,
        use_bias: Sequence[bool] = (False, False, False),
        norm_layer: Sequence[Layer | None] = (nn.BatchNorm2d, nn.BatchNorm2d, nn.BatchNorm2d),
        act_layer: Sequence[Layer | None] = (nn.ReLU6, nn.ReLU6, None),
        *,
        project_groups: int = 1,
    ) -> None:
        super().__init__()
        mid = round(in_channels * expand_ratio)
        bias, norm, act = _triple(use_bias), _triple(norm_layer), _triple(act_layer)
        self.inverted_conv = ConvLayer(
            in_channels, mid, 1, groups=expand_groups, use_bias=bias[0], norm_layer=norm[0], act_layer=act[0]
        )
        self.depth_conv = ConvLayer(
            mid, mid, kernel_size, stride, groups=mid, use_bias=bias[1], norm_layer=norm[1], act_layer=act[1]
        )
        self.point_conv = ConvLayer(
            mid,
            out_channels,
            1,
            groups=project_groups,
            use_bias=bias[2],
            norm_layer=norm[2],
            act_layer=act[2],
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.point_conv(self.depth_conv(self.inverted_conv(x)))


class FusedMBConv(nn.Module):
    """Fused inverted residual body: one (grouped) ``kernel_size`` conv at ``stride`` to the
    expanded width, then a 1x1 projection."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        expand_ratio: float = 6,
        expand_groups: int = 1,
        use_bias: Sequence[bool] = (False, False),
        norm_layer: Sequence[Layer | None] = (nn.BatchNorm2d, nn.BatchNorm2d),
        act_layer: Sequence[Layer | None] = (nn.ReLU6, None),
    ) -> None:
        super().__init__()
        mid = round(in_channels * expand_ratio)
        self.spatial_conv = ConvLayer(
            in_channels,
            mid,
            kernel_size,
            stride,
            groups=expand_groups,
            use_bias=use_bias[0],
            norm_layer=norm_layer[0],
            act_layer=act_layer[0],
        )
        self.point_conv = ConvLayer(
            mid, out_channels, 1, use_bias=use_bias[1], norm_layer=norm_layer[1], act_layer=act_layer[1]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.point_conv(self.spatial_conv(x))
