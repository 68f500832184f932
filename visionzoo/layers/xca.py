"""Cross-covariance attention (XCiT): attention over channels instead of over tokens.

Per head, the ``d x d`` map ``softmax(tau * q_hat^T k_hat)`` between the L2-normalised (along the
tokens) query and key channels mixes the value channels of every token; the cost is linear in the
token count, so high-resolution inputs stay affordable.
Paper: `XCiT: Cross-Covariance Image Transformers` - https://arxiv.org/abs/2106.09681
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["XCA"]


class XCA(nn.Module):
    """``(B, N, C)`` tokens -> ``(B, N, C)``: each head's value channels re-weighted by the softmax
    of its query/key cross-covariance, scaled by a learned per-head ``temperature``.

    Keys ``temperature`` ``(num_heads, 1, 1)``, ``qkv`` and ``proj`` (as timm's ``xcit``).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = False,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        fused_attn: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        self.num_heads = num_heads
        self.fused_attn = fused_attn
        self.temperature = nn.Parameter(torch.ones(num_heads, 1, 1, **dd))
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias, **dd)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim, **dd)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        # (3, B, heads, head_dim, N): channels are the "sequence", tokens the feature axis
        qkv = self.qkv(x).reshape(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 4, 1)
        q, k, v = qkv.unbind(0)
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        if self.fused_attn:
            x = F.scaled_dot_product_attention(
                q * self.temperature, k, v, dropout_p=self.attn_drop.p if self.training else 0.0, scale=1.0
            )
        else:
            attn = ((q @ k.transpose(-2, -1)) * self.temperature).softmax(dim=-1)
            x = self.attn_drop(attn) @ v
        return self.proj_drop(self.proj(x.permute(0, 3, 1, 2).reshape(b, n, c)))

    def no_weight_decay(self) -> set[str]:
        """The temperature is a scale, not a weight."""
        return {"temperature"}
