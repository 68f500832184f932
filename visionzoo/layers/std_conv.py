"""Weight-standardised convolutions (BiT ResNet-V2, ViT hybrids).

Paper: `Micro-Batch Training with Batch-Channel Normalization and Weight Standardization` -
https://arxiv.org/abs/1903.10520

Each output filter is normalised to zero mean and unit variance over its fan-in before the
convolution, which lets group norm (no batch statistics) train as well as batch norm. The stored
``weight`` is the raw one, so state-dict keys are those of a plain ``nn.Conv2d``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .helpers import get_padding, is_static_pad
from .padding import pad_same

__all__ = ["StdConv2d", "StdConv2dSame", "standardize_weight"]

# NOTE: the padding depends on the input's shape: FX traces keep the call as one node
torch.fx.wrap("pad_same")


def standardize_weight(weight: torch.Tensor, eps: float) -> torch.Tensor:
    """``(O, I, kh, kw)`` filters, each shifted and scaled to zero mean, unit (biased) variance."""
    var, mean = torch.var_mean(weight, dim=(1, 2, 3), unbiased=False, keepdim=True)
    return (weight - mean) * torch.rsqrt(var + eps)


class StdConv2d(nn.Conv2d):
    """Conv2d with weight standardisation; symmetric padding by default (``padding=None``).

    Args:
        eps: added to each filter's variance (BiT checkpoints use 1e-8).
    """

    def __init__(
        self,
        in_channel: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int | None = None,
        dilation: int = 1,
        groups: int = 1,
        bias: bool = False,
        *,
        eps: float = 1e-6,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if padding is None:
            padding = get_padding(kernel_size, stride, dilation)
        super().__init__(
            in_channel,
            out_channels,
            kernel_size,
            stride,
            padding,
            dilation=dilation,
            groups=groups,
            bias=bias,
            device=device,
            dtype=dtype,
        )
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = standardize_weight(self.weight, self.eps)
        return F.conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class StdConv2dSame(nn.Conv2d):
    """Weight-standardised Conv2d with TensorFlow 'SAME' padding (the ViT hybrids' backbones).

    Where 'SAME' is a fixed symmetric padding (stride 1, odd kernel) it is set on the conv;
    otherwise the input is padded per call from its size.
    """

    def __init__(
        self,
        in_channel: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: str = "SAME",
        dilation: int = 1,
        groups: int = 1,
        bias: bool = False,
        *,
        eps: float = 1e-6,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if not isinstance(padding, str) or padding.lower() != "same":
            raise ValueError(f"StdConv2dSame only pads 'same', got padding={padding!r}; use StdConv2d")
        static = is_static_pad(kernel_size, stride, dilation)
        fixed = get_padding(kernel_size, stride, dilation) if static else 0
        super().__init__(
            in_channel,
            out_channels,
            kernel_size,
            stride,
            fixed,
            dilation=dilation,
            groups=groups,
            bias=bias,
            device=device,
            dtype=dtype,
        )
        self.same_pad = not static
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.same_pad:
            x = pad_same(x, self.kernel_size, self.stride, self.dilation)  # type: ignore[arg-type]
        weight = standardize_weight(self.weight, self.eps)
        return F.conv2d(x, weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
