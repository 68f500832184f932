"""Conv -> norm -> activation, the building block of most CNN families.

State-dict keys are ``conv.weight`` and ``bn.*`` (the norm keeps the name ``bn`` whatever its
type, for checkpoint compatibility).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from .activations import LayerType
from .blur_pool import create_aa
from .helpers import get_padding, is_static_pad
from .norm_act import get_norm_act_layer
from .padding import pad_same

__all__ = ["Conv2dSame", "ConvBnAct", "ConvNormAct", "create_conv2d"]

# NOTE: the padding depends on the input's shape: FX traces keep the call as one node
torch.fx.wrap("pad_same")


class Conv2dSame(nn.Conv2d):
    """Conv2d with TensorFlow 'SAME' padding computed from the input size (``padding`` is ignored)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        del padding  # NOTE: timm's signature; the padding is computed per call in forward
        super().__init__(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            0,
            dilation,
            groups,
            bias,
            device=device,
            dtype=dtype,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pad_same(x, self.kernel_size, self.stride, self.dilation)  # type: ignore[arg-type]
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


def create_conv2d(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    *,
    stride: int = 1,
    padding: str | int = "",
    dilation: int = 1,
    groups: int = 1,
    bias: bool = False,
    depthwise: bool = False,
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = "zeros",
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> nn.Conv2d:
    """A Conv2d; ``padding`` is an int, ``''`` (symmetric), ``'same'`` (TF) or ``'valid'``."""
    groups = in_channels if depthwise else groups
    if isinstance(padding, str):
        mode = padding.lower()
        if mode == "valid":
            padding = 0
        elif mode == "same" and not is_static_pad(kernel_size, stride, dilation):
            return Conv2dSame(
                in_channels, out_channels, kernel_size, stride, 0, dilation, groups, bias, device, dtype
            )
        else:
            padding = get_padding(kernel_size, stride, dilation)
    return nn.Conv2d(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=bias,
        padding_mode=padding_mode,
        device=device,
        dtype=dtype,
    )


class ConvNormAct(nn.Module):
    """Conv2d, fused norm+act (``bn``), and an optional anti-aliasing downsample (``aa``)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        padding: str | int = "",
        dilation: int = 1,
        groups: int = 1,
        bias: bool = False,
        *,
        apply_norm: bool = True,
        apply_act: bool = True,
        norm_layer: LayerType = nn.BatchNorm2d,
        act_layer: LayerType | None = nn.ReLU,
        aa_layer: LayerType | None = None,
        drop_layer: Callable[[], nn.Module] | None = None,
        conv_kwargs: dict[str, Any] | None = None,
        norm_kwargs: dict[str, Any] | None = None,
        act_kwargs: dict[str, Any] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        # NOTE: device/dtype reach the norm only when set, so norm layers without them work
        dd: dict[str, Any] = {} if device is None and dtype is None else {"device": device, "dtype": dtype}
        use_aa = aa_layer is not None and stride > 1
        self.conv = create_conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=1 if use_aa else stride,
            padding=padding,
            dilation=dilation,
            groups=groups,
            bias=bias,
            **{**dd, **(conv_kwargs or {})},
        )
        if apply_norm:
            norm_act = get_norm_act_layer(norm_layer, act_layer)
            kwargs: dict[str, Any] = {"apply_act": apply_act, "act_kwargs": act_kwargs}
            kwargs.update({**dd, **(norm_kwargs or {})})
            if drop_layer is not None:
                kwargs["drop_layer"] = drop_layer
            self.bn = norm_act(out_channels, **kwargs)  # type: ignore[misc]
        else:
            self.bn = nn.Sequential()
            if drop_layer is not None:
                self.bn.add_module("drop", drop_layer())
        self.aa = create_aa(aa_layer, out_channels, stride=stride, enable=use_aa, noop=None, **dd)

    @property
    def in_channels(self) -> int:
        return self.conv.in_channels

    @property
    def out_channels(self) -> int:
        return self.conv.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.conv(x))
        return self.aa(x) if self.aa is not None else x


ConvBnAct = ConvNormAct  # NOTE: timm's older name
