"""Two-layer MLPs: ``fc1 -> act -> [norm] -> fc2``, as ``nn.Linear`` on channels-last input or
as 1x1 convs on ``(B, C, H, W)`` maps (``use_conv``); keys ``fc1.*`` / ``fc2.*`` either way."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .activations import LayerType, act_or_identity
from .grn import GlobalResponseNorm

__all__ = ["GlobalResponseNormMlp", "Mlp"]


def _linear(in_features: int, out_features: int, *, use_conv: bool, bias: bool = True) -> nn.Module:
    if use_conv:
        return nn.Conv2d(in_features, out_features, 1, bias=bias)
    return nn.Linear(in_features, out_features, bias=bias)


class Mlp(nn.Module):
    """``fc1 -> act -> drop -> norm -> fc2 -> drop`` (``norm`` optional, on the hidden width)."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int | None = None,
        out_features: int | None = None,
        *,
        act_layer: LayerType = "gelu",
        norm_layer: Callable[[int], nn.Module] | None = None,
        bias: bool = True,
        drop: float = 0.0,
        use_conv: bool = False,
    ) -> None:
        super().__init__()
        hidden = hidden_features or in_features
        self.fc1 = _linear(in_features, hidden, use_conv=use_conv, bias=bias)
        self.act = act_or_identity(act_layer)
        self.drop1 = nn.Dropout(drop)
        self.norm = norm_layer(hidden) if norm_layer is not None else nn.Identity()
        self.fc2 = _linear(hidden, out_features or in_features, use_conv=use_conv, bias=bias)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(self.drop1(self.act(self.fc1(x))))
        return self.drop2(self.fc2(x))


class GlobalResponseNormMlp(nn.Module):
    """``fc1 -> act -> drop -> GRN -> fc2 -> drop``: the ConvNeXt-V2 block MLP."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int | None = None,
        out_features: int | None = None,
        *,
        act_layer: LayerType = "gelu",
        bias: bool = True,
        drop: float = 0.0,
        use_conv: bool = False,
    ) -> None:
        super().__init__()
        hidden = hidden_features or in_features
        self.fc1 = _linear(in_features, hidden, use_conv=use_conv, bias=bias)
        self.act = act_or_identity(act_layer)
        self.drop1 = nn.Dropout(drop)
        self.grn = GlobalResponseNorm(hidden, channels_last=not use_conv)
        self.fc2 = _linear(hidden, out_features or in_features, use_conv=use_conv, bias=bias)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.grn(self.drop1(self.act(self.fc1(x))))
        return self.drop2(self.fc2(x))
