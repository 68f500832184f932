"""Lambda layer: attention-free global context. Keys and values summarise the map into a small
linear function (a "lambda") that each query applies, plus a positional lambda from a local
convolution over the values or from relative position embeddings.

Paper: `LambdaNetworks: Modeling Long-Range Interactions Without Attention` -
https://arxiv.org/abs/2102.08602

Module names follow timm's, so its checkpoints load.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .helpers import make_divisible, to_2tuple
from .weight_init import trunc_normal_

__all__ = ["LambdaLayer", "rel_pos_indices"]


def _grid_offsets(h: int, w: int, device: torch.device | None = None) -> torch.Tensor:
    rows = torch.arange(h, device=device).repeat_interleave(w)
    cols = torch.arange(w, device=device).repeat(h)
    return torch.stack([rows[None, :] - rows[:, None] + (h - 1), cols[None, :] - cols[:, None] + (w - 1)])


def rel_pos_indices(size: int | tuple[int, int], device: torch.device | str | None = None) -> torch.Tensor:
    """``(2, HW, HW)``: for query ``m`` and context position ``n`` of an H x W grid (row-major),
    their row and column offsets ``n - m`` shifted to start at 0 (indices into a
    ``(2H-1, 2W-1)`` table)."""
    h, w = to_2tuple(size)
    return _grid_offsets(h, w, None if device is None else torch.device(device))


class LambdaLayer(nn.Module):
    """Content lambda ``softmax(K) V`` (shared over heads) plus a position lambda per query, each
    applied to the query: ``out = q (lambda_c + lambda_p)``; the intra-depth ``u`` is 1.

    ``r`` set: the position lambdas come from an ``r x r`` convolution over the values (any
    input size); ``r=None``: from a relative position table over a fixed ``feat_size``.
    Widths: values ``dim_out / num_heads`` per head, queries / keys ``dim_head`` (or
    ``dim_out * qk_ratio / num_heads``, rounded to 8 over all heads). ``stride`` 2 average-pools.
    """

    def __init__(
        self,
        dim: int,
        dim_out: int | None = None,
        feat_size: int | tuple[int, int] | None = None,
        stride: int = 1,
        num_heads: int = 4,
        dim_head: int = 16,
        r: int | None = 9,
        qk_ratio: float = 1.0,
        qkv_bias: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dim_out = dim_out or dim
        if dim_out % num_heads:
            raise ValueError(f"dim_out {dim_out} does not split into {num_heads} heads")
        self.dim_qk = dim_head or make_divisible(dim_out * qk_ratio, divisor=8) // num_heads
        self.num_heads = num_heads
        self.dim_v = dim_out // num_heads
        dd: dict[str, Any] = dict(device=device, dtype=dtype)
        self.qkv = nn.Conv2d(dim, num_heads * self.dim_qk + self.dim_qk + self.dim_v, 1, bias=qkv_bias, **dd)
        self.norm_q = nn.BatchNorm2d(num_heads * self.dim_qk, **dd)
        self.norm_v = nn.BatchNorm2d(self.dim_v, **dd)
        self.conv_lambda: nn.Conv3d | None = None
        self.pos_emb: nn.Parameter | None = None
        self.feat_size: tuple[int, int] | None = None
        if r is not None:
            self.conv_lambda = nn.Conv3d(1, self.dim_qk, (r, r, 1), padding=(r // 2, r // 2, 0), **dd)
        else:
            if feat_size is None:
                raise ValueError("LambdaLayer with relative positions (r=None) needs feat_size")
            self.feat_size = to_2tuple(feat_size)
            h, w = self.feat_size
            self.pos_emb = nn.Parameter(torch.empty(2 * h - 1, 2 * w - 1, self.dim_qk, **dd))
        self.pool = nn.AvgPool2d(2, 2) if stride == 2 else nn.Identity()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        trunc_normal_(self.qkv.weight, std=self.qkv.weight.shape[1] ** -0.5)  # fan-in
        if self.conv_lambda is not None:
            trunc_normal_(self.conv_lambda.weight, std=self.dim_qk**-0.5)
        if self.pos_emb is not None:
            trunc_normal_(self.pos_emb, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        m = h * w
        q, k, v = self.qkv(x).split([self.num_heads * self.dim_qk, self.dim_qk, self.dim_v], dim=1)
        q = self.norm_q(q).reshape(b, self.num_heads, self.dim_qk, m).transpose(-1, -2)  # (B, heads, M, K)
        v = self.norm_v(v).reshape(b, self.dim_v, m).transpose(-1, -2)  # (B, M, V)
        k = F.softmax(k.reshape(b, self.dim_qk, m), dim=-1)  # (B, K, M)
        content = q @ (k @ v).unsqueeze(1)  # (B, heads, M, V)
        pos_emb = self.pos_emb
        if pos_emb is None:
            assert self.conv_lambda is not None  # r is set whenever pos_emb is not
            lam = self.conv_lambda(v.reshape(b, 1, h, w, self.dim_v))  # (B, K, H, W, V)
            lam = lam.reshape(b, 1, self.dim_qk, m, self.dim_v).transpose(2, 3)  # (B, 1, M, K, V)
        else:
            idx = _grid_offsets((pos_emb.shape[0] + 1) // 2, (pos_emb.shape[1] + 1) // 2, x.device)
            emb = pos_emb[idx[0], idx[1]]  # (M, M, K): query m, context n
            lam = (emb.transpose(-1, -2) @ v.unsqueeze(1)).unsqueeze(1)  # (B, 1, M, K, V)
        position = (q.unsqueeze(-2) @ lam).squeeze(-2)  # (B, heads, M, V)
        out = (content + position).transpose(-1, -2).reshape(b, c, h, w)
        return self.pool(out)
