"""Attention pooling with a learned latent query ('map' pooling of SigLIP / big_vision ViTs).

Paper: `Sigmoid Loss for Language Image Pre-Training` - https://arxiv.org/abs/2303.15343
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .mlp import Mlp

__all__ = ["AttentionPoolLatent"]


class AttentionPoolLatent(nn.Module):
    """Pool ``(B, N, C)`` tokens to ``(B, C)``: latent queries attend to the tokens, then an MLP
    residual (state-dict keys ``latent``, ``q``, ``kv``, ``proj``, ``norm``, ``mlp``)."""

    def __init__(
        self,
        in_features: int,
        out_features: int | None = None,
        embed_dim: int | None = None,
        num_heads: int = 8,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_norm: bool = False,
        latent_len: int = 1,
        pool_type: str = "token",
        norm_layer: Callable[..., nn.Module] | None = None,
        act_layer: Callable[..., nn.Module] = nn.GELU,
        drop: float = 0.0,
        *,
        fused_attn: bool = True,
    ) -> None:
        super().__init__()
        embed_dim = embed_dim or in_features
        out_features = out_features or in_features
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim={embed_dim} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.scale = self.head_dim**-0.5
        self.pool = pool_type
        self.fused_attn = fused_attn
        self.latent_len = latent_len
        self.latent_dim = embed_dim
        self.latent = nn.Parameter(torch.zeros(1, latent_len, embed_dim))
        self.q = nn.Linear(embed_dim, embed_dim, bias=qkv_bias)
        self.kv = nn.Linear(embed_dim, embed_dim * 2, bias=qkv_bias)
        qk_norm_layer = norm_layer or nn.LayerNorm
        self.q_norm = qk_norm_layer(self.head_dim) if qk_norm else nn.Identity()
        self.k_norm = qk_norm_layer(self.head_dim) if qk_norm else nn.Identity()
        self.proj = nn.Linear(embed_dim, out_features)
        self.proj_drop = nn.Dropout(drop)
        self.norm = norm_layer(out_features) if norm_layer is not None else nn.Identity()
        self.mlp = Mlp(out_features, int(out_features * mlp_ratio), act_layer=act_layer)
        self.init_weights()

    def init_weights(self) -> None:
        if not self.latent.is_meta:
            nn.init.trunc_normal_(self.latent, std=self.latent_dim**-0.5, a=-2.0, b=2.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q = self.q(self.latent.expand(b, -1, -1))
        q = q.reshape(b, self.latent_len, self.num_heads, self.head_dim).transpose(1, 2)
        k, v = self.kv(x).reshape(b, n, 2, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        if self.fused_attn:
            x = F.scaled_dot_product_attention(q, k, v)
        else:
            x = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1) @ v
        x = self.proj_drop(self.proj(x.transpose(1, 2).reshape(b, self.latent_len, c)))
        x = x + self.mlp(self.norm(x))
        if self.pool == "token":
            return x[:, 0]
        if self.pool == "avg":
            return x.mean(1)
        return x
