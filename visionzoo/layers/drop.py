"""Regularisers: DropPath (stochastic depth) and DropBlock.

Papers: `Deep Networks with Stochastic Depth` - https://arxiv.org/abs/1603.09382;
`DropBlock: A regularization method for convolutional networks` - https://arxiv.org/abs/1810.12890
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["DropBlock2d", "DropPath", "drop_block_2d", "drop_path"]


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
    batchwise: bool = False,
    *,
    training: bool = True,
    couple_channels: bool = True,
    scale_by_keep: bool = True,
) -> torch.Tensor:
    """Functional :class:`DropBlock2d` (timm's signature; ``with_noise``/``inplace``/``batchwise``
    are accepted and must stay False: this implementation has only the plain form)."""
    for name, flag in (("with_noise", with_noise), ("inplace", inplace), ("batchwise", batchwise)):
        if flag:
            raise ValueError(f"drop_block_2d: {name}=True is not supported")
    block = DropBlock2d(
        drop_prob, block_size, gamma_scale, couple_channels=couple_channels, scale_by_keep=scale_by_keep
    )
    return block.train(training)(x)


class DropBlock2d(nn.Module):
    """Drop contiguous ``block_size`` squares of a feature map (training only)."""

    def __init__(
        self,
        drop_prob: float = 0.1,
        block_size: int = 7,
        gamma_scale: float = 1.0,
        *,
        couple_channels: bool = True,
        scale_by_keep: bool = True,
    ) -> None:
        super().__init__()
        self.drop_prob = drop_prob
        self.block_size = block_size
        self.gamma_scale = gamma_scale
        self.couple_channels = couple_channels
        self.scale_by_keep = scale_by_keep

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not self.drop_prob:
            return x
        b, c, h, w = x.shape
        kh, kw = min(self.block_size, h), min(self.block_size, w)
        # seed rate so that about drop_prob of the area ends up dropped once blocks are grown
        gamma = self.gamma_scale * self.drop_prob * h * w / (kh * kw) / ((h - kh + 1) * (w - kw + 1))
        with torch.no_grad():
            seeds = torch.empty(
                (b, 1 if self.couple_channels else c, h, w), dtype=x.dtype, device=x.device
            ).bernoulli_(gamma)
            blocks = F.max_pool2d(seeds, (kh, kw), stride=1, padding=(kh // 2, kw // 2))
            if kh % 2 == 0 or kw % 2 == 0:
                blocks = blocks[..., (kh + 1) % 2 :, (kw + 1) % 2 :]
            keep = 1.0 - blocks
            if self.scale_by_keep:
                keep.mul_((keep.numel() / keep.float().sum().add(1e-7)).to(x.dtype))
        return x * keep
