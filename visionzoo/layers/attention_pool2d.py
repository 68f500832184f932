"""Multi-head attention pooling of a 2D feature map, CLIP's replacement for global average pooling.

Paper: `Learning Transferable Visual Models From Natural Language Supervision` (CLIP) -
https://arxiv.org/abs/2103.00020. :class:`AttentionPool2d` adds a learned absolute position
embedding (resampled for other grids); :class:`RotAttentionPool2d` uses 2D rotary embeddings.
The mean of the tokens (or a class token) is prepended and attends over the map. Constructor
arguments and state-dict keys are timm's (open_clip builds its timm towers' heads from these).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .helpers import to_2tuple
from .pos_embed import resample_abs_pos_embed
from .pos_embed_sincos import apply_rot_embed_cat, create_rope_embed
from .weight_init import trunc_normal_

__all__ = ["AttentionPool2d", "RotAttentionPool2d"]

_POOL_TYPES = ("", "token")


def _check_pool_type(pool_type: str) -> str:
    if pool_type.lower() not in _POOL_TYPES:
        raise ValueError(f"pool_type must be 'token' or '' (no pooling), got {pool_type!r}")
    return pool_type.lower()


class _AttentionPool2dBase(nn.Module):
    """Shared projections, head split, attention, pooling and ``reset`` of the two poolers."""

    def __init__(
        self,
        in_features: int,
        out_features: int | None,
        embed_dim: int | None,
        head_dim: int | None,
        num_heads: int | None,
        qkv_bias: bool,
        qkv_separate: bool,
        pool_type: str,
        class_token: bool,
        drop_rate: float,
        device: torch.device | None,
        dtype: torch.dtype | None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        self.pool_type = _check_pool_type(pool_type)
        self.embed_dim = embed_dim = embed_dim or in_features
        self.in_features = in_features
        # out_features=0 disables the projection (pre-logits output of embed_dim)
        self.out_features = in_features if out_features is None else (out_features or embed_dim)
        if num_heads is not None:
            if embed_dim % num_heads:
                raise ValueError(f"embed_dim {embed_dim} is not divisible by num_heads {num_heads}")
            head_dim = embed_dim // num_heads
        else:
            if not head_dim or embed_dim % head_dim:
                raise ValueError(f"embed_dim {embed_dim} is not divisible by head_dim {head_dim}")
            num_heads = embed_dim // head_dim
        self.num_heads = num_heads
        self.head_dim = head_dim
        self.scale = head_dim**-0.5
        self.fused_attn = True
        self.cls_token = nn.Parameter(torch.zeros(1, embed_dim, **dd)) if class_token else None
        self.q: nn.Linear | None
        self.k: nn.Linear | None
        self.v: nn.Linear | None
        self.qkv: nn.Linear | None
        if qkv_separate:
            self.q = nn.Linear(in_features, embed_dim, bias=qkv_bias, **dd)
            self.k = nn.Linear(in_features, embed_dim, bias=qkv_bias, **dd)
            self.v = nn.Linear(in_features, embed_dim, bias=qkv_bias, **dd)
            self.qkv = None
        else:
            self.q = self.k = self.v = None
            self.qkv = nn.Linear(in_features, embed_dim * 3, bias=qkv_bias, **dd)
        self.drop = nn.Dropout(drop_rate)
        self.proj: nn.Module = (
            nn.Linear(embed_dim, self.out_features, **dd) if out_features != 0 else nn.Identity()
        )

    def _init_qkv(self) -> int:
        layers = [self.qkv] if self.qkv is not None else [self.q, self.k, self.v]
        in_features = self.in_features
        for layer in layers:
            assert layer is not None
            trunc_normal_(layer.weight, std=in_features**-0.5)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)
        return in_features

    def reset(
        self,
        num_classes: int | None = None,
        pool_type: str | None = None,
        reset_other: bool = False,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        """Replace the projection as a classifier of ``num_classes`` (0: none); used as a model head."""
        if pool_type is not None:
            self.pool_type = _check_pool_type(pool_type)
        if num_classes is not None:
            ref = next(self.parameters())
            dd: dict[str, Any] = {"device": device or ref.device, "dtype": dtype or ref.dtype}
            self.proj = nn.Linear(self.embed_dim, num_classes, **dd) if num_classes > 0 else nn.Identity()
            self.proj.train(self.training)
            self.out_features = num_classes if num_classes > 0 else self.embed_dim

    def _tokens(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(2).transpose(1, 2)
        if self.cls_token is None:
            return torch.cat([x.mean(1, keepdim=True), x], dim=1)
        return torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)

    def _qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        B, L, _ = x.shape
        if self.qkv is None:
            assert self.q is not None and self.k is not None and self.v is not None
            q = self.q(x).reshape(B, L, self.num_heads, self.head_dim).transpose(1, 2)
            k = self.k(x).reshape(B, L, self.num_heads, self.head_dim).transpose(1, 2)
            v = self.v(x).reshape(B, L, self.num_heads, self.head_dim).transpose(1, 2)
            return q, k, v
        q, k, v = self.qkv(x).reshape(B, L, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        return q, k, v

    def _attend_and_pool(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, H: int, W: int, pre_logits: bool
    ) -> torch.Tensor:
        B, _, L, _ = q.shape
        if self.fused_attn:
            x = F.scaled_dot_product_attention(q, k, v)
        else:
            x = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1) @ v
        x = self.drop(x.transpose(1, 2).reshape(B, L, -1))
        if not pre_logits:
            x = self.proj(x)
        if self.pool_type == "token":
            return x[:, 0]
        # no pooling: the spatial map without the prepended token
        return x[:, 1:].reshape(B, H, W, -1).permute(0, 3, 1, 2)


class AttentionPool2d(_AttentionPool2dBase):
    """Attention pooling with a learned absolute position embedding ``pos_embed (H*W + 1, in_features)``,
    resampled bicubically when the input grid differs from ``feat_size``.

    Input ``(B, in_features, H, W)``; output ``(B, out_features)`` (``pool_type='token'``) or
    ``(B, out_features, H, W)`` (``pool_type=''``). State-dict keys: ``qkv`` (or ``q``/``k``/``v``),
    ``proj``, ``pos_embed``, ``cls_token`` (with ``class_token=True``).
    """

    def __init__(
        self,
        in_features: int,
        feat_size: int | tuple[int, int] = 7,
        out_features: int | None = None,
        embed_dim: int | None = None,
        head_dim: int | None = 64,
        num_heads: int | None = None,
        qkv_bias: bool = True,
        qkv_separate: bool = False,
        pool_type: str = "token",
        class_token: bool = False,
        drop_rate: float = 0.0,
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            in_features, out_features, embed_dim, head_dim, num_heads, qkv_bias, qkv_separate,
            pool_type, class_token, drop_rate, device, dtype,
        )  # fmt: skip
        self.feat_size = to_2tuple(feat_size)
        self.seq_len = self.feat_size[0] * self.feat_size[1]
        self.pos_embed = nn.Parameter(torch.zeros(self.seq_len + 1, in_features, device=device, dtype=dtype))
        self.init_weights()

    def init_weights(self, zero_init_last: bool = False) -> None:
        in_features = self._init_qkv()
        trunc_normal_(self.pos_embed, std=in_features**-0.5)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        _, _, H, W = x.shape
        x = self._tokens(x)
        pos_embed = resample_abs_pos_embed(
            self.pos_embed.unsqueeze(0), [H, W], old_size=list(self.feat_size), num_prefix_tokens=1
        )
        q, k, v = self._qkv(x + pos_embed)
        return self._attend_and_pool(q, k, v, H, W, pre_logits)


class RotAttentionPool2d(_AttentionPool2dBase):
    """Attention pooling with 2D rotary position embeddings on ``q`` and ``k`` (not on the prepended
    token), scaled to the ``ref_feat_size`` grid, so any input size works without parameters to resample.

    Input ``(B, in_features, H, W)``; output as :class:`AttentionPool2d`. State-dict keys: ``qkv``
    (or ``q``/``k``/``v``), ``proj``, ``cls_token`` (with ``class_token=True``).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int | None = None,
        ref_feat_size: int | tuple[int, int] = 7,
        embed_dim: int | None = None,
        head_dim: int | None = 64,
        num_heads: int | None = None,
        qkv_bias: bool = True,
        qkv_separate: bool = False,
        pool_type: str = "token",
        class_token: bool = False,
        drop_rate: float = 0.0,
        rope_type: str = "cat",
        device: torch.device | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            in_features, out_features, embed_dim, head_dim, num_heads, qkv_bias, qkv_separate,
            pool_type, class_token, drop_rate, device, dtype,
        )  # fmt: skip
        self.rope_type = rope_type
        self.rotate_half = False
        self.pos_embed = create_rope_embed(
            rope_type=rope_type,
            dim=self.embed_dim,
            num_heads=self.num_heads,
            in_pixels=False,
            ref_feat_shape=list(to_2tuple(ref_feat_size)),
            rotate_half=self.rotate_half,
            device=device,
            dtype=dtype,
        )

    def init_weights(self, zero_init_last: bool = False) -> None:
        self._init_qkv()

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        _, _, H, W = x.shape
        q, k, v = self._qkv(self._tokens(x))
        rope = self.pos_embed.get_embed((H, W))  # type: ignore[operator]
        q = torch.cat([q[:, :, :1], apply_rot_embed_cat(q[:, :, 1:], rope, half=self.rotate_half)], dim=2)
        k = torch.cat([k[:, :, :1], apply_rot_embed_cat(k[:, :, 1:], rope, half=self.rotate_half)], dim=2)
        return self._attend_and_pool(q.type_as(v), k.type_as(v), v, H, W, pre_logits)
