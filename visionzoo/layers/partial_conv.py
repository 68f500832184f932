"""Partial convolution (FasterNet's PConv): a spatial conv over a leading slice of the channels,
the rest passed through untouched, which cuts both FLOPs and memory access.

Paper: `Run, Don't Walk: Chasing Higher FLOPS for Faster Neural Networks` -
https://arxiv.org/abs/2303.03667
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["PARTIAL_CONV_MODES", "PartialConv2d"]

# "split_cat": split, convolve, concatenate (trains); "slicing": write the convolved slice into a
# copy of the input (inference only: in-place writes into a view)
PARTIAL_CONV_MODES = ("split_cat", "slicing")


class PartialConv2d(nn.Module):
    """``y[:, :c] = conv(x[:, :c])``, ``y[:, c:] = x[:, c:]`` with ``c = dim // n_div``.

    Args:
        dim: channels in and out.
        n_div: the convolved share of the channels is ``1 / n_div``.
        kernel_size: the (odd) kernel of the bias-free, same-size conv.
        mode: how the untouched channels travel, one of :data:`PARTIAL_CONV_MODES`.

    Shapes: ``(B, dim, H, W)`` -> ``(B, dim, H, W)``.
    """

    def __init__(self, dim: int, n_div: int = 4, kernel_size: int = 3, *, mode: str = "split_cat") -> None:
        super().__init__()
        if mode not in PARTIAL_CONV_MODES:
            raise ValueError(f"mode={mode!r}; valid: {', '.join(map(repr, PARTIAL_CONV_MODES))}")
        if not 1 <= n_div <= dim:
            raise ValueError(f"n_div must be in [1, dim={dim}], got {n_div}")
        self.dim_conv3 = dim // n_div
        self.dim_untouched = dim - self.dim_conv3
        self.slicing = mode == "slicing"
        # NOTE: named for its usual 3x3 kernel, as timm's (checkpoint compatibility)
        self.partial_conv3 = nn.Conv2d(
            self.dim_conv3, self.dim_conv3, kernel_size, 1, kernel_size // 2, bias=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.slicing:
            x = x.clone()  # the caller's tensor is the block's shortcut: keep it intact
            x[:, : self.dim_conv3] = self.partial_conv3(x[:, : self.dim_conv3])
            return x
        x1, x2 = torch.split(x, [self.dim_conv3, self.dim_untouched], dim=1)
        return torch.cat((self.partial_conv3(x1), x2), 1)
