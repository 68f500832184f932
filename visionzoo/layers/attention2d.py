"""Attention over the pixels of an NCHW map: multi-query (MobileNetV4) and multi-head.

Paper: `MobileNetV4 - Universal Models for the Mobile Ecosystem` - https://arxiv.org/abs/2404.10518
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .activations import LayerType
from .attention import _add_mask
from .conv_bn_act import create_conv2d
from .helpers import to_2tuple

__all__ = ["Attention2d", "MultiQueryAttention2d", "MultiQueryAttentionV2"]


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
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
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
            self.query.add_module("norm", norm_layer(dim, **dd))  # type: ignore[operator]
        self.query.add_module("proj", nn.Conv2d(dim, num_heads * self.key_dim, 1, bias=use_bias, **dd))
        self.key = self._kv_branch(
            dim, self.key_dim, dw_kernel_size, dilation, padding, norm_layer, use_bias, dd
        )
        self.value = self._kv_branch(
            dim, self.value_dim, dw_kernel_size, dilation, padding, norm_layer, use_bias, dd
        )
        self.output = nn.Sequential()
        if has_query_strides:
            upsample = nn.Upsample(scale_factor=self.query_strides, mode="bilinear", align_corners=False)
            self.output.add_module("upsample", upsample)
        self.output.add_module("proj", nn.Conv2d(self.value_dim * num_heads, dim_out, 1, bias=use_bias, **dd))
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
        dd: dict[str, Any],
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
                **dd,
            )
            branch.add_module("down_conv", down)
            branch.add_module("norm", norm_layer(dim, **dd))  # type: ignore[operator]
        branch.add_module("proj", create_conv2d(dim, out_dim, 1, padding=padding, bias=bias, **dd))
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
    """Multi-head self-attention over pixels, with 1x1-conv ``qkv`` and ``proj``.

    ``expand_first`` attends at ``dim_out`` width (else ``dim``); ``head_first`` reads the ``qkv``
    channels as ``(heads, 3 * head_dim)`` instead of ``(3, heads, head_dim)`` (a checkpoint layout).
    """

    def __init__(
        self,
        dim: int,
        dim_out: int | None = None,
        *,
        num_heads: int = 32,
        bias: bool = True,
        expand_first: bool = False,
        head_first: bool = False,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        fused_attn: bool = True,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        dim_out = dim_out or dim
        dim_attn = dim_out if expand_first else dim
        self.num_heads = num_heads
        self.dim_head = dim_attn // num_heads
        self.head_first = head_first
        self.fused_attn = fused_attn
        self.qkv = nn.Conv2d(dim, dim_attn * 3, 1, bias=bias, **dd)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Conv2d(dim_attn, dim_out, 1, bias=bias, **dd)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``attn_mask`` (boolean, or added to the logits) broadcasts to ``(B, heads, HW, HW)``."""
        b, _, h, w = x.shape
        if self.head_first:
            q, k, v = self.qkv(x).reshape(b, self.num_heads, self.dim_head * 3, -1).chunk(3, dim=2)
        else:
            q, k, v = self.qkv(x).reshape(b, 3, self.num_heads, self.dim_head, -1).unbind(1)
        q, k, v = q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2)  # B, heads, HW, head_dim
        if self.fused_attn:
            o = F.scaled_dot_product_attention(
                q.contiguous(),
                k.contiguous(),
                v.contiguous(),
                attn_mask=attn_mask,
                dropout_p=self.attn_drop.p if self.training else 0.0,
            )
        else:
            attn = _add_mask((q * self.dim_head**-0.5) @ k.transpose(-1, -2), attn_mask)
            o = self.attn_drop(attn.softmax(dim=-1)) @ v
        return self.proj_drop(self.proj(o.transpose(-1, -2).reshape(b, -1, h, w)))


class MultiQueryAttentionV2(nn.Module):
    """Multi-query attention of an NCHW map ``x`` over a memory map ``m`` (``x`` itself by
    default): per-head queries, one key and one value head shared by all, written as einsums
    over raw projection matrices (`Fast Transformer Decoding: One Write-Head is All You Need` -
    https://arxiv.org/abs/1911.02150). Keys ``query_proj`` (heads, key_dim, dim), ``key_proj``
    (dim, key_dim), ``value_proj`` (dim, value_dim), ``out_proj`` (dim_out, heads, value_dim).
    """

    def __init__(
        self,
        dim: int,
        dim_out: int | None = None,
        num_heads: int = 8,
        key_dim: int = 64,
        value_dim: int = 64,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        dim_out = dim_out or dim
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.value_dim = value_dim
        self.scale = key_dim**-0.5
        self.query_proj = nn.Parameter(torch.empty((num_heads, key_dim, dim), **dd))
        self.key_proj = nn.Parameter(torch.empty((dim, key_dim), **dd))
        self.value_proj = nn.Parameter(torch.empty((dim, value_dim), **dd))
        self.attn_drop = nn.Dropout(attn_drop)
        self.out_proj = nn.Parameter(torch.empty((dim_out, num_heads, value_dim), **dd))
        self.proj_drop = nn.Dropout(proj_drop)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        std = self.key_proj.shape[0] ** -0.5  # 1 / sqrt(dim)
        nn.init.normal_(self.query_proj, std=std)
        nn.init.normal_(self.key_proj, std=std)
        nn.init.normal_(self.value_proj, std=std)
        nn.init.normal_(self.out_proj, std=self.out_proj.shape[0] ** -0.5)

    def forward(self, x: torch.Tensor, m: torch.Tensor | None = None) -> torch.Tensor:
        b, _, h, w = x.shape
        m = x if m is None else m
        xs = x.reshape(b, x.shape[1], -1).transpose(1, 2)  # B, N, dim
        ms = m.reshape(b, m.shape[1], -1).transpose(1, 2)  # B, M, dim
        q = torch.einsum("bnd,hkd->bnhk", xs, self.query_proj)
        k = torch.einsum("bmd,dk->bmk", ms, self.key_proj)
        attn = self.attn_drop((torch.einsum("bnhk,bmk->bnhm", q, k) * self.scale).softmax(dim=-1))
        v = torch.einsum("bmd,dv->bmv", ms, self.value_proj)
        o = torch.einsum("bnhm,bmv->bnhv", attn, v)
        out = self.proj_drop(torch.einsum("bnhv,dhv->bdn", o, self.out_proj))
        return out.reshape(b, -1, h, w)
