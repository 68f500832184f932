"""Cross Stage Partial networks (CSPResNet, CSPResNeXt, CSPDarkNet), DarkNet and the CS3 nets.

Papers:
* `CSPNet: A New Backbone that can Enhance Learning Capability of CNN` - https://arxiv.org/abs/1911.11929
* `YOLOv3: An Incremental Improvement` (DarkNet-53) - https://arxiv.org/abs/1804.02767
* `In-Place Activated BatchNorm for Memory-Optimized Training of DNNs` (the ``_iabn`` variants) -
  https://arxiv.org/abs/1712.02616

Reference darknet configs: https://github.com/WongKinYiu/CrossStagePartialNetworks

Weights: Apache-2.0, all trained in timm. Module names follow timm's ``cspnet``, so timm
checkpoints load unchanged.

A cross-stage ('csp') stage downsamples, expands with a 1x1 conv and splits the channels in two:
one half runs through the blocks, the other skips them, and a 1x1 transition conv merges the
two. 'cs3' stages (YOLOv5-style) do the same with one transition conv instead of two; 'dark'
stages are plain DarkNet stages without the split.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, cast

import torch
from torch import nn

from ..layers import (
    ClassifierHead,
    ConvNormAct,
    DropPath,
    LayerType,
    act_or_identity,
    create_aa,
    get_attn,
    make_divisible,
)
from ..model import Trunk, VisionModel
from ..pretrained import (
    IMAGENET_INCEPTION_MEAN,
    IMAGENET_INCEPTION_STD,
    NO_WEIGHTS,
    RWIGHTMAN_RELEASES,
    weight,
)
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import as_dataclass, model_args_type

__all__ = [
    "BottleneckBlock",
    "CrossStage",
    "CrossStage3",
    "CspModelCfg",
    "CspNet",
    "CspStagesCfg",
    "CspStemCfg",
    "DarkBlock",
    "DarkStage",
    "EdgeBlock",
    "create_csp_stages",
    "create_csp_stem",
    "default_cfgs",
]

# group_matcher's marker for "same group as the previous match" (timm's value, so its optimizer
# helpers read our matchers unchanged)
_MATCH_PREV_GROUP = (99999,)


# --- configs --------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class CspStemCfg:
    """The stem: one or more ``kernel_size`` convs, then an optional max-pool.

    Args:
        out_chs: width of each stem conv (one int for a single conv).
        stride: total stem stride, 1, 2 or 4 (4 needs ``pool`` or at least two convs).
        kernel_size: kernel of every stem conv.
        padding: padding of the first conv (int, or ``''`` for symmetric).
        pool: ``'max'`` for a stride-2 max-pool at the end, ``''`` for none.
    """

    out_chs: int | tuple[int, ...] = 32
    stride: int = 2
    kernel_size: int = 3
    padding: int | str = ""
    pool: str = ""

    def __post_init__(self) -> None:
        chs = (self.out_chs,) if isinstance(self.out_chs, int) else tuple(self.out_chs)
        if not chs or not all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in chs):
            raise ValueError(f"stem out_chs must be a positive int or a tuple of them, got {self.out_chs!r}")
        object.__setattr__(self, "out_chs", chs)
        if self.stride not in (1, 2, 4):
            raise ValueError(f"stem stride must be 1, 2 or 4, got {self.stride!r}")
        if self.pool not in ("", "max"):
            raise ValueError(f"stem pool must be '' or 'max', got {self.pool!r}")
        if self.pool and self.stride != 4:
            raise ValueError(
                f"a stem pool needs stem stride 4 (the pool is its second stride 2), got {self.stride}"
            )
        if self.stride == 4 and not self.pool and len(chs) < 2:
            raise ValueError("stem stride 4 without a pool needs at least two stem convs")


_STAGE_TYPES = ("csp", "cs3", "dark")
_BLOCK_TYPES = ("bottle", "dark", "edge")


@dataclasses.dataclass(frozen=True)
class CspStagesCfg:
    """The stages. Each field is one value for every stage or a tuple, one per stage (a shorter
    tuple repeats its last value).

    Args:
        depth: blocks per stage (its length is the number of stages).
        out_chs: output channels per stage.
        stride: stage stride (its first conv).
        groups: groups of the 3x3 convs.
        block_ratio: block width as a fraction of ``out_chs``.
        bottle_ratio: bottleneck width as a fraction of the block width.
        avg_down: downsample with avg-pool + 1x1 conv instead of a strided 3x3 conv.
        attn_layer: channel attention in each block (``'se'``, ``'eca'``) or None.
        attn_kwargs: keyword arguments for the attention layer.
        stage_type: ``'csp'`` (two transition convs), ``'cs3'`` (one) or ``'dark'`` (no split).
        block_type: ``'bottle'`` (1x1-3x3-1x1 ResNe(X)t), ``'dark'`` (1x1-3x3) or ``'edge'`` (3x3-1x1).
        expand_ratio: width of the 1x1 expansion conv before the split (csp/cs3 only).
        cross_linear: no activation after the expansion conv (csp/cs3 only).
        down_growth: the downsample conv already widens to ``out_chs`` (csp/cs3 only).
    """

    depth: tuple[int, ...] = (3, 3, 5, 2)
    out_chs: tuple[int, ...] = (128, 256, 512, 1024)
    stride: int | tuple[int, ...] = 2
    groups: int | tuple[int, ...] = 1
    block_ratio: float | tuple[float, ...] = 1.0
    bottle_ratio: float | tuple[float, ...] = 1.0
    avg_down: bool | tuple[bool, ...] = False
    attn_layer: str | tuple[str | None, ...] | None = None
    attn_kwargs: Mapping[str, Any] | tuple[Mapping[str, Any] | None, ...] | None = None
    stage_type: str | tuple[str, ...] = "csp"
    block_type: str | tuple[str, ...] = "bottle"
    expand_ratio: float | tuple[float, ...] = 1.0
    cross_linear: bool | tuple[bool, ...] = False
    down_growth: bool | tuple[bool, ...] = False

    def __post_init__(self) -> None:
        depth, out_chs = tuple(self.depth), tuple(self.out_chs)
        if not depth or len(depth) != len(out_chs):
            raise ValueError(f"stages depth {depth} and out_chs {out_chs} must be non-empty and equally long")
        object.__setattr__(self, "depth", depth)
        object.__setattr__(self, "out_chs", out_chs)
        for f in dataclasses.fields(self)[2:]:
            object.__setattr__(self, f.name, _per_stage(f.name, getattr(self, f.name), len(depth)))
        for i, (s, b) in enumerate(zip(self.stage_type, self.block_type)):
            if s not in _STAGE_TYPES:
                raise ValueError(f"stages.stage_type[{i}]={s!r}; valid: {', '.join(_STAGE_TYPES)}")
            if b not in _BLOCK_TYPES:
                raise ValueError(f"stages.block_type[{i}]={b!r}; valid: {', '.join(_BLOCK_TYPES)}")

    @property
    def num_stages(self) -> int:
        return len(self.depth)

    def stage(self, idx: int) -> dict[str, Any]:
        """The settings of stage ``idx``, one value per field."""
        return {f.name: getattr(self, f.name)[idx] for f in dataclasses.fields(self)}


@dataclasses.dataclass(frozen=True)
class CspModelCfg:
    """timm's record of a whole CspNet: stem, stages and the layers; ``CspNet(cfg)`` builds it."""

    stem: CspStemCfg
    stages: CspStagesCfg
    zero_init_last: bool = True
    act_layer: LayerType = "leaky_relu"
    norm_layer: LayerType = "batchnorm"
    aa_layer: LayerType | None = None


def _per_stage(name: str, value: Any, num_stages: int) -> tuple[Any, ...]:
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if not values or len(values) > num_stages:
        raise ValueError(
            f"stages.{name} has {len(values)} values for {num_stages} stages; "
            "give one value for all stages or up to one per stage"
        )
    return values + (values[-1],) * (num_stages - len(values))


# --- blocks ---------------------------------------------------------------------------------------
def _attn(attn_layer: Any, chs: int, act_layer: LayerType) -> nn.Module:
    # NOTE: the attention's hidden activation is the network's (leaky ReLU / SiLU), not ReLU
    return attn_layer(chs, act_layer=act_layer) if attn_layer is not None else nn.Identity()


def _zero_norm_weight(conv: ConvNormAct) -> None:
    """Zero the scale of ``conv``'s norm, so its residual branch starts as (almost) nothing."""
    weight = getattr(conv.bn, "weight", None)
    if not isinstance(weight, torch.Tensor):
        raise ValueError(
            f"zero_init_last needs a norm with an affine weight, {type(conv.bn).__name__} has none; "
            "use an affine norm_layer or zero_init_last=False"
        )
    nn.init.zeros_(weight)


class BottleneckBlock(nn.Module):
    """ResNe(X)t bottleneck: 1x1 -> 3x3 (grouped) -> attention -> 1x1, residual, then activation."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        dilation: int = 1,
        bottle_ratio: float = 0.25,
        groups: int = 1,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        attn_layer: Any = None,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        mid_chs = round(out_chs * bottle_ratio)
        layers: dict[str, Any] = dict(act_layer=act_layer, norm_layer=norm_layer)
        self.conv1 = ConvNormAct(in_chs, mid_chs, 1, **layers)
        self.conv2 = ConvNormAct(mid_chs, mid_chs, 3, dilation=dilation, groups=groups, **layers)
        self.attn2 = _attn(attn_layer, mid_chs, act_layer)
        self.conv3 = ConvNormAct(mid_chs, out_chs, 1, apply_act=False, **layers)
        self.drop_path = DropPath(drop_path) if drop_path else nn.Identity()
        self.act3 = act_or_identity(act_layer)

    def zero_init_last(self) -> None:
        _zero_norm_weight(self.conv3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.conv3(self.attn2(self.conv2(self.conv1(x))))
        return self.act3(self.drop_path(x) + shortcut)


class DarkBlock(nn.Module):
    """DarkNet residual: 1x1 reduce -> attention -> 3x3 back to ``out_chs``, plus the input."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        dilation: int = 1,
        bottle_ratio: float = 0.5,
        groups: int = 1,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        attn_layer: Any = None,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        mid_chs = round(out_chs * bottle_ratio)
        layers: dict[str, Any] = dict(act_layer=act_layer, norm_layer=norm_layer)
        self.conv1 = ConvNormAct(in_chs, mid_chs, 1, **layers)
        self.attn = _attn(attn_layer, mid_chs, act_layer)
        self.conv2 = ConvNormAct(mid_chs, out_chs, 3, dilation=dilation, groups=groups, **layers)
        self.drop_path = DropPath(drop_path) if drop_path else nn.Identity()

    def zero_init_last(self) -> None:
        _zero_norm_weight(self.conv2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop_path(self.conv2(self.attn(self.conv1(x)))) + x


class EdgeBlock(nn.Module):
    """Fused-MBConv-like residual: 3x3 expand -> attention -> 1x1 back to ``out_chs``, plus the input."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        dilation: int = 1,
        bottle_ratio: float = 0.5,
        groups: int = 1,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        attn_layer: Any = None,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        mid_chs = round(out_chs * bottle_ratio)
        layers: dict[str, Any] = dict(act_layer=act_layer, norm_layer=norm_layer)
        self.conv1 = ConvNormAct(in_chs, mid_chs, 3, dilation=dilation, groups=groups, **layers)
        self.attn = _attn(attn_layer, mid_chs, act_layer)
        self.conv2 = ConvNormAct(mid_chs, out_chs, 1, **layers)
        self.drop_path = DropPath(drop_path) if drop_path else nn.Identity()

    def zero_init_last(self) -> None:
        _zero_norm_weight(self.conv2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop_path(self.conv2(self.attn(self.conv1(x)))) + x


_BLOCKS: dict[str, type[nn.Module]] = {"bottle": BottleneckBlock, "dark": DarkBlock, "edge": EdgeBlock}


# --- stages ---------------------------------------------------------------------------------------
def _downsample(
    in_chs: int,
    out_chs: int,
    *,
    stride: int,
    dilation: int,
    groups: int,
    avg_down: bool,
    act_layer: LayerType,
    norm_layer: LayerType,
    aa_layer: LayerType | None,
) -> nn.Module:
    """A stage's first conv: strided 3x3, or (``avg_down``) 2x2 avg-pool then 1x1 conv."""
    layers: dict[str, Any] = dict(act_layer=act_layer, norm_layer=norm_layer)
    if avg_down:
        pool = nn.AvgPool2d(2) if stride == 2 else nn.Identity()
        return nn.Sequential(pool, ConvNormAct(in_chs, out_chs, 1, groups=groups, **layers))
    return ConvNormAct(
        in_chs, out_chs, 3, stride=stride, dilation=dilation, groups=groups, aa_layer=aa_layer, **layers
    )


class _SplitStage(nn.Module):
    """Shared construction of the two cross-stage kinds: downsample, 1x1 expansion, blocks.

    Subclasses add their transition conv(s) in ``_make_transitions`` and say in ``forward``
    which half of the split runs the blocks.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        stride: int,
        dilation: int,
        depth: int,
        block_cls: type[nn.Module],
        block_ratio: float = 1.0,
        bottle_ratio: float = 1.0,
        expand_ratio: float = 1.0,
        groups: int = 1,
        first_dilation: int | None = None,
        avg_down: bool = False,
        down_growth: bool = False,
        cross_linear: bool = False,
        block_dpr: Sequence[float] | None = None,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        aa_layer: LayerType | None = None,
        attn_layer: Any = None,
    ) -> None:
        super().__init__()
        first_dilation = first_dilation or dilation
        self.expand_chs = round(out_chs * expand_ratio)
        block_chs = round(out_chs * block_ratio)
        layers: dict[str, Any] = dict(act_layer=act_layer, norm_layer=norm_layer)
        if stride != 1 or first_dilation != dilation:
            down_chs = out_chs if down_growth else in_chs
            self.conv_down: nn.Module | None = _downsample(
                in_chs,
                down_chs,
                stride=stride,
                dilation=first_dilation,
                groups=groups,
                avg_down=avg_down,
                aa_layer=aa_layer,
                **layers,
            )
            prev_chs = down_chs
        else:
            self.conv_down = None
            prev_chs = in_chs
        self.conv_exp = ConvNormAct(prev_chs, self.expand_chs, 1, apply_act=not cross_linear, **layers)
        prev_chs = self.expand_chs // 2
        self.blocks = nn.Sequential()
        for i in range(depth):
            block = block_cls(
                prev_chs,
                block_chs,
                dilation=dilation,
                bottle_ratio=bottle_ratio,
                groups=groups,
                attn_layer=attn_layer,
                drop_path=block_dpr[i] if block_dpr else 0.0,
                **layers,
            )
            self.blocks.add_module(str(i), block)
            prev_chs = block_chs
        self._make_transitions(prev_chs, out_chs, layers)

    def _make_transitions(self, block_chs: int, out_chs: int, layers: dict[str, Any]) -> None:
        raise NotImplementedError

    def _expand(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.conv_down is not None:
            x = self.conv_down(x)
        first, second = self.conv_exp(x).split(self.expand_chs // 2, dim=1)
        return first, second


class CrossStage(_SplitStage):
    """CSP stage: the second half of the split runs the blocks and its own transition conv, then
    both halves are concatenated and merged by ``conv_transition``."""

    def _make_transitions(self, block_chs: int, out_chs: int, layers: dict[str, Any]) -> None:
        self.conv_transition_b = ConvNormAct(block_chs, self.expand_chs // 2, 1, **layers)
        self.conv_transition = ConvNormAct(self.expand_chs, out_chs, 1, **layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip, x = self._expand(x)
        x = self.conv_transition_b(self.blocks(x)).contiguous()
        return self.conv_transition(torch.cat([skip, x], dim=1))


class CrossStage3(_SplitStage):
    """CS3 stage: the first half runs the blocks, and one transition conv merges both halves."""

    def _make_transitions(self, block_chs: int, out_chs: int, layers: dict[str, Any]) -> None:
        self.conv_transition = ConvNormAct(self.expand_chs, out_chs, 1, **layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x, skip = self._expand(x)
        return self.conv_transition(torch.cat([self.blocks(x), skip], dim=1))


class DarkStage(nn.Module):
    """DarkNet stage: a downsampling conv, then the residual blocks (no split)."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        stride: int,
        dilation: int,
        depth: int,
        block_cls: type[nn.Module],
        block_ratio: float = 1.0,
        bottle_ratio: float = 1.0,
        groups: int = 1,
        first_dilation: int | None = None,
        avg_down: bool = False,
        block_dpr: Sequence[float] | None = None,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        aa_layer: LayerType | None = None,
        attn_layer: Any = None,
    ) -> None:
        super().__init__()
        layers: dict[str, Any] = dict(act_layer=act_layer, norm_layer=norm_layer)
        self.conv_down = _downsample(
            in_chs,
            out_chs,
            stride=stride,
            dilation=first_dilation or dilation,
            groups=groups,
            avg_down=avg_down,
            aa_layer=aa_layer,
            **layers,
        )
        prev_chs = out_chs
        block_chs = round(out_chs * block_ratio)
        self.blocks = nn.Sequential()
        for i in range(depth):
            block = block_cls(
                prev_chs,
                block_chs,
                dilation=dilation,
                bottle_ratio=bottle_ratio,
                groups=groups,
                attn_layer=attn_layer,
                drop_path=block_dpr[i] if block_dpr else 0.0,
                **layers,
            )
            self.blocks.add_module(str(i), block)
            prev_chs = block_chs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.conv_down(x))


def _check_block_width(idx: int, stage: dict[str, Any]) -> None:
    """Residual blocks keep their width, so it must equal the width they are fed; fail here, naming
    the stage, rather than with a shape error in forward."""
    block_chs = round(stage["out_chs"] * stage["block_ratio"])
    if stage["stage_type"] == "dark":
        fed, source = stage["out_chs"], "out_chs"
    else:
        fed, source = round(stage["out_chs"] * stage["expand_ratio"]) // 2, "half of out_chs * expand_ratio"
    if stage["depth"] and block_chs != fed:
        raise ValueError(
            f"stage {idx}: blocks are out_chs * block_ratio = {block_chs} channels wide but are fed "
            f"{fed} ({source}); choose block_ratio / expand_ratio so the two agree"
        )


# --- model ----------------------------------------------------------------------------------------
def create_csp_stem(
    in_chans: int = 3,
    out_chs: int | tuple[int, ...] = 32,
    kernel_size: int = 3,
    stride: int = 2,
    pool: str = "",
    padding: int | str = "",
    act_layer: LayerType = nn.ReLU,
    norm_layer: LayerType = nn.BatchNorm2d,
    aa_layer: LayerType | None = None,
) -> tuple[nn.Sequential, list[dict[str, Any]]]:
    """The stem (timm's signature): its convs then an optional max-pool, and its feature levels:
    each one that precedes a stride, then the stem's output (the last entry)."""
    cfg = CspStemCfg(out_chs=out_chs, stride=stride, kernel_size=kernel_size, padding=padding, pool=pool)
    stem = nn.Sequential()
    info: list[dict[str, Any]] = []
    prev_chs, reduction = in_chans, 1
    chs_list = cast(tuple[int, ...], cfg.out_chs)
    last = len(chs_list) - 1
    prev: dict[str, Any] = {}
    for i, chs in enumerate(chs_list):
        # stride 2 in the first conv; for stem stride 4 without a pool, in the last one too
        strided = (i == 0 and cfg.stride > 1) or (i == last and cfg.stride > 2 and not cfg.pool)
        if strided and prev:
            info.append(prev)
        conv = ConvNormAct(
            prev_chs,
            chs,
            cfg.kernel_size,
            stride=2 if strided else 1,
            padding=cfg.padding if i == 0 else "",
            act_layer=act_layer,
            norm_layer=norm_layer,
        )
        stem.add_module(f"conv{i + 1}", conv)
        reduction *= 2 if strided else 1
        prev_chs = chs
        prev = dict(num_chs=chs, reduction=reduction, module=f"stem.conv{i + 1}")
    if cfg.pool:
        info.append(prev)
        if aa_layer is not None:
            stem.add_module("pool", nn.MaxPool2d(kernel_size=3, stride=1, padding=1))
            stem.add_module("aa", create_aa(aa_layer, channels=prev_chs, stride=2))
            pool_name = "aa"
        else:
            stem.add_module("pool", nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
            pool_name = "pool"
        reduction *= 2
        prev = dict(num_chs=prev_chs, reduction=reduction, module=f"stem.{pool_name}")
    return stem, [*info, prev]


def create_csp_stages(
    cfg: CspModelCfg, drop_path_rate: float, output_stride: int, stem_feat: dict[str, Any]
) -> tuple[nn.Sequential, list[dict[str, Any]]]:
    """The stages of ``cfg`` after a stem whose output level is ``stem_feat`` (timm's signature),
    and the feature levels: each output that a stride follows (the stem's included), then the last.
    """
    stages_cfg = cfg.stages
    layers: dict[str, Any] = dict(act_layer=cfg.act_layer, norm_layer=cfg.norm_layer)
    aa_layer = cfg.aa_layer
    feature_info: list[dict[str, Any]] = []
    # a level is recorded when the next stage strides, so it is the last at its size
    total_blocks, block_idx = sum(stages_cfg.depth), 0
    net_stride, dilation, prev = stem_feat["reduction"], 1, stem_feat
    stage_modules: list[nn.Module] = []
    for i in range(stages_cfg.num_stages):
        s = stages_cfg.stage(i)
        stride = s["stride"]
        if stride != 1:
            feature_info.append(prev)
        if net_stride >= output_stride and stride > 1:
            dilation *= stride
            stride = 1
        net_stride *= stride
        dprs = [drop_path_rate * (block_idx + j) / max(total_blocks - 1, 1) for j in range(s["depth"])]
        block_idx += s["depth"]
        attn = get_attn(s["attn_layer"])
        if attn is not None and s["attn_kwargs"]:
            attn = partial(attn, **s["attn_kwargs"])
        common = dict(
            stride=stride,
            dilation=dilation,
            first_dilation=1 if dilation in (1, 2) else 2,
            depth=s["depth"],
            block_cls=_BLOCKS[s["block_type"]],
            block_ratio=s["block_ratio"],
            bottle_ratio=s["bottle_ratio"],
            groups=s["groups"],
            avg_down=s["avg_down"],
            block_dpr=dprs,
            attn_layer=attn,
            aa_layer=aa_layer,
            **layers,
        )
        _check_block_width(i, s)
        if s["stage_type"] == "dark":
            stage: nn.Module = DarkStage(prev["num_chs"], s["out_chs"], **common)
        else:
            cross = dict(
                expand_ratio=s["expand_ratio"],
                cross_linear=s["cross_linear"],
                down_growth=s["down_growth"],
            )
            stage_cls = CrossStage if s["stage_type"] == "csp" else CrossStage3
            stage = stage_cls(prev["num_chs"], s["out_chs"], **common, **cross)
        stage_modules.append(stage)
        prev = dict(num_chs=s["out_chs"], reduction=net_stride, module=f"stages.{i}")
    feature_info.append(prev)
    return nn.Sequential(*stage_modules), feature_info


class CspNet(VisionModel):
    """Cross Stage Partial network: a conv stem, then csp / cs3 / dark stages, then a classifier.

    Feature levels are the stem output at each stride before the stages' own (the last stem
    conv at stride 2 or 1, *before* a stem max-pool) and every stage output that a later stride
    follows, plus the last stage: 5 levels for most variants, 6 for the DarkNets whose stem
    keeps full resolution.

    Args:
        stem: the stem (:class:`CspStemCfg` or a dict of its fields), or a whole
            :class:`CspModelCfg` (timm's call; the layer keywords, where given, override its own).
        stages: the stages (:class:`CspStagesCfg` or a dict of its fields); None with a CspModelCfg.
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        output_stride: 32, 16 or 8 (later stages are dilated instead of strided).
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
        act_layer: activation (``'leaky_relu'`` for the CSP/DarkNets, ``'silu'`` for CS3).
        norm_layer: ``'batchnorm'``, or ``'inplaceabn'`` for In-Place Activated BatchNorm.
        aa_layer: anti-aliasing for the strided convs and the stem pool (e.g. ``'blurpool'``).
        drop_rate: dropout before the classifier.
        drop_path_rate: stochastic depth, rising linearly to this over the blocks.
        zero_init_last: zero the last norm of each residual branch at init.
    """

    # stem levels are read inside the stem (before its pool): each stem child is a unit
    trunk = Trunk(stem=("stem.*",), stages=("stages.*",))
    classifier_name = "head.fc"

    def __init__(
        self,
        stem: CspStemCfg | Mapping[str, Any] | CspModelCfg,
        stages: CspStagesCfg | Mapping[str, Any] | None = None,
        num_classes: int = 1000,
        in_chans: int = 3,
        *,
        output_stride: int = 32,
        global_pool: str = "avg",
        act_layer: LayerType = "leaky_relu",
        norm_layer: LayerType = "batchnorm",
        aa_layer: LayerType | None = None,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        zero_init_last: bool = True,
    ) -> None:
        super().__init__()
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")
        if isinstance(stem, CspModelCfg):  # timm's call: the cfg's layers, a keyword given here overriding
            if stages is not None:
                raise TypeError(f"CspNet(cfg) takes its stages from the cfg; got stages={stages!r} too")
            cfg, left = stem, _LAYER_DEFAULTS
            act_layer = cfg.act_layer if act_layer == left["act_layer"] else act_layer
            norm_layer = cfg.norm_layer if norm_layer == left["norm_layer"] else norm_layer
            aa_layer = cfg.aa_layer if aa_layer == left["aa_layer"] else aa_layer
            zero_init_last = (
                cfg.zero_init_last if zero_init_last == left["zero_init_last"] else zero_init_last
            )
            stem, stages = cfg.stem, cfg.stages
        if stages is None:
            raise TypeError("CspNet needs stages (a CspStagesCfg), or a CspModelCfg as its first argument")
        stem_cfg = as_dataclass(CspStemCfg, stem, "stem")
        stages_cfg = as_dataclass(CspStagesCfg, stages, "stages")
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        layers: dict[str, Any] = dict(act_layer=act_layer, norm_layer=norm_layer, aa_layer=aa_layer)
        fields = {f.name: getattr(stem_cfg, f.name) for f in dataclasses.fields(stem_cfg)}
        self.stem, stem_info = create_csp_stem(in_chans, **fields, **layers)
        self.feature_info = stem_info[:-1]
        cfg = CspModelCfg(stem_cfg, stages_cfg, zero_init_last=zero_init_last, **layers)
        self.stages, stage_info = create_csp_stages(cfg, drop_path_rate, output_stride, stem_info[-1])
        self.feature_info += stage_info
        prev = stage_info[-1]

        self.num_classes = num_classes
        self.num_features = prev["num_chs"]
        self.head = ClassifierHead(self.num_features, num_classes, pool_type=global_pool, drop_rate=drop_rate)
        self.head_hidden_size = self.head.num_features
        self._initialize(zero_init_last=zero_init_last)

    def init_weights(self, zero_init_last: bool = True) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, mean=0.0, std=0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif zero_init_last:
                zero_last = getattr(m, "zero_init_last", None)
                if callable(zero_last):
                    zero_last()

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        if coarse:
            return dict(stem=r"^stem", blocks=r"^stages\.(\d+)")
        return dict(
            stem=r"^stem",
            blocks=[
                (r"^stages\.(\d+)\.blocks\.(\d+)", None),
                (r"^stages\.(\d+)\..*transition", _MATCH_PREV_GROUP),  # with the stage's last block
                (r"^stages\.(\d+)", (0,)),
            ],
        )


# --- variants -------------------------------------------------------------------------------------
# the layer arguments' defaults: what CspNet(cfg, ...) tells given from left alone
_LAYER_DEFAULTS = {
    name: inspect.signature(CspNet.__init__).parameters[name].default
    for name in ("act_layer", "norm_layer", "aa_layer", "zero_init_last")
}
CspNetArgs = model_args_type(CspNet)
_RESNET_STEM = CspStemCfg(out_chs=64, kernel_size=7, stride=4, pool="max")
_DEEP_STEM = CspStemCfg(out_chs=(32, 32, 64), kernel_size=3, stride=4, pool="max")
_DARK_STEM = CspStemCfg(out_chs=32, kernel_size=3, stride=1)
_DARK_CHS = (64, 128, 256, 512, 1024)
_DARK = dict(stride=2, bottle_ratio=0.5, block_ratio=1.0, stage_type="dark", block_type="dark")


def _csp_resnet(stem: CspStemCfg, out_chs: tuple[int, ...], **stages: Any) -> Any:
    return CspNetArgs(
        stem=stem,
        stages=CspStagesCfg(depth=(3, 3, 5, 2), out_chs=out_chs, stride=(1, 2), cross_linear=True, **stages),
    )


def _darknet(depth: tuple[int, ...], **stages: Any) -> Any:
    return CspNetArgs(
        stem=_DARK_STEM, stages=CspStagesCfg(depth=depth, out_chs=_DARK_CHS, **{**_DARK, **stages})
    )


def _cs3(
    width: float = 1.0,
    depth: float = 1.0,
    *,
    focus: bool = False,
    attn_layer: str | None = None,
    attn_kwargs: dict[str, Any] | None = None,
    bottle_ratio: float = 1.0,
    block_type: str = "dark",
) -> Any:
    """The YOLOv5-style CS3 nets, scaled by width and depth; ``focus``: one 6x6 stride-2 stem conv."""
    if focus:
        stem = CspStemCfg(out_chs=make_divisible(64 * width), kernel_size=6, stride=2, padding=2)
    else:
        stem = CspStemCfg(out_chs=tuple(make_divisible(c * width) for c in (32, 64)), kernel_size=3, stride=2)
    stages = CspStagesCfg(
        out_chs=tuple(make_divisible(c * width) for c in (128, 256, 512, 1024)),
        depth=tuple(int(d * depth) for d in (3, 6, 9, 3)),
        stride=2,
        bottle_ratio=bottle_ratio,
        block_ratio=0.5,
        attn_layer=attn_layer,
        attn_kwargs=attn_kwargs,
        stage_type="cs3",
        block_type=block_type,
    )
    return CspNetArgs(stem=stem, stages=stages, act_layer="silu")


_CSPDARKNET53 = CspNetArgs(
    stem=_DARK_STEM,
    stages=CspStagesCfg(
        depth=(1, 2, 8, 8, 4),
        out_chs=_DARK_CHS,
        stride=2,
        expand_ratio=(2.0, 1.0),
        bottle_ratio=(0.5, 1.0),
        block_ratio=(1.0, 0.5),
        down_growth=True,
        block_type="dark",
    ),
)
_CSPRESNEXT50 = _csp_resnet(_RESNET_STEM, (256, 512, 1024, 2048), groups=32, block_ratio=0.5)
_SE_QUARTER: dict[str, Any] = dict(attn_layer="se", attn_kwargs=dict(rd_ratio=0.25))

# NOTE: timm's default backbone levels are six (the stride-1 stem level too) for the names starting
# with darknet / cspdarknet, five for the others (so sedarknet21's default leaves out its last stage)
DARKNET_VARIANTS: dict[str, Any] = {
    "cspdarknet53": _CSPDARKNET53,
    "darknet17": _darknet((1, 1, 1, 1, 1)),
    "darknet21": _darknet((1, 1, 1, 2, 2)),
    "darknet53": _darknet((1, 2, 8, 8, 4)),
    "darknetaa53": _darknet((1, 2, 8, 8, 4), avg_down=True),
    "cspdarknet53_iabn": dataclasses.replace(_CSPDARKNET53, norm_layer="inplaceabn"),
}
VARIANTS: dict[str, Any] = {
    "cspresnet50": _csp_resnet(_RESNET_STEM, (128, 256, 512, 1024), expand_ratio=2.0, bottle_ratio=0.5),
    "cspresnet50d": _csp_resnet(_DEEP_STEM, (128, 256, 512, 1024), expand_ratio=2.0, bottle_ratio=0.5),
    "cspresnet50w": _csp_resnet(_DEEP_STEM, (256, 512, 1024, 2048), bottle_ratio=0.25, block_ratio=0.5),
    "cspresnext50": _CSPRESNEXT50,
    "sedarknet21": _darknet((1, 1, 1, 2, 2), attn_layer="se"),
    "cs3darknet_s": _cs3(0.5, 0.5),
    "cs3darknet_m": _cs3(0.75, 0.67),
    "cs3darknet_l": _cs3(),
    "cs3darknet_x": _cs3(1.25, 1.33),
    "cs3darknet_focus_s": _cs3(0.5, 0.5, focus=True),
    "cs3darknet_focus_m": _cs3(0.75, 0.67, focus=True),
    "cs3darknet_focus_l": _cs3(focus=True),
    "cs3darknet_focus_x": _cs3(1.25, 1.33, focus=True),
    "cs3sedarknet_l": _cs3(**_SE_QUARTER),
    "cs3sedarknet_x": _cs3(1.25, 1.33, attn_layer="se"),
    "cs3sedarknet_xdw": CspNetArgs(
        stem=CspStemCfg(out_chs=(32, 64), kernel_size=3, stride=2),
        stages=CspStagesCfg(
            depth=(3, 6, 12, 4),
            out_chs=(256, 512, 1024, 2048),
            stride=2,
            groups=(1, 1, 256, 512),
            bottle_ratio=0.5,
            block_ratio=0.5,
            attn_layer="se",
        ),
        act_layer="silu",
    ),
    "cs3edgenet_x": _cs3(1.25, 1.33, bottle_ratio=1.5, block_type="edge"),
    "cs3se_edgenet_x": _cs3(1.25, 1.33, bottle_ratio=1.5, block_type="edge", **_SE_QUARTER),
    # In-Place Activated BatchNorm twins (in timm until 0.5; no published weights)
    "cspresnext50_iabn": dataclasses.replace(_CSPRESNEXT50, norm_layer="inplaceabn"),
}

# --- weights --------------------------------------------------------------------------------------
_TPU = RWIGHTMAN_RELEASES + "v0.1-tpu-weights/"  # timm's TPU-trained releases
_BICUBIC = dict(interpolation="bicubic")
# the 'c2' / 'c2ns' recipes: bicubic, evaluated at 288 as well
_C2 = dict(_BICUBIC, test_input_size=(3, 288, 288), test_crop_pct=0.95)
_C2_FULL = dict(_C2, test_crop_pct=1.0)


# "arch.tag": what differs from the family's cfg defaults (one tag per architecture here)
WEIGHTS = {
    "cspresnet50.ra_in1k": weight(url=RWIGHTMAN_RELEASES + "v0.1-weights/cspresnet50_ra-d3e8d487.pth"),
    "cspresnet50d.untrained": weight(NO_WEIGHTS),
    "cspresnet50w.untrained": weight(NO_WEIGHTS),
    "cspresnext50.ra_in1k": weight(url=RWIGHTMAN_RELEASES + "v0.1-weights/cspresnext50_ra_224-648b4713.pth"),
    "cspdarknet53.ra_in1k": weight(url=RWIGHTMAN_RELEASES + "v0.1-weights/cspdarknet53_ra_256-d05c7c21.pth"),
    "darknet17.untrained": weight(NO_WEIGHTS),
    "darknet21.untrained": weight(NO_WEIGHTS),
    "sedarknet21.untrained": weight(NO_WEIGHTS),
    "darknet53.c2ns_in1k": weight(_C2_FULL, url=_TPU + "darknet53_256_c2ns-3aeff817.pth"),
    "darknetaa53.c2ns_in1k": weight(
        url=_TPU + "darknetaa53_c2ns-5c28ec8a.pth", test_input_size=(3, 288, 288), test_crop_pct=1.0
    ),
    "cs3darknet_s.untrained": weight(_BICUBIC, NO_WEIGHTS),
    "cs3darknet_m.c2ns_in1k": weight(_C2, url=_TPU + "cs3darknet_m_c2ns-43f06604.pth"),
    "cs3darknet_l.c2ns_in1k": weight(_C2, url=_TPU + "cs3darknet_l_c2ns-16220c5d.pth"),
    "cs3darknet_x.c2ns_in1k": weight(_C2_FULL, url=_TPU + "cs3darknet_x_c2ns-4e4490aa.pth", crop_pct=0.95),
    "cs3darknet_focus_s.ra4_e3600_r256_in1k": weight(
        _BICUBIC,
        mean=IMAGENET_INCEPTION_MEAN,
        std=IMAGENET_INCEPTION_STD,
        test_input_size=(3, 320, 320),
        test_crop_pct=1.0,
    ),
    "cs3darknet_focus_m.c2ns_in1k": weight(_C2, url=_TPU + "cs3darknet_focus_m_c2ns-e23bed41.pth"),
    "cs3darknet_focus_l.c2ns_in1k": weight(_C2, url=_TPU + "cs3darknet_focus_l_c2ns-65ef8888.pth"),
    "cs3darknet_focus_x.untrained": weight(_BICUBIC, NO_WEIGHTS),
    "cs3sedarknet_l.c2ns_in1k": weight(_C2, url=_TPU + "cs3sedarknet_l_c2ns-e8d1dc13.pth"),
    "cs3sedarknet_x.c2ns_in1k": weight(_C2_FULL, url=_TPU + "cs3sedarknet_x_c2ns-b4d0abc0.pth"),
    "cs3sedarknet_xdw.untrained": weight(_BICUBIC, NO_WEIGHTS),
    "cs3edgenet_x.c2_in1k": weight(_C2_FULL, url=_TPU + "cs3edgenet_x_c2-2e1610a9.pth"),
    "cs3se_edgenet_x.c2ns_in1k": weight(
        _C2_FULL, url=_TPU + "cs3se_edgenet_x_c2ns-76f8e3ac.pth", crop_pct=0.95, test_input_size=(3, 320, 320)
    ),
    "cspresnext50_iabn.untrained": weight(NO_WEIGHTS),
    "cspdarknet53_iabn.untrained": weight(NO_WEIGHTS),
}

_CFG_DEFAULTS = dict(
    input_size=(3, 256, 256),
    pool_size=(8, 8),
    crop_pct=0.887,
    interpolation="bilinear",
    first_conv="stem.conv1.conv",
    classifier="head.fc",
    license="apache-2.0",
)


def _weights_of(variants: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in WEIGHTS.items() if k.partition(".")[0] in variants}


default_cfgs = {
    **register_family(
        __name__,
        model_cls=CspNet,
        variants=VARIANTS,
        weights=_weights_of(VARIANTS),
        cfg_defaults=_CFG_DEFAULTS,
        feature_cfg=dict(flatten_sequential=True, out_indices=(0, 1, 2, 3, 4)),
    ),
    **register_family(
        __name__,
        model_cls=CspNet,
        variants=DARKNET_VARIANTS,
        weights=_weights_of(DARKNET_VARIANTS),
        cfg_defaults=_CFG_DEFAULTS,
        feature_cfg=dict(flatten_sequential=True, out_indices=(0, 1, 2, 3, 4, 5)),
    ),
}


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. cspdarknet53
    return family_entrypoint(__name__, name)
