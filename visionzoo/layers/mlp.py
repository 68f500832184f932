"""Two-layer MLPs: ``fc1 -> act -> [norm] -> fc2``, as ``nn.Linear`` on channels-last input or
as 1x1 convs on ``(B, C, H, W)`` maps (``use_conv``); keys ``fc1.*`` / ``fc2.*`` either way. And
the gated (GLU / SwiGLU) token MLPs of the transformer families."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import nn

from .activations import LayerType, act_or_identity
from .grn import GlobalResponseNorm

__all__ = ["GatedMlp", "GlobalResponseNormMlp", "GluMlp", "Mlp", "SwiGLU", "SwiGLUPacked"]


def _linear(
    in_features: int, out_features: int, *, use_conv: bool, bias: bool = True, **dd: Any
) -> nn.Module:
    if use_conv:
        return nn.Conv2d(in_features, out_features, 1, bias=bias, **dd)
    return nn.Linear(in_features, out_features, bias=bias, **dd)


def _norm_dd(device: Any, dtype: Any) -> dict[str, Any]:
    """device/dtype for a norm layer, left out when unset so norm factories without them work."""
    return {} if device is None and dtype is None else {"device": device, "dtype": dtype}


# timm's MLPs take ``bias`` and ``drop`` as one value or a (fc1, fc2) pair
BoolPair = bool | tuple[bool, bool]
FloatPair = float | tuple[float, float]


def _pairs(bias: BoolPair, drop: FloatPair) -> tuple[tuple[bool, bool], tuple[float, float]]:
    biases = (bias, bias) if isinstance(bias, bool) else (bool(bias[0]), bool(bias[1]))
    drops = (float(drop), float(drop)) if isinstance(drop, (int, float)) else (float(drop[0]), float(drop[1]))
    return biases, drops


class Mlp(nn.Module):
    """``fc1 -> act -> drop -> norm -> fc2 -> drop`` (``norm`` optional, on the hidden width)."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int | None = None,
        out_features: int | None = None,
        *,
        act_layer: LayerType = nn.GELU,
        norm_layer: Callable[..., nn.Module] | None = None,
        bias: BoolPair = True,
        drop: FloatPair = 0.0,
        use_conv: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        hidden = hidden_features or in_features
        biases, drops = _pairs(bias, drop)
        self.fc1 = _linear(in_features, hidden, use_conv=use_conv, bias=biases[0], **dd)
        self.act = act_or_identity(act_layer)
        self.drop1 = nn.Dropout(drops[0])
        self.norm = norm_layer(hidden, **_norm_dd(device, dtype)) if norm_layer is not None else nn.Identity()
        self.fc2 = _linear(hidden, out_features or in_features, use_conv=use_conv, bias=biases[1], **dd)
        self.drop2 = nn.Dropout(drops[1])

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
        act_layer: LayerType = nn.GELU,
        bias: BoolPair = True,
        drop: FloatPair = 0.0,
        use_conv: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        hidden = hidden_features or in_features
        biases, drops = _pairs(bias, drop)
        self.fc1 = _linear(in_features, hidden, use_conv=use_conv, bias=biases[0], **dd)
        self.act = act_or_identity(act_layer)
        self.drop1 = nn.Dropout(drops[0])
        self.grn = GlobalResponseNorm(hidden, channels_last=not use_conv).to(**dd)
        self.fc2 = _linear(hidden, out_features or in_features, use_conv=use_conv, bias=biases[1], **dd)
        self.drop2 = nn.Dropout(drops[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.grn(self.drop1(self.act(self.fc1(x))))
        return self.drop2(self.fc2(x))


class GluMlp(nn.Module):
    """Gated MLP with one packed ``fc1`` whose output halves are value and gate.

    ``gate_last`` picks which half goes through the activation (the second by default).
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int | None = None,
        out_features: int | None = None,
        act_layer: LayerType = nn.Sigmoid,
        norm_layer: Callable[..., nn.Module] | None = None,
        bias: BoolPair = True,
        drop: FloatPair = 0.0,
        use_conv: bool = False,
        gate_last: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        hidden = hidden_features or in_features
        if hidden % 2:
            raise ValueError(f"GluMlp hidden_features must be even, got {hidden}")
        biases, drops = _pairs(bias, drop)
        self.gate_last = gate_last
        self.chunk_dim = 1 if use_conv else -1  # channels of (B, C, H, W) maps with 1x1 convs
        self.fc1 = _linear(in_features, hidden, use_conv=use_conv, bias=biases[0], **dd)
        self.act = act_or_identity(act_layer)
        self.drop1 = nn.Dropout(drops[0])
        half = hidden // 2
        self.norm = norm_layer(half, **_norm_dd(device, dtype)) if norm_layer is not None else nn.Identity()
        self.fc2 = _linear(half, out_features or in_features, use_conv=use_conv, bias=biases[1], **dd)
        self.drop2 = nn.Dropout(drops[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1, x2 = self.fc1(x).chunk(2, dim=self.chunk_dim)
        x = x1 * self.act(x2) if self.gate_last else self.act(x1) * x2
        return self.drop2(self.fc2(self.norm(self.drop1(x))))


SwiGLUPacked = partial(GluMlp, act_layer=nn.SiLU, gate_last=False)


class GatedMlp(nn.Module):
    """``fc1 -> act -> drop -> gate -> norm -> fc2 -> drop`` (gMLP's channel MLP).

    ``gate_layer(hidden_features)`` maps the hidden width to half of it (gMLP's spatial gating
    unit); without one the MLP is a plain two-layer MLP.
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int | None = None,
        out_features: int | None = None,
        act_layer: LayerType = nn.GELU,
        norm_layer: Callable[..., nn.Module] | None = None,
        gate_layer: Callable[..., nn.Module] | None = None,
        bias: BoolPair = True,
        drop: FloatPair = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        hidden = hidden_features or in_features
        biases, drops = _pairs(bias, drop)
        self.fc1 = nn.Linear(in_features, hidden, bias=biases[0], **dd)
        self.act = act_or_identity(act_layer)
        self.drop1 = nn.Dropout(drops[0])
        if gate_layer is not None:
            if hidden % 2:
                raise ValueError(f"GatedMlp hidden_features must be even with a gate, got {hidden}")
            self.gate: nn.Module = gate_layer(hidden, **_norm_dd(device, dtype))
            hidden //= 2  # the gate multiplies one half of the hidden width by the other
        else:
            self.gate = nn.Identity()
        self.norm = norm_layer(hidden, **_norm_dd(device, dtype)) if norm_layer is not None else nn.Identity()
        self.fc2 = nn.Linear(hidden, out_features or in_features, bias=biases[1], **dd)
        self.drop2 = nn.Dropout(drops[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.gate(self.drop1(self.act(self.fc1(x))))
        return self.drop2(self.fc2(self.norm(x)))


class SwiGLU(nn.Module):
    """SwiGLU MLP with separate gate (``fc1_g``) and value (``fc1_x``) projections."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int | None = None,
        out_features: int | None = None,
        act_layer: LayerType = nn.SiLU,
        norm_layer: Callable[..., nn.Module] | None = None,
        bias: BoolPair = True,
        drop: FloatPair = 0.0,
        align_to: int = 0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        hidden = hidden_features or in_features
        if align_to:  # round the hidden width up to a multiple of align_to, as timm does
            hidden += -hidden % align_to
        biases, drops = _pairs(bias, drop)
        self.fc1_g = nn.Linear(in_features, hidden, bias=biases[0], **dd)
        self.fc1_x = nn.Linear(in_features, hidden, bias=biases[0], **dd)
        self.act = act_or_identity(act_layer)
        self.drop1 = nn.Dropout(drops[0])
        self.norm = norm_layer(hidden, **_norm_dd(device, dtype)) if norm_layer is not None else nn.Identity()
        self.fc2 = nn.Linear(hidden, out_features or in_features, bias=biases[1], **dd)
        self.drop2 = nn.Dropout(drops[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.fc1_g(x)) * self.fc1_x(x)
        return self.drop2(self.fc2(self.norm(self.drop1(x))))
