"""MobileNetV3, MobileNetV4, FBNetV3 and LCNet: the block-string networks with an efficient head
(global pooling before the head conv, no norm after it except in MobileNetV4).

* MobileNetV3 - `Searching for MobileNetV3` - https://arxiv.org/abs/1905.02244
* MobileNetV4 - `MobileNetV4 - Universal Models for the Mobile Ecosystem` -
  https://arxiv.org/abs/2404.10518
* FBNetV3 - https://arxiv.org/abs/2006.02049; LCNet - https://arxiv.org/abs/2109.15099

Weights: Apache-2.0 (TensorFlow ports and timm-trained), MIT for the LCNet ports.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from torch import nn

from ..features import FeatureHookNet
from ..layers import act_or_identity, create_conv2d
from ..layers.activations import LayerType
from ..layers.classifier import check_num_classes
from ..model import ConvHeadModel, Trunk
from ..pretrained import NO_WEIGHTS
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type
from ._efficientnet_blocks import SqueezeExcite
from ._efficientnet_builder import (
    BN_EPS_TF_DEFAULT,
    CFG_DEFAULTS,
    FEATURE_CFG,
    INCEPTION_NORM,
    RW_TRESNET,
    RW_WEIGHTS,
    ArchDef,
    BlockArgs,
    build_trunk,
    efficientnet_init_weights,
    effnet_weight,
    resolve_block_args,
    round_channels,
)

__all__ = ["MobileNetV3", "MobileNetV3Features"]


class MobileNetV3(ConvHeadModel):
    """Stem conv, stages of blocks from block strings, then pool -> 1x1 head conv -> classifier.

    ``num_features`` is the width out of the last stage (``forward_features``); the head conv
    widens the pooled features to ``head_hidden_size`` (the constructor's ``num_features``, as in
    timm).

    Args:
        block_args: stages of block strings or of decoded block kwargs.
        num_features: head conv width.
        head_bias: bias on the head conv (MobileNetV3); ``head_norm``: norm+act after it
            instead (MobileNetV4).
        se_from_exp: size SE from the expanded width.
        layer_scale_init_value: LayerScale on ``uir`` / attention blocks (MobileNetV4 hybrid).
        (other args as :class:`~visionzoo.models.efficientnet.EfficientNet`)
    """

    trunk = Trunk(stem=("conv_stem", "bn1"), stages=("blocks.*",), checkpoint="block")
    conv_head_takes_wide_pool = True

    def __init__(
        self,
        block_args: ArchDef | BlockArgs,
        num_classes: int = 1000,
        in_chans: int = 3,
        stem_size: int = 16,
        fix_stem: bool = False,
        num_features: int = 1280,
        head_bias: bool = True,
        head_norm: bool = False,
        pad_type: str = "",
        act_layer: LayerType | None = None,
        norm_layer: LayerType | None = None,
        aa_layer: LayerType | None = None,
        se_layer: Callable[..., nn.Module] | None = None,
        se_from_exp: bool = True,
        round_chs_fn: Callable[[int], int] | None = None,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        layer_scale_init_value: float | None = None,
        global_pool: str = "avg",
        *,
        output_stride: int = 32,
        channel_multiplier: float = 1.0,
        round_limit: float = 0.9,
        depth_multiplier: float | Sequence[float] = 1.0,
        group_size: int | None = None,
        bn_eps: float | None = None,
        bn_momentum: float | None = None,
        feature_location: str = "bottleneck",
    ) -> None:
        super().__init__()
        check_num_classes(num_classes)
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.num_features, act, norm_act = build_trunk(
            self,
            resolve_block_args(block_args, depth_multiplier=depth_multiplier, group_size=group_size),
            in_chans=in_chans,
            stem_size=stem_size,
            fix_stem=fix_stem,
            round_chs_fn=round_chs_fn
            or partial(round_channels, multiplier=channel_multiplier, round_limit=round_limit),
            act_layer=act_layer,
            norm_layer=norm_layer,
            bn_eps=bn_eps,
            bn_momentum=bn_momentum,
            pad_type=pad_type,
            se_layer=se_layer,
            output_stride=output_stride,
            se_from_exp=se_from_exp,
            aa_layer=aa_layer,
            drop_path_rate=drop_path_rate,
            layer_scale_init_value=layer_scale_init_value,
            feature_location=feature_location,
        )
        # MobileNetV4: norm+act after the (bias-free) head conv; MobileNetV3: a biased conv, act
        self._init_conv_head(
            self.num_features,
            num_classes,
            global_pool,
            hidden_size=num_features,
            bias=head_bias and not head_norm,
            conv_layer=partial(create_conv2d, padding=pad_type),
            norm=norm_act(num_features) if head_norm else None,
            act=None if head_norm else act_or_identity(act, inplace=True),
        )
        self._initialize()

    def init_weights(self) -> None:
        efficientnet_init_weights(self)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^conv_stem|bn1", blocks=r"^blocks\.(\d+)" if coarse else r"^blocks\.(\d+)\.(\d+)")


class MobileNetV3Features(FeatureHookNet):
    """timm's features-only MobileNetV3: ``conv_stem``, ``bn1`` and ``blocks`` (timm's state-dict
    keys), returning the tapped feature maps as a list; for code that builds it from block args.

    It is :class:`MobileNetV3` without its head, wrapped as ``create_model(...,
    features_only=True)`` wraps it, so both give the same modules and outputs.

    Args:
        block_args: stages of block strings or of decoded block kwargs.
        out_indices: which taps to return (0: the stem, then one per stride change).
        feature_location: ``'bottleneck'`` (stage outputs) or ``'expansion'``.
        (other args as :class:`MobileNetV3`)
    """

    def __init__(
        self,
        block_args: ArchDef | BlockArgs,
        out_indices: Sequence[int] = (0, 1, 2, 3, 4),
        feature_location: str = "bottleneck",
        in_chans: int = 3,
        stem_size: int = 16,
        fix_stem: bool = False,
        output_stride: int = 32,
        pad_type: str = "",
        round_chs_fn: Callable[[int], int] | None = None,
        se_from_exp: bool = True,
        act_layer: LayerType | None = None,
        norm_layer: LayerType | None = None,
        aa_layer: LayerType | None = None,
        se_layer: Callable[..., nn.Module] | None = None,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        layer_scale_init_value: float | None = None,
    ) -> None:
        trunk = MobileNetV3(
            block_args,
            num_classes=0,
            in_chans=in_chans,
            stem_size=stem_size,
            fix_stem=fix_stem,
            pad_type=pad_type,
            act_layer=act_layer,
            norm_layer=norm_layer,
            aa_layer=aa_layer,
            se_layer=se_layer,
            se_from_exp=se_from_exp,
            round_chs_fn=round_chs_fn,
            drop_rate=drop_rate,
            drop_path_rate=drop_path_rate,
            layer_scale_init_value=layer_scale_init_value,
            output_stride=output_stride,
            feature_location=feature_location,
        )
        super().__init__(trunk, out_indices, no_rewrite=False)
        self.in_chans = in_chans
        self.drop_rate = drop_rate


# --- variants -------------------------------------------------------------------------------------
_LARGE = (  # relu in the first three stages, the model's hard-swish after
    ("ds_r1_k3_s1_e1_c16_nre",),
    ("ir_r1_k3_s2_e4_c24_nre", "ir_r1_k3_s1_e3_c24_nre"),
    ("ir_r3_k5_s2_e3_c40_se0.25_nre",),
    ("ir_r1_k3_s2_e6_c80", "ir_r1_k3_s1_e2.5_c80", "ir_r2_k3_s1_e2.3_c80"),
    ("ir_r2_k3_s1_e6_c112_se0.25",),
    ("ir_r3_k5_s2_e6_c160_se0.25",),
    ("cn_r1_k1_s1_c960",),
)
_LARGE_RW = (("ds_r1_k3_s1_e1_c16_nre_noskip",), *_LARGE[1:])
_LARGE_MINIMAL = (
    ("ds_r1_k3_s1_e1_c16",),
    ("ir_r1_k3_s2_e4_c24", "ir_r1_k3_s1_e3_c24"),
    ("ir_r3_k3_s2_e3_c40",),
    ("ir_r1_k3_s2_e6_c80", "ir_r1_k3_s1_e2.5_c80", "ir_r2_k3_s1_e2.3_c80"),
    ("ir_r2_k3_s1_e6_c112",),
    ("ir_r3_k3_s2_e6_c160",),
    ("cn_r1_k1_s1_c960",),
)
_SMALL = (
    ("ds_r1_k3_s2_e1_c16_se0.25_nre",),
    ("ir_r1_k3_s2_e4.5_c24_nre", "ir_r1_k3_s1_e3.67_c24_nre"),
    ("ir_r1_k5_s2_e4_c40_se0.25", "ir_r2_k5_s1_e6_c40_se0.25"),
    ("ir_r2_k5_s1_e3_c48_se0.25",),
    ("ir_r3_k5_s2_e6_c96_se0.25",),
    ("cn_r1_k1_s1_c576",),
)
_SMALL_MINIMAL = (
    ("ds_r1_k3_s2_e1_c16",),
    ("ir_r1_k3_s2_e4.5_c24", "ir_r1_k3_s1_e3.67_c24"),
    ("ir_r1_k3_s2_e4_c40", "ir_r2_k3_s1_e6_c40"),
    ("ir_r2_k3_s1_e3_c48",),
    ("ir_r3_k3_s2_e6_c96",),
    ("cn_r1_k1_s1_c576",),
)
_FBNETV3_B = (
    ("ds_r2_k3_s1_e1_c16",),
    ("ir_r1_k5_s2_e4_c24", "ir_r3_k5_s1_e2_c24"),
    ("ir_r1_k5_s2_e5_c40_se0.25", "ir_r4_k5_s1_e3_c40_se0.25"),
    ("ir_r1_k5_s2_e5_c72", "ir_r4_k3_s1_e3_c72"),
    ("ir_r1_k3_s1_e5_c120_se0.25", "ir_r5_k5_s1_e3_c120_se0.25"),
    ("ir_r1_k3_s2_e6_c184_se0.25", "ir_r5_k5_s1_e4_c184_se0.25", "ir_r1_k5_s1_e6_c224_se0.25"),
    ("cn_r1_k1_s1_c1344",),
)
_FBNETV3_D = (
    ("ds_r2_k3_s1_e1_c16",),
    ("ir_r1_k3_s2_e5_c24", "ir_r5_k3_s1_e2_c24"),
    ("ir_r1_k5_s2_e4_c40_se0.25", "ir_r4_k3_s1_e3_c40_se0.25"),
    ("ir_r1_k3_s2_e5_c72", "ir_r4_k3_s1_e3_c72"),
    ("ir_r1_k3_s1_e5_c128_se0.25", "ir_r6_k5_s1_e3_c128_se0.25"),
    ("ir_r1_k3_s2_e6_c208_se0.25", "ir_r5_k5_s1_e5_c208_se0.25", "ir_r1_k5_s1_e6_c240_se0.25"),
    ("cn_r1_k1_s1_c1440",),
)
_FBNETV3_G = (
    ("ds_r3_k3_s1_e1_c24",),
    ("ir_r1_k5_s2_e4_c40", "ir_r4_k5_s1_e2_c40"),
    ("ir_r1_k5_s2_e4_c56_se0.25", "ir_r4_k5_s1_e3_c56_se0.25"),
    ("ir_r1_k5_s2_e5_c104", "ir_r4_k3_s1_e3_c104"),
    ("ir_r1_k3_s1_e5_c160_se0.25", "ir_r8_k5_s1_e3_c160_se0.25"),
    ("ir_r1_k3_s2_e6_c264_se0.25", "ir_r6_k5_s1_e5_c264_se0.25", "ir_r2_k5_s1_e6_c288_se0.25"),
    ("cn_r1_k1_s1_c1728",),
)
_LCNET = (
    ("dsa_r1_k3_s1_c32",),
    ("dsa_r2_k3_s2_c64",),
    ("dsa_r2_k3_s2_c128",),
    ("dsa_r1_k3_s2_c256", "dsa_r1_k5_s1_c256"),
    ("dsa_r4_k5_s1_c256",),
    ("dsa_r2_k5_s2_c512_se0.25",),
)
# MobileNetV4. Block kinds: uir a>0,k>0 ExtraDW; a0,k>0 IR; a>0,k0 ConvNeXt-like; a0,k0 FFN.
_MNV4_CONV_SMALL = (
    ("cn_r1_k3_s2_e1_c32", "cn_r1_k1_s1_e1_c32"),
    ("cn_r1_k3_s2_e1_c96", "cn_r1_k1_s1_e1_c64"),
    ("uir_r1_a5_k5_s2_e3_c96", "uir_r4_a0_k3_s1_e2_c96", "uir_r1_a3_k0_s1_e4_c96"),
    (
        "uir_r1_a3_k3_s2_e6_c128",
        "uir_r1_a5_k5_s1_e4_c128",
        "uir_r1_a0_k5_s1_e4_c128",
        "uir_r1_a0_k5_s1_e3_c128",
        "uir_r2_a0_k3_s1_e4_c128",
    ),
    ("cn_r1_k1_s1_c960",),
)
_MNV4_CONV_MEDIUM = (
    ("er_r1_k3_s2_e4_c48",),
    ("uir_r1_a3_k5_s2_e4_c80", "uir_r1_a3_k3_s1_e2_c80"),
    (
        "uir_r1_a3_k5_s2_e6_c160",
        "uir_r2_a3_k3_s1_e4_c160",
        "uir_r1_a3_k5_s1_e4_c160",
        "uir_r1_a3_k3_s1_e4_c160",
        "uir_r1_a3_k0_s1_e4_c160",
        "uir_r1_a0_k0_s1_e2_c160",
        "uir_r1_a3_k0_s1_e4_c160",
    ),
    (
        "uir_r1_a5_k5_s2_e6_c256",
        "uir_r1_a5_k5_s1_e4_c256",
        "uir_r2_a3_k5_s1_e4_c256",
        "uir_r1_a0_k0_s1_e4_c256",
        "uir_r1_a3_k0_s1_e4_c256",
        "uir_r1_a3_k5_s1_e2_c256",
        "uir_r1_a5_k5_s1_e4_c256",
        "uir_r2_a0_k0_s1_e4_c256",
        "uir_r1_a5_k0_s1_e2_c256",
    ),
    ("cn_r1_k1_s1_c960",),
)
_MNV4_CONV_LARGE = (
    ("er_r1_k3_s2_e4_c48",),
    ("uir_r1_a3_k5_s2_e4_c96", "uir_r1_a3_k3_s1_e4_c96"),
    (
        "uir_r1_a3_k5_s2_e4_c192",
        "uir_r3_a3_k3_s1_e4_c192",
        "uir_r1_a3_k5_s1_e4_c192",
        "uir_r5_a5_k3_s1_e4_c192",
        "uir_r1_a3_k0_s1_e4_c192",
    ),
    (
        "uir_r4_a5_k5_s2_e4_c512",
        "uir_r1_a5_k0_s1_e4_c512",
        "uir_r1_a5_k3_s1_e4_c512",
        "uir_r2_a5_k0_s1_e4_c512",
        "uir_r1_a5_k3_s1_e4_c512",
        "uir_r1_a5_k5_s1_e4_c512",
        "uir_r3_a5_k0_s1_e4_c512",
    ),
    ("cn_r1_k1_s1_c960",),
)
_MQA_M, _MQA_M_KV = "mqa_r1_k3_h4_s1_d64_c256", "mqa_r1_k3_h4_s1_v2_d64_c160"  # v2: keys/values strided
_MNV4_HYBRID_MEDIUM = (
    ("er_r1_k3_s2_e4_c48",),
    ("uir_r1_a3_k5_s2_e4_c80", "uir_r1_a3_k3_s1_e2_c80"),
    (
        "uir_r1_a3_k5_s2_e6_c160",
        "uir_r1_a0_k0_s1_e2_c160",
        "uir_r1_a3_k3_s1_e4_c160",
        "uir_r1_a3_k5_s1_e4_c160",
        _MQA_M_KV,
        "uir_r1_a3_k3_s1_e4_c160",
        _MQA_M_KV,
        "uir_r1_a3_k0_s1_e4_c160",
        _MQA_M_KV,
        "uir_r1_a3_k3_s1_e4_c160",
        _MQA_M_KV,
        "uir_r1_a3_k0_s1_e4_c160",
    ),
    (
        "uir_r1_a5_k5_s2_e6_c256",
        "uir_r1_a5_k5_s1_e4_c256",
        "uir_r2_a3_k5_s1_e4_c256",
        "uir_r1_a0_k0_s1_e2_c256",
        "uir_r1_a3_k5_s1_e2_c256",
        "uir_r1_a0_k0_s1_e2_c256",
        "uir_r1_a0_k0_s1_e4_c256",
        _MQA_M,
        "uir_r1_a3_k0_s1_e4_c256",
        _MQA_M,
        "uir_r1_a5_k5_s1_e4_c256",
        _MQA_M,
        "uir_r1_a5_k0_s1_e4_c256",
        _MQA_M,
        "uir_r1_a5_k0_s1_e4_c256",
    ),
    ("cn_r1_k1_s1_c960",),
)
_MQA_L, _MQA_L_KV = "mqa_r1_k3_h8_s1_d64_c512", "mqa_r1_k3_h8_s1_v2_d48_c192"
_MNV4_HYBRID_LARGE = (
    ("er_r1_k3_s2_e4_c48",),
    ("uir_r1_a3_k5_s2_e4_c96", "uir_r1_a3_k3_s1_e4_c96"),
    (
        "uir_r1_a3_k5_s2_e4_c192",
        "uir_r3_a3_k3_s1_e4_c192",
        "uir_r1_a3_k5_s1_e4_c192",
        "uir_r2_a5_k3_s1_e4_c192",
        _MQA_L_KV,
        "uir_r1_a5_k3_s1_e4_c192",
        _MQA_L_KV,
        "uir_r1_a5_k3_s1_e4_c192",
        _MQA_L_KV,
        "uir_r1_a5_k3_s1_e4_c192",
        _MQA_L_KV,
        "uir_r1_a3_k0_s1_e4_c192",
    ),
    (
        "uir_r4_a5_k5_s2_e4_c512",
        "uir_r1_a5_k0_s1_e4_c512",
        "uir_r1_a5_k3_s1_e4_c512",
        "uir_r2_a5_k0_s1_e4_c512",
        "uir_r1_a5_k3_s1_e4_c512",
        "uir_r1_a5_k5_s1_e4_c512",
        _MQA_L,
        "uir_r1_a5_k0_s1_e4_c512",
        _MQA_L,
        "uir_r1_a5_k0_s1_e4_c512",
        _MQA_L,
        "uir_r1_a5_k0_s1_e4_c512",
        _MQA_L,
        "uir_r1_a5_k0_s1_e4_c512",
    ),
    ("cn_r1_k1_s1_c960",),
)

MobileNetV3Args = model_args_type(MobileNetV3)
_TF = dict(pad_type="same", bn_eps=BN_EPS_TF_DEFAULT)  # the TensorFlow ports
# MobileNetV3's SE: hard-sigmoid gate, relu inside, hidden width rounded to a multiple of 8
SE_HARD = partial(
    SqueezeExcite, gate_layer="hard_sigmoid", force_act_layer=nn.ReLU, rd_round_fn=round_channels
)


def _mnv3(arch: Any, cm: float, dm: float = 1.0, tf: bool = False) -> Any:
    minimal = arch in (_LARGE_MINIMAL, _SMALL_MINIMAL)
    return MobileNetV3Args(
        block_args=arch,
        num_features=1024 if arch in (_SMALL, _SMALL_MINIMAL) else 1280,
        fix_stem=cm < 0.75,
        channel_multiplier=cm,
        depth_multiplier=dm,
        act_layer="relu" if minimal else "hard_swish",
        se_layer=SE_HARD,
        **(_TF if tf else {}),
    )


def _fbnetv3(arch: Any, stem: int) -> Any:
    rd_round = partial(round_channels, multiplier=1.0, round_limit=0.95)
    return MobileNetV3Args(
        block_args=arch,
        num_features=1984,
        head_bias=False,
        stem_size=stem,
        round_limit=0.95,
        se_from_exp=False,
        act_layer="hard_swish",
        se_layer=partial(SqueezeExcite, gate_layer="hard_sigmoid", rd_round_fn=rd_round),
    )


def _lcnet(cm: float) -> Any:
    se = partial(SqueezeExcite, gate_layer="hard_sigmoid", force_act_layer=nn.ReLU)
    return MobileNetV3Args(block_args=_LCNET, channel_multiplier=cm, act_layer="hard_swish", se_layer=se)


def _mnv4(arch: Any, stem: int, cm: float = 1.0, act: str = "relu", **kw: Any) -> Any:
    hybrid = arch in (_MNV4_HYBRID_MEDIUM, _MNV4_HYBRID_LARGE)
    return MobileNetV3Args(
        block_args=arch,
        head_bias=False,
        head_norm=True,
        stem_size=stem,
        fix_stem=cm < 1.0,
        channel_multiplier=cm,
        act_layer=act,
        layer_scale_init_value=1e-5 if hybrid else None,
        **kw,
    )


VARIANTS: dict[str, Any] = {
    "mobilenetv3_large_075": _mnv3(_LARGE, 0.75),
    "mobilenetv3_large_100": _mnv3(_LARGE, 1.0),
    "mobilenetv3_large_150d": _mnv3(_LARGE, 1.5, 1.2),
    "mobilenetv3_small_050": _mnv3(_SMALL, 0.5),
    "mobilenetv3_small_075": _mnv3(_SMALL, 0.75),
    "mobilenetv3_small_100": _mnv3(_SMALL, 1.0),
    "mobilenetv3_rw": MobileNetV3Args(
        block_args=_LARGE_RW,
        head_bias=False,
        act_layer="hard_swish",
        se_layer=partial(SqueezeExcite, gate_layer="hard_sigmoid"),
        bn_eps=BN_EPS_TF_DEFAULT,
    ),
    "tf_mobilenetv3_large_075": _mnv3(_LARGE, 0.75, tf=True),
    "tf_mobilenetv3_large_100": _mnv3(_LARGE, 1.0, tf=True),
    "tf_mobilenetv3_large_minimal_100": _mnv3(_LARGE_MINIMAL, 1.0, tf=True),
    "tf_mobilenetv3_small_075": _mnv3(_SMALL, 0.75, tf=True),
    "tf_mobilenetv3_small_100": _mnv3(_SMALL, 1.0, tf=True),
    "tf_mobilenetv3_small_minimal_100": _mnv3(_SMALL_MINIMAL, 1.0, tf=True),
    "fbnetv3_b": _fbnetv3(_FBNETV3_B, 16),
    "fbnetv3_d": _fbnetv3(_FBNETV3_D, 24),
    "fbnetv3_g": _fbnetv3(_FBNETV3_G, 32),
    "lcnet_035": _lcnet(0.35),
    "lcnet_050": _lcnet(0.5),
    "lcnet_075": _lcnet(0.75),
    "lcnet_100": _lcnet(1.0),
    "lcnet_150": _lcnet(1.5),
    "mobilenetv4_conv_small_035": _mnv4(_MNV4_CONV_SMALL, 32, 0.35),
    "mobilenetv4_conv_small_050": _mnv4(_MNV4_CONV_SMALL, 32, 0.5),
    "mobilenetv4_conv_small": _mnv4(_MNV4_CONV_SMALL, 32),
    "mobilenetv4_conv_medium": _mnv4(_MNV4_CONV_MEDIUM, 32),
    "mobilenetv4_conv_large": _mnv4(_MNV4_CONV_LARGE, 24),
    "mobilenetv4_hybrid_medium": _mnv4(_MNV4_HYBRID_MEDIUM, 32),
    "mobilenetv4_hybrid_large": _mnv4(_MNV4_HYBRID_LARGE, 24, act="gelu"),
    "mobilenetv4_conv_aa_medium": _mnv4(_MNV4_CONV_MEDIUM, 32, aa_layer="avg"),
    "mobilenetv4_conv_blur_medium": _mnv4(_MNV4_CONV_MEDIUM, 32, aa_layer="blurpc"),
    "mobilenetv4_conv_aa_large": _mnv4(_MNV4_CONV_LARGE, 24, aa_layer="avg"),
    "mobilenetv4_hybrid_medium_075": _mnv4(_MNV4_HYBRID_MEDIUM, 32, 0.75),
    "mobilenetv4_hybrid_large_075": _mnv4(_MNV4_HYBRID_LARGE, 24, 0.75, act="gelu"),
}


# --- weights --------------------------------------------------------------------------------------
# cfg defaults, release folders and the entry helper (``size=`` sets the pool size too) are
# shared with the sibling family, in _efficientnet_builder.
# "arch.tag" in timm's order; an architecture with several tags marks its default (timm's first).
WEIGHTS: dict[str, dict[str, Any]] = {
    "mobilenetv3_large_075.untrained": effnet_weight(NO_WEIGHTS, interpolation="bilinear"),
    "mobilenetv3_large_100.ra_in1k": effnet_weight(
        default=True, url=RW_WEIGHTS + "mobilenetv3_large_100_ra-f55367f5.pth"
    ),
    "mobilenetv3_large_100.ra4_e3600_r224_in1k": effnet_weight(
        INCEPTION_NORM, test=256, crop=0.95, test_crop_pct=1.0
    ),
    "mobilenetv3_large_100.miil_in21k_ft_in1k": effnet_weight(
        url=RW_TRESNET + "mobilenetv3_large_100_1k_miil_78_0-66471c13.pth",
        interpolation="bilinear",
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        origin_url="https://github.com/Alibaba-MIIL/ImageNet21K",
        paper_ids="arXiv:2104.10972v4",
    ),
    "mobilenetv3_large_100.miil_in21k": effnet_weight(
        url=RW_TRESNET + "mobilenetv3_large_100_in21k_miil-d71cc17b.pth",
        interpolation="bilinear",
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        num_classes=11221,
        origin_url="https://github.com/Alibaba-MIIL/ImageNet21K",
        paper_ids="arXiv:2104.10972v4",
    ),
    "mobilenetv3_large_150d.ra4_e3600_r256_in1k": effnet_weight(
        INCEPTION_NORM, size=256, test=320, crop=0.95, interpolation="bilinear", test_crop_pct=1.0
    ),
    "mobilenetv3_small_050.lamb_in1k": effnet_weight(
        url=RW_WEIGHTS + "mobilenetv3_small_050_lambc-4b7bbe87.pth"
    ),
    "mobilenetv3_small_075.lamb_in1k": effnet_weight(
        url=RW_WEIGHTS + "mobilenetv3_small_075_lambc-384766db.pth"
    ),
    "mobilenetv3_small_100.lamb_in1k": effnet_weight(
        url=RW_WEIGHTS + "mobilenetv3_small_100_lamb-266a294c.pth"
    ),
    "mobilenetv3_rw.rmsp_in1k": effnet_weight(url=RW_WEIGHTS + "mobilenetv3_100-35495452.pth"),
    "tf_mobilenetv3_large_075.in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_mobilenetv3_large_075-150ee8b0.pth", interpolation="bilinear"
    ),
    "tf_mobilenetv3_large_100.in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_mobilenetv3_large_100-427764d5.pth", interpolation="bilinear"
    ),
    "tf_mobilenetv3_large_minimal_100.in1k": effnet_weight(
        INCEPTION_NORM,
        url=RW_WEIGHTS + "tf_mobilenetv3_large_minimal_100-8596ae28.pth",
        interpolation="bilinear",
    ),
    "tf_mobilenetv3_small_075.in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_mobilenetv3_small_075-da427f52.pth", interpolation="bilinear"
    ),
    "tf_mobilenetv3_small_100.in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_mobilenetv3_small_100-37f49e2b.pth", interpolation="bilinear"
    ),
    "tf_mobilenetv3_small_minimal_100.in1k": effnet_weight(
        INCEPTION_NORM,
        url=RW_WEIGHTS + "tf_mobilenetv3_small_minimal_100-922a7843.pth",
        interpolation="bilinear",
    ),
    "fbnetv3_b.ra2_in1k": effnet_weight(
        url=RW_WEIGHTS + "fbnetv3_b_224-ead5d2a1.pth", test=256, crop=0.95, interpolation="bilinear"
    ),
    "fbnetv3_d.ra2_in1k": effnet_weight(
        url=RW_WEIGHTS + "fbnetv3_d_224-c98bce42.pth", test=256, crop=0.95, interpolation="bilinear"
    ),
    "fbnetv3_g.ra2_in1k": effnet_weight(
        url=RW_WEIGHTS + "fbnetv3_g_240-0b1df83b.pth", size=240, test=288, crop=0.95, interpolation="bilinear"
    ),
    "lcnet_035.untrained": effnet_weight(NO_WEIGHTS, interpolation="bilinear"),
    "lcnet_050.ra2_in1k": effnet_weight(url=RW_WEIGHTS + "lcnet_050-f447553b.pth"),
    "lcnet_075.ra2_in1k": effnet_weight(url=RW_WEIGHTS + "lcnet_075-318cad2c.pth"),
    "lcnet_100.ra2_in1k": effnet_weight(url=RW_WEIGHTS + "lcnet_100-a929038c.pth"),
    "lcnet_150.untrained": effnet_weight(NO_WEIGHTS, interpolation="bilinear"),
    "mobilenetv4_conv_small_035.untrained": effnet_weight(
        INCEPTION_NORM, NO_WEIGHTS, test=256, test_crop_pct=0.95
    ),
    "mobilenetv4_conv_small_050.e3000_r224_in1k": effnet_weight(INCEPTION_NORM, test=256, test_crop_pct=0.95),
    "mobilenetv4_conv_small.e2400_r224_in1k": effnet_weight(default=True, test=256, test_crop_pct=0.95),
    "mobilenetv4_conv_small.e1200_r224_in1k": effnet_weight(test=256, test_crop_pct=0.95),
    "mobilenetv4_conv_small.e3600_r256_in1k": effnet_weight(
        INCEPTION_NORM, size=256, test=320, crop=0.95, test_crop_pct=1.0
    ),
    "mobilenetv4_conv_medium.e500_r256_in1k": effnet_weight(
        default=True, size=256, test=320, crop=0.95, test_crop_pct=1.0
    ),
    "mobilenetv4_conv_medium.e500_r224_in1k": effnet_weight(test=256, crop=0.95, test_crop_pct=1.0),
    "mobilenetv4_conv_medium.e250_r384_in12k_ft_in1k": effnet_weight(size=384, crop=0.95),
    "mobilenetv4_conv_medium.e180_r384_in12k": effnet_weight(size=384, crop=1.0, num_classes=11821),
    "mobilenetv4_conv_medium.e180_ad_r384_in12k": effnet_weight(size=384, crop=1.0, num_classes=11821),
    "mobilenetv4_conv_medium.e250_r384_in12k": effnet_weight(size=384, crop=1.0, num_classes=11821),
    "mobilenetv4_conv_large.e600_r384_in1k": effnet_weight(
        default=True, size=384, test=448, crop=0.95, test_crop_pct=1.0
    ),
    "mobilenetv4_conv_large.e500_r256_in1k": effnet_weight(size=256, test=320, crop=0.95, test_crop_pct=1.0),
    "mobilenetv4_hybrid_medium.e200_r256_in12k_ft_in1k": effnet_weight(
        default=True, size=256, test=320, crop=0.95, test_crop_pct=1.0
    ),
    "mobilenetv4_hybrid_medium.ix_e550_r256_in1k": effnet_weight(
        size=256, test=320, crop=0.95, test_crop_pct=1.0
    ),
    "mobilenetv4_hybrid_medium.ix_e550_r384_in1k": effnet_weight(
        size=384, test=448, crop=0.95, test_crop_pct=1.0
    ),
    "mobilenetv4_hybrid_medium.e500_r224_in1k": effnet_weight(test=256, crop=0.95, test_crop_pct=1.0),
    "mobilenetv4_hybrid_medium.e200_r256_in12k": effnet_weight(
        size=256, test=320, crop=0.95, test_crop_pct=1.0, num_classes=11821
    ),
    "mobilenetv4_hybrid_large.ix_e600_r384_in1k": effnet_weight(
        default=True, size=384, test=448, crop=0.95, test_crop_pct=1.0
    ),
    "mobilenetv4_hybrid_large.e600_r384_in1k": effnet_weight(
        size=384, test=448, crop=0.95, test_crop_pct=1.0
    ),
    "mobilenetv4_conv_aa_medium.untrained": effnet_weight(NO_WEIGHTS, size=256, crop=0.95),
    "mobilenetv4_conv_blur_medium.e500_r224_in1k": effnet_weight(test=256, crop=0.95, test_crop_pct=1.0),
    "mobilenetv4_conv_aa_large.e230_r448_in12k_ft_in1k": effnet_weight(
        default=True, size=448, test=544, crop=0.95, test_crop_pct=1.0
    ),
    "mobilenetv4_conv_aa_large.e230_r384_in12k_ft_in1k": effnet_weight(
        size=384, test=480, crop=0.95, test_crop_pct=1.0
    ),
    "mobilenetv4_conv_aa_large.e600_r384_in1k": effnet_weight(
        size=384, test=480, crop=0.95, test_crop_pct=1.0
    ),
    "mobilenetv4_conv_aa_large.e230_r384_in12k": effnet_weight(
        size=384, test=448, crop=0.95, test_crop_pct=1.0, num_classes=11821
    ),
    "mobilenetv4_hybrid_medium_075.untrained": effnet_weight(NO_WEIGHTS, crop=0.95),
    "mobilenetv4_hybrid_large_075.untrained": effnet_weight(NO_WEIGHTS, size=256, crop=0.95),
}

DEPRECATED = {
    "mobilenetv3_large_100_miil": "mobilenetv3_large_100.miil_in21k_ft_in1k",
    "mobilenetv3_large_100_miil_in21k": "mobilenetv3_large_100.miil_in21k",
}

default_cfgs = register_family(
    __name__,
    model_cls=MobileNetV3,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=CFG_DEFAULTS,
    feature_cfg=FEATURE_CFG,
    deprecated=DEPRECATED,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. mobilenetv3_large_100
    return family_entrypoint(__name__, name)
