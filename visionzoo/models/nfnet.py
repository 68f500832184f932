"""Normalization-Free networks: NF-ResNet, NF-RegNet and NFNet-F / -L.

Papers:
* `Characterizing signal propagation to close the performance gap in unnormalized ResNets`
  - https://arxiv.org/abs/2101.08692
* `High-Performance Large-Scale Image Recognition Without Normalization`
  - https://arxiv.org/abs/2102.06171

Official JAX code: https://github.com/deepmind/deepmind-research/tree/master/nfnets

No batch norm: every conv standardises its filters and rescales them to keep the variance of a
unit-variance input (:class:`~visionzoo.layers.ScaledStdConv2d`, its ``gamma`` undoing the
activation's variance loss), and each residual block is told the variance it receives: it
divides its input by ``beta = 1 / sqrt(expected variance)`` before its branch and adds the branch
scaled by ``alpha``, so the variance grows by exactly ``alpha**2`` per block and resets at each
stage's first block (whose shortcut is a projection of the rescaled input).

Weights: Apache-2.0 (DeepMind's NFNet-F checkpoints, ``dm_nfnet_f*``, and timm's own). Module
names follow timm's (``stem.conv1``, ``stages.S.B``, ``final_conv``, ``head.fc``), so timm
checkpoints load unchanged.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections import OrderedDict
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, cast

import torch
from torch import nn

from ..layers import (
    ClassifierHead,
    DropPath,
    ScaledStdConv2d,
    ScaledStdConv2dSame,
    create_act_layer,
    get_attn,
    make_divisible,
)
from ..model import Trunk, VisionModel
from ..pretrained import NO_WEIGHTS, RWIGHTMAN_RELEASES, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type
from .resnetv2 import DownsampleAvg

__all__ = ["GammaAct", "NfCfg", "NormFreeBlock", "NormFreeNet", "act_with_gamma", "create_stem"]

_STEM_TYPES = ("", "deep", "deep_tiered", "deep_quad", "3x3", "7x7", "deep_pool", "3x3_pool", "7x7_pool")

# The gain that restores unit variance after each non-linearity on a unit-Gaussian input
# (DeepMind's constants: 1 / std(act(N(0, 1)))).
_NONLIN_GAMMA = {
    "identity": 1.0,
    "celu": 1.270926833152771,
    "elu": 1.2716004848480225,
    "gelu": 1.7015043497085571,
    "leaky_relu": 1.70590341091156,
    "log_sigmoid": 1.9193484783172607,
    "log_softmax": 1.0002083778381348,
    "relu": 1.7139588594436646,
    "relu6": 1.7131484746932983,
    "selu": 1.0008515119552612,
    "sigmoid": 4.803835391998291,
    "silu": 1.7881293296813965,
    "softsign": 2.338853120803833,
    "softplus": 1.9203323125839233,
    "tanh": 1.5939117670059204,
}


# --- layers ---------------------------------------------------------------------------------------
class GammaAct(nn.Module):
    """An activation followed by a constant gain: DeepMind's placement of the variance
    correction (``gamma_in_act``), where timm's default folds it into the next conv's weights."""

    def __init__(self, act_type: str = "relu", gamma: float = 1.0, inplace: bool = False) -> None:
        super().__init__()
        act = create_act_layer(act_type, inplace=inplace)
        self.act: nn.Module = act if act is not None else nn.Identity()
        self.gamma = gamma
        self.inplace = inplace

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # NOTE: out of place (timm scales in place): FX keeps the node, TorchScript compiles it
        return self.act(x) * self.gamma


def act_with_gamma(act_type: str, gamma: float = 1.0) -> Callable[..., GammaAct]:
    """A factory ``(inplace=False) -> GammaAct(act_type, gamma)``, as an ``act_layer``."""

    def make(inplace: bool = False) -> GammaAct:
        return GammaAct(act_type, gamma=gamma, inplace=inplace)

    return make


class NormFreeBlock(nn.Module):
    """Pre-activation bottleneck without normalisation.

    ``act1(x) * beta`` feeds both the branch (1x1 -> grouped 3x3 [-> 3x3] -> 1x1 convs, each
    after an activation) and, when the shape changes, the projection shortcut; the branch is
    added back scaled by ``alpha`` (and by a learnable ``skipinit_gain`` that starts at zero).
    Attention sits after the 3x3 in RegNet-style blocks (``reg``), after the last conv
    otherwise, its output multiplied by ``attn_gain`` to undo the gate's variance loss.

    Args:
        in_chs, out_chs: widths (``out_chs`` None: ``in_chs``).
        stride, dilation, first_dilation: of the 3x3 conv (the first one dilates by
            ``first_dilation``, default ``dilation``).
        alpha: the branch's residual scale.
        beta: ``1 / sqrt(variance of the input)``.
        bottle_ratio: bottleneck width over ``in_chs`` (``reg``) or ``out_chs``.
        group_size: channels per group of the 3x3 convs (None: dense).
        ch_div: the bottleneck width is rounded to a multiple of this.
        reg: RegNet-style (width from the input, attention in the middle).
        extra_conv: a second 3x3 conv (NFNet-F).
        skipinit: multiply the branch by a scalar parameter initialised to 0 (and keep the last
            conv's gain at 1, where otherwise it starts at 0).
        attn_layer: attention module factory (``channels -> module``), or None.
        attn_gain: output scale of the attention.
        act_layer: activation factory taking ``inplace``.
        conv_layer: conv factory (a scaled weight-standardised conv).
        drop_path_rate: stochastic depth of the branch.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int | None = None,
        stride: int = 1,
        dilation: int = 1,
        first_dilation: int | None = None,
        alpha: float = 1.0,
        beta: float = 1.0,
        bottle_ratio: float = 0.25,
        group_size: int | None = None,
        ch_div: int = 1,
        reg: bool = True,
        extra_conv: bool = False,
        skipinit: bool = False,
        attn_layer: Callable[..., nn.Module] | None = None,
        attn_gain: float = 2.0,
        act_layer: Callable[..., nn.Module] = nn.ReLU,
        conv_layer: Callable[..., nn.Module] = ScaledStdConv2d,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        first_dilation = first_dilation or dilation
        out_chs = out_chs or in_chs
        mid_chs = make_divisible((in_chs if reg else out_chs) * bottle_ratio, ch_div)
        groups = mid_chs // group_size if group_size else 1
        if group_size and group_size % ch_div == 0:
            mid_chs = group_size * groups  # a whole number of groups
        self.alpha = alpha
        self.beta = beta
        self.attn_gain = attn_gain

        self.downsample: nn.Module | None = None
        if in_chs != out_chs or stride != 1 or dilation != first_dilation:
            self.downsample = DownsampleAvg(
                in_chs,
                out_chs,
                stride=stride,
                dilation=dilation,
                preact=True,
                conv_layer=conv_layer,
                norm_layer=nn.Identity,
            )
        self.act1 = act_layer()
        self.conv1 = conv_layer(in_chs, mid_chs, 1)
        self.act2 = act_layer(inplace=True)
        self.conv2 = conv_layer(mid_chs, mid_chs, 3, stride=stride, dilation=first_dilation, groups=groups)
        self.act2b: nn.Module | None = act_layer(inplace=True) if extra_conv else None
        self.conv2b: nn.Module | None = (
            conv_layer(mid_chs, mid_chs, 3, stride=1, dilation=dilation, groups=groups)
            if extra_conv
            else None
        )
        self.attn: nn.Module | None = attn_layer(mid_chs) if reg and attn_layer is not None else None
        self.act3 = act_layer()
        # the branch starts at zero: through its last conv's gain, or through skipinit_gain
        self.conv3 = conv_layer(mid_chs, out_chs, 1, gain_init=1.0 if skipinit else 0.0)
        self.attn_last: nn.Module | None = attn_layer(out_chs) if not reg and attn_layer is not None else None
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.skipinit_gain = nn.Parameter(torch.tensor(0.0)) if skipinit else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(x) * self.beta
        shortcut = x if self.downsample is None else self.downsample(out)
        out = self.conv2(self.act2(self.conv1(out)))
        if self.conv2b is not None and self.act2b is not None:
            out = self.conv2b(self.act2b(out))
        if self.attn is not None:
            out = self.attn_gain * self.attn(out)
        out = self.conv3(self.act3(out))
        if self.attn_last is not None:
            out = self.attn_gain * self.attn_last(out)
        out = self.drop_path(out)
        if self.skipinit_gain is not None:
            out = out * self.skipinit_gain
        return out * self.alpha + shortcut


def create_stem(
    in_chs: int,
    out_chs: int,
    stem_type: str = "",
    conv_layer: Callable[..., nn.Module] | None = None,
    act_layer: Callable[..., nn.Module] | None = None,
) -> tuple[nn.Sequential, int, dict[str, Any]]:
    """The stem, its stride and its feature tap.

    ``7x7`` / ``3x3``: one stride-2 conv; ``deep`` (ResNet-D), ``deep_tiered`` (ResNet-T): three
    3x3 convs, the first strided; ``deep_quad`` (NFNet-F): four, the first and last strided.
    ``_pool`` adds a stride-2 max pool. A deep stem is tapped at its second-to-last conv (half
    the width, stride 2), a single conv stem at that conv.
    """
    if stem_type not in _STEM_TYPES:
        raise ValueError(f"stem_type must be one of {_STEM_TYPES}, got {stem_type!r}")
    conv_layer = conv_layer or ScaledStdConv2d
    act_layer = act_layer or nn.ReLU
    stride = 2
    layers: OrderedDict[str, nn.Module] = OrderedDict()
    if "deep" in stem_type:
        widths: tuple[int, ...]
        strides: tuple[int, ...]
        if "quad" in stem_type:
            if "pool" in stem_type:
                raise ValueError("a deep_quad stem strides twice itself; it takes no pool")
            widths, strides, stride = (out_chs // 8, out_chs // 4, out_chs // 2, out_chs), (2, 1, 1, 2), 4
        elif "tiered" in stem_type:
            widths, strides = (3 * out_chs // 8, out_chs // 2, out_chs), (2, 1, 1)
        else:
            widths, strides = (out_chs // 2, out_chs // 2, out_chs), (2, 1, 1)
        last = len(widths) - 1
        feature = dict(num_chs=widths[-2], reduction=2, module=f"stem.conv{last}")
        for i, (width, s) in enumerate(zip(widths, strides)):
            layers[f"conv{i + 1}"] = conv_layer(in_chs, width, kernel_size=3, stride=s)
            if i != last:
                # NOTE: the one after the tapped conv is not in place, so the tap keeps its value
                layers[f"act{i + 2}"] = act_layer(inplace=i < last - 1)
            in_chs = width
    else:
        kernel = 3 if "3x3" in stem_type else 7
        layers["conv"] = conv_layer(in_chs, out_chs, kernel_size=kernel, stride=2)
        feature = dict(num_chs=out_chs, reduction=2, module="stem.conv")
    if "pool" in stem_type:
        layers["pool"] = nn.MaxPool2d(3, stride=2, padding=1)
        stride = 4
    return nn.Sequential(layers), stride, feature


# --- model ----------------------------------------------------------------------------------------
@dataclasses.dataclass
class NfCfg:
    """timm's record of an NF network's design (the :class:`NormFreeNet` arguments of the same
    names); ``NormFreeNet(cfg)`` builds it."""

    depths: tuple[int, ...]
    channels: tuple[int, ...]
    alpha: float = 0.2
    stem_type: str = "3x3"
    stem_chs: int | None = None
    group_size: int | None = None
    attn_layer: str | None = None
    attn_kwargs: dict[str, Any] | None = None
    attn_gain: float = 2.0
    width_factor: float = 1.0
    bottle_ratio: float = 0.5
    num_features: int = 0
    ch_div: int = 8
    reg: bool = False
    extra_conv: bool = False
    gamma_in_act: bool = False
    same_padding: bool = False
    std_conv_eps: float = 1e-5
    skipinit: bool = False
    zero_init_fc: bool = False
    act_layer: str = "silu"


class NormFreeNet(VisionModel):
    """A normalization-free network: a stem, four stages of :class:`NormFreeBlock`, an optional
    1x1 ``final_conv``, an activation and a pool -> fc head.

    Differences from the papers, as timm's: widths rounded to multiples of ``ch_div``; the
    activation gain folded into the conv weights unless ``gamma_in_act`` (DeepMind's
    placement, needed for their weights); skipinit off unless asked (it costs throughput).

    Args:
        cfg: a whole :class:`NfCfg` (timm's call); a keyword given here at other than its
            default overrides the field of that name (as in CspNet(cfg): one at its default cannot).
        depths: blocks per stage.
        channels: stage widths (before ``width_factor``).
        alpha: residual branch scale (variance added per block: ``alpha**2``).
        stem_type: see :func:`create_stem`.
        stem_chs: stem width (None: ``channels[0]``).
        group_size: channels per group of the 3x3 convs (None: dense).
        attn_layer: ``se``, ``eca`` or None; ``attn_kwargs`` its arguments.
        attn_gain: output scale of the attention.
        width_factor: multiplies every width.
        bottle_ratio: bottleneck width ratio (see :class:`NormFreeBlock`).
        num_features: width of a final 1x1 conv (0: none).
        ch_div: widths are rounded to multiples of this.
        reg: RegNet-style blocks (width from the input, attention mid-block; the first block
            of the network keeps its width).
        extra_conv: a second 3x3 conv per block (NFNet-F).
        gamma_in_act: apply the activation gain in the activations, not the convs.
        same_padding: TensorFlow 'SAME' padding (DeepMind's weights).
        std_conv_eps: epsilon of the weight standardisation.
        skipinit: a zero-initialised scalar gain on each residual branch.
        zero_init_fc: zero the classifier at init.
        act_layer: the activation (one with a known gain, see ``_NONLIN_GAMMA``).
        num_classes, in_chans, global_pool, drop_rate: the usual model arguments.
        output_stride: 8, 16 or 32; later stages dilate instead of striding.
        drop_path_rate: stochastic depth, rising linearly to this over the blocks.
    """

    # the last level is read after final_conv, before final_act (which only a full pass runs)
    trunk = Trunk(stem=("stem.*",), stages=("stages.*", "final_conv"), post=("final_act",))
    classifier_name = "head.fc"

    def __init__(
        self,
        cfg: NfCfg | None = None,
        *,
        depths: tuple[int, ...] = (3, 4, 6, 3),
        channels: tuple[int, ...] = (256, 512, 1024, 2048),
        alpha: float = 0.2,
        stem_type: str = "3x3",
        stem_chs: int | None = None,
        group_size: int | None = None,
        attn_layer: str | None = None,
        attn_kwargs: Mapping[str, Any] | None = None,
        attn_gain: float = 2.0,
        width_factor: float = 1.0,
        bottle_ratio: float = 0.5,
        num_features: int = 0,
        ch_div: int = 8,
        reg: bool = False,
        extra_conv: bool = False,
        gamma_in_act: bool = False,
        same_padding: bool = False,
        std_conv_eps: float = 1e-5,
        skipinit: bool = False,
        zero_init_fc: bool = False,
        act_layer: str = "silu",
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "avg",
        output_stride: int = 32,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        if cfg is not None:  # timm's call: the cfg's design, a keyword given here overriding it
            if not isinstance(cfg, NfCfg):
                raise TypeError(f"cfg must be an NfCfg, got {cfg!r}")
            given = {k: v for k, v in locals().items() if k in _ARG_DEFAULTS}
            changed = {k: v for k, v in given.items() if v != _ARG_DEFAULTS[k]}
            NormFreeNet.__init__(self, **{**given, **dataclasses.asdict(cfg), **changed})
            return
        super().__init__()
        if act_layer not in _NONLIN_GAMMA:
            raise ValueError(f"act_layer {act_layer!r} has no known gain; valid: {', '.join(_NONLIN_GAMMA)}")
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")
        if len(depths) != len(channels):
            raise ValueError(f"depths {depths} and channels {channels} must have one entry per stage")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.zero_init_fc = zero_init_fc

        gamma = _NONLIN_GAMMA[act_layer]
        conv_cls = ScaledStdConv2dSame if same_padding else ScaledStdConv2d
        act: Callable[..., nn.Module]
        if gamma_in_act:
            act, conv = act_with_gamma(act_layer, gamma=gamma), partial(conv_cls, eps=std_conv_eps)
        else:
            # act_layer has a known gain (checked above), so create_act_layer never gives None
            act = cast(Callable[..., nn.Module], partial(create_act_layer, act_layer))
            conv = partial(conv_cls, gamma=gamma, eps=std_conv_eps)
        attn_cls = get_attn(attn_layer)
        attn = partial(attn_cls, **(attn_kwargs or {})) if attn_cls is not None else None

        stem_width = make_divisible((stem_chs or channels[0]) * width_factor, ch_div)
        self.stem, stem_stride, stem_feature = create_stem(in_chans, stem_width, stem_type, conv, act)
        self.feature_info = [stem_feature]

        rates = torch.linspace(0, drop_path_rate, sum(depths), device="cpu").split(list(depths))
        prev, net_stride, dilation, expected_var = stem_width, stem_stride, 1, 1.0
        stages = []
        for i, depth in enumerate(depths):
            stride = 1 if i == 0 and stem_stride > 2 else 2
            if net_stride >= output_stride and stride > 1:
                dilation, stride = dilation * stride, 1
            net_stride *= stride
            first_dilation = 1 if dilation in (1, 2) else 2
            width = make_divisible(channels[i] * width_factor, ch_div)
            blocks = []
            for j in range(depth):
                blocks.append(
                    NormFreeBlock(
                        prev,
                        width,
                        stride=stride if j == 0 else 1,
                        dilation=dilation,
                        first_dilation=first_dilation,
                        alpha=alpha,
                        beta=expected_var**-0.5,
                        bottle_ratio=1.0 if reg and i == 0 and j == 0 else bottle_ratio,
                        group_size=group_size,
                        ch_div=ch_div,
                        reg=reg,
                        extra_conv=extra_conv,
                        skipinit=skipinit,
                        attn_layer=attn,
                        attn_gain=attn_gain,
                        act_layer=act,
                        conv_layer=conv,
                        drop_path_rate=float(rates[i][j]),
                    )
                )
                # a stage's first block projects its rescaled input: the variance starts over
                expected_var = (1.0 if j == 0 else expected_var) + alpha**2
                first_dilation, prev = dilation, width
            self.feature_info.append(dict(num_chs=prev, reduction=net_stride, module=f"stages.{i}"))
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)

        if num_features:
            # NF-RegNet / NFNet: an EfficientNet-like 1x1 conv widens the last stage
            self.num_features = make_divisible(width_factor * num_features, ch_div)
            self.final_conv: nn.Module = conv(prev, self.num_features, 1)
            self.feature_info[-1] = dict(num_chs=self.num_features, reduction=net_stride, module="final_conv")
        else:
            self.num_features = prev
            self.final_conv = nn.Identity()
        self.final_act = act(inplace=False)
        self.head = ClassifierHead(self.num_features, num_classes, global_pool, drop_rate)
        self.head_hidden_size = self.head.num_features
        self._initialize()

    def init_weights(self) -> None:
        """He-normal (fan-in, linear) convs, zero biases, N(0, 0.01) classifier (zero with
        ``zero_init_fc``); the convs' gains keep their init (0 on each branch's last conv)."""
        for name, m in self.named_modules():
            if "fc" in name and isinstance(m, nn.Linear):
                if self.zero_init_fc:
                    nn.init.zeros_(m.weight)
                else:
                    nn.init.normal_(m.weight, 0.0, 0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="linear")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem",
            blocks=[
                (r"^stages\.(\d+)" if coarse else r"^stages\.(\d+)\.(\d+)", None),
                (r"^final_conv", (99999,)),
            ],
        )

    def _intermediates(
        self, x: torch.Tensor, take: list[int], *, stop_early: bool, norm: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """A stop at the last level still runs ``final_act`` (it ends the trunk, as in timm)."""
        if max(take) == len(self.feature_info) - 1:
            stop_early = False
        return super()._intermediates(x, take, stop_early=stop_early, norm=norm)


# NormFreeNet's keyword arguments and defaults: what NormFreeNet(cfg, ...) tells given from left alone
_ARG_DEFAULTS = {
    p.name: p.default
    for p in inspect.signature(NormFreeNet.__init__).parameters.values()
    if p.kind is p.KEYWORD_ONLY
}


# --- variants -------------------------------------------------------------------------------------
NfArgs = model_args_type(NormFreeNet)

# pre-activation ResNets with a 7x7 stem + max pool (rd_ratio of SE: 1/16)
_NF_RESNET = dict(
    channels=(256, 512, 1024, 2048), stem_type="7x7_pool", stem_chs=64, bottle_ratio=0.25, act_layer="relu"
)
_SE16 = dict(attn_layer="se", attn_kwargs=dict(rd_ratio=1 / 16))
_ECA = dict(attn_layer="eca", attn_kwargs=dict())
# RegNet-B: EfficientNet-like (3x3 stem, inverted-ish 2.25x bottleneck from the input, SE in the
# middle, a final conv 1280 wide at B0's 440 channels), 0.75x widths rounded to 8
_NF_REGNET = dict(
    stem_type="3x3",
    group_size=8,
    width_factor=0.75,
    bottle_ratio=2.25,
    reg=True,
    attn_layer="se",
    attn_kwargs=dict(rd_ratio=0.5),
)
_B0_CHANNELS = (48, 104, 208, 440)
# NFNet-F: 4-conv stem, two grouped 3x3 convs per block, SE, a final conv 2x the last stage
_NFNET = dict(
    channels=(256, 512, 1536, 1536),
    stem_type="deep_quad",
    stem_chs=128,
    group_size=128,
    bottle_ratio=0.5,
    extra_conv=True,
    num_features=3072,
    act_layer="gelu",
    attn_layer="se",
    attn_kwargs=dict(rd_ratio=0.5),
)
# DeepMind's NFNet-F weights: the gains in the activations, 'SAME' padding, skipinit
_DM_NFNET = dict(_NFNET, gamma_in_act=True, same_padding=True, skipinit=True)
# timm's 'light' NFNet-L: 64-channel groups, 0.25 bottleneck, SiLU
_NFNET_L = dict(_NFNET, group_size=64, bottle_ratio=0.25, act_layer="silu")
_ECA_NFNET_L = dict(_NFNET_L, **_ECA)


def _regnet_b(depths: tuple[int, ...], channels: tuple[int, ...] = _B0_CHANNELS) -> Any:
    return NfArgs(depths=depths, channels=channels, num_features=1280 * channels[-1] // 440, **_NF_REGNET)


# NFNet-F depths: F(n) = (n+1) * (1, 2, 6, 3)
_F_DEPTHS = {n: tuple((n + 1) * d for d in (1, 2, 6, 3)) for n in range(8)}

VARIANTS: dict[str, Any] = {
    **{f"dm_nfnet_f{n}": NfArgs(depths=_F_DEPTHS[n], **_DM_NFNET) for n in range(7)},
    **{f"nfnet_f{n}": NfArgs(depths=_F_DEPTHS[n], **_NFNET) for n in range(8)},
    "nfnet_l0": NfArgs(
        depths=_F_DEPTHS[0],
        **dict(_NFNET_L, num_features=2304, attn_kwargs=dict(rd_ratio=0.25, rd_divisor=8)),
    ),
    "eca_nfnet_l0": NfArgs(depths=_F_DEPTHS[0], **dict(_ECA_NFNET_L, num_features=2304)),
    **{f"eca_nfnet_l{n}": NfArgs(depths=_F_DEPTHS[n], **_ECA_NFNET_L) for n in (1, 2, 3)},
    "nf_regnet_b0": _regnet_b((1, 3, 6, 6)),
    "nf_regnet_b1": _regnet_b((2, 4, 7, 7)),
    "nf_regnet_b2": _regnet_b((2, 4, 8, 8), (56, 112, 232, 488)),
    "nf_regnet_b3": _regnet_b((2, 5, 9, 9), (56, 128, 248, 528)),
    "nf_regnet_b4": _regnet_b((2, 6, 11, 11), (64, 144, 288, 616)),
    "nf_regnet_b5": _regnet_b((3, 7, 14, 14), (80, 168, 336, 704)),
    "nf_resnet26": NfArgs(depths=(2, 2, 2, 2), **_NF_RESNET),
    "nf_resnet50": NfArgs(depths=(3, 4, 6, 3), **_NF_RESNET),
    "nf_resnet101": NfArgs(depths=(3, 4, 23, 3), **_NF_RESNET),
    "nf_seresnet26": NfArgs(depths=(2, 2, 2, 2), **_NF_RESNET, **_SE16),
    "nf_seresnet50": NfArgs(depths=(3, 4, 6, 3), **_NF_RESNET, **_SE16),
    "nf_seresnet101": NfArgs(depths=(3, 4, 23, 3), **_NF_RESNET, **_SE16),
    "nf_ecaresnet26": NfArgs(depths=(2, 2, 2, 2), **_NF_RESNET, **_ECA),
    "nf_ecaresnet50": NfArgs(depths=(3, 4, 6, 3), **_NF_RESNET, **_ECA),
    "nf_ecaresnet101": NfArgs(depths=(3, 4, 23, 3), **_NF_RESNET, **_ECA),
    # a tiny NFNet-L for tests
    "test_nfnet": NfArgs(
        depths=(1, 1, 1, 1),
        **dict(
            _NFNET_L,
            channels=(32, 64, 96, 128),
            num_features=192,
            group_size=8,
            attn_kwargs=dict(rd_ratio=0.25, rd_divisor=8),
        ),
    ),
}


# --- weights --------------------------------------------------------------------------------------
CFG_DEFAULTS = dict(
    input_size=(3, 224, 224),
    pool_size=(7, 7),
    crop_pct=0.9,
    interpolation="bicubic",
    first_conv="stem.conv1",
    classifier="head.fc",
    license="apache-2.0",
)


def _res(train: int, test: int) -> dict[str, Any]:
    """Trained at ``train`` px (the final map ``train / 32`` wide), evaluated best at ``test``."""
    return dict(
        input_size=(3, train, train), pool_size=(-(-train // 32),) * 2, test_input_size=(3, test, test)
    )


def _dnf(file: str) -> str:
    return f"{RWIGHTMAN_RELEASES}v0.1-dnf-weights/{file}"


def _timm(file: str) -> str:
    return f"{RWIGHTMAN_RELEASES}v0.1-weights/{file}"


_DM = dict(crop_mode="squash")  # DeepMind's eval: the whole image, resized
_L = dict(test_crop_pct=1.0)  # NFNet-L: evaluated uncropped at the test size
_F_RES = {
    0: (192, 256),
    1: (224, 320),
    2: (256, 352),
    3: (320, 416),
    4: (384, 512),
    5: (416, 544),
    6: (448, 576),
}
_DM_CROP = {0: 0.9, 1: 0.91, 2: 0.92, 3: 0.94, 4: 0.951, 5: 0.954, 6: 0.956}
_DM_FILES = {
    0: "dm_nfnet_f0-604f9c3a.pth",
    1: "dm_nfnet_f1-fc540f82.pth",
    2: "dm_nfnet_f2-89875923.pth",
    3: "dm_nfnet_f3-d74ab3aa.pth",
    4: "dm_nfnet_f4-0ac5b10b.pth",
    5: "dm_nfnet_f5-ecb20ab1.pth",
    6: "dm_nfnet_f6-e0f12116.pth",
}
_STEM_CONV = dict(first_conv="stem.conv")  # single-conv stems (NF-ResNet, NF-RegNet)

WEIGHTS: dict[str, dict[str, Any]] = {
    **{
        f"dm_nfnet_f{n}.dm_in1k": weight(_res(*_F_RES[n]), _DM, crop=_DM_CROP[n], url=_dnf(_DM_FILES[n]))
        for n in range(7)
    },
    **{f"nfnet_f{n}": weight(_res(*_F_RES[n]), NO_WEIGHTS) for n in range(7)},
    "nfnet_f7": weight(_res(480, 608), NO_WEIGHTS),
    "nfnet_l0.ra2_in1k": weight(_res(224, 288), _L, url=_timm("nfnet_l0_ra2-45c6688d.pth")),
    "eca_nfnet_l0.ra2_in1k": weight(_res(224, 288), _L, url=_timm("ecanfnet_l0_ra2-e3e9ac50.pth")),
    "eca_nfnet_l1.ra2_in1k": weight(_res(256, 320), _L, url=_timm("ecanfnet_l1_ra2-7dce93cd.pth")),
    "eca_nfnet_l2.ra3_in1k": weight(_res(320, 384), _L, url=_timm("ecanfnet_l2_ra3-da781a61.pth")),
    "eca_nfnet_l3": weight(_res(352, 448), _L, NO_WEIGHTS),
    "nf_regnet_b0": weight(_res(192, 256), _STEM_CONV, NO_WEIGHTS),
    # NOTE: trained at 256 px, not the paper's 240
    "nf_regnet_b1.ra2_in1k": weight(
        _res(256, 288), _STEM_CONV, url=_timm("nf_regnet_b1_256_ra2-ad85cfef.pth")
    ),
    "nf_regnet_b2": weight(_res(240, 272), _STEM_CONV, NO_WEIGHTS),
    "nf_regnet_b3": weight(_res(288, 320), _STEM_CONV, NO_WEIGHTS),
    "nf_regnet_b4": weight(_res(320, 384), _STEM_CONV, NO_WEIGHTS),
    "nf_regnet_b5": weight(_res(384, 456), _STEM_CONV, NO_WEIGHTS),
    "nf_resnet26": weight(_STEM_CONV, NO_WEIGHTS),
    "nf_resnet50.ra2_in1k": weight(
        _res(256, 288), _STEM_CONV, crop=0.94, url=_timm("nf_resnet50_ra2-9f236009.pth")
    ),
    "nf_resnet101": weight(_STEM_CONV, NO_WEIGHTS),
    **{
        f"nf_{kind}resnet{d}": weight(_STEM_CONV, NO_WEIGHTS) for kind in ("se", "eca") for d in (26, 50, 101)
    },
    "test_nfnet.r160_in1k": weight(
        size=160, crop=0.95, pool_size=(5, 5), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)
    ),
}

default_cfgs = register_family(
    __name__,
    model_cls=NormFreeNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=CFG_DEFAULTS,
    feature_cfg=dict(flatten_sequential=True),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. nf_resnet50
    return family_entrypoint(__name__, name)
