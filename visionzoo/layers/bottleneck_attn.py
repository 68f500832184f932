"""Bottleneck self-attention: multi-head attention over a whole (fixed-size) feature map with
relative position logits, the 3x3 conv replacement of Bottleneck Transformers.

Paper: `Bottleneck Transformers for Visual Recognition` - https://arxiv.org/abs/2101.11605

Module names follow timm's, so its checkpoints load.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .helpers import make_divisible, to_2tuple
from .pos_embed_rel import PosEmbedRel, rel_logits_1d
from .weight_init import trunc_normal_

__all__ = ["BottleneckAttn", "PosEmbedRel", "rel_logits_1d"]  # the last two at timm's path too


class BottleneckAttn(nn.Module):
    """Every position attends to every position of a ``feat_size`` map (the size is fixed: the
    relative position table spans it).

    Widths: the output (and value) width is ``dim_out`` (default ``dim``), split over
    ``num_heads``; query / key heads are ``dim_head`` wide, or ``dim_out * qk_ratio / num_heads``
    (rounded to 8 over all heads). ``stride`` 2 average-pools the output.
    ``scale_pos_embed`` scales the position logits with the content ones.
    """

    def __init__(
        self,
        dim: int,
        dim_out: int | None = None,
        feat_size: int | tuple[int, int] | None = None,
        stride: int = 1,
        num_heads: int = 4,
        dim_head: int | None = None,
        qk_ratio: float = 1.0,
        qkv_bias: bool = False,
        scale_pos_embed: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if feat_size is None:
            raise ValueError("BottleneckAttn needs feat_size, the (H, W) of its input")
        dim_out = dim_out or dim
        if dim_out % num_heads:
            raise ValueError(f"dim_out {dim_out} does not split into {num_heads} heads")
        self.num_heads = num_heads
        self.dim_head_qk = dim_head or make_divisible(dim_out * qk_ratio, divisor=8) // num_heads
        self.dim_head_v = dim_out // num_heads
        self.dim_out_qk = num_heads * self.dim_head_qk
        self.dim_out_v = num_heads * self.dim_head_v
        self.scale = self.dim_head_qk**-0.5
        self.scale_pos_embed = scale_pos_embed
        self.feat_size = to_2tuple(feat_size)
        dd: dict[str, Any] = dict(device=device, dtype=dtype)
        self.qkv = nn.Conv2d(dim, self.dim_out_qk * 2 + self.dim_out_v, 1, bias=qkv_bias, **dd)
        self.pos_embed = PosEmbedRel(self.feat_size, dim_head=self.dim_head_qk, scale=self.scale, **dd)
        self.pool = nn.AvgPool2d(2, 2) if stride == 2 else nn.Identity()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        trunc_normal_(self.qkv.weight, std=self.qkv.weight.shape[1] ** -0.5)  # fan-in
        trunc_normal_(self.pos_embed.height_rel, std=self.scale)
        trunc_normal_(self.pos_embed.width_rel, std=self.scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        torch._assert(h == self.feat_size[0], "input height differs from feat_size")
        torch._assert(w == self.feat_size[1], "input width differs from feat_size")
        q, k, v = self.qkv(x).split([self.dim_out_qk, self.dim_out_qk, self.dim_out_v], dim=1)
        q = q.reshape(b * self.num_heads, self.dim_head_qk, -1).transpose(-1, -2)  # (BH, HW, d)
        k = k.reshape(b * self.num_heads, self.dim_head_qk, -1)  # (BH, d, HW)
        v = v.reshape(b * self.num_heads, self.dim_head_v, -1).transpose(-1, -2)
        if self.scale_pos_embed:
            attn = (q @ k + self.pos_embed(q)) * self.scale
        else:
            attn = (q @ k) * self.scale + self.pos_embed(q)
        out = (attn.softmax(dim=-1) @ v).transpose(-1, -2).reshape(b, self.dim_out_v, h, w)
        return self.pool(out)
