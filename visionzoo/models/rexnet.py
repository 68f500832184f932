"""ReXNet: MobileNetV2-like inverted residuals whose widths grow linearly block by block.

Paper: `Rethinking Channel Dimensions for Efficient Model Design` - https://arxiv.org/abs/2007.00992

Weights: the ``nav_in1k`` tags are NAVER's (MIT), the ``sw_*`` ones timm's (Apache-2.0). Module
names follow timm's ReXNet (``stem``, ``features.N``, ``head.fc``), so timm checkpoints load
unchanged. The ``rexnetr_*`` variants round every width to a multiple of 8 (16 for 3.0x).
"""

from __future__ import annotations

from math import ceil
from typing import Any

import torch
from torch import nn

from ..layers import ClassifierHead, ConvNormAct, DropPath, SEModule, create_act_layer, make_divisible
from ..model import Trunk, VisionModel
from ..pretrained import NO_WEIGHTS, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type
from ._efficientnet_builder import efficientnet_init_weights

__all__ = ["LinearBottleneck", "RexNet", "default_cfgs"]


class LinearBottleneck(nn.Module):
    """Inverted residual (optional 1x1 expansion, depthwise 3x3, SE with a norm, 1x1 linear
    projection). The shortcut adds to the first ``in_chs`` output channels only: widths grow by a
    few channels per block, and the new channels pass through unchanged."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        stride: int,
        dilation: tuple[int, int] = (1, 1),
        exp_ratio: float = 1.0,
        se_ratio: float = 0.0,
        ch_div: int = 1,
        act_layer: str = "swish",
        dw_act_layer: str = "relu6",
        drop_path: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.use_shortcut = stride == 1 and dilation[0] == dilation[1] and in_chs <= out_chs
        self.in_channels = in_chs
        self.out_channels = out_chs
        self.conv_exp: nn.Module | None = None
        dw_chs = in_chs
        if exp_ratio != 1.0:
            dw_chs = make_divisible(round(in_chs * exp_ratio), divisor=ch_div)
            self.conv_exp = ConvNormAct(in_chs, dw_chs, act_layer=act_layer)
        self.conv_dw = ConvNormAct(
            dw_chs, dw_chs, 3, stride=stride, dilation=dilation[0], groups=dw_chs, apply_act=False
        )
        self.se: nn.Module | None = None
        if se_ratio > 0:
            rd_chs = make_divisible(int(dw_chs * se_ratio), ch_div)
            self.se = SEModule(dw_chs, rd_channels=rd_chs, norm_layer=nn.BatchNorm2d)
        act_dw = create_act_layer(dw_act_layer)
        assert act_dw is not None
        self.act_dw = act_dw
        self.conv_pwl = ConvNormAct(dw_chs, out_chs, 1, apply_act=False)
        self.drop_path = drop_path

    def feat_channels(self, exp: bool = False) -> int:
        """Output channels (the depthwise width with ``exp``)."""
        return self.conv_dw.out_channels if exp else self.out_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        if self.conv_exp is not None:
            x = self.conv_exp(x)
        x = self.conv_dw(x)
        if self.se is not None:
            x = self.se(x)
        x = self.conv_pwl(self.act_dw(x))
        if self.use_shortcut:
            if self.drop_path is not None:
                x = self.drop_path(x)
            n = self.in_channels
            x = torch.cat([x[:, :n] + shortcut, x[:, n:]], dim=1)
        return x


_DEPTHS = (1, 2, 2, 3, 3, 5)
_STRIDES = (1, 2, 2, 2, 1, 2)


def block_cfg(
    width_mult: float = 1.0,
    depth_mult: float = 1.0,
    initial_chs: int = 16,
    final_chs: int = 180,
    se_ratio: float = 0.0,
    ch_div: int = 1,
) -> list[tuple[int, float, int, float]]:
    """``(out_chs, exp_ratio, stride, se_ratio)`` per block: six stages of inverted residuals
    whose output width rises by ``final_chs / blocks`` each block (from ``initial_chs``); the first
    stage does not expand, the first two have no SE."""
    depths = [ceil(d * depth_mult) for d in _DEPTHS]
    strides = [s if i == 0 else 1 for s, d in zip(_STRIDES, depths) for i in range(d)]
    num_blocks = sum(depths)
    exp_ratios = [1] * depths[0] + [6] * (num_blocks - depths[0])
    se_ratios = [0.0] * (depths[0] + depths[1]) + [se_ratio] * (num_blocks - depths[0] - depths[1])
    # NOTE: a narrower model starts from a proportionally larger base, so its first width is
    # still initial_chs
    base = initial_chs / width_mult if width_mult < 1.0 else initial_chs
    widths = []
    for _ in range(num_blocks):
        widths.append(make_divisible(round(base * width_mult), divisor=ch_div))
        base += final_chs / num_blocks
    return list(zip(widths, exp_ratios, strides, se_ratios))


class RexNet(VisionModel):
    """ReXNet: a stride-2 stem, 16 linear bottlenecks (at depth 1.0), a 1x1 conv to
    ``1280 * width_mult`` channels, then pool and classifier.

    Args:
        in_chans: input channels.
        num_classes: classifier outputs (0 for none).
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
        output_stride: 32, 16 or 8 (later strides become dilations).
        initial_chs, final_chs: width of the first block, and what the widths grow by overall.
        width_mult, depth_mult: width and per-stage depth multipliers.
        se_ratio: SE width relative to the depthwise width (stages 3-6).
        ch_div: round every width to a multiple of this.
        act_layer: activation of the stem, expansions and final conv.
        dw_act_layer: activation after the depthwise conv (and SE).
        drop_rate: dropout before the classifier.
        drop_path_rate: stochastic depth, rising linearly to this over the blocks.
    """

    classifier_name = "head.fc"
    head_names = ("head",)

    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        output_stride: int = 32,
        initial_chs: int = 16,
        final_chs: int = 180,
        width_mult: float = 1.0,
        depth_mult: float = 1.0,
        se_ratio: float = 1 / 12.0,
        ch_div: int = 1,
        act_layer: str = "swish",
        dw_act_layer: str = "relu6",
        drop_rate: float = 0.2,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if output_stride not in (32, 16, 8):
            raise ValueError(f"output_stride must be 32, 16 or 8, got {output_stride!r}")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        stem_base = 32 / width_mult if width_mult < 1.0 else 32
        prev_chs = make_divisible(round(stem_base * width_mult), divisor=ch_div)
        self.stem = ConvNormAct(in_chans, prev_chs, 3, stride=2, act_layer=act_layer)

        cfg = block_cfg(width_mult, depth_mult, initial_chs, final_chs, se_ratio, ch_div)
        blocks: list[nn.Module] = []
        self.feature_info: list[dict[str, Any]] = []
        stride_so_far, dilation = 2, 1
        for i, (chs, exp_ratio, stride, se) in enumerate(cfg):
            next_dilation = dilation
            if stride > 1:
                # a level ends before each strided block (the stem before the first)
                module = "stem" if i == 0 else f"features.{i - 1}"
                self.feature_info.append(dict(num_chs=prev_chs, reduction=stride_so_far, module=module))
                if stride_so_far >= output_stride:
                    next_dilation, stride = dilation * stride, 1
            dpr = drop_path_rate * i / (len(cfg) - 1)
            blocks.append(
                LinearBottleneck(
                    prev_chs,
                    chs,
                    stride,
                    dilation=(dilation, next_dilation),
                    exp_ratio=exp_ratio,
                    se_ratio=se,
                    ch_div=ch_div,
                    act_layer=act_layer,
                    dw_act_layer=dw_act_layer,
                    drop_path=DropPath(dpr) if dpr > 0.0 else None,
                )
            )
            stride_so_far *= stride
            dilation, prev_chs = next_dilation, chs
        last = len(blocks) - 1
        self.feature_info.append(dict(num_chs=prev_chs, reduction=stride_so_far, module=f"features.{last}"))
        self.num_features = make_divisible(1280 * width_mult, divisor=ch_div)
        # the final 1x1 conv is the last child of ``features`` (timm's keys) but no feature level:
        # the trunk runs it as ``post``, which goes with the head when pruning, as in timm
        blocks.append(ConvNormAct(prev_chs, self.num_features, act_layer=act_layer))
        self.features = nn.Sequential(*blocks)
        # NOTE: the trunk depends on the config here, so it is set per instance
        self.trunk = Trunk(  # type: ignore[misc]
            stem=("stem",),
            stages=tuple(f"features.{i}" for i in range(last + 1)),
            post=(f"features.{last + 1}",),
            prune_post=("norm", "head"),
        )
        self.head = ClassifierHead(self.num_features, num_classes, global_pool, drop_rate)
        self.head_hidden_size = self.head.num_features
        self._initialize()

    def init_weights(self) -> None:
        efficientnet_init_weights(self)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^stem", blocks=r"^features\.(\d+)")


# --- variants -------------------------------------------------------------------------------------
RexNetArgs = model_args_type(RexNet)
_WIDTHS = {"100": 1.0, "130": 1.3, "150": 1.5, "200": 2.0, "300": 3.0}

VARIANTS: dict[str, Any] = {
    **{f"rexnet_{w}": RexNetArgs(width_mult=m) for w, m in _WIDTHS.items()},
    # rounded widths: multiples of 8, of 16 at 3.0x
    **{f"rexnetr_{w}": RexNetArgs(width_mult=m, ch_div=16 if m == 3.0 else 8) for w, m in _WIDTHS.items()},
}

# --- weights --------------------------------------------------------------------------------------
_SW = dict(crop_pct=0.95, test_crop_pct=1.0, test_input_size=(3, 288, 288), license="apache-2.0")

WEIGHTS: dict[str, dict[str, Any]] = {
    **{f"rexnet_{w}.nav_in1k": weight() for w in _WIDTHS},
    **{f"rexnetr_{w}.untrained": weight(NO_WEIGHTS) for w in ("100", "130", "150")},
    "rexnetr_200.sw_in12k_ft_in1k": weight(_SW, default=True),
    "rexnetr_300.sw_in12k_ft_in1k": weight(_SW, default=True),
    "rexnetr_200.sw_in12k": weight(_SW, num_classes=11821),
    "rexnetr_300.sw_in12k": weight(_SW, num_classes=11821),
}

default_cfgs = register_family(
    __name__,
    model_cls=RexNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        interpolation="bicubic",
        first_conv="stem.conv",
        classifier="head.fc",
        license="mit",
    ),
    feature_cfg=dict(flatten_sequential=True),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. rexnet_100
    return family_entrypoint(__name__, name)
