"""ResNeSt: ResNets whose bottleneck 3x3 conv is a split-attention conv.

Paper: `ResNeSt: Split-Attention Networks` - https://arxiv.org/abs/2004.08955

The model is :class:`~visionzoo.models.resnet.ResNet` with :class:`ResNestBottleneck` blocks.
Weights are ported from the authors' implementation (https://github.com/zhanghang1989/ResNeSt)
and GluonCV, under Apache-2.0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..layers import LayerType, SplitAttn
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from .resnet import ResNet, ResNetArgs

__all__ = ["VARIANTS", "WEIGHTS", "ResNestBottleneck", "default_cfgs"]


class ResNestBottleneck(nn.Module):
    """1x1 reduce, split-attention 3x3 (a plain grouped 3x3 with ``radix=0``), 1x1 expand by 4.

    With ``avd`` a strided block downsamples with a 3x3 average pool instead of a strided conv,
    before the 3x3 (``avd_first``) or after it.
    """

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        radix: int = 1,
        cardinality: int = 1,
        base_width: int = 64,
        avd: bool = False,
        avd_first: bool = False,
        is_first: bool = False,
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
        if reduce_first != 1 or attn_layer is not None or aa_layer is not None:
            raise ValueError("ResNestBottleneck supports none of block_reduce_first, attn_layer, aa_layer")
        group_width = int(planes * (base_width / 64)) * cardinality
        first_dilation = first_dilation or dilation
        avd_stride = 0
        if avd and (stride > 1 or is_first):
            avd_stride, stride = stride, 1
        self.radix = radix

        self.conv1 = nn.Conv2d(inplanes, group_width, 1, bias=False)
        self.bn1 = norm_layer(group_width)
        self.act1 = act_layer(inplace=True)
        self.avd_first = nn.AvgPool2d(3, avd_stride, padding=1) if avd_stride > 0 and avd_first else None
        self.conv2: nn.Module
        if radix >= 1:  # the split attention holds its own norm, drop block and activation
            self.conv2 = SplitAttn(
                group_width,
                group_width,
                kernel_size=3,
                stride=stride,
                padding=first_dilation,
                dilation=first_dilation,
                groups=cardinality,
                radix=radix,
                norm_layer=norm_layer,
                drop_layer=drop_block,
            )
            self.bn2: nn.Module = nn.Identity()
            self.drop_block: nn.Module = nn.Identity()
            self.act2: nn.Module = nn.Identity()
        else:
            self.conv2 = nn.Conv2d(
                group_width,
                group_width,
                3,
                stride=stride,
                padding=first_dilation,
                dilation=first_dilation,
                groups=cardinality,
                bias=False,
            )
            self.bn2 = norm_layer(group_width)
            self.drop_block = drop_block() if drop_block is not None else nn.Identity()
            self.act2 = act_layer(inplace=True)
        self.avd_last = nn.AvgPool2d(3, avd_stride, padding=1) if avd_stride > 0 and not avd_first else None
        self.conv3 = nn.Conv2d(group_width, planes * self.expansion, 1, bias=False)
        self.bn3 = norm_layer(planes * self.expansion)
        self.act3 = act_layer(inplace=True)
        self.downsample = downsample
        self.drop_path = drop_path

    def zero_init_last(self) -> None:
        weight = getattr(self.bn3, "weight", None)
        if isinstance(weight, torch.Tensor):
            nn.init.zeros_(weight)

    def forward(self, x_in: torch.Tensor) -> torch.Tensor:
        x = self.act1(self.bn1(self.conv1(x_in)))
        if self.avd_first is not None:
            x = self.avd_first(x)
        x = self.act2(self.drop_block(self.bn2(self.conv2(x))))
        if self.avd_last is not None:
            x = self.avd_last(x)
        x = self.bn3(self.conv3(x))
        shortcut = x_in
        if self.downsample is not None:
            # NOTE: as in timm, stochastic depth drops the projection shortcut's input, not the
            # residual branch (so it acts only in a block with a projection)
            src = self.drop_path(x_in) if self.drop_path is not None else x_in
            shortcut = self.downsample(src)
        x += shortcut
        return self.act3(x)


# --- variants -------------------------------------------------------------------------------------
_D = dict(stem_type="deep", stem_width=32, avg_down=True)  # 'd': deep stem (32) + avg-pool shortcut
_E = dict(stem_type="deep", stem_width=64, avg_down=True)  # 'e': wider deep stem (64)


def _v(layers: tuple[int, ...], stem: dict[str, Any], **kw: Any) -> Any:
    block_args = dict(radix=kw.pop("radix", 2), avd=True, avd_first=kw.pop("avd_first", False))
    return ResNetArgs(block=ResNestBottleneck, layers=layers, block_args=block_args, **stem, **kw)


VARIANTS: dict[str, Any] = {
    "resnest14d": _v((1, 1, 1, 1), _D),
    "resnest26d": _v((2, 2, 2, 2), _D),
    "resnest50d": _v((3, 4, 6, 3), _D),
    "resnest101e": _v((3, 4, 23, 3), _E),
    "resnest200e": _v((3, 24, 36, 3), _E),
    "resnest269e": _v((3, 30, 48, 8), _E),
    "resnest50d_4s2x40d": _v((3, 4, 6, 3), _D, base_width=40, cardinality=2, radix=4, avd_first=True),
    "resnest50d_1s4x24d": _v((3, 4, 6, 3), _D, base_width=24, cardinality=4, radix=1, avd_first=True),
}

# --- weights --------------------------------------------------------------------------------------
WEIGHTS: dict[str, dict[str, Any]] = {
    "resnest14d.gluon_in1k": weight(),
    "resnest26d.gluon_in1k": weight(),
    "resnest50d.in1k": weight(),
    "resnest101e.in1k": weight(size=256, pool_size=(8, 8)),
    "resnest200e.in1k": weight(size=320, pool_size=(10, 10), crop=0.909, interpolation="bicubic"),
    "resnest269e.in1k": weight(size=416, pool_size=(13, 13), crop=0.928, interpolation="bicubic"),
    "resnest50d_4s2x40d.in1k": weight(interpolation="bicubic"),
    "resnest50d_1s4x24d.in1k": weight(interpolation="bicubic"),
}

default_cfgs = register_family(
    __name__,
    model_cls=ResNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        interpolation="bilinear",
        first_conv="conv1.0",
        classifier="fc",
        license="apache-2.0",
    ),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. resnest50d
    return family_entrypoint(__name__, name)
