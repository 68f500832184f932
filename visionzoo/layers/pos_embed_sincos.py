"""Axial 2D rotary position embeddings (RoPE) with concatenated sin / cos, as timm builds them.

Paper: `RoFormer: Enhanced Transformer with Rotary Position Embedding` - https://arxiv.org/abs/2104.09864
The 2D (axial) form follows EVA-02 (https://arxiv.org/abs/2303.11331): each spatial axis rotates
its own quarter of the channel pairs. Here :class:`RotaryEmbeddingCat` (inverse-frequency bands
on an index grid, or pixel bands on ``[-1, 1]``: EVA-02, Perception Encoder, the SBB / Naver RoPE
ViTs) and timm's factory :func:`create_rope_embed`, which also builds DINOv3's layout
(:mod:`.pos_embed_dinov3`) and learned per-block frequencies (:mod:`.pos_embed_mixed`); applying
a table is :mod:`.rope_apply`. The numerics are timm's, so a timm checkpoint behaves the same.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from .pos_embed_dinov3 import RotaryEmbeddingDinoV3
from .pos_embed_mixed import RotaryEmbeddingMixed
from .rope_apply import apply_rot_embed, apply_rot_embed_cat, rope_layout, rope_rotate_half, rot

__all__ = [
    "RotaryEmbeddingCat",
    "RotaryEmbeddingDinoV3",
    "RotaryEmbeddingMixed",
    "apply_rot_embed",
    "apply_rot_embed_cat",
    "build_rotary_pos_embed",
    "create_rope_embed",
    "freq_bands",
    "pixel_freq_bands",
    "rope_rotate_half",
    "rot",
]


def freq_bands(
    num_bands: int, temperature: float = 10000.0, step: int = 2, device: torch.device | None = None
) -> torch.Tensor:
    """Inverse-frequency bands ``1 / temperature ** (i / num_bands)``, ``i`` stepping by ``step``."""
    exp = torch.arange(0, num_bands, step, dtype=torch.int64, device=device).to(torch.float32) / num_bands
    return 1.0 / (temperature**exp)


def pixel_freq_bands(
    num_bands: int, max_freq: float = 224.0, linear_bands: bool = True, device: torch.device | None = None
) -> torch.Tensor:
    """Pixel-frequency bands (times pi), linear or log spaced up to ``max_freq / 2``."""
    if linear_bands:
        bands = torch.linspace(1.0, max_freq / 2, num_bands, dtype=torch.float32, device=device)
    else:
        bands = 2 ** torch.linspace(
            0, math.log(max_freq, 2) - 1, num_bands, dtype=torch.float32, device=device
        )
    return bands * torch.pi


def _grid(
    feat_shape: list[int],
    in_pixels: bool,
    ref_feat_shape: list[int] | None,
    grid_offset: float,
    grid_indexing: str,
    device: torch.device | None,
) -> torch.Tensor:
    """``(*feat_shape, 2)`` coordinates: indices (+ offset) or ``[-1, 1]`` in pixel mode, EVA-rescaled
    to ``ref_feat_shape`` (the pretraining grid) when given. (Written for TorchScript too.)"""
    if grid_indexing != "ij" and grid_indexing != "xy":
        raise ValueError("grid_indexing must be 'ij' or 'xy', got '" + grid_indexing + "'")
    shape = list(feat_shape)
    ref: list[int] | None = None if ref_feat_shape is None else list(ref_feat_shape)
    if grid_indexing == "xy":
        shape = [shape[1], shape[0]] + shape[2:]  # noqa: RUF005 (TorchScript has no starred lists)
        if ref is not None:
            ref = [ref[1], ref[0]] + ref[2:]  # noqa: RUF005
    t: list[torch.Tensor] = []
    for i, s in enumerate(shape):
        if in_pixels:
            ti = torch.linspace(-1.0, 1.0, steps=s, device=device, dtype=torch.float32)
        else:
            ti = torch.arange(s, device=device, dtype=torch.int64).to(torch.float32) + grid_offset
        if ref is not None:
            ti = ti / s * ref[i]
        t.append(ti)
    return torch.stack(torch.meshgrid(t, indexing=grid_indexing), dim=-1)


def build_rotary_pos_embed(
    feat_shape: list[int],
    bands: torch.Tensor | None = None,
    dim: int = 64,
    max_res: int = 224,
    temperature: float = 10000.0,
    linear_bands: bool = False,
    in_pixels: bool = True,
    ref_feat_shape: list[int] | None = None,
    grid_offset: float = 0.0,
    grid_indexing: str = "ij",
    rotate_half: bool = False,
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sin and cos tables, each ``(H * W, dim)``, for a ``feat_shape`` grid.

    Args:
        bands: precomputed ``(dim // 4,)`` frequencies; built from the other arguments when None.
        in_pixels: pixel-frequency bands on a ``[-1, 1]`` grid, else inverse-frequency bands
            (``temperature``) on an index grid.
        rotate_half: the half layout (for ``apply_rot_embed(half=True)``) instead of interleaved.
    """
    if bands is None:
        num_bands = dim // 4
        if in_pixels:
            bands = pixel_freq_bands(num_bands, float(max_res), linear_bands=linear_bands, device=device)
        else:
            bands = freq_bands(num_bands, temperature=temperature, step=1, device=device)
    elif device is None:
        device = bands.device
    grid = _grid(feat_shape, in_pixels, ref_feat_shape, grid_offset, grid_indexing, device)
    pos = grid.unsqueeze(-1) * bands  # (*feat_shape, ndim, num_bands)
    sin, cos = pos.sin().to(dtype=dtype), pos.cos().to(dtype=dtype)
    return (
        rope_layout(sin.flatten(-2).flatten(0, -2), rotate_half),
        rope_layout(cos.flatten(-2).flatten(0, -2), rotate_half),
    )


class RotaryEmbeddingCat(nn.Module):
    """Axial RoPE whose :meth:`get_embed` returns ``cat([sin, cos], -1)``, ``(H * W, 2 * dim)``.

    Holds only the frequency bands (a non-persistent buffer, so no state-dict keys); the table is
    built for each requested grid, ``ref_feat_shape`` rescaling it to the pretraining grid.
    ``dim`` is the per-head dimension and must be divisible by 4 (two axes, sin/cos pairs).
    """

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        bands: torch.Tensor  # a non-persistent buffer

    def __init__(
        self,
        dim: int,
        max_res: int = 224,
        temperature: float = 10000,
        in_pixels: bool = True,
        linear_bands: bool = False,
        feat_shape: list[int] | None = None,
        ref_feat_shape: list[int] | None = None,
        grid_offset: float = 0.0,
        grid_indexing: str = "ij",
        rotate_half: bool = False,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if dim % 4:
            raise ValueError(f"RotaryEmbeddingCat dim must be divisible by 4, got {dim}")
        if feat_shape is not None:
            raise ValueError(
                f"RotaryEmbeddingCat: a fixed feat_shape cache ({feat_shape}) is not supported; "
                "pass shapes to get_embed"
            )
        self.dim = dim
        self.max_res = max_res
        self.temperature = temperature
        self.in_pixels = in_pixels
        self.linear_bands = linear_bands
        self.feat_shape = feat_shape
        self.ref_feat_shape = list(ref_feat_shape) if ref_feat_shape is not None else None
        self.grid_offset = grid_offset
        self.grid_indexing = grid_indexing
        self.rotate_half = rotate_half
        self.register_buffer(
            "bands", torch.empty(dim // 4, device=device, dtype=torch.float32), persistent=False
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # computed on CPU then copied, as timm does, so the bands are bit-identical
        if self.in_pixels:
            bands = pixel_freq_bands(self.dim // 4, float(self.max_res), linear_bands=self.linear_bands)
        else:
            bands = freq_bands(self.dim // 4, temperature=float(self.temperature), step=1)
        with torch.no_grad():
            self.bands.copy_(bands)

    def get_embed(self, shape: list[int], dtype: torch.dtype | None = None) -> torch.Tensor:
        """``cat([sin, cos], -1)`` of shape ``(H * W, 2 * dim)`` for an ``(H, W)`` grid."""
        sin, cos = build_rotary_pos_embed(
            list(shape),
            bands=self.bands,
            in_pixels=self.in_pixels,
            ref_feat_shape=self.ref_feat_shape,
            grid_offset=self.grid_offset,
            grid_indexing=self.grid_indexing,
            rotate_half=self.rotate_half,
            dtype=torch.float32 if dtype is None else dtype,
        )
        return torch.cat([sin, cos], -1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Rotate a channels-first ``(B, dim, *spatial)`` tensor."""
        shape = x.shape
        x_flat = x.flatten(2).transpose(1, 2)
        x_flat = apply_rot_embed_cat(x_flat, self.get_embed(list(shape[2:])), half=self.rotate_half)
        return x_flat.transpose(1, 2).reshape(shape)


def create_rope_embed(
    rope_type: str = "cat", dim: int = 768, num_heads: int = 12, **kwargs: Any
) -> nn.Module:
    """timm's RoPE factory over the model width ``dim``: ``'cat'`` (:class:`RotaryEmbeddingCat`)
    and ``'dinov3'`` (:class:`RotaryEmbeddingDinoV3`) over the head width ``dim // num_heads``,
    ``'mixed'`` (:class:`RotaryEmbeddingMixed`: learned frequencies per block and head, needs
    ``depth``)."""
    if rope_type == "cat":
        return RotaryEmbeddingCat(dim=dim // num_heads, **kwargs)
    if rope_type == "dinov3":
        return RotaryEmbeddingDinoV3(dim=dim // num_heads, **kwargs)
    if rope_type == "mixed":
        return RotaryEmbeddingMixed(dim=dim, num_heads=num_heads, **kwargs)
    raise ValueError(f"rope_type={rope_type!r}; valid: 'cat', 'dinov3', 'mixed'")
