"""Class attention (CaiT, XCiT): only the class token queries; every token is a key and value.

The class token's update costs O(N) instead of O(N^2) and leaves the patch tokens untouched.
Paper: `Going deeper with Image Transformers` - https://arxiv.org/abs/2103.17239
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ClassAttn"]


class ClassAttn(nn.Module):
    """``(B, N, C)`` tokens (class token first) -> the class token's update ``(B, 1, C)``.

    Keys ``q`` / ``k`` / ``v`` (separate projections: the query reads only token 0) and ``proj``;
    with ``fused_kv`` (VOLO's layout) one ``kv`` projection gives keys then values. ``head_dim``
    sets the heads' width apart from ``dim / num_heads``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = False,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        fused_attn: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        head_dim: int | None = None,
        fused_kv: bool = False,
    ) -> None:
        super().__init__()
        if head_dim is None and dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        self.num_heads = num_heads
        self.head_dim = head_dim or dim // num_heads
        inner = self.head_dim * num_heads
        self.scale = self.head_dim**-0.5
        self.fused_attn = fused_attn
        # NOTE: the absent layout's projections are None (no keys); TorchScript refines on them.
        # Registration order is the checkpoints' key order (VOLO: kv, q; CaiT: q, k, v)
        self.kv = nn.Linear(dim, 2 * inner, bias=qkv_bias, **dd) if fused_kv else None
        self.q = nn.Linear(dim, inner, bias=qkv_bias, **dd)
        self.k = None if fused_kv else nn.Linear(dim, inner, bias=qkv_bias, **dd)
        self.v = None if fused_kv else nn.Linear(dim, inner, bias=qkv_bias, **dd)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(inner, dim, **dd)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q = self.q(x[:, :1]).reshape(b, 1, self.num_heads, self.head_dim).transpose(1, 2)
        if self.kv is not None:
            k, v = self.kv(x).reshape(b, n, 2, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        elif self.k is not None and self.v is not None:
            k = self.k(x).reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)
            v = self.v(x).reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)
        else:
            raise RuntimeError("ClassAttn has neither kv nor k / v projections")
        if self.fused_attn:
            x_cls = F.scaled_dot_product_attention(
                q, k, v, dropout_p=self.attn_drop.p if self.training else 0.0
            )
        else:
            attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
            x_cls = self.attn_drop(attn) @ v
        return self.proj_drop(self.proj(x_cls.transpose(1, 2).reshape(b, 1, self.num_heads * self.head_dim)))
