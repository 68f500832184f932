"""DLA: Deep Layer Aggregation, and its Res2Net / Res2NeXt block variants.

Papers:
* `Deep Layer Aggregation` - https://arxiv.org/abs/1707.06484
* `Res2Net: A New Multi-scale Backbone Architecture` - https://arxiv.org/abs/1904.01169

Weights: the ``in1k`` tags are the official DLA ImageNet weights (BSD-3-Clause), re-hosted by
timm; the Res2Net ones come from the Res2Net authors (license unknown). Module names follow timm's
DLA (``levelN.treeM.*``, ``levelN.root.*``), so timm checkpoints load unchanged; the official
checkpoints' unused projections of deeper trees are dropped on load (:func:`_drop_unused_projections`).
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn

from ..layers import create_classifier
from ..model import Trunk, VisionModel
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["DLA", "DlaBasic", "DlaBottle2neck", "DlaBottleneck", "DlaRoot", "DlaTree", "default_cfgs"]


# --- blocks ---------------------------------------------------------------------------------------
# A block takes ``(x, shortcut=None, children=None)``: a tree hands its leftmost block the
# (downsampled, projected) input as the residual, since the block's own input has another shape.
class DlaBasic(nn.Module):
    """Two 3x3 conv-norms with a residual (DLA-34)."""

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        dilation: int = 1,
        cardinality: int = 1,
        base_width: int = 64,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(
            inplanes, planes, 3, stride=stride, padding=dilation, dilation=dilation, bias=False
        )
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.stride = stride

    def forward(
        self,
        x: torch.Tensor,
        shortcut: torch.Tensor | None = None,
        children: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        residual = x if shortcut is None else shortcut
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + residual)


def _mid_width(outplanes: int, cardinality: int, base_width: int, expansion: int) -> int:
    """ResNeXt-style bottleneck width: ``outplanes * base_width / 64`` per group, over the expansion."""
    return int(math.floor(outplanes * (base_width / 64)) * cardinality) // expansion


class DlaBottleneck(nn.Module):
    """1x1 reduce, grouped 3x3 (DLA-X with ``cardinality`` > 1), 1x1 expand, residual."""

    expansion = 2

    def __init__(
        self,
        inplanes: int,
        outplanes: int,
        stride: int = 1,
        dilation: int = 1,
        cardinality: int = 1,
        base_width: int = 64,
    ) -> None:
        super().__init__()
        self.stride = stride
        mid = _mid_width(outplanes, cardinality, base_width, self.expansion)
        self.conv1 = nn.Conv2d(inplanes, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(
            mid, mid, 3, stride=stride, padding=dilation, dilation=dilation, groups=cardinality, bias=False
        )
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, outplanes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(outplanes)
        self.relu = nn.ReLU(inplace=True)

    def forward(
        self,
        x: torch.Tensor,
        shortcut: torch.Tensor | None = None,
        children: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        residual = x if shortcut is None else shortcut
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + residual)


class DlaBottle2neck(nn.Module):
    """Res2Net bottleneck: the 1x1-reduced map is split into ``scale`` groups of channels; each
    group but the last runs a 3x3 conv on itself plus the previous group's output (hierarchical
    residuals), the last is passed through (average-pooled when the block is strided)."""

    expansion = 2

    def __init__(
        self,
        inplanes: int,
        outplanes: int,
        stride: int = 1,
        dilation: int = 1,
        scale: int = 4,
        cardinality: int = 8,
        base_width: int = 4,
    ) -> None:
        super().__init__()
        self.is_first = stride > 1
        self.scale = scale
        self.width = mid = _mid_width(outplanes, cardinality, base_width, self.expansion)
        self.conv1 = nn.Conv2d(inplanes, mid * scale, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid * scale)
        n_convs = max(1, scale - 1)
        self.convs = nn.ModuleList(
            nn.Conv2d(
                mid,
                mid,
                3,
                stride=stride,
                padding=dilation,
                dilation=dilation,
                groups=cardinality,
                bias=False,
            )
            for _ in range(n_convs)
        )
        self.bns = nn.ModuleList(nn.BatchNorm2d(mid) for _ in range(n_convs))
        self.pool = nn.AvgPool2d(3, stride=stride, padding=1) if self.is_first else None
        self.conv3 = nn.Conv2d(mid * scale, outplanes, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(outplanes)
        self.relu = nn.ReLU(inplace=True)

    def forward(
        self,
        x: torch.Tensor,
        shortcut: torch.Tensor | None = None,
        children: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        residual = x if shortcut is None else shortcut
        groups = torch.split(self.relu(self.bn1(self.conv1(x))), self.width, 1)
        outs: list[torch.Tensor] = []
        sp = groups[0]
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            # a strided block cannot add the previous (downsampled) output to a full-size group
            sp = groups[i] if i == 0 or self.is_first else sp + groups[i]
            sp = self.relu(bn(conv(sp)))
            outs.append(sp)
        if self.scale > 1:
            outs.append(self.pool(groups[-1]) if self.pool is not None else groups[-1])
        out = self.bn3(self.conv3(torch.cat(outs, 1)))
        return self.relu(out + residual)


class DlaRoot(nn.Module):
    """Aggregation node: concatenate the children, 1x1 conv-norm (plus the first child with
    ``shortcut``), ReLU."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, shortcut: bool) -> None:
        super().__init__()
        # NOTE: a 1x1 conv whatever kernel_size says (only its padding follows it), as the
        # official DLA; every published config uses 1
        self.conv = nn.Conv2d(in_channels, out_channels, 1, padding=(kernel_size - 1) // 2, bias=False)
        self.bn = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = shortcut

    def forward(self, x_children: list[torch.Tensor]) -> torch.Tensor:
        x = self.bn(self.conv(torch.cat(x_children, 1)))
        if self.shortcut:
            x = x + x_children[0]
        return self.relu(x)


class DlaTree(nn.Module):
    """A tree of ``2 ** levels`` blocks (hierarchical deep aggregation).

    At ``levels == 1`` two blocks and a root that aggregates both (and the inputs handed down as
    ``children``); deeper, two subtrees, the second subtree's root aggregating everything the
    first produced. With ``level_root`` the tree's (downsampled) input joins the aggregation.
    """

    def __init__(
        self,
        levels: int,
        block: type[nn.Module],
        in_channels: int,
        out_channels: int,
        stride: int = 1,
        dilation: int = 1,
        cardinality: int = 1,
        base_width: int = 64,
        level_root: bool = False,
        root_dim: int = 0,
        root_kernel_size: int = 1,
        root_shortcut: bool = False,
    ) -> None:
        super().__init__()
        if root_dim == 0:
            root_dim = 2 * out_channels
        if level_root:
            root_dim += in_channels
        self.downsample = nn.MaxPool2d(stride, stride=stride) if stride > 1 else nn.Identity()
        self.project: nn.Module = nn.Identity()
        block_args = dict(dilation=dilation, cardinality=cardinality, base_width=base_width)
        self.root: DlaRoot | None
        if levels == 1:
            self.tree1: nn.Module = block(in_channels, out_channels, stride, **block_args)
            self.tree2: nn.Module = block(out_channels, out_channels, 1, **block_args)
            if in_channels != out_channels:
                # NOTE: only leaf trees project their residual (the official checkpoints also
                # carry unused projections of deeper trees; the filter drops them)
                self.project = nn.Sequential(
                    nn.Conv2d(in_channels, out_channels, 1, bias=False), nn.BatchNorm2d(out_channels)
                )
            self.root = DlaRoot(root_dim, out_channels, root_kernel_size, root_shortcut)
        else:
            sub_args: dict[str, Any] = dict(
                block_args, root_kernel_size=root_kernel_size, root_shortcut=root_shortcut
            )
            self.tree1 = DlaTree(levels - 1, block, in_channels, out_channels, stride, root_dim=0, **sub_args)
            self.tree2 = DlaTree(
                levels - 1, block, out_channels, out_channels, root_dim=root_dim + out_channels, **sub_args
            )
            self.root = None
        self.level_root = level_root
        self.root_dim = root_dim
        self.levels = levels

    def forward(
        self,
        x: torch.Tensor,
        shortcut: torch.Tensor | None = None,
        children: list[torch.Tensor] | None = None,
    ) -> torch.Tensor:
        children = [] if children is None else children
        bottom = self.downsample(x)
        if self.level_root:
            children.append(bottom)
        x1 = self.tree1(x, self.project(bottom))
        if self.root is not None:
            return self.root([self.tree2(x1), x1] + children)  # noqa: RUF005 (TorchScript)
        children.append(x1)
        return self.tree2(x1, None, children)


# --- model ----------------------------------------------------------------------------------------
class DLA(VisionModel):
    """DLA: a 7x7 stem, two plain conv levels, then four aggregation trees, each halving the
    resolution; a 1x1-conv classifier on the pooled features.

    Args:
        levels: per level: convs of levels 0-1, tree depth of levels 2-5.
        channels: width of each of the six levels.
        output_stride: 32, 16 or 8: the trees past it keep their resolution and dilate their
            blocks instead (timm's DLA takes 32 only).
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
        cardinality, base_width: grouped-conv width of the bottlenecks (DLA-X, Res2NeXt).
        block: ``DlaBasic``, ``DlaBottleneck`` or ``DlaBottle2neck``.
        shortcut_root: residual over each aggregation root (the deeper DLAs).
        drop_rate: dropout before the classifier.
    """

    # the trees nest, but the levels run in sequence: the walk is the core's
    trunk = Trunk(stem=("base_layer",), stages=("level*",))
    head_names: ClassVar[tuple[str, ...]] = ("global_pool", "head_drop", "fc", "flatten")
    # an aggregation node joins maps halved a different number of times: sides a multiple of 32
    # meet exactly (as in timm, other sides fail there)
    input_multiple: ClassVar[int] = 32

    def __init__(
        self,
        levels: tuple[int, ...],
        channels: tuple[int, ...],
        output_stride: int = 32,
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "avg",
        cardinality: int = 1,
        base_width: int = 64,
        block: type[nn.Module] = DlaBottle2neck,
        shortcut_root: bool = False,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        if output_stride not in (32, 16, 8):
            raise ValueError(f"output_stride must be 32, 16 or 8, got {output_stride!r}")
        if len(levels) != 6 or len(channels) != 6:
            raise ValueError(f"levels and channels need 6 entries each, got {levels!r} and {channels!r}")
        self.channels = tuple(channels)
        self.in_chans = in_chans
        self.cardinality = cardinality
        self.base_width = base_width
        self.drop_rate = drop_rate
        self.base_layer = nn.Sequential(
            nn.Conv2d(in_chans, channels[0], 7, padding=3, bias=False),
            nn.BatchNorm2d(channels[0]),
            nn.ReLU(inplace=True),
        )
        self.level0 = self._conv_level(channels[0], channels[0], levels[0])
        self.level1 = self._conv_level(channels[0], channels[1], levels[1], stride=2)
        tree_args: dict[str, Any] = dict(
            cardinality=cardinality, base_width=base_width, root_shortcut=shortcut_root
        )
        dilation = 1
        for i in range(2, 6):
            stride = 2
            if 2**i > output_stride:
                dilation, stride = dilation * 2, 1
            tree = DlaTree(
                levels[i],
                block,
                channels[i - 1],
                channels[i],
                stride,
                dilation,
                level_root=i > 2,
                **tree_args,
            )
            self.add_module(f"level{i}", tree)
        # level0 runs at full resolution: rarely a useful feature level, but timm's first
        self.feature_info = [
            dict(num_chs=channels[i], reduction=min(2**i, output_stride), module=f"level{i}")
            for i in range(6)
        ]
        self._init_conv_head(channels[-1], num_classes, global_pool)
        self._initialize()

    @staticmethod
    def _conv_level(inplanes: int, planes: int, convs: int, stride: int = 1) -> nn.Sequential:
        layers: list[nn.Module] = []
        for i in range(convs):
            layers += [
                nn.Conv2d(inplanes, planes, 3, stride=stride if i == 0 else 1, padding=1, bias=False),
                nn.BatchNorm2d(planes),
                nn.ReLU(inplace=True),
            ]
            inplanes = planes
        return nn.Sequential(*layers)

    def _init_conv_head(self, num_features: int, num_classes: int, global_pool: str) -> None:
        """Pool (unflattened) -> dropout -> 1x1 conv classifier -> flatten, as the official DLA."""
        self.num_features = num_features
        self.num_classes = num_classes
        self.global_pool, self.head_drop, self.fc = create_classifier(
            num_features, num_classes, global_pool, use_conv=True, drop_rate=self.drop_rate
        )
        self.head_hidden_size = num_features * self.global_pool.feat_mult()
        self.flatten: nn.Module = nn.Flatten(1) if global_pool else nn.Identity()

    def init_weights(self) -> None:
        """The official init: convs normal with std sqrt(2 / (k * k * out)), unit norms."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / n))
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^base_layer",
            blocks=r"^level(\d+)"
            if coarse
            else [
                (r"^level(\d+)\.tree(\d+)", None),
                (r"^level(\d+)\.root", (2,)),
                (r"^level(\d+)", (1,)),
            ],
        )

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A fresh 1x1-conv classifier of ``num_classes`` outputs (0 removes it)."""
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else None
        pool_type = self.global_pool.pool_type if global_pool is None else global_pool
        with torch.device(device or "cpu"):
            self._init_conv_head(self.num_features, num_classes, pool_type)
        if ref is not None:
            self.fc.to(dtype=ref.dtype)
        self.global_pool.train(self.training)
        self.fc.train(self.training)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.head_drop(self.global_pool(x))
        if pre_logits:
            return self.flatten(x)
        return self.flatten(self.fc(x))


def _drop_unused_projections(
    state_dict: dict[str, torch.Tensor], model: nn.Module
) -> dict[str, torch.Tensor]:
    """The official DLA checkpoints hold projections for trees deeper than one level, which never
    run; this model builds only the leaf trees' (timm loads those checkpoints non-strictly)."""
    keys = model.state_dict().keys()
    return {k: v for k, v in state_dict.items() if ".project." not in k or k in keys}


# --- variants -------------------------------------------------------------------------------------
DLAArgs = model_args_type(DLA)
_L34, _L60, _L102 = (1, 1, 1, 2, 2, 1), (1, 1, 1, 2, 3, 1), (1, 1, 1, 3, 4, 1)
_C_SMALL, _C_WIDE = (16, 32, 64, 64, 128, 256), (16, 32, 128, 256, 512, 1024)
_BOTTLENECK_X = dict(block=DlaBottleneck, cardinality=32, base_width=4)

VARIANTS: dict[str, Any] = {
    "dla60_res2net": DLAArgs(
        levels=_L60, channels=_C_WIDE, block=DlaBottle2neck, cardinality=1, base_width=28
    ),
    "dla60_res2next": DLAArgs(
        levels=_L60, channels=_C_WIDE, block=DlaBottle2neck, cardinality=8, base_width=4
    ),
    "dla34": DLAArgs(levels=_L34, channels=(16, 32, 64, 128, 256, 512), block=DlaBasic),
    "dla46_c": DLAArgs(levels=_L34, channels=_C_SMALL, block=DlaBottleneck),
    "dla46x_c": DLAArgs(levels=_L34, channels=_C_SMALL, **_BOTTLENECK_X),
    "dla60x_c": DLAArgs(levels=_L60, channels=_C_SMALL, **_BOTTLENECK_X),
    "dla60": DLAArgs(levels=_L60, channels=_C_WIDE, block=DlaBottleneck),
    "dla60x": DLAArgs(levels=_L60, channels=_C_WIDE, **_BOTTLENECK_X),
    "dla102": DLAArgs(levels=_L102, channels=_C_WIDE, block=DlaBottleneck, shortcut_root=True),
    "dla102x": DLAArgs(levels=_L102, channels=_C_WIDE, shortcut_root=True, **_BOTTLENECK_X),
    "dla102x2": DLAArgs(
        levels=_L102, channels=_C_WIDE, block=DlaBottleneck, cardinality=64, base_width=4, shortcut_root=True
    ),
    "dla169": DLAArgs(levels=(1, 1, 2, 3, 5, 1), channels=_C_WIDE, block=DlaBottleneck, shortcut_root=True),
}

# --- weights --------------------------------------------------------------------------------------
_RES2NET = dict(license="unknown")

WEIGHTS: dict[str, dict[str, Any]] = {
    **{f"{name}.in1k": weight() for name in VARIANTS if "res2" not in name},
    "dla60_res2net.in1k": weight(_RES2NET),
    "dla60_res2next.in1k": weight(_RES2NET),
}

default_cfgs = register_family(
    __name__,
    model_cls=DLA,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        interpolation="bilinear",
        first_conv="base_layer.0",
        classifier="fc",
        license="bsd-3-clause",
    ),
    feature_cfg=dict(out_indices=(1, 2, 3, 4, 5)),
    filter_fn=_drop_unused_projections,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. dla34
    return family_entrypoint(__name__, name)
