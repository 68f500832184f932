"""Tensor layout names (``NCHW``, ``NHWC``, ``NCL``, ``NLC``) and where their axes are."""

from __future__ import annotations

from enum import Enum

import torch

__all__ = ["Format", "get_channel_dim", "get_spatial_dim", "nchw_to", "nhwc_to"]


class Format(str, Enum):
    """A layout; compares equal to its name (``Format.NCHW == "NCHW"``)."""

    NCHW = "NCHW"
    NHWC = "NHWC"
    NCL = "NCL"
    NLC = "NLC"


def _format(fmt: Format | str) -> Format:
    try:
        return Format(fmt)
    except ValueError:
        raise ValueError(f"unknown format {fmt!r}; valid: {', '.join(f.value for f in Format)}") from None


_SPATIAL = {Format.NCHW: (2, 3), Format.NHWC: (1, 2), Format.NCL: (2,), Format.NLC: (1,)}
_CHANNEL = {Format.NCHW: 1, Format.NHWC: 3, Format.NCL: 1, Format.NLC: 2}


def get_spatial_dim(fmt: Format | str) -> tuple[int, ...]:
    """The spatial (or sequence) axes of ``fmt``: ``(2, 3)`` for NCHW."""
    return _SPATIAL[_format(fmt)]


def get_channel_dim(fmt: Format | str) -> int:
    """The channel axis of ``fmt``: 1 for NCHW."""
    return _CHANNEL[_format(fmt)]


def nchw_to(x: torch.Tensor, fmt: Format | str) -> torch.Tensor:
    """``(B, C, H, W)`` in layout ``fmt`` (NLC/NCL flatten H and W)."""
    fmt = _format(fmt)
    if fmt == Format.NHWC:
        return x.permute(0, 2, 3, 1)
    if fmt == Format.NLC:
        return x.flatten(2).transpose(1, 2)
    if fmt == Format.NCL:
        return x.flatten(2)
    return x


def nhwc_to(x: torch.Tensor, fmt: Format | str) -> torch.Tensor:
    """``(B, H, W, C)`` in layout ``fmt`` (NLC/NCL flatten H and W)."""
    fmt = _format(fmt)
    if fmt == Format.NCHW:
        return x.permute(0, 3, 1, 2)
    if fmt == Format.NLC:
        return x.flatten(1, 2)
    if fmt == Format.NCL:
        return x.flatten(1, 2).transpose(1, 2)
    return x
