"""Pool -> norm -> (optional hidden layer) -> classifier: the head of ConvNeXt-style models.

State-dict keys: ``norm.*``, ``pre_logits.fc.*`` (with ``hidden_size``) and ``fc.*``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .activations import LayerType, act_or_identity
from .norm import get_norm_layer
from .pool import SelectAdaptivePool2d

__all__ = ["ClNormMlpClassifierHead", "NormMlpClassifierHead"]


def _linear(in_features: int, out_features: int, use_conv: bool, **dd: Any) -> nn.Module:
    # without pooling the head runs on (B, C, H, W) maps: 1x1 convs with the same weights
    if use_conv:
        return nn.Conv2d(in_features, out_features, 1, **dd)
    return nn.Linear(in_features, out_features, **dd)


class NormMlpClassifierHead(nn.Module):
    """Global pool, norm over channels, optional ``fc -> act`` hidden layer, dropout, classifier.

    Args:
        in_features: channels of the ``(B, C, H, W)`` input.
        num_classes: classifier outputs (0: ``fc`` is an identity).
        hidden_size: width of the pre-logits layer (None: no such layer).
        pool_type: ``avg``, ``max``, ``avgmax``, ``catavgmax`` (both pools, each normed, twice
            the width; not with a hidden layer) or ``''`` (no pooling: the head keeps the map and
            its linear layers become 1x1 convs).
        drop_rate: dropout before the classifier.
        norm_layer: channels-first norm, a class or a name (default ``LayerNorm2d``).
        act_layer: activation of the hidden layer.
    """

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden_size: int | None = None,
        pool_type: str = "avg",
        drop_rate: float = 0.0,
        *,
        norm_layer: str | Callable[..., nn.Module] = "layernorm2d",
        act_layer: LayerType = "tanh",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        norm_fn = get_norm_layer(norm_layer)
        if norm_fn is None:
            raise ValueError(f"NormMlpClassifierHead needs a norm_layer, got {norm_layer!r}")
        self.in_features = in_features
        self.hidden_size = hidden_size
        self.global_pool = self._pool(pool_type, hidden_size)
        self.num_features = in_features * self.global_pool.feat_mult()
        self.use_conv = self.global_pool.is_identity()
        # NOTE: device/dtype reach the norm only when set, so norm factories without them work
        self.norm = norm_fn(in_features, **(dd if device is not None or dtype is not None else {}))
        self.flatten = nn.Flatten(1) if pool_type else nn.Identity()
        if hidden_size:
            self.pre_logits: nn.Module = nn.Sequential(
                OrderedDict(
                    fc=_linear(in_features, hidden_size, self.use_conv, **dd), act=act_or_identity(act_layer)
                )
            )
            self.num_features = hidden_size
        else:
            self.pre_logits = nn.Identity()
        self.drop = nn.Dropout(drop_rate)
        self.fc = (
            _linear(self.num_features, num_classes, self.use_conv, **dd) if num_classes > 0 else nn.Identity()
        )

    @staticmethod
    def _pool(pool_type: str, hidden_size: int | None) -> SelectAdaptivePool2d:
        pool = SelectAdaptivePool2d(pool_type=pool_type)
        if pool.feat_mult() != 1 and hidden_size:
            raise ValueError(
                f"pool_type {pool_type!r} doubles the pooled width, which the hidden layer "
                f"(hidden_size={hidden_size}) cannot take; use avg, max or avgmax, or drop the hidden "
                "layer (reset_other=True)"
            )
        return pool

    def reset(
        self,
        num_classes: int,
        pool_type: str | None = None,
        *,
        reset_other: bool = False,
        in_features: int | None = None,
    ) -> None:
        """New classifier of ``num_classes`` outputs; ``reset_other`` also drops the norm and the
        hidden layer (for a backbone whose features no longer match them)."""
        resized = in_features is not None and in_features != self.in_features
        if resized and not (reset_other or isinstance(self.norm, nn.Identity)):
            raise ValueError(
                f"the head's norm is sized for {self.in_features} features, not {in_features}; "
                "pass reset_other=True to drop it"
            )
        if reset_other:
            self.norm = nn.Identity()
            self.pre_logits = nn.Identity()
            self.hidden_size = None
        if pool_type is not None:
            self.global_pool = self._pool(pool_type, self.hidden_size).train(self.training)
            self.flatten = nn.Flatten(1) if pool_type else nn.Identity()
        if in_features is not None:
            self.in_features = in_features
        self.num_features = self.hidden_size or self.in_features * self.global_pool.feat_mult()
        use_conv = self.global_pool.is_identity()
        if self.hidden_size and use_conv != self.use_conv:  # same weights, other layer type
            old = self.pre_logits.get_submodule("fc")
            weight, bias = old.get_parameter("weight"), old.get_parameter("bias")
            new = _linear(self.in_features, self.hidden_size, use_conv).to(weight.device, weight.dtype)
            with torch.no_grad():
                new.get_parameter("weight").copy_(weight.reshape(new.get_parameter("weight").shape))
                new.get_parameter("bias").copy_(bias)
            self.pre_logits.add_module("fc", new.train(old.training))
        self.use_conv = use_conv
        self.fc = _linear(self.num_features, num_classes, use_conv) if num_classes > 0 else nn.Identity()
        self.fc.train(self.training)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.global_pool(x)
        if self.global_pool.feat_mult() == 2:  # catavgmax: norm each pooled half
            avg, mx = x.chunk(2, dim=1)
            x = torch.cat((self.norm(avg), self.norm(mx)), dim=1)
        else:
            x = self.norm(x)
        x = self.flatten(x)
        x = self.drop(self.pre_logits(x))
        return x if pre_logits else self.fc(x)


class ClNormMlpClassifierHead(nn.Module):
    """The channels-last form: pool ``(B, H, W, C)`` maps (or ``(B, N, C)`` tokens), norm, optional
    ``fc -> act`` hidden layer, dropout, classifier (keys ``norm``, ``pre_logits.fc``, ``fc``).

    Args:
        in_features: channels (the last dim) of the input.
        num_classes: classifier outputs (0: ``fc`` is an identity).
        hidden_size: width of the pre-logits layer (None: no such layer).
        pool_type: ``avg``, ``max``, ``avgmax`` or ``''`` (no pooling).
        drop_rate: dropout before the classifier.
        norm_layer: norm over the last dim, a class or a name.
        act_layer: activation of the hidden layer.
        input_fmt: ``NHWC`` maps or ``NLC`` tokens.
    """

    _POOLS = ("", "avg", "max", "avgmax")

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        hidden_size: int | None = None,
        pool_type: str = "avg",
        drop_rate: float = 0.0,
        norm_layer: str | Callable[..., nn.Module] = "layernorm",
        act_layer: LayerType = "gelu",
        input_fmt: str = "NHWC",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        if pool_type not in self._POOLS:
            raise ValueError(f"pool_type={pool_type!r}; valid: {self._POOLS}")
        if input_fmt not in ("NHWC", "NLC"):
            raise ValueError(f"input_fmt={input_fmt!r}; valid: 'NHWC', 'NLC'")
        norm_fn = get_norm_layer(norm_layer)
        if norm_fn is None:
            raise ValueError("ClNormMlpClassifierHead needs a norm_layer")
        self.in_features = in_features
        self.hidden_size = hidden_size
        self.num_features = in_features
        self.pool_type = pool_type
        self.pool_dim: list[int] = [1] if input_fmt == "NLC" else [1, 2]
        self.norm: nn.Module = norm_fn(in_features, **dd)
        self.pre_logits: nn.Module = nn.Identity()
        if hidden_size:
            self.pre_logits = nn.Sequential(
                OrderedDict(fc=nn.Linear(in_features, hidden_size, **dd), act=act_or_identity(act_layer))
            )
            self.num_features = hidden_size
        self.drop = nn.Dropout(drop_rate)
        self.fc: nn.Module = (
            nn.Linear(self.num_features, num_classes, **dd) if num_classes > 0 else nn.Identity()
        )

    def reset(
        self,
        num_classes: int,
        pool_type: str | None = None,
        reset_other: bool = False,
        in_features: int | None = None,
    ) -> None:
        """A new classifier; ``reset_other`` also drops the norm and hidden layer (then the input
        width may change to ``in_features``)."""
        if pool_type is not None:
            if pool_type not in self._POOLS:
                raise ValueError(f"pool_type={pool_type!r}; valid: {self._POOLS}")
            self.pool_type = pool_type
        if reset_other:
            self.pre_logits, self.norm = nn.Identity(), nn.Identity()
            self.hidden_size = None
            self.num_features = self.in_features
        if in_features is not None and in_features != self.in_features:
            if not isinstance(self.norm, nn.Identity):
                raise ValueError("the input width can change only with the norm removed (reset_other=True)")
            self.in_features = in_features
            if not self.hidden_size:
                self.num_features = in_features
        self.fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def _global_pool(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool_type == "avg":
            return x.mean(dim=self.pool_dim)
        if self.pool_type == "max":
            return x.amax(dim=self.pool_dim)
        if self.pool_type == "avgmax":
            return 0.5 * (x.amax(dim=self.pool_dim) + x.mean(dim=self.pool_dim))
        return x

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.drop(self.pre_logits(self.norm(self._global_pool(x))))
        return x if pre_logits else self.fc(x)
