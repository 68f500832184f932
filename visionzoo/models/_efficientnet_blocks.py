"""The blocks of the EfficientNet / MobileNet families, assembled by ``_efficientnet_builder``.

Every block takes ``in_chs``, ``out_chs``, ``stride``, ``dilation``, ``pad_type`` (``''``, ``'same'``
for TF ports), ``act_layer`` / ``norm_layer`` and ``drop_path_rate``, and reports where its
features can be tapped with ``feature_info(location)``: the block output (``'bottleneck'``) or
the expanded width before the final projection (``'expansion'``).

Papers: MobileNetV2 (https://arxiv.org/abs/1801.04381), EfficientNet
(https://arxiv.org/abs/1905.11946), EfficientNet-EdgeTPU / FusedMBConv
(https://arxiv.org/abs/2104.00298), CondConv (https://arxiv.org/abs/1904.04971), MobileNetV4
(https://arxiv.org/abs/2404.10518).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import (
    BatchNormAct2d,
    ConvNormAct,
    DropPath,
    act_or_identity,
    create_aa,
    create_conv2d,
    get_norm_act_layer,
)
from ..layers.activations import LayerType
from ..layers.attention2d import Attention2d, MultiQueryAttention2d
from ..layers.cond_conv2d import CondConv2d
from ..layers.helpers import make_divisible
from ..layers.layer_scale import LayerScale2d
from ..layers.mixed_conv2d import MixedConv2d

__all__ = [
    "CondConvResidual",
    "ConvBnAct",
    "DepthwiseSeparableConv",
    "EdgeResidual",
    "InvertedResidual",
    "MobileAttention",
    "SqueezeExcite",
    "UniversalInvertedResidual",
    "create_block_conv",
    "num_groups",
]

KernelSize = int | list[int]


def num_groups(group_size: int | None, channels: int) -> int:
    """Conv groups for ``group_size`` channels per group (0/None: one group, a full conv)."""
    if not group_size:
        return 1
    if channels % group_size:
        raise ValueError(f"group_size={group_size} does not divide {channels} channels")
    return channels // group_size


def create_block_conv(
    in_chs: int,
    out_chs: int,
    kernel_size: KernelSize,
    *,
    stride: int = 1,
    dilation: int = 1,
    groups: int = 1,
    padding: str | int = "",
    bias: bool = False,
    num_experts: int = 0,
) -> nn.Module:
    """A conv for a block: mixed kernels for a list of sizes, CondConv with experts, else plain."""
    if isinstance(kernel_size, (list, tuple)):
        if num_experts:
            raise ValueError("mixed kernel sizes cannot be combined with CondConv experts")
        if groups not in (1, in_chs):
            raise ValueError(f"a mixed conv is depthwise or dense, got groups={groups} for {in_chs} channels")
        return MixedConv2d(
            in_chs, out_chs, list(kernel_size), stride=stride, padding=padding, dilation=dilation,
            depthwise=groups == in_chs and groups > 1, bias=bias,
        )  # fmt: skip
    if num_experts > 0:
        return CondConv2d(
            in_chs, out_chs, kernel_size, stride=stride, padding=padding, dilation=dilation,
            groups=groups, bias=bias, num_experts=num_experts,
        )  # fmt: skip
    return create_conv2d(
        in_chs,
        out_chs,
        kernel_size,
        stride=stride,
        padding=padding,
        dilation=dilation,
        groups=groups,
        bias=bias,
    )


def _aa(aa_layer: LayerType | None, channels: int, *, stride: int, enable: bool) -> nn.Module:
    """The anti-aliasing downsample of a strided block (identity when off)."""
    return create_aa(aa_layer, channels, stride=stride, enable=enable) or nn.Identity()


def _fold_mixed_convs(block: nn.Module, pairs: tuple[tuple[str, str], ...]) -> None:
    """Fold each batch norm that follows a mixed-kernel conv into it (``optimize_for_inference``
    folds plain convs itself, but cannot see through the channel split and concatenation)."""
    from ..optimize import FoldedNormAct  # only needed when optimising

    for conv_name, bn_name in pairs:
        conv, bn = getattr(block, conv_name), getattr(block, bn_name)
        if isinstance(conv, MixedConv2d) and isinstance(bn, BatchNormAct2d):
            conv.fold_batch_norm(bn)
            setattr(block, bn_name, FoldedNormAct(bn.drop, bn.act))


def _drop_path(rate: float) -> nn.Module:
    return DropPath(rate) if rate else nn.Identity()


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation sized from the block's input or expanded width.

    Args:
        in_chs: channels gated.
        rd_ratio: hidden width as a fraction of ``in_chs`` (ignored if ``rd_channels``).
        act_layer: the block's activation, used unless ``force_act_layer`` is set.
        gate_layer: the gate (sigmoid; hard-sigmoid in MobileNetV3).
        rd_round_fn: rounds the hidden width (Python ``round`` by default, as the weights expect).
    """

    def __init__(
        self,
        in_chs: int,
        rd_ratio: float = 0.25,
        rd_channels: int | None = None,
        *,
        act_layer: LayerType = nn.ReLU,
        gate_layer: LayerType = nn.Sigmoid,
        force_act_layer: LayerType | None = None,
        rd_round_fn: Callable[..., int] | None = None,
    ) -> None:
        super().__init__()
        if rd_channels is None:
            rd_channels = (rd_round_fn or round)(in_chs * rd_ratio)
        self.conv_reduce = nn.Conv2d(in_chs, rd_channels, 1, bias=True)
        self.act1 = act_or_identity(force_act_layer or act_layer, inplace=True)
        self.conv_expand = nn.Conv2d(rd_channels, in_chs, 1, bias=True)
        self.gate = act_or_identity(gate_layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.conv_expand(self.act1(self.conv_reduce(x.mean((2, 3), keepdim=True))))
        return x * self.gate(s)


class ConvBnAct(nn.Module):
    """Conv, norm+act, optional skip (the ``cn`` block)."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int,
        stride: int = 1,
        dilation: int = 1,
        group_size: int = 0,
        pad_type: str = "",
        skip: bool = False,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        aa_layer: LayerType | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        norm_act = get_norm_act_layer(norm_layer, act_layer)
        assert norm_act is not None
        self.has_skip = skip and stride == 1 and in_chs == out_chs
        use_aa = aa_layer is not None and stride > 1
        self.conv = create_block_conv(
            in_chs, out_chs, kernel_size, stride=1 if use_aa else stride, dilation=dilation,
            groups=num_groups(group_size, in_chs), padding=pad_type,
        )  # fmt: skip
        self.bn1 = norm_act(out_chs, inplace=True)
        self.aa = _aa(aa_layer, out_chs, stride=stride, enable=use_aa)
        self.drop_path = _drop_path(drop_path_rate)

    def feature_info(self, location: str) -> dict[str, Any]:
        if location == "expansion":
            return dict(module="bn1", hook_type="forward", num_chs=self.conv.out_channels)
        return dict(module="", num_chs=self.conv.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.aa(self.bn1(self.conv(x)))
        if self.has_skip:
            x = self.drop_path(x) + shortcut
        return x


def _space_to_depth_stem(in_chs: int, norm_act: Callable[..., nn.Module]) -> tuple[nn.Module, nn.Module, int]:
    """The 2x2 stride-2 conv that folds space into 4x the channels (EfficientNet-X ``d1`` blocks)."""
    sd_chs = in_chs * 4
    return create_conv2d(in_chs, sd_chs, 2, stride=2, padding="same"), norm_act(sd_chs), sd_chs


class DepthwiseSeparableConv(nn.Module):
    """Depthwise conv, optional SE, pointwise conv (``ds``; ``dsa`` adds an activation after pw)."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        dw_kernel_size: KernelSize = 3,
        stride: int = 1,
        dilation: int = 1,
        group_size: int = 1,
        pad_type: str = "",
        noskip: bool = False,
        pw_kernel_size: KernelSize = 1,
        pw_act: bool = False,
        s2d: int = 0,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        aa_layer: LayerType | None = None,
        se_layer: Callable[..., nn.Module] | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        norm_act = get_norm_act_layer(norm_layer, act_layer)
        assert norm_act is not None
        self.has_skip = (stride == 1 and in_chs == out_chs) and not noskip
        self.has_pw_act = pw_act
        use_aa = aa_layer is not None and stride > 1
        dw_pad: str = pad_type
        self.conv_s2d: nn.Module | None = None
        self.bn_s2d: nn.Module | None = None
        if s2d == 1:
            self.conv_s2d, self.bn_s2d, in_chs = _space_to_depth_stem(in_chs, norm_act)
            if not isinstance(dw_kernel_size, int):
                raise ValueError(f"a space-to-depth block needs one kernel size, got {dw_kernel_size!r}")
            dw_kernel_size = (dw_kernel_size + 1) // 2
            dw_pad = "same" if dw_kernel_size == 2 else pad_type
            use_aa = False
        self.conv_dw = create_block_conv(
            in_chs, in_chs, dw_kernel_size, stride=1 if use_aa else stride, dilation=dilation,
            padding=dw_pad, groups=num_groups(group_size, in_chs),
        )  # fmt: skip
        self.bn1 = norm_act(in_chs, inplace=True)
        self.aa = _aa(aa_layer, in_chs, stride=stride, enable=use_aa)
        self.se = se_layer(in_chs, act_layer=act_layer) if se_layer else nn.Identity()
        self.conv_pw = create_block_conv(in_chs, out_chs, pw_kernel_size, padding=pad_type)
        self.bn2 = norm_act(out_chs, inplace=True, apply_act=self.has_pw_act)
        self.drop_path = _drop_path(drop_path_rate)

    def fuse_for_inference(self) -> None:
        _fold_mixed_convs(self, (("conv_dw", "bn1"), ("conv_pw", "bn2")))

    def feature_info(self, location: str) -> dict[str, Any]:
        if location == "expansion":  # after SE, the input of the pointwise conv
            return dict(module="conv_pw", hook_type="forward_pre", num_chs=self.conv_pw.in_channels)
        return dict(module="", num_chs=self.conv_pw.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        if self.conv_s2d is not None and self.bn_s2d is not None:
            x = self.bn_s2d(self.conv_s2d(x))
        x = self.se(self.aa(self.bn1(self.conv_dw(x))))
        x = self.bn2(self.conv_pw(x))
        if self.has_skip:
            x = self.drop_path(x) + shortcut
        return x


class InvertedResidual(nn.Module):
    """Pointwise expansion, depthwise conv, optional SE, linear pointwise projection (``ir``,
    a.k.a. MBConv)."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        dw_kernel_size: KernelSize = 3,
        stride: int = 1,
        dilation: int = 1,
        group_size: int = 1,
        pad_type: str = "",
        noskip: bool = False,
        exp_ratio: float = 1.0,
        exp_kernel_size: KernelSize = 1,
        pw_kernel_size: KernelSize = 1,
        s2d: int = 0,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        aa_layer: LayerType | None = None,
        se_layer: Callable[..., nn.Module] | None = None,
        num_experts: int = 0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        norm_act = get_norm_act_layer(norm_layer, act_layer)
        assert norm_act is not None
        self.has_skip = (in_chs == out_chs and stride == 1) and not noskip
        use_aa = aa_layer is not None and stride > 1
        dw_pad: str = pad_type
        self.conv_s2d: nn.Module | None = None
        self.bn_s2d: nn.Module | None = None
        if s2d == 1:
            self.conv_s2d, self.bn_s2d, in_chs = _space_to_depth_stem(in_chs, norm_act)
            if not isinstance(dw_kernel_size, int):
                raise ValueError(f"a space-to-depth block needs one kernel size, got {dw_kernel_size!r}")
            dw_kernel_size = (dw_kernel_size + 1) // 2
            dw_pad = "same" if dw_kernel_size == 2 else pad_type
            use_aa = False
        mid_chs = make_divisible(in_chs * exp_ratio)
        self.conv_pw = create_block_conv(
            in_chs, mid_chs, exp_kernel_size, padding=pad_type, num_experts=num_experts
        )
        self.bn1 = norm_act(mid_chs, inplace=True)
        self.conv_dw = create_block_conv(
            mid_chs, mid_chs, dw_kernel_size, stride=1 if use_aa else stride, dilation=dilation,
            groups=num_groups(group_size, mid_chs), padding=dw_pad, num_experts=num_experts,
        )  # fmt: skip
        self.bn2 = norm_act(mid_chs, inplace=True)
        self.aa = _aa(aa_layer, mid_chs, stride=stride, enable=use_aa)
        self.se = se_layer(mid_chs, act_layer=act_layer) if se_layer else nn.Identity()
        self.conv_pwl = create_block_conv(
            mid_chs, out_chs, pw_kernel_size, padding=pad_type, num_experts=num_experts
        )
        self.bn3 = norm_act(out_chs, apply_act=False)
        self.drop_path = _drop_path(drop_path_rate)

    def fuse_for_inference(self) -> None:
        _fold_mixed_convs(self, (("conv_pw", "bn1"), ("conv_dw", "bn2"), ("conv_pwl", "bn3")))

    def feature_info(self, location: str) -> dict[str, Any]:
        if location == "expansion":  # after SE, the input of the projection
            return dict(module="conv_pwl", hook_type="forward_pre", num_chs=self.conv_pwl.in_channels)
        return dict(module="", num_chs=self.conv_pwl.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        if self.conv_s2d is not None and self.bn_s2d is not None:
            x = self.bn_s2d(self.conv_s2d(x))
        x = self.bn1(self.conv_pw(x))
        x = self.se(self.aa(self.bn2(self.conv_dw(x))))
        x = self.bn3(self.conv_pwl(x))
        if self.has_skip:
            x = self.drop_path(x) + shortcut
        return x


class CondConvResidual(InvertedResidual):
    """Inverted residual whose convs are CondConv, routed by the pooled block input (``ir_..._ccN``)."""

    def __init__(self, in_chs: int, out_chs: int, *, num_experts: int = 4, **kwargs: Any) -> None:
        super().__init__(in_chs, out_chs, num_experts=num_experts, **kwargs)
        self.num_experts = num_experts
        self.routing_fn = nn.Linear(in_chs, num_experts)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        routing = torch.sigmoid(self.routing_fn(F.adaptive_avg_pool2d(x, 1).flatten(1)))
        x = self.bn1(self.conv_pw(x, routing))
        x = self.se(self.bn2(self.conv_dw(x, routing)))
        x = self.bn3(self.conv_pwl(x, routing))
        if self.has_skip:
            x = self.drop_path(x) + shortcut
        return x


class EdgeResidual(nn.Module):
    """Full conv expansion, optional SE, pointwise projection (``er``; FusedMBConv)."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        exp_kernel_size: KernelSize = 3,
        stride: int = 1,
        dilation: int = 1,
        group_size: int = 0,
        pad_type: str = "",
        force_in_chs: int = 0,
        noskip: bool = False,
        exp_ratio: float = 1.0,
        pw_kernel_size: KernelSize = 1,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        aa_layer: LayerType | None = None,
        se_layer: Callable[..., nn.Module] | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        norm_act = get_norm_act_layer(norm_layer, act_layer)
        assert norm_act is not None
        # NOTE: the TPU definitions size the expansion from a forced input width (``fc``)
        mid_chs = make_divisible((force_in_chs if force_in_chs > 0 else in_chs) * exp_ratio)
        self.has_skip = (in_chs == out_chs and stride == 1) and not noskip
        use_aa = aa_layer is not None and stride > 1
        self.conv_exp = create_block_conv(
            in_chs, mid_chs, exp_kernel_size, stride=1 if use_aa else stride, dilation=dilation,
            groups=num_groups(group_size, mid_chs), padding=pad_type,
        )  # fmt: skip
        self.bn1 = norm_act(mid_chs, inplace=True)
        self.aa = _aa(aa_layer, mid_chs, stride=stride, enable=use_aa)
        self.se = se_layer(mid_chs, act_layer=act_layer) if se_layer else nn.Identity()
        self.conv_pwl = create_block_conv(mid_chs, out_chs, pw_kernel_size, padding=pad_type)
        self.bn2 = norm_act(out_chs, apply_act=False)
        self.drop_path = _drop_path(drop_path_rate)

    def feature_info(self, location: str) -> dict[str, Any]:
        if location == "expansion":
            return dict(module="conv_pwl", hook_type="forward_pre", num_chs=self.conv_pwl.in_channels)
        return dict(module="", num_chs=self.conv_pwl.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.se(self.aa(self.bn1(self.conv_exp(x))))
        x = self.bn2(self.conv_pwl(x))
        if self.has_skip:
            x = self.drop_path(x) + shortcut
        return x


class UniversalInvertedResidual(nn.Module):
    """MobileNetV4's universal inverted bottleneck (``uir``): optional depthwise convs at the
    start (``a``), middle (``k``) and end (``p``) around a pointwise expansion and projection;
    covers ExtraDW, IR, ConvNeXt-like and FFN blocks."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        dw_kernel_size_start: int = 0,
        dw_kernel_size_mid: int = 3,
        dw_kernel_size_end: int = 0,
        stride: int = 1,
        dilation: int = 1,
        group_size: int = 1,
        pad_type: str = "",
        noskip: bool = False,
        exp_ratio: float = 1.0,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        aa_layer: LayerType | None = None,
        se_layer: Callable[..., nn.Module] | None = None,
        drop_path_rate: float = 0.0,
        layer_scale_init_value: float | None = 1e-5,
    ) -> None:
        super().__init__()
        self.has_skip = (in_chs == out_chs and stride == 1) and not noskip
        if stride > 1 and not (dw_kernel_size_start or dw_kernel_size_mid or dw_kernel_size_end):
            raise ValueError("a strided uir block needs at least one depthwise conv (a, k or p)")
        common: dict[str, Any] = dict(padding=pad_type, act_layer=act_layer, norm_layer=norm_layer)
        self.dw_start: nn.Module = nn.Identity()
        if dw_kernel_size_start:
            self.dw_start = ConvNormAct(
                in_chs, in_chs, dw_kernel_size_start, stride=1 if dw_kernel_size_mid else stride,
                dilation=dilation, groups=num_groups(group_size, in_chs), apply_act=False,
                aa_layer=aa_layer, **common,
            )  # fmt: skip
        mid_chs = make_divisible(in_chs * exp_ratio)
        self.pw_exp = ConvNormAct(in_chs, mid_chs, 1, **common)
        self.dw_mid: nn.Module = nn.Identity()
        if dw_kernel_size_mid:
            self.dw_mid = ConvNormAct(
                mid_chs, mid_chs, dw_kernel_size_mid, stride=stride, dilation=dilation,
                groups=num_groups(group_size, mid_chs), aa_layer=aa_layer, **common,
            )  # fmt: skip
        self.se = se_layer(mid_chs, act_layer=act_layer) if se_layer else nn.Identity()
        self.pw_proj = ConvNormAct(mid_chs, out_chs, 1, apply_act=False, **common)
        self.dw_end: nn.Module = nn.Identity()
        if dw_kernel_size_end:
            end_stride = stride if not dw_kernel_size_start and not dw_kernel_size_mid else 1
            self.dw_end = ConvNormAct(
                out_chs, out_chs, dw_kernel_size_end, stride=end_stride, dilation=dilation,
                groups=num_groups(group_size, out_chs), apply_act=False, **common,
            )  # fmt: skip
        self.layer_scale: nn.Module = nn.Identity()
        if layer_scale_init_value is not None:
            self.layer_scale = LayerScale2d(out_chs, layer_scale_init_value)
        self.drop_path = _drop_path(drop_path_rate)

    def feature_info(self, location: str) -> dict[str, Any]:
        if location == "expansion":
            return dict(module="pw_proj.conv", hook_type="forward_pre", num_chs=self.pw_proj.in_channels)
        return dict(module="", num_chs=self.pw_proj.out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.dw_mid(self.pw_exp(self.dw_start(x)))
        x = self.layer_scale(self.dw_end(self.pw_proj(self.se(x))))
        if self.has_skip:
            x = self.drop_path(x) + shortcut
        return x


class MobileAttention(nn.Module):
    """MobileNetV4's attention block (``mqa`` / ``mha``): norm, (multi-query) attention, layer
    scale, residual."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        stride: int = 1,
        dw_kernel_size: int = 3,
        dilation: int = 1,
        group_size: int = 1,
        pad_type: str = "",
        num_heads: int = 8,
        key_dim: int = 64,
        value_dim: int = 64,
        use_multi_query: bool = False,
        query_strides: int = 1,
        kv_stride: int = 1,
        cpe_dw_kernel_size: int = 3,
        noskip: bool = False,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        aa_layer: LayerType | None = None,
        drop_path_rate: float = 0.0,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        layer_scale_init_value: float | None = 1e-5,
        use_bias: bool = False,
        use_cpe: bool = False,
    ) -> None:
        super().__init__()
        norm_act = get_norm_act_layer(norm_layer, act_layer)
        assert norm_act is not None
        self.has_skip = (stride == 1 and in_chs == out_chs) and not noskip
        self.conv_cpe_dw: nn.Module | None = None
        if use_cpe:
            self.conv_cpe_dw = create_conv2d(
                in_chs, in_chs, cpe_dw_kernel_size, dilation=dilation, depthwise=True, bias=True
            )
        self.norm = norm_act(in_chs, apply_act=False)
        self.attn: nn.Module
        if use_multi_query:
            self.attn = MultiQueryAttention2d(
                in_chs, dim_out=out_chs, num_heads=num_heads, key_dim=key_dim, value_dim=value_dim,
                query_strides=query_strides, kv_stride=kv_stride, dw_kernel_size=dw_kernel_size,
                dilation=dilation, padding=pad_type, attn_drop=attn_drop, proj_drop=proj_drop,
                norm_layer=norm_layer,
            )  # fmt: skip
        else:
            self.attn = Attention2d(
                in_chs, dim_out=out_chs, num_heads=num_heads, attn_drop=attn_drop, proj_drop=proj_drop,
                bias=use_bias,
            )  # fmt: skip
        self.layer_scale: nn.Module = nn.Identity()
        if layer_scale_init_value is not None:
            self.layer_scale = LayerScale2d(out_chs, layer_scale_init_value)
        self.drop_path = _drop_path(drop_path_rate)
        self.out_chs = out_chs

    def feature_info(self, location: str) -> dict[str, Any]:
        return dict(module="", num_chs=self.out_chs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.conv_cpe_dw is not None:
            x = x + self.conv_cpe_dw(x)
        shortcut = x
        x = self.layer_scale(self.attn(self.norm(x)))
        if self.has_skip:
            x = self.drop_path(x) + shortcut
        return x
