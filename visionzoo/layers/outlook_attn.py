"""Outlook attention (VOLO): each location predicts, from its own features alone, how the values
of its k x k window mix into that window's k x k outputs; overlapping windows add up.

No query-key products: the attention weights come from a linear map of the (stride-pooled)
centre, so the cost is linear in the number of locations, and fine local detail is encoded
cheaply at high resolution.
Paper: `VOLO: Vision Outlooker for Visual Recognition` - https://arxiv.org/abs/2106.13112
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["OutlookAttention"]


class OutlookAttention(nn.Module):
    """``(B, H, W, C)`` -> ``(B, H, W, C)`` (channels-last, as VOLO's blocks run).

    Keys ``v`` (values), ``attn`` (centre features -> ``num_heads * k^4`` weights: for each of
    the window's ``k^2`` outputs, a softmax over its ``k^2`` inputs) and ``proj``. Windows are
    centred every ``stride`` pixels (their weights read the ``stride``-average-pooled features);
    ``padding`` pads the values with zeros.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        kernel_size: int = 3,
        padding: int = 1,
        stride: int = 1,
        qkv_bias: bool = False,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        self.num_heads = num_heads
        self.kernel_size = kernel_size
        self.padding = padding
        self.stride = stride
        self.scale = (dim // num_heads) ** -0.5
        self.v = nn.Linear(dim, dim, bias=qkv_bias, **dd)
        self.attn = nn.Linear(dim, kernel_size**4 * num_heads, **dd)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim, **dd)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, height, width, c = x.shape
        k, s, heads = self.kernel_size, self.stride, self.num_heads
        kk = k * k
        # window centres: ceil(H / s) x ceil(W / s) (integer arithmetic, so FX can trace it)
        n = ((height + s - 1) // s) * ((width + s - 1) // s)
        v = F.unfold(self.v(x).permute(0, 3, 1, 2), k, padding=self.padding, stride=s)
        v = v.reshape(b, heads, c // heads, kk, n).permute(0, 1, 4, 3, 2)  # (B, heads, N, k^2, C / heads)
        centre = F.avg_pool2d(x.permute(0, 3, 1, 2), s, s, ceil_mode=True).permute(0, 2, 3, 1)
        attn = self.attn(centre).reshape(b, n, heads, kk, kk).permute(0, 2, 1, 3, 4)  # (B, heads, N, out, in)
        attn = self.attn_drop((attn * self.scale).softmax(dim=-1))
        out = (attn @ v).permute(0, 1, 4, 3, 2).reshape(b, c * kk, n)
        out = F.fold(out, output_size=(height, width), kernel_size=k, padding=self.padding, stride=s)
        return self.proj_drop(self.proj(out.permute(0, 2, 3, 1)))
