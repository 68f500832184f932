"""Classifier heads: global pooling followed by a linear layer (or nothing, for 0 classes)."""

from __future__ import annotations

from typing import overload

import torch
from torch import nn

from .helpers import get_device_dtype
from .norm_mlp_head import ClNormMlpClassifierHead, NormMlpClassifierHead
from .pool import SelectAdaptivePool2d

# the norm-MLP heads (their own file) are re-exported at timm's path too (timm.layers.classifier)
__all__ = [
    "ClNormMlpClassifierHead",
    "ClassifierHead",
    "NormMlpClassifierHead",
    "check_num_classes",
    "check_pool",
    "create_classifier",
]


def check_num_classes(num_classes: object, *, where: str = "") -> int:
    """``num_classes`` if it is an int >= 0 (0: no classifier), else ``ValueError`` naming it.

    Args:
        num_classes: the value to check.
        where: what it was given to (a variant name), put before the message.
    """
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 0:
        prefix = f"{where}: " if where else ""
        raise ValueError(f"{prefix}num_classes must be an int >= 0, got {num_classes!r}")
    return num_classes


def check_pool(global_pool: object, allowed: tuple[str, ...], *, model: str) -> str:
    """``global_pool`` if it is one of ``allowed``, else ``ValueError`` naming it and them.

    For heads that pool one way only (LeViT, EfficientFormer: mean over tokens or nothing).
    """
    if not isinstance(global_pool, str) or global_pool not in allowed:
        valid = " or ".join(repr(p) for p in allowed)
        raise ValueError(f"{model} takes global_pool {valid}, got {global_pool!r}")
    return global_pool


@overload
def create_classifier(
    num_features: int,
    num_classes: int,
    pool_type: str = ...,
    use_conv: bool = ...,
    input_fmt: str = ...,
    drop_rate: None = ...,
    device: torch.device | str | None = ...,
    dtype: torch.dtype | None = ...,
) -> tuple[SelectAdaptivePool2d, nn.Module]: ...


@overload
def create_classifier(
    num_features: int,
    num_classes: int,
    pool_type: str = ...,
    use_conv: bool = ...,
    input_fmt: str = ...,
    *,
    drop_rate: float,
    device: torch.device | str | None = ...,
    dtype: torch.dtype | None = ...,
) -> tuple[SelectAdaptivePool2d, nn.Dropout, nn.Module]: ...


def create_classifier(
    num_features: int,
    num_classes: int,
    pool_type: str = "avg",
    use_conv: bool = False,
    input_fmt: str = "NCHW",
    drop_rate: float | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> tuple[SelectAdaptivePool2d, nn.Module] | tuple[SelectAdaptivePool2d, nn.Dropout, nn.Module]:
    """``(global_pool, fc)``, or ``(global_pool, dropout, fc)`` when ``drop_rate`` is given (timm's
    two forms); ``fc`` is ``nn.Identity`` when ``num_classes`` is 0."""
    check_num_classes(num_classes)
    pool = SelectAdaptivePool2d(pool_type=pool_type, flatten=not use_conv, input_fmt=input_fmt)
    width = num_features * pool.feat_mult()
    if num_classes == 0:
        fc: nn.Module = nn.Identity()
    elif use_conv:
        fc = nn.Conv2d(width, num_classes, 1, bias=True, device=device, dtype=dtype)
    else:
        fc = nn.Linear(width, num_classes, bias=True, device=device, dtype=dtype)
    if drop_rate is not None:
        return pool, nn.Dropout(drop_rate), fc
    return pool, fc


class ClassifierHead(nn.Module):
    """Pool -> dropout -> fc, as one module (state-dict keys ``head.fc.*``)."""

    def __init__(
        self,
        in_features: int,
        num_classes: int,
        pool_type: str = "avg",
        drop_rate: float = 0.0,
        use_conv: bool = False,
        input_fmt: str = "NCHW",
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.use_conv = use_conv
        self.input_fmt = input_fmt
        self.global_pool, self.fc = create_classifier(
            in_features, num_classes, pool_type, use_conv, input_fmt, device=device, dtype=dtype
        )
        self.num_features = in_features * self.global_pool.feat_mult()
        self.drop = nn.Dropout(drop_rate)
        self.flatten = nn.Flatten(1) if use_conv and pool_type else nn.Identity()

    def reset(
        self,
        num_classes: int,
        pool_type: str | None = None,
        reset_other: bool = False,
        in_features: int | None = None,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        """New pool and classifier of ``num_classes`` outputs (0: none), on the head's device and
        dtype unless given, in the head's train/eval mode. ``in_features``: a new input width (a
        pruned backbone); ``reset_other`` has nothing to drop here (timm's head API)."""
        dd = get_device_dtype(self, device=device, dtype=dtype)
        pool_type = self.global_pool.pool_type if pool_type is None else pool_type
        if in_features is not None:
            self.in_features = in_features
        self.global_pool, self.fc = create_classifier(
            self.in_features, num_classes, pool_type, self.use_conv, self.input_fmt, **dd
        )
        self.num_features = self.in_features * self.global_pool.feat_mult()
        self.flatten = nn.Flatten(1) if self.use_conv and pool_type else nn.Identity()
        for module in (self.global_pool, self.fc, self.flatten):
            module.train(self.training)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.drop(self.global_pool(x))
        if pre_logits:
            return self.flatten(x)
        return self.flatten(self.fc(x))
