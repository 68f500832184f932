"""Mixed depthwise convolution: channel groups convolved with different kernel sizes.

Paper: `MixConv: Mixed Depthwise Convolutional Kernels` - https://arxiv.org/abs/1907.09595
"""

from __future__ import annotations

import torch
from torch import nn

from .conv_bn_act import create_conv2d

__all__ = ["MixedConv2d"]


def _split_channels(channels: int, num_groups: int) -> list[int]:
    """Even split; the first group takes the remainder (the layout of the published weights)."""
    split = [channels // num_groups] * num_groups
    split[0] += channels - sum(split)
    return split


class MixedConv2d(nn.ModuleDict):
    """One conv per kernel size over its slice of the channels, outputs concatenated.

    Children are named ``"0"``, ``"1"``... (checkpoint layout).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | list[int] = 3,
        *,
        stride: int = 1,
        padding: str | int = "",
        dilation: int = 1,
        depthwise: bool = False,
        bias: bool = False,
    ) -> None:
        super().__init__()
        kernels = list(kernel_size) if isinstance(kernel_size, (list, tuple)) else [kernel_size]
        in_splits = _split_channels(in_channels, len(kernels))
        out_splits = _split_channels(out_channels, len(kernels))
        self.in_channels = sum(in_splits)
        self.out_channels = sum(out_splits)
        for i, (k, cin, cout) in enumerate(zip(kernels, in_splits, out_splits)):
            conv = create_conv2d(
                cin, cout, k, stride=stride, padding=padding, dilation=dilation,
                groups=cin if depthwise else 1, bias=bias,
            )  # fmt: skip
            self.add_module(str(i), conv)
        self.splits = in_splits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = torch.split(x, self.splits, 1)
        return torch.cat([conv(parts[i]) for i, conv in enumerate(self.values())], 1)

    @torch.no_grad()
    def fold_batch_norm(self, bn: nn.BatchNorm2d) -> None:
        """Make this conv compute ``bn(self(x))`` (eval statistics): each kernel-size group takes
        its slice of the norm's scale and shift, exactly as a plain conv would."""
        if bn.running_mean is None or bn.running_var is None:
            raise ValueError(f"{type(bn).__name__} has no running statistics to fold")
        scale = torch.rsqrt(bn.running_var.double() + bn.eps)
        shift = -bn.running_mean.double() * scale
        if bn.affine:
            scale = scale * bn.weight.double()
            shift = shift * bn.weight.double() + bn.bias.double()
        start = 0
        for conv in self.values():
            assert isinstance(conv, nn.Conv2d)
            end = start + conv.out_channels
            s, t = scale[start:end], shift[start:end]
            bias = conv.bias.double() * s + t if conv.bias is not None else t
            conv.weight.copy_((conv.weight.double() * s.view(-1, 1, 1, 1)).to(conv.weight.dtype))
            conv.bias = nn.Parameter(bias.to(conv.weight.dtype), requires_grad=conv.weight.requires_grad)
            start = end
