"""TResNet: a ResNet designed for GPU throughput.

Papers:
* `TResNet: High Performance GPU-Dedicated Architecture` - https://arxiv.org/abs/2003.13630
* `ImageNet-21K Pretraining for the Masses` - https://arxiv.org/abs/2104.10972

A space-to-depth stem (4x4 pixel blocks folded into channels, then one 3x3 conv) replaces the
7x7 conv and max-pool; strided convs are anti-aliased (stride 1, then a blur pool); basic blocks
in the first two stages (bottlenecks in ``v2``), squeeze-excitation in all but the last stage.
The original models used in-place activated batch norm; the published weights are converted to
plain batch norm (:func:`checkpoint_filter_fn` converts the original checkpoints). Weights from
Alibaba MIIL (https://github.com/Alibaba-MIIL/TResNet, Apache-2.0); they expect inputs in [0, 1]
(mean 0, std 1).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from functools import partial
from typing import Any, ClassVar, cast

import torch
from torch import nn

from ..features import prune_trunk, walk_trunk
from ..layers import (
    BlurPool2d,
    ClassifierHead,
    ConvNormAct,
    DropPath,
    SEModule,
    SpaceToDepth,
    calculate_drop_path_rates,
)
from ..model import Trunk, VisionModel
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "VARIANTS",
    "WEIGHTS",
    "BasicBlock",
    "Bottleneck",
    "TResNet",
    "checkpoint_filter_fn",
    "default_cfgs",
]

# NOTE: the blocks' activation: leaky ReLU with timm's (and the original's) slope of 1e-3
_BLOCK_ACT = partial(nn.LeakyReLU, negative_slope=1e-3)


class BasicBlock(nn.Module):
    """Two 3x3 conv-norms (the first anti-aliased when strided), SE on the output."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        use_se: bool = True,
        aa_layer: type[nn.Module] | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.downsample = downsample
        self.stride = stride
        self.conv1 = ConvNormAct(inplanes, planes, 3, stride, act_layer=_BLOCK_ACT, aa_layer=aa_layer)
        self.conv2 = ConvNormAct(planes, planes, 3, 1, apply_act=False)
        self.act = nn.ReLU(inplace=True)
        outplanes = planes * self.expansion
        self.se = SEModule(outplanes, rd_channels=max(outplanes // 4, 64)) if use_se else None
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.conv2(self.conv1(x))
        if self.se is not None:
            out = self.se(out)
        return self.act(self.drop_path(out) + shortcut)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (anti-aliased when strided), SE on the reduced width, 1x1 expand by 4."""

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        use_se: bool = True,
        act_layer: Any = None,
        aa_layer: type[nn.Module] | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.downsample = downsample
        self.stride = stride
        act_layer = act_layer or _BLOCK_ACT
        self.conv1 = ConvNormAct(inplanes, planes, 1, 1, act_layer=act_layer)
        self.conv2 = ConvNormAct(planes, planes, 3, stride, act_layer=act_layer, aa_layer=aa_layer)
        self.se = SEModule(planes, rd_channels=max(planes * self.expansion // 8, 64)) if use_se else None
        self.conv3 = ConvNormAct(planes, planes * self.expansion, 1, 1, apply_act=False)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.conv2(self.conv1(x))
        if self.se is not None:
            out = self.se(out)
        out = self.conv3(out)
        return self.act(self.drop_path(out) + shortcut)


class TResNet(VisionModel):
    """TResNet (``v2``: bottlenecks in every stage, widths rounded to multiples of 8).

    Args:
        layers: blocks per stage (four stages).
        in_chans: input channels.
        num_classes: classifier outputs (0 for none).
        width_factor: width multiplier over the base 64.
        v2: the TResNet-v2 layout.
        global_pool: pooling type (``'fast'``: a plain mean, timm's default here).
        drop_rate: dropout before the classifier.
        drop_path_rate: stochastic depth, rising linearly to this over the blocks.
    """

    # NOTE: the stages live in one ``body`` Sequential (checkpoint keys ``body.layerN``)
    trunk = Trunk(
        stem=("body.s2d", "body.conv1"),
        stages=("body.layer1", "body.layer2", "body.layer3", "body.layer4"),
        checkpoint="block",
    )
    classifier_name = "head.fc"
    # the space-to-depth stem takes input sides that are multiples of 4 (as timm's)
    input_multiple: ClassVar[int] = 4

    def __init__(
        self,
        layers: tuple[int, ...] | list[int],
        in_chans: int = 3,
        num_classes: int = 1000,
        width_factor: float = 1.0,
        v2: bool = False,
        global_pool: str = "fast",
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if len(layers) != 4:
            raise ValueError(f"TResNet has four stages, got layers={tuple(layers)}")
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        planes = int(64 * width_factor)
        if v2:
            planes = planes // 8 * 8
        self.inplanes = self.planes = planes
        dpr = calculate_drop_path_rates(drop_path_rate, list(layers), stagewise=True)
        early = Bottleneck if v2 else BasicBlock
        stage_cfgs = [  # (block, width, stride, squeeze-excitation)
            (early, planes, 1, True),
            (early, planes * 2, 2, True),
            (Bottleneck, planes * 4, 2, True),
            (Bottleneck, planes * 8, 2, False),
        ]
        body: OrderedDict[str, nn.Module] = OrderedDict()
        body["s2d"] = SpaceToDepth()
        body["conv1"] = ConvNormAct(in_chans * 16, planes, 3, 1, act_layer=nn.LeakyReLU)
        for i, (block, width, stride, use_se) in enumerate(stage_cfgs):
            body[f"layer{i + 1}"] = self._make_layer(block, width, layers[i], stride, use_se, dpr[i])
        self.body = nn.Sequential(body)

        # NOTE: timm's levels: the stem's as module '' at reduction 2 (it is body.conv1's output,
        # at reduction 4; read there, see _tap), then the four stages
        self.feature_info = [dict(num_chs=planes, reduction=2, module="")]
        for i, (block, width, _, _) in enumerate(stage_cfgs):
            info = dict(num_chs=width * block.expansion, reduction=2 ** (i + 2), module=f"body.layer{i + 1}")
            self.feature_info.append(info)

        self.num_classes = num_classes
        self.num_features = planes * 8 * Bottleneck.expansion
        self.head = ClassifierHead(self.num_features, num_classes, pool_type=global_pool, drop_rate=drop_rate)
        self.head_hidden_size = self.head.num_features
        self._initialize()

    def _make_layer(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        planes: int,
        depth: int,
        stride: int,
        use_se: bool,
        drop_path_rates: Any,
    ) -> nn.Sequential:
        downsample = None
        outplanes = planes * block.expansion
        if stride != 1 or self.inplanes != outplanes:
            parts: list[nn.Module] = []
            if stride == 2:
                parts.append(nn.AvgPool2d(2, 2, ceil_mode=True, count_include_pad=False))
            parts.append(ConvNormAct(self.inplanes, outplanes, 1, 1, apply_act=False))
            downsample = nn.Sequential(*parts)
        blocks = []
        for i in range(depth):
            rate = drop_path_rates[i] if isinstance(drop_path_rates, list) else drop_path_rates
            blocks.append(
                block(
                    self.inplanes,
                    planes,
                    stride if i == 0 else 1,
                    downsample if i == 0 else None,
                    use_se=use_se,
                    aa_layer=BlurPool2d,
                    drop_path_rate=rate,
                )
            )
            self.inplanes = outplanes
        return nn.Sequential(*blocks)

    def init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="leaky_relu")
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
        for m in self.modules():  # each residual branch starts as zero
            last = m.conv2 if isinstance(m, BasicBlock) else m.conv3 if isinstance(m, Bottleneck) else None
            if last is not None:
                nn.init.zeros_(cast(torch.Tensor, last.bn.weight))

    def _tap(self, index: int) -> dict[str, Any]:
        """Feature level ``index`` as read: level 0 (module '') is the stem conv's output."""
        info = self.feature_info[index]
        return dict(info, module="body.conv1") if not info["module"] else info

    def _intermediates(
        self, x: torch.Tensor, take: list[int], *, stop_early: bool, norm: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        taps = [self._tap(i) for i in sorted(take)]
        return walk_trunk(
            self, self.trunk, x, taps, stop_early=stop_early, checkpointing=self._checkpointing()
        )

    def _prune_trunk(self, max_index: int) -> None:
        prune_trunk(self, self.trunk, self._tap(max_index)["module"])

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^body\.conv1", blocks=r"^body\.layer(\d+)" if coarse else r"^body\.layer(\d+)\.(\d+)"
        )


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """Original (MIIL) checkpoints to this layout: ``convN.0[.0]`` -> ``convN.conv``,
    ``convN[.0].1`` -> ``convN.bn``, ``downsample.i.0/1`` -> ``downsample.i.conv/bn``; their
    in-place ABN scales become batch-norm weights ``|w| + 1e-5``. timm-layout checkpoints pass."""
    if "body.conv1.conv.weight" in state_dict:
        return state_dict
    state_dict = state_dict.get("model", state_dict)
    state_dict = state_dict.get("state_dict", state_dict)
    renames = (
        (r"conv(\d+)\.0.0", r"conv\1.conv"),
        (r"conv(\d+)\.0.1", r"conv\1.bn"),
        (r"conv(\d+)\.0", r"conv\1.conv"),
        (r"conv(\d+)\.1", r"conv\1.bn"),
        (r"downsample\.(\d+)\.0", r"downsample.\1.conv"),
        (r"downsample\.(\d+)\.1", r"downsample.\1.bn"),
    )
    out = {}
    for key, value in state_dict.items():
        for pattern, repl in renames:
            key = re.sub(pattern, repl, key)
        if key.endswith("bn.weight"):
            value = value.abs().add(1e-5)
        out[key] = value
    return out


# --- variants -------------------------------------------------------------------------------------
TResNetArgs = model_args_type(TResNet)

VARIANTS: dict[str, Any] = {
    "tresnet_m": TResNetArgs(layers=(3, 4, 11, 3)),
    "tresnet_l": TResNetArgs(layers=(4, 5, 18, 3), width_factor=1.2),
    "tresnet_xl": TResNetArgs(layers=(4, 5, 24, 3), width_factor=1.3),
    "tresnet_v2_l": TResNetArgs(layers=(3, 4, 23, 3), width_factor=1.0, v2=True),
}

# --- weights --------------------------------------------------------------------------------------
_448: dict[str, Any] = dict(size=448, pool_size=(14, 14))
_IN21K = dict(num_classes=11221)
WEIGHTS: dict[str, dict[str, Any]] = {
    "tresnet_m.miil_in21k_ft_in1k": weight(default=True),
    "tresnet_m.miil_in21k": weight(_IN21K),
    "tresnet_m.miil_in1k": weight(),
    "tresnet_l.miil_in1k": weight(default=True),
    "tresnet_xl.miil_in1k": weight(default=True),
    "tresnet_m.miil_in1k_448": weight(**_448),
    "tresnet_l.miil_in1k_448": weight(**_448),
    "tresnet_xl.miil_in1k_448": weight(**_448),
    "tresnet_v2_l.miil_in21k_ft_in1k": weight(default=True),
    "tresnet_v2_l.miil_in21k": weight(_IN21K),
}

DEPRECATED = {
    "tresnet_m_miil_in21k": "tresnet_m.miil_in21k",
    "tresnet_m_448": "tresnet_m.miil_in1k_448",
    "tresnet_l_448": "tresnet_l.miil_in1k_448",
    "tresnet_xl_448": "tresnet_xl.miil_in1k_448",
}

default_cfgs = register_family(
    __name__,
    model_cls=TResNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        interpolation="bilinear",
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        first_conv="body.conv1.conv",
        classifier="head.fc",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=(1, 2, 3, 4), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
    deprecated=DEPRECATED,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. tresnet_m
    return family_entrypoint(__name__, name)
