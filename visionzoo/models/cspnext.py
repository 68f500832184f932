"""CSPNeXt: the RTMDet backbone (OpenMMLab), as ImageNet classifiers.

Paper: `RTMDet: An Empirical Study of Designing Real-Time Object Detectors`
- https://arxiv.org/abs/2212.07784 (the paper's backbone; the name is MMDetection's). Not the
  unrelated "CSPNeXt" token-hybrid backbone of Chen et al. (EAAI 2024).

Weights: OpenMMLab's (Apache-2.0), converted and hosted by a third party on the Hub
(``munehiro-k/...``), as timm lists them. Module names follow timm's CspNext (``stem.N``,
``stages.N.M``, ``head.fc``); MMDetection / MMPretrain checkpoints load through
:func:`checkpoint_filter_fn`. Its own CSP blocks: nothing is shared with ``cspnet``.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from torch import nn

from ..layers import (
    ClassifierHead,
    ConvNormAct,
    DropPath,
    EffectiveSEModule,
    LayerType,
    calculate_drop_path_rates,
)
from ..model import Trunk, VisionModel
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "CspNext",
    "CspNextBlock",
    "CspNextLayer",
    "DepthwiseSeparableConv",
    "SPPBottleneck",
    "checkpoint_filter_fn",
    "default_cfgs",
]


class SPPBottleneck(nn.Module):
    """Spatial pyramid pooling: a 1x1 conv to half width, its map and its stride-1 max pools of
    each ``kernel_sizes`` concatenated, a 1x1 conv to ``out_channels``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_sizes: tuple[int, ...] = (5, 9, 13),
        norm_layer: LayerType = nn.BatchNorm2d,
        act_layer: LayerType = nn.SiLU,
    ) -> None:
        super().__init__()
        mid = in_channels // 2
        layers: dict[str, Any] = dict(norm_layer=norm_layer, act_layer=act_layer)
        self.conv1 = ConvNormAct(in_channels, mid, 1, **layers)
        self.poolings = nn.ModuleList(nn.MaxPool2d(k, stride=1, padding=k // 2) for k in kernel_sizes)
        self.conv2 = ConvNormAct(mid * (len(kernel_sizes) + 1), out_channels, 1, **layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x] + [pool(x) for pool in self.poolings], dim=1))


class DepthwiseSeparableConv(nn.Module):
    """Depthwise conv-norm-act, then pointwise conv-norm-act (each with its own norm, unlike
    :class:`~visionzoo.layers.SeparableConvNormAct`)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        padding: int = 0,
        dilation: int = 1,
        norm_layer: LayerType = nn.BatchNorm2d,
        act_layer: LayerType = nn.SiLU,
    ) -> None:
        super().__init__()
        layers: dict[str, Any] = dict(norm_layer=norm_layer, act_layer=act_layer)
        self.depthwise_conv = ConvNormAct(
            in_channels,
            in_channels,
            kernel_size,
            padding=padding,
            dilation=dilation,
            groups=in_channels,
            **layers,
        )
        self.pointwise_conv = ConvNormAct(in_channels, out_channels, 1, **layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


class CspNextBlock(nn.Module):
    """A 3x3 conv, then a large-kernel (5x5) depthwise-separable conv; residual when the widths
    match and ``add_identity``."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        add_identity: bool = True,
        kernel_size: int = 5,
        dilation: int = 1,
        drop_path: float = 0.0,
        norm_layer: LayerType = nn.BatchNorm2d,
        act_layer: LayerType = nn.SiLU,
    ) -> None:
        super().__init__()
        layers: dict[str, Any] = dict(norm_layer=norm_layer, act_layer=act_layer)
        self.conv1 = ConvNormAct(in_channels, out_channels, 3, padding=dilation, dilation=dilation, **layers)
        self.conv2 = DepthwiseSeparableConv(
            out_channels,
            out_channels,
            kernel_size,
            padding=dilation * (kernel_size // 2),
            dilation=dilation,
            **layers,
        )
        self.add_identity = add_identity and in_channels == out_channels
        self.drop_path = DropPath(drop_path) if drop_path and self.add_identity else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        if self.add_identity:
            out = self.drop_path(out) + x
        return out


class CspNextLayer(nn.Module):
    """Cross stage partial layer: two 1x1 convs split the input; one branch runs the blocks, the
    two are concatenated, optionally gated by an effective SE, and fused by a 1x1 conv."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        expand_ratio: float = 0.5,
        num_blocks: int = 1,
        add_identity: bool = True,
        channel_attention: bool = False,
        dilation: int = 1,
        drop_path_rates: list[float] | None = None,
        norm_layer: LayerType = nn.BatchNorm2d,
        act_layer: LayerType = nn.SiLU,
    ) -> None:
        super().__init__()
        layers: dict[str, Any] = dict(norm_layer=norm_layer, act_layer=act_layer)
        mid = int(out_channels * expand_ratio)
        self.short_conv = ConvNormAct(in_channels, mid, 1, **layers)
        self.main_conv = ConvNormAct(in_channels, mid, 1, **layers)
        rates = drop_path_rates or [0.0] * num_blocks
        self.blocks = nn.ModuleList(
            CspNextBlock(mid, mid, add_identity, dilation=dilation, drop_path=rates[i], **layers)
            for i in range(num_blocks)
        )
        self.attention: nn.Module = EffectiveSEModule(2 * mid) if channel_attention else nn.Identity()
        self.final_conv = ConvNormAct(2 * mid, out_channels, 1, **layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        short = self.short_conv(x)
        main = self.main_conv(x)
        for block in self.blocks:
            main = block(main)
        return self.final_conv(self.attention(torch.cat([main, short], dim=1)))


class CspNext(VisionModel):
    """CSPNeXt: a three-conv stem, then stages of a strided 3x3 conv and a CSP layer of
    large-kernel blocks; the last stage puts an SPP in front of its CSP layer and has no residuals.

    Args:
        in_chans: input channels.
        num_classes: classifier outputs (0 for none).
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
        output_stride: 32, 16 or 8 (later stages are dilated instead of strided).
        drop_rate: dropout before the classifier.
        drop_path_rate: stochastic depth, rising linearly over the blocks of all but the last stage.
        depths, channels: blocks and width per stage, before ``deepen_factor`` / ``widen_factor``.
        expand_ratio: hidden width of the CSP layers.
        channel_attention: effective SE in each CSP layer.
        norm_layer, act_layer: BatchNorm with PyTorch's defaults (the classification configs; the
            RTMDet detectors use eps=1e-3, momentum=0.03) and SiLU.
    """

    trunk = Trunk(stem=("stem",), stages=("stages.*",))
    classifier_name = "head.fc"

    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        output_stride: int = 32,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        depths: tuple[int, ...] = (3, 6, 6, 3),
        channels: tuple[int, ...] = (128, 256, 512, 1024),
        deepen_factor: float = 1.0,
        widen_factor: float = 1.0,
        expand_ratio: float = 0.5,
        channel_attention: bool = True,
        norm_layer: LayerType = nn.BatchNorm2d,
        act_layer: LayerType = nn.SiLU,
    ) -> None:
        super().__init__()
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")
        if len(depths) != len(channels):
            raise ValueError(f"depths and channels need the same length, got {depths!r} and {channels!r}")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        layers: dict[str, Any] = dict(norm_layer=norm_layer, act_layer=act_layer)
        stage_depths = [max(round(d * deepen_factor), 1) for d in depths]
        stage_chs = [int(c * widen_factor) for c in channels]
        # the last stage has no residuals: the rates rise over the stages before it
        rates: list[Any] = [
            *calculate_drop_path_rates(drop_path_rate, stage_depths[:-1], stagewise=True),
            None,
        ]
        stem_chs = max(stage_chs[0] // 2, 1)
        half = max(stem_chs // 2, 1)
        self.stem = nn.Sequential(
            ConvNormAct(in_chans, half, 3, stride=2, padding=1, **layers),
            ConvNormAct(half, half, 3, padding=1, **layers),
            ConvNormAct(half, stem_chs, 3, padding=1, **layers),
        )
        self.feature_info = [dict(num_chs=stem_chs, reduction=2, module="stem")]
        stages: list[nn.Module] = []
        net_stride, dilation, prev_chs = 2, 1, stem_chs
        for i, (chs, depth) in enumerate(zip(stage_chs, stage_depths)):
            stride, first_dilation = 2, dilation
            if net_stride * 2 > output_stride:
                stride, dilation = 1, dilation * 2
            net_stride *= stride
            last = i == len(stage_chs) - 1
            stage: list[nn.Module] = [
                ConvNormAct(
                    prev_chs, chs, 3, stride=stride, padding=first_dilation, dilation=first_dilation, **layers
                )
            ]
            if last:
                stage.append(SPPBottleneck(chs, chs, **layers))
            stage.append(
                CspNextLayer(
                    chs,
                    chs,
                    expand_ratio=expand_ratio,
                    num_blocks=depth,
                    add_identity=not last,
                    channel_attention=channel_attention,
                    dilation=dilation,
                    drop_path_rates=rates[i],
                    **layers,
                )
            )
            stages.append(nn.Sequential(*stage))
            self.feature_info.append(dict(num_chs=chs, reduction=net_stride, module=f"stages.{i}"))
            prev_chs = chs
        self.stages = nn.Sequential(*stages)
        self.num_features = prev_chs
        self.head = ClassifierHead(prev_chs, num_classes, pool_type=global_pool, drop_rate=drop_rate)
        self.head_hidden_size = self.head.num_features
        self._initialize()

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [
                (r"^stages\.(\d+)\.\d+\.blocks\.(\d+)", None),
                (r"^stages\.(\d+)\.\d+\.(?:attention|final_conv)", (99999,)),  # with the last block
                (r"^stages\.(\d+)", (0,)),
            ],
        )


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module | None = None) -> dict[str, Any]:
    """An OpenMMLab (MMDetection / MMPretrain) checkpoint -> this model's keys: no ``backbone.``
    prefix, ``stageN.`` -> ``stages.(N-1).``; a checkpoint already in these keys is unchanged."""
    state_dict = state_dict.get("state_dict", state_dict)
    out = {}
    for k, v in state_dict.items():
        k = re.sub(r"^backbone\.", "", k)
        k = re.sub(r"^stage(\d+)\.", lambda m: f"stages.{int(m.group(1)) - 1}.", k)
        out[k] = v
    return out


# --- variants -------------------------------------------------------------------------------------
CspNextArgs = model_args_type(CspNext)

# (deepen, widen) factors of MMDetection's RTMDet sizes
_SIZES = {"tiny": (0.167, 0.375), "s": (0.33, 0.5), "m": (0.67, 0.75), "l": (1.0, 1.0), "x": (1.33, 1.25)}

VARIANTS: dict[str, Any] = {
    f"cspnext_{size}": CspNextArgs(deepen_factor=d, widen_factor=w) for size, (d, w) in _SIZES.items()
}

# --- weights --------------------------------------------------------------------------------------
_MMDET_RSB = "https://download.openmmlab.com/mmdetection/v3.0/rtmdet/cspnext_rsb_pretrain/"
_NAME_NOTE = "CSPNeXt as in RTMDet / MMDetection; not the EAAI 2024 'token hybrid backbone' of the same name."
_FILES = {
    "tiny": "cspnext-tiny_imagenet_600e-3a2dd350.pth",
    "s": "cspnext-s_imagenet_600e-ea671761.pth",
    "m": "cspnext-m_8xb256-rsb-a1-600e_in1k-ecb3bbd9.pth",
    "l": "cspnext-l_8xb256-rsb-a1-600e_in1k-6a760974.pth",
    "x": "cspnext-x_8xb256-rsb-a1-600e_in1k-b3f78edd.pth",
}

WEIGHTS: dict[str, dict[str, Any]] = {
    f"cspnext_{size}.rsb_a1_in1k": weight(
        hf_hub_id=f"munehiro-k/cspnext_{size}.rsb_a1_in1k",
        notes=(f"Converted from {_MMDET_RSB}{file}", _NAME_NOTE),
    )
    for size, file in _FILES.items()
}

default_cfgs = register_family(
    __name__,
    model_cls=CspNext,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        crop_pct=0.949,  # resize the short side to 236 (bicubic), center crop 224
        interpolation="bicubic",
        first_conv="stem.0.conv",
        classifier="head.fc",
        license="apache-2.0",
        origin_url="https://github.com/open-mmlab/mmdetection/tree/main/configs/rtmdet",
        paper_name="RTMDet: An Empirical Study of Designing Real-Time Object Detectors",
        paper_ids="arXiv:2212.07784",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3, 4), feature_cls="getter"),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. cspnext_s
    return family_entrypoint(__name__, name)
