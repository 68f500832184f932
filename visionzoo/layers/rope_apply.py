"""Applying a rotary position embedding: rotate each channel pair of ``x`` by its angle, given
the sin / cos tables (or both concatenated) in the interleaved (``[f0, f0, f1, f1, ..]``) or
half (``[f0, f1, .., f0, f1, ..]``) layout.

Paper: `RoFormer: Enhanced Transformer with Rotary Position Embedding` - https://arxiv.org/abs/2104.09864
"""

from __future__ import annotations

import torch

__all__ = ["apply_rot_embed", "apply_rot_embed_cat", "rope_layout", "rope_rotate_half", "rot"]


def rope_layout(x: torch.Tensor, rotate_half: bool) -> torch.Tensor:
    """Per-frequency values ``(..., D / 2)`` -> ``(..., D)``: half layout ``[f0, f1, .., f0, f1, ..]``
    or interleaved ``[f0, f0, f1, f1, ..]``."""
    return torch.cat([x, x], dim=-1) if rotate_half else x.repeat_interleave(2, -1)


def rot(x: torch.Tensor) -> torch.Tensor:
    """``[x0, x1, x2, x3]`` -> ``[-x1, x0, -x3, x2]`` (the interleaved-pair rotation)."""
    return torch.stack([-x[..., 1::2], x[..., ::2]], -1).reshape(x.shape)


def rope_rotate_half(x: torch.Tensor) -> torch.Tensor:
    """``[x0, x1, x2, x3]`` -> ``[-x2, -x3, x0, x1]`` (the half-split rotation)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rot_embed(
    x: torch.Tensor, sin_emb: torch.Tensor, cos_emb: torch.Tensor, half: bool = False
) -> torch.Tensor:
    """Rotate ``x (..., D)`` by the sin / cos tables; the result is in ``x``'s dtype."""
    out = x * cos_emb + (rope_rotate_half(x) if half else rot(x)) * sin_emb
    return out.to(dtype=x.dtype)


def apply_rot_embed_cat(x: torch.Tensor, emb: torch.Tensor, half: bool = False) -> torch.Tensor:
    """:func:`apply_rot_embed` with ``emb = cat([sin, cos], -1)``."""
    sin_emb, cos_emb = emb.chunk(2, -1)
    return apply_rot_embed(x, sin_emb, cos_emb, half=half)
