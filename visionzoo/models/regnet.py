"""RegNet X / Y / Z (and timm's pre-activation RegNet-V): ResNet-like networks whose stage widths
and depths come from a quantised linear rule of four parameters.

Papers:
* `Designing Network Design Spaces` - https://arxiv.org/abs/2003.13678
* `Fast and Accurate Model Scaling` (RegNet-Z) - https://arxiv.org/abs/2103.06877
* `Self-supervised Pretraining of Visual Features in the Wild` (SEER) - https://arxiv.org/abs/2103.01988
* `Revisiting Weakly Supervised Pre-Training of Visual Perception Models` (SWAG)
  - https://arxiv.org/abs/2201.08371

Weights: each tag's ``license`` field gives its terms: MIT for pycls' (``pycls_in1k``),
BSD-3-Clause for torchvision's (``tv2_in1k``), CC-BY-NC-4.0 for SWAG, the SEER license for
``seer*``, Apache-2.0 for timm's. Module names follow timm's RegNet (``stem``, ``s1..s4.bN``), so
timm checkpoints load unchanged; torchvision, pycls and classy-vision / VISSL checkpoints through
:func:`checkpoint_filter_fn`.
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
from torch import nn

from ..layers import (
    AvgPool2dSame,
    ClassifierHead,
    ConvNormAct,
    DropPath,
    GroupNormAct,
    LayerType,
    SEModule,
    act_or_identity,
    create_conv2d,
    get_act_layer,
    get_norm_act_layer,
    make_divisible,
)
from ..model import Trunk, VisionModel
from ..pretrained import HUGGINGFACE_RELEASES, NO_WEIGHTS, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "Bottleneck",
    "PreBottleneck",
    "RegNet",
    "RegNetCfg",
    "RegStage",
    "adjust_widths_groups_comp",
    "checkpoint_filter_fn",
    "create_shortcut",
    "downsample_avg",
    "downsample_conv",
    "generate_regnet",
    "quantize_float",
    "regnet_stages",
]

_DOWNSAMPLE_TYPES = ("conv1x1", "avg", "", None)


# --- the width / depth generator ------------------------------------------------------------------
def regnet_stages(
    *,
    w0: int,
    wa: float,
    wm: float,
    depth: int,
    group_size: int,
    bottle_ratio: float = 1.0,
    group_min_ratio: float = 0.0,
    quant: int = 8,
) -> tuple[list[int], list[int], list[int]]:
    """Per-stage ``(widths, depths, group sizes)`` of the RegNet defined by ``w0, wa, wm, depth``.

    Block ``j`` gets the linear width ``u_j = w0 + wa * j``, which is snapped to the geometric grid
    ``w0 * wm**s`` (``s = round(log(u_j / w0) / log(wm))``) and rounded to a multiple of
    ``quant``; consecutive blocks of equal width form a stage. Each stage's group size is then
    capped at its bottleneck width and the bottleneck width rounded to a multiple of it (to the
    nearest multiple, or with ``group_min_ratio`` torchvision's rounding that never drops below
    that fraction), which can nudge the stage width.

    Args:
        w0: initial width (a multiple of ``quant``).
        wa: slope (width added per block, >= 0).
        wm: width multiplier between stages (> 1).
        depth: total number of blocks.
        group_size: channels per group of the 3x3 conv.
        bottle_ratio: bottleneck width / stage width.
        group_min_ratio: 0 for pycls' rounding, else torchvision's ``make_divisible`` limit.

    Returns:
        Three lists with one entry per stage.
    """
    if depth < 1:
        raise ValueError(f"RegNet depth must be >= 1, got {depth}")
    widths, _, _ = generate_regnet(wa, w0, wm, depth, group_size, quant)
    stage_widths = sorted(set(widths))
    depths = [widths.count(w) for w in stage_widths]
    ratios = [bottle_ratio] * len(stage_widths)
    groups = [group_size] * len(stage_widths)
    out_widths, groups = adjust_widths_groups_comp(stage_widths, ratios, groups, group_min_ratio)
    return out_widths, depths, groups


def quantize_float(f: float, q: int) -> int:
    """``f`` rounded to the nearest multiple of ``q`` (timm's helper)."""
    return int(round(f / q) * q)


def adjust_widths_groups_comp(
    widths: Sequence[int], bottle_ratios: Sequence[float], groups: Sequence[int], min_ratio: float = 0.0
) -> tuple[list[int], list[int]]:
    """Per-stage ``(widths, group sizes)`` made compatible: each group size capped at its
    bottleneck width, which is rounded to a multiple of it (nearest, or with ``min_ratio``
    torchvision's rounding that never drops below that fraction), nudging the stage width."""
    bottlenecks = [int(w * b) for w, b in zip(widths, bottle_ratios, strict=True)]
    groups = [min(g, b) for g, b in zip(groups, bottlenecks, strict=True)]
    if min_ratio:
        bottlenecks = [make_divisible(b, g, round_limit=min_ratio) for b, g in zip(bottlenecks, groups)]
    else:
        bottlenecks = [quantize_float(b, g) for b, g in zip(bottlenecks, groups)]
    return [int(b / r) for b, r in zip(bottlenecks, bottle_ratios)], groups


def generate_regnet(
    width_slope: float, width_initial: int, width_mult: float, depth: int, group_size: int, quant: int = 8
) -> tuple[list[int], int, list[int]]:
    """Per-block widths of the RegNet ``(wa, w0, wm, depth)``, its number of stages, and a group
    size per stage (timm's helper; :func:`regnet_stages` groups them into stages).

    Returns:
        ``(widths, num_stages, groups)``.
    """
    if width_slope < 0 or width_initial <= 0 or width_mult <= 1 or width_initial % quant:
        raise ValueError(
            f"RegNet needs wa >= 0, wm > 1 and w0 > 0 a multiple of {quant}; "
            f"got w0={width_initial}, wa={width_slope}, wm={width_mult}"
        )
    # NOTE: float32 arithmetic, as the reference: a few published configs sit on rounding edges
    block = torch.arange(depth, dtype=torch.float32, device="cpu") * width_slope + width_initial
    steps = torch.round(torch.log(block / width_initial) / math.log(width_mult))
    widths = (torch.round(width_initial * torch.pow(width_mult, steps) / quant) * quant).int().tolist()
    num_stages = len(set(widths))
    return widths, num_stages, [group_size] * num_stages


# --- blocks ---------------------------------------------------------------------------------------
def downsample_conv(
    in_chs: int,
    out_chs: int,
    kernel_size: int = 1,
    stride: int = 1,
    dilation: int = 1,
    norm_layer: LayerType | None = None,
    preact: bool = False,
) -> nn.Module:
    """A strided conv shortcut (its norm unless ``preact``); timm's signature."""
    kernel_size = 1 if stride == 1 and dilation == 1 else kernel_size
    dilation = dilation if kernel_size > 1 else 1
    if preact:
        return create_conv2d(in_chs, out_chs, kernel_size, stride=stride, dilation=dilation)
    return ConvNormAct(
        in_chs,
        out_chs,
        kernel_size,
        stride=stride,
        dilation=dilation,
        norm_layer=norm_layer or nn.BatchNorm2d,
        apply_act=False,
    )


def downsample_avg(
    in_chs: int,
    out_chs: int,
    kernel_size: int = 1,
    stride: int = 1,
    dilation: int = 1,
    norm_layer: LayerType | None = None,
    preact: bool = False,
) -> nn.Sequential:
    """Avg-pool then a 1x1 conv shortcut, as ResNet-D's (``kernel_size`` unused: timm's signature)."""
    pool_stride = stride if dilation == 1 else 1
    pool: nn.Module = nn.Identity()
    if stride > 1 or dilation > 1:
        pool_cls = AvgPool2dSame if pool_stride == 1 and dilation > 1 else nn.AvgPool2d
        pool = pool_cls(2, pool_stride, ceil_mode=True, count_include_pad=False)
    return nn.Sequential(pool, downsample_conv(in_chs, out_chs, 1, norm_layer=norm_layer, preact=preact))


def create_shortcut(
    downsample_type: str | None,
    in_chs: int,
    out_chs: int,
    kernel_size: int,
    stride: int,
    dilation: tuple[int, int] = (1, 1),
    norm_layer: LayerType | None = None,
    preact: bool = False,
) -> nn.Module | None:
    """Identity when shapes match; else a conv (``conv1x1``), avg-pool + 1x1 conv (``avg``), or
    None: no residual at all (``''`` / None, as RegNet-Z's resampling blocks)."""
    if downsample_type not in _DOWNSAMPLE_TYPES:
        raise ValueError(f"downsample_type must be one of {_DOWNSAMPLE_TYPES}, got {downsample_type!r}")
    if in_chs == out_chs and stride == 1 and dilation[0] == dilation[1]:
        return nn.Identity()
    if not downsample_type:
        return None
    make = downsample_avg if downsample_type == "avg" else downsample_conv
    return make(in_chs, out_chs, kernel_size, stride, dilation[0], norm_layer=norm_layer, preact=preact)


class Bottleneck(nn.Module):
    """1x1 conv -> grouped 3x3 conv (stride) -> SE -> 1x1 conv, each with norm(-act); the residual
    is added before the last activation (none with ``linear_out``).

    Unlike ResNet's, the SE sits after the 3x3 conv and its width comes from the block input.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        stride: int = 1,
        dilation: tuple[int, int] = (1, 1),
        bottle_ratio: float = 1.0,
        group_size: int = 1,
        se_ratio: float = 0.25,
        downsample: str | None = "conv1x1",
        linear_out: bool = False,
        act_layer: LayerType = "relu",
        norm_layer: LayerType = "batchnorm2d",
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        mid = round(out_chs * bottle_ratio)
        common: dict[str, Any] = dict(act_layer=act_layer, norm_layer=norm_layer)
        self.conv1 = ConvNormAct(in_chs, mid, 1, **common)
        self.conv2 = ConvNormAct(
            mid, mid, 3, stride, dilation=dilation[0], groups=mid // group_size, **common
        )
        self.se: nn.Module = (
            SEModule(mid, rd_channels=round(in_chs * se_ratio), act_layer=act_layer)
            if se_ratio
            else nn.Identity()
        )
        self.conv3 = ConvNormAct(mid, out_chs, 1, apply_act=False, **common)
        self.act3 = nn.Identity() if linear_out else act_or_identity(act_layer)
        # NOTE: named `downsample` for checkpoint compatibility; it is the shortcut (None: none)
        self.downsample = create_shortcut(
            downsample, in_chs, out_chs, 1, stride, dilation, norm_layer=norm_layer, preact=False
        )
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()

    def zero_init_last(self) -> None:
        nn.init.zeros_(self.conv3.bn.get_parameter("weight"))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.conv3(self.se(self.conv2(self.conv1(x))))
        if self.downsample is not None:
            x = self.drop_path(x) + self.downsample(shortcut)
        return self.act3(x)


class PreBottleneck(nn.Module):
    """Pre-activation bottleneck (RegNet-V): norm-act before each conv, no activation after the
    sum; the shortcut branches off after the first norm-act."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        stride: int = 1,
        dilation: tuple[int, int] = (1, 1),
        bottle_ratio: float = 1.0,
        group_size: int = 1,
        se_ratio: float = 0.25,
        downsample: str | None = "conv1x1",
        linear_out: bool = False,
        act_layer: LayerType = "relu",
        norm_layer: LayerType = "batchnorm2d",
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        norm_act = get_norm_act_layer(norm_layer, act_layer)
        assert norm_act is not None
        mid = round(out_chs * bottle_ratio)
        self.norm1 = norm_act(in_chs)
        self.conv1 = create_conv2d(in_chs, mid, 1)
        self.norm2 = norm_act(mid)
        self.conv2 = create_conv2d(mid, mid, 3, stride=stride, dilation=dilation[0], groups=mid // group_size)
        self.se: nn.Module = (
            SEModule(mid, rd_channels=round(in_chs * se_ratio), act_layer=act_layer)
            if se_ratio
            else nn.Identity()
        )
        self.norm3 = norm_act(mid)
        self.conv3 = create_conv2d(mid, out_chs, 1)
        self.downsample = create_shortcut(
            downsample, in_chs, out_chs, 1, stride, dilation, norm_layer=norm_layer, preact=True
        )
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()

    def zero_init_last(self) -> None:
        """Nothing to zero: the block ends in a conv."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm1(x)
        shortcut = x
        x = self.conv2(self.norm2(self.conv1(x)))
        x = self.conv3(self.norm3(self.se(x)))
        if self.downsample is not None:
            x = self.drop_path(x) + self.downsample(shortcut)
        return x


class RegStage(nn.Module):
    """``depth`` blocks named ``b1..bN``; the first one strides (or dilates)."""

    def __init__(
        self,
        depth: int,
        in_chs: int,
        out_chs: int,
        *,
        stride: int,
        dilation: int,
        drop_path_rates: Sequence[float],
        block_fn: Callable[..., nn.Module],
        **block_kwargs: Any,
    ) -> None:
        super().__init__()
        first_dilation = 1 if dilation in (1, 2) else 2
        for i in range(depth):
            block = block_fn(
                in_chs if i == 0 else out_chs,
                out_chs,
                stride=stride if i == 0 else 1,
                dilation=(first_dilation if i == 0 else dilation, dilation),
                drop_path_rate=drop_path_rates[i],
                **block_kwargs,
            )
            self.add_module(f"b{i + 1}", block)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.children():
            x = block(x)
        return x


# --- model ----------------------------------------------------------------------------------------
@dataclasses.dataclass
class RegNetCfg:
    """timm's record of a RegNet's design (the :class:`RegNet` arguments of the same names);
    ``RegNet(cfg)`` builds it."""

    depth: int = 21
    w0: int = 80
    wa: float = 42.63
    wm: float = 2.66
    group_size: int = 24
    bottle_ratio: float = 1.0
    se_ratio: float = 0.0
    group_min_ratio: float = 0.0
    stem_width: int = 32
    downsample: str | None = "conv1x1"
    linear_out: bool = False
    preact: bool = False
    num_features: int = 0
    act_layer: LayerType = "relu"
    norm_layer: LayerType = "batchnorm"


class RegNet(VisionModel):
    """RegNet: a stride-2 3x3 stem, four stages from :func:`regnet_stages`, an optional 1x1 conv
    to ``num_features`` channels, and a pool -> fc head.

    Args:
        w0, wa, wm, depth, group_size, bottle_ratio, group_min_ratio: the design-space parameters
            (see :func:`regnet_stages`).
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
        output_stride: 32, 16 or 8; the later stages dilate instead of striding.
        se_ratio: squeeze-excitation width / block input width (0: no SE, RegNet-X).
        stem_width: stem channels.
        downsample: shortcut on resampling blocks: ``conv1x1``, ``avg``, or ``''`` / None (none).
        linear_out: no activation after the residual sum.
        preact: pre-activation blocks (RegNet-V).
        num_features: a final 1x1 conv to this width (0: none).
        act_layer, norm_layer: activation and norm.
        drop_rate: dropout before the classifier.
        drop_path_rate: stochastic depth, rising linearly to this over the blocks.
        zero_init_last: zero the last norm of each residual branch at init.
    """

    # a final conv widens the features for the head: it goes with it (an activation stays)
    trunk = Trunk(
        stem=("stem",), stages=("s*",), post=("final_conv",), checkpoint="block", prune_post=("norm", "head")
    )
    classifier_name = "head.fc"

    def __init__(
        self,
        cfg: RegNetCfg | None = None,
        *,
        w0: int = 80,
        wa: float = 42.63,
        wm: float = 2.66,
        depth: int = 21,
        group_size: int = 24,
        bottle_ratio: float = 1.0,
        group_min_ratio: float = 0.0,
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "avg",
        output_stride: int = 32,
        se_ratio: float = 0.0,
        stem_width: int = 32,
        downsample: str | None = "conv1x1",
        linear_out: bool = False,
        preact: bool = False,
        num_features: int = 0,
        act_layer: LayerType = "relu",
        norm_layer: LayerType = "batchnorm2d",
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        zero_init_last: bool = True,
    ) -> None:
        if cfg is not None:  # timm's call: the cfg's design, a keyword given here overriding it
            if not isinstance(cfg, RegNetCfg):
                raise TypeError(f"cfg must be a RegNetCfg, got {cfg!r}")
            given = {k: v for k, v in locals().items() if k in _ARG_DEFAULTS}
            changed = {k: v for k, v in given.items() if v != _ARG_DEFAULTS[k]}
            RegNet.__init__(self, **{**given, **dataclasses.asdict(cfg), **changed})
            return
        super().__init__()
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")
        if downsample not in _DOWNSAMPLE_TYPES:
            raise ValueError(f"downsample must be one of {_DOWNSAMPLE_TYPES}, got {downsample!r}")
        widths, depths, groups = regnet_stages(
            w0=w0,
            wa=wa,
            wm=wm,
            depth=depth,
            group_size=group_size,
            bottle_ratio=bottle_ratio,
            group_min_ratio=group_min_ratio,
        )
        if len(widths) != 4:
            raise ValueError(f"w0={w0}, wa={wa}, wm={wm}, depth={depth} give {len(widths)} stages, not 4")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.zero_init_last = zero_init_last
        act = get_act_layer(act_layer)
        assert act is not None

        if preact:
            self.stem: nn.Module = create_conv2d(in_chans, stem_width, 3, stride=2)
        else:
            self.stem = ConvNormAct(in_chans, stem_width, 3, 2, act_layer=act, norm_layer=norm_layer)
        self.feature_info = [dict(num_chs=stem_width, reduction=2, module="stem")]

        rates = torch.linspace(0, drop_path_rate, sum(depths), device="cpu").split(depths)
        prev, net_stride, dilation = stem_width, 2, 1
        for i, (width, num_blocks, group) in enumerate(zip(widths, depths, groups)):
            if net_stride >= output_stride:
                stride, dilation = 1, dilation * 2
            else:
                stride, net_stride = 2, net_stride * 2
            stage = RegStage(
                num_blocks,
                prev,
                width,
                stride=stride,
                dilation=dilation,
                drop_path_rates=rates[i].tolist(),
                block_fn=PreBottleneck if preact else Bottleneck,
                bottle_ratio=bottle_ratio,
                group_size=group,
                se_ratio=se_ratio,
                downsample=downsample,
                linear_out=linear_out,
                act_layer=act,
                norm_layer=norm_layer,
            )
            # NOTE: stages are attributes s1..s4 (not a container) for checkpoint compatibility
            self.add_module(f"s{i + 1}", stage)
            prev = width
            self.feature_info.append(dict(num_chs=prev, reduction=net_stride, module=f"s{i + 1}"))

        if num_features:
            self.final_conv: nn.Module = ConvNormAct(
                prev, num_features, 1, act_layer=act, norm_layer=norm_layer
            )
        else:
            # the blocks leave the sum un-activated: activate once before the head
            self.final_conv = act_or_identity(act) if linear_out or preact else nn.Identity()
        self.num_features = num_features or prev
        self.head = ClassifierHead(self.num_features, num_classes, global_pool, drop_rate)
        self.head_hidden_size = self.head.num_features
        self._initialize()

    def init_weights(self) -> None:
        """He-normal (fan-out) convs, N(0, 0.01) classifier, zero biases; with
        ``zero_init_last`` each residual branch starts as zero."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)
            elif self.zero_init_last and isinstance(m, (Bottleneck, PreBottleneck)):
                m.zero_init_last()

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^stem", blocks=r"^s(\d+)" if coarse else r"^s(\d+)\.b(\d+)")


# --- checkpoint remap -----------------------------------------------------------------------------
# block-internal names of torchvision / classy-vision (which follow pycls' module order) -> ours
_BLOCK_RENAMES = (
    ("f.a.0", "conv1.conv"),
    ("f.a.1", "conv1.bn"),
    ("f.b.0", "conv2.conv"),
    ("f.b.1", "conv2.bn"),
    ("f.final_bn", "conv3.bn"),
    ("f.se.excitation.0", "se.fc1"),
    ("f.se.excitation.2", "se.fc2"),
    ("f.se", "se"),
    ("f.c.0", "conv3.conv"),
    ("f.c.1", "conv3.bn"),
    ("f.c", "conv3.conv"),
    ("proj.0", "downsample.conv"),
    ("proj.1", "downsample.bn"),
    ("proj", "downsample.conv"),
)
# pycls' own names (``model_state`` checkpoints)
_PYCLS_RENAMES = (
    (re.compile(r"\.f\.a_bn\."), ".conv1.bn."),
    (re.compile(r"\.f\.a\."), ".conv1.conv."),
    (re.compile(r"\.f\.b_bn\."), ".conv2.bn."),
    (re.compile(r"\.f\.b\."), ".conv2.conv."),
    (re.compile(r"\.f\.c_bn\."), ".conv3.bn."),
    (re.compile(r"\.f\.c\."), ".conv3.conv."),
    (re.compile(r"\.f\.se\.f_ex\.0\."), ".se.fc1."),
    (re.compile(r"\.f\.se\.f_ex\.2\."), ".se.fc2."),
    (re.compile(r"^(s\d\.b\d+)\.proj\."), r"\1.downsample.conv."),
    (re.compile(r"^(s\d\.b\d+)\.bn\."), r"\1.downsample.bn."),
)


def _rename(key: str) -> str:
    for old, new in _BLOCK_RENAMES:
        key = key.replace(old, new)
    return key


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """Other RegNet layouts -> ours (timm's).

    * torchvision: ``stem.0/1``, ``trunk_output.blockS.blockS-J.f.{a,b,c}.{0,1}``,
      ``f.se.fc1/fc2``, ``proj.{0,1}``, ``fc``.
    * classy-vision / VISSL (SEER): a ``classy_state_dict`` whose trunk is
      ``_feature_blocks.conv1.stem.{0,1}``, ``_feature_blocks.resS.blockS-J.*`` (``f.c`` a bare
      conv, ``f.final_bn``, ``f.se.excitation.{0,2}``, the shortcut's norm ``bn``) and whose heads
      hold the classifier ``0.clf.0`` (SSL projection heads and prototypes are dropped).
    * pycls: a ``model_state`` dict with ``f.a`` / ``f.a_bn`` ... ``f.se.f_ex.{0,2}`` and the
      shortcut as ``proj`` / ``bn``. pycls trained on BGR images: the stem's input channels are
      flipped to RGB, as the pycls weights timm hosts.
    """
    state_dict = state_dict.get("model", state_dict)
    if "classy_state_dict" in state_dict:
        model_state = state_dict["classy_state_dict"]["base_model"]["model"]
        out = {}
        for key, value in model_state["trunk"].items():
            key = key.replace("_feature_blocks.conv1.stem.0", "stem.conv")
            key = key.replace("_feature_blocks.conv1.stem.1", "stem.bn")
            key = re.sub(
                r"^_feature_blocks\.res\d\.block(\d)-(\d+)", lambda m: f"s{m[1]}.b{int(m[2]) + 1}", key
            )
            key = re.sub(r"^(s\d\.b\d+)\.bn\.", r"\1.downsample.bn.", key)
            out[_rename(key)] = value
        for key, value in model_state["heads"].items():
            if "projection_head" in key or "prototypes" in key:
                continue
            out[key.replace("0.clf.0", "head.fc")] = value
        return out
    if "stem.0.weight" in state_dict:  # torchvision
        out = {}
        for key, value in state_dict.items():
            key = key.replace("stem.0", "stem.conv").replace("stem.1", "stem.bn")
            key = re.sub(
                r"^trunk_output\.block(\d)\.block(\d+)-(\d+)", lambda m: f"s{m[1]}.b{int(m[3]) + 1}", key
            )
            key = _rename(key)
            out["head." + key if key.startswith("fc.") else key] = value
        return out
    pycls = state_dict.get("model_state")
    if pycls is None and any(".f.a_bn." in k for k in state_dict):  # (unwrapped by the loader)
        pycls = state_dict
    if pycls is not None:  # pycls
        out = {}
        for key, value in pycls.items():
            for pattern, repl in _PYCLS_RENAMES:
                key = pattern.sub(repl, key)
            if key == "stem.conv.weight":
                value = value.flip(1)  # BGR -> RGB input channels
            out[key] = value
        return out
    return state_dict


# RegNet's keyword arguments and defaults: what RegNet(cfg, ...) tells given from left alone
_ARG_DEFAULTS = {
    p.name: p.default
    for p in inspect.signature(RegNet.__init__).parameters.values()
    if p.kind is p.KEYWORD_ONLY
}


# --- variants -------------------------------------------------------------------------------------
RegNetArgs = model_args_type(RegNet)
_SE = dict(se_ratio=0.25)
_TV_ROUNDING = dict(group_min_ratio=0.9)  # torchvision's width rounding
_Z = dict(bottle_ratio=4.0, downsample=None, linear_out=True, act_layer="silu", zero_init_last=False, **_SE)

# Model FLOPs: the three trailing digits x 10^8
VARIANTS: dict[str, Any] = {
    # RegNet-X
    "regnetx_002": RegNetArgs(w0=24, wa=36.44, wm=2.49, group_size=8, depth=13),
    "regnetx_004": RegNetArgs(w0=24, wa=24.48, wm=2.54, group_size=16, depth=22),
    "regnetx_004_tv": RegNetArgs(w0=24, wa=24.48, wm=2.54, group_size=16, depth=22, **_TV_ROUNDING),
    "regnetx_006": RegNetArgs(w0=48, wa=36.97, wm=2.24, group_size=24, depth=16),
    "regnetx_008": RegNetArgs(w0=56, wa=35.73, wm=2.28, group_size=16, depth=16),
    "regnetx_016": RegNetArgs(w0=80, wa=34.01, wm=2.25, group_size=24, depth=18),
    "regnetx_032": RegNetArgs(w0=88, wa=26.31, wm=2.25, group_size=48, depth=25),
    "regnetx_040": RegNetArgs(w0=96, wa=38.65, wm=2.43, group_size=40, depth=23),
    "regnetx_064": RegNetArgs(w0=184, wa=60.83, wm=2.07, group_size=56, depth=17),
    "regnetx_080": RegNetArgs(w0=80, wa=49.56, wm=2.88, group_size=120, depth=23),
    "regnetx_120": RegNetArgs(w0=168, wa=73.36, wm=2.37, group_size=112, depth=19),
    "regnetx_160": RegNetArgs(w0=216, wa=55.59, wm=2.1, group_size=128, depth=22),
    "regnetx_320": RegNetArgs(w0=320, wa=69.86, wm=2.0, group_size=168, depth=23),
    # RegNet-Y: X plus squeeze-excitation
    "regnety_002": RegNetArgs(w0=24, wa=36.44, wm=2.49, group_size=8, depth=13, **_SE),
    "regnety_004": RegNetArgs(w0=48, wa=27.89, wm=2.09, group_size=8, depth=16, **_SE),
    "regnety_006": RegNetArgs(w0=48, wa=32.54, wm=2.32, group_size=16, depth=15, **_SE),
    "regnety_008": RegNetArgs(w0=56, wa=38.84, wm=2.4, group_size=16, depth=14, **_SE),
    "regnety_008_tv": RegNetArgs(w0=56, wa=38.84, wm=2.4, group_size=16, depth=14, **_SE, **_TV_ROUNDING),
    "regnety_016": RegNetArgs(w0=48, wa=20.71, wm=2.65, group_size=24, depth=27, **_SE),
    "regnety_032": RegNetArgs(w0=80, wa=42.63, wm=2.66, group_size=24, depth=21, **_SE),
    "regnety_040": RegNetArgs(w0=96, wa=31.41, wm=2.24, group_size=64, depth=22, **_SE),
    "regnety_064": RegNetArgs(w0=112, wa=33.22, wm=2.27, group_size=72, depth=25, **_SE),
    "regnety_080": RegNetArgs(w0=192, wa=76.82, wm=2.19, group_size=56, depth=17, **_SE),
    "regnety_080_tv": RegNetArgs(w0=192, wa=76.82, wm=2.19, group_size=56, depth=17, **_SE, **_TV_ROUNDING),
    "regnety_120": RegNetArgs(w0=168, wa=73.36, wm=2.37, group_size=112, depth=19, **_SE),
    "regnety_160": RegNetArgs(w0=200, wa=106.23, wm=2.48, group_size=112, depth=18, **_SE),
    "regnety_320": RegNetArgs(w0=232, wa=115.89, wm=2.53, group_size=232, depth=20, **_SE),
    "regnety_640": RegNetArgs(w0=352, wa=147.48, wm=2.4, group_size=328, depth=20, **_SE),
    "regnety_1280": RegNetArgs(w0=456, wa=160.83, wm=2.52, group_size=264, depth=27, **_SE),
    "regnety_2560": RegNetArgs(w0=640, wa=230.83, wm=2.53, group_size=373, depth=27, **_SE),
    # timm experiments: GroupNorm (16 channels a group) + SiLU; pre-activation ("V")
    "regnety_040_sgn": RegNetArgs(
        w0=96,
        wa=31.41,
        wm=2.24,
        group_size=64,
        depth=22,
        act_layer="silu",
        norm_layer=partial(GroupNormAct, group_size=16),
        **_SE,
    ),
    "regnetv_040": RegNetArgs(
        w0=96, wa=31.41, wm=2.24, group_size=64, depth=22, preact=True, act_layer="silu", **_SE
    ),
    "regnetv_064": RegNetArgs(
        w0=112,
        wa=33.22,
        wm=2.27,
        group_size=72,
        depth=25,
        preact=True,
        act_layer="silu",
        downsample="avg",
        **_SE,
    ),
    # RegNet-Z: inverted bottlenecks, no shortcut on resampling blocks (ClassyVision's configs)
    "regnetz_005": RegNetArgs(w0=16, wa=10.7, wm=2.51, group_size=4, depth=21, num_features=1024, **_Z),
    "regnetz_040": RegNetArgs(w0=48, wa=14.5, wm=2.226, group_size=8, depth=28, **_Z),
    "regnetz_040_h": RegNetArgs(w0=48, wa=14.5, wm=2.226, group_size=8, depth=28, num_features=1536, **_Z),
}


# --- weights --------------------------------------------------------------------------------------
def _tv(file: str) -> str:
    return f"https://download.pytorch.org/models/{file}"


def _tpu(file: str) -> str:  # timm's TPU-trained releases
    return f"{HUGGINGFACE_RELEASES}v0.1-tpu-weights/{file}"


def _vissl(path: str) -> str:
    return f"https://dl.fbaipublicfiles.com/vissl/model_zoo/{path}"


def _res(side: int) -> dict[str, Any]:
    """Weights fine-tuned at ``side`` pixels, evaluated uncropped."""
    return dict(input_size=(3, side, side), pool_size=(side // 32, side // 32), crop_pct=1.0)


CFG_DEFAULTS = dict(first_conv="stem.conv", classifier="head.fc", pool_size=(7, 7))
# timm's recipe: trained at 224, best evaluated at 288 uncropped
_TIMM = dict(crop_pct=0.95, test_input_size=(3, 288, 288), test_crop_pct=1.0, license="apache-2.0")
_Z320 = dict(test_input_size=(3, 320, 320), test_crop_pct=1.0, license="apache-2.0")
_PYCLS = dict(license="mit", origin_url="https://github.com/facebookresearch/pycls")
_TV = dict(crop_pct=0.965, license="bsd-3-clause", origin_url="https://github.com/pytorch/vision")
_SWAG = dict(license="cc-by-nc-4.0", origin_url="https://github.com/pytorch/vision")
_SWAG_LC = dict(crop_pct=0.965, **_SWAG)  # linear classifier on the frozen SWAG trunk
_SEER = dict(license="seer-license", origin_url="https://github.com/facebookresearch/vissl")
_SEER_SSL = dict(crop_pct=0.965, num_classes=0, **_SEER)  # self-supervised trunk, no classifier

WEIGHTS: dict[str, dict[str, Any]] = {
    "regnetv_040.ra3_in1k": weight(_TIMM, url=_tpu("regnetv_040_ra3-c248f51f.pth"), first_conv="stem"),
    "regnetv_064.ra3_in1k": weight(_TIMM, url=_tpu("regnetv_064_ra3-530616c2.pth"), first_conv="stem"),
    "regnetx_002.pycls_in1k": weight(_PYCLS),
    "regnetx_004.pycls_in1k": weight(_PYCLS),
    "regnetx_004_tv.tv2_in1k": weight(_TV, url=_tv("regnet_x_400mf-62229a5f.pth")),
    "regnetx_006.pycls_in1k": weight(_PYCLS),
    "regnetx_008.tv2_in1k": weight(_TV, default=True, url=_tv("regnet_x_800mf-94a99ebd.pth")),
    "regnetx_008.pycls_in1k": weight(_PYCLS),
    "regnetx_016.tv2_in1k": weight(_TV, default=True, url=_tv("regnet_x_1_6gf-a12f2b72.pth")),
    "regnetx_016.pycls_in1k": weight(_PYCLS),
    "regnetx_032.tv2_in1k": weight(_TV, default=True, url=_tv("regnet_x_3_2gf-7071aa85.pth")),
    "regnetx_032.pycls_in1k": weight(_PYCLS),
    "regnetx_040.pycls_in1k": weight(_PYCLS),
    "regnetx_064.pycls_in1k": weight(_PYCLS),
    "regnetx_080.tv2_in1k": weight(_TV, default=True, url=_tv("regnet_x_8gf-2b70d774.pth")),
    "regnetx_080.pycls_in1k": weight(_PYCLS),
    "regnetx_120.pycls_in1k": weight(_PYCLS),
    "regnetx_160.tv2_in1k": weight(_TV, default=True, url=_tv("regnet_x_16gf-ba3796d7.pth")),
    "regnetx_160.pycls_in1k": weight(_PYCLS),
    "regnetx_320.tv2_in1k": weight(_TV, default=True, url=_tv("regnet_x_32gf-6eb8fdc6.pth")),
    "regnetx_320.pycls_in1k": weight(_PYCLS),
    "regnety_002.pycls_in1k": weight(_PYCLS),
    "regnety_004.tv2_in1k": weight(_TV, default=True, url=_tv("regnet_y_400mf-e6988f5f.pth")),
    "regnety_004.pycls_in1k": weight(_PYCLS),
    "regnety_006.pycls_in1k": weight(_PYCLS),
    "regnety_008.pycls_in1k": weight(_PYCLS),
    "regnety_008_tv.tv2_in1k": weight(_TV, url=_tv("regnet_y_800mf-58fc7688.pth")),
    "regnety_016.tv2_in1k": weight(_TV, default=True, url=_tv("regnet_y_1_6gf-0d7bc02a.pth")),
    "regnety_016.pycls_in1k": weight(_PYCLS),
    "regnety_032.ra_in1k": weight(
        _TIMM, default=True, url=HUGGINGFACE_RELEASES + "v0.1-weights/regnety_032_ra-7f2439f9.pth"
    ),
    "regnety_032.tv2_in1k": weight(_TV, url=_tv("regnet_y_3_2gf-9180c971.pth")),
    "regnety_032.pycls_in1k": weight(_PYCLS),
    "regnety_040.ra3_in1k": weight(_TIMM, default=True, url=_tpu("regnety_040_ra3-670e1166.pth")),
    "regnety_040.pycls_in1k": weight(_PYCLS),
    "regnety_040_sgn.untrained": weight(_TIMM, NO_WEIGHTS),
    "regnety_064.ra3_in1k": weight(_TIMM, default=True, url=_tpu("regnety_064_ra3-aa26dc7d.pth")),
    "regnety_064.pycls_in1k": weight(_PYCLS),
    "regnety_080.ra3_in1k": weight(_TIMM, default=True, url=_tpu("regnety_080_ra3-1fdc4344.pth")),
    "regnety_080.pycls_in1k": weight(_PYCLS),
    "regnety_080_tv.tv2_in1k": weight(_TV, url=_tv("regnet_y_8gf-dc2b1b54.pth")),
    "regnety_120.sw_in12k_ft_in1k": weight(_TIMM, default=True),
    "regnety_120.sw_in12k": weight(_TIMM, num_classes=11821),
    "regnety_120.pycls_in1k": weight(_PYCLS),
    "regnety_160.sw_in12k_ft_in1k": weight(_TIMM, default=True),
    "regnety_160.lion_in12k_ft_in1k": weight(_TIMM),
    "regnety_160.sw_in12k": weight(_TIMM, num_classes=11821),
    "regnety_160.deit_in1k": weight(
        _TIMM, url="https://dl.fbaipublicfiles.com/deit/regnety_160-a5fe301d.pth"
    ),
    "regnety_160.tv2_in1k": weight(_TV, url=_tv("regnet_y_16gf-3e4a00f9.pth")),
    "regnety_160.swag_ft_in1k": weight(_res(384), _SWAG, url=_tv("regnet_y_16gf_swag-43afe44d.pth")),
    "regnety_160.swag_lc_in1k": weight(_SWAG_LC, url=_tv("regnet_y_16gf_lc_swag-f3ec0043.pth")),
    "regnety_160.pycls_in1k": weight(_PYCLS),
    "regnety_320.tv2_in1k": weight(_TV, default=True, url=_tv("regnet_y_32gf-8db6d4b5.pth")),
    "regnety_320.swag_ft_in1k": weight(_res(384), _SWAG, url=_tv("regnet_y_32gf_swag-04fdfa75.pth")),
    "regnety_320.swag_lc_in1k": weight(_SWAG_LC, url=_tv("regnet_y_32gf_lc_swag-e1583746.pth")),
    "regnety_320.seer_ft_in1k": weight(
        _res(384),
        _SEER,
        url=_vissl("seer_finetuned/seer_regnet32_finetuned_in1k_model_final_checkpoint_phase78.torch"),
    ),
    "regnety_320.seer": weight(
        _SEER_SSL, url=_vissl("seer_regnet32d/seer_regnet32gf_model_iteration244000.torch")
    ),
    "regnety_320.pycls_in1k": weight(_PYCLS),
    "regnety_640.seer_ft_in1k": weight(
        _res(384),
        _SEER,
        default=True,
        url=_vissl("seer_finetuned/seer_regnet64_finetuned_in1k_model_final_checkpoint_phase78.torch"),
    ),
    "regnety_640.seer": weight(
        _SEER_SSL, url=_vissl("seer_regnet64/seer_regnet64gf_model_final_checkpoint_phase0.torch")
    ),
    "regnety_1280.swag_ft_in1k": weight(
        _res(384), _SWAG, default=True, url=_tv("regnet_y_128gf_swag-c8ce3e52.pth")
    ),
    "regnety_1280.swag_lc_in1k": weight(_SWAG_LC, url=_tv("regnet_y_128gf_lc_swag-cbe8ce12.pth")),
    "regnety_1280.seer_ft_in1k": weight(
        _res(384),
        _SEER,
        url=_vissl("seer_finetuned/seer_regnet128_finetuned_in1k_model_final_checkpoint_phase78.torch"),
    ),
    "regnety_1280.seer": weight(
        _SEER_SSL,
        url=_vissl(
            "swav_ig1b_regnet128Gf_cnstant_bs32_node16_sinkhorn10_proto16k_syncBN64_warmup8k/model_final_checkpoint_phase0.torch"
        ),
    ),
    "regnety_2560.seer_ft_in1k": weight(
        _res(384),
        _SEER,
        url=_vissl("seer_finetuned/seer_regnet256_finetuned_in1k_model_final_checkpoint_phase38.torch"),
    ),
    "regnetz_005.untrained": weight(_TIMM, NO_WEIGHTS),
    "regnetz_040.ra3_in1k": weight(_res(256), _Z320, url=_tpu("regnetz_040_ra3-9007edf5.pth")),
    "regnetz_040_h.ra3_in1k": weight(_res(256), _Z320, url=_tpu("regnetz_040h_ra3-f594343b.pth")),
}

DEPRECATED = {"regnetz_040h": "regnetz_040_h"}

default_cfgs = register_family(
    __name__,
    model_cls=RegNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=CFG_DEFAULTS,
    filter_fn=checkpoint_filter_fn,
    deprecated=DEPRECATED,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. regnety_032
    return family_entrypoint(__name__, name)
