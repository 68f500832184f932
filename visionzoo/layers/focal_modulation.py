"""Focal modulation (FocalNet): a token mixer that gathers context first and then modulates each
query by it, in place of self-attention's per-query interaction with every key.

On a ``(B, C, H, W)`` map, one 1x1 conv ``f`` gives the query ``q``, a context map ``z`` and
``L + 1`` gate maps ``g``. Context is gathered hierarchically: ``z_l = GELU(dwconv_l(z_{l-1}))``
with depthwise kernels growing by ``focal_factor`` per level, plus a global level
``z_L+1 = GELU(mean_HW(z_L))``; the levels are summed, each weighted by its gate,
``m = h(sum_l g_l * z_l)`` (``h`` a 1x1 conv), and the output is ``proj(q * m)``.

Paper: `Focal Modulation Networks` - https://arxiv.org/abs/2203.11926
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .layer_norm import LayerNorm2d

__all__ = ["FocalModulation"]


class FocalModulation(nn.Module):
    """``(B, C, H, W)`` -> ``(B, C, H, W)`` focal modulation (keys ``f``, ``h``, ``proj``,
    ``focal_layers.{l}.0`` and, with ``use_post_norm``, ``norm``: timm's).

    Args:
        dim: channels.
        focal_window: depthwise kernel of the first level.
        focal_level: number of local levels ``L`` (the global level comes on top).
        focal_factor: kernel growth per level (level ``l`` has ``focal_factor * l + focal_window``).
        bias: biases on ``f`` and ``h``.
        use_post_norm: normalise the modulated map before ``proj``.
        normalize_modulator: divide the gathered context by ``L + 1``.
        proj_drop: dropout after ``proj``.
        norm_layer: the post norm (channels-first).
    """

    def __init__(
        self,
        dim: int,
        focal_window: int,
        focal_level: int,
        focal_factor: int = 2,
        bias: bool = True,
        use_post_norm: bool = False,
        normalize_modulator: bool = False,
        proj_drop: float = 0.0,
        norm_layer: Callable[..., nn.Module] = LayerNorm2d,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if focal_level < 1:
            raise ValueError(f"focal_level must be at least 1, got {focal_level}")
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        self.dim = dim
        self.focal_window = focal_window
        self.focal_level = focal_level
        self.focal_factor = focal_factor
        self.use_post_norm = use_post_norm
        self.normalize_modulator = normalize_modulator
        self.input_split = [dim, dim, focal_level + 1]
        self.f = nn.Conv2d(dim, 2 * dim + focal_level + 1, 1, bias=bias, **dd)
        self.h = nn.Conv2d(dim, dim, 1, bias=bias, **dd)
        self.act = nn.GELU()
        self.proj = nn.Conv2d(dim, dim, 1, **dd)
        self.proj_drop = nn.Dropout(proj_drop)
        self.kernel_sizes = [focal_factor * level + focal_window for level in range(focal_level)]
        self.focal_layers = nn.ModuleList(
            nn.Sequential(nn.Conv2d(dim, dim, k, padding=k // 2, groups=dim, bias=False, **dd), nn.GELU())
            for k in self.kernel_sizes
        )
        norm_dd = dd if device is not None or dtype is not None else {}
        self.norm: nn.Module = norm_layer(dim, **norm_dd) if use_post_norm else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, ctx, gates = torch.split(self.f(x), self.input_split, 1)
        ctx_all = torch.zeros_like(q)
        for level, layer in enumerate(self.focal_layers):
            ctx = layer(ctx)
            ctx_all = ctx_all + ctx * gates[:, level : level + 1]
        ctx_global = self.act(ctx.mean((2, 3), keepdim=True))
        ctx_all = ctx_all + ctx_global * gates[:, self.focal_level :]
        if self.normalize_modulator:
            ctx_all = ctx_all / (self.focal_level + 1)
        out = self.norm(q * self.h(ctx_all))
        return self.proj_drop(self.proj(out))
