"""LayerNorm over the channels of NCHW maps, plain and fused with an activation."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .activations import LayerType, create_act_layer

__all__ = ["LayerNorm2d", "LayerNormAct2d"]


def _channel_layer_norm(x: torch.Tensor, norm: nn.LayerNorm) -> torch.Tensor:
    x = F.layer_norm(x.permute(0, 2, 3, 1), norm.normalized_shape, norm.weight, norm.bias, norm.eps)
    return x.permute(0, 3, 1, 2)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm of each pixel's channel vector (keys ``weight``/``bias`` as ``nn.LayerNorm``)."""

    def __init__(self, num_channels: int, eps: float = 1e-6, affine: bool = True) -> None:
        super().__init__(num_channels, eps=eps, elementwise_affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _channel_layer_norm(x, self)


class LayerNormAct2d(nn.LayerNorm):
    """Channel LayerNorm, optional drop layer, activation: a norm+act layer for block builders."""

    def __init__(
        self,
        num_channels: int,
        eps: float = 1e-5,
        affine: bool = True,
        *,
        apply_act: bool = True,
        act_layer: LayerType | None = nn.ReLU,
        act_kwargs: dict[str, Any] | None = None,
        inplace: bool = True,
        drop_layer: Callable[[], nn.Module] | None = None,
    ) -> None:
        super().__init__(num_channels, eps=eps, elementwise_affine=affine)
        self.drop = drop_layer() if drop_layer is not None else nn.Identity()
        self.act = create_act_layer(act_layer if apply_act else None, inplace=inplace, **(act_kwargs or {}))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.drop(_channel_layer_norm(x, self)))
