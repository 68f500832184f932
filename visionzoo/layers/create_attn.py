"""Channel attention modules by name: ``get_attn("se")``, ``create_attn("eca", 256)``."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from torch import nn

from .bottleneck_attn import BottleneckAttn
from .eca import EcaModule
from .global_context import GlobalContext
from .halo_attn import HaloAttn
from .lambda_layer import LambdaLayer
from .non_local_attn import BatNonLocalAttn
from .squeeze_excite import EffectiveSEModule, SEModule

__all__ = ["create_attn", "get_attn", "register_attn"]

_ATTN: dict[str, Callable[..., nn.Module]] = {
    "se": SEModule,
    "ese": EffectiveSEModule,
    "eca": EcaModule,
    "gc": GlobalContext,
    "gca": partial(GlobalContext, fuse_add=True, fuse_scale=False),
    "bat": BatNonLocalAttn,
    # self-attention that replaces a block's spatial conv (bring-your-own-attention networks)
    "bottleneck": BottleneckAttn,
    "halo": HaloAttn,
    "lambda": LambdaLayer,
}


def register_attn(name: str, layer: Callable[..., nn.Module]) -> None:
    """Make an attention module available by name (families add the ones they bring)."""
    _ATTN[name] = layer


def get_attn(attn_type: str | Callable[..., nn.Module] | None) -> Callable[..., nn.Module] | None:
    if not attn_type:
        return None
    if not isinstance(attn_type, str):
        return attn_type
    try:
        return _ATTN[attn_type.lower()]
    except KeyError:
        valid = ", ".join(sorted(_ATTN))
        raise ValueError(f"unknown attention layer {attn_type!r}; valid: {valid}") from None


def create_attn(
    attn_type: str | Callable[..., nn.Module] | None, channels: int, **kwargs: Any
) -> nn.Module | None:
    """Instantiate an attention module for ``channels``, or ``None`` when ``attn_type`` is empty."""
    layer = get_attn(attn_type)
    return layer(channels, **kwargs) if layer is not None else None
