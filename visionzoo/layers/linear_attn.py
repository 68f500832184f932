"""ReLU linear attention and EfficientViT's (MIT) multi-scale linear attention block (LiteMLA).

Softmax attention costs ``O(N^2)`` in the number of positions; with a ReLU kernel in place of the
softmax the similarity ``relu(q) . relu(k)`` factors, so ``sum_j sim(q_i, k_j) v_j`` is
``relu(q_i) @ (relu(K)^T V)``: linear in ``N``, which is what makes it affordable at the high
resolutions of dense prediction.

Paper: `EfficientViT: Multi-Scale Linear Attention for High-Resolution Dense Prediction` -
https://arxiv.org/abs/2205.14756
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._fx import register_notrace_module
from .mbconv_mit import ConvLayer

__all__ = ["LiteMLA", "linear_attention", "linear_attention_fp32"]

Layer = Callable[..., nn.Module]


def linear_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Kernelised attention: ``out_i = sum_j (q_i . k_j) v_j / (sum_j q_i . k_j + eps)``.

    ``q`` and ``k`` are the (non-negative) kernel features; the sums over ``j`` are taken once for
    all ``i`` (``K^T [V, 1]``), in float32 whatever the input dtype (the normaliser is a sum over
    every position, too wide a range for half precision).

    Args:
        q: ``(..., N, D)`` query features.
        k: ``(..., N, D)`` key features.
        v: ``(..., N, Dv)`` values.
        eps: added to the normaliser, for positions whose similarities are all zero.

    Returns:
        ``(..., N, Dv)`` in ``v``'s dtype.
    """
    dtype = v.dtype
    q, k, v = q.float(), k.float(), v.float()
    v = F.pad(v, (0, 1), mode="constant", value=1.0)  # the extra column sums the similarities
    out = q @ (k.transpose(-1, -2) @ v)
    return (out[..., :-1] / (out[..., -1:] + eps)).to(dtype)


def linear_attention_fp32(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """:func:`linear_attention` with autocast off, so it runs in float32 under mixed precision."""
    if not torch.jit.is_scripting() and v.device.type != "meta":
        with torch.autocast(device_type=v.device.type, enabled=False):
            return linear_attention(q, k, v, eps)
    return linear_attention(q, k, v, eps)


# NOTE: one node in FX graphs: tracing cannot branch on the device
torch.fx.wrap("linear_attention_fp32")


@register_notrace_module  # NOTE: a leaf for FX feature graphs, as timm's
class LiteMLA(nn.Module):
    """Multi-scale ReLU linear attention over a ``(B, C, H, W)`` map.

    A 1x1 conv makes q, k, v for every head (``dim`` wide); each scale in ``scales`` aggregates
    them over a neighbourhood (a depthwise ``scale``-sized conv, then a per-head grouped 1x1),
    adding as many heads again; every head attends globally with :func:`linear_attention`, and a
    1x1 conv (``proj``, with a norm) projects the heads back to ``out_channels``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        heads: int | None = None,
        heads_ratio: float = 1.0,
        dim: int = 8,
        use_bias: bool | tuple[bool, bool] = False,
        norm_layer: Sequence[Layer | None] = (None, nn.BatchNorm2d),
        act_layer: Sequence[Layer | None] = (None, None),
        kernel_func: Layer = nn.ReLU,
        scales: Sequence[int] = (5,),
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        if any(s % 2 == 0 for s in scales):
            raise ValueError(f"LiteMLA's aggregation kernels keep the size: odd scales only, got {scales}")
        self.eps = eps
        self.dim = dim
        heads = heads or int(in_channels // dim * heads_ratio)
        total = heads * dim
        bias = (use_bias, use_bias) if isinstance(use_bias, bool) else use_bias
        self.qkv = ConvLayer(
            in_channels, 3 * total, 1, use_bias=bias[0], norm_layer=norm_layer[0], act_layer=act_layer[0]
        )
        self.aggreg = nn.ModuleList(
            nn.Sequential(
                nn.Conv2d(3 * total, 3 * total, s, padding=s // 2, groups=3 * total, bias=bias[0]),
                nn.Conv2d(3 * total, 3 * total, 1, groups=3 * heads, bias=bias[0]),
            )
            for s in scales
        )
        self.kernel_func = kernel_func()
        self.proj = ConvLayer(
            total * (1 + len(scales)),
            out_channels,
            1,
            use_bias=bias[1],
            norm_layer=norm_layer[1],
            act_layer=act_layer[1],
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, _, height, width = x.shape
        qkv = self.qkv(x)
        scaled = [qkv]
        for aggregate in self.aggreg:
            scaled.append(aggregate(qkv))
        # (B, heads over all scales, H * W, 3 * dim): each head's q, k, v side by side
        tokens = torch.cat(scaled, dim=1).reshape(batch, -1, 3 * self.dim, height * width).transpose(-1, -2)
        q, k, v = tokens.chunk(3, dim=-1)
        out = linear_attention_fp32(self.kernel_func(q), self.kernel_func(k), v, self.eps)
        return self.proj(out.transpose(-1, -2).reshape(batch, -1, height, width))
