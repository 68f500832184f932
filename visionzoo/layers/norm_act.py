"""Normalisation fused with its activation in one module.

``BatchNormAct2d`` subclasses ``nn.BatchNorm2d`` so its state-dict keys stay those of a plain
batch norm (``bn.weight``, ``bn.running_mean``...): checkpoints trained with separate norm and
activation layers load unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import nn

from .activations import LayerType, create_act_layer
from .evo_norm import EvoNorm2dS0
from .filter_response_norm import FilterResponseNormTlu2d
from .norm import GroupNorm, get_norm_layer

__all__ = ["BatchNormAct2d", "GroupNormAct", "get_norm_act_layer", "register_norm_act"]


class BatchNormAct2d(nn.BatchNorm2d):
    """BatchNorm2d, then optional drop layer, then activation."""

    def __init__(
        self,
        num_features: int,
        eps: float = 1e-5,
        momentum: float = 0.1,
        affine: bool = True,
        track_running_stats: bool = True,
        *,
        apply_act: bool = True,
        act_layer: LayerType | None = nn.ReLU,
        act_kwargs: dict[str, Any] | None = None,
        inplace: bool = True,
        drop_layer: Callable[[], nn.Module] | None = None,
    ) -> None:
        super().__init__(
            num_features, eps=eps, momentum=momentum, affine=affine, track_running_stats=track_running_stats
        )
        self.drop = drop_layer() if drop_layer is not None else nn.Identity()
        act = act_layer if apply_act else None
        self.act = create_act_layer(act, inplace=inplace, **(act_kwargs or {}))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.drop(super().forward(x)))


class GroupNormAct(GroupNorm):
    """GroupNorm (32 groups by default), then activation."""

    def __init__(
        self,
        num_channels: int,
        num_groups: int = 32,
        eps: float = 1e-5,
        affine: bool = True,
        *,
        apply_act: bool = True,
        act_layer: LayerType | None = nn.ReLU,
        act_kwargs: dict[str, Any] | None = None,
        inplace: bool = True,
        drop_layer: Callable[[], nn.Module] | None = None,
    ) -> None:
        super().__init__(num_channels, num_groups=num_groups, eps=eps, affine=affine)
        self.drop = drop_layer() if drop_layer is not None else nn.Identity()
        act = act_layer if apply_act else None
        self.act = create_act_layer(act, inplace=inplace, **(act_kwargs or {}))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.drop(super().forward(x)))


_NORM_ACT: dict[type[nn.Module] | str, Callable[..., nn.Module]] = {
    nn.BatchNorm2d: BatchNormAct2d,
    GroupNorm: GroupNormAct,
    "batchnorm": BatchNormAct2d,
    "batchnorm2d": BatchNormAct2d,
    "groupnorm": GroupNormAct,
    EvoNorm2dS0: EvoNorm2dS0,
    FilterResponseNormTlu2d: FilterResponseNormTlu2d,
    "evonorm2ds0": EvoNorm2dS0,
    "frn": FilterResponseNormTlu2d,
}
# Norms whose non-linearity is part of the norm itself: they are used as given, with no act_layer.
_BUILTIN_ACT: tuple[Callable[..., nn.Module], ...] = (EvoNorm2dS0, FilterResponseNormTlu2d)


def register_norm_act(key: type[nn.Module] | str, layer: Callable[..., nn.Module]) -> None:
    """Map a norm layer (or name) to its fused norm+act module."""
    _NORM_ACT[key] = layer


def get_norm_act_layer(
    norm_layer: LayerType | None, act_layer: LayerType | None = None
) -> Callable[..., nn.Module] | None:
    """The fused norm+act module for ``norm_layer``, with ``act_layer`` bound as its activation."""
    if not norm_layer:
        return None
    kwargs: dict[str, Any] = {}
    if isinstance(norm_layer, partial):
        kwargs.update(norm_layer.keywords)
        norm_layer = norm_layer.func
    if isinstance(norm_layer, str):
        key = norm_layer.replace("_", "").lower()
        layer = _NORM_ACT.get(key)
        if layer is None:  # a plain norm name whose class has a fused form
            base = get_norm_layer(key)
            layer = _NORM_ACT.get(base) if isinstance(base, type) else None
    elif norm_layer in _NORM_ACT.values():
        layer = norm_layer
    else:
        layer = _NORM_ACT.get(norm_layer)  # type: ignore[arg-type]
    if layer is None:
        raise ValueError(f"no fused norm+act layer for {norm_layer!r}")
    if layer not in _BUILTIN_ACT:
        kwargs.setdefault("act_layer", act_layer)
    return partial(layer, **kwargs)
