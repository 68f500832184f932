"""EfficientViT (MIT): convolution stages, then stages that pair a multi-scale ReLU linear
attention (global context at linear cost) with an MBConv (local detail).

Paper: `EfficientViT: Multi-Scale Linear Attention for High-Resolution Dense Prediction` -
https://arxiv.org/abs/2205.14756

Weights: the authors' ImageNet-1k models (B and L series; Apache-2.0). Module names follow
timm's ``EfficientVit`` / ``EfficientVitLarge``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..layers.activations import GELUTanh, LayerType
from ..layers.classifier import check_num_classes
from ..layers.create_act import get_act_layer
from ..layers.linear_attn import LiteMLA
from ..layers.mbconv_mit import ConvLayer, FusedMBConv, MBConv, ResidualBlock
from ..layers.norm import get_norm_layer
from ..layers.pool import SelectAdaptivePool2d
from ..model import Trunk, VisionModel
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "ClassifierHead",
    "ConvBlock",
    "DSConv",
    "EfficientVit",
    "EfficientVitBlock",
    "EfficientVitLarge",
    "EfficientVitStage",
    "default_cfgs",
]

Layer = Callable[..., nn.Module]


class DSConv(nn.Module):
    """Depthwise-separable body: a depthwise ``kernel_size`` conv at ``stride``, a 1x1 conv."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        use_bias: tuple[bool, bool] = (False, False),
        norm_layer: tuple[Layer | None, Layer | None] = (nn.BatchNorm2d, nn.BatchNorm2d),
        act_layer: tuple[Layer | None, Layer | None] = (nn.ReLU6, None),
    ) -> None:
        super().__init__()
        self.depth_conv = ConvLayer(
            in_channels,
            in_channels,
            kernel_size,
            stride,
            groups=in_channels,
            use_bias=use_bias[0],
            norm_layer=norm_layer[0],
            act_layer=act_layer[0],
        )
        self.point_conv = ConvLayer(
            in_channels,
            out_channels,
            1,
            use_bias=use_bias[1],
            norm_layer=norm_layer[1],
            act_layer=act_layer[1],
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.point_conv(self.depth_conv(x))


class ConvBlock(nn.Module):
    """Two full ``kernel_size`` convs, the first at ``stride`` (the large models' stem body)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        expand_ratio: float = 1,
        use_bias: tuple[bool, bool] = (False, False),
        norm_layer: tuple[Layer | None, Layer | None] = (nn.BatchNorm2d, nn.BatchNorm2d),
        act_layer: tuple[Layer | None, Layer | None] = (nn.ReLU6, None),
    ) -> None:
        super().__init__()
        mid = round(in_channels * expand_ratio)
        self.conv1 = ConvLayer(
            in_channels,
            mid,
            kernel_size,
            stride,
            use_bias=use_bias[0],
            norm_layer=norm_layer[0],
            act_layer=act_layer[0],
        )
        self.conv2 = ConvLayer(
            mid,
            out_channels,
            kernel_size,
            use_bias=use_bias[1],
            norm_layer=norm_layer[1],
            act_layer=act_layer[1],
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x))


def local_block(
    in_channels: int,
    out_channels: int,
    stride: int,
    expand_ratio: float,
    norm_layer: Layer,
    act_layer: Layer,
    *,
    fewer_norm: bool = False,
    block_type: str = "default",
) -> nn.Module:
    """The convolution body for a position in the network. Without expansion: a
    depthwise-separable conv (``default``) or two full convs (``large``); with one: an MBConv
    (``default``) or a fused MBConv (``fused``). ``fewer_norm`` keeps only the last conv's norm
    (the others get a bias instead)."""
    if block_type not in ("default", "large", "fused"):
        raise ValueError(f"block_type={block_type!r}; valid: 'default', 'large', 'fused'")
    norm, act = norm_layer, act_layer
    if expand_ratio == 1:
        two = dict(
            use_bias=(True, False) if fewer_norm else (False, False),
            norm_layer=(None, norm) if fewer_norm else (norm, norm),
            act_layer=(act, None),
        )
        if block_type == "default":
            return DSConv(in_channels, out_channels, stride=stride, **two)  # type: ignore[arg-type]
        return ConvBlock(in_channels, out_channels, stride=stride, **two)  # type: ignore[arg-type]
    if block_type == "default":
        return MBConv(
            in_channels,
            out_channels,
            stride=stride,
            expand_ratio=expand_ratio,
            use_bias=(True, True, False) if fewer_norm else (False, False, False),
            norm_layer=(None, None, norm) if fewer_norm else (norm, norm, norm),
            act_layer=(act, act, None),
        )
    return FusedMBConv(
        in_channels,
        out_channels,
        stride=stride,
        expand_ratio=expand_ratio,
        use_bias=(True, False) if fewer_norm else (False, False),
        norm_layer=(None, norm) if fewer_norm else (norm, norm),
        act_layer=(act, None),
    )


class EfficientVitBlock(nn.Module):
    """Global context (:class:`LiteMLA`), then local detail (an MBConv), each a residual."""

    def __init__(
        self,
        in_channels: int,
        heads_ratio: float = 1.0,
        head_dim: int = 32,
        expand_ratio: float = 4,
        norm_layer: Layer = nn.BatchNorm2d,
        act_layer: Layer = nn.Hardswish,
    ) -> None:
        super().__init__()
        self.context_module = ResidualBlock(
            LiteMLA(
                in_channels, in_channels, heads_ratio=heads_ratio, dim=head_dim, norm_layer=(None, norm_layer)
            ),
            nn.Identity(),
        )
        self.local_module = ResidualBlock(
            MBConv(
                in_channels,
                in_channels,
                expand_ratio=expand_ratio,
                use_bias=(True, True, False),
                norm_layer=(None, None, norm_layer),
                act_layer=(act_layer, act_layer, None),
            ),
            nn.Identity(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.local_module(self.context_module(x))


class EfficientVitStage(nn.Module):
    """A stride-2 body without shortcut, then ``depth`` attention blocks (``vit``) or residual
    convolution bodies.

    Args:
        down_expand: the downsampling body's expansion.
        expand_ratio: the later bodies' (or the attention blocks' MBConv) expansion.
        num_local: residual convolution bodies after the downsampling one (without ``vit``).
        fewer_norm: convolution bodies keep only their last norm (always so with ``vit``).
        fused: fused MBConvs for the convolution bodies (not with ``fewer_norm``).
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        depth: int,
        norm_layer: Layer,
        act_layer: Layer,
        *,
        head_dim: int,
        down_expand: float,
        expand_ratio: float,
        num_local: int,
        vit: bool = False,
        fewer_norm: bool = False,
        fused: bool = False,
    ) -> None:
        super().__init__()
        block_type = "fused" if fused else "default"
        blocks: list[nn.Module] = [
            ResidualBlock(
                local_block(
                    in_chs,
                    out_chs,
                    2,
                    down_expand,
                    norm_layer,
                    act_layer,
                    fewer_norm=vit or fewer_norm,
                    block_type=block_type,
                ),
                None,
            )
        ]
        if vit:
            blocks += [
                EfficientVitBlock(
                    out_chs,
                    head_dim=head_dim,
                    expand_ratio=expand_ratio,
                    norm_layer=norm_layer,
                    act_layer=act_layer,
                )
                for _ in range(depth)
            ]
        else:
            blocks += [
                ResidualBlock(
                    local_block(
                        out_chs,
                        out_chs,
                        1,
                        expand_ratio,
                        norm_layer,
                        act_layer,
                        fewer_norm=fewer_norm,
                        block_type=block_type,
                    ),
                    nn.Identity(),
                )
                for _ in range(num_local)
            ]
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


def _check_pool(pool_type: str) -> SelectAdaptivePool2d:
    pool = SelectAdaptivePool2d(pool_type=pool_type, flatten=True) if pool_type else None
    if pool is None or pool.feat_mult() != 1:
        raise ValueError(
            f"EfficientViT's head pools to the width its MLP takes: global_pool={pool_type!r} "
            "is not taken; use 'avg', 'max' or 'avgmax'"
        )
    return pool


class ClassifierHead(nn.Module):
    """1x1 conv + norm + act to ``widths[0]``, global pool, then ``classifier``: linear (no bias)
    to ``widths[1]``, LayerNorm, act, dropout, the final linear (index 4)."""

    def __init__(
        self,
        in_channels: int,
        widths: Sequence[int],
        num_classes: int = 1000,
        dropout: float = 0.0,
        norm_layer: Layer = nn.BatchNorm2d,
        act_layer: Layer = nn.Hardswish,
        pool_type: str = "avg",
        norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        check_num_classes(num_classes)
        self.in_features = in_channels
        self.num_features = widths[-1]
        self.in_conv: nn.Module = ConvLayer(
            in_channels, widths[0], 1, norm_layer=norm_layer, act_layer=act_layer
        )
        self.global_pool = _check_pool(pool_type)
        self.classifier = nn.Sequential(
            nn.Linear(widths[0], widths[1], bias=False),
            nn.LayerNorm(widths[1], eps=norm_eps),
            act_layer(),
            nn.Dropout(dropout),
            nn.Linear(widths[1], num_classes) if num_classes > 0 else nn.Identity(),
        )

    def reset(
        self,
        num_classes: int,
        pool_type: str | None = None,
        reset_other: bool = False,
        in_features: int | None = None,
    ) -> None:
        """A new final linear (0: none); ``reset_other`` drops the pre-logits conv and MLP,
        leaving pool -> classifier on ``in_features`` (a backbone whose features no longer fit
        them)."""
        check_num_classes(num_classes)
        if pool_type is not None:
            self.global_pool = _check_pool(pool_type).train(self.training)
        if reset_other:
            self.in_conv = nn.Identity()
            for i in range(3):
                self.classifier[i] = nn.Identity()
            self.num_features = self.in_features
        if in_features is not None and in_features != self.in_features:
            if not isinstance(self.in_conv, nn.Identity):
                raise ValueError(
                    f"the head's in_conv takes {self.in_features} channels, not {in_features}; "
                    "pass reset_other=True to drop it"
                )
            self.in_features = self.num_features = in_features
        fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        self.classifier[-1] = fc.train(self.classifier.training)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.global_pool(self.in_conv(x))
        if pre_logits:  # NOTE: indexed, not sliced: TorchScript cannot slice a Sequential
            x = self.classifier[0](x)
            x = self.classifier[1](x)
            x = self.classifier[2](x)
            return self.classifier[3](x)
        return self.classifier(x)


class EfficientVit(VisionModel):
    """The B series: a stride-2 conv stem with depthwise-separable residual bodies, two MBConv
    stages, two attention stages (:class:`EfficientVitBlock`), and :class:`ClassifierHead`.

    Args:
        widths: widths of the stem and the four stages.
        depths: bodies in the stem, blocks in the stages (a conv stage counts its downsampling
            body, an attention stage does not).
        head_dim: width of an attention head.
        expand_ratio: the MBConv expansion.
        head_widths: the head's conv and hidden widths.
        drop_rate: dropout before the final linear.
    """

    trunk = Trunk(stem=("stem",), stages=("stages.*",))
    classifier_name = "head.classifier.4"

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        head: ClassifierHead

    def __init__(
        self,
        in_chans: int = 3,
        widths: Sequence[int] = (8, 16, 32, 64, 128),
        depths: Sequence[int] = (1, 2, 2, 2, 2),
        head_dim: int = 32,
        expand_ratio: float = 4,
        norm_layer: LayerType = nn.BatchNorm2d,
        act_layer: LayerType = nn.Hardswish,
        global_pool: str = "avg",
        head_widths: tuple[int, int] = (1024, 1280),
        drop_rate: float = 0.0,
        num_classes: int = 1000,
    ) -> None:
        super().__init__()
        norm, act = self._layers(norm_layer, act_layer)
        self._build(in_chans, widths, depths, norm, act, large=False)
        self.stages = nn.Sequential(
            *(
                EfficientVitStage(
                    widths[i],
                    widths[i + 1],
                    depths[i + 1],
                    norm,
                    act,
                    head_dim=head_dim,
                    down_expand=expand_ratio,
                    expand_ratio=expand_ratio,
                    num_local=depths[i + 1] - 1,
                    vit=i >= 2,
                )
                for i in range(4)
            )
        )
        # NOTE: the head's activation stays Hardswish whatever ``act_layer`` is (as timm's)
        self._build_head(widths[-1], head_widths, num_classes, global_pool, drop_rate, nn.Hardswish, 1e-5)

    @staticmethod
    def _layers(norm_layer: LayerType, act_layer: LayerType) -> tuple[Layer, Layer]:
        norm, act = get_norm_layer(norm_layer), get_act_layer(act_layer)
        if norm is None or act is None:
            raise ValueError(
                f"EfficientViT needs a norm_layer and an act_layer, got {norm_layer!r}, {act_layer!r}"
            )
        return norm, act

    def _build(
        self,
        in_chans: int,
        widths: Sequence[int],
        depths: Sequence[int],
        norm: Layer,
        act: Layer,
        *,
        large: bool,
    ) -> None:
        """Stem and feature levels (the stages follow, registered after the stem)."""
        if len(widths) != 5 or len(depths) != 5:
            raise ValueError(f"widths and depths need 5 entries (stem + 4 stages), got {widths}, {depths}")
        self.in_chans = in_chans
        stem: dict[str, nn.Module] = {
            "in_conv": ConvLayer(in_chans, widths[0], 3, 2, norm_layer=norm, act_layer=act)
        }
        for i in range(depths[0]):
            body = local_block(
                widths[0], widths[0], 1, 1, norm, act, block_type="large" if large else "default"
            )
            stem[f"res{i}"] = ResidualBlock(body, nn.Identity())
        self.stem = nn.Sequential(OrderedDict(stem))
        self.feature_info = [
            dict(num_chs=widths[i + 1], reduction=2 ** (i + 2), module=f"stages.{i}") for i in range(4)
        ]

    def _build_head(
        self,
        num_features: int,
        head_widths: Sequence[int],
        num_classes: int,
        global_pool: str,
        drop_rate: float,
        act: Layer,
        norm_eps: float,
    ) -> None:
        self.num_features = num_features
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.head = ClassifierHead(
            num_features,
            head_widths,
            num_classes,
            drop_rate,
            act_layer=act,
            pool_type=global_pool,
            norm_eps=norm_eps,
        )
        self.head_hidden_size = self.head.num_features

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [(r"^stages\.(\d+).downsample", (0,)), (r"^stages\.(\d+)\.\w+\.(\d+)", None)],
        )

    def reset_classifier(
        self, num_classes: int, global_pool: str | None = None, reset_other: bool = False
    ) -> None:
        """New final linear of ``num_classes`` outputs (0 removes it); ``reset_other`` also drops
        the head's pre-logits conv and MLP."""
        check_num_classes(num_classes)
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else torch.device("cpu")
        with torch.device(device):
            self.head.reset(num_classes, global_pool, reset_other=reset_other, in_features=self.num_features)
        if ref is not None:
            self.head.to(dtype=ref.dtype)
        self.num_classes = num_classes
        self.head_hidden_size = self.head.num_features

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def _prune_head(self) -> None:
        """The head's conv and MLP go too: they were sized for the final features."""
        self.reset_classifier(0, reset_other=True)


class EfficientVitLarge(EfficientVit):
    """The L series: two full convs per stem body, fused MBConv stages (expansion 16, then 4),
    one MBConv stage with a single norm per body, one attention stage (expansion 24 to enter,
    6 in its blocks); GELU (tanh) and a small norm epsilon throughout.

    Args:
        norm_eps: the epsilon of the trunk's norms and the head's LayerNorm (the head's conv
            norm keeps the default).
    """

    def __init__(
        self,
        in_chans: int = 3,
        widths: Sequence[int] = (32, 64, 128, 256, 512),
        depths: Sequence[int] = (1, 1, 1, 6, 6),
        head_dim: int = 32,
        norm_layer: LayerType = nn.BatchNorm2d,
        act_layer: LayerType = GELUTanh,
        global_pool: str = "avg",
        head_widths: tuple[int, int] = (3072, 3200),
        drop_rate: float = 0.0,
        num_classes: int = 1000,
        norm_eps: float = 1e-7,
    ) -> None:
        VisionModel.__init__(self)
        base_norm, act = self._layers(norm_layer, act_layer)
        norm = partial(base_norm, eps=norm_eps)
        self.norm_eps = norm_eps
        self._build(in_chans, widths, depths, norm, act, large=True)
        self.stages = nn.Sequential(
            *(
                EfficientVitStage(
                    widths[i],
                    widths[i + 1],
                    depths[i + 1],
                    norm,
                    act,
                    head_dim=head_dim,
                    down_expand=24 if i >= 3 else 16,
                    expand_ratio=6 if i >= 3 else 4,
                    num_local=depths[i + 1],
                    vit=i >= 3,
                    fewer_norm=i >= 2,
                    fused=i < 2,
                )
                for i in range(4)
            )
        )
        self._build_head(widths[-1], head_widths, num_classes, global_pool, drop_rate, act, norm_eps)


EfficientVitArgs = model_args_type(EfficientVit)
EfficientVitLargeArgs = model_args_type(EfficientVitLarge)

VARIANTS = {
    "efficientvit_b0": EfficientVitArgs(
        widths=(8, 16, 32, 64, 128), depths=(1, 2, 2, 2, 2), head_dim=16, head_widths=(1024, 1280)
    ),
    "efficientvit_b1": EfficientVitArgs(
        widths=(16, 32, 64, 128, 256), depths=(1, 2, 3, 3, 4), head_dim=16, head_widths=(1536, 1600)
    ),
    "efficientvit_b2": EfficientVitArgs(
        widths=(24, 48, 96, 192, 384), depths=(1, 3, 4, 4, 6), head_dim=32, head_widths=(2304, 2560)
    ),
    "efficientvit_b3": EfficientVitArgs(
        widths=(32, 64, 128, 256, 512), depths=(1, 4, 6, 6, 9), head_dim=32, head_widths=(2304, 2560)
    ),
}

LARGE_VARIANTS = {
    "efficientvit_l1": EfficientVitLargeArgs(depths=(1, 1, 1, 6, 6)),
    "efficientvit_l2": EfficientVitLargeArgs(depths=(1, 2, 2, 8, 8)),
    "efficientvit_l3": EfficientVitLargeArgs(
        widths=(64, 128, 256, 512, 1024), depths=(1, 2, 2, 8, 8), head_widths=(6144, 6400)
    ),
}

_w = partial(weight, pool_reduction=32)  # the final map follows the input: pool_size = size / 32

WEIGHTS: dict[str, dict[str, Any]] = {
    "efficientvit_b0.r224_in1k": _w(default=True),
    **{f"efficientvit_{b}.r224_in1k": _w(default=True) for b in ("b1", "b2", "b3")},
    **{f"efficientvit_{b}.r{s}_in1k": _w(size=s, crop=1.0) for b in ("b1", "b2", "b3") for s in (256, 288)},
}

LARGE_WEIGHTS: dict[str, dict[str, Any]] = {
    "efficientvit_l1.r224_in1k": _w(default=True, crop=1.0),
    "efficientvit_l2.r224_in1k": _w(default=True, crop=1.0),
    **{f"efficientvit_l2.r{s}_in1k": _w(size=s, crop=1.0) for s in (256, 288, 384)},
    "efficientvit_l3.r224_in1k": _w(default=True, crop=1.0),
    **{f"efficientvit_l3.r{s}_in1k": _w(size=s, crop=1.0) for s in (256, 320, 384)},
}

_CFG_DEFAULTS = dict(
    pool_size=(7, 7),
    crop_pct=0.95,
    license="apache-2.0",
    first_conv="stem.in_conv.conv",
    classifier="head.classifier.4",
)
_FEATURE_CFG = dict(out_indices=(0, 1, 2, 3), flatten_sequential=True)

# NOTE: two tables for two model classes (timm's EfficientVit and EfficientVitLarge)
default_cfgs = {
    **register_family(
        __name__,
        model_cls=EfficientVit,
        variants=VARIANTS,
        weights=WEIGHTS,
        cfg_defaults=_CFG_DEFAULTS,
        feature_cfg=_FEATURE_CFG,
    ),
    **register_family(
        __name__,
        model_cls=EfficientVitLarge,
        variants=LARGE_VARIANTS,
        weights=LARGE_WEIGHTS,
        cfg_defaults=_CFG_DEFAULTS,
        feature_cfg=_FEATURE_CFG,
    ),
}


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. efficientvit_b0
    return family_entrypoint(__name__, name)
