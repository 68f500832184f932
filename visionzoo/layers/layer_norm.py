"""LayerNorm over the channels of a feature map, for both memory layouts.

``LayerNorm`` normalises the last dim (channels-last ``(B, H, W, C)`` or tokens); ``LayerNorm2d``
normalises dim 1 of an ``(B, C, H, W)`` map. Both subclass ``nn.LayerNorm`` so their state-dict
keys (``weight``, ``bias``) stay those of a plain LayerNorm, and both default to ``eps=1e-6``
(the ConvNeXt / ViT value, not PyTorch's 1e-5).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LayerNorm", "LayerNorm2d"]


class LayerNorm(nn.LayerNorm):
    """LayerNorm over the last dim, taking the channel count first."""

    def __init__(self, num_channels: int, eps: float = 1e-6, affine: bool = True) -> None:
        super().__init__(num_channels, eps=eps, elementwise_affine=affine)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels (dim 1) of ``(B, C, H, W)`` maps.

    The map is viewed channels-last for ``F.layer_norm`` and viewed back: two free permutes on a
    channels-last tensor, and the fastest kernel PyTorch has for this reduction on the others.
    """

    def __init__(self, num_channels: int, eps: float = 1e-6, affine: bool = True) -> None:
        super().__init__(num_channels, eps=eps, elementwise_affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)
