"""Channel attention (DaViT): self-attention whose "tokens" are the channels of a head.

Per head, a ``head_dim x head_dim`` map between channels mixes every spatial token at once, so the
cost is linear in the number of tokens and the receptive field global. Two published forms:

- :class:`ChannelAttention` (DaViT): ``softmax(s * k^T v)`` with ``s = head_dim ** -0.5``,
  applied to the queries: ``out = q @ softmax(s * k^T v)^T``.
- :class:`ChannelAttentionV2` (Florence-2's DaViT): the usual roles, ``out = v @ softmax(s * q^T
  k)^T``, with ``s = N ** -0.5`` (``dynamic_scale``: the channel-by-channel logits sum over the
  ``N`` tokens) or ``head_dim ** -0.5``.

Unlike cross-covariance attention (:mod:`.xca`) nothing is normalised and there is no learned
temperature. Keys ``qkv`` and ``proj``, as timm's ``davit``.

Paper: `DaViT: Dual Attention Vision Transformers` - https://arxiv.org/abs/2204.03645
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["ChannelAttention", "ChannelAttentionV2"]


class _ChannelAttentionBase(nn.Module):
    """The shared projections: ``qkv`` in, ``proj`` out, heads split along the channels."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        qkv_bias: bool,
        device: torch.device | str | None,
        dtype: torch.dtype | None,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias, **dd)
        self.proj = nn.Linear(dim, dim, **dd)

    def _split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(B, N, C)`` -> q, k, v, each ``(B, heads, N, head_dim)``."""
        b, n, _ = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        return q, k, v

    def _merge(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, heads, N, head_dim)`` -> projected ``(B, N, C)``."""
        b, _, n, _ = x.shape
        return self.proj(x.transpose(1, 2).reshape(b, n, self.num_heads * self.head_dim))


class ChannelAttention(_ChannelAttentionBase):
    """DaViT's channel attention: ``(B, N, C)`` -> ``(B, N, C)``, the queries re-weighted by the
    softmax of the key/value channel map (the original code's ordering, kept for its weights).

    Args:
        dim: token width.
        num_heads: heads (``dim`` must divide by it).
        qkv_bias: bias on the ``qkv`` projection.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(dim, num_heads, qkv_bias, device, dtype)
        self.scale = self.head_dim**-0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self._split(x)
        attn = ((k * self.scale).transpose(-1, -2) @ v).softmax(dim=-1)  # (B, heads, d, d)
        return self._merge(q @ attn.transpose(-1, -2))


class ChannelAttentionV2(_ChannelAttentionBase):
    """Florence-2's channel attention: ``(B, N, C)`` -> ``(B, N, C)``, the values re-weighted by
    the softmax of the query/key channel map.

    Args:
        dim: token width.
        num_heads: heads (``dim`` must divide by it).
        qkv_bias: bias on the ``qkv`` projection.
        dynamic_scale: scale the logits by ``N ** -0.5`` (tokens) instead of ``head_dim ** -0.5``.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = True,
        dynamic_scale: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(dim, num_heads, qkv_bias, device, dtype)
        self.dynamic_scale = dynamic_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self._split(x)
        n = x.shape[1]
        q = q * (n**-0.5 if self.dynamic_scale else self.head_dim**-0.5)
        attn = (q.transpose(-1, -2) @ k).softmax(dim=-1)  # (B, heads, d, d)
        return self._merge(v @ attn.transpose(-1, -2))
