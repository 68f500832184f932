"""VoVNet (V1 and V2): stages of one-shot aggregation (OSA) blocks.

Papers:
* `An Energy and GPU-Computation Efficient Backbone Network for Real-Time Object Detection`
  - https://arxiv.org/abs/1904.09730
* `CenterMask : Real-Time Anchor-Free Instance Segmentation` (V2: residual, effective SE)
  - https://arxiv.org/abs/1911.06667

Weights: timm's (Apache-2.0). Module names follow timm's VovNet (``stem.N``,
``stages.N.blocks.M``, ``head.fc``), so timm checkpoints load unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..layers import (
    BatchNormAct2d,
    ClassifierHead,
    ConvNormAct,
    DropPath,
    EvoNorm2dS0,
    LayerType,
    SeparableConvNormAct,
    calculate_drop_path_rates,
    create_attn,
)
from ..model import Trunk, VisionModel
from ..pretrained import IMAGENET_INCEPTION_MEAN, IMAGENET_INCEPTION_STD, NO_WEIGHTS, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["OsaBlock", "OsaStage", "SequentialAppendList", "VovNet", "default_cfgs"]


class SequentialAppendList(nn.Sequential):
    """A chain of convs whose every output is appended to ``concat_list``; returns them all
    concatenated (the block's input first, as the caller put it there)."""

    def forward(self, x: torch.Tensor, concat_list: list[torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        for module in self:
            x = module(x)
            concat_list.append(x)
        return torch.cat(concat_list, dim=1)


class OsaBlock(nn.Module):
    """One-shot aggregation: ``layer_per_block`` 3x3 convs in a chain, their outputs and the
    block's input concatenated once and fused by a 1x1 conv; optional attention and residual.
    With ``depthwise`` the convs are separable (after a 1x1 reduction to ``mid_chs``)."""

    def __init__(
        self,
        in_chs: int,
        mid_chs: int,
        out_chs: int,
        layer_per_block: int,
        residual: bool = False,
        depthwise: bool = False,
        attn: str = "",
        norm_layer: LayerType = BatchNormAct2d,
        act_layer: LayerType = nn.ReLU,
        drop_path: nn.Module | None = None,
        dilation: int = 1,
    ) -> None:
        super().__init__()
        self.residual = residual
        self.depthwise = depthwise
        layers: dict[str, Any] = dict(norm_layer=norm_layer, act_layer=act_layer)
        self.conv_reduction: nn.Module | None = None
        next_in_chs = in_chs
        if depthwise and in_chs != mid_chs:
            if residual:
                raise ValueError("a depthwise OSA block that reduces its input cannot be residual")
            self.conv_reduction = ConvNormAct(in_chs, mid_chs, 1, **layers)
        convs: list[nn.Module] = []
        for _ in range(layer_per_block):
            if depthwise:
                convs.append(SeparableConvNormAct(mid_chs, mid_chs, dilation=dilation, **layers))
            else:
                convs.append(ConvNormAct(next_in_chs, mid_chs, 3, dilation=dilation, **layers))
            next_in_chs = mid_chs
        self.conv_mid = SequentialAppendList(*convs)
        self.conv_concat = ConvNormAct(in_chs + layer_per_block * mid_chs, out_chs, **layers)
        self.attn = create_attn(attn, out_chs) if attn else None
        self.drop_path = drop_path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        output = [x]
        if self.conv_reduction is not None:
            x = self.conv_reduction(x)
        x = self.conv_concat(self.conv_mid(x, output))
        if self.attn is not None:
            x = self.attn(x)
        if self.drop_path is not None:
            x = self.drop_path(x)
        if self.residual:
            x = x + output[0]
        return x


class OsaStage(nn.Module):
    """An optional 3x3 / 2 max-pool (ceil mode), then OSA blocks; all but the first residual
    (when ``residual``), attention in the last only."""

    def __init__(
        self,
        in_chs: int,
        mid_chs: int,
        out_chs: int,
        block_per_stage: int,
        layer_per_block: int,
        downsample: bool = True,
        residual: bool = True,
        depthwise: bool = False,
        attn: str = "ese",
        norm_layer: LayerType = BatchNormAct2d,
        act_layer: LayerType = nn.ReLU,
        drop_path_rates: list[float] | None = None,
        dilation: int = 1,
    ) -> None:
        super().__init__()
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, ceil_mode=True) if downsample else None
        blocks = []
        for i in range(block_per_stage):
            rate = drop_path_rates[i] if drop_path_rates is not None else 0.0
            blocks.append(
                OsaBlock(
                    in_chs,
                    mid_chs,
                    out_chs,
                    layer_per_block,
                    residual=residual and i > 0,
                    depthwise=depthwise,
                    attn=attn if i == block_per_stage - 1 else "",
                    norm_layer=norm_layer,
                    act_layer=act_layer,
                    drop_path=DropPath(rate) if rate > 0.0 else None,
                    dilation=dilation,
                )
            )
            in_chs = out_chs
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = self.pool(x)
        return self.blocks(x)


class VovNet(VisionModel):
    """VoVNet: a three-conv stem, four OSA stages, pool and classifier.

    Args:
        stem_chs: widths of the three stem convs (the first at stride 2).
        stage_conv_chs: width of the 3x3 convs in each stage's blocks.
        stage_out_chs: output width of each stage.
        layer_per_block: 3x3 convs per OSA block.
        block_per_stage: OSA blocks per stage.
        residual: residual OSA blocks (V2).
        depthwise: separable 3x3 convs (the ``_dw`` variants, stem included).
        attn: attention after each stage's last block: ``'ese'``, ``'eca'`` or ``''``.
        stem_stride: 4 (the last stem conv strided, the first stage not pooled) or 2.
        in_chans: input channels.
        num_classes: classifier outputs (0 for none).
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
        output_stride: 32, 16 or 8: stages past it keep their resolution and dilate their convs
            instead (timm's VovNet takes 32 only).
        norm_layer: fused norm + activation (``BatchNormAct2d``; ``EvoNorm2dS0`` for the evos variant).
        act_layer: activation.
        drop_rate: dropout before the classifier.
        drop_path_rate: stochastic depth, rising linearly to this over the blocks.
    """

    # the stem level is read before the last stem conv: each stem child is a unit
    trunk = Trunk(stem=("stem.*",), stages=("stages.*",))
    classifier_name = "head.fc"

    def __init__(
        self,
        stem_chs: tuple[int, int, int],
        stage_conv_chs: tuple[int, ...],
        stage_out_chs: tuple[int, ...],
        layer_per_block: int,
        block_per_stage: tuple[int, ...],
        residual: bool = False,
        depthwise: bool = False,
        attn: str = "",
        stem_stride: int = 4,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        output_stride: int = 32,
        norm_layer: LayerType = BatchNormAct2d,
        act_layer: LayerType = nn.ReLU,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if output_stride not in (32, 16, 8):
            raise ValueError(f"output_stride must be 32, 16 or 8, got {output_stride!r}")
        if stem_stride not in (2, 4):
            raise ValueError(f"stem_stride must be 2 or 4, got {stem_stride!r}")
        if not len(stage_conv_chs) == len(stage_out_chs) == len(block_per_stage) == 4:
            raise ValueError("stage_conv_chs, stage_out_chs and block_per_stage need 4 entries each")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        layers: dict[str, Any] = dict(norm_layer=norm_layer, act_layer=act_layer)
        conv = SeparableConvNormAct if depthwise else ConvNormAct
        self.stem = nn.Sequential(
            ConvNormAct(in_chans, stem_chs[0], 3, stride=2, **layers),
            conv(stem_chs[0], stem_chs[1], 3, stride=1, **layers),
            conv(stem_chs[1], stem_chs[2], 3, stride=stem_stride // 2, **layers),
        )
        # the stride-2 level: before the strided last stem conv (stem_stride 4), else after it
        stem_tap = "stem.1" if stem_stride == 4 else "stem.2"
        self.feature_info = [dict(num_chs=stem_chs[1], reduction=2, module=stem_tap)]

        rates = calculate_drop_path_rates(drop_path_rate, list(block_per_stage), stagewise=True)
        in_chs = (stem_chs[-1], *stage_out_chs[:-1])
        stride, dilation = stem_stride, 1
        stages = []
        for i in range(4):
            # the first stage is pooled only after a stride-2 stem
            downsample = stem_stride == 2 or i > 0
            if downsample and stride * 2 > output_stride:
                downsample, dilation = False, dilation * 2
            elif downsample:
                stride *= 2
            stages.append(
                OsaStage(
                    in_chs[i],
                    stage_conv_chs[i],
                    stage_out_chs[i],
                    block_per_stage[i],
                    layer_per_block,
                    downsample=downsample,
                    residual=residual,
                    depthwise=depthwise,
                    attn=attn,
                    drop_path_rates=rates[i],  # type: ignore[arg-type]
                    dilation=dilation,
                    **layers,
                )
            )
            self.feature_info.append(dict(num_chs=stage_out_chs[i], reduction=stride, module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.num_features = stage_out_chs[-1]
        self.head = ClassifierHead(self.num_features, num_classes, pool_type=global_pool, drop_rate=drop_rate)
        self.head_hidden_size = self.head.num_features
        self._initialize()

    def init_weights(self) -> None:
        """He-normal (fan-out) convs, zero linear biases."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^stem", blocks=r"^stages\.(\d+)" if coarse else r"^stages\.(\d+).blocks\.(\d+)")


# --- variants -------------------------------------------------------------------------------------
VovNetArgs = model_args_type(VovNet)
_STEM, _STEM_DW = (64, 64, 128), (64, 64, 64)
_WIDE = dict(stage_conv_chs=(128, 160, 192, 224), stage_out_chs=(256, 512, 768, 1024))
_SLIM = dict(stage_conv_chs=(64, 80, 96, 112), stage_out_chs=(112, 256, 384, 512))
_V2 = dict(residual=True, attn="ese")  # CenterMask's VoVNetV2: residual OSA, effective SE
_L19, _L39 = (
    dict(layer_per_block=3, block_per_stage=(1, 1, 1, 1)),
    dict(layer_per_block=5, block_per_stage=(1, 1, 2, 2)),
)
_L57 = dict(layer_per_block=5, block_per_stage=(1, 1, 4, 3))

VARIANTS: dict[str, Any] = {
    "vovnet39a": VovNetArgs(stem_chs=_STEM, **_WIDE, **_L39),
    "vovnet57a": VovNetArgs(stem_chs=_STEM, **_WIDE, **_L57),
    "ese_vovnet19b_slim_dw": VovNetArgs(stem_chs=_STEM_DW, **_SLIM, **_L19, depthwise=True, **_V2),
    "ese_vovnet19b_dw": VovNetArgs(stem_chs=_STEM_DW, **_WIDE, **_L19, depthwise=True, **_V2),
    "ese_vovnet19b_slim": VovNetArgs(stem_chs=_STEM, **_SLIM, **_L19, **_V2),
    "ese_vovnet39b": VovNetArgs(stem_chs=_STEM, **_WIDE, **_L39, **_V2),
    "ese_vovnet57b": VovNetArgs(stem_chs=_STEM, **_WIDE, **_L57, **_V2),
    "ese_vovnet99b": VovNetArgs(
        stem_chs=_STEM, **_WIDE, layer_per_block=5, block_per_stage=(1, 3, 9, 3), **_V2
    ),
    "eca_vovnet39b": VovNetArgs(stem_chs=_STEM, **_WIDE, **_L39, residual=True, attn="eca"),
    # experimental: EvoNorm-S0 in place of BatchNorm + ReLU
    "ese_vovnet39b_evos": VovNetArgs(stem_chs=_STEM, **_WIDE, **_L39, norm_layer=EvoNorm2dS0, **_V2),
}

# --- weights --------------------------------------------------------------------------------------
_RA = dict(test_input_size=(3, 288, 288), test_crop_pct=0.95)

WEIGHTS: dict[str, dict[str, Any]] = {
    "vovnet39a.untrained": weight(NO_WEIGHTS),
    "vovnet57a.untrained": weight(NO_WEIGHTS),
    "ese_vovnet19b_slim_dw.untrained": weight(NO_WEIGHTS),
    "ese_vovnet19b_dw.ra_in1k": weight(_RA),
    "ese_vovnet19b_slim.untrained": weight(NO_WEIGHTS),
    "ese_vovnet39b.ra_in1k": weight(_RA),
    "ese_vovnet57b.ra4_e3600_r256_in1k": weight(
        mean=IMAGENET_INCEPTION_MEAN,
        std=IMAGENET_INCEPTION_STD,
        crop=0.95,
        size=256,
        pool_size=(8, 8),
        test=320,
        test_crop_pct=1.0,
    ),
    "ese_vovnet99b.untrained": weight(NO_WEIGHTS),
    "eca_vovnet39b.untrained": weight(NO_WEIGHTS),
    "ese_vovnet39b_evos.untrained": weight(NO_WEIGHTS),
}

default_cfgs = register_family(
    __name__,
    model_cls=VovNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        interpolation="bicubic",
        first_conv="stem.0.conv",
        classifier="head.fc",
        license="apache-2.0",
    ),
    feature_cfg=dict(flatten_sequential=True),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. ese_vovnet19b_dw
    return family_entrypoint(__name__, name)
