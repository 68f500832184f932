"""Attention biases indexed by the query-key offset (LeViT's, also EfficientViT (MSRA)'s): one
learned bias per head for each absolute offset ``(|dy|, |dx|)`` on a ``(H, W)`` grid, gathered into
a ``(heads, Nq, Nk)`` bias by an index table computed from the grid (not saved), and a resize of the
bias table for another grid.

Paper: `LeViT: a Vision Transformer in ConvNet's Clothing for Faster Inference` -
https://arxiv.org/abs/2104.01136
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["BiasedAttention", "attention_bias_index", "resize_rel_pos_bias_table_levit"]


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


class BiasedAttention(nn.Module):
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
        self,
        num_heads: int,
        resolution: tuple[int, int],
        stride: int,
        dd: dict[str, Any],
        *,
        persistent_index: bool = False,
    ) -> None:
        """``persistent_index``: the index is saved in the state dict (EfficientFormer's keys)."""
        self.resolution = resolution
        self.bias_stride = stride
        self.persistent_index = persistent_index
        self.attention_biases = nn.Parameter(torch.zeros(num_heads, resolution[0] * resolution[1], **dd))
        index = attention_bias_index(resolution, stride, device=dd["device"])
        self.register_buffer("attention_bias_idxs", index, persistent=persistent_index)
        self.attention_bias_cache = {}
        self._register_load_state_dict_pre_hook(self._drop_cache)

    def set_bias_resolution(self, resolution: tuple[int, int]) -> None:
        """Follow another (square) grid: the bias table is resampled as an image per head
        (:func:`resize_rel_pos_bias_table_levit`), the index recomputed."""
        if tuple(resolution) == tuple(self.resolution):
            return
        with torch.no_grad():
            table = resize_offset_bias_table(self.attention_biases, resolution[0] * resolution[1])
        self.attention_biases = nn.Parameter(table, requires_grad=self.attention_biases.requires_grad)
        self.resolution = (int(resolution[0]), int(resolution[1]))
        index = attention_bias_index(
            self.resolution, self.bias_stride, device=self.attention_bias_idxs.device
        )
        self.register_buffer("attention_bias_idxs", index, persistent=self.persistent_index)
        self.attention_bias_cache = {}

    def _drop_cache(self, *args: Any, **kwargs: Any) -> None:
        self.attention_bias_cache = {}

    def init_non_persistent_buffers(self) -> None:
        idxs = self.attention_bias_idxs
        idxs.copy_(attention_bias_index(self.resolution, self.bias_stride, device=idxs.device))
        self.attention_bias_cache = {}

    # NOTE: typed nn.Module: TorchScript, compiling a subclass in another module, cannot resolve
    # this class by name
    def train(self, mode: bool = True) -> nn.Module:  # type: ignore[override]
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


def resize_rel_pos_bias_table_levit(
    position_bias_table: torch.Tensor,
    new_size: tuple[int, int],
    interpolation: str = "bicubic",
    antialias: bool = True,
) -> torch.Tensor:
    """Resample an offset bias table ``(S1 * S1, heads)`` to ``new_size = (S2 * S2, heads)`` as
    a ``S1 x S1`` image per head (square grids; the table is returned as is where the sizes match).

    Args:
        position_bias_table: ``(L1, heads)``, ``L1`` a square.
        new_size: ``(L2, heads)``, ``L2`` a square; the head counts must match.
        interpolation: ``F.interpolate`` mode.
        antialias: antialias when shrinking.

    Returns:
        ``(L2, heads)`` in the table's dtype (computed in float32).
    """
    old_len, heads = position_bias_table.shape
    new_len, new_heads = new_size
    if heads != new_heads:
        raise ValueError(f"the bias table has {heads} heads, the new size {new_size} asks for {new_heads}")
    if old_len == new_len:
        return position_bias_table
    old_side, new_side = int(old_len**0.5), int(new_len**0.5)
    if old_side * old_side != old_len or new_side * new_side != new_len:
        raise ValueError(f"bias tables of square grids only: {old_len} -> {new_len} offsets")
    image = position_bias_table.float().permute(1, 0).reshape(1, heads, old_side, old_side)
    image = F.interpolate(image, size=(new_side, new_side), mode=interpolation, antialias=antialias)
    return image.reshape(heads, new_len).permute(1, 0).to(position_bias_table.dtype)


def resize_offset_bias_table(
    biases: torch.Tensor, num_offsets: int, *, interpolation: str = "bicubic", antialias: bool = True
) -> torch.Tensor:
    """:func:`resize_rel_pos_bias_table_levit` for a heads-first table ``(heads, S1 * S1)`` (the
    ``attention_biases`` parameter itself) -> ``(heads, num_offsets)``; the same table where the
    sizes agree."""
    heads, old_len = biases.shape
    if old_len == num_offsets:
        return biases
    table = resize_rel_pos_bias_table_levit(
        biases.T, (num_offsets, heads), interpolation=interpolation, antialias=antialias
    )
    return table.T.contiguous()
