"""Activation layers by name: ``get_act_layer("silu")`` -> ``nn.SiLU``.

Also the activation functions and modules under timm's names (``swish``/``Swish``,
``hard_mish``/``HardMish``...), each a thin form of PyTorch's op where one exists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "GELU",
    "GELUTanh",
    "HardMish",
    "HardSigmoid",
    "HardSwish",
    "LayerType",
    "Mish",
    "PReLU",
    "QuickGELU",
    "Sigmoid",
    "Swish",
    "Tanh",
    "act_or_identity",
    "create_act_layer",
    "gelu",
    "get_act_fn",
    "get_act_layer",
    "hard_mish",
    "hard_sigmoid",
    "hard_swish",
    "mish",
    "sigmoid",
    "swish",
    "tanh",
]


# --- functions (``inplace`` overwrites ``x`` where the op allows it) -------------------------------
def swish(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """``x * sigmoid(x)`` (SiLU)."""
    return F.silu(x, inplace=inplace)


def mish(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """``x * tanh(softplus(x))``."""
    return F.mish(x, inplace=inplace)


def sigmoid(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    return x.sigmoid_() if inplace else x.sigmoid()


def tanh(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    return x.tanh_() if inplace else x.tanh()


def hard_sigmoid(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """``relu6(x + 3) / 6``."""
    return F.hardsigmoid(x, inplace=inplace)


def hard_swish(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """``x * relu6(x + 3) / 6``."""
    return F.hardswish(x, inplace=inplace)


def hard_mish(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """``x * clamp(x + 2, 0, 2) / 2``: a piecewise-quadratic Mish (https://github.com/digantamisra98/H-Mish)."""
    gate = (x + 2).clamp(min=0, max=2)
    return x.mul_(gate).mul_(0.5) if inplace else 0.5 * x * gate


def gelu(x: torch.Tensor, inplace: bool = False) -> torch.Tensor:
    """Exact (erf) GELU; ``inplace`` is accepted for a uniform signature."""
    return F.gelu(x)


class _ActFn(nn.Module):
    """An activation module around one of the functions above, with an ``inplace`` flag."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Swish(_ActFn):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return swish(x, self.inplace)


class Mish(_ActFn):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return mish(x, self.inplace)


class Sigmoid(_ActFn):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return sigmoid(x, self.inplace)


class Tanh(_ActFn):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return tanh(x, self.inplace)


class HardSigmoid(_ActFn):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return hard_sigmoid(x, self.inplace)


class HardSwish(_ActFn):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return hard_swish(x, self.inplace)


class HardMish(_ActFn):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return hard_mish(x, self.inplace)


class GELU(_ActFn):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return gelu(x)


class PReLU(nn.PReLU):
    """``nn.PReLU`` taking (and ignoring) ``inplace``, like the other activations here."""

    def __init__(self, num_parameters: int = 1, init: float = 0.25, inplace: bool = False) -> None:
        super().__init__(num_parameters=num_parameters, init=init)


_ACT_FNS: dict[str, Callable[..., torch.Tensor]] = {
    "relu": F.relu,
    "relu6": F.relu6,
    "leaky_relu": F.leaky_relu,
    "elu": F.elu,
    "celu": F.celu,
    "selu": F.selu,
    "gelu": gelu,
    "silu": swish,
    "swish": swish,
    "mish": mish,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "hard_sigmoid": hard_sigmoid,
    "hardsigmoid": hard_sigmoid,
    "hard_swish": hard_swish,
    "hardswish": hard_swish,
    "hard_mish": hard_mish,
}


def get_act_fn(name: str | Callable[..., torch.Tensor] | None = "relu") -> Callable[..., torch.Tensor] | None:
    """The functional form of an activation given by name (a callable passes through; ``None``/``""``
    gives ``None``)."""
    if not name:
        return None
    if not isinstance(name, str):
        return name
    try:
        return _ACT_FNS[name.lower()]
    except KeyError:
        raise ValueError(
            f"unknown activation function {name!r}; valid names: {', '.join(sorted(_ACT_FNS))}"
        ) from None


class QuickGELU(nn.Module):
    """``x * sigmoid(1.702 x)``, the GELU approximation of OpenAI's CLIP."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()  # NOTE: inplace is accepted for timm's act factories and unused

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


LayerType = str | type[nn.Module] | Callable[..., nn.Module]


class GELUTanh(nn.GELU):
    """GELU with the tanh approximation (``act_layer="gelu_tanh"``)."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__(approximate="tanh")


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
    "hard_mish": HardMish,
    "hardmish": HardMish,
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
    _ActFn,
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


def create_act_layer(name: LayerType | None, inplace: bool | None = None, **kwargs: Any) -> nn.Module | None:
    """Instantiate an activation, passing ``inplace`` if it takes it; ``None``/``""`` gives ``None``
    (as timm's does; :func:`act_or_identity` gives ``nn.Identity`` instead)."""
    layer = get_act_layer(name)
    if layer is None:
        return None
    if inplace is not None and isinstance(layer, type) and issubclass(layer, _INPLACE):
        kwargs["inplace"] = inplace
    return layer(**kwargs)


def act_or_identity(name: LayerType | None, inplace: bool | None = None, **kwargs: Any) -> nn.Module:
    """:func:`create_act_layer`, with ``nn.Identity`` for no activation (a module to call always)."""
    act = create_act_layer(name, inplace=inplace, **kwargs)
    return nn.Identity() if act is None else act
