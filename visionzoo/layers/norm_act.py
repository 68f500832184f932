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
import torch.nn.functional as F
from torch import nn

from .activations import LayerType, act_or_identity
from .evo_norm import EvoNorm2dS0, EvoNorm2dS0a
from .filter_response_norm import FilterResponseNormTlu2d
from .layer_norm import LayerNormAct2d
from .norm import GroupNorm, get_norm_layer
from .rms_norm import RmsNorm2d
from .rms_norm_act import RmsNormAct2d

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
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(
            num_features,
            eps=eps,
            momentum=momentum,
            affine=affine,
            track_running_stats=track_running_stats,
            device=device,
            dtype=dtype,
        )
        self.drop = drop_layer() if drop_layer is not None else nn.Identity()
        act = act_layer if apply_act else None
        self.act = act_or_identity(act, inplace=inplace, **(act_kwargs or {}))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # NOTE: F.batch_norm directly, not BatchNorm2d.forward: that one checks the input's rank in
        # Python (FX cannot trace the branch) and TorchScript cannot call super()
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            factor = 1.0 / float(self.num_batches_tracked) if self.momentum is None else self.momentum
        batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        keep_stats = not self.training or self.track_running_stats
        x = F.batch_norm(
            x,
            self.running_mean if keep_stats else None,
            self.running_var if keep_stats else None,
            self.weight,
            self.bias,
            batch_stats,
            factor,
            self.eps,
        )
        return self.act(self.drop(x))


class GroupNormAct(GroupNorm):
    """GroupNorm (32 groups by default, or groups of ``group_size`` channels), then activation."""

    def __init__(
        self,
        num_channels: int,
        num_groups: int = 32,
        eps: float = 1e-5,
        affine: bool = True,
        *,
        group_size: int | None = None,
        apply_act: bool = True,
        act_layer: LayerType | None = nn.ReLU,
        act_kwargs: dict[str, Any] | None = None,
        inplace: bool = True,
        drop_layer: Callable[[], nn.Module] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        if group_size:
            if num_channels % group_size:
                raise ValueError(f"group_size={group_size} does not divide num_channels={num_channels}")
            num_groups = num_channels // group_size
        super().__init__(
            num_channels, num_groups=num_groups, eps=eps, affine=affine, device=device, dtype=dtype
        )
        self.drop = drop_layer() if drop_layer is not None else nn.Identity()
        act = act_layer if apply_act else None
        self.act = act_or_identity(act, inplace=inplace, **(act_kwargs or {}))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # NOTE: F.group_norm directly: TorchScript cannot call super()
        x = F.group_norm(x, self.num_groups, self.weight, self.bias, self.eps)
        return self.act(self.drop(x))


_NORM_ACT: dict[type[nn.Module] | str, Callable[..., nn.Module]] = {
    nn.BatchNorm2d: BatchNormAct2d,
    GroupNorm: GroupNormAct,
    "batchnorm": BatchNormAct2d,
    "batchnorm2d": BatchNormAct2d,
    "groupnorm": GroupNormAct,
    "layernorm2d": LayerNormAct2d,
    RmsNorm2d: RmsNormAct2d,
    "rmsnorm2d": RmsNormAct2d,
    EvoNorm2dS0: EvoNorm2dS0,
    EvoNorm2dS0a: EvoNorm2dS0a,
    FilterResponseNormTlu2d: FilterResponseNormTlu2d,
    "evonorm2ds0": EvoNorm2dS0,
    "evonorm2ds0a": EvoNorm2dS0a,
    "frn": FilterResponseNormTlu2d,
}
# Norms whose non-linearity is part of the norm itself: they are used as given, with no act_layer.
_BUILTIN_ACT: tuple[Callable[..., nn.Module], ...] = (EvoNorm2dS0, EvoNorm2dS0a, FilterResponseNormTlu2d)


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
