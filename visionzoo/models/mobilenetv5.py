"""MobileNet-V5: the Gemma 3n vision encoder, MobileNetV4 blocks (universal inverted residuals,
mobile multi-query attention) with RMS norms, and a multi-scale fusion adapter (MSFA) that
resizes the last two stages' maps to one resolution, fuses them and pools to a fixed grid.

Paper (the blocks): `MobileNetV4 - Universal Models for the Mobile Ecosystem` -
https://arxiv.org/abs/2404.10518

Weights: Gemma 3n's encoder (``gemma`` license). Built on the EfficientNet builder; module names
follow timm's ``MobileNetV5`` / ``MobileNetV5Encoder``, and Gemma checkpoints (``model.vision_tower.
timm_model.`` keys) are unwrapped by :func:`checkpoint_filter_fn`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from ..features import feature_take_indices
from ..layers import ConvNormAct, create_conv2d, get_act_layer, to_2tuple
from ..layers.activations import LayerType
from ..layers.classifier import check_num_classes
from ..layers.norm import get_norm_layer
from ..layers.norm_act import get_norm_act_layer
from ..layers.pool import SelectAdaptivePool2d
from ..layers.rms_norm import RmsNorm2d
from ..model import Trunk, VisionModel, checkpoint_seq
from ..pretrained import IMAGENET_INCEPTION_MEAN, IMAGENET_INCEPTION_STD, NO_WEIGHTS, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type
from ._efficientnet_blocks import SqueezeExcite, UniversalInvertedResidual
from ._efficientnet_builder import (
    EfficientNetBuilder,
    decode_arch_def,
    efficientnet_init_weights,
    round_channels,
)

__all__ = ["MobileNetV5", "MobileNetV5Encoder", "MobileNetV5MultiScaleFusionAdapter", "default_cfgs"]

_GELU = partial(nn.GELU, approximate="tanh")


def fuse_scales(inputs: list[torch.Tensor], mode: str) -> torch.Tensor:
    """The maps upsampled (``mode``) to the first's (the largest) size, concatenated on channels."""
    size = inputs[0].shape[-2:]
    resized = []
    for img in inputs:
        if img.shape[-2] < size[0] or img.shape[-1] < size[1]:
            img = F.interpolate(img, size=(int(size[0]), int(size[1])), mode=mode)
        resized.append(img)
    return torch.cat(resized, dim=1)


def to_resolution(x: torch.Tensor, out_h: int, out_w: int) -> torch.Tensor:
    """``x`` brought to ``(out_h, out_w)``: average-pooled by whole strides where they divide,
    else resized (bilinear)."""
    h, w = x.shape[-2:]
    if h == out_h and w == out_w:
        return x
    if h % out_h or w % out_w:
        return F.interpolate(x, size=(out_h, out_w), mode="bilinear")
    return F.avg_pool2d(x, kernel_size=(h // out_h, w // out_w), stride=(h // out_h, w // out_w))


# NOTE: the sizes come from the inputs' shapes: one graph node each under FX
torch.fx.wrap("fuse_scales")
torch.fx.wrap("to_resolution")


class MobileNetV5MultiScaleFusionAdapter(nn.Module):
    """MSFA: feature maps fused at the largest one's resolution by a pointwise inverted
    residual (``ffn``), brought to ``output_resolution`` and normalised."""

    def __init__(
        self,
        in_chs: int | Sequence[int],
        out_chs: int,
        output_resolution: int,
        expansion_ratio: float = 2.0,
        interpolation_mode: str = "nearest",
        layer_scale_init_value: float | None = None,
        noskip: bool = True,
        act_layer: LayerType | None = None,
        norm_layer: LayerType | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = sum(in_chs) if isinstance(in_chs, Sequence) else in_chs
        self.out_channels = out_chs
        self.output_resolution = to_2tuple(output_resolution)
        self.expansion_ratio = expansion_ratio
        self.interpolation_mode = interpolation_mode
        act = act_layer or _GELU
        norm: Any = norm_layer or RmsNorm2d
        self.ffn = UniversalInvertedResidual(
            self.in_channels,
            out_chs,
            dw_kernel_size_mid=0,
            exp_ratio=expansion_ratio,
            act_layer=act,
            norm_layer=norm,
            noskip=noskip,
            layer_scale_init_value=layer_scale_init_value,
        )
        self.norm = norm(out_chs)

    def forward(self, inputs: list[torch.Tensor]) -> torch.Tensor:
        x = self.ffn(fuse_scales(inputs, self.interpolation_mode))
        x = to_resolution(x, self.output_resolution[0], self.output_resolution[1])
        return self.norm(x)


def _build_trunk(
    model: Any,
    block_args: Any,
    *,
    in_chans: int,
    stem_size: int,
    stem_bias: bool,
    fix_stem: bool,
    pad_type: str,
    act: Callable[..., nn.Module],
    norm: Any,
    aa_layer: LayerType | None,
    se_layer: Callable[..., nn.Module] | None,
    se_from_exp: bool,
    round_chs_fn: Callable[[int], int],
    drop_path_rate: float,
    layer_scale_init_value: float | None,
) -> int:
    """``conv_stem`` (conv + norm + act) and ``blocks``; sets ``feature_info`` / ``stage_ends``;
    returns the last stage's width."""
    if not fix_stem:
        stem_size = round_chs_fn(stem_size)
    model.conv_stem = ConvNormAct(
        in_chans, stem_size, 3, stride=2, padding=pad_type, bias=stem_bias, norm_layer=norm, act_layer=act
    )
    builder = EfficientNetBuilder(
        output_stride=32,
        pad_type=pad_type,
        round_chs_fn=round_chs_fn,
        se_from_exp=se_from_exp,
        act_layer=act,
        norm_layer=norm,
        aa_layer=aa_layer,
        se_layer=se_layer or SqueezeExcite,
        drop_path_rate=drop_path_rate,
        layer_scale_init_value=layer_scale_init_value,
    )
    model.blocks = nn.Sequential(*builder(stem_size, block_args))
    model.feature_info = builder.features
    model.stage_ends = [f["stage"] for f in builder.features]
    return builder.in_chs


class _MobileNetV5Base(VisionModel):
    """The trunk walk both classes share: the stem, the stages, the MSFA over its stages."""

    trunk = Trunk(stem=("conv_stem",), stages=("blocks.*",))
    # timm's feature_info names the stem level "bn1", which no module is: the names are labels
    feature_modules = False
    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        conv_stem: nn.Module
        blocks: nn.Sequential
        stage_ends: list[int]
        msfa: MobileNetV5MultiScaleFusionAdapter | None
        msfa_indices: list[int]

    def _msfa_walk(
        self, x: torch.Tensor, take: list[int], stop_early: bool
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        levels = [self.stage_ends[i] for i in take]
        last = max(levels) if levels else 0
        intermediates, fused = [], []
        x = self.conv_stem(x)
        if 0 in levels:
            intermediates.append(x)
        if self.msfa is not None and 0 in self.msfa_indices:
            fused.append(x)
        for i, blk in enumerate(self.blocks):
            if stop_early and i + 1 > last:
                break
            if not torch.jit.is_scripting() and self._checkpointing():
                x = checkpoint_seq(blk.children(), x)
            else:
                x = blk(x)
            if i + 1 in levels:
                intermediates.append(x)
            if self.msfa is not None and i + 1 in self.msfa_indices:
                fused.append(x)
        if self.msfa is not None and not stop_early:
            x = self.msfa(fused)
        return x, intermediates

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv_stem(x)
        if self.msfa is None:
            if not torch.jit.is_scripting() and self._checkpointing():
                return checkpoint_seq(self.blocks, x, flatten=True)
            return self.blocks(x)
        fused: list[torch.Tensor] = []
        if 0 in self.msfa_indices:
            fused.append(x)
        # (the MSFA is not checkpointed: it takes a list of maps)
        for i, blk in enumerate(self.blocks):
            if not torch.jit.is_scripting() and self._checkpointing():
                x = checkpoint_seq(blk.children(), x)
            else:
                x = blk(x)
            if i + 1 in self.msfa_indices:
                fused.append(x)
        return self.msfa(fused)

    def _intermediates(
        self, x: torch.Tensor, take: list[int], *, stop_early: bool, norm: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return self._msfa_walk(x, take, stop_early)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^conv_stem", blocks=r"^blocks\.(\d+)" if coarse else r"^blocks\.(\d+)\.(\d+)")


class MobileNetV5(_MobileNetV5Base):
    """MobileNet-V5 classifier: the trunk, the MSFA (or a MobileNetV4 pooled head conv + norm),
    pooling and a linear classifier.

    Args:
        block_args: decoded block args (or block strings) per stage.
        num_classes, in_chans, global_pool, drop_rate, drop_path_rate: as usual.
        stem_size, stem_bias, fix_stem: the stem conv's width (rounded unless fixed) and bias.
        num_features: the MSFA's output width (or the head conv's).
        pad_type: ``''`` or ``'same'``.
        use_msfa, msfa_indices, msfa_output_resolution: the fusion adapter, the feature levels it
            fuses and its output grid.
        act_layer, norm_layer, aa_layer, se_layer, se_from_exp, round_chs_fn: the builder's.
        layer_scale_init_value: layer scale of the blocks (None: none).
    """

    classifier_name = "classifier"
    head_names = ("msfa", "global_pool", "conv_head", "norm_head", "flatten", "classifier")
    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        conv_head: nn.Module | None
        norm_head: nn.Module | None

    def __init__(
        self,
        block_args: Any,
        num_classes: int = 1000,
        in_chans: int = 3,
        stem_size: int = 16,
        stem_bias: bool = True,
        fix_stem: bool = False,
        num_features: int = 2048,
        pad_type: str = "",
        use_msfa: bool = True,
        msfa_indices: Sequence[int] = (-2, -1),
        msfa_output_resolution: int = 16,
        act_layer: LayerType | None = None,
        norm_layer: LayerType | None = None,
        aa_layer: LayerType | None = None,
        se_layer: Callable[..., nn.Module] | None = None,
        se_from_exp: bool = True,
        round_chs_fn: Callable[[int], int] = round_channels,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        layer_scale_init_value: float | None = None,
        global_pool: str = "avg",
    ) -> None:
        super().__init__()
        check_num_classes(num_classes)
        act = get_act_layer(act_layer or _GELU)
        norm: Any = get_norm_layer(norm_layer) or RmsNorm2d
        norm_act = get_norm_act_layer(norm, act)
        assert act is not None and norm_act is not None
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        last = _build_trunk(
            self,
            block_args,
            in_chans=in_chans,
            stem_size=stem_size,
            stem_bias=stem_bias,
            fix_stem=fix_stem,
            pad_type=pad_type,
            act=act,
            norm=norm,
            aa_layer=aa_layer,
            se_layer=se_layer,
            se_from_exp=se_from_exp,
            round_chs_fn=round_chs_fn,
            drop_path_rate=drop_path_rate,
            layer_scale_init_value=layer_scale_init_value,
        )
        self.msfa_output_resolution = msfa_output_resolution
        self.msfa = None
        self.conv_head = None
        self.norm_head = None
        self.global_pool = SelectAdaptivePool2d(pool_type=global_pool)
        if use_msfa:
            self.num_features = num_features
            self.msfa_indices = feature_take_indices(len(self.feature_info), list(msfa_indices))[0]
            self.msfa_in_chs = sum(self.feature_info[i]["num_chs"] for i in self.msfa_indices)
            self.msfa = MobileNetV5MultiScaleFusionAdapter(
                self.msfa_in_chs, num_features, msfa_output_resolution, act_layer=act, norm_layer=norm
            )
            self.head_hidden_size = self.num_features * self.global_pool.feat_mult()
        else:
            self.msfa_indices = []
            self.num_features = last
            self.head_hidden_size = num_features
            pooled = self.num_features * self.global_pool.feat_mult()
            self.conv_head = create_conv2d(pooled, num_features, 1, padding=pad_type)
            self.norm_head = norm_act(num_features)
        self.flatten: nn.Module = nn.Flatten(1) if global_pool else nn.Identity()
        self.classifier: nn.Module = (
            nn.Linear(self.head_hidden_size, num_classes) if num_classes > 0 else nn.Identity()
        )
        efficientnet_init_weights(self)

    def get_classifier(self, name_only: bool = False) -> nn.Module | str:
        return "classifier" if name_only else self.classifier

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A fresh classifier; a new pooling only where no head conv is sized for the old one."""
        check_num_classes(num_classes)
        ref = next(self.parameters(), None)
        self.num_classes = num_classes
        if global_pool is not None:
            pool = SelectAdaptivePool2d(pool_type=global_pool)
            if self.conv_head is None:
                self.head_hidden_size = self.num_features * pool.feat_mult()
            elif cast_int(self.conv_head.in_channels) != self.num_features * pool.feat_mult():
                raise ValueError("the head conv is sized for the pooled width: the pooling cannot change it")
            self.global_pool = pool.train(self.training)
            self.flatten = (nn.Flatten(1) if global_pool else nn.Identity()).train(self.training)
        device = ref.device if ref is not None and ref.device.type != "meta" else None
        dtype = ref.dtype if ref is not None else None
        self.classifier = (
            nn.Linear(self.head_hidden_size, num_classes, device=device, dtype=dtype)
            if num_classes > 0
            else nn.Identity()
        ).train(self.training)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.global_pool(x)
        if self.conv_head is not None:
            x = self.conv_head(x)
        if self.norm_head is not None:
            x = self.norm_head(x)
        x = self.flatten(x)
        if self.drop_rate > 0.0:
            x = F.dropout(x, p=self.drop_rate, training=self.training)
        return x if pre_logits else self.classifier(x)

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """Cut the stages after the last of ``indices``; the MSFA and head conv go with a cut or
        the head, as in timm."""
        take, max_index = feature_take_indices(len(self.feature_info), indices)
        num_chs = self.feature_info[max_index]["num_chs"]
        stage = self.stage_ends[max_index]
        cut = stage < len(self.blocks)
        self.blocks = self.blocks[:stage]
        if cut or (prune_head and self.msfa is not None):
            self.num_features = num_chs
        if cut or prune_head:
            self.msfa = self.conv_head = self.norm_head = None
            self.reset_classifier(0, "")
        return take


def cast_int(value: Any) -> int:
    return int(value)


def _refuse_num_classes(num_classes: int) -> None:
    """The encoder has no classifier to size: refused rather than dropped (timm drops it)."""
    if num_classes != 0:
        raise ValueError(
            f"num_classes={num_classes}: MobileNetV5Encoder (mobilenetv5_300m_enc) is a feature "
            "encoder with no classifier, so num_classes must be 0; for a classifier use the "
            "classifier variant mobilenetv5_300m (MobileNetV5), which has the same trunk and MSFA"
        )


class MobileNetV5Encoder(_MobileNetV5Base):
    """The Gemma 3n vision encoder: the MobileNet-V5 trunk and MSFA, no head (``forward``
    returns the fused ``(B, 2048, 16, 16)`` features).

    ``num_classes`` is accepted only as 0 (the builder passes the config's); any other value
    raises ValueError naming the classifier variant."""

    has_classifier = False
    head_names = ("msfa", "classifier")

    def __init__(
        self,
        block_args: Any,
        num_classes: int = 0,
        in_chans: int = 3,
        stem_size: int = 64,
        stem_bias: bool = True,
        fix_stem: bool = False,
        pad_type: str = "",
        msfa_indices: Sequence[int] = (-2, -1),
        msfa_output_resolution: int = 16,
        act_layer: LayerType | None = None,
        norm_layer: LayerType | None = None,
        aa_layer: LayerType | None = None,
        se_layer: Callable[..., nn.Module] | None = None,
        se_from_exp: bool = True,
        round_chs_fn: Callable[[int], int] = round_channels,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        layer_scale_init_value: float | None = None,
    ) -> None:
        super().__init__()
        _refuse_num_classes(num_classes)
        act = get_act_layer(act_layer or _GELU)
        norm: Any = get_norm_layer(norm_layer) or RmsNorm2d
        assert act is not None
        self.num_classes = 0
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        _build_trunk(
            self,
            block_args,
            in_chans=in_chans,
            stem_size=stem_size,
            stem_bias=stem_bias,
            fix_stem=fix_stem,
            pad_type=pad_type,
            act=act,
            norm=norm,
            aa_layer=aa_layer,
            se_layer=se_layer,
            se_from_exp=se_from_exp,
            round_chs_fn=round_chs_fn,
            drop_path_rate=drop_path_rate,
            layer_scale_init_value=layer_scale_init_value,
        )
        self.num_features = self.head_hidden_size = 2048
        self.msfa_indices = feature_take_indices(len(self.feature_info), list(msfa_indices))[0]
        self.msfa_in_chs = sum(self.feature_info[i]["num_chs"] for i in self.msfa_indices)
        self.msfa_output_resolution = msfa_output_resolution
        self.msfa = MobileNetV5MultiScaleFusionAdapter(
            self.msfa_in_chs, self.num_features, msfa_output_resolution, act_layer=act, norm_layer=norm
        )
        self.classifier = nn.Identity()
        efficientnet_init_weights(self)

    def get_classifier(self, name_only: bool = False) -> nn.Module | str:
        """No classifier: an identity under the name the configs give."""
        return "classifier" if name_only else self.classifier

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Nothing to reset: 0 is accepted, any other ``num_classes`` refused."""
        _refuse_num_classes(num_classes)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """The features as they are: ``forward`` (VisionModel's) returns ``forward_features``."""
        return x

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        take, max_index = feature_take_indices(len(self.feature_info), indices)
        num_chs = self.feature_info[max_index]["num_chs"]
        stage = self.stage_ends[max_index]
        cut = stage < len(self.blocks)
        self.blocks = self.blocks[:stage]
        if cut or prune_head:
            self.msfa = None
            self.num_features = self.head_hidden_size = num_chs
        return take


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """Gemma 3n checkpoints -> ours: the vision tower's ``model.vision_tower.timm_model.`` keys,
    the prefix dropped (other towers left out)."""
    state_dict = state_dict.get("model", state_dict)
    state_dict = state_dict.get("state_dict", state_dict)
    prefix = "model.vision_tower.timm_model."
    if prefix + "conv_stem.conv.weight" in state_dict:
        return {k.replace(prefix, ""): v for k, v in state_dict.items() if prefix in k}
    return state_dict


# --- variants -------------------------------------------------------------------------------------
def _pairs(attn: str, ffn: str, n: int) -> list[str]:
    """``n`` attention blocks, each followed by a pointwise FFN block."""
    return [s for _ in range(n) for s in (attn, ffn)]


def _arch(c2: int, c3: int, stage2: list[str], stage3: list[str]) -> list[list[str]]:
    """Two conv stages shared by the sizes, then the hybrid stages (widths ``c2`` / ``c3``)."""
    return [
        ["er_r1_k3_s2_e4_c128", "er_r1_k3_s1_e4_c128", "er_r1_k3_s1_e4_c128"],
        [
            "uir_r1_a3_k5_s2_e6_c256",
            "uir_r1_a5_k0_s1_e4_c256",
            "uir_r1_a3_k0_s1_e4_c256",
            "uir_r1_a5_k0_s1_e4_c256",
            "uir_r1_a3_k0_s1_e4_c256",
        ],
        [f"uir_r1_a5_k5_s2_e6_c{c2}", *stage2],
        [f"uir_r1_a5_k5_s2_e6_c{c3}", *stage3],
    ]


_ARCH_300M = _arch(
    640,
    1280,
    ["uir_r1_a5_k0_s1_e4_c640"] * 7
    + ["uir_r1_a0_k0_s1_e1_c640"]
    + _pairs("mqa_r1_k3_h12_v2_s1_d64_c640", "uir_r1_a0_k0_s1_e2_c640", 14),
    _pairs("mqa_r1_k3_h16_s1_d96_c1280", "uir_r1_a0_k0_s1_e2_c1280", 19),
)
_ARCH_BASE = _arch(
    512,
    1024,
    ["uir_r1_a5_k0_s1_e4_c512"] * 2
    + ["uir_r1_a0_k0_s1_e1_c512"]
    + _pairs("mqa_r1_k3_h8_s2_d64_c512", "uir_r1_a0_k0_s1_e2_c512", 6),
    _pairs("mqa_r1_k3_h16_s1_d64_c1024", "uir_r1_a0_k0_s1_e2_c1024", 7),
)
_COMMON: dict[str, Any] = dict(
    stem_size=64, norm_layer=RmsNorm2d, act_layer=_GELU, layer_scale_init_value=1e-5
)

MobileNetV5Args = model_args_type(MobileNetV5)
MobileNetV5EncoderArgs = model_args_type(MobileNetV5Encoder)

VARIANTS = {
    "mobilenetv5_300m": MobileNetV5Args(block_args=decode_arch_def(_ARCH_300M), **_COMMON),
    "mobilenetv5_base": MobileNetV5Args(block_args=decode_arch_def(_ARCH_BASE), **_COMMON),
}
ENCODER_VARIANTS = {
    "mobilenetv5_300m_enc": MobileNetV5EncoderArgs(
        block_args=decode_arch_def(_ARCH_300M), pad_type="same", **_COMMON
    ),
}

# --- weights --------------------------------------------------------------------------------------
_GEMMA = dict(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), input_size=(3, 768, 768), num_classes=0)
WEIGHTS = {
    "mobilenetv5_300m.gemma3n": weight(_GEMMA, default=True, license="gemma"),
    "mobilenetv5_base.untrained": weight(NO_WEIGHTS, default=True),
}
ENCODER_WEIGHTS = {"mobilenetv5_300m_enc": weight(_GEMMA, NO_WEIGHTS)}

_CFG = dict(
    input_size=(3, 256, 256),
    pool_size=(16, 16),
    crop_pct=1.0,
    interpolation="bicubic",
    mean=IMAGENET_INCEPTION_MEAN,
    std=IMAGENET_INCEPTION_STD,
    first_conv="conv_stem.conv",
    classifier="classifier",
)
_FEATURES = dict(out_indices=(0, 1, 2, 3, 4), feature_cls="getter")

default_cfgs = {
    **register_family(
        __name__,
        model_cls=MobileNetV5,
        variants=VARIANTS,
        weights=WEIGHTS,
        cfg_defaults=_CFG,
        feature_cfg=_FEATURES,
        filter_fn=checkpoint_filter_fn,
    ),
    **register_family(
        __name__,
        model_cls=MobileNetV5Encoder,
        variants=ENCODER_VARIANTS,
        weights=ENCODER_WEIGHTS,
        cfg_defaults=_CFG,
        feature_cfg=_FEATURES,
        filter_fn=checkpoint_filter_fn,
    ),
}


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. mobilenetv5_300m
    return family_entrypoint(__name__, name)
