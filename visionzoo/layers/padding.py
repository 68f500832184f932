"""TensorFlow "same" padding: the padding amount depends on the input size when a conv strides.

Static where the kernel/stride allow (a fixed symmetric pad equals TF's for any input size), else
dynamic: the pad is computed from the input in ``forward`` (and stays valid when exported at a
fixed input size, where it becomes a constant ``Pad``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from .helpers import get_padding, get_same_padding, is_static_pad, same_pad_amount

# the helpers' padding rules are re-exported at timm's path too (timm.layers.padding)
__all__ = ["get_padding", "get_padding_value", "get_same_padding", "is_static_pad", "pad_same"]


def pad_same(
    x: torch.Tensor,
    kernel_size: tuple[int, int],
    stride: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
    value: float = 0,
) -> torch.Tensor:
    """Pad ``x`` (NCHW) as TF 'SAME' does: the odd pixel goes to the bottom/right.

    FX-wrapped where it is called (the amounts depend on the input's shape), so traces keep it as
    one node.
    """
    ph = same_pad_amount(x.shape[-2], kernel_size[0], stride[0], dilation[0])
    pw = same_pad_amount(x.shape[-1], kernel_size[1], stride[1], dilation[1])
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2), value=value)


def get_padding_value(
    padding: str | int, kernel_size: int, *, stride: int = 1, dilation: int = 1
) -> tuple[int, bool]:
    """``(static padding, needs dynamic same padding)`` for ``''``, ``'same'``, ``'valid'`` or an int."""
    if not isinstance(padding, str):
        return padding, False
    mode = padding.lower()
    if mode == "same":
        if is_static_pad(kernel_size, stride, dilation):
            return get_padding(kernel_size, stride, dilation), False
        return 0, True
    if mode == "valid":
        return 0, False
    if mode:
        raise ValueError(f"unknown padding {padding!r}; valid: '', 'same', 'valid' or an int")
    return get_padding(kernel_size, stride, dilation), False
