"""Attention pooling of a token sequence ``(B, N, C)``.

:class:`AttentionPoolLatent`: a learned latent query ('map' pooling of SigLIP / big_vision ViTs;
`Sigmoid Loss for Language Image Pre-Training` - https://arxiv.org/abs/2303.15343).
:class:`AttentionPoolPrr`: parameter-free self-attention over all tokens before pooling (patch
representation refinement, `Locality-Attending Vision Transformer`, ICLR 2026).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .attention import _attend
from .mlp import Mlp
from .weight_init import trunc_normal_tf_

__all__ = ["AttentionPoolLatent", "AttentionPoolPrr"]


class AttentionPoolLatent(nn.Module):
    """Pool ``(B, N, C)`` tokens to ``(B, C)``: latent queries attend to the tokens, then an MLP
    residual (state-dict keys ``latent``, ``q``, ``kv``, ``proj``, ``norm``, ``mlp``)."""

    def __init__(
        self,
        in_features: int,
        out_features: int | None = None,
        embed_dim: int | None = None,
        num_heads: int = 8,
        feat_size: int | None = None,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        q_proj: bool = True,
        qk_norm: bool = False,
        latent_len: int = 1,
        latent_dim: int | None = None,
        pos_embed: str = "",
        pool_type: str = "token",
        norm_layer: Callable[..., nn.Module] | None = None,
        act_layer: Callable[..., nn.Module] = nn.GELU,
        drop: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        fused_attn: bool = True,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        # NOTE: device/dtype reach the norms only when set, so norm factories without them work
        norm_dd = dd if device is not None or dtype is not None else {}
        embed_dim = embed_dim or in_features
        out_features = in_features if out_features is None else out_features
        if embed_dim % num_heads:
            raise ValueError(f"embed_dim={embed_dim} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.head_dim = embed_dim // num_heads
        self.feat_size = feat_size
        self.scale = self.head_dim**-0.5
        self.pool = pool_type
        self.fused_attn = fused_attn
        if pos_embed not in ("", "abs"):
            raise ValueError(f"pos_embed={pos_embed!r}; valid: '', 'abs'")
        self.pos_embed: nn.Parameter | None = None
        if pos_embed == "abs":
            if feat_size is None:
                raise ValueError("AttentionPoolLatent(pos_embed='abs') needs feat_size (the token count)")
            self.pos_embed = nn.Parameter(torch.zeros(feat_size, in_features, **dd))
        self.latent_len = latent_len
        self.latent_dim = latent_dim or embed_dim
        if not q_proj and self.latent_dim != embed_dim:
            raise ValueError(
                f"q_proj=False uses the latent as the query: latent_dim ({self.latent_dim}) must equal "
                f"embed_dim ({embed_dim})"
            )
        self.latent = nn.Parameter(torch.zeros(1, latent_len, self.latent_dim, **dd))
        self.q = nn.Linear(self.latent_dim, embed_dim, bias=qkv_bias, **dd) if q_proj else nn.Identity()
        self.kv = nn.Linear(embed_dim, embed_dim * 2, bias=qkv_bias, **dd)
        qk_norm_layer = norm_layer or nn.LayerNorm
        self.q_norm = qk_norm_layer(self.head_dim, **norm_dd) if qk_norm else nn.Identity()
        self.k_norm = qk_norm_layer(self.head_dim, **norm_dd) if qk_norm else nn.Identity()
        self.proj_drop = nn.Dropout(drop)
        self.mlp: nn.Module | None = None
        if out_features > 0:
            self.proj: nn.Module = nn.Linear(embed_dim, out_features, **dd)
            self.norm = norm_layer(out_features, **norm_dd) if norm_layer is not None else nn.Identity()
            hidden = int(out_features * mlp_ratio)
            self.mlp = Mlp(out_features, hidden, act_layer=act_layer, **dd)
        else:  # timm's out_features=0: attention only, no projection or MLP
            self.proj = nn.Identity()
            self.norm = nn.Identity()
            out_features = embed_dim
        self.out_features = out_features
        self.init_weights()

    def init_weights(self) -> None:
        if not self.latent.is_meta:
            nn.init.trunc_normal_(self.latent, std=self.latent_dim**-0.5, a=-2.0, b=2.0)
        if self.pos_embed is not None and not self.pos_embed.is_meta:
            trunc_normal_tf_(self.pos_embed, std=self.pos_embed.shape[1] ** -0.5)

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None) -> torch.Tensor:
        """``attn_mask`` (boolean, or added to the logits) broadcasts to ``(B, heads, latent_len, N)``."""
        b, n, c = x.shape
        if self.pos_embed is not None:
            x = x + self.pos_embed.unsqueeze(0).to(x.dtype)
        q = self.q(self.latent.expand(b, -1, -1))
        q = q.reshape(b, self.latent_len, self.num_heads, self.head_dim).transpose(1, 2)
        k, v = self.kv(x).reshape(b, n, 2, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        x = _attend(q, k, v, self.scale, self.fused_attn, attn_mask)
        x = self.proj_drop(self.proj(x.transpose(1, 2).reshape(b, self.latent_len, c)))
        if self.mlp is not None:
            x = x + self.mlp(self.norm(x))
        if self.pool == "token":
            return x[:, 0]
        if self.pool == "avg":
            return x.mean(1)
        return x


class AttentionPoolPrr(nn.Module):
    """Pool ``(B, N, C)`` tokens to ``(B, C)`` after one parameter-free multi-head self-attention:
    the tokens, split into heads, are query, key and value at once. Only the optional
    ``pre_norm`` / ``post_norm`` (LayerNorm unless ``norm_layer``) have parameters."""

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        pool_type: str = "token",
        pre_norm: bool = False,
        post_norm: bool = False,
        norm_layer: Callable[..., nn.Module] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        *,
        fused_attn: bool = True,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        if pool_type not in ("token", "avg"):
            raise ValueError(f"pool_type must be 'token' or 'avg', got {pool_type!r}")
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        norm = norm_layer or nn.LayerNorm
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.pool = pool_type
        self.fused_attn = fused_attn
        self.out_features = dim
        self.pre_norm = norm(dim, **dd) if pre_norm else nn.Identity()
        self.post_norm = norm(dim, **dd) if post_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        x = self.pre_norm(x)
        qkv = x.reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)
        x = _attend(qkv, qkv, qkv, self.scale, self.fused_attn)
        x = self.post_norm(x.transpose(1, 2).reshape(b, n, c))
        return x[:, 0] if self.pool == "token" else x.mean(1)
