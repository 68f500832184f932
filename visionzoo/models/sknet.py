"""Selective Kernel ResNets (SKNet): ResNets whose 3x3 conv is a selective kernel conv.

Paper: `Selective Kernel Networks` - https://arxiv.org/abs/1903.06586

The model is :class:`~visionzoo.models.resnet.ResNet` with :class:`SelectiveKernelBasic` or
:class:`SelectiveKernelBottleneck` blocks. Except for ``skresnext50_32x4d`` (the paper's SKNet-50)
the selective kernel splits its input channels across its two paths, which keeps the parameter
count near the plain ResNet's. Weights trained by Ross Wightman in timm, under Apache-2.0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..layers import ConvNormAct, LayerType, SelectiveKernel, create_attn
from ..pretrained import NO_WEIGHTS, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from .resnet import ResNet, ResNetArgs

__all__ = ["VARIANTS", "WEIGHTS", "SelectiveKernelBasic", "SelectiveKernelBottleneck", "default_cfgs"]


class SelectiveKernelBasic(nn.Module):
    """ResNet's basic block with a selective kernel conv (``sk_kwargs``) as its first 3x3."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        cardinality: int = 1,
        base_width: int = 64,
        sk_kwargs: dict[str, Any] | None = None,
        reduce_first: int = 1,
        dilation: int = 1,
        first_dilation: int | None = None,
        act_layer: Callable[..., nn.Module] = nn.ReLU,
        norm_layer: Callable[..., nn.Module] = nn.BatchNorm2d,
        attn_layer: LayerType | None = None,
        aa_layer: LayerType | None = None,
        drop_block: Callable[[], nn.Module] | None = None,
        drop_path: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if cardinality != 1 or base_width != 64:
            raise ValueError("SelectiveKernelBasic supports only cardinality=1 and base_width=64")
        first_planes = planes // reduce_first
        outplanes = planes * self.expansion
        norm_act: dict[str, Any] = dict(act_layer=act_layer, norm_layer=norm_layer)
        self.conv1 = SelectiveKernel(
            inplanes,
            first_planes,
            stride=stride,
            dilation=first_dilation or dilation,
            aa_layer=aa_layer,
            drop_layer=drop_block,
            **norm_act,
            **(sk_kwargs or {}),
        )
        self.conv2 = ConvNormAct(
            first_planes, outplanes, kernel_size=3, dilation=dilation, apply_act=False, **norm_act
        )
        self.se = create_attn(attn_layer, outplanes)
        self.act = act_layer(inplace=True)
        self.downsample = downsample
        self.drop_path = drop_path

    def zero_init_last(self) -> None:
        weight = getattr(self.conv2.bn, "weight", None)
        if isinstance(weight, torch.Tensor):
            nn.init.zeros_(weight)

    def forward(self, x_in: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.conv1(x_in))
        if self.se is not None:
            x = self.se(x)
        if self.drop_path is not None:
            x = self.drop_path(x)
        x += x_in if self.downsample is None else self.downsample(x_in)
        return self.act(x)


class SelectiveKernelBottleneck(nn.Module):
    """ResNet's bottleneck with a selective kernel conv (``sk_kwargs``) as its 3x3."""

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        cardinality: int = 1,
        base_width: int = 64,
        sk_kwargs: dict[str, Any] | None = None,
        reduce_first: int = 1,
        dilation: int = 1,
        first_dilation: int | None = None,
        act_layer: Callable[..., nn.Module] = nn.ReLU,
        norm_layer: Callable[..., nn.Module] = nn.BatchNorm2d,
        attn_layer: LayerType | None = None,
        aa_layer: LayerType | None = None,
        drop_block: Callable[[], nn.Module] | None = None,
        drop_path: nn.Module | None = None,
    ) -> None:
        super().__init__()
        width = math.floor(planes * (base_width / 64)) * cardinality
        first_planes = width // reduce_first
        outplanes = planes * self.expansion
        norm_act: dict[str, Any] = dict(act_layer=act_layer, norm_layer=norm_layer)
        self.conv1 = ConvNormAct(inplanes, first_planes, kernel_size=1, **norm_act)
        self.conv2 = SelectiveKernel(
            first_planes,
            width,
            stride=stride,
            dilation=first_dilation or dilation,
            groups=cardinality,
            aa_layer=aa_layer,
            drop_layer=drop_block,
            **norm_act,
            **(sk_kwargs or {}),
        )
        self.conv3 = ConvNormAct(width, outplanes, kernel_size=1, apply_act=False, **norm_act)
        self.se = create_attn(attn_layer, outplanes)
        self.act = act_layer(inplace=True)
        self.downsample = downsample
        self.drop_path = drop_path

    def zero_init_last(self) -> None:
        weight = getattr(self.conv3.bn, "weight", None)
        if isinstance(weight, torch.Tensor):
            nn.init.zeros_(weight)

    def forward(self, x_in: torch.Tensor) -> torch.Tensor:
        x = self.conv3(self.conv2(self.conv1(x_in)))
        if self.se is not None:
            x = self.se(x)
        if self.drop_path is not None:
            x = self.drop_path(x)
        x += x_in if self.downsample is None else self.downsample(x_in)
        return self.act(x)


# --- variants -------------------------------------------------------------------------------------
_SPLIT_SMALL = dict(rd_ratio=1 / 8, rd_divisor=16, split_input=True)  # ResNet-18/34: wider attention


def _v(block: type[nn.Module], layers: tuple[int, ...], sk_kwargs: dict[str, Any], **kw: Any) -> Any:
    # NOTE: timm's SKNets leave the last norm of each branch at its init (zero_init_last=False)
    return ResNetArgs(
        block=block, layers=layers, block_args=dict(sk_kwargs=sk_kwargs), zero_init_last=False, **kw
    )


VARIANTS: dict[str, Any] = {
    "skresnet18": _v(SelectiveKernelBasic, (2, 2, 2, 2), _SPLIT_SMALL),
    "skresnet34": _v(SelectiveKernelBasic, (3, 4, 6, 3), _SPLIT_SMALL),
    "skresnet50": _v(SelectiveKernelBottleneck, (3, 4, 6, 3), dict(split_input=True)),
    "skresnet50d": _v(
        SelectiveKernelBottleneck,
        (3, 4, 6, 3),
        dict(split_input=True),
        stem_type="deep",
        stem_width=32,
        avg_down=True,
    ),
    "skresnext50_32x4d": _v(
        SelectiveKernelBottleneck,
        (3, 4, 6, 3),
        dict(rd_ratio=1 / 16, rd_divisor=32, split_input=False),
        cardinality=32,
        base_width=4,
    ),
}

# --- weights --------------------------------------------------------------------------------------
WEIGHTS: dict[str, dict[str, Any]] = {
    "skresnet18.ra_in1k": weight(),
    "skresnet34.ra_in1k": weight(),
    "skresnet50.untrained": weight(NO_WEIGHTS),
    "skresnet50d.untrained": weight(NO_WEIGHTS, first_conv="conv1.0"),
    "skresnext50_32x4d.ra_in1k": weight(),
}

default_cfgs = register_family(
    __name__,
    model_cls=ResNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7), interpolation="bicubic", first_conv="conv1", classifier="fc", license="apache-2.0"
    ),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. skresnet18
    return family_entrypoint(__name__, name)
