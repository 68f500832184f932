"""Small arithmetic helpers shared by layers and families."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

__all__ = [
    "extend_tuple",
    "get_device_dtype",
    "get_padding",
    "get_same_padding",
    "make_divisible",
    "to_2tuple",
    "to_3tuple",
    "to_4tuple",
    "to_ntuple",
]


def get_device_dtype(
    module: torch.nn.Module, device: torch.device | str | None = None, dtype: torch.dtype | None = None
) -> dict[str, Any]:
    """``{'device': ..., 'dtype': ...}`` for layers built later inside ``module`` (a reset head):
    explicit values win, missing ones come from the module's first parameter (None without one)."""
    first = next(module.parameters(), None)
    if first is not None:
        device = first.device if device is None else device
        dtype = first.dtype if dtype is None else dtype
    return {"device": device, "dtype": dtype}


def get_padding(kernel_size: int, stride: int = 1, dilation: int = 1, **_: Any) -> int:
    """Symmetric padding that keeps ``ceil(H / stride)`` outputs for odd kernels."""
    return ((stride - 1) + dilation * (kernel_size - 1)) // 2


def make_divisible(v: float, divisor: int = 8, min_value: int | None = None, round_limit: float = 0.9) -> int:
    """Round ``v`` to a multiple of ``divisor`` without going below ``round_limit * v``."""
    value = v  # NOTE: timm's parameter name, which callers pass by keyword
    min_value = min_value or divisor
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < round_limit * value:
        new_value += divisor
    return new_value


def to_2tuple(x: int | tuple[int, int]) -> tuple[int, int]:
    return tuple(x) if isinstance(x, (tuple, list)) else (x, x)  # type: ignore[return-value]


def to_ntuple(n: int) -> Callable[[Any], tuple[Any, ...]]:
    """A function that repeats a scalar ``n`` times and passes an iterable (not a str) through as a tuple."""

    def parse(x: Any) -> tuple[Any, ...]:
        if isinstance(x, Iterable) and not isinstance(x, str):
            return tuple(x)
        return (x,) * n

    return parse


to_3tuple = to_ntuple(3)
to_4tuple = to_ntuple(4)


def extend_tuple(x: Any, n: int) -> tuple[Any, ...]:
    """``x`` as a tuple of length ``n``, its last value repeated (a scalar fills all ``n``)."""
    values = tuple(x) if isinstance(x, (tuple, list)) else (x,)
    if not values:
        raise ValueError("extend_tuple needs at least one value")
    if len(values) > n:
        raise ValueError(f"extend_tuple: {len(values)} values do not fit in {n}")
    return values + (values[-1],) * (n - len(values))


def is_static_pad(kernel_size: int, stride: int = 1, dilation: int = 1) -> bool:
    """Whether TF 'same' padding equals a fixed symmetric padding for any input size."""
    return stride == 1 and (dilation * (kernel_size - 1)) % 2 == 0


def same_pad_amount(size: int, kernel_size: int, stride: int, dilation: int = 1) -> int:
    """Total padding TF 'same' needs along one axis of length ``size``.

    TF's ``max((ceil(size / stride) - 1) * stride + span - size, 0)`` (``span``: the dilated
    kernel), written as ``span - stride + (-size) % stride``, with the ``max`` only where
    ``span < stride`` can make it negative: for a symbolic size (an export with a dynamic image
    size) the ceil/max form nests, layer after layer, into expressions the exporter took minutes
    to reason about (tf_efficientnet_b0: 400 s, against 26 s in this form).
    """
    span = (kernel_size - 1) * dilation + 1
    total = span - stride + (-size) % stride
    if span >= stride:
        return total
    return max(total, 0) if isinstance(size, int) else torch.sym_max(total, 0)


def get_same_padding(x: int, kernel_size: int, stride: int, dilation: int = 1) -> int:
    """timm's name for :func:`same_pad_amount`."""
    return same_pad_amount(x, kernel_size, stride, dilation)
