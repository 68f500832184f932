"""Attention biases learned per head and per query-key offset ``(|dy|, |dx|)`` on a fixed grid
(LeViT, TinyViT): a table of ``H * W`` values per head, gathered into the ``(heads, Nq, Nk)`` bias
added to the attention logits.

Papers: `LeViT` - https://arxiv.org/abs/2104.01136, `TinyViT` - https://arxiv.org/abs/2207.10666.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["OffsetBiasedAttention", "attention_bias_index", "resize_offset_bias_table"]


def attention_bias_index(
    resolution: tuple[int, int], stride: int = 1, device: torch.device | str | None = None
) -> torch.Tensor:
    """``(Nq, Nk)`` index of the bias for each query-key pair: ``|dy| * W + |dx|``, the
    absolute offset between query ``(y, x)`` (every ``stride``-th row and column of the
    ``(H, W)`` grid) and key ``(y', x')`` (every position), both in row-major order."""
    h, w = resolution

    def grid(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        ys = torch.arange(0, h, step, device=device)
        xs = torch.arange(0, w, step, device=device)
        return ys.repeat_interleave(len(xs)), xs.repeat(len(ys))

    qy, qx = grid(stride)
    ky, kx = grid(1)
    return (qy[:, None] - ky[None, :]).abs() * w + (qx[:, None] - kx[None, :]).abs()


class OffsetBiasedAttention(nn.Module):
    """A learned bias per head and query-key offset (``attention_biases``, ``(heads, H * W)``),
    gathered by the ``attention_bias_idxs`` table (computed, not saved). In eval the gathered
    ``(heads, Nq, Nk)`` bias is cached per device; switching mode, moving the module or loading
    weights drops the cache."""

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        attention_bias_idxs: torch.Tensor
        attention_bias_cache: dict[str, torch.Tensor]

    # NOTE: TorchScript needs the cache's type (an empty dict has none) and cannot read the string
    # annotations of this module, so it is given as a real one
    __annotations__ = {"attention_bias_cache": dict[str, torch.Tensor]}

    def _init_bias(
        self, num_heads: int, resolution: tuple[int, int], stride: int, dd: dict[str, Any]
    ) -> None:
        self.resolution = resolution
        self.bias_stride = stride
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, resolution[0] * resolution[1], **dd))
        index = attention_bias_index(resolution, stride, device=dd["device"])
        self.register_buffer("attention_bias_idxs", index, persistent=False)
        self.attention_bias_cache = {}
        self._register_load_state_dict_pre_hook(self._drop_cache)

    def _drop_cache(self, *args: Any, **kwargs: Any) -> None:
        self.attention_bias_cache = {}

    def init_non_persistent_buffers(self) -> None:
        idxs = self.attention_bias_idxs
        idxs.copy_(attention_bias_index(self.resolution, self.bias_stride, device=idxs.device))
        self.attention_bias_cache = {}

    def train(self, mode: bool = True) -> OffsetBiasedAttention:
        self.attention_bias_cache = {}
        return super().train(mode)

    def _apply(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.attention_bias_cache = {}
        return super()._apply(fn, *args, **kwargs)

    def get_attention_biases(self, device: torch.device) -> torch.Tensor:
        """``(heads, Nq, Nk)``: gathered each call in training (and while tracing), cached in eval."""
        if self.training or torch.jit.is_tracing():
            return self.attention_biases[:, self.attention_bias_idxs]
        if torch.jit.is_scripting():
            return self._cached_biases(device)
        return self._eager_biases(device)

    @torch.jit.unused
    def _eager_biases(self, device: torch.device) -> torch.Tensor:
        if isinstance(self.attention_biases, torch.fx.Proxy):  # an FX graph node: never cached
            return self.attention_biases[:, self.attention_bias_idxs]
        return self._cached_biases(device)

    def _cached_biases(self, device: torch.device) -> torch.Tensor:
        key = str(device)
        if key not in self.attention_bias_cache:
            self.attention_bias_cache[key] = self.attention_biases[:, self.attention_bias_idxs]
        return self.attention_bias_cache[key]


def resize_offset_bias_table(
    biases: torch.Tensor, num_offsets: int, *, interpolation: str = "bicubic", antialias: bool = True
) -> torch.Tensor:
    """Resample an offset-bias table ``(heads, S1 * S1)`` (``attention_biases``) to ``(heads,
    num_offsets)``, ``num_offsets = S2 * S2``, as an ``S1 x S1`` image per head (square grids): a
    checkpoint for one window size loaded into another. The same table comes back where the sizes
    agree."""
    heads, old_len = biases.shape
    if old_len == num_offsets:
        return biases
    old_side, new_side = math.isqrt(old_len), math.isqrt(num_offsets)
    if old_side * old_side != old_len or new_side * new_side != num_offsets:
        raise ValueError(f"offset tables of square grids only: {old_len} -> {num_offsets} offsets")
    grid = biases.float().reshape(1, heads, old_side, old_side)
    grid = F.interpolate(grid, size=(new_side, new_side), mode=interpolation, antialias=antialias)
    return grid.reshape(heads, num_offsets).to(biases.dtype)
