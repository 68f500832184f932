"""Depthwise-separable convolutions: a depthwise conv, then a pointwise (1x1) conv."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .activations import LayerType
from .conv_bn_act import create_conv2d
from .norm_act import get_norm_act_layer

__all__ = ["SeparableConv2d", "SeparableConvBnAct", "SeparableConvNormAct"]


class SeparableConv2d(nn.Module):
    """Depthwise ``kernel_size`` conv (``channel_multiplier`` outputs per input channel), then a
    pointwise conv to ``out_channels``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: int = 1,
        padding: str | int = "",
        bias: bool = False,
        channel_multiplier: float = 1.0,
        pw_kernel_size: int = 1,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        mid = int(in_channels * channel_multiplier)
        self.conv_dw = create_conv2d(
            in_channels,
            mid,
            kernel_size,
            stride=stride,
            dilation=dilation,
            padding=padding,
            depthwise=True,
            **dd,
        )
        self.conv_pw = create_conv2d(mid, out_channels, pw_kernel_size, padding=padding, bias=bias, **dd)

    @property
    def in_channels(self) -> int:
        return self.conv_dw.in_channels

    @property
    def out_channels(self) -> int:
        return self.conv_pw.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_pw(self.conv_dw(x))


class SeparableConvNormAct(SeparableConv2d):
    """:class:`SeparableConv2d` followed by a fused norm + activation (``bn``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: int = 1,
        padding: str | int = "",
        bias: bool = False,
        channel_multiplier: float = 1.0,
        pw_kernel_size: int = 1,
        norm_layer: LayerType = nn.BatchNorm2d,
        act_layer: LayerType | None = nn.ReLU,
        apply_act: bool = True,
        drop_layer: Callable[[], nn.Module] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            dilation,
            padding,
            bias,
            channel_multiplier,
            pw_kernel_size,
            device=device,
            dtype=dtype,
        )
        norm_act = get_norm_act_layer(norm_layer, act_layer)
        kwargs: dict[str, Any] = {"apply_act": apply_act}
        if device is not None or dtype is not None:
            kwargs.update(device=device, dtype=dtype)
        if drop_layer is not None:
            kwargs["drop_layer"] = drop_layer
        self.bn = norm_act(out_channels, **kwargs)  # type: ignore[misc]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv_pw(self.conv_dw(x)))


SeparableConvBnAct = SeparableConvNormAct  # NOTE: timm's older name
