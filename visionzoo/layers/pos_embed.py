"""Absolute position embeddings on a different token grid: resample the grid, keep prefix tokens."""

from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F

__all__ = ["resample_abs_pos_embed"]

_logger = logging.getLogger(__name__)


def resample_abs_pos_embed(
    posemb: torch.Tensor,
    new_size: list[int],
    old_size: list[int] | None = None,
    num_prefix_tokens: int = 1,
    interpolation: str = "bicubic",
    antialias: bool = True,
    verbose: bool = False,
    align_corners: bool | None = None,
) -> torch.Tensor:
    """Resample ``(1, prefix + H * W, D)`` position embeddings to an ``new_size`` grid.

    Args:
        posemb: the embeddings; the first ``num_prefix_tokens`` (class / register tokens) are
            copied unchanged.
        new_size: target grid ``(H', W')`` (a list for TorchScript; eager callers may pass a tuple).
        old_size: source grid; None assumes a square one.
        num_prefix_tokens: leading tokens that are not on the grid.
        verbose: log the resize at INFO level (timm's switch).
        align_corners: ``F.interpolate``'s (None: its default), for checkpoints whose own code
            resized that way (some RADIO releases).

    Returns:
        ``(1, prefix + H' * W', D)`` in the input's dtype.
    """
    num_tokens = posemb.shape[1]
    if old_size is None:
        side = int(math.sqrt(num_tokens - num_prefix_tokens))
        old = (side, side)
    else:
        old = (int(old_size[0]), int(old_size[1]))
    new = (int(new_size[0]), int(new_size[1]))
    if old[0] * old[1] + num_prefix_tokens != num_tokens:
        raise ValueError(
            f"position embedding has {num_tokens} tokens, not {num_prefix_tokens} prefix + grid {old}"
        )
    if old == new:
        return posemb
    prefix, grid = posemb[:, :num_prefix_tokens], posemb[:, num_prefix_tokens:]
    dim = grid.shape[-1]
    grid = grid.float().reshape(1, old[0], old[1], dim).permute(0, 3, 1, 2)
    grid = F.interpolate(
        grid, size=[new[0], new[1]], mode=interpolation, antialias=antialias, align_corners=align_corners
    )
    grid = grid.permute(0, 2, 3, 1).reshape(1, new[0] * new[1], dim).to(posemb.dtype)
    if not torch.jit.is_scripting() and verbose:
        _logger.info(f"Resized position embedding: {old} to {new}.")
    return torch.cat([prefix, grid], dim=1) if num_prefix_tokens else grid
