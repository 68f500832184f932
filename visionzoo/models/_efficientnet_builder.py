"""Block strings -> stages: the builder shared by EfficientNet, MobileNetV3 and their relatives.

An architecture is a list of stages, each a list of block strings such as
``"ir_r2_k3_s2_e6_c24_se0.25"``: the block type first, then ``_``-separated options:

=========  ==================================================================================
type       ``ir`` inverted residual (MBConv), ``ds`` depthwise-separable, ``dsa`` ds with an
           activation after the pointwise conv, ``er`` edge residual (FusedMBConv), ``cn``
           conv-norm-act, ``uir`` universal inverted bottleneck, ``mqa`` / ``mha`` mobile
           (multi-query / multi-head) attention
``r``      repeats of the block in the stage (required)
``c``      output channels (required), scaled by the channel multiplier
``s``      stride of the first repeat (required)
``k``      kernel size; ``k3.5.7`` splits channels over kernel sizes (MixConv); for ``uir`` the
           middle depthwise kernel (0: none)
``a``/``p`` expansion / projection kernel (``a1.1``: grouped, mixed); for ``uir`` the start /
           end depthwise kernels
``e``      expansion ratio
``se``     squeeze-excite ratio
``n``      activation override: ``nre`` relu, ``nr6`` relu6, ``nhs`` hard-swish, ``nsw`` swish,
           ``nmi`` mish
``noskip`` / ``skip``  force the residual off / on (``cn`` blocks have none unless ``skip``)
``d``      ``ir``/``ds``: space-to-depth stem (1); ``mqa``/``mha``: key/value dim
``h``      attention heads, ``v`` key/value stride
``fc``     forced input width for the expansion of an ``er`` block
``cc``     CondConv experts, ``gs`` group size of the depthwise convs
=========  ==================================================================================

Depth scaling (``depth_multiplier``, ``depth_trunc``) and channel rounding (``round_channels``)
follow the EfficientNet reference, so scaled variants get the published layer counts and widths.
"""

from __future__ import annotations

import copy
import inspect
import math
import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, cast

from torch import nn

from ..layers import create_conv2d, get_norm_act_layer
from ..layers.activations import LayerType, get_act_layer
from ..layers.attention2d import MultiQueryAttention2d
from ..layers.cond_conv2d import CondConv2d
from ..layers.helpers import make_divisible
from ..model import VisionModel
from ..pretrained import (
    HUGGINGFACE_RELEASES,
    IMAGENET_INCEPTION_MEAN,
    IMAGENET_INCEPTION_STD,
    RWIGHTMAN_RELEASES,
    weight,
)
from ._efficientnet_blocks import (
    CondConvResidual,
    ConvBnAct,
    DepthwiseSeparableConv,
    EdgeResidual,
    InvertedResidual,
    MobileAttention,
    SqueezeExcite,
    UniversalInvertedResidual,
)

__all__ = [
    "BN_EPS_TF_DEFAULT",
    "BN_MOMENTUM_TF_DEFAULT",
    "CFG_DEFAULTS",
    "HF_WEIGHTS",
    "INCEPTION_NORM",
    "RW_TRESNET",
    "RW_WEIGHTS",
    "BlockArgs",
    "EfficientNetBuilder",
    "build_trunk",
    "decode_arch_def",
    "decode_block_str",
    "efficientnet_init_weights",
    "effnet_weight",
    "round_channels",
]

BN_MOMENTUM_TF_DEFAULT = 1 - 0.99
BN_EPS_TF_DEFAULT = 1e-3  # TensorFlow's BN epsilon, which the tf_ ports need

BlockArgs = list[list[dict[str, Any]]]
ArchDef = Sequence[Sequence[str]]

BLOCK_TYPES = ("ir", "ds", "dsa", "er", "cn", "uir", "mqa", "mha")
_ACTS = {"re": "relu", "r6": "relu6", "hs": "hard_swish", "sw": "swish", "mi": "mish"}
_OPTIONS = {"r", "k", "s", "e", "c", "se", "a", "p", "fc", "cc", "d", "h", "v", "gs"}
_OPTION = re.compile(r"([a-z]+)(\d.*)")


def round_channels(
    channels: int,
    multiplier: float = 1.0,
    divisor: int = 8,
    channel_min: int | None = None,
    round_limit: float = 0.9,
) -> int:
    """``channels * multiplier`` rounded to a multiple of ``divisor`` (unchanged for multiplier 0)."""
    if not multiplier:
        return channels
    return make_divisible(channels * multiplier, divisor, channel_min, round_limit=round_limit)


def _kernel(value: str) -> int | list[int]:
    return int(value) if value.isdigit() else [int(k) for k in value.split(".")]


def decode_block_str(block_str: str) -> tuple[dict[str, Any], int]:
    """One block string -> ``(block kwargs, repeats)``; see the module docstring for the syntax.

    Raises:
        ValueError: an unknown block type, option or activation, or a missing required option.
    """
    if not isinstance(block_str, str) or not block_str:
        raise ValueError(f"a block string must be a non-empty str, got {block_str!r}")
    block_type, *ops = block_str.split("_")
    if block_type not in BLOCK_TYPES:
        raise ValueError(
            f"unknown block type {block_type!r} in {block_str!r}; valid: {', '.join(BLOCK_TYPES)}"
        )
    opts: dict[str, str] = {}
    skip: bool | None = None
    act_layer = None
    for op in ops:
        if op in ("noskip", "skip"):
            skip = op == "skip"
        elif op.startswith("n"):
            if op[1:] not in _ACTS:
                raise ValueError(
                    f"unknown activation {op!r} in {block_str!r}; valid: "
                    + ", ".join(f"n{k} ({v})" for k, v in _ACTS.items())
                )
            act_layer = get_act_layer(_ACTS[op[1:]])
        else:
            m = _OPTION.fullmatch(op)
            if m is None or m.group(1) not in _OPTIONS:
                raise ValueError(f"unknown option {op!r} in {block_str!r}; valid keys: {sorted(_OPTIONS)}")
            opts[m.group(1)] = m.group(2)
    required = ("r", "c", "s") + (() if block_type in ("uir",) else ("k",))
    if block_type in ("mqa", "mha"):
        required += ("h", "d")
    missing = [k for k in required if k not in opts]
    if missing:
        raise ValueError(f"block string {block_str!r} lacks option(s) {missing}")

    args: dict[str, Any] = dict(
        block_type=block_type, out_chs=int(opts["c"]), stride=int(opts["s"]), act_layer=act_layer
    )
    noskip = skip is False
    se_ratio = float(opts.get("se", 0.0))
    if block_type == "ir":
        args.update(
            dw_kernel_size=_kernel(opts["k"]),
            exp_kernel_size=_kernel(opts.get("a", "1")),
            pw_kernel_size=_kernel(opts.get("p", "1")),
            exp_ratio=float(opts["e"]),
            se_ratio=se_ratio,
            noskip=noskip,
            s2d=int(opts.get("d", 0)) > 0,
        )
        if "cc" in opts:
            args["num_experts"] = int(opts["cc"])
    elif block_type in ("ds", "dsa"):
        args.update(
            dw_kernel_size=_kernel(opts["k"]),
            pw_kernel_size=_kernel(opts.get("p", "1")),
            se_ratio=se_ratio,
            pw_act=block_type == "dsa",
            noskip=block_type == "dsa" or noskip,
            s2d=int(opts.get("d", 0)) > 0,
        )
    elif block_type == "er":
        args.update(
            exp_kernel_size=_kernel(opts["k"]),
            pw_kernel_size=_kernel(opts.get("p", "1")),
            exp_ratio=float(opts["e"]),
            force_in_chs=int(opts.get("fc", 0)),
            se_ratio=se_ratio,
            noskip=noskip,
        )
    elif block_type == "cn":
        args.update(kernel_size=int(opts["k"]), skip=skip is True)
    elif block_type == "uir":
        args.update(
            dw_kernel_size_start=_kernel(opts.get("a", "0")),
            dw_kernel_size_mid=_kernel(opts["k"]),
            dw_kernel_size_end=_kernel(opts.get("p", "0")),
            exp_ratio=float(opts["e"]),
            se_ratio=se_ratio,
            noskip=noskip,
        )
    else:  # mqa / mha
        kv_dim = int(opts["d"])
        args.update(
            dw_kernel_size=_kernel(opts["k"]),
            num_heads=int(opts["h"]),
            key_dim=kv_dim,
            value_dim=kv_dim,
            kv_stride=int(opts.get("v", 1)),
            noskip=noskip,
        )
    if "gs" in opts:
        args["group_size"] = int(opts["gs"])
    return args, int(opts["r"])


def _scale_stage_depth(
    stage: list[dict[str, Any]], repeats: list[int], depth_multiplier: float, depth_trunc: str
) -> list[dict[str, Any]]:
    """Scale a stage's total repeats, then share them out over its block strings from the last
    one back (the EfficientNet reference's order, which decides where rounding lands)."""
    total = sum(repeats)
    if depth_trunc == "round":
        scaled = max(1, round(total * depth_multiplier))
    elif depth_trunc == "ceil":
        scaled = math.ceil(total * depth_multiplier)
    else:
        raise ValueError(f"depth_trunc must be 'ceil' or 'round', got {depth_trunc!r}")
    out_repeats = []
    for r in reversed(repeats):
        rs = max(1, round(r / total * scaled))
        out_repeats.append(rs)
        total -= r
        scaled -= rs
    blocks: list[dict[str, Any]] = []
    for args, rep in zip(stage, reversed(out_repeats)):
        blocks.extend(copy.deepcopy(args) for _ in range(rep))
    return blocks


def decode_arch_def(
    arch_def: ArchDef,
    depth_multiplier: float | Sequence[float] = 1.0,
    depth_trunc: str = "ceil",
    experts_multiplier: int = 1,
    fix_first_last: bool = False,
    group_size: int | None = None,
) -> BlockArgs:
    """Stages of block strings -> stages of block kwargs, one dict per (repeated) block.

    Args:
        arch_def: a list of stages, each a list of block strings.
        depth_multiplier: repeats multiplier, one for all stages or one per stage.
        depth_trunc: ``'ceil'`` (EfficientNet) or ``'round'`` (MixNet, TinyNet) for scaled repeats.
        experts_multiplier: multiplies the CondConv expert count of ``cc`` blocks.
        fix_first_last: leave the first and last stage unscaled (EfficientNet-Lite, MobileNetV2 d).
        group_size: group size for blocks whose string sets none.
    """
    if isinstance(arch_def, str) or not all(
        isinstance(s, Sequence) and not isinstance(s, str) for s in arch_def
    ):
        raise TypeError(f"arch_def must be a list of stages, each a list of block strings, got {arch_def!r}")
    if isinstance(depth_multiplier, (int, float)):
        multipliers: Sequence[float] = (depth_multiplier,) * len(arch_def)
    elif len(depth_multiplier) != len(arch_def):
        raise ValueError(f"depth_multiplier has {len(depth_multiplier)} entries for {len(arch_def)} stages")
    else:
        multipliers = depth_multiplier
    stages = []
    for i, (strings, mult) in enumerate(zip(arch_def, multipliers)):
        stage, repeats = [], []
        for s in strings:
            args, rep = decode_block_str(s)
            if args.get("num_experts", 0) > 0 and experts_multiplier > 1:
                args["num_experts"] *= experts_multiplier
            if group_size is not None:
                args.setdefault("group_size", group_size)
            stage.append(args)
            repeats.append(rep)
        fixed = fix_first_last and i in (0, len(arch_def) - 1)
        stages.append(_scale_stage_depth(stage, repeats, 1.0 if fixed else mult, depth_trunc))
    return stages


def _takes_rd_ratio(layer: Callable[..., nn.Module]) -> bool:
    try:
        inspect.signature(layer).bind(8, rd_ratio=1.0)
    except TypeError:
        return False
    return True


class EfficientNetBuilder:
    """Builds the stages from decoded block args; records ``features`` (the feature taps).

    Args:
        output_stride: 32, 16 or 8; later strides turn into dilation.
        pad_type: ``''`` or ``'same'`` (TF ports).
        round_chs_fn: scales and rounds each block's ``out_chs``.
        se_from_exp: size SE from the expanded width (MobileNetV3) instead of the block input.
        feature_location: ``'bottleneck'`` (stage outputs) or ``'expansion'`` (expanded width of
            each stage's last block).
        layer_scale_init_value: LayerScale init for ``uir`` / attention blocks (None: none).
    """

    def __init__(
        self,
        output_stride: int = 32,
        pad_type: str = "",
        round_chs_fn: Callable[[int], int] = round_channels,
        se_from_exp: bool = False,
        act_layer: LayerType | None = None,
        norm_layer: LayerType | None = None,
        aa_layer: LayerType | None = None,
        se_layer: Callable[..., nn.Module] | None = None,
        drop_path_rate: float = 0.0,
        layer_scale_init_value: float | None = None,
        feature_location: str = "",
    ) -> None:
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")
        if feature_location == "depthwise":  # the older name
            feature_location = "expansion"
        if feature_location not in ("bottleneck", "expansion", ""):
            raise ValueError(
                f"feature_location must be 'bottleneck' or 'expansion', got {feature_location!r}"
            )
        self.output_stride = output_stride
        self.pad_type = pad_type
        self.round_chs_fn = round_chs_fn
        self.se_from_exp = se_from_exp
        self.act_layer = act_layer
        self.norm_layer = norm_layer
        self.aa_layer = aa_layer
        self.se_layer = se_layer
        self.se_has_ratio = se_layer is not None and _takes_rd_ratio(se_layer)
        self.drop_path_rate = drop_path_rate
        self.layer_scale_init_value = layer_scale_init_value
        self.feature_location = feature_location
        self.in_chs = 0
        self.features: list[dict[str, Any]] = []

    def _make_block(self, ba: dict[str, Any], block_idx: int, block_count: int) -> nn.Module:
        bt = ba.pop("block_type")
        ba["in_chs"] = self.in_chs
        ba["out_chs"] = self.round_chs_fn(ba["out_chs"])
        s2d = ba.get("s2d", 0)
        if s2d > 0:
            ba["out_chs"] *= 4
        if ba.get("force_in_chs"):
            ba["force_in_chs"] = self.round_chs_fn(ba["force_in_chs"])
        ba["pad_type"] = self.pad_type
        ba["act_layer"] = ba["act_layer"] if ba["act_layer"] is not None else self.act_layer
        ba["norm_layer"] = self.norm_layer
        ba["drop_path_rate"] = self.drop_path_rate * block_idx / block_count
        if self.aa_layer is not None:
            ba["aa_layer"] = self.aa_layer
        se_ratio = ba.pop("se_ratio", None)
        if se_ratio and self.se_layer is not None:
            if not self.se_from_exp:
                se_ratio /= ba.get("exp_ratio", 1.0)
            if s2d == 1:
                se_ratio /= 4
            ba["se_layer"] = partial(self.se_layer, rd_ratio=se_ratio) if self.se_has_ratio else self.se_layer
        if bt == "ir":
            block: nn.Module = CondConvResidual(**ba) if ba.get("num_experts", 0) else InvertedResidual(**ba)
        elif bt in ("ds", "dsa"):
            block = DepthwiseSeparableConv(**ba)
        elif bt == "er":
            block = EdgeResidual(**ba)
        elif bt == "cn":
            block = ConvBnAct(**ba)
        elif bt == "uir":
            block = UniversalInvertedResidual(**ba, layer_scale_init_value=self.layer_scale_init_value)
        elif bt in ("mqa", "mha"):
            block = MobileAttention(
                **ba, use_multi_query=bt == "mqa", layer_scale_init_value=self.layer_scale_init_value
            )
        else:
            raise ValueError(f"unknown block type {bt!r}; valid: {', '.join(BLOCK_TYPES)}")
        self.in_chs = ba["out_chs"]
        return block

    def __call__(self, in_chs: int, model_block_args: BlockArgs) -> list[nn.Sequential]:
        """Build the stages (one ``nn.Sequential`` each) from ``in_chs`` input channels."""
        model_block_args = copy.deepcopy(model_block_args)  # the builder consumes its dicts
        self.in_chs = in_chs
        total = sum(len(s) for s in model_block_args)
        block_idx = 0
        current_stride = 2
        current_dilation = 1
        stages = []
        first = model_block_args[0][0]
        if first["stride"] > 1 or first.get("s2d", False):
            self.features.append(dict(module="bn1", num_chs=in_chs, stage=0, reduction=current_stride))
        space2depth = 0
        for stage_idx, stage_args in enumerate(model_block_args):
            blocks = []
            for i, ba in enumerate(stage_args):
                last_block = i + 1 == len(stage_args)
                if ba["stride"] not in (1, 2):
                    raise ValueError(f"block stride must be 1 or 2, got {ba['stride']!r}")
                if i >= 1:  # only a stage's first block strides
                    ba["stride"] = 1
                if not space2depth and ba.pop("s2d", False):
                    space2depth = 1
                    current_stride *= 2  # the space-to-depth conv halves the resolution
                if space2depth > 0:
                    if space2depth == 2 and ba["stride"] == 2:
                        ba["stride"] = 1
                        ba["exp_ratio"] /= 4
                        space2depth = 0
                    else:
                        ba["s2d"] = space2depth
                extract = False
                if last_block:
                    nxt = stage_idx + 1
                    extract = nxt >= len(model_block_args) or (
                        model_block_args[nxt][0]["stride"] > 1 and not space2depth
                    )
                next_dilation = current_dilation
                if ba["stride"] > 1:
                    next_stride = current_stride * ba["stride"]
                    if next_stride > self.output_stride:
                        next_dilation = current_dilation * ba["stride"]
                        ba["stride"] = 1
                    else:
                        current_stride = next_stride
                ba["dilation"] = current_dilation
                current_dilation = next_dilation
                block = self._make_block(ba, block_idx, total)
                blocks.append(block)
                if space2depth == 1:
                    space2depth = 2
                if extract:
                    info = dict(
                        stage=stage_idx + 1,
                        reduction=current_stride,
                        **block.feature_info(self.feature_location),  # type: ignore[operator]
                    )
                    leaf = info.get("module", "")
                    info["module"] = f"blocks.{stage_idx}.{i}.{leaf}" if leaf else f"blocks.{stage_idx}"
                    self.features.append(info)
                block_idx += 1
            stages.append(nn.Sequential(*blocks))
        return stages


def _init_goog(module: nn.Module, name: str = "", fix_group_fanout: bool = True) -> None:
    """TensorFlow-reference init: conv weights N(0, sqrt(2 / fan_out)), uniform linear layers."""
    if isinstance(module, CondConv2d):
        fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
        if fix_group_fanout:
            fan_out //= module.groups
        for i in range(module.num_experts):
            nn.init.normal_(module.weight[i].view(module.weight_shape), 0, math.sqrt(2.0 / fan_out))
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Conv2d):
        fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels
        if fix_group_fanout:
            fan_out //= module.groups
        nn.init.normal_(module.weight, 0, math.sqrt(2.0 / fan_out))
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Linear):
        fan_in = module.weight.size(1) if "routing_fn" in name else 0
        bound = 1.0 / math.sqrt(fan_in + module.weight.size(0))
        nn.init.uniform_(module.weight, -bound, bound)
        nn.init.zeros_(module.bias)


def efficientnet_init_weights(model: nn.Module) -> None:
    """Initialise every layer of ``model`` as the TensorFlow reference does."""
    for name, module in model.named_modules():
        _init_goog(module, name)
    for module in model.modules():
        if isinstance(module, MultiQueryAttention2d):  # attention projections keep their own init
            module.reset_parameters()


# --- helpers for the model classes ----------------------------------------------------------------
def resolve_norm_layer(
    norm_layer: LayerType | None, bn_eps: float | None = None, bn_momentum: float | None = None
) -> LayerType:
    """BatchNorm with the given epsilon / momentum, unless another ``norm_layer`` is given."""
    if norm_layer is not None:
        return norm_layer
    kwargs: dict[str, Any] = {k: v for k, v in (("eps", bn_eps), ("momentum", bn_momentum)) if v is not None}
    return partial(nn.BatchNorm2d, **kwargs) if kwargs else nn.BatchNorm2d


def build_trunk(
    model: VisionModel,
    stages: BlockArgs,
    *,
    in_chans: int,
    stem_size: int,
    fix_stem: bool,
    round_chs_fn: Callable[[int], int],
    act_layer: LayerType | None,
    norm_layer: LayerType | None,
    bn_eps: float | None,
    bn_momentum: float | None,
    pad_type: str,
    se_layer: Callable[..., nn.Module] | None,
    stem_kernel_size: int = 3,
    **builder_kwargs: Any,
) -> tuple[int, Callable[..., nn.Module], Callable[..., nn.Module]]:
    """The trunk both families build: ``conv_stem`` + ``bn1`` (``stem_size`` rounded unless
    ``fix_stem``), then ``blocks`` from :class:`EfficientNetBuilder` (``builder_kwargs`` are its
    options), with ``feature_info`` and ``stage_ends``, all set on ``model``.

    Returns:
        ``(width out of the last stage, act layer, norm-act layer)``, for the family's head.
    """
    act = get_act_layer(act_layer or nn.ReLU)
    norm = resolve_norm_layer(norm_layer, bn_eps, bn_momentum)
    norm_act = get_norm_act_layer(norm, act)
    if act is None or norm_act is None:
        raise ValueError(f"an act_layer and a norm_layer are needed, got {act_layer!r}, {norm_layer!r}")
    if not fix_stem:
        stem_size = round_chs_fn(stem_size)
    model.conv_stem = create_conv2d(in_chans, stem_size, stem_kernel_size, stride=2, padding=pad_type)
    model.bn1 = norm_act(stem_size, inplace=True)
    builder = EfficientNetBuilder(
        pad_type=pad_type,
        round_chs_fn=round_chs_fn,
        act_layer=act,
        norm_layer=norm,
        se_layer=se_layer or SqueezeExcite,
        **builder_kwargs,
    )
    model.blocks = nn.Sequential(*builder(stem_size, stages))
    model.feature_info = builder.features
    model.stage_ends = [f["stage"] for f in builder.features]  # type: ignore[assignment]  # timm's name
    return builder.in_chs, act, norm_act


def resolve_block_args(
    block_args: ArchDef | BlockArgs,
    *,
    depth_multiplier: float | Sequence[float] = 1.0,
    depth_trunc: str = "ceil",
    experts_multiplier: int = 1,
    fix_first_last: bool = False,
    group_size: int | None = None,
) -> BlockArgs:
    """Decoded block args as given, or decode block strings with the depth options."""
    if not block_args or not block_args[0]:
        raise ValueError("block_args must hold at least one stage with one block")
    if isinstance(block_args[0][0], str):
        return decode_arch_def(
            block_args,  # type: ignore[arg-type]
            depth_multiplier,
            depth_trunc,
            experts_multiplier=experts_multiplier,
            fix_first_last=fix_first_last,
            group_size=group_size,
        )
    return [list(cast(Sequence[dict[str, Any]], stage)) for stage in block_args]


# features_only for both families: the taps sit inside ``blocks``; the hook wrapper keeps timm's
# backbone layout (``conv_stem``, ``bn1``, ``blocks.*``), so timm features-only checkpoints load as is.
FEATURE_CFG = dict(feature_cls="hook", no_rewrite=False)

# The weight tables of both families: what their configs share, an entry whose ``size=`` also sets
# the final pool size (the trunk reduces by 32), and the release folders their URLs start with.
CFG_DEFAULTS: dict[str, Any] = dict(
    first_conv="conv_stem", classifier="classifier", pool_size=(7, 7), license="apache-2.0"
)
effnet_weight = partial(weight, pool_reduction=32)
RW_WEIGHTS = RWIGHTMAN_RELEASES + "v0.1-weights/"
RW_TRESNET = RWIGHTMAN_RELEASES + "v0.1-tresnet/"
HF_WEIGHTS = HUGGINGFACE_RELEASES + "v0.1-weights/"
INCEPTION_NORM: dict[str, Any] = dict(mean=IMAGENET_INCEPTION_MEAN, std=IMAGENET_INCEPTION_STD)
