"""Efficient Channel Attention: a 1D conv across pooled channels instead of an MLP.

Paper: `ECA-Net: Efficient Channel Attention for Deep Convolutional Neural Networks`
- https://arxiv.org/abs/1910.03151
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from .activations import LayerType, act_or_identity
from .helpers import make_divisible

__all__ = ["EcaModule", "EfficientChannelAttn"]


class EcaModule(nn.Module):
    """ECA gate; with ``channels`` given the kernel size adapts to ``log2(channels)``.

    Args:
        channels: channels of the input, sets the adaptive kernel size.
        kernel_size: odd kernel size used when ``channels`` is None.
        gamma, beta: constants of the adaptive kernel-size rule.
        act_layer: activation between the two convs of ``use_mlp`` (default ReLU).
        gate_layer: the gate's non-linearity.
        rd_ratio, rd_channels, rd_divisor: hidden width of ``use_mlp``.
        use_mlp: timm's experiment (not in the paper): a 1x1 conv to ``rd_channels``, ``act_layer``,
            then the ECA conv back to one channel, both with bias (keys ``conv``, ``conv2``).
    """

    def __init__(
        self,
        channels: int | None = None,
        kernel_size: int = 3,
        gamma: float = 2,
        beta: float = 1,
        act_layer: LayerType | None = None,
        gate_layer: LayerType = "sigmoid",
        rd_ratio: float = 1 / 8,
        rd_channels: int | None = None,
        rd_divisor: int = 8,
        use_mlp: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        if channels is not None:
            t = int(abs(math.log(channels, 2) + beta) / gamma)
            kernel_size = max(t if t % 2 else t + 1, 3)
        if kernel_size % 2 != 1:
            raise ValueError(f"ECA kernel_size must be odd, got {kernel_size}")
        padding = (kernel_size - 1) // 2
        self.act: nn.Module | None = None
        self.conv2: nn.Module | None = None
        if use_mlp:
            if channels is None:
                raise ValueError("EcaModule(use_mlp=True) needs channels")
            if rd_channels is None:
                rd_channels = make_divisible(channels * rd_ratio, rd_divisor)
            self.conv = nn.Conv1d(1, rd_channels, kernel_size=1, padding=0, bias=True, **dd)
            self.act = act_or_identity(act_layer or nn.ReLU)
            self.conv2 = nn.Conv1d(rd_channels, 1, kernel_size=kernel_size, padding=padding, bias=True, **dd)
        else:
            self.conv = nn.Conv1d(1, 1, kernel_size=kernel_size, padding=padding, bias=False, **dd)
        self.gate = act_or_identity(gate_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x.mean((2, 3)).view(x.shape[0], 1, -1))
        if self.conv2 is not None and self.act is not None:
            y = self.conv2(self.act(y))
        y = self.gate(y).view(x.shape[0], -1, 1, 1)
        return x * y


EfficientChannelAttn = EcaModule  # NOTE: timm's alias
