"""Spatial-reduction attention: every token of a ``(B, H * W, C)`` map queries keys and values taken
from a smaller copy of the map, so the cost grows with ``H * W * (H * W) / r**2`` instead of
``(H * W)**2``.

The reduction is a ``sr_ratio``-strided ``sr_ratio x sr_ratio`` conv then a LayerNorm (PVT, Twins'
global sub-sampled attention), or with ``linear`` a fixed-size average pool, a 1x1 conv, a
LayerNorm and a GELU (PVT v2-Li: the cost becomes linear in ``H * W``).

Papers: `Pyramid Vision Transformer` - https://arxiv.org/abs/2102.12122,
`PVT v2` - https://arxiv.org/abs/2106.13797, `Twins` - https://arxiv.org/abs/2104.13840.
State-dict keys ``q``, ``kv``, ``sr``, ``norm``, ``proj`` (the layout of those models' checkpoints).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SpatialReductionAttention"]


class SpatialReductionAttention(nn.Module):
    """Multi-head attention of full-resolution queries over spatially reduced keys / values.

    Args:
        dim: token width.
        num_heads: attention heads (``dim`` must divide by it).
        sr_ratio: the reduction's stride (1: no reduction, plain self-attention; ignored with
            ``linear``).
        linear: reduce to a ``pool_size`` grid whatever the input size.
        pool_size: the grid side of the ``linear`` reduction.
        qkv_bias: bias on the ``q`` and ``kv`` projections.
        attn_drop, proj_drop: dropout on attention weights / the output.
        fused_attn: use ``F.scaled_dot_product_attention``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        *,
        sr_ratio: int = 1,
        linear: bool = False,
        pool_size: int = 7,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        fused_attn: bool = True,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        if sr_ratio < 1:
            raise ValueError(f"sr_ratio={sr_ratio}: the reduction stride must be >= 1")
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.fused_attn = fused_attn
        self.q = nn.Linear(dim, dim, bias=qkv_bias, **dd)
        self.kv = nn.Linear(dim, dim * 2, bias=qkv_bias, **dd)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim, **dd)
        self.proj_drop = nn.Dropout(proj_drop)
        # the reduction: pool (linear only) -> sr -> norm -> act (linear only); none at sr_ratio 1
        self.pool: nn.Module | None = nn.AdaptiveAvgPool2d(pool_size) if linear else None
        self.sr: nn.Module | None = None
        self.norm: nn.Module | None = None
        self.act: nn.Module | None = nn.GELU() if linear else None
        if linear or sr_ratio > 1:
            kernel = 1 if linear else sr_ratio
            self.sr = nn.Conv2d(dim, dim, kernel_size=kernel, stride=kernel, **dd)
            self.norm = nn.LayerNorm(dim, **dd)

    def reduce(self, x: torch.Tensor, feat_size: tuple[int, int]) -> torch.Tensor:
        """The key / value source: tokens ``(B, H * W, C)`` -> ``(B, M, C)`` (``M = H * W`` when
        nothing reduces)."""
        if self.sr is None or self.norm is None:
            return x
        b, _, c = x.shape
        x = x.transpose(1, 2).reshape(b, c, feat_size[0], feat_size[1])
        if self.pool is not None:
            x = self.pool(x)
        x = self.norm(self.sr(x).flatten(2).transpose(1, 2))
        if self.act is not None:
            x = self.act(x)
        return x

    def forward(self, x: torch.Tensor, feat_size: tuple[int, int]) -> torch.Tensor:
        """Tokens ``(B, H * W, C)`` of an ``feat_size = (H, W)`` map -> ``(B, H * W, C)``."""
        b, n, c = x.shape
        q = self.q(x).reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)
        kv = self.kv(self.reduce(x, feat_size))
        kv = kv.reshape(b, -1, 2, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        k, v = kv.unbind(0)
        if self.fused_attn:
            x = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop.p if self.training else 0.0)
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1)
            x = self.attn_drop(attn.softmax(dim=-1)) @ v
        x = x.transpose(1, 2).reshape(b, n, c)
        return self.proj_drop(self.proj(x))
