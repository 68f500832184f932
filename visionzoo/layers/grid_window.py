"""Block and grid partitions of a channels-last map for multi-axis attention (MaxViT).

Block attention cuts ``(B, H, W, C)`` into contiguous ``(gh, gw)`` windows
(:func:`~visionzoo.layers.window.window_partition`, the same computation); grid attention takes a
``(gh, gw)`` grid of pixels spaced ``(H / gh, W / gw)`` apart, so each group sees the whole map
sparsely (a dilated window). Both put the groups on the batch and back.

Paper: `MaxViT: Multi-Axis Vision Transformer` - https://arxiv.org/abs/2204.01697
"""

from __future__ import annotations

import torch

from ._fx import register_notrace_function
from .window import window_partition, window_unpartition

__all__ = ["block_partition", "block_unpartition", "grid_partition", "grid_unpartition"]


def block_partition(x: torch.Tensor, window_size: tuple[int, int]) -> torch.Tensor:
    """``(B, H, W, C)`` -> ``(B * H/wh * W/ww, wh, ww, C)``: contiguous windows (row-major)."""
    return window_partition(x, window_size)


@register_notrace_function  # NOTE: traced as one node: the map size is read off the input
def block_unpartition(
    windows: torch.Tensor, window_size: tuple[int, int], hw: tuple[int, int]
) -> torch.Tensor:
    """The inverse of :func:`block_partition` for ``hw``-sized maps."""
    return window_unpartition(windows, window_size, hw)


def grid_partition(x: torch.Tensor, grid_size: tuple[int, int]) -> torch.Tensor:
    """``(B, H, W, C)`` -> ``(B * H/gh * W/gw, gh, gw, C)``.

    Group ``(b, i, j)`` (row-major over ``i < H/gh``, ``j < W/gw``) holds the pixels
    ``x[b, i + p * H/gh, j + q * W/gw]`` at its ``(p, q)``. ``H`` and ``W`` must be multiples of
    the grid.
    """
    b, h, w, c = x.shape
    gh, gw = grid_size
    x = x.view(b, gh, h // gh, gw, w // gw, c).permute(0, 2, 4, 1, 3, 5)
    return x.reshape(-1, gh, gw, c)


@register_notrace_function  # NOTE: traced as one node: the map size is read off the input
def grid_unpartition(windows: torch.Tensor, grid_size: tuple[int, int], hw: tuple[int, int]) -> torch.Tensor:
    """The inverse of :func:`grid_partition`: groups ``(B * n, gh, gw, C)`` of ``hw``-sized maps
    -> ``(B, H, W, C)``."""
    h, w = hw
    gh, gw = grid_size
    b = windows.shape[0] // ((h // gh) * (w // gw))
    x = windows.view(b, h // gh, w // gw, gh, gw, -1).permute(0, 3, 1, 4, 2, 5)
    return x.reshape(b, h, w, -1)
