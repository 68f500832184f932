"""Non-overlapping windows of a channels-last map: cut ``(B, H, W, C)`` into windows stacked on the
batch, and put them back (windowed attention: SAM 2's HieraDet, Swin- and ViTDet-style blocks)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["pad_to_windows", "window_partition", "window_unpartition"]


def window_partition(x: torch.Tensor, window_size: tuple[int, int]) -> torch.Tensor:
    """``(B, H, W, C)`` -> ``(B * H/wh * W/ww, wh, ww, C)``, windows in row-major order per image.

    ``H`` and ``W`` must be multiples of the window (see :func:`pad_to_windows`).
    """
    b, h, w, c = x.shape
    wh, ww = window_size
    x = x.view(b, h // wh, wh, w // ww, ww, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, wh, ww, c)


def window_unpartition(
    windows: torch.Tensor, window_size: tuple[int, int], hw: tuple[int, int]
) -> torch.Tensor:
    """The inverse of :func:`window_partition`: windows ``(B * n, wh, ww, C)`` of ``hw``-sized
    maps -> ``(B, H, W, C)``."""
    h, w = hw
    wh, ww = window_size
    b = windows.shape[0] // ((h // wh) * (w // ww))
    x = windows.view(b, h // wh, w // ww, wh, ww, -1).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h, w, -1)


def pad_to_windows(x: torch.Tensor, window_size: tuple[int, int]) -> tuple[torch.Tensor, tuple[int, int]]:
    """Zero-pad ``(B, H, W, C)`` at the bottom / right to multiples of the window.

    Returns:
        The padded map and its ``(Hp, Wp)``.
    """
    h, w = x.shape[1], x.shape[2]
    pad_h = (window_size[0] - h % window_size[0]) % window_size[0]
    pad_w = (window_size[1] - w % window_size[1]) % window_size[1]
    # NOTE: padded unconditionally (a no-op pad where none is needed) so that FX can trace it
    return F.pad(x, (0, 0, 0, pad_w, 0, pad_h)), (h + pad_h, w + pad_w)
