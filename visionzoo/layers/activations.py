"""Activation layers by name: ``get_act_layer("silu")`` -> ``nn.SiLU``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

__all__ = ["GELUTanh", "LayerType", "QuickGELU", "create_act_layer", "get_act_layer"]


class QuickGELU(nn.Module):
    """``x * sigmoid(1.702 x)``, the GELU approximation of OpenAI's CLIP."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class GELUTanh(nn.GELU):
    """GELU with the tanh approximation (SigLIP towers)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(approximate="tanh")


LayerType = str | type[nn.Module] | Callable[..., nn.Module]

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "celu": nn.CELU,
    "selu": nn.SELU,
    "prelu": nn.PReLU,
    "gelu": nn.GELU,
    "gelu_tanh": GELUTanh,
    "quick_gelu": QuickGELU,
    "silu": nn.SiLU,
    "swish": nn.SiLU,
    "mish": nn.Mish,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "hard_sigmoid": nn.Hardsigmoid,
    "hardsigmoid": nn.Hardsigmoid,
    "hard_swish": nn.Hardswish,
    "hardswish": nn.Hardswish,
    "identity": nn.Identity,
}
# Module types that take an ``inplace`` flag.
_INPLACE = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.ELU,
    nn.CELU,
    nn.SELU,
    nn.SiLU,
    nn.Mish,
    nn.Hardsigmoid,
    nn.Hardswish,
)


def get_act_layer(name: LayerType | None = "relu") -> Callable[..., nn.Module] | None:
    """Resolve an activation given by name, class or factory; ``None``/``""`` gives ``None``."""
    if not name:
        return None
    if not isinstance(name, str):
        return name
    try:
        return _ACTIVATIONS[name.lower()]
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r}; valid names: {', '.join(sorted(_ACTIVATIONS))}"
        ) from None


def create_act_layer(name: LayerType | None, inplace: bool | None = None, **kwargs: Any) -> nn.Module:
    """Instantiate an activation (``nn.Identity`` for ``None``), passing ``inplace`` if it takes it."""
    layer = get_act_layer(name)
    if layer is None:
        return nn.Identity()
    if inplace is not None and isinstance(layer, type) and issubclass(layer, _INPLACE):
        kwargs["inplace"] = inplace
    return layer(**kwargs)
