"""Global pooling with a selectable type: avg, max, avgmax (their mean), catavgmax (both).

The ``fast`` forms (``fast``/``fastavg``, ``fastmax``, ``fastavgmax``, ``fastcatavgmax``) are
timm's names for the same pools computed as reductions over H and W; here every global pool is
computed that way, so they equal their plain forms.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .helpers import to_2tuple
from .padding import get_padding_value, pad_same

__all__ = [
    "AdaptiveAvgMaxPool2d",
    "AdaptiveCatAvgMaxPool2d",
    "AvgPool2dSame",
    "MaxPool2dSame",
    "SelectAdaptivePool2d",
    "adaptive_avgmax_pool2d",
    "adaptive_catavgmax_pool2d",
    "adaptive_pool_feat_mult",
    "create_pool2d",
    "select_adaptive_pool2d",
]

POOL_TYPES = ("avg", "max", "avgmax", "catavgmax", "")
_FAST_TYPES = {
    "fast": "avg",
    "fastavg": "avg",
    "fastmax": "max",
    "fastavgmax": "avgmax",
    "fastcatavgmax": "catavgmax",
}

# NOTE: the padding depends on the input's shape: FX traces keep the call as one node
torch.fx.wrap("pad_same")


def _pool_kind(pool_type: str) -> str:
    kind = (pool_type or "").lower()
    kind = _FAST_TYPES.get(kind, kind)
    if kind not in POOL_TYPES:
        valid = ", ".join(repr(t) for t in (*POOL_TYPES, *_FAST_TYPES))
        raise ValueError(f"unknown global_pool {pool_type!r}; valid: {valid}")
    return kind


def adaptive_avgmax_pool2d(x: torch.Tensor, output_size: int | tuple[int, int] = 1) -> torch.Tensor:
    """The mean of adaptive average and max pooling: ``(B, C, H, W)`` -> ``(B, C, *output_size)``."""
    return 0.5 * (F.adaptive_avg_pool2d(x, output_size) + F.adaptive_max_pool2d(x, output_size))


def adaptive_catavgmax_pool2d(x: torch.Tensor, output_size: int | tuple[int, int] = 1) -> torch.Tensor:
    """Adaptive average and max pooling concatenated: ``(B, C, H, W)`` -> ``(B, 2C, *output_size)``."""
    return torch.cat((F.adaptive_avg_pool2d(x, output_size), F.adaptive_max_pool2d(x, output_size)), 1)


def select_adaptive_pool2d(
    x: torch.Tensor, pool_type: str = "avg", output_size: int | tuple[int, int] = 1
) -> torch.Tensor:
    """Adaptive pooling of the given type (the :class:`SelectAdaptivePool2d` types but ``''``)."""
    kind = _pool_kind(pool_type)
    if kind == "avg":
        return F.adaptive_avg_pool2d(x, output_size)
    if kind == "max":
        return F.adaptive_max_pool2d(x, output_size)
    if kind == "avgmax":
        return adaptive_avgmax_pool2d(x, output_size)
    if kind == "catavgmax":
        return adaptive_catavgmax_pool2d(x, output_size)
    raise ValueError("select_adaptive_pool2d needs a pool type; '' (no pooling) is not one")


class AdaptiveAvgMaxPool2d(nn.Module):
    """Module form of :func:`adaptive_avgmax_pool2d`."""

    def __init__(self, output_size: int | tuple[int, int] = 1) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return adaptive_avgmax_pool2d(x, self.output_size)


class AdaptiveCatAvgMaxPool2d(nn.Module):
    """Module form of :func:`adaptive_catavgmax_pool2d`."""

    def __init__(self, output_size: int | tuple[int, int] = 1) -> None:
        super().__init__()
        self.output_size = output_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return adaptive_catavgmax_pool2d(x, self.output_size)


def adaptive_pool_feat_mult(pool_type: str = "avg") -> int:
    """How many times the channel count the pooled output has (2 for catavgmax)."""
    return 2 if pool_type.endswith("catavgmax") else 1


class SelectAdaptivePool2d(nn.Module):
    """Global pooling of a ``pool_type`` (``''``: pass-through), flattened to ``(B, C)`` with ``flatten``.

    Args:
        output_size: pooled size; other than 1 only for NCHW input and a plain (not ``fast``) type.
        pool_type: ``avg``, ``max``, ``avgmax``, ``catavgmax``, their ``fast`` forms, or ``''``.
        flatten: return ``(B, C)`` instead of a 1x1 map.
        input_fmt: ``NCHW``, or ``NHWC`` for channels-last maps (pooled over dims 1 and 2).
    """

    def __init__(
        self,
        output_size: int | tuple[int, int] = 1,
        pool_type: str = "fast",
        flatten: bool = False,
        input_fmt: str = "NCHW",
    ) -> None:
        super().__init__()
        if isinstance(output_size, str):  # the pre-timm-order call SelectAdaptivePool2d("avg")
            raise TypeError(
                f"SelectAdaptivePool2d(output_size={output_size!r}): the first argument is timm's "
                f"output_size; pass the pool type by name, pool_type={output_size!r}"
            )
        if input_fmt not in ("NCHW", "NHWC"):
            raise ValueError(f"input_fmt={input_fmt!r}; valid: 'NCHW', 'NHWC'")
        self.kind = _pool_kind(pool_type)
        self.pool_type = (pool_type or "").lower()
        self.output_size = to_2tuple(output_size)
        fast = self.pool_type.startswith("fast") or input_fmt != "NCHW"
        if self.kind and fast and self.output_size != (1, 1):
            raise ValueError(
                f"output_size={output_size!r} needs NCHW input and a plain pool type, "
                f"got pool_type={pool_type!r}, input_fmt={input_fmt!r}"
            )
        self.input_fmt = input_fmt
        self.flatten = flatten and bool(self.kind)

    def is_identity(self) -> bool:
        return not self.kind

    def feat_mult(self) -> int:
        return adaptive_pool_feat_mult(self.kind)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        kind = self.kind
        if not kind:
            return x
        nhwc = self.input_fmt == "NHWC"
        dims = (1, 2) if nhwc else (2, 3)
        if self.output_size != (1, 1):  # NCHW only (checked in __init__)
            avg = F.adaptive_avg_pool2d(x, self.output_size) if kind != "max" else x
            mx = F.adaptive_max_pool2d(x, self.output_size) if kind != "avg" else x
        else:
            avg = x.mean(dims, keepdim=True) if kind != "max" else x
            mx = x.amax(dims, keepdim=True) if kind != "avg" else x
        if kind == "avg":
            x = avg
        elif kind == "max":
            x = mx
        else:
            x = torch.cat((avg, mx), 3 if nhwc else 1) if kind == "catavgmax" else 0.5 * (avg + mx)
        return x.flatten(1) if self.flatten else x

    def extra_repr(self) -> str:
        size = "" if self.output_size == (1, 1) else f"output_size={self.output_size}, "
        fmt = "" if self.input_fmt == "NCHW" else f", input_fmt={self.input_fmt!r}"
        return f"{size}pool_type={self.pool_type!r}, flatten={self.flatten}{fmt}"


class AvgPool2dSame(nn.AvgPool2d):
    """Average pool with TF 'same' padding, for dilated downsample paths."""

    def __init__(
        self,
        kernel_size: int,
        stride: int | None = None,
        padding: int | tuple[int, int] | str = 0,
        ceil_mode: bool = False,
        count_include_pad: bool = True,
    ) -> None:
        del padding  # NOTE: timm's signature; the padding is computed per call in forward
        super().__init__(kernel_size, stride, 0, ceil_mode, count_include_pad)
        self.same_kernel = to_2tuple(kernel_size)
        self.same_stride = to_2tuple(kernel_size if stride is None else stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pad_same(x, self.same_kernel, self.same_stride)
        return F.avg_pool2d(x, self.kernel_size, self.stride, 0, self.ceil_mode, self.count_include_pad)


class MaxPool2dSame(nn.MaxPool2d):
    """Max pool with TF 'SAME' padding computed from the input size (padding never wins the max)."""

    def __init__(
        self, kernel_size: int, stride: int | None = None, dilation: int = 1, ceil_mode: bool = False
    ) -> None:
        super().__init__(kernel_size, stride, 0, dilation, ceil_mode=ceil_mode)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pad_same(
            x,
            to_2tuple(self.kernel_size),
            to_2tuple(self.stride),
            to_2tuple(self.dilation),
            value=float("-inf"),
        )
        return F.max_pool2d(x, self.kernel_size, self.stride, 0, self.dilation, self.ceil_mode)


def create_pool2d(pool_type: str, kernel_size: int, stride: int | None = None, **kwargs: Any) -> nn.Module:
    """A ``'max'`` or ``'avg'`` pool; ``padding=`` takes a conv's padding names (``''``, ``'same'``,
    ``'valid'`` or an int), and 'same' that depends on the input size pads per call (the
    ``*Same`` pools). Other keywords go to the pool."""
    if pool_type not in ("avg", "max"):
        raise ValueError(f"pool_type must be 'avg' or 'max', got {pool_type!r}")
    stride = stride or kernel_size
    padding, dynamic = get_padding_value(kwargs.pop("padding", ""), kernel_size, stride=stride)
    if dynamic:
        same: type[nn.Module] = AvgPool2dSame if pool_type == "avg" else MaxPool2dSame
        return same(kernel_size, stride=stride, **kwargs)
    pool: type[nn.Module] = nn.AvgPool2d if pool_type == "avg" else nn.MaxPool2d
    return pool(kernel_size, stride=stride, padding=padding, **kwargs)
