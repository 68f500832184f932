"""Global pooling with a selectable type: avg, max, avgmax (their mean), catavgmax (both)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["AvgPool2dSame", "MaxPool2dSame", "SelectAdaptivePool2d", "adaptive_pool_feat_mult"]

POOL_TYPES = ("avg", "max", "avgmax", "catavgmax", "")


def adaptive_pool_feat_mult(pool_type: str = "avg") -> int:
    """How many times the channel count the pooled output has (2 for catavgmax)."""
    return 2 if pool_type.endswith("catavgmax") else 1


class SelectAdaptivePool2d(nn.Module):
    """Global pooling to 1x1 (flattened to ``(B, C)`` with ``flatten``), or pass-through for ``''``."""

    def __init__(self, pool_type: str = "avg", flatten: bool = False) -> None:
        super().__init__()
        pool_type = (pool_type or "").lower()
        if pool_type not in POOL_TYPES:
            raise ValueError(
                f"unknown global_pool {pool_type!r}; valid: 'avg', 'max', 'avgmax', 'catavgmax', '' "
            )
        self.pool_type = pool_type
        self.flatten = flatten and bool(pool_type)

    def is_identity(self) -> bool:
        return not self.pool_type

    def feat_mult(self) -> int:
        return adaptive_pool_feat_mult(self.pool_type)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kind = self.pool_type
        if not kind:
            return x
        if kind == "avg":
            x = x.mean((2, 3), keepdim=True)
        elif kind == "max":
            x = x.amax((2, 3), keepdim=True)
        else:
            avg, mx = x.mean((2, 3), keepdim=True), x.amax((2, 3), keepdim=True)
            x = torch.cat((avg, mx), 1) if kind == "catavgmax" else 0.5 * (avg + mx)
        return x.flatten(1) if self.flatten else x

    def extra_repr(self) -> str:
        return f"pool_type={self.pool_type!r}, flatten={self.flatten}"


class AvgPool2dSame(nn.AvgPool2d):
    """Average pool with TF 'same' padding, for dilated downsample paths."""

    def __init__(
        self,
        kernel_size: int,
        stride: int | None = None,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        super().__init__(kernel_size, stride, 0, ceil_mode, count_include_pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from .helpers import same_pad_amount, to_2tuple

        kh, kw = to_2tuple(self.kernel_size)
        sh, sw = to_2tuple(self.stride)
        ph = same_pad_amount(x.shape[-2], kh, sh)
        pw = same_pad_amount(x.shape[-1], kw, sw)
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        return F.avg_pool2d(x, self.kernel_size, self.stride, 0, self.ceil_mode, self.count_include_pad)


class MaxPool2dSame(nn.MaxPool2d):
    """Max pool with TF 'SAME' padding computed from the input size (padding never wins the max)."""

    def __init__(
        self, kernel_size: int, stride: int | None = None, dilation: int = 1, ceil_mode: bool = False
    ) -> None:
        super().__init__(kernel_size, stride, 0, dilation, ceil_mode=ceil_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from .helpers import same_pad_amount, to_2tuple

        kh, kw = to_2tuple(self.kernel_size)
        sh, sw = to_2tuple(self.stride)
        dh, dw = to_2tuple(self.dilation)
        ph = same_pad_amount(x.shape[-2], kh, sh, dh)
        pw = same_pad_amount(x.shape[-1], kw, sw, dw)
        x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=float("-inf"))
        return F.max_pool2d(x, self.kernel_size, self.stride, 0, self.dilation, self.ceil_mode)
