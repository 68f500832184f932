"""DINOv3's axial rotary position embedding: periods on a centred ``[-1, 1]`` patch grid.

Paper: `DINOv3` - https://arxiv.org/abs/2508.10104. The numerics are timm's (``rope_type='dinov3'``),
so DINOv3, LingBot-Vision and Sapiens2 checkpoints behave the same.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
from torch import nn

from .rope_apply import apply_rot_embed_cat, rope_layout

__all__ = ["RotaryEmbeddingDinoV3", "centered_grid"]


def centered_grid(
    feat_shape: list[int],
    grid_offset: float = 0.0,
    grid_indexing: str = "ij",
    normalize_coords: str = "separate",
) -> torch.Tensor:
    """``(H * W, 2)`` patch-centre coordinates in ``[-1, 1]``: ``(i + 0.5 + offset) / size``
    mapped from ``[0, 1]``; ``size`` is each axis' own (``'separate'``) or the grid's ``'min'`` /
    ``'max'``. ``'xy'`` puts the width coordinate first (rows stay row-major)."""
    if grid_indexing != "ij" and grid_indexing != "xy":
        raise ValueError("grid_indexing must be 'ij' or 'xy', got '" + grid_indexing + "'")
    shape = [feat_shape[1], feat_shape[0]] if grid_indexing == "xy" else [feat_shape[0], feat_shape[1]]
    if normalize_coords == "separate":
        denom = [float(shape[0]), float(shape[1])]
    elif normalize_coords == "min":
        denom = [float(min(shape)), float(min(shape))]
    elif normalize_coords == "max":
        denom = [float(max(shape)), float(max(shape))]
    else:
        raise ValueError(
            "normalize_coords must be 'separate', 'min' or 'max', got '" + normalize_coords + "'"
        )
    t = [(torch.arange(0.5, shape[i], dtype=torch.float32) + grid_offset) / denom[i] for i in range(2)]
    grid = torch.stack(torch.meshgrid(t, indexing=grid_indexing), dim=-1)
    return (2.0 * grid - 1.0).flatten(0, 1)


# One graph node each under FX: the grid follows the input's size, which only a call knows.
torch.fx.wrap("centered_grid")


def _log_uniform(n: int, factor: float) -> torch.Tensor:
    """``n`` scales drawn log-uniformly from ``[1 / factor, factor]``."""
    bound = math.log(factor)
    return torch.empty(n).uniform_(-bound, bound).exp()


class RotaryEmbeddingDinoV3(nn.Module):
    """DINOv3's axial RoPE: periods ``temperature ** (4 i / dim)`` (or geometric between
    ``min_period`` and ``max_period``) over a centred ``[-1, 1]`` grid; :meth:`get_embed` returns
    ``cat([sin, cos], -1)``, ``(H * W, 2 * dim)``, half layout by default.

    In training, ``shift_coords`` (uniform shift per axis), ``jitter_coords`` (log-uniform scale per
    axis) and ``rescale_coords`` (one log-uniform scale) augment the grid, in that order, as DINOv3
    trains; in eval the grid is exact. No state-dict keys (``periods`` is a computed buffer).
    """

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        periods: torch.Tensor  # a non-persistent buffer

    def __init__(
        self,
        dim: int,
        temperature: float | None = 100.0,
        min_period: float | None = None,
        max_period: float | None = None,
        normalize_coords: str = "separate",
        grid_offset: float = 0.0,
        grid_indexing: str = "ij",
        rotate_half: bool = True,
        shift_coords: float | None = None,
        jitter_coords: float | None = None,
        rescale_coords: float | None = None,
    ) -> None:
        super().__init__()
        if dim % 4:
            raise ValueError(f"RotaryEmbeddingDinoV3 dim must be divisible by 4, got {dim}")
        if (min_period is None or max_period is None) and temperature is None:
            raise ValueError(
                "RotaryEmbeddingDinoV3 needs either temperature or both min_period and max_period"
            )
        for name, value, low in (("shift_coords", shift_coords, 0.0), ("jitter_coords", jitter_coords, 1.0)):
            if value is not None and not value >= low:
                raise ValueError(f"{name} must be >= {low}, got {value}")
        if rescale_coords is not None and not rescale_coords >= 1.0:
            raise ValueError(f"rescale_coords must be >= 1.0, got {rescale_coords}")
        self.dim = dim
        self.temperature = temperature
        self.min_period = min_period
        self.max_period = max_period
        self.normalize_coords = normalize_coords
        self.grid_offset = grid_offset
        self.grid_indexing = grid_indexing
        self.rotate_half = rotate_half
        self.shift_coords = shift_coords
        self.jitter_coords = jitter_coords
        self.rescale_coords = rescale_coords
        self.register_buffer("periods", torch.empty(dim // 4, dtype=torch.float32), persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        n = self.dim // 4
        if self.min_period is not None and self.max_period is not None:
            exp = torch.linspace(0, 1, n, dtype=torch.float32)
            periods = self.min_period * (self.max_period / self.min_period) ** exp
        else:
            assert self.temperature is not None  # checked in __init__
            periods = float(self.temperature) ** (
                2.0 * torch.arange(n, dtype=torch.float32) / (self.dim // 2)
            )
        with torch.no_grad():
            self.periods.copy_(periods)

    def _augment(self, coords: torch.Tensor) -> torch.Tensor:
        if self.shift_coords is not None:
            coords = coords + torch.empty(2).uniform_(-self.shift_coords, self.shift_coords)
        if self.jitter_coords is not None:
            coords = coords * _log_uniform(2, self.jitter_coords)
        if self.rescale_coords is not None:
            coords = coords * _log_uniform(1, self.rescale_coords)
        return coords

    def get_embed(self, shape: list[int], dtype: torch.dtype | None = None) -> torch.Tensor:
        """``cat([sin, cos], -1)`` of shape ``(H * W, 2 * dim)`` for an ``(H, W)`` grid."""
        coords = centered_grid(shape, self.grid_offset, self.grid_indexing, self.normalize_coords)
        if self.training:
            coords = self._augment(coords)
        coords = coords.to(device=self.periods.device, dtype=self.periods.dtype)
        angles = (2 * math.pi * coords.unsqueeze(-1) / self.periods).flatten(1)  # (HW, dim // 2)
        emb = torch.cat(
            [rope_layout(angles.sin(), self.rotate_half), rope_layout(angles.cos(), self.rotate_half)], -1
        )
        return emb if dtype is None else emb.to(dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Rotate a channels-first ``(B, dim, *spatial)`` tensor."""
        shape = x.shape
        x_flat = x.flatten(2).transpose(1, 2)
        x_flat = apply_rot_embed_cat(x_flat, self.get_embed(list(shape[2:])), half=self.rotate_half)
        return x_flat.transpose(1, 2).reshape(shape)
