"""Squeeze-and-Excitation channel attention.

Paper: `Squeeze-and-Excitation Networks` - https://arxiv.org/abs/1709.01507
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .activations import LayerType, act_or_identity
from .helpers import make_divisible

__all__ = ["EffectiveSEModule", "EffectiveSqueezeExcite", "SEModule", "SqueezeExcite"]


class SEModule(nn.Module):
    """Global-average squeeze, two 1x1 convs, sigmoid gate on the channels.

    Args:
        channels: input (and output) channels.
        rd_ratio: reduction ratio for the hidden width (ignored if ``rd_channels``).
        rd_channels: hidden width.
        rd_divisor: hidden width is rounded to a multiple of this.
        add_maxpool: average the mean and max squeezes.
    """

    def __init__(
        self,
        channels: int,
        rd_ratio: float = 1.0 / 16,
        rd_channels: int | None = None,
        rd_divisor: int = 8,
        *,
        add_maxpool: bool = False,
        bias: bool = True,
        act_layer: LayerType = nn.ReLU,
        norm_layer: type[nn.Module] | None = None,
        gate_layer: LayerType = "sigmoid",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.add_maxpool = add_maxpool
        if not rd_channels:
            rd_channels = make_divisible(channels * rd_ratio, rd_divisor, round_limit=0.0)
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        self.fc1 = nn.Conv2d(channels, rd_channels, kernel_size=1, bias=bias, **dd)
        # NOTE: device/dtype reach the norm only when set, so norm factories without them work
        norm_dd = dd if device is not None or dtype is not None else {}
        self.bn = norm_layer(rd_channels, **norm_dd) if norm_layer else nn.Identity()
        self.act = act_or_identity(act_layer, inplace=True)
        self.fc2 = nn.Conv2d(rd_channels, channels, kernel_size=1, bias=bias, **dd)
        self.gate = act_or_identity(gate_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        if self.add_maxpool:
            s = 0.5 * s + 0.5 * x.amax((2, 3), keepdim=True)
        s = self.fc2(self.act(self.bn(self.fc1(s))))
        return x * self.gate(s)


SqueezeExcite = SEModule  # NOTE: timm's alias


class EffectiveSEModule(nn.Module):
    """'Effective' SE (CenterMask, https://arxiv.org/abs/1911.06667): one full-width 1x1 conv
    instead of SE's reduce / expand pair, so no channel information is lost in the squeeze; a
    hard-sigmoid gate by default.

    Args:
        channels: input (and output) channels.
        add_maxpool: average the mean and max squeezes.
        gate_layer: the gate's activation.
    """

    def __init__(
        self,
        channels: int,
        add_maxpool: bool = False,
        gate_layer: LayerType = "hard_sigmoid",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        **_: Any,
    ) -> None:
        super().__init__()
        self.add_maxpool = add_maxpool
        self.fc = nn.Conv2d(channels, channels, kernel_size=1, device=device, dtype=dtype)
        self.gate = act_or_identity(gate_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = x.mean((2, 3), keepdim=True)
        if self.add_maxpool:
            s = 0.5 * s + 0.5 * x.amax((2, 3), keepdim=True)
        return x * self.gate(self.fc(s))


EffectiveSqueezeExcite = EffectiveSEModule  # NOTE: timm's alias
