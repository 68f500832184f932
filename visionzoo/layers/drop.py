"""Regularisers: DropPath (stochastic depth) and DropBlock.

Papers: `Deep Networks with Stochastic Depth` - https://arxiv.org/abs/1603.09382;
`DropBlock: A regularization method for convolutional networks` - https://arxiv.org/abs/1810.12890
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DropBlock2d", "DropPath", "calculate_drop_path_rates", "drop_block_2d", "drop_path"]


def drop_path(
    x: torch.Tensor, drop_prob: float = 0.0, training: bool = False, scale_by_keep: bool = True
) -> torch.Tensor:
    """Zero whole samples of a residual branch with probability ``drop_prob``."""
    if drop_prob == 0.0 or not training:
        return x
    keep = 1.0 - drop_prob
    mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
    if keep > 0.0 and scale_by_keep:
        mask.div_(keep)
    return x * mask


def calculate_drop_path_rates(
    drop_path_rate: float, depths: int | list[int], stagewise: bool = False
) -> list[float] | list[list[float]]:
    """Stochastic-depth rates rising linearly from 0 to ``drop_path_rate`` over all blocks.

    ``depths`` an int: one rate per block. A list of stage depths: the same per-block rates, one
    list per stage with ``stagewise`` (else flat).
    """
    if isinstance(depths, int):
        if stagewise:
            raise ValueError("stagewise=True needs a list of stage depths")
        return [x.item() for x in torch.linspace(0, drop_path_rate, depths, device="cpu")]
    rates = torch.linspace(0, drop_path_rate, sum(depths), device="cpu")
    if stagewise:
        return [r.tolist() for r in rates.split(list(depths))]
    return [x.item() for x in rates]


class DropPath(nn.Module):
    def __init__(self, drop_prob: float = 0.0, scale_by_keep: bool = True) -> None:
        super().__init__()
        self.drop_prob = drop_prob
        self.scale_by_keep = scale_by_keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.drop_prob, self.training, self.scale_by_keep)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob:.3f}"


def drop_block_2d(
    x: torch.Tensor,
    drop_prob: float = 0.1,
    block_size: int = 7,
    gamma_scale: float = 1.0,
    with_noise: bool = False,
    inplace: bool = False,
    couple_channels: bool = True,
    scale_by_keep: bool = True,
    *,
    batchwise: bool = False,
) -> torch.Tensor:
    """Drop contiguous ``block_size`` squares of ``x`` (B, C, H, W); always applies (no training flag).

    Args:
        with_noise: fill the dropped squares with unit gaussian noise instead of zeros (no rescale).
        inplace: write the result into ``x``.
        couple_channels: one mask shared by all channels (the paper's form) or one per channel.
        scale_by_keep: rescale kept activations so the expected sum is unchanged.
        batchwise: accepted for code written against timm < 1.0.23 and ignored (the mask is always
            drawn for the whole batch at once).

    Returns:
        A tensor shaped like ``x`` (``x`` itself when ``inplace``).
    """
    del batchwise  # NOTE: timm removed it in 1.0.23; only the draw order changed, not the result
    _, c, h, w = x.shape
    kh, kw = min(block_size, h), min(block_size, w)
    # seed rate so that about drop_prob of the area ends up dropped once blocks are grown
    gamma = float(gamma_scale * drop_prob * h * w) / float(kh * kw) / float((h - kh + 1) * (w - kw + 1))
    with torch.no_grad():
        seeds = torch.empty(
            (x.shape[0], 1 if couple_channels else c, h, w), dtype=x.dtype, device=x.device
        ).bernoulli_(gamma)
        blocks = F.max_pool2d(seeds, (kh, kw), stride=1, padding=(kh // 2, kw // 2))
        if kh % 2 == 0 or kw % 2 == 0:
            # max_pool2d grows an even kernel's output by one; crop as timm does
            blocks = blocks[..., (kh + 1) % 2 :, (kw + 1) % 2 :]
        keep = 1.0 - blocks
    if with_noise:
        with torch.no_grad():
            noise = torch.empty_like(keep).normal_().mul_(blocks)
        return x.mul_(keep).add_(noise) if inplace else x * keep + noise
    if scale_by_keep:
        with torch.no_grad():
            keep.mul_((keep.numel() / keep.to(torch.float32).sum().add(1e-7)).to(x.dtype))
    return x.mul_(keep) if inplace else x * keep


# NOTE: timm 1.0.23 removed these DropBlock2d arguments and still accepts them silently
_REMOVED_DROP_BLOCK_ARGS = frozenset({"batchwise", "fast"})


class DropBlock2d(nn.Module):
    """Drop contiguous ``block_size`` squares of a feature map (training only).

    Unknown keyword arguments warn rather than raise, as timm's do, so configs written for older
    timm versions still build; ``batchwise`` and ``fast`` (removed in timm 1.0.23) are ignored.
    """

    def __init__(
        self,
        drop_prob: float = 0.1,
        block_size: int = 7,
        gamma_scale: float = 1.0,
        with_noise: bool = False,
        inplace: bool = False,
        couple_channels: bool = True,
        scale_by_keep: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        self.drop_prob = drop_prob
        self.block_size = block_size
        self.gamma_scale = gamma_scale
        self.with_noise = with_noise
        self.inplace = inplace
        self.couple_channels = couple_channels
        self.scale_by_keep = scale_by_keep
        for name in kwargs:
            if name not in _REMOVED_DROP_BLOCK_ARGS:
                warnings.warn(f"DropBlock2d() got unexpected keyword argument '{name}'", stacklevel=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not self.drop_prob:
            return x
        return drop_block_2d(
            x,
            self.drop_prob,
            self.block_size,
            self.gamma_scale,
            self.with_noise,
            self.inplace,
            self.couple_channels,
            self.scale_by_keep,
        )
