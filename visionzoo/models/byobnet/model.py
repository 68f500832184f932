"""Bring-your-own-blocks network: a stem, stages of configurable residual blocks, a head.

A network is two frozen records, :class:`ByoModelCfg` (stem, layers, head, defaults for the
blocks) holding a tuple of :class:`ByoBlockCfg` per stage (block kind, depth, width, stride,
group size, bottleneck ratio). The block kinds are small modules registered by name:
``basic``, ``bottle``, ``dark``, ``edge``, ``rep`` (RepVGG), ``one`` (MobileOne) and
``self_attn``. Module names are timm's, so its checkpoints load unchanged.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import nn

from ...layers import (
    AttentionPool2d,
    BatchNormAct2d,
    ClassifierHead,
    ConvNormAct,
    DropBlock2d,
    DropPath,
    NormMlpClassifierHead,
    RotAttentionPool2d,
    create_conv2d,
    get_act_layer,
    get_attn,
    get_norm_act_layer,
    make_divisible,
    to_2tuple,
)
from ...layers.branch_fusion import branch_kernel_bias, conv_like
from ...layers.classifier import check_num_classes
from ...layers.pool import AvgPool2dSame
from ...model import Trunk, VisionModel

__all__ = [
    "BasicBlock",
    "BottleneckBlock",
    "ByoBlockCfg",
    "ByoModelCfg",
    "ByobNet",
    "DarkBlock",
    "EdgeBlock",
    "LayerFn",
    "MobileOneBlock",
    "RepVggBlock",
    "SelfAttnBlock",
    "Stem",
    "create_block",
    "create_byob_stem",
    "interleave_blocks",
    "register_block",
]


# --- configuration records ------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class ByoBlockCfg:
    """One run of identical blocks in a stage.

    Attributes:
        type: block kind (a registered name, or a block class / partial).
        d: how many blocks. c: their output channels. s: stride of the first one.
        gs: channels per group (0 / None: a dense conv, 1: depthwise), or ``f(chs, block_idx)``.
        br: bottleneck ratio of the block's middle width.
        attn_layer, attn_kwargs, self_attn_layer, self_attn_kwargs, block_kwargs: per-block
            overrides of the model's (an empty ``attn_layer`` turns attention off here).
    """

    type: str | Callable[..., nn.Module]
    d: int
    c: int
    s: int = 2
    gs: int | Callable[[int, int], int] | None = None
    br: float = 1.0
    attn_layer: str | None = None
    attn_kwargs: Mapping[str, Any] | None = None
    self_attn_layer: str | None = None
    self_attn_kwargs: Mapping[str, Any] | None = None
    block_kwargs: Mapping[str, Any] | None = None


def interleave_blocks(
    types: tuple[str, str], d: int, every: int | Sequence[int] = 1, first: bool = False, **kwargs: Any
) -> tuple[ByoBlockCfg, ...]:
    """A stage of ``d`` single blocks of ``types[0]``, with ``types[1]`` at the indices in
    ``every``; an int ``n`` puts it at every (n+1)-th block, from 0 when ``first`` else from
    ``n`` (the last block where that leaves none). ``kwargs`` go to every block's record."""
    if isinstance(every, int):
        at = set(range(0 if first else every, d, every + 1)) or {d - 1}
    else:
        at = set(every)
    return tuple(ByoBlockCfg(type=types[1] if i in at else types[0], d=1, **kwargs) for i in range(d))


@dataclasses.dataclass(frozen=True)
class ByoModelCfg:
    """A whole network: stages of blocks, the stem, layer kinds and the head.

    ``blocks`` holds one entry per stage: a :class:`ByoBlockCfg` or a tuple of them (a stage of
    mixed blocks). ``num_features`` > 0 adds a final 1x1 conv of that width. ``head_type`` is
    ``classifier``, ``mlp`` (norm + hidden layer) or ``attn_abs`` / ``attn_rot`` (CLIP's
    attention pooling, ``head_hidden_size`` its embedding width).
    """

    blocks: tuple[ByoBlockCfg | tuple[ByoBlockCfg, ...], ...]
    downsample: str = "conv1x1"
    stem_type: str = "3x3"
    stem_pool: str | None = "maxpool"
    stem_chs: int | tuple[int, ...] = 32
    width_factor: float = 1.0
    num_features: int = 0
    zero_init_last: bool = True
    fixed_input_size: bool = False
    act_layer: Any = "relu"
    norm_layer: Any = "batchnorm"
    aa_layer: Any = ""
    head_hidden_size: int | None = None
    head_type: str = "classifier"
    attn_layer: Any = None
    attn_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    self_attn_layer: Any = None
    self_attn_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    block_kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class LayerFn:
    """The layer factories a block builds from (resolved once per model)."""

    conv_norm_act: Callable[..., nn.Module] = ConvNormAct
    norm_act: Callable[..., nn.Module] = BatchNormAct2d
    act: Callable[..., nn.Module] = nn.ReLU
    attn: Callable[..., nn.Module] | None = None
    self_attn: Callable[..., nn.Module] | None = None


def num_groups(group_size: int | None, channels: int) -> int:
    """Conv groups for ``group_size`` channels per group (falsy: one group)."""
    if not group_size:
        return 1
    if channels % group_size:
        raise ValueError(f"group size {group_size} does not divide {channels} channels")
    return channels // group_size


# --- shortcuts ------------------------------------------------------------------------------------
class DownsampleAvg(nn.Module):
    """Average-pool then 1x1 conv shortcut (the 'D' ResNet downsample)."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        stride: int = 1,
        dilation: int = 1,
        apply_act: bool = False,
        layers: LayerFn | None = None,
    ) -> None:
        super().__init__()
        layers = layers or LayerFn()
        avg_stride = stride if dilation == 1 else 1
        if stride > 1 or dilation > 1:
            pool = AvgPool2dSame if avg_stride == 1 and dilation > 1 else nn.AvgPool2d
            self.pool: nn.Module = pool(2, avg_stride, ceil_mode=True, count_include_pad=False)
        else:
            self.pool = nn.Identity()
        self.conv = layers.conv_norm_act(in_chs, out_chs, 1, apply_act=apply_act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.pool(x))


def create_shortcut(
    downsample_type: str,
    in_chs: int,
    out_chs: int,
    stride: int,
    dilation: tuple[int, int],
    layers: LayerFn,
    **kwargs: Any,
) -> nn.Module | None:
    """The residual shortcut: identity where shapes agree, else an ``avg`` / ``conv1x1``
    projection, or None (no residual) when ``downsample_type`` is empty."""
    if downsample_type not in ("avg", "conv1x1", ""):
        raise ValueError(f"downsample must be 'avg', 'conv1x1' or '', got {downsample_type!r}")
    if in_chs == out_chs and stride == 1 and dilation[0] == dilation[1]:
        return nn.Identity()
    if not downsample_type:
        return None
    if downsample_type == "avg":
        return DownsampleAvg(in_chs, out_chs, stride=stride, dilation=dilation[0], layers=layers, **kwargs)
    return layers.conv_norm_act(in_chs, out_chs, kernel_size=1, stride=stride, dilation=dilation[0], **kwargs)


# --- residual blocks ------------------------------------------------------------------------------
class _ResidualBlock(nn.Module):
    """What the residual blocks share: shortcut, attention before / after the last conv,
    drop-path, output activation, and zeroing the last norm at init."""

    last_conv: str = ""

    def _setup(
        self,
        in_chs: int,
        out_chs: int,
        stride: int,
        dilation: tuple[int, int],
        downsample: str,
        layers: LayerFn,
    ) -> None:
        self.shortcut = create_shortcut(
            downsample, in_chs, out_chs, stride=stride, dilation=dilation, apply_act=False, layers=layers
        )

    def _tail(
        self, mid_chs: int, out_chs: int, attn_last: bool, linear_out: bool, layers: LayerFn, dpr: float
    ) -> None:
        self.attn = nn.Identity() if attn_last or layers.attn is None else layers.attn(mid_chs)

    def _end(self, out_chs: int, attn_last: bool, linear_out: bool, layers: LayerFn, dpr: float) -> None:
        self.attn_last = nn.Identity() if not attn_last or layers.attn is None else layers.attn(out_chs)
        self.drop_path = DropPath(dpr) if dpr > 0.0 else nn.Identity()
        self.act = nn.Identity() if linear_out else layers.act(inplace=True)

    def _residual(self, x: torch.Tensor, shortcut: torch.Tensor) -> torch.Tensor:
        x = self.drop_path(self.attn_last(x))
        if self.shortcut is not None:
            x = x + self.shortcut(shortcut)
        return self.act(x)

    def init_weights(self, zero_init_last: bool = False) -> None:
        norm = getattr(getattr(self, self.last_conv), "bn", None)
        weight = getattr(norm, "weight", None)
        if zero_init_last and self.shortcut is not None and weight is not None:
            nn.init.zeros_(weight)
        for attn in (self.attn, self.attn_last):
            if hasattr(attn, "reset_parameters"):
                cast(Callable[[], None], attn.reset_parameters)()


class BasicBlock(_ResidualBlock):
    """ResNet basic block: kxk conv, kxk conv."""

    last_conv = "conv2_kxk"

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: tuple[int, int] = (1, 1),
        group_size: int | None = None,
        bottle_ratio: float = 1.0,
        downsample: str = "avg",
        attn_last: bool = True,
        linear_out: bool = False,
        layers: LayerFn | None = None,
        drop_block: Callable[[], nn.Module] | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        layers = layers or LayerFn()
        mid_chs = make_divisible(out_chs * bottle_ratio)
        groups = num_groups(group_size, mid_chs)
        self._setup(in_chs, out_chs, stride, dilation, downsample, layers)
        self.conv1_kxk = layers.conv_norm_act(
            in_chs, mid_chs, kernel_size, stride=stride, dilation=dilation[0]
        )
        self._tail(mid_chs, out_chs, attn_last, linear_out, layers, drop_path_rate)
        self.conv2_kxk = layers.conv_norm_act(
            mid_chs,
            out_chs,
            kernel_size,
            dilation=dilation[1],
            groups=groups,
            drop_layer=drop_block,
            apply_act=False,
        )
        self._end(out_chs, attn_last, linear_out, layers, drop_path_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._residual(self.conv2_kxk(self.attn(self.conv1_kxk(x))), x)


class BottleneckBlock(_ResidualBlock):
    """ResNet bottleneck: 1x1, kxk (optionally a second kxk), 1x1; ``bottle_in`` sizes the middle
    from the input width (RegNetZ's inverted bottleneck)."""

    last_conv = "conv3_1x1"

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: tuple[int, int] = (1, 1),
        bottle_ratio: float = 1.0,
        group_size: int | None = None,
        downsample: str = "avg",
        attn_last: bool = False,
        linear_out: bool = False,
        extra_conv: bool = False,
        bottle_in: bool = False,
        layers: LayerFn | None = None,
        drop_block: Callable[[], nn.Module] | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        layers = layers or LayerFn()
        mid_chs = make_divisible((in_chs if bottle_in else out_chs) * bottle_ratio)
        groups = num_groups(group_size, mid_chs)
        self._setup(in_chs, out_chs, stride, dilation, downsample, layers)
        self.conv1_1x1 = layers.conv_norm_act(in_chs, mid_chs, 1)
        self.conv2_kxk = layers.conv_norm_act(
            mid_chs,
            mid_chs,
            kernel_size,
            stride=stride,
            dilation=dilation[0],
            groups=groups,
            drop_layer=drop_block,
        )
        self.conv2b_kxk = (
            layers.conv_norm_act(mid_chs, mid_chs, kernel_size, dilation=dilation[1], groups=groups)
            if extra_conv
            else nn.Identity()
        )
        self._tail(mid_chs, out_chs, attn_last, linear_out, layers, drop_path_rate)
        self.conv3_1x1 = layers.conv_norm_act(mid_chs, out_chs, 1, apply_act=False)
        self._end(out_chs, attn_last, linear_out, layers, drop_path_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.attn(self.conv2b_kxk(self.conv2_kxk(self.conv1_1x1(x))))
        return self._residual(self.conv3_1x1(y), x)


class DarkBlock(_ResidualBlock):
    """DarkNet-style block: 1x1 then a (strided) kxk conv."""

    last_conv = "conv2_kxk"

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: tuple[int, int] = (1, 1),
        bottle_ratio: float = 1.0,
        group_size: int | None = None,
        downsample: str = "avg",
        attn_last: bool = True,
        linear_out: bool = False,
        layers: LayerFn | None = None,
        drop_block: Callable[[], nn.Module] | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        layers = layers or LayerFn()
        mid_chs = make_divisible(out_chs * bottle_ratio)
        groups = num_groups(group_size, mid_chs)
        self._setup(in_chs, out_chs, stride, dilation, downsample, layers)
        self.conv1_1x1 = layers.conv_norm_act(in_chs, mid_chs, 1)
        self._tail(mid_chs, out_chs, attn_last, linear_out, layers, drop_path_rate)
        self.conv2_kxk = layers.conv_norm_act(
            mid_chs,
            out_chs,
            kernel_size,
            stride=stride,
            dilation=dilation[0],
            groups=groups,
            drop_layer=drop_block,
            apply_act=False,
        )
        self._end(out_chs, attn_last, linear_out, layers, drop_path_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._residual(self.conv2_kxk(self.attn(self.conv1_1x1(x))), x)


class EdgeBlock(_ResidualBlock):
    """EdgeResidual-style block: a (strided) kxk conv then 1x1 (DarkBlock's order reversed)."""

    last_conv = "conv2_1x1"

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: tuple[int, int] = (1, 1),
        bottle_ratio: float = 1.0,
        group_size: int | None = None,
        downsample: str = "avg",
        attn_last: bool = False,
        linear_out: bool = False,
        layers: LayerFn | None = None,
        drop_block: Callable[[], nn.Module] | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        layers = layers or LayerFn()
        mid_chs = make_divisible(out_chs * bottle_ratio)
        groups = num_groups(group_size, mid_chs)
        self._setup(in_chs, out_chs, stride, dilation, downsample, layers)
        self.conv1_kxk = layers.conv_norm_act(
            in_chs,
            mid_chs,
            kernel_size,
            stride=stride,
            dilation=dilation[0],
            groups=groups,
            drop_layer=drop_block,
        )
        self._tail(mid_chs, out_chs, attn_last, linear_out, layers, drop_path_rate)
        self.conv2_1x1 = layers.conv_norm_act(mid_chs, out_chs, 1, apply_act=False)
        self._end(out_chs, attn_last, linear_out, layers, drop_path_rate)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._residual(self.conv2_1x1(self.attn(self.conv1_kxk(x))), x)


class SelfAttnBlock(_ResidualBlock):
    """Bottleneck whose middle conv is self-attention: 1x1, optional kxk, attention (with norm +
    act after it), 1x1. ``feat_size`` is the input grid for attention layers that need it."""

    last_conv = "conv3_1x1"

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: tuple[int, int] = (1, 1),
        bottle_ratio: float = 1.0,
        group_size: int | None = None,
        downsample: str = "avg",
        extra_conv: bool = False,
        linear_out: bool = False,
        bottle_in: bool = False,
        post_attn_na: bool = True,
        feat_size: tuple[int, int] | None = None,
        layers: LayerFn | None = None,
        drop_block: Callable[[], nn.Module] | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if layers is None or layers.self_attn is None:
            raise ValueError("SelfAttnBlock needs layers with a self_attn layer")
        mid_chs = make_divisible((in_chs if bottle_in else out_chs) * bottle_ratio)
        groups = num_groups(group_size, mid_chs)
        self._setup(in_chs, out_chs, stride, dilation, downsample, layers)
        self.conv1_1x1 = layers.conv_norm_act(in_chs, mid_chs, 1)
        if extra_conv:
            self.conv2_kxk: nn.Module = layers.conv_norm_act(
                mid_chs,
                mid_chs,
                kernel_size,
                stride=stride,
                dilation=dilation[0],
                groups=groups,
                drop_layer=drop_block,
            )
            stride = 1  # the conv strides
        else:
            self.conv2_kxk = nn.Identity()
        extra = {} if feat_size is None else dict(feat_size=feat_size)
        self.self_attn = layers.self_attn(mid_chs, stride=stride, **extra)
        self.post_attn = layers.norm_act(mid_chs) if post_attn_na else nn.Identity()
        self.conv3_1x1 = layers.conv_norm_act(mid_chs, out_chs, 1, apply_act=False)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0.0 else nn.Identity()
        self.act = nn.Identity() if linear_out else layers.act(inplace=True)

    def init_weights(self, zero_init_last: bool = False) -> None:
        weight = getattr(self.conv3_1x1.bn, "weight", None)
        if zero_init_last and self.shortcut is not None and weight is not None:
            nn.init.zeros_(weight)
        if hasattr(self.self_attn, "reset_parameters"):
            cast(Callable[[], None], self.self_attn.reset_parameters)()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.post_attn(self.self_attn(self.conv2_kxk(self.conv1_1x1(x))))
        y = self.drop_path(self.conv3_1x1(y))
        if self.shortcut is not None:
            y = y + self.shortcut(x)
        return self.act(y)


# --- re-parameterisable blocks --------------------------------------------------------------------
def _branch_kernel_bias(branch: nn.Module, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """A branch of a re-parameterisable block as ``(kernel, bias)``: a ConvNormAct's conv and
    norm, else a norm alone (the identity branch)."""
    if isinstance(branch, ConvNormAct):
        return branch_kernel_bias(branch.conv, branch.bn, like)
    return branch_kernel_bias(None, branch, like)


class _Reparameterizable(nn.Module):
    """A block trained with parallel linear branches (kxk convs, a 1x1 conv, an identity norm)
    that infers as one conv: :meth:`reparameterize` sums the branches into ``reparam_conv``."""

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        reparam_conv: nn.Conv2d | None
        identity: nn.Module | None
        groups: int

    def _conv_branches(self) -> list[nn.Module]:
        raise NotImplementedError

    def _scale_branch(self) -> nn.Module | None:
        raise NotImplementedError

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Fuse the branches into ``reparam_conv`` (exact for the eval statistics); the branches
        go, so the state dict is then timm's reparameterised one. timm's name for the step."""
        if self.reparam_conv is not None:
            return
        convs = self._conv_branches()
        ref = cast(nn.Conv2d, convs[0].conv)
        weight = ref.weight
        kernel = torch.zeros_like(weight, dtype=torch.float64)
        bias = torch.zeros(weight.shape[0], dtype=torch.float64, device=weight.device)
        for branch in [*convs, self._scale_branch(), self.identity]:
            if branch is not None:
                k, b = _branch_kernel_bias(branch, weight)
                kernel, bias = kernel + k, bias + b
        conv = conv_like(ref, kernel, bias)
        self.reparam_conv = conv
        self._drop_branches()

    def fuse_for_inference(self) -> None:
        """The hook :func:`visionzoo.optimize_for_inference` calls: the re-parameterisation."""
        self.reparameterize()

    def _drop_branches(self) -> None:
        raise NotImplementedError


class RepVggBlock(_Reparameterizable):
    """RepVGG block: kxk conv + 1x1 conv + identity norm (where shapes agree), summed, then
    attention and activation; one kxk conv after :meth:`reparameterize`."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: tuple[int, int] = (1, 1),
        bottle_ratio: float = 1.0,
        group_size: int | None = None,
        downsample: str = "",
        layers: LayerFn | None = None,
        drop_block: Callable[[], nn.Module] | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.groups = groups = num_groups(group_size, in_chs)
        layers = layers or LayerFn()
        self.reparam_conv: nn.Conv2d | None = None
        use_ident = in_chs == out_chs and stride == 1 and dilation[0] == dilation[1]
        self.identity: nn.Module | None = layers.norm_act(out_chs, apply_act=False) if use_ident else None
        self.conv_kxk: nn.Module | None = layers.conv_norm_act(
            in_chs,
            out_chs,
            kernel_size,
            stride=stride,
            dilation=dilation[0],
            groups=groups,
            drop_layer=drop_block,
            apply_act=False,
        )
        self.conv_1x1: nn.Module | None = layers.conv_norm_act(
            in_chs, out_chs, 1, stride=stride, groups=groups, apply_act=False
        )
        self.drop_path: nn.Module | None = (
            DropPath(drop_path_rate) if drop_path_rate > 0.0 and use_ident else nn.Identity()
        )
        self.attn = nn.Identity() if layers.attn is None else layers.attn(out_chs)
        self.act = layers.act(inplace=True)

    def init_weights(self, zero_init_last: bool = False) -> None:
        for m in self.modules():  # RepVGG's own init of its branch norms
            if isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 0.1, 0.1)
                nn.init.normal_(m.bias, 0, 0.1)
        if hasattr(self.attn, "reset_parameters"):
            cast(Callable[[], None], self.attn.reset_parameters)()

    def _conv_branches(self) -> list[nn.Module]:
        assert self.conv_kxk is not None
        return [self.conv_kxk]

    def _scale_branch(self) -> nn.Module | None:
        return self.conv_1x1

    def _drop_branches(self) -> None:
        self.conv_kxk = self.conv_1x1 = self.identity = self.drop_path = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reparam_conv is not None:
            return self.act(self.attn(self.reparam_conv(x)))
        assert self.conv_kxk is not None and self.conv_1x1 is not None and self.drop_path is not None
        y = self.conv_1x1(x) + self.conv_kxk(x)
        if self.identity is not None:
            y = self.drop_path(y) + self.identity(x)
        return self.act(self.attn(y))


class MobileOneBlock(_Reparameterizable):
    """MobileOne block: ``num_conv_branches`` kxk convs + a 1x1 conv (for k > 1) + identity norm
    (where shapes agree), summed, then attention and activation; one conv after
    :meth:`reparameterize`."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: tuple[int, int] = (1, 1),
        bottle_ratio: float = 1.0,  # NOTE: unused; every block takes the stage arguments
        group_size: int | None = None,
        downsample: str = "",
        num_conv_branches: int = 1,
        layers: LayerFn | None = None,
        drop_block: Callable[[], nn.Module] | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_conv_branches = num_conv_branches
        self.groups = groups = num_groups(group_size, in_chs)
        layers = layers or LayerFn()
        self.reparam_conv: nn.Conv2d | None = None
        use_ident = in_chs == out_chs and stride == 1 and dilation[0] == dilation[1]
        self.identity: nn.Module | None = layers.norm_act(out_chs, apply_act=False) if use_ident else None
        self.conv_kxk: nn.ModuleList | None = nn.ModuleList(
            layers.conv_norm_act(in_chs, out_chs, kernel_size, stride=stride, groups=groups, apply_act=False)
            for _ in range(num_conv_branches)
        )
        self.conv_scale: nn.Module | None = (
            layers.conv_norm_act(in_chs, out_chs, 1, stride=stride, groups=groups, apply_act=False)
            if kernel_size > 1
            else None
        )
        self.drop_path: nn.Module | None = (
            DropPath(drop_path_rate) if drop_path_rate > 0.0 and use_ident else nn.Identity()
        )
        self.attn = nn.Identity() if layers.attn is None else layers.attn(out_chs)
        self.act = layers.act(inplace=True)

    def _conv_branches(self) -> list[nn.Module]:
        assert self.conv_kxk is not None
        return list(self.conv_kxk)

    def _scale_branch(self) -> nn.Module | None:
        return self.conv_scale

    def _drop_branches(self) -> None:
        self.conv_kxk = self.conv_scale = self.identity = self.drop_path = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.reparam_conv is not None:
            return self.act(self.attn(self.reparam_conv(x)))
        assert self.conv_kxk is not None and self.drop_path is not None
        y: torch.Tensor | None = None if self.conv_scale is None else self.conv_scale(x)
        for conv in self.conv_kxk:
            y = conv(x) if y is None else y + conv(x)
        assert y is not None
        y = self.drop_path(y)
        if self.identity is not None:
            y = y + self.identity(x)
        return self.act(self.attn(y))


_BLOCKS: dict[str, Callable[..., nn.Module]] = dict(
    basic=BasicBlock,
    bottle=BottleneckBlock,
    dark=DarkBlock,
    edge=EdgeBlock,
    rep=RepVggBlock,
    one=MobileOneBlock,
    self_attn=SelfAttnBlock,
)


def register_block(block_type: str, block_fn: Callable[..., nn.Module]) -> None:
    """Make a block kind available to :class:`ByoBlockCfg` by name."""
    _BLOCKS[block_type] = block_fn


def create_block(block: str | Callable[..., nn.Module], **kwargs: Any) -> nn.Module:
    """Build one block of a registered kind (or from a block class / partial)."""
    if not isinstance(block, str):
        return block(**kwargs)
    if block not in _BLOCKS:
        raise ValueError(f"unknown block type {block!r}; valid: {', '.join(sorted(_BLOCKS))}")
    return _BLOCKS[block](**kwargs)


# --- stem -----------------------------------------------------------------------------------------
class Stem(nn.Sequential):
    """A stack of convs (``conv1``..) and an optional pool reaching stride 2 or 4.

    ``feature_info`` lists the maps before each stride past the first conv, then the output;
    ``last_feat_idx`` is the child whose output is the last such tap (None: the output itself).
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int | Sequence[int],
        kernel_size: int = 3,
        stride: int = 4,
        pool: str | None = "maxpool",
        num_rep: int = 3,
        num_act: int | None = None,
        chs_decay: float = 0.5,
        layers: LayerFn | None = None,
    ) -> None:
        super().__init__()
        if stride not in (2, 4):
            raise ValueError(f"stem stride must be 2 or 4, got {stride}")
        layers = layers or LayerFn()
        if isinstance(out_chs, (list, tuple)):
            num_rep, stem_chs = len(out_chs), list(out_chs)
        else:
            stem_chs = [round(int(cast(int, out_chs)) * chs_decay**i) for i in range(num_rep)][::-1]
        self.stride = stride
        self.feature_info: list[dict[str, Any]] = []
        strides = [2] + [1] * (num_rep - 1)
        if stride == 4 and not pool:  # no pool: the last conv strides
            strides[-1] = 2
        num_act = num_rep if num_act is None else num_act
        with_norm = [False] * (num_rep - num_act) + [True] * num_act  # the first convs may be bare
        prev_chs, reduction, prev_feat, last_feat_idx = in_chs, 1, "", -1
        for i, (chs, s, na) in enumerate(zip(stem_chs, strides, with_norm)):
            if i > 0 and s > 1:
                last_feat_idx = i - 1
                self.feature_info.append(
                    dict(num_chs=prev_chs, reduction=reduction, module=prev_feat, stage=0)
                )
            conv = (
                layers.conv_norm_act(prev_chs, chs, kernel_size=kernel_size, stride=s)
                if na
                else create_conv2d(prev_chs, chs, kernel_size, stride=s)
            )
            self.add_module(f"conv{i + 1}", conv)
            prev_chs, reduction, prev_feat = chs, reduction * s, f"conv{i + 1}"
        if pool:
            pool = pool.lower()
            pools: dict[str, Callable[[], nn.Module]] = {
                "max2": lambda: nn.MaxPool2d(2),
                "avg2": lambda: nn.AvgPool2d(2),
                "max": lambda: nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
                "avg": lambda: nn.AvgPool2d(kernel_size=3, stride=2, padding=1, count_include_pad=False),
            }
            kind = pool if pool in pools else pool.removesuffix("pool")
            if kind not in pools:
                raise ValueError(f"unknown stem pool {pool!r}; valid: max, maxpool, avg, avgpool, max2, avg2")
            last_feat_idx = num_rep - 1
            self.feature_info.append(dict(num_chs=prev_chs, reduction=reduction, module=prev_feat, stage=0))
            self.add_module("pool", pools[kind]())
            reduction *= 2
            prev_feat = "pool"
        self.last_feat_idx = last_feat_idx if last_feat_idx >= 0 else None
        self.feature_info.append(dict(num_chs=prev_chs, reduction=reduction, module=prev_feat, stage=0))
        if reduction != stride:
            raise ValueError(f"stem reaches stride {reduction}, not {stride}")

    def prune_to_tap(self) -> None:
        """End the stem at its last tap (the layers after it become identities)."""
        if self.last_feat_idx is not None:
            for name in list(self._modules)[self.last_feat_idx + 1 :]:
                setattr(self, name, nn.Identity())


_STEM_TYPES = ("", "quad", "quad2", "tiered", "deep", "rep", "one", "7x7", "3x3")


def create_byob_stem(
    in_chs: int,
    out_chs: int | Sequence[int],
    stem_type: str = "",
    pool_type: str | None = "",
    feat_prefix: str = "stem",
    layers: LayerFn | None = None,
) -> tuple[nn.Module, list[dict[str, Any]]]:
    """The stem of ``stem_type`` and its feature levels (module paths under ``feat_prefix``)."""
    layers = layers or LayerFn()
    if stem_type not in _STEM_TYPES:
        raise ValueError(f"unknown stem type {stem_type!r}; valid: {', '.join(map(repr, _STEM_TYPES))}")
    width = out_chs if isinstance(out_chs, int) else 0
    stem: nn.Module
    if "quad" in stem_type:  # NFNet-like: four 3x3 convs (quad2: the first two without norm + act)
        stem = Stem(
            in_chs,
            width,
            num_rep=4,
            num_act=2 if "quad2" in stem_type else None,
            pool=pool_type,
            layers=layers,
        )
    elif "tiered" in stem_type:  # ResNet-T: 3/8, 1/2 then all the width
        stem = Stem(in_chs, (3 * width // 8, width // 2, width), pool=pool_type, layers=layers)
    elif "deep" in stem_type:  # ResNet-D: three convs of the full width
        stem = Stem(in_chs, width, num_rep=3, chs_decay=1.0, pool=pool_type, layers=layers)
    elif "rep" in stem_type:
        stem = RepVggBlock(in_chs, width, stride=2, layers=layers)
    elif "one" in stem_type:
        stem = MobileOneBlock(in_chs, width, kernel_size=3, stride=2, layers=layers)
    elif "7x7" in stem_type:
        if pool_type:
            stem = Stem(in_chs, width, 7, num_rep=1, pool=pool_type, layers=layers)
        else:
            stem = layers.conv_norm_act(in_chs, width, 7, stride=2)
    elif not isinstance(out_chs, int):
        stem = Stem(in_chs, out_chs, 3, pool=pool_type, layers=layers)
    elif pool_type:
        stem = Stem(in_chs, width, 3, num_rep=1, pool=pool_type, layers=layers)
    else:  # RegNet's single strided 3x3 conv
        stem = layers.conv_norm_act(in_chs, width, 3, stride=2)
    if isinstance(stem, Stem):
        info = [dict(f, module=f"{feat_prefix}.{f['module']}") for f in stem.feature_info]
    else:
        info = [dict(num_chs=width, reduction=2, module=feat_prefix, stage=0)]
    return stem, info


# --- stages ---------------------------------------------------------------------------------------
def _reduce_feat_size(feat_size: tuple[int, int] | None, stride: int = 2) -> tuple[int, int] | None:
    return None if feat_size is None else (feat_size[0] // stride, feat_size[1] // stride)


def _pick(block_value: Any, model_value: Any) -> Any:
    """A block's kwargs replace (never merge with) the model's when set."""
    return (block_value if block_value is not None else model_value) or {}


def _block_layers(layers: LayerFn, block: ByoBlockCfg, cfg: ByoModelCfg) -> LayerFn:
    """The model's layers with the block's attention / self-attention overrides."""
    if block.attn_layer is not None or block.attn_kwargs is not None:
        if block.attn_layer is not None and not block.attn_layer:
            attn = None  # '' turns attention off for this block
        else:
            kind = get_attn(block.attn_layer or cfg.attn_layer)
            attn = partial(kind, **_pick(block.attn_kwargs, cfg.attn_kwargs)) if kind is not None else None
        layers = dataclasses.replace(layers, attn=attn)
    if block.self_attn_layer is not None or block.self_attn_kwargs is not None:
        if block.self_attn_layer is not None and not block.self_attn_layer:
            self_attn = None
        else:
            kind = get_attn(block.self_attn_layer or cfg.self_attn_layer)
            kwargs = _pick(block.self_attn_kwargs, cfg.self_attn_kwargs)
            self_attn = partial(kind, **kwargs) if kind is not None else None
        layers = dataclasses.replace(layers, self_attn=self_attn)
    return layers


def _drop_block_layers(drop_prob: float, block_size: int, num_stages: int) -> list[Any]:
    """DropBlock for the last two stages (the one before the last at twice the block size)."""
    layers: list[Any] = [None] * num_stages
    if drop_prob:
        layers[-2] = partial(
            DropBlock2d, drop_prob=drop_prob, block_size=block_size * 2 - 1, gamma_scale=0.25
        )
        layers[-1] = partial(DropBlock2d, drop_prob=drop_prob, block_size=block_size, gamma_scale=1.0)
    return layers


def _expand_stage(stage: ByoBlockCfg | Sequence[ByoBlockCfg]) -> list[ByoBlockCfg]:
    runs = (stage,) if isinstance(stage, ByoBlockCfg) else tuple(stage)
    return [dataclasses.replace(run, d=1) for run in runs for _ in range(run.d)]


def create_byob_stages(
    cfg: ByoModelCfg,
    drop_path_rate: float,
    output_stride: int,
    stem_feat: dict[str, Any],
    *,
    drop_block_rate: float = 0.0,
    drop_block_size: int = 3,
    feat_size: tuple[int, int] | None = None,
    layers: LayerFn | None = None,
) -> tuple[nn.Sequential, list[dict[str, Any]], tuple[int, int] | None]:
    """The stages after a stem whose output level is ``stem_feat``: the modules, the feature
    levels (each output a stride follows, then the last), and the grid after them."""
    layers = layers or LayerFn()
    stage_blocks = [_expand_stage(s) for s in cfg.blocks]
    depths = [len(s) for s in stage_blocks]
    rates = [r.tolist() for r in torch.linspace(0, drop_path_rate, sum(depths), device="cpu").split(depths)]
    drop_blocks = _drop_block_layers(drop_block_rate, drop_block_size, len(stage_blocks))
    feature_info: list[dict[str, Any]] = []
    dilation, net_stride = 1, stem_feat["reduction"]
    prev_chs, prev_feat = stem_feat["num_chs"], stem_feat
    stages = []
    for stage_idx, blocks_cfg in enumerate(stage_blocks):
        stride = blocks_cfg[0].s
        if stride != 1 and prev_feat:
            feature_info.append(prev_feat)
        if net_stride >= output_stride and stride > 1:
            dilation *= stride
            stride = 1
        net_stride *= stride
        first_dilation = 1 if dilation in (1, 2) else 2
        blocks = []
        for block_idx, block in enumerate(blocks_cfg):
            out_chs = make_divisible(block.c * cfg.width_factor)
            group_size = block.gs(out_chs, block_idx) if callable(block.gs) else block.gs
            kwargs: dict[str, Any] = dict(
                in_chs=prev_chs,
                out_chs=out_chs,
                stride=stride if block_idx == 0 else 1,
                dilation=(first_dilation, dilation),
                group_size=group_size,
                bottle_ratio=block.br,
                downsample=cfg.downsample,
                drop_block=drop_blocks[stage_idx],
                drop_path_rate=rates[stage_idx][block_idx],
                layers=_block_layers(layers, block, cfg),
            )
            if block.type == "self_attn":
                kwargs["feat_size"] = feat_size
            kwargs.update(_pick(block.block_kwargs, cfg.block_kwargs))
            blocks.append(create_block(block.type, **kwargs))
            first_dilation, prev_chs = dilation, out_chs
            if stride > 1 and block_idx == 0:
                feat_size = _reduce_feat_size(feat_size, stride)
        stages.append(nn.Sequential(*blocks))
        prev_feat = dict(
            num_chs=prev_chs, reduction=net_stride, module=f"stages.{stage_idx}", stage=stage_idx + 1
        )
    feature_info.append(prev_feat)
    return nn.Sequential(*stages), feature_info, feat_size


def get_layer_fns(cfg: ByoModelCfg, allow_aa: bool = True) -> LayerFn:
    """The layer factories of ``cfg`` (anti-aliasing only where allowed: not in the stem)."""
    act = get_act_layer(cfg.act_layer)
    norm_act = get_norm_act_layer(cfg.norm_layer, act)
    aa = dict(aa_layer=cfg.aa_layer) if cfg.aa_layer and allow_aa else {}
    conv_norm_act = partial(ConvNormAct, norm_layer=cfg.norm_layer, act_layer=act, **aa)
    attn_fn = get_attn(cfg.attn_layer)  # None exactly when cfg.attn_layer is falsy
    attn = partial(attn_fn, **cfg.attn_kwargs) if attn_fn is not None else None
    self_attn_fn = get_attn(cfg.self_attn_layer)
    self_attn = partial(self_attn_fn, **cfg.self_attn_kwargs) if self_attn_fn is not None else None
    return LayerFn(
        conv_norm_act=conv_norm_act,
        norm_act=cast(Callable[..., nn.Module], norm_act),
        act=cast(Callable[..., nn.Module], act),
        attn=attn,
        self_attn=self_attn,
    )


# --- model ----------------------------------------------------------------------------------------
_HEAD_TYPES = ("", "classifier", "mlp", "attn_abs", "attn_rot")


class ByobNet(VisionModel):
    """Bring-your-own-blocks network: ``stem``, ``stages`` of blocks, ``final_conv`` (a 1x1 conv
    widening to ``cfg.num_features``, or an identity) and ``head``.

    Feature levels: the stem's last map before a stride (or its output), each stage output a
    stride follows, and ``final_conv``'s output (the last stage's, widened).

    Args:
        cfg: the network (:class:`ByoModelCfg`).
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        global_pool: pooling (default ``avg``; ``token`` for attention-pool heads).
        output_stride: 32, 16 or 8 (later stages are dilated instead of strided).
        img_size: input size, for attention pooling and self-attention blocks sized to their grid.
        drop_rate: dropout before the classifier.
        drop_block_rate, drop_block_size: DropBlock in the last two stages.
        drop_path_rate: stochastic depth, rising over the stages.
        zero_init_last: zero the last norm of each residual branch at init.
    """

    trunk = Trunk(stem=("stem",), stages=("stages.*", "final_conv"))
    classifier_name = "head.fc"
    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        global_pool: str  # type: ignore[assignment]  # a pool type, not a pooling module

    def __init__(
        self,
        cfg: ByoModelCfg,
        num_classes: int = 1000,
        in_chans: int = 3,
        *,
        global_pool: str | None = None,
        output_stride: int = 32,
        img_size: int | tuple[int, int] | None = None,
        drop_rate: float = 0.0,
        drop_block_rate: float = 0.0,
        drop_block_size: int = 3,
        drop_path_rate: float = 0.0,
        zero_init_last: bool = True,
    ) -> None:
        super().__init__()
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")
        if cfg.head_type not in _HEAD_TYPES:
            raise ValueError(f"head_type must be one of {_HEAD_TYPES}, got {cfg.head_type!r}")
        if cfg.fixed_input_size and img_size is None:
            raise ValueError("this model has a fixed input size: pass img_size")
        check_num_classes(num_classes)
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        feat_size = to_2tuple(img_size) if img_size is not None else None
        if isinstance(cfg.stem_chs, (list, tuple)):
            stem_chs: int | list[int] = [round(c * cfg.width_factor) for c in cfg.stem_chs]
        else:
            first = cfg.blocks[0]
            width = cfg.stem_chs or (first.c if isinstance(first, ByoBlockCfg) else first[0].c)
            stem_chs = round(width * cfg.width_factor)
        self.stem, stem_feat = create_byob_stem(
            in_chans, stem_chs, cfg.stem_type, cfg.stem_pool, layers=get_layer_fns(cfg, allow_aa=False)
        )
        self.feature_info = stem_feat[:-1]
        feat_size = _reduce_feat_size(feat_size, stride=stem_feat[-1]["reduction"])
        stage_layers = get_layer_fns(cfg)
        self.stages, stage_feat, feat_size = create_byob_stages(
            cfg,
            drop_path_rate,
            output_stride,
            stem_feat[-1],
            drop_block_rate=drop_block_rate,
            drop_block_size=drop_block_size,
            layers=stage_layers,
            feat_size=feat_size,
        )
        self.feature_info.extend(stage_feat[:-1])
        prev_chs = stage_feat[-1]["num_chs"]
        if cfg.num_features:
            self.num_features = round(cfg.width_factor * cfg.num_features)
            self.final_conv: nn.Module = stage_layers.conv_norm_act(prev_chs, self.num_features, 1)
        else:
            self.num_features = prev_chs
            self.final_conv = nn.Identity()
        self.feature_info.append(
            dict(
                num_chs=self.num_features,
                reduction=stage_feat[-1]["reduction"],
                module="final_conv",
                stage=len(self.stages),
            )
        )
        self.num_classes = num_classes
        self.head: nn.Module
        if cfg.head_type == "mlp":
            global_pool = "avg" if global_pool is None else global_pool
            self.head = NormMlpClassifierHead(
                self.num_features,
                num_classes,
                hidden_size=cfg.head_hidden_size,
                pool_type=global_pool,
                norm_layer=cfg.norm_layer,
                act_layer=cfg.act_layer,
                drop_rate=drop_rate,
            )
            self.head_hidden_size = int(self.head.num_features)
        elif cfg.head_type in ("attn_abs", "attn_rot"):
            global_pool = "token" if global_pool is None else global_pool
            if global_pool not in ("", "token"):
                raise ValueError(f"an attention-pool head pools with 'token' (or ''), got {global_pool!r}")
            size: dict[str, Any] = (
                {}
                if feat_size is None
                else {"feat_size" if cfg.head_type == "attn_abs" else "ref_feat_size": feat_size}
            )
            pool_cls = AttentionPool2d if cfg.head_type == "attn_abs" else RotAttentionPool2d
            self.head = pool_cls(
                self.num_features,
                embed_dim=cfg.head_hidden_size,
                out_features=num_classes,
                pool_type=global_pool,
                drop_rate=drop_rate,
                qkv_separate=True,
                **size,
            )
            self.head_hidden_size = int(self.head.embed_dim)
        else:
            global_pool = "avg" if global_pool is None else global_pool
            if cfg.head_hidden_size is not None:
                raise ValueError("a classifier head has no hidden layer: head_hidden_size must be None")
            self.head = ClassifierHead(
                self.num_features, num_classes, pool_type=global_pool, drop_rate=drop_rate
            )
            self.head_hidden_size = int(self.head.num_features)
        self.global_pool = global_pool  # NOTE: the pool type (a str, as timm); the head pools
        self._initialize(zero_init_last=zero_init_last)

    def init_weights(self, zero_init_last: bool = True) -> None:
        """He-normal (fan-out) convs, N(0, 0.01) linears, unit norms; then each block's own init
        (zeroed last norms, RepVGG's branch norms), children before parents."""
        for m in reversed(list(self.modules())):  # NOTE: reversed pre-order puts children before parents
            if isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                nn.init.normal_(m.weight, 0, math.sqrt(2.0 / fan_out))
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, mean=0.0, std=0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif m is not self and hasattr(m, "init_weights"):
                cast(Callable[..., None], m.init_weights)(zero_init_last=zero_init_last)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem",
            blocks=[
                (r"^stages\.(\d+)" if coarse else r"^stages\.(\d+)\.(\d+)", None),
                (r"^final_conv", (99999,)),
            ],
        )

    def _attention_pooled(self) -> bool:
        return isinstance(self.head, (AttentionPool2d, RotAttentionPool2d))

    def get_classifier(self, name_only: bool = False) -> nn.Module | str:
        name = "head.proj" if self._attention_pooled() else "head.fc"
        return name if name_only else self.get_submodule(name)

    def _classifier(self) -> nn.Module:
        return self.get_submodule("head.proj" if self._attention_pooled() else "head.fc")

    def reset_classifier(
        self, num_classes: int, global_pool: str | None = None, reset_other: bool = False
    ) -> None:
        """A fresh ``num_classes`` classifier (0 removes it); ``reset_other`` also drops an MLP
        head's norm and hidden layer."""
        check_num_classes(num_classes)
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else torch.device("cpu")
        head = self.head
        with torch.device(device):
            if isinstance(head, (AttentionPool2d, RotAttentionPool2d)):
                head.reset(num_classes, global_pool)
            elif isinstance(head, NormMlpClassifierHead):
                head.reset(num_classes, global_pool, reset_other=reset_other, in_features=self.num_features)
                self.head_hidden_size = int(head.num_features)
            elif isinstance(head, ClassifierHead):
                head.in_features = self.num_features
                head.reset(num_classes, global_pool)
                self.head_hidden_size = int(head.num_features)
        if ref is not None:
            head.to(dtype=ref.dtype)
        self.num_classes = num_classes
        if global_pool is not None:
            self.global_pool = global_pool

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def _prune_trunk(self, max_index: int) -> None:
        """A stem level may be read inside the stem (before its last stride): the stem ends there."""
        super()._prune_trunk(max_index)
        if max_index == 0 and isinstance(self.stem, Stem):
            self.stem.prune_to_tap()

    def _prune_head(self) -> None:
        """An attention pool is the head: it becomes a parameter-free pass-through."""
        if self._attention_pooled():
            ref = next(self.parameters(), None)
            self.head = ClassifierHead(self.num_features, 0, pool_type="")
            if ref is not None:
                self.head.to(device=ref.device, dtype=ref.dtype)
            self.head.train(self.training)
            self.num_classes = 0
            self.global_pool = ""
            self.head_hidden_size = self.num_features
        else:
            self.reset_classifier(0, "", reset_other=True)


# --- checkpoint remap -----------------------------------------------------------------------------
_CLIP_CONV = {"1": "conv1_1x1", "2": "conv2_kxk", "3": "conv3_1x1"}
_CLIP_RENAMES: tuple[tuple[re.Pattern[str], Any], ...] = (
    (re.compile(r"^conv(\d)\."), r"stem.conv\1.conv."),
    (re.compile(r"^bn(\d)\."), r"stem.conv\1.bn."),
    (
        re.compile(r"^layer(\d)\.(\d+)\.([a-z]+)(\d)\."),
        lambda m: f"stages.{int(m[1]) - 1}.{m[2]}.{_CLIP_CONV[m[4]]}.{m[3]}.",
    ),
    (
        re.compile(r"^layer(\d)\.(\d+)\.downsample\.(\d)\."),
        lambda m: f"stages.{int(m[1]) - 1}.{m[2]}.shortcut.{'conv.conv' if m[3] == '0' else 'conv.bn'}.",
    ),
    (re.compile(r"^attnpool\."), "head."),
    (re.compile(r"positional_embedding"), "pos_embed"),
    (re.compile(r"\b([qkvc])_proj\b"), lambda m: "proj" if m[1] == "c" else m[1]),
)


def checkpoint_filter_fn(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """OpenAI CLIP's ``visual.*`` ResNet keys -> ByobNet's (the attention pool only where the
    model has one); any other checkpoint passes unchanged."""
    if "visual.conv1.weight" not in state_dict:
        return state_dict
    pooled = isinstance(getattr(model, "head", None), (AttentionPool2d, RotAttentionPool2d))
    out = {}
    for key, value in state_dict.items():
        if not key.startswith("visual."):
            continue
        key = key.removeprefix("visual.")
        if key.startswith("attnpool.") and not pooled:
            continue
        for pattern, repl in _CLIP_RENAMES:
            key = pattern.sub(repl, key)
        out[key] = value
    return out
