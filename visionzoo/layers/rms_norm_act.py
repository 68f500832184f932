"""RMSNorm over the channels of ``(B, C, H, W)`` maps fused with an activation (MobileNetV5's
norm-act layer): :func:`~visionzoo.layers.norm_act.get_norm_act_layer`'s fused form of
:class:`~visionzoo.layers.RmsNorm2d`.

Paper: `Root Mean Square Layer Normalization` - https://arxiv.org/abs/1910.07467
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .activations import LayerType, act_or_identity
from .rms_norm import RmsNorm2d

__all__ = ["RmsNormAct2d"]


class RmsNormAct2d(RmsNorm2d):
    """``act(drop(x * rsqrt(mean_c(x^2) + eps) * weight))`` on NCHW maps (keys: ``weight``)."""

    def __init__(
        self,
        num_channels: int,
        eps: float = 1e-6,
        affine: bool = True,
        apply_act: bool = True,
        act_layer: LayerType | None = nn.ReLU,
        act_kwargs: dict[str, Any] | None = None,
        inplace: bool = True,
        drop_layer: Callable[[], nn.Module] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(num_channels, eps=eps, affine=affine, device=device, dtype=dtype)
        self.drop = drop_layer() if drop_layer is not None else nn.Identity()
        self.act = act_or_identity(act_layer if apply_act else None, inplace=inplace, **(act_kwargs or {}))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # NOTE: RmsNorm2d's formula written out: TorchScript cannot call super()
        x = self._scale(x * torch.rsqrt(x.pow(2).mean(1, keepdim=True) + self.eps), 1)
        return self.act(self.drop(x))
