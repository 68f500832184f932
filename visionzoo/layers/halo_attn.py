"""Halo attention: blocked local self-attention, each block of queries attending to itself plus
a ``halo`` of neighbouring pixels, with relative position logits.

Paper: `Scaling Local Self-Attention for Parameter Efficient Visual Backbones` -
https://arxiv.org/abs/2103.12731

Module names follow timm's, so its checkpoints load.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .helpers import make_divisible
from .pos_embed_rel import PosEmbedRel, rel_logits_1d
from .weight_init import trunc_normal_

__all__ = ["HaloAttn", "PosEmbedRel", "rel_logits_1d"]  # the last two at timm's path too


class HaloAttn(nn.Module):
    """Queries in ``block_size`` squares attend to the ``block_size + 2 * halo_size`` window
    around their block (zero-padded at the border); H and W must be multiples of the block.

    Widths as :class:`~visionzoo.layers.BottleneckAttn`. ``stride`` 2 takes strided queries
    (a smaller output block), or average-pools the output where ``avg_down`` or the block does
    not divide by the stride. ``feat_size`` is accepted for a common signature and unused.
    """

    def __init__(
        self,
        dim: int,
        dim_out: int | None = None,
        feat_size: tuple[int, int] | None = None,
        stride: int = 1,
        num_heads: int = 8,
        dim_head: int | None = None,
        block_size: int = 8,
        halo_size: int = 3,
        qk_ratio: float = 1.0,
        qkv_bias: bool = False,
        avg_down: bool = False,
        scale_pos_embed: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dim_out = dim_out or dim
        if dim_out % num_heads:
            raise ValueError(f"dim_out {dim_out} does not split into {num_heads} heads")
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        self.num_heads = num_heads
        self.dim_head_qk = dim_head or make_divisible(dim_out * qk_ratio, divisor=8) // num_heads
        self.dim_head_v = dim_out // num_heads
        self.dim_out_qk = num_heads * self.dim_head_qk
        self.dim_out_v = num_heads * self.dim_head_v
        self.scale = self.dim_head_qk**-0.5
        self.scale_pos_embed = scale_pos_embed
        self.block_size = self.block_size_ds = block_size
        self.halo_size = halo_size
        self.win_size = block_size + halo_size * 2
        self.block_stride = 1
        pool_out = False
        if stride > 1:
            pool_out = avg_down or block_size % stride != 0
            self.block_stride = 1 if pool_out else stride
            self.block_size_ds = block_size // self.block_stride
        dd: dict[str, Any] = dict(device=device, dtype=dtype)
        self.q = nn.Conv2d(dim, self.dim_out_qk, 1, stride=self.block_stride, bias=qkv_bias, **dd)
        self.kv = nn.Conv2d(dim, self.dim_out_qk + self.dim_out_v, 1, bias=qkv_bias, **dd)
        self.pos_embed = PosEmbedRel(
            self.block_size_ds, dim_head=self.dim_head_qk, scale=self.scale, win_size=self.win_size, **dd
        )
        self.pool = nn.AvgPool2d(2, 2) if pool_out else nn.Identity()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        std = self.q.weight.shape[1] ** -0.5  # fan-in
        trunc_normal_(self.q.weight, std=std)
        trunc_normal_(self.kv.weight, std=std)
        trunc_normal_(self.pos_embed.height_rel, std=self.scale)
        trunc_normal_(self.pos_embed.width_rel, std=self.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        bs, bs_ds, win = self.block_size, self.block_size_ds, self.win_size
        torch._assert(h % bs == 0, "H must be a multiple of block_size")
        torch._assert(w % bs == 0, "W must be a multiple of block_size")
        nh, nw = h // bs, w // bs
        heads, d_qk, d_v = b * self.num_heads, self.dim_head_qk, self.dim_head_v
        # queries: (B*heads, blocks, bs_ds^2, d), each block's pixels row-major
        q = self.q(x).reshape(heads, d_qk, nh, bs_ds, nw, bs_ds).permute(0, 2, 4, 3, 5, 1)
        q = q.reshape(heads, nh * nw, bs_ds * bs_ds, d_qk)
        # keys / values: each block's window, (B*heads, blocks, win^2, d)
        kv = F.pad(self.kv(x), [self.halo_size] * 4)
        kv = kv.unfold(2, win, bs).unfold(3, win, bs)  # (B, C, nh, nw, win, win)
        kv = kv.reshape(heads, d_qk + d_v, nh * nw, win * win).permute(0, 2, 3, 1)
        k, v = kv.split([d_qk, d_v], dim=-1)
        pos = self.pos_embed(q.reshape(-1, bs_ds * bs_ds, d_qk)).reshape(heads, nh * nw, bs_ds * bs_ds, -1)
        if self.scale_pos_embed:
            attn = (q @ k.transpose(-1, -2) + pos) * self.scale
        else:
            attn = (q @ k.transpose(-1, -2)) * self.scale + pos
        out = attn.softmax(dim=-1) @ v  # (B*heads, blocks, bs_ds^2, d_v)
        out = out.reshape(b, self.num_heads, nh, nw, bs_ds, bs_ds, d_v).permute(0, 1, 6, 2, 4, 3, 5)
        out = out.reshape(b, self.dim_out_v, nh * bs_ds, nw * bs_ds)
        return self.pool(out)
