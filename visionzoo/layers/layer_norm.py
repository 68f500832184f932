"""LayerNorm over the channels of a feature map, for both memory layouts.

``LayerNorm`` normalises the last dim (channels-last ``(B, H, W, C)`` or tokens); ``LayerNorm2d``
normalises dim 1 of an ``(B, C, H, W)`` map. Both subclass ``nn.LayerNorm`` so their state-dict
keys (``weight``, ``bias``) stay those of a plain LayerNorm, and both default to ``eps=1e-6``
(the ConvNeXt / ViT value, not PyTorch's 1e-5).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .activations import LayerType, act_or_identity

__all__ = ["LayerNorm", "LayerNorm2d", "LayerNormAct2d"]


class LayerNorm(nn.LayerNorm):
    """LayerNorm over the last dim, taking the channel count first."""

    def __init__(self, num_channels: int, eps: float = 1e-6, affine: bool = True, **kwargs: Any) -> None:
        # NOTE: kwargs go to nn.LayerNorm as timm's do (device, dtype, bias); a typo raises there
        super().__init__(num_channels, eps=eps, elementwise_affine=affine, **kwargs)


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels (dim 1) of ``(B, C, H, W)`` maps.

    The map is viewed channels-last for ``F.layer_norm`` and viewed back: two free permutes on a
    channels-last tensor, and the fastest kernel PyTorch has for this reduction on the others.
    """

    def __init__(self, num_channels: int, eps: float = 1e-6, affine: bool = True, **kwargs: Any) -> None:
        # NOTE: kwargs go to nn.LayerNorm as timm's do (device, dtype, bias); a typo raises there
        super().__init__(num_channels, eps=eps, elementwise_affine=affine, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class LayerNormAct2d(nn.LayerNorm):
    """:class:`LayerNorm2d` (PyTorch's ``eps=1e-5``), optional drop layer, then an activation:
    the norm+act layer block builders take for ``norm_layer``."""

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
        self.act = act_or_identity(act_layer if apply_act else None, inplace=inplace, **(act_kwargs or {}))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias, self.eps)
        return self.act(self.drop(x.permute(0, 3, 1, 2)))
