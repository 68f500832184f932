"""Attention over the pixels of an NCHW map: multi-query (MobileNetV4) and multi-head.

Paper: `MobileNetV4 - Universal Models for the Mobile Ecosystem` - https://arxiv.org/abs/2404.10518
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .activations import LayerType
from .conv_bn_act import create_conv2d
from .helpers import to_2tuple

__all__ = ["Attention2d", "MultiQueryAttention2d"]


class MultiQueryAttention2d(nn.Module):
    """Multi-query attention: ``num_heads`` query heads share one key and one value head.

    Keys and values may be downsampled by a strided depthwise conv (``kv_stride``) and queries
    by average pooling (``query_strides``, output upsampled back). Projections are 1x1 convs,
    grouped as ``query`` / ``key`` / ``value`` / ``output`` (checkpoint layout).
    """

    def __init__(
        self,
        dim: int,
        dim_out: int | None = None,
        *,
        num_heads: int = 8,
        key_dim: int | None = None,
        value_dim: int | None = None,
        query_strides: int | tuple[int, int] = 1,
        kv_stride: int = 1,
        dw_kernel_size: int = 3,
        dilation: int = 1,
        padding: str | int = "",
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        norm_layer: LayerType = nn.BatchNorm2d,
        use_bias: bool = False,
    ) -> None:
        super().__init__()
        dim_out = dim_out or dim
        self.num_heads = num_heads
        self.key_dim = key_dim or dim // num_heads
        self.value_dim = value_dim or dim // num_heads
        self.query_strides = to_2tuple(query_strides)
        self.kv_stride = kv_stride
        self.scale = self.key_dim**-0.5
        self.attn_drop = attn_drop
        has_query_strides = any(s > 1 for s in self.query_strides)

        self.query = nn.Sequential()
        if has_query_strides:
            self.query.add_module("down_pool", nn.AvgPool2d(kernel_size=self.query_strides))
            self.query.add_module("norm", norm_layer(dim))  # type: ignore[operator]
        self.query.add_module("proj", nn.Conv2d(dim, num_heads * self.key_dim, 1, bias=use_bias))
        self.key = self._kv_branch(dim, self.key_dim, dw_kernel_size, dilation, padding, norm_layer, use_bias)
        self.value = self._kv_branch(
            dim, self.value_dim, dw_kernel_size, dilation, padding, norm_layer, use_bias
        )
        self.output = nn.Sequential()
        if has_query_strides:
            upsample = nn.Upsample(scale_factor=self.query_strides, mode="bilinear", align_corners=False)
            self.output.add_module("upsample", upsample)
        self.output.add_module("proj", nn.Conv2d(self.value_dim * num_heads, dim_out, 1, bias=use_bias))
        self.output.add_module("drop", nn.Dropout(proj_drop))
        self.reset_parameters()

    def _kv_branch(
        self,
        dim: int,
        out_dim: int,
        kernel_size: int,
        dilation: int,
        padding: str | int,
        norm_layer: LayerType,
        bias: bool,
    ) -> nn.Sequential:
        branch = nn.Sequential()
        if self.kv_stride > 1:
            down = create_conv2d(
                dim,
                dim,
                kernel_size,
                stride=self.kv_stride,
                dilation=dilation,
                padding=padding,
                depthwise=True,
            )
            branch.add_module("down_conv", down)
            branch.add_module("norm", norm_layer(dim))  # type: ignore[operator]
        branch.add_module("proj", create_conv2d(dim, out_dim, 1, padding=padding, bias=bias))
        return branch

    def reset_parameters(self) -> None:
        for branch in (self.query, self.key, self.value, self.output):
            for m in branch.modules():
                if isinstance(m, nn.Conv2d):
                    nn.init.xavier_uniform_(m.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        q = self.query(x)
        q = q.reshape(b, self.num_heads, self.key_dim, -1).transpose(-1, -2)  # B, heads, N, kd
        k = self.key(x).flatten(2).transpose(1, 2).unsqueeze(1)  # B, 1, M, kd (shared by all heads)
        v = self.value(x).flatten(2).transpose(1, 2).unsqueeze(1)
        o = F.scaled_dot_product_attention(
            q.contiguous(), k.contiguous(), v.contiguous(), dropout_p=self.attn_drop if self.training else 0.0
        )
        qh, qw = h // self.query_strides[0], w // self.query_strides[1]
        o = o.transpose(1, 2).reshape(b, qh, qw, -1).permute(0, 3, 1, 2)
        return self.output(o)


class Attention2d(nn.Module):
    """Multi-head self-attention over pixels, with 1x1-conv ``qkv`` and ``proj``."""

    def __init__(
        self,
        dim: int,
        dim_out: int | None = None,
        *,
        num_heads: int = 32,
        bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        dim_out = dim_out or dim
        self.num_heads = num_heads
        self.dim_head = dim // num_heads
        self.attn_drop = attn_drop
        self.qkv = nn.Conv2d(dim, dim * 3, 1, bias=bias)
        self.proj = nn.Conv2d(dim, dim_out, 1, bias=bias)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        q, k, v = self.qkv(x).reshape(b, 3, self.num_heads, self.dim_head, -1).unbind(1)
        o = F.scaled_dot_product_attention(
            q.transpose(-1, -2).contiguous(),
            k.transpose(-1, -2).contiguous(),
            v.transpose(-1, -2).contiguous(),
            dropout_p=self.attn_drop if self.training else 0.0,
        )
        return self.proj_drop(self.proj(o.transpose(-1, -2).reshape(b, -1, h, w)))
