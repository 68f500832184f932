"""EfficientNet and the networks built from the same blocks and block strings.

* EfficientNet B0-B8, L2 - `EfficientNet: Rethinking Model Scaling for Convolutional Neural
  Networks` - https://arxiv.org/abs/1905.11946 (with the AdvProp https://arxiv.org/abs/1911.09665
  and Noisy Student https://arxiv.org/abs/1911.04252 weight ports)
* EfficientNetV2 - https://arxiv.org/abs/2104.00298; EfficientNet-EdgeTPU / -Lite; EfficientNet-X
  https://arxiv.org/abs/2102.05610; CondConv - https://arxiv.org/abs/1904.04971
* MixNet - https://arxiv.org/abs/1907.09595; MNASNet - https://arxiv.org/abs/1807.11626;
  MobileNetV1 - https://arxiv.org/abs/1704.04861; MobileNetV2 - https://arxiv.org/abs/1801.04381;
  MobileNet-EdgeTPU-V2 - https://arxiv.org/abs/2204.14007; FBNet-C - https://arxiv.org/abs/1812.03443;
  Single-Path NAS - https://arxiv.org/abs/1904.02877; TinyNet - https://arxiv.org/abs/2010.14819

The ``tf_`` variants run the TensorFlow ports: "same" padding and BN epsilon 1e-3. Weights:
Apache-2.0 (the TensorFlow and timm-trained weights).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

from torch import nn

from ..features import FeatureHookNet
from ..layers import GroupNormAct, create_conv2d
from ..layers.activations import LayerType
from ..layers.evo_norm import EvoNorm2dS0
from ..layers.global_context import GlobalContext
from ..layers.layer_norm import LayerNormAct2d
from ..model import Trunk, VisionModel
from ..pretrained import NO_WEIGHTS, RWIGHTMAN_RELEASES
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import Pruned, WhenPretrained, model_args_type
from ._efficientnet_builder import (
    BN_EPS_TF_DEFAULT,
    CFG_DEFAULTS,
    FEATURE_CFG,
    HF_WEIGHTS,
    INCEPTION_NORM,
    RW_TRESNET,
    RW_WEIGHTS,
    ArchDef,
    BlockArgs,
    build_trunk,
    decode_arch_def,
    efficientnet_init_weights,
    effnet_weight,
    resolve_block_args,
    round_channels,
)

__all__ = ["EfficientNet", "EfficientNetFeatures", "decode_arch_def", "round_channels"]


class EfficientNet(VisionModel):
    """Stem conv, stages of blocks from block strings, 1x1 head conv, pooling, classifier.

    Args:
        block_args: stages of block strings (decoded here with the depth options below) or of
            already decoded block kwargs (``decode_arch_def``).
        num_features: width of the head conv (0: no head conv).
        stem_size: stem width (scaled by the channel multiplier unless ``fix_stem``).
        output_stride: 32, 16 or 8 (later strides become dilation).
        pad_type: ``''`` or ``'same'`` (TensorFlow padding, for the ``tf_`` weights).
        act_layer / norm_layer / aa_layer / se_layer: layers of the stem, blocks and head.
        round_chs_fn: channel scaling; by default ``round_channels`` with ``channel_multiplier``,
            ``channel_divisor`` and ``round_limit``.
        depth_multiplier, depth_trunc, fix_first_last, experts_multiplier, group_size: decoding
            options for block strings (see ``decode_arch_def``).
        bn_eps, bn_momentum: BatchNorm settings (1e-3 for the TensorFlow ports).
        feature_location: ``'bottleneck'`` (stage outputs) or ``'expansion'`` feature taps.
    """

    # the head conv widens the features for the head: it goes with it
    trunk = Trunk(
        stem=("conv_stem", "bn1"),
        stages=("blocks.*",),
        post=("conv_head", "bn2"),
        checkpoint="block",
        prune_post=("norm", "head"),
    )
    classifier_name = "classifier"

    def __init__(
        self,
        block_args: ArchDef | BlockArgs,
        num_classes: int = 1000,
        num_features: int = 1280,
        in_chans: int = 3,
        stem_size: int = 32,
        stem_kernel_size: int = 3,
        fix_stem: bool = False,
        output_stride: int = 32,
        pad_type: str = "",
        act_layer: LayerType | None = None,
        norm_layer: LayerType | None = None,
        aa_layer: LayerType | None = None,
        se_layer: Callable[..., nn.Module] | None = None,
        round_chs_fn: Callable[[int], int] | None = None,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        global_pool: str = "avg",
        *,
        channel_multiplier: float = 1.0,
        channel_divisor: int = 8,
        round_limit: float = 0.9,
        depth_multiplier: float | Sequence[float] = 1.0,
        depth_trunc: str = "ceil",
        fix_first_last: bool = False,
        experts_multiplier: int = 1,
        group_size: int | None = None,
        bn_eps: float | None = None,
        bn_momentum: float | None = None,
        feature_location: str = "bottleneck",
    ) -> None:
        super().__init__()
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        round_fn = round_chs_fn or partial(
            round_channels, multiplier=channel_multiplier, divisor=channel_divisor, round_limit=round_limit
        )
        head_chs, _, norm_act = build_trunk(
            self,
            resolve_block_args(
                block_args,
                depth_multiplier=depth_multiplier,
                depth_trunc=depth_trunc,
                experts_multiplier=experts_multiplier,
                fix_first_last=fix_first_last,
                group_size=group_size,
            ),
            in_chans=in_chans,
            stem_size=stem_size,
            stem_kernel_size=stem_kernel_size,
            fix_stem=fix_stem,
            round_chs_fn=round_fn,
            act_layer=act_layer,
            norm_layer=norm_layer,
            bn_eps=bn_eps,
            bn_momentum=bn_momentum,
            pad_type=pad_type,
            se_layer=se_layer,
            output_stride=output_stride,
            aa_layer=aa_layer,
            drop_path_rate=drop_path_rate,
            feature_location=feature_location,
        )
        self.conv_head: nn.Module = nn.Identity()
        self.bn2: nn.Module = nn.Identity()
        if num_features > 0:
            self.conv_head = create_conv2d(head_chs, num_features, 1, padding=pad_type)
            self.bn2 = norm_act(num_features, inplace=True)
        self._init_head(num_features if num_features > 0 else head_chs, num_classes, global_pool)
        self._initialize()

    def init_weights(self) -> None:
        efficientnet_init_weights(self)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^conv_stem|bn1",
            blocks=[
                (r"^blocks\.(\d+)" if coarse else r"^blocks\.(\d+)\.(\d+)", None),
                (r"conv_head|bn2", (99999,)),
            ],
        )


class EfficientNetFeatures(FeatureHookNet):
    """timm's features-only EfficientNet: ``conv_stem``, ``bn1`` and ``blocks`` (timm's state-dict
    keys), returning the tapped feature maps as a list; for code that builds it from block args.

    It is :class:`EfficientNet` without its head, wrapped as ``create_model(...,
    features_only=True)`` wraps it, so both give the same modules and outputs.

    Args:
        block_args: stages of block strings or of decoded block kwargs.
        out_indices: which taps to return (0: the stem, then one per stride change).
        feature_location: ``'bottleneck'`` (stage outputs) or ``'expansion'``.
        (other args as :class:`EfficientNet`)
    """

    def __init__(
        self,
        block_args: ArchDef | BlockArgs,
        out_indices: Sequence[int] = (0, 1, 2, 3, 4),
        feature_location: str = "bottleneck",
        in_chans: int = 3,
        stem_size: int = 32,
        stem_kernel_size: int = 3,
        fix_stem: bool = False,
        output_stride: int = 32,
        pad_type: str = "",
        act_layer: LayerType | None = None,
        norm_layer: LayerType | None = None,
        aa_layer: LayerType | None = None,
        se_layer: Callable[..., nn.Module] | None = None,
        round_chs_fn: Callable[[int], int] | None = None,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        trunk = EfficientNet(
            block_args,
            num_classes=0,
            num_features=0,
            in_chans=in_chans,
            stem_size=stem_size,
            stem_kernel_size=stem_kernel_size,
            fix_stem=fix_stem,
            output_stride=output_stride,
            pad_type=pad_type,
            act_layer=act_layer,
            norm_layer=norm_layer,
            aa_layer=aa_layer,
            se_layer=se_layer,
            round_chs_fn=round_chs_fn,
            drop_rate=drop_rate,
            drop_path_rate=drop_path_rate,
            feature_location=feature_location,
        )
        super().__init__(trunk, out_indices, no_rewrite=False)
        self.in_chans = in_chans
        self.drop_rate = drop_rate


# --- variants -------------------------------------------------------------------------------------
# Block strings per stage (see ``_efficientnet_builder``); scaled variants share one definition.
_EFFNET = (
    ("ds_r1_k3_s1_e1_c16_se0.25",),
    ("ir_r2_k3_s2_e6_c24_se0.25",),
    ("ir_r2_k5_s2_e6_c40_se0.25",),
    ("ir_r3_k3_s2_e6_c80_se0.25",),
    ("ir_r3_k5_s1_e6_c112_se0.25",),
    ("ir_r4_k5_s2_e6_c192_se0.25",),
    ("ir_r1_k3_s1_e6_c320_se0.25",),
)
_EFFNET_CC = _EFFNET[:4] + tuple((s[0] + "_cc4",) for s in _EFFNET[4:])
_EFFNET_LITE = tuple((s[0].replace("_se0.25", ""),) for s in _EFFNET)
_EFFNET_EDGE = (
    ("er_r1_k3_s1_e4_c24_fc24_noskip",),
    ("er_r2_k3_s2_e8_c32",),
    ("er_r4_k3_s2_e8_c48",),
    ("ir_r5_k5_s2_e8_c96",),
    ("ir_r4_k5_s1_e8_c144",),
    ("ir_r2_k5_s2_e8_c192",),
)
_EFFNET_X = (  # EfficientNet-X: space-to-depth stem block, fused early stages
    ("ds_r1_k3_s1_e1_c16_se0.25_d1",),
    ("er_r2_k3_s2_e6_c24_se0.25_nre",),
    ("er_r2_k5_s2_e6_c40_se0.25_nre",),
    ("ir_r3_k3_s2_e6_c80_se0.25",),
    ("ir_r3_k5_s1_e6_c112_se0.25",),
    ("ir_r4_k5_s2_e6_c192_se0.25",),
    ("ir_r1_k3_s1_e6_c320_se0.25",),
)
_EFFNET_H = tuple(
    (s[0].replace("_e6_c24", "_e4_c24").replace("_e6_c40", "_e4_c40").replace("_e6_c80", "_e4_c80"),)
    for s in _EFFNET_X
)
_V2_BASE = (
    ("cn_r1_k3_s1_e1_c16_skip",),
    ("er_r2_k3_s2_e4_c32",),
    ("er_r2_k3_s2_e4_c48",),
    ("ir_r3_k3_s2_e4_c96_se0.25",),
    ("ir_r5_k3_s1_e6_c112_se0.25",),
    ("ir_r8_k3_s2_e6_c192_se0.25",),
)
_V2_S = (
    ("cn_r2_k3_s1_e1_c24_skip",),
    ("er_r4_k3_s2_e4_c48",),
    ("er_r4_k3_s2_e4_c64",),
    ("ir_r6_k3_s2_e4_c128_se0.25",),
    ("ir_r9_k3_s1_e6_c160_se0.25",),
    ("ir_r15_k3_s2_e6_c256_se0.25",),
)
_V2_S_RW = (("er_r2_k3_s1_e1_c24",), *_V2_S[1:5], ("ir_r15_k3_s2_e6_c272_se0.25",))  # before the paper's code
_V2_M = (
    ("cn_r3_k3_s1_e1_c24_skip",),
    ("er_r5_k3_s2_e4_c48",),
    ("er_r5_k3_s2_e4_c80",),
    ("ir_r7_k3_s2_e4_c160_se0.25",),
    ("ir_r14_k3_s1_e6_c176_se0.25",),
    ("ir_r18_k3_s2_e6_c304_se0.25",),
    ("ir_r5_k3_s1_e6_c512_se0.25",),
)
_V2_L = (
    ("cn_r4_k3_s1_e1_c32_skip",),
    ("er_r7_k3_s2_e4_c64",),
    ("er_r7_k3_s2_e4_c96",),
    ("ir_r10_k3_s2_e4_c192_se0.25",),
    ("ir_r19_k3_s1_e6_c224_se0.25",),
    ("ir_r25_k3_s2_e6_c384_se0.25",),
    ("ir_r7_k3_s1_e6_c640_se0.25",),
)
_V2_XL = (
    ("cn_r4_k3_s1_e1_c32_skip",),
    ("er_r8_k3_s2_e4_c64",),
    ("er_r8_k3_s2_e4_c96",),
    ("ir_r16_k3_s2_e4_c192_se0.25",),
    ("ir_r24_k3_s1_e6_c256_se0.25",),
    ("ir_r32_k3_s2_e6_c512_se0.25",),
    ("ir_r8_k3_s1_e6_c640_se0.25",),
)
_MNASNET_A1 = (
    ("ds_r1_k3_s1_e1_c16_noskip",),
    ("ir_r2_k3_s2_e6_c24",),
    ("ir_r3_k5_s2_e3_c40_se0.25",),
    ("ir_r4_k3_s2_e6_c80",),
    ("ir_r2_k3_s1_e6_c112_se0.25",),
    ("ir_r3_k5_s2_e6_c160_se0.25",),
    ("ir_r1_k3_s1_e6_c320",),
)
_MNASNET_B1 = (
    ("ds_r1_k3_s1_c16_noskip",),
    ("ir_r3_k3_s2_e3_c24",),
    ("ir_r3_k5_s2_e3_c40",),
    ("ir_r3_k5_s2_e6_c80",),
    ("ir_r2_k3_s1_e6_c96",),
    ("ir_r4_k5_s2_e6_c192",),
    ("ir_r1_k3_s1_e6_c320_noskip",),
)
_MNASNET_SMALL = (
    ("ds_r1_k3_s1_c8",),
    ("ir_r1_k3_s2_e3_c16",),
    ("ir_r2_k3_s2_e6_c16",),
    ("ir_r4_k5_s2_e6_c32_se0.25",),
    ("ir_r3_k3_s1_e6_c32_se0.25",),
    ("ir_r3_k5_s2_e6_c88_se0.25",),
    ("ir_r1_k3_s1_e6_c144",),
)
_MOBILENETV1 = (
    ("dsa_r1_k3_s1_c64",),
    ("dsa_r2_k3_s2_c128",),
    ("dsa_r2_k3_s2_c256",),
    ("dsa_r6_k3_s2_c512",),
    ("dsa_r2_k3_s2_c1024",),
)
_MOBILENETV2 = (
    ("ds_r1_k3_s1_c16",),
    ("ir_r2_k3_s2_e6_c24",),
    ("ir_r3_k3_s2_e6_c32",),
    ("ir_r4_k3_s2_e6_c64",),
    ("ir_r3_k3_s1_e6_c96",),
    ("ir_r3_k3_s2_e6_c160",),
    ("ir_r1_k3_s1_e6_c320",),
)
_FBNETC = (
    ("ir_r1_k3_s1_e1_c16",),
    ("ir_r1_k3_s2_e6_c24", "ir_r2_k3_s1_e1_c24"),
    ("ir_r1_k5_s2_e6_c32", "ir_r1_k5_s1_e3_c32", "ir_r1_k5_s1_e6_c32", "ir_r1_k3_s1_e6_c32"),
    ("ir_r1_k5_s2_e6_c64", "ir_r1_k5_s1_e3_c64", "ir_r2_k5_s1_e6_c64"),
    ("ir_r3_k5_s1_e6_c112", "ir_r1_k5_s1_e3_c112"),
    ("ir_r4_k5_s2_e6_c184",),
    ("ir_r1_k3_s1_e6_c352",),
)
_SPNASNET = (
    ("ds_r1_k3_s1_c16_noskip",),
    ("ir_r3_k3_s2_e3_c24",),
    ("ir_r1_k5_s2_e6_c40", "ir_r3_k3_s1_e3_c40"),
    ("ir_r1_k5_s2_e6_c80", "ir_r3_k3_s1_e3_c80"),
    ("ir_r1_k5_s1_e6_c96", "ir_r3_k5_s1_e3_c96"),
    ("ir_r4_k5_s2_e6_c192",),
    ("ir_r1_k3_s1_e6_c320_noskip",),
)
_MIXNET_S = (  # relu in the first two stages, swish after
    ("ds_r1_k3_s1_e1_c16",),
    ("ir_r1_k3_a1.1_p1.1_s2_e6_c24", "ir_r1_k3_a1.1_p1.1_s1_e3_c24"),
    ("ir_r1_k3.5.7_s2_e6_c40_se0.5_nsw", "ir_r3_k3.5_a1.1_p1.1_s1_e6_c40_se0.5_nsw"),
    ("ir_r1_k3.5.7_p1.1_s2_e6_c80_se0.25_nsw", "ir_r2_k3.5_p1.1_s1_e6_c80_se0.25_nsw"),
    ("ir_r1_k3.5.7_a1.1_p1.1_s1_e6_c120_se0.5_nsw", "ir_r2_k3.5.7.9_a1.1_p1.1_s1_e3_c120_se0.5_nsw"),
    ("ir_r1_k3.5.7.9.11_s2_e6_c200_se0.5_nsw", "ir_r2_k3.5.7.9_p1.1_s1_e6_c200_se0.5_nsw"),
)
_MIXNET_M = (
    ("ds_r1_k3_s1_e1_c24",),
    ("ir_r1_k3.5.7_a1.1_p1.1_s2_e6_c32", "ir_r1_k3_a1.1_p1.1_s1_e3_c32"),
    ("ir_r1_k3.5.7.9_s2_e6_c40_se0.5_nsw", "ir_r3_k3.5_a1.1_p1.1_s1_e6_c40_se0.5_nsw"),
    ("ir_r1_k3.5.7_s2_e6_c80_se0.25_nsw", "ir_r3_k3.5.7.9_a1.1_p1.1_s1_e6_c80_se0.25_nsw"),
    ("ir_r1_k3_s1_e6_c120_se0.5_nsw", "ir_r3_k3.5.7.9_a1.1_p1.1_s1_e3_c120_se0.5_nsw"),
    ("ir_r1_k3.5.7.9_s2_e6_c200_se0.5_nsw", "ir_r3_k3.5.7.9_p1.1_s1_e6_c200_se0.5_nsw"),
)
_EDGETPU = (
    ("cn_r1_k1_s1_c16",),
    ("er_r1_k3_s2_e8_c32", "er_r3_k3_s1_e4_c32"),
    ("er_r1_k3_s2_e8_c48", "er_r3_k3_s1_e4_c48"),
    ("ir_r1_k3_s2_e8_c96", "ir_r3_k3_s1_e4_c96"),
    ("ir_r1_k3_s1_e8_c96_noskip", "ir_r3_k3_s1_e4_c96"),
    ("ir_r1_k5_s2_e8_c160", "ir_r3_k5_s1_e4_c160"),
    ("ir_r1_k3_s1_e8_c192",),
)


def _edgetpu_v2(c: tuple[int, ...], gs: int) -> tuple[tuple[str, ...], ...]:
    """MobileNet-EdgeTPU-V2 stages for widths ``c`` and group size ``gs`` of the grouped blocks."""
    return (
        (f"cn_r1_k1_s1_c{c[0]}",),  # NOTE: with expansion 1 the reference block is just the 1x1 conv
        (f"er_r1_k3_s2_e8_c{c[1]}", f"er_r1_k3_s1_e4_gs{gs}_c{c[1]}"),
        (
            f"er_r1_k3_s2_e8_c{c[2]}",
            f"er_r1_k3_s1_e4_gs{gs}_c{c[2]}",
            f"er_r1_k3_s1_e4_c{c[2]}",
            f"er_r1_k3_s1_e4_gs{gs}_c{c[2]}",
        ),
        (f"er_r1_k3_s2_e8_c{c[3]}", f"ir_r3_k3_s1_e4_c{c[3]}"),
        (f"ir_r1_k3_s1_e8_c{c[4]}", f"ir_r3_k3_s1_e4_c{c[4]}"),
        (f"ir_r1_k3_s2_e8_c{c[5]}", f"ir_r3_k3_s1_e4_c{c[5]}"),
        (f"ir_r1_k3_s1_e8_c{c[6]}",),
    )


_TEST = (
    ("cn_r1_k3_s1_e1_c16_skip",),
    ("er_r1_k3_s2_e4_c24",),
    ("er_r1_k3_s2_e4_c32",),
    ("ir_r1_k3_s2_e4_c48_se0.25",),
    ("ir_r1_k3_s2_e4_c64_se0.25",),
)

EfficientNetArgs = model_args_type(EfficientNet)
_TF = dict(pad_type="same", bn_eps=BN_EPS_TF_DEFAULT)  # the TensorFlow ports
_GN8, _GN16 = partial(GroupNormAct, group_size=8), partial(GroupNormAct, group_size=16)  # group-norm trials


def _effnet(cm: float, dm: float, tf: bool = False, **kw: Any) -> Any:
    """EfficientNet B0-B8/L2 scaled by width ``cm`` and depth ``dm``."""
    divisor = kw.get("channel_divisor", 8)
    return EfficientNetArgs(
        block_args=_EFFNET,
        num_features=round_channels(1280, cm, divisor),
        channel_multiplier=cm,
        depth_multiplier=dm,
        act_layer="swish",
        **(_TF if tf else {}),
        **kw,
    )


def _edge(cm: float, dm: float, tf: bool = False) -> Any:
    return EfficientNetArgs(
        block_args=_EFFNET_EDGE,
        num_features=round_channels(1280, cm),
        channel_multiplier=cm,
        depth_multiplier=dm,
        **(_TF if tf else {}),
    )


def _condconv(dm: float, experts: int, tf: bool = False) -> Any:
    return EfficientNetArgs(
        block_args=_EFFNET_CC,
        depth_multiplier=dm,
        experts_multiplier=experts,
        act_layer="swish",
        **(_TF if tf else {}),
    )


def _lite(cm: float, dm: float, tf: bool = False) -> Any:
    """EfficientNet-Lite: relu6, no SE, stem / head and first / last stage kept unscaled."""
    return EfficientNetArgs(
        block_args=_EFFNET_LITE,
        channel_multiplier=cm,
        depth_multiplier=dm,
        fix_first_last=True,
        fix_stem=True,
        act_layer="relu6",
        **(_TF if tf else {}),
    )


def _v2(arch: Any, stem: int, num_features: int = 1280, tf: bool = False, **kw: Any) -> Any:
    return EfficientNetArgs(
        block_args=arch,
        stem_size=stem,
        num_features=num_features,
        act_layer="silu",
        **(_TF if tf else {}),
        **kw,
    )


def _v2_base(cm: float, dm: float) -> Any:
    """The TF EfficientNetV2-B0..B3: channels rounded without the 90% floor."""
    nf = round_channels(1280, cm, round_limit=0.0)
    return _v2(_V2_BASE, 32, nf, tf=True, channel_multiplier=cm, depth_multiplier=dm, round_limit=0.0)


def _effnet_x(cm: float, dm: float, arch: Any) -> Any:
    return EfficientNetArgs(
        block_args=arch,
        num_features=round_channels(1280, cm),
        channel_multiplier=cm,
        depth_multiplier=dm,
        act_layer="silu",
    )


def _mnasnet(arch: Any, cm: float, stem: int = 32) -> Any:
    return EfficientNetArgs(block_args=arch, stem_size=stem, channel_multiplier=cm)


def _mobilenetv1(cm: float, head_conv: bool = False) -> Any:
    return EfficientNetArgs(
        block_args=_MOBILENETV1,
        num_features=max(1024, round_channels(1024, cm)) if head_conv else 0,
        channel_multiplier=cm,
        act_layer="relu6",
    )


def _mobilenetv2(cm: float, dm: float = 1.0, fix_stem_head: bool = False) -> Any:
    return EfficientNetArgs(
        block_args=_MOBILENETV2,
        num_features=1280 if fix_stem_head else max(1280, round_channels(1280, cm)),
        fix_stem=fix_stem_head,
        fix_first_last=fix_stem_head,
        channel_multiplier=cm,
        depth_multiplier=dm,
        act_layer="relu6",
    )


def _mixnet(arch: Any, cm: float, dm: float = 1.0, tf: bool = False) -> Any:
    return EfficientNetArgs(
        block_args=arch,
        num_features=1536,
        stem_size=16 if arch is _MIXNET_S else 24,
        channel_multiplier=cm,
        depth_multiplier=dm,
        depth_trunc="round",
        **(_TF if tf else {}),
    )


def _tinynet(width: float, dm: float) -> Any:
    return EfficientNetArgs(
        block_args=_EFFNET,
        num_features=max(1280, round_channels(1280, width)),
        fix_stem=True,
        channel_multiplier=width,
        depth_multiplier=dm,
        depth_trunc="round",
        act_layer="swish",
    )


def _edgetpu_v2_args(c: tuple[int, ...], stem: int = 64, k: int = 5, gs: int = 64, nf: int = 1280) -> Any:
    return EfficientNetArgs(
        block_args=_edgetpu_v2(c, gs), stem_size=stem, stem_kernel_size=k, num_features=nf
    )


VARIANTS: dict[str, Any] = {
    "mnasnet_050": _mnasnet(_MNASNET_B1, 0.5),
    "mnasnet_075": _mnasnet(_MNASNET_B1, 0.75),
    "mnasnet_100": _mnasnet(_MNASNET_B1, 1.0),
    "mnasnet_140": _mnasnet(_MNASNET_B1, 1.4),
    "semnasnet_050": _mnasnet(_MNASNET_A1, 0.5),
    "semnasnet_075": _mnasnet(_MNASNET_A1, 0.75),
    "semnasnet_100": _mnasnet(_MNASNET_A1, 1.0),
    "semnasnet_140": _mnasnet(_MNASNET_A1, 1.4),
    "mnasnet_small": _mnasnet(_MNASNET_SMALL, 1.0, stem=8),
    "mobilenetv1_100": _mobilenetv1(1.0),
    "mobilenetv1_100h": _mobilenetv1(1.0, head_conv=True),
    "mobilenetv1_125": _mobilenetv1(1.25),
    "mobilenetv2_035": _mobilenetv2(0.35),
    "mobilenetv2_050": _mobilenetv2(0.5),
    "mobilenetv2_075": _mobilenetv2(0.75),
    "mobilenetv2_100": _mobilenetv2(1.0),
    "mobilenetv2_140": _mobilenetv2(1.4),
    "mobilenetv2_110d": _mobilenetv2(1.1, 1.2, fix_stem_head=True),
    "mobilenetv2_120d": _mobilenetv2(1.2, 1.4, fix_stem_head=True),
    # its weights were trained with BN eps 1e-3; built without them it keeps 1e-5, as in timm
    "fbnetc_100": WhenPretrained(
        EfficientNetArgs(block_args=_FBNETC, stem_size=16, num_features=1984), {"bn_eps": BN_EPS_TF_DEFAULT}
    ),
    "spnasnet_100": _mnasnet(_SPNASNET, 1.0),
    "efficientnet_b0": _effnet(1.0, 1.0),
    "efficientnet_b1": _effnet(1.0, 1.1),
    "efficientnet_b2": _effnet(1.1, 1.2),
    "efficientnet_b3": _effnet(1.2, 1.4),
    "efficientnet_b4": _effnet(1.4, 1.8),
    "efficientnet_b5": _effnet(1.6, 2.2),
    "efficientnet_b6": _effnet(1.8, 2.6),
    "efficientnet_b7": _effnet(2.0, 3.1),
    "efficientnet_b8": _effnet(2.2, 3.6),
    "efficientnet_l2": _effnet(4.3, 5.3),
    "efficientnet_b0_gn": _effnet(1.0, 1.0, norm_layer=_GN8),
    "efficientnet_b0_g8_gn": _effnet(1.0, 1.0, group_size=8, norm_layer=_GN8),
    "efficientnet_b0_g16_evos": _effnet(1.0, 1.0, group_size=16, channel_divisor=16),
    "efficientnet_b3_gn": _effnet(1.2, 1.4, channel_divisor=16, norm_layer=_GN16),
    "efficientnet_b3_g8_gn": _effnet(1.2, 1.4, group_size=8, channel_divisor=16, norm_layer=_GN16),
    "efficientnet_blur_b0": _effnet(1.0, 1.0, aa_layer="blurpc"),
    "efficientnet_es": _edge(1.0, 1.0),
    "efficientnet_es_pruned": _edge(1.0, 1.0),
    "efficientnet_em": _edge(1.0, 1.1),
    "efficientnet_el": _edge(1.2, 1.4),
    "efficientnet_el_pruned": _edge(1.2, 1.4),
    "efficientnet_cc_b0_4e": _condconv(1.0, 1),
    "efficientnet_cc_b0_8e": _condconv(1.0, 2),
    "efficientnet_cc_b1_8e": _condconv(1.1, 2),
    "efficientnet_lite0": _lite(1.0, 1.0),
    "efficientnet_lite1": _lite(1.0, 1.1),
    "efficientnet_lite2": _lite(1.1, 1.2),
    "efficientnet_lite3": _lite(1.2, 1.4),
    "efficientnet_lite4": _lite(1.4, 1.8),
    "efficientnet_b1_pruned": Pruned(_effnet(1.0, 1.1, tf=True)),
    "efficientnet_b2_pruned": Pruned(_effnet(1.1, 1.2, tf=True)),
    "efficientnet_b3_pruned": Pruned(_effnet(1.2, 1.4, tf=True)),
    "efficientnetv2_rw_t": _v2(
        _V2_S, 24, round_channels(1280, 0.8), channel_multiplier=0.8, depth_multiplier=0.9
    ),
    "gc_efficientnetv2_rw_t": _v2(
        _V2_S,
        24,
        round_channels(1280, 0.8),
        channel_multiplier=0.8,
        depth_multiplier=0.9,
        se_layer=GlobalContext,
    ),
    "efficientnetv2_rw_s": _v2(_V2_S_RW, 24, 1792),
    "efficientnetv2_rw_m": _v2(
        _V2_S_RW,
        24,
        round_channels(1792, 1.2),
        channel_multiplier=1.2,
        depth_multiplier=(1.2,) * 4 + (1.6,) * 2,
    ),
    "efficientnetv2_s": _v2(_V2_S, 24),
    "efficientnetv2_m": _v2(_V2_M, 24),
    "efficientnetv2_l": _v2(_V2_L, 32),
    "efficientnetv2_xl": _v2(_V2_XL, 32),
    "tf_efficientnet_b0": _effnet(1.0, 1.0, tf=True),
    "tf_efficientnet_b1": _effnet(1.0, 1.1, tf=True),
    "tf_efficientnet_b2": _effnet(1.1, 1.2, tf=True),
    "tf_efficientnet_b3": _effnet(1.2, 1.4, tf=True),
    "tf_efficientnet_b4": _effnet(1.4, 1.8, tf=True),
    "tf_efficientnet_b5": _effnet(1.6, 2.2, tf=True),
    "tf_efficientnet_b6": _effnet(1.8, 2.6, tf=True),
    "tf_efficientnet_b7": _effnet(2.0, 3.1, tf=True),
    "tf_efficientnet_b8": _effnet(2.2, 3.6, tf=True),
    "tf_efficientnet_l2": _effnet(4.3, 5.3, tf=True),
    "tf_efficientnet_es": _edge(1.0, 1.0, tf=True),
    "tf_efficientnet_em": _edge(1.0, 1.1, tf=True),
    "tf_efficientnet_el": _edge(1.2, 1.4, tf=True),
    "tf_efficientnet_cc_b0_4e": _condconv(1.0, 1, tf=True),
    "tf_efficientnet_cc_b0_8e": _condconv(1.0, 2, tf=True),
    "tf_efficientnet_cc_b1_8e": _condconv(1.1, 2, tf=True),
    "tf_efficientnet_lite0": _lite(1.0, 1.0, tf=True),
    "tf_efficientnet_lite1": _lite(1.0, 1.1, tf=True),
    "tf_efficientnet_lite2": _lite(1.1, 1.2, tf=True),
    "tf_efficientnet_lite3": _lite(1.2, 1.4, tf=True),
    "tf_efficientnet_lite4": _lite(1.4, 1.8, tf=True),
    "tf_efficientnetv2_s": _v2(_V2_S, 24, tf=True),
    "tf_efficientnetv2_m": _v2(_V2_M, 24, tf=True),
    "tf_efficientnetv2_l": _v2(_V2_L, 32, tf=True),
    "tf_efficientnetv2_xl": _v2(_V2_XL, 32, tf=True),
    "tf_efficientnetv2_b0": _v2_base(1.0, 1.0),
    "tf_efficientnetv2_b1": _v2_base(1.0, 1.1),
    "tf_efficientnetv2_b2": _v2_base(1.1, 1.2),
    "tf_efficientnetv2_b3": _v2_base(1.2, 1.4),
    "efficientnet_x_b3": _effnet_x(1.2, 1.4, _EFFNET_X),
    "efficientnet_x_b5": _effnet_x(1.6, 2.2, _EFFNET_X),
    "efficientnet_h_b5": _effnet_x(1.92, 2.2, _EFFNET_H),
    "mixnet_s": _mixnet(_MIXNET_S, 1.0),
    "mixnet_m": _mixnet(_MIXNET_M, 1.0),
    "mixnet_l": _mixnet(_MIXNET_M, 1.3),
    "mixnet_xl": _mixnet(_MIXNET_M, 1.6, 1.2),
    "mixnet_xxl": _mixnet(_MIXNET_M, 2.4, 1.3),
    "tf_mixnet_s": _mixnet(_MIXNET_S, 1.0, tf=True),
    "tf_mixnet_m": _mixnet(_MIXNET_M, 1.0, tf=True),
    "tf_mixnet_l": _mixnet(_MIXNET_M, 1.3, tf=True),
    "tinynet_a": _tinynet(1.0, 1.2),
    "tinynet_b": _tinynet(0.75, 1.1),
    "tinynet_c": _tinynet(0.54, 0.85),
    "tinynet_d": _tinynet(0.54, 0.695),
    "tinynet_e": _tinynet(0.51, 0.6),
    "mobilenet_edgetpu_100": EfficientNetArgs(block_args=_EDGETPU),
    "mobilenet_edgetpu_v2_xs": _edgetpu_v2_args((16, 32, 48, 96, 144, 160, 192), stem=32, k=3),
    "mobilenet_edgetpu_v2_s": _edgetpu_v2_args((24, 48, 64, 128, 160, 192, 256)),
    "mobilenet_edgetpu_v2_m": _edgetpu_v2_args((32, 64, 80, 160, 192, 240, 320), nf=1344),
    "mobilenet_edgetpu_v2_l": _edgetpu_v2_args((32, 64, 96, 192, 240, 256, 384), k=7, gs=128, nf=1408),
    "test_efficientnet": _v2(_TEST, 24, 256, round_limit=0.0),
    "test_efficientnet_gn": _v2(_TEST, 24, 256, round_limit=0.0, norm_layer=_GN8),
    "test_efficientnet_ln": _v2(_TEST, 24, 256, round_limit=0.0, norm_layer=LayerNormAct2d),
    "test_efficientnet_evos": _v2(
        _TEST, 24, 256, round_limit=0.0, norm_layer=partial(EvoNorm2dS0, group_size=8)
    ),
}


# --- weights --------------------------------------------------------------------------------------
# cfg defaults, release folders and the entry helper (``size=`` sets the pool size too) are
# shared with the sibling family, in _efficientnet_builder.
_RW_EFFV2 = RWIGHTMAN_RELEASES + "v0.1-effv2-weights/"
# "arch.tag" in timm's order; an architecture with several tags marks its default (timm's first).
WEIGHTS: dict[str, dict[str, Any]] = {
    "mnasnet_050.untrained": effnet_weight(NO_WEIGHTS),
    "mnasnet_075.untrained": effnet_weight(NO_WEIGHTS),
    "mnasnet_100.rmsp_in1k": effnet_weight(url=RW_WEIGHTS + "mnasnet_b1-74cb7081.pth"),
    "mnasnet_140.untrained": effnet_weight(NO_WEIGHTS),
    "semnasnet_050.untrained": effnet_weight(NO_WEIGHTS),
    "semnasnet_075.rmsp_in1k": effnet_weight(url=RW_WEIGHTS + "semnasnet_075-18710866.pth"),
    "semnasnet_100.rmsp_in1k": effnet_weight(url=RW_WEIGHTS + "mnasnet_a1-d9418771.pth"),
    "semnasnet_140.untrained": effnet_weight(NO_WEIGHTS),
    "mnasnet_small.lamb_in1k": effnet_weight(url=RW_WEIGHTS + "mnasnet_small_lamb-aff75073.pth"),
    "mobilenetv1_100.ra4_e3600_r224_in1k": effnet_weight(INCEPTION_NORM, test=256, test_crop_pct=0.95),
    "mobilenetv1_100h.ra4_e3600_r224_in1k": effnet_weight(INCEPTION_NORM, test=256, test_crop_pct=0.95),
    "mobilenetv1_125.ra4_e3600_r224_in1k": effnet_weight(
        INCEPTION_NORM, test=256, crop=0.9, test_crop_pct=1.0
    ),
    "mobilenetv2_035.untrained": effnet_weight(NO_WEIGHTS),
    "mobilenetv2_050.lamb_in1k": effnet_weight(url=RW_WEIGHTS + "mobilenetv2_050-3d30d450.pth"),
    "mobilenetv2_075.untrained": effnet_weight(NO_WEIGHTS),
    "mobilenetv2_100.ra_in1k": effnet_weight(url=RW_WEIGHTS + "mobilenetv2_100_ra-b33bc2c4.pth"),
    "mobilenetv2_110d.ra_in1k": effnet_weight(url=RW_WEIGHTS + "mobilenetv2_110d_ra-77090ade.pth"),
    "mobilenetv2_120d.ra_in1k": effnet_weight(url=RW_WEIGHTS + "mobilenetv2_120d_ra-5987e2ed.pth"),
    "mobilenetv2_140.ra_in1k": effnet_weight(url=RW_WEIGHTS + "mobilenetv2_140_ra-21a4e913.pth"),
    "fbnetc_100.rmsp_in1k": effnet_weight(
        url=RW_WEIGHTS + "fbnetc_100-c345b898.pth", interpolation="bilinear"
    ),
    "spnasnet_100.rmsp_in1k": effnet_weight(
        url=RW_WEIGHTS + "spnasnet_100-048bc3f4.pth", interpolation="bilinear"
    ),
    "efficientnet_b0.ra_in1k": effnet_weight(
        default=True, url=RW_WEIGHTS + "efficientnet_b0_ra-3dd342df.pth"
    ),
    "efficientnet_b0.ra4_e3600_r224_in1k": effnet_weight(
        INCEPTION_NORM, test=256, crop=0.9, test_crop_pct=1.0
    ),
    "efficientnet_b1.ra4_e3600_r240_in1k": effnet_weight(
        INCEPTION_NORM, default=True, size=240, test=288, crop=0.9, test_crop_pct=1.0
    ),
    "efficientnet_b1.ft_in1k": effnet_weight(
        url=RW_WEIGHTS + "efficientnet_b1-533bc792.pth", test=256, test_crop_pct=1.0
    ),
    "efficientnet_b2.ra_in1k": effnet_weight(
        url=RW_WEIGHTS + "efficientnet_b2_ra-bcdf34b7.pth", size=256, test=288, test_crop_pct=1.0
    ),
    "efficientnet_b3.ra2_in1k": effnet_weight(
        url=RW_WEIGHTS + "efficientnet_b3_ra2-cf984f9c.pth", size=288, test=320, test_crop_pct=1.0
    ),
    "efficientnet_b4.ra2_in1k": effnet_weight(
        url=RW_WEIGHTS + "efficientnet_b4_ra2_320-7eb33cd5.pth", size=320, test=384, test_crop_pct=1.0
    ),
    "efficientnet_b5.sw_in12k_ft_in1k": effnet_weight(default=True, size=448, crop=1.0, crop_mode="squash"),
    "efficientnet_b5.sw_in12k": effnet_weight(size=416, crop=0.95, num_classes=11821),
    "efficientnet_b6.untrained": effnet_weight(NO_WEIGHTS, size=528, crop=0.942),
    "efficientnet_b7.untrained": effnet_weight(NO_WEIGHTS, size=600, crop=0.949),
    "efficientnet_b8.untrained": effnet_weight(NO_WEIGHTS, size=672, crop=0.954),
    "efficientnet_l2.untrained": effnet_weight(NO_WEIGHTS, size=800, crop=0.961),
    "efficientnet_b0_gn.untrained": effnet_weight(NO_WEIGHTS),
    "efficientnet_b0_g8_gn.untrained": effnet_weight(NO_WEIGHTS),
    "efficientnet_b0_g16_evos.untrained": effnet_weight(NO_WEIGHTS),
    "efficientnet_b3_gn.untrained": effnet_weight(NO_WEIGHTS, size=288, test=320, crop=1.0),
    "efficientnet_b3_g8_gn.untrained": effnet_weight(NO_WEIGHTS, size=288, test=320, crop=1.0),
    "efficientnet_blur_b0.untrained": effnet_weight(NO_WEIGHTS),
    "efficientnet_h_b5.sw_r448_e450_in1k": effnet_weight(size=448, test=576, crop=1.0, crop_mode="squash"),
    "efficientnet_x_b3.untrained": effnet_weight(NO_WEIGHTS, size=288, crop=0.95),
    "efficientnet_x_b5.sw_r448_e450_in1k": effnet_weight(size=448, test=576, crop=1.0, crop_mode="squash"),
    "efficientnet_es.ra_in1k": effnet_weight(url=RW_WEIGHTS + "efficientnet_es_ra-f111e99c.pth"),
    "efficientnet_em.ra2_in1k": effnet_weight(
        url=RW_WEIGHTS + "efficientnet_em_ra2-66250f76.pth", size=240, crop=0.882
    ),
    "efficientnet_el.ra_in1k": effnet_weight(
        url=RW_WEIGHTS + "efficientnet_el-3b455510.pth", size=300, crop=0.904
    ),
    "efficientnet_es_pruned.in1k": effnet_weight(url=RW_WEIGHTS + "efficientnet_es_pruned75-1b7248cf.pth"),
    "efficientnet_el_pruned.in1k": effnet_weight(
        url=RW_WEIGHTS + "efficientnet_el_pruned70-ef2a2ccf.pth", size=300, crop=0.904
    ),
    "efficientnet_cc_b0_4e.untrained": effnet_weight(NO_WEIGHTS),
    "efficientnet_cc_b0_8e.untrained": effnet_weight(NO_WEIGHTS),
    "efficientnet_cc_b1_8e.untrained": effnet_weight(NO_WEIGHTS, size=240, crop=0.882),
    "efficientnet_lite0.ra_in1k": effnet_weight(url=RW_WEIGHTS + "efficientnet_lite0_ra-37913777.pth"),
    "efficientnet_lite1.untrained": effnet_weight(NO_WEIGHTS, size=240, crop=0.882),
    "efficientnet_lite2.untrained": effnet_weight(NO_WEIGHTS, size=260, crop=0.89),
    "efficientnet_lite3.untrained": effnet_weight(NO_WEIGHTS, size=300, crop=0.904),
    "efficientnet_lite4.untrained": effnet_weight(NO_WEIGHTS, size=380, crop=0.922),
    "efficientnet_b1_pruned.in1k": effnet_weight(
        INCEPTION_NORM, url=RW_TRESNET + "effnetb1_pruned-bea43a3a.pth", size=240, crop=0.882
    ),
    "efficientnet_b2_pruned.in1k": effnet_weight(
        INCEPTION_NORM, url=RW_TRESNET + "effnetb2_pruned-08c1b27c.pth", size=260, crop=0.89
    ),
    "efficientnet_b3_pruned.in1k": effnet_weight(
        INCEPTION_NORM, url=RW_TRESNET + "effnetb3_pruned-59ecf72d.pth", size=300, crop=0.904
    ),
    "efficientnetv2_rw_t.ra2_in1k": effnet_weight(
        url=RW_WEIGHTS + "efficientnetv2_t_agc-3620981a.pth", test=288, crop=1.0
    ),
    "gc_efficientnetv2_rw_t.agc_in1k": effnet_weight(
        url=RW_WEIGHTS + "gc_efficientnetv2_rw_t_agc-927a0bde.pth", test=288, crop=1.0
    ),
    "efficientnetv2_rw_s.ra2_in1k": effnet_weight(
        url=RW_WEIGHTS + "efficientnet_v2s_ra2_288-a6477665.pth", size=288, test=384, crop=1.0
    ),
    "efficientnetv2_rw_m.agc_in1k": effnet_weight(
        url=RW_WEIGHTS + "efficientnetv2_rw_m_agc-3d90cb1e.pth", size=320, test=416, crop=1.0
    ),
    "efficientnetv2_s.untrained": effnet_weight(NO_WEIGHTS, size=288, test=384, crop=1.0),
    "efficientnetv2_m.untrained": effnet_weight(NO_WEIGHTS, size=320, test=416, crop=1.0),
    "efficientnetv2_l.untrained": effnet_weight(NO_WEIGHTS, size=384, test=480, crop=1.0),
    "efficientnetv2_xl.untrained": effnet_weight(NO_WEIGHTS, size=384, test=512, crop=1.0),
    "tf_efficientnet_b0.ns_jft_in1k": effnet_weight(
        default=True, url=RW_WEIGHTS + "tf_efficientnet_b0_ns-c0e6a31c.pth"
    ),
    "tf_efficientnet_b0.ap_in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_efficientnet_b0_ap-f262efe1.pth"
    ),
    "tf_efficientnet_b0.aa_in1k": effnet_weight(url=RW_WEIGHTS + "tf_efficientnet_b0_aa-827b6e33.pth"),
    "tf_efficientnet_b0.in1k": effnet_weight(url=HF_WEIGHTS + "tf_efficientnet_b0-0af12548.pth"),
    "tf_efficientnet_b1.ns_jft_in1k": effnet_weight(
        default=True, url=RW_WEIGHTS + "tf_efficientnet_b1_ns-99dd0c41.pth", size=240, crop=0.882
    ),
    "tf_efficientnet_b1.ap_in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_efficientnet_b1_ap-44ef0a3d.pth", size=240, crop=0.882
    ),
    "tf_efficientnet_b1.aa_in1k": effnet_weight(
        url=RW_WEIGHTS + "tf_efficientnet_b1_aa-ea7a6ee0.pth", size=240, crop=0.882
    ),
    "tf_efficientnet_b1.in1k": effnet_weight(
        url=HF_WEIGHTS + "tf_efficientnet_b1-5c1377c4.pth", size=240, crop=0.882
    ),
    "tf_efficientnet_b2.ns_jft_in1k": effnet_weight(
        default=True, url=RW_WEIGHTS + "tf_efficientnet_b2_ns-00306e48.pth", size=260, crop=0.89
    ),
    "tf_efficientnet_b2.ap_in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_efficientnet_b2_ap-2f8e7636.pth", size=260, crop=0.89
    ),
    "tf_efficientnet_b2.aa_in1k": effnet_weight(
        url=RW_WEIGHTS + "tf_efficientnet_b2_aa-60c94f97.pth", size=260, crop=0.89
    ),
    "tf_efficientnet_b2.in1k": effnet_weight(
        url=HF_WEIGHTS + "tf_efficientnet_b2-e393ef04.pth", size=260, crop=0.89
    ),
    "tf_efficientnet_b3.ns_jft_in1k": effnet_weight(
        default=True, url=RW_WEIGHTS + "tf_efficientnet_b3_ns-9d44bf68.pth", size=300, crop=0.904
    ),
    "tf_efficientnet_b3.ap_in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_efficientnet_b3_ap-aad25bdd.pth", size=300, crop=0.904
    ),
    "tf_efficientnet_b3.aa_in1k": effnet_weight(
        url=RW_WEIGHTS + "tf_efficientnet_b3_aa-84b4657e.pth", size=300, crop=0.904
    ),
    "tf_efficientnet_b3.in1k": effnet_weight(
        url=HF_WEIGHTS + "tf_efficientnet_b3-e3bd6955.pth", size=300, crop=0.904
    ),
    "tf_efficientnet_b4.ns_jft_in1k": effnet_weight(
        default=True, url=RW_WEIGHTS + "tf_efficientnet_b4_ns-d6313a46.pth", size=380, crop=0.922
    ),
    "tf_efficientnet_b4.ap_in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_efficientnet_b4_ap-dedb23e6.pth", size=380, crop=0.922
    ),
    "tf_efficientnet_b4.aa_in1k": effnet_weight(
        url=RW_WEIGHTS + "tf_efficientnet_b4_aa-818f208c.pth", size=380, crop=0.922
    ),
    "tf_efficientnet_b4.in1k": effnet_weight(
        url=HF_WEIGHTS + "tf_efficientnet_b4-74ee3bed.pth", size=380, crop=0.922
    ),
    "tf_efficientnet_b5.ns_jft_in1k": effnet_weight(
        default=True, url=RW_WEIGHTS + "tf_efficientnet_b5_ns-6f26d0cf.pth", size=456, crop=0.934
    ),
    "tf_efficientnet_b5.ap_in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_efficientnet_b5_ap-9e82fae8.pth", size=456, crop=0.934
    ),
    "tf_efficientnet_b5.ra_in1k": effnet_weight(
        url=RW_WEIGHTS + "tf_efficientnet_b5_ra-9a3e5369.pth", size=456, crop=0.934
    ),
    "tf_efficientnet_b5.aa_in1k": effnet_weight(
        url=HF_WEIGHTS + "tf_efficientnet_b5_aa-99018a74.pth", size=456, crop=0.934
    ),
    "tf_efficientnet_b5.in1k": effnet_weight(
        url=HF_WEIGHTS + "tf_efficientnet_b5-c6949ce9.pth", size=456, crop=0.934
    ),
    "tf_efficientnet_b6.ns_jft_in1k": effnet_weight(
        default=True, url=RW_WEIGHTS + "tf_efficientnet_b6_ns-51548356.pth", size=528, crop=0.942
    ),
    "tf_efficientnet_b6.ap_in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_efficientnet_b6_ap-4ffb161f.pth", size=528, crop=0.942
    ),
    "tf_efficientnet_b6.aa_in1k": effnet_weight(
        url=RW_WEIGHTS + "tf_efficientnet_b6_aa-80ba17e4.pth", size=528, crop=0.942
    ),
    "tf_efficientnet_b7.ns_jft_in1k": effnet_weight(
        default=True, url=RW_WEIGHTS + "tf_efficientnet_b7_ns-1dbc32de.pth", size=600, crop=0.949
    ),
    "tf_efficientnet_b7.ap_in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_efficientnet_b7_ap-ddb28fec.pth", size=600, crop=0.949
    ),
    "tf_efficientnet_b7.ra_in1k": effnet_weight(
        url=RW_WEIGHTS + "tf_efficientnet_b7_ra-6c08e654.pth", size=600, crop=0.949
    ),
    "tf_efficientnet_b7.aa_in1k": effnet_weight(
        url=HF_WEIGHTS + "tf_efficientnet_b7_aa-076e3472.pth", size=600, crop=0.949
    ),
    "tf_efficientnet_l2.ns_jft_in1k_475": effnet_weight(
        default=True, url=RW_WEIGHTS + "tf_efficientnet_l2_ns_475-bebbd00a.pth", size=475, crop=0.936
    ),
    "tf_efficientnet_l2.ns_jft_in1k": effnet_weight(
        url=RW_WEIGHTS + "tf_efficientnet_l2_ns-df73bb44.pth", size=800, crop=0.96
    ),
    "tf_efficientnet_b8.ap_in1k": effnet_weight(
        INCEPTION_NORM,
        default=True,
        url=RW_WEIGHTS + "tf_efficientnet_b8_ap-00e169fa.pth",
        size=672,
        crop=0.954,
    ),
    "tf_efficientnet_b8.ra_in1k": effnet_weight(
        url=RW_WEIGHTS + "tf_efficientnet_b8_ra-572d5dd9.pth", size=672, crop=0.954
    ),
    "tf_efficientnet_es.in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_efficientnet_es-ca1afbfe.pth"
    ),
    "tf_efficientnet_em.in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_efficientnet_em-e78cfe58.pth", size=240, crop=0.882
    ),
    "tf_efficientnet_el.in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_efficientnet_el-5143854e.pth", size=300, crop=0.904
    ),
    "tf_efficientnet_cc_b0_4e.in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_efficientnet_cc_b0_4e-4362b6b2.pth"
    ),
    "tf_efficientnet_cc_b0_8e.in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_efficientnet_cc_b0_8e-66184a25.pth"
    ),
    "tf_efficientnet_cc_b1_8e.in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_efficientnet_cc_b1_8e-f7c79ae1.pth", size=240, crop=0.882
    ),
    "tf_efficientnet_lite0.in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_efficientnet_lite0-0aa007d2.pth"
    ),
    "tf_efficientnet_lite1.in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_efficientnet_lite1-bde8b488.pth", size=240, crop=0.882
    ),
    "tf_efficientnet_lite2.in1k": effnet_weight(
        INCEPTION_NORM, url=RW_WEIGHTS + "tf_efficientnet_lite2-dcccb7df.pth", size=260, crop=0.89
    ),
    "tf_efficientnet_lite3.in1k": effnet_weight(
        INCEPTION_NORM,
        url=RW_WEIGHTS + "tf_efficientnet_lite3-b733e338.pth",
        size=300,
        crop=0.904,
        interpolation="bilinear",
    ),
    "tf_efficientnet_lite4.in1k": effnet_weight(
        INCEPTION_NORM,
        url=RW_WEIGHTS + "tf_efficientnet_lite4-741542c3.pth",
        size=380,
        crop=0.92,
        interpolation="bilinear",
    ),
    "tf_efficientnetv2_s.in21k_ft_in1k": effnet_weight(
        INCEPTION_NORM,
        default=True,
        url=_RW_EFFV2 + "tf_efficientnetv2_s_21ft1k-d7dafa41.pth",
        size=300,
        test=384,
        crop=1.0,
    ),
    "tf_efficientnetv2_s.in1k": effnet_weight(
        INCEPTION_NORM, url=_RW_EFFV2 + "tf_efficientnetv2_s-eb54923e.pth", size=300, test=384, crop=1.0
    ),
    "tf_efficientnetv2_s.in21k": effnet_weight(
        INCEPTION_NORM,
        url=_RW_EFFV2 + "tf_efficientnetv2_s_21k-6337ad01.pth",
        size=300,
        test=384,
        crop=1.0,
        num_classes=21843,
    ),
    "tf_efficientnetv2_m.in21k_ft_in1k": effnet_weight(
        INCEPTION_NORM,
        default=True,
        url=_RW_EFFV2 + "tf_efficientnetv2_m_21ft1k-bf41664a.pth",
        size=384,
        test=480,
        crop=1.0,
        crop_mode="squash",
    ),
    "tf_efficientnetv2_m.in1k": effnet_weight(
        INCEPTION_NORM,
        url=_RW_EFFV2 + "tf_efficientnetv2_m-cc09e0cd.pth",
        size=384,
        test=480,
        crop=1.0,
        crop_mode="squash",
    ),
    "tf_efficientnetv2_m.in21k": effnet_weight(
        INCEPTION_NORM,
        url=_RW_EFFV2 + "tf_efficientnetv2_m_21k-361418a2.pth",
        size=384,
        test=480,
        crop=1.0,
        crop_mode="squash",
        num_classes=21843,
    ),
    "tf_efficientnetv2_l.in21k_ft_in1k": effnet_weight(
        INCEPTION_NORM,
        default=True,
        url=_RW_EFFV2 + "tf_efficientnetv2_l_21ft1k-60127a9d.pth",
        size=384,
        test=480,
        crop=1.0,
        crop_mode="squash",
    ),
    "tf_efficientnetv2_l.in1k": effnet_weight(
        INCEPTION_NORM,
        url=_RW_EFFV2 + "tf_efficientnetv2_l-d664b728.pth",
        size=384,
        test=480,
        crop=1.0,
        crop_mode="squash",
    ),
    "tf_efficientnetv2_l.in21k": effnet_weight(
        INCEPTION_NORM,
        url=_RW_EFFV2 + "tf_efficientnetv2_l_21k-91a19ec9.pth",
        size=384,
        test=480,
        crop=1.0,
        crop_mode="squash",
        num_classes=21843,
    ),
    "tf_efficientnetv2_xl.in21k_ft_in1k": effnet_weight(
        INCEPTION_NORM,
        default=True,
        url=_RW_EFFV2 + "tf_efficientnetv2_xl_in21ft1k-06c35c48.pth",
        size=384,
        test=512,
        crop=1.0,
        crop_mode="squash",
    ),
    "tf_efficientnetv2_xl.in21k": effnet_weight(
        INCEPTION_NORM,
        url=_RW_EFFV2 + "tf_efficientnetv2_xl_in21k-fd7e8abf.pth",
        size=384,
        test=512,
        crop=1.0,
        crop_mode="squash",
        num_classes=21843,
    ),
    "tf_efficientnetv2_b0.in1k": effnet_weight(
        url=_RW_EFFV2 + "tf_efficientnetv2_b0-c7cc451f.pth", size=192, test=224
    ),
    "tf_efficientnetv2_b1.in1k": effnet_weight(
        url=_RW_EFFV2 + "tf_efficientnetv2_b1-be6e41b0.pth", size=192, test=240, crop=0.882
    ),
    "tf_efficientnetv2_b2.in1k": effnet_weight(
        url=_RW_EFFV2 + "tf_efficientnetv2_b2-847de54e.pth", size=208, test=260, crop=0.89
    ),
    "tf_efficientnetv2_b3.in21k_ft_in1k": effnet_weight(
        INCEPTION_NORM, default=True, size=240, test=300, crop=0.9, crop_mode="squash"
    ),
    "tf_efficientnetv2_b3.in1k": effnet_weight(
        url=_RW_EFFV2 + "tf_efficientnetv2_b3-57773f13.pth", size=240, test=300, crop=0.904
    ),
    "tf_efficientnetv2_b3.in21k": effnet_weight(
        INCEPTION_NORM, size=240, test=300, crop=0.904, num_classes=21843
    ),
    "mixnet_s.ft_in1k": effnet_weight(url=RW_WEIGHTS + "mixnet_s-a907afbc.pth"),
    "mixnet_m.ft_in1k": effnet_weight(url=RW_WEIGHTS + "mixnet_m-4647fc68.pth"),
    "mixnet_l.ft_in1k": effnet_weight(url=RW_WEIGHTS + "mixnet_l-5a9a2ed8.pth"),
    "mixnet_xl.ra_in1k": effnet_weight(url=RW_WEIGHTS + "mixnet_xl_ra-aac3c00c.pth"),
    "mixnet_xxl.untrained": effnet_weight(NO_WEIGHTS),
    "tf_mixnet_s.in1k": effnet_weight(url=RW_WEIGHTS + "tf_mixnet_s-89d3354b.pth"),
    "tf_mixnet_m.in1k": effnet_weight(url=RW_WEIGHTS + "tf_mixnet_m-0f4d8805.pth"),
    "tf_mixnet_l.in1k": effnet_weight(url=RW_WEIGHTS + "tf_mixnet_l-6c92e0c8.pth"),
    "tinynet_a.in1k": effnet_weight(
        url="https://github.com/huawei-noah/CV-Backbones/releases/download/v1.2.0/tinynet_a.pth", size=192
    ),
    "tinynet_b.in1k": effnet_weight(
        url="https://github.com/huawei-noah/CV-Backbones/releases/download/v1.2.0/tinynet_b.pth", size=188
    ),
    "tinynet_c.in1k": effnet_weight(
        url="https://github.com/huawei-noah/CV-Backbones/releases/download/v1.2.0/tinynet_c.pth", size=184
    ),
    "tinynet_d.in1k": effnet_weight(
        url="https://github.com/huawei-noah/CV-Backbones/releases/download/v1.2.0/tinynet_d.pth", size=152
    ),
    "tinynet_e.in1k": effnet_weight(
        url="https://github.com/huawei-noah/CV-Backbones/releases/download/v1.2.0/tinynet_e.pth", size=106
    ),
    "mobilenet_edgetpu_100.untrained": effnet_weight(NO_WEIGHTS, crop=0.9),
    "mobilenet_edgetpu_v2_xs.untrained": effnet_weight(NO_WEIGHTS, crop=0.9),
    "mobilenet_edgetpu_v2_s.untrained": effnet_weight(NO_WEIGHTS, crop=0.9),
    "mobilenet_edgetpu_v2_m.ra4_e3600_r224_in1k": effnet_weight(
        INCEPTION_NORM, test=256, crop=0.9, test_crop_pct=0.95
    ),
    "mobilenet_edgetpu_v2_l.untrained": effnet_weight(NO_WEIGHTS, crop=0.9),
    "test_efficientnet.r160_in1k": effnet_weight(size=160, crop=0.95),
    "test_efficientnet_ln.r160_in1k": effnet_weight(size=160, crop=0.95),
    "test_efficientnet_gn.r160_in1k": effnet_weight(INCEPTION_NORM, size=160, crop=0.95),
    "test_efficientnet_evos.r160_in1k": effnet_weight(INCEPTION_NORM, size=160, crop=0.95),
}

DEPRECATED = {
    **{f"tf_efficientnet_b{i}_ap": f"tf_efficientnet_b{i}.ap_in1k" for i in range(9)},
    **{f"tf_efficientnet_b{i}_ns": f"tf_efficientnet_b{i}.ns_jft_in1k" for i in range(8)},
    "tf_efficientnet_l2_ns_475": "tf_efficientnet_l2.ns_jft_in1k_475",
    "tf_efficientnet_l2_ns": "tf_efficientnet_l2.ns_jft_in1k",
    **{f"tf_efficientnetv2_{s}_in21ft1k": f"tf_efficientnetv2_{s}.in21k_ft_in1k" for s in "sml"},
    "tf_efficientnetv2_xl_in21ft1k": "tf_efficientnetv2_xl.in21k_ft_in1k",
    **{f"tf_efficientnetv2_{s}_in21k": f"tf_efficientnetv2_{s}.in21k" for s in ("s", "m", "l", "xl")},
    "efficientnet_b2a": "efficientnet_b2",
    "efficientnet_b3a": "efficientnet_b3",
    "mnasnet_a1": "semnasnet_100",
    "mnasnet_b1": "mnasnet_100",
}


default_cfgs = register_family(
    __name__,
    model_cls=EfficientNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=CFG_DEFAULTS,
    feature_cfg=FEATURE_CFG,
    deprecated=DEPRECATED,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. efficientnet_b0
    return family_entrypoint(__name__, name)
