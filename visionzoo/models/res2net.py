"""Res2Net and Res2NeXt: ResNets whose bottleneck runs its 3x3 conv as a hierarchy of scales.

Paper: `Res2Net: A New Multi-scale Backbone Architecture` - https://arxiv.org/abs/1904.01169

The model is :class:`~visionzoo.models.resnet.ResNet` with :class:`Bottle2neck` blocks. Weights
are ported from the official implementation (https://github.com/gasvn/Res2Net); their license is
not stated (``license="unknown"``, as in timm).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ..layers import LayerType, create_attn
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from .resnet import ResNet, ResNetArgs

__all__ = ["VARIANTS", "WEIGHTS", "Bottle2neck", "default_cfgs"]


class Bottle2neck(nn.Module):
    """1x1 reduce to ``scale`` groups of ``width`` channels; each group but the last gets a 3x3
    conv fed by its own slice plus the previous group's output (so later groups see growing
    receptive fields); the last slice passes through (pooled in a strided block); 1x1 expand.

    In a block that changes shape (strided or with a projection shortcut) the groups do not
    chain: each 3x3 conv sees only its own slice.
    """

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        cardinality: int = 1,
        base_width: int = 26,
        scale: int = 4,
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
        if reduce_first != 1 or aa_layer is not None:
            raise ValueError("Bottle2neck supports neither block_reduce_first nor aa_layer")
        self.scale = scale
        self.is_first = stride > 1 or downsample is not None
        self.width = width = math.floor(planes * (base_width / 64)) * cardinality
        outplanes = planes * self.expansion
        first_dilation = first_dilation or dilation

        self.conv1 = nn.Conv2d(inplanes, width * scale, 1, bias=False)
        self.bn1 = norm_layer(width * scale)
        num_convs = max(1, scale - 1)
        self.convs = nn.ModuleList(
            nn.Conv2d(
                width,
                width,
                3,
                stride=stride,
                padding=first_dilation,
                dilation=first_dilation,
                groups=cardinality,
                bias=False,
            )
            for _ in range(num_convs)
        )
        self.bns = nn.ModuleList(norm_layer(width) for _ in range(num_convs))
        self.drop_block = drop_block() if drop_block is not None else nn.Identity()
        # NOTE: the pass-through slice of a strided block is pooled to the new size; the pool
        # counts the zero padding (count_include_pad), as the published weights were trained
        self.pool = nn.AvgPool2d(3, stride=stride, padding=1) if self.is_first else None
        self.conv3 = nn.Conv2d(width * scale, outplanes, 1, bias=False)
        self.bn3 = norm_layer(outplanes)
        self.se = create_attn(attn_layer, outplanes)
        # NOTE: one activation module for every position (named `relu`, as in timm)
        self.relu = act_layer(inplace=True)
        self.downsample = downsample
        self.drop_path = drop_path

    def zero_init_last(self) -> None:
        weight = getattr(self.bn3, "weight", None)
        if isinstance(weight, torch.Tensor):
            nn.init.zeros_(weight)

    def forward(self, x_in: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x_in)))
        slices = torch.split(x, self.width, 1)
        outs: list[torch.Tensor] = []
        y = slices[0]
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            y = slices[i] if i == 0 or self.is_first else y + slices[i]
            y = self.relu(bn(conv(y)))
            outs.append(y)
        if self.scale > 1:
            outs.append(self.pool(slices[-1]) if self.pool is not None else slices[-1])
        x = self.drop_block(torch.cat(outs, 1))
        x = self.bn3(self.conv3(x))
        if self.se is not None:
            x = self.se(x)
        if self.drop_path is not None:
            x = self.drop_path(x)
        x += x_in if self.downsample is None else self.downsample(x_in)
        return self.relu(x)


# --- variants -------------------------------------------------------------------------------------
_R50, _R101 = (3, 4, 6, 3), (3, 4, 23, 3)
_D = dict(stem_type="deep", stem_width=32, avg_down=True)  # 'd': deep stem + avg-pool shortcut


def _v(layers: tuple[int, ...], base_width: int, scale: int, **kw: Any) -> Any:
    return ResNetArgs(
        block=Bottle2neck, layers=layers, base_width=base_width, block_args=dict(scale=scale), **kw
    )


VARIANTS: dict[str, Any] = {
    "res2net50_26w_4s": _v(_R50, 26, 4),
    "res2net101_26w_4s": _v(_R101, 26, 4),
    "res2net50_26w_6s": _v(_R50, 26, 6),
    "res2net50_26w_8s": _v(_R50, 26, 8),
    "res2net50_48w_2s": _v(_R50, 48, 2),
    "res2net50_14w_8s": _v(_R50, 14, 8),
    "res2next50": _v(_R50, 4, 4, cardinality=8),
    "res2net50d": _v(_R50, 26, 4, **_D),
    "res2net101d": _v(_R101, 26, 4, **_D),
}

# --- weights --------------------------------------------------------------------------------------
WEIGHTS: dict[str, dict[str, Any]] = {
    "res2net50_26w_4s.in1k": weight(),
    "res2net50_48w_2s.in1k": weight(),
    "res2net50_14w_8s.in1k": weight(),
    "res2net50_26w_6s.in1k": weight(),
    "res2net50_26w_8s.in1k": weight(),
    "res2net101_26w_4s.in1k": weight(),
    "res2next50.in1k": weight(),
    "res2net50d.in1k": weight(first_conv="conv1.0"),
    "res2net101d.in1k": weight(first_conv="conv1.0"),
}

default_cfgs = register_family(
    __name__,
    model_cls=ResNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7), interpolation="bilinear", first_conv="conv1", classifier="fc", license="unknown"
    ),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. res2net50_26w_4s
    return family_entrypoint(__name__, name)
