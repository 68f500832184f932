"""Normalisation layers by name: ``get_norm_layer("groupnorm")``.

Every norm here takes the channel count first, so families can swap BatchNorm for another.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from torch import nn

from .layer_norm import LayerNorm, LayerNorm2d
from .rms_norm import RmsNorm, RmsNorm2d, SimpleNorm, SimpleNorm2d

# the norms defined beside are re-exported at timm's path too (timm.layers.norm)
__all__ = [
    "GroupNorm",
    "GroupNorm1",
    "LayerNorm",
    "LayerNorm2d",
    "RmsNorm",
    "RmsNorm2d",
    "SimpleNorm",
    "SimpleNorm2d",
    "get_norm_layer",
]


class GroupNorm(nn.GroupNorm):
    """``nn.GroupNorm`` taking ``num_channels`` first (32 groups by default)."""

    def __init__(
        self, num_channels: int, num_groups: int = 32, eps: float = 1e-5, affine: bool = True, **kwargs: Any
    ) -> None:
        super().__init__(num_groups, num_channels, eps=eps, affine=affine, **kwargs)


class GroupNorm1(nn.GroupNorm):
    """Group norm with one group (normalises over C, H, W)."""

    def __init__(self, num_channels: int, **kwargs: Any) -> None:
        super().__init__(1, num_channels, **kwargs)


_NORMS: dict[str, type[nn.Module]] = {
    "batchnorm": nn.BatchNorm2d,
    "batchnorm2d": nn.BatchNorm2d,
    "batchnorm1d": nn.BatchNorm1d,
    "groupnorm": GroupNorm,
    "groupnorm1": GroupNorm1,
    "instancenorm": nn.InstanceNorm2d,
    "layernorm": LayerNorm,
    "layernorm2d": LayerNorm2d,
    "rmsnorm": RmsNorm,
    "rmsnorm2d": RmsNorm2d,
    "simplenorm": SimpleNorm,
    "simplenorm2d": SimpleNorm2d,
}


def get_norm_layer(norm_layer: str | Callable[..., nn.Module] | None) -> Callable[..., nn.Module] | None:
    """Resolve a norm layer given by name, class or factory; ``None``/``""`` gives ``None``."""
    name = norm_layer
    if not name:
        return None
    if not isinstance(name, str):
        return name
    key = name.lower().replace("_", "")
    try:
        return _NORMS[key]
    except KeyError:
        raise ValueError(f"unknown norm layer {name!r}; valid names: {', '.join(_NORMS)}") from None
