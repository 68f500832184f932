"""Efficient Channel Attention: a 1D conv across pooled channels instead of an MLP.

Paper: `ECA-Net: Efficient Channel Attention for Deep Convolutional Neural Networks`
- https://arxiv.org/abs/1910.03151
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .activations import LayerType, act_or_identity

__all__ = ["EcaModule", "EfficientChannelAttn"]


class EcaModule(nn.Module):
    """ECA gate; with ``channels`` given the kernel size adapts to ``log2(channels)``.

    Args:
        channels: channels of the input, sets the adaptive kernel size.
        kernel_size: odd kernel size used when ``channels`` is None.
        gamma, beta: constants of the adaptive kernel-size rule.
    """

    def __init__(
        self,
        channels: int | None = None,
        kernel_size: int = 3,
        gamma: float = 2,
        beta: float = 1,
        *,
        gate_layer: LayerType = "sigmoid",
    ) -> None:
        super().__init__()
        if channels is not None:
            t = int(abs(math.log(channels, 2) + beta) / gamma)
            kernel_size = max(t if t % 2 else t + 1, 3)
        if kernel_size % 2 != 1:
            raise ValueError(f"ECA kernel_size must be odd, got {kernel_size}")
        self.conv = nn.Conv1d(1, 1, kernel_size=kernel_size, padding=(kernel_size - 1) // 2, bias=False)
        self.gate = act_or_identity(gate_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x.mean((2, 3)).view(x.shape[0], 1, -1)
        y = self.gate(self.conv(y)).view(x.shape[0], -1, 1, 1)
        return x * y


EfficientChannelAttn = EcaModule  # NOTE: timm's alias
