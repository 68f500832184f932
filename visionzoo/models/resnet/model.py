"""ResNet blocks and the ResNet model (variants in ``variants.py``, weights in ``weights.py``)."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Protocol, cast

import torch
from torch import nn

from ...layers import (
    AvgPool2dSame,
    DropBlock2d,
    DropPath,
    LayerType,
    create_aa,
    create_attn,
    get_act_layer,
    get_norm_layer,
    get_padding,
)
from ...model import Trunk, VisionModel

__all__ = [
    "BasicBlock",
    "BlockType",
    "Bottleneck",
    "ResNet",
    "downsample_avg",
    "downsample_conv",
    "drop_blocks",
    "get_padding",
    "make_blocks",
]


# --- blocks ---------------------------------------------------------------------------------------
class BasicBlock(nn.Module):
    """Two 3x3 convs (ResNet-18/34)."""

    expansion = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        cardinality: int = 1,
        base_width: int = 64,
        reduce_first: int = 1,
        dilation: int = 1,
        first_dilation: int | None = None,
        act_layer: Callable[..., nn.Module] = nn.ReLU,
        norm_layer: Callable[..., nn.Module] = nn.BatchNorm2d,
        attn_layer: LayerType | None = None,
        aa_layer: LayerType | None = None,
        drop_block: Callable[[], nn.Module] | None = None,
        drop_path: nn.Module | None = None,
    ) -> None:
        super().__init__()
        if cardinality != 1 or base_width != 64:
            raise ValueError("BasicBlock supports only cardinality=1 and base_width=64")
        first_planes = planes // reduce_first
        outplanes = planes * self.expansion
        first_dilation = first_dilation or dilation
        use_aa = aa_layer is not None and (stride == 2 or first_dilation != dilation)

        self.conv1 = nn.Conv2d(
            inplanes,
            first_planes,
            3,
            stride=1 if use_aa else stride,
            padding=first_dilation,
            dilation=first_dilation,
            bias=False,
        )
        self.bn1 = norm_layer(first_planes)
        self.drop_block = drop_block() if drop_block is not None else nn.Identity()
        self.act1 = act_layer(inplace=True)
        self.aa = cast(nn.Module, create_aa(aa_layer, channels=first_planes, stride=stride, enable=use_aa))
        self.conv2 = nn.Conv2d(first_planes, outplanes, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = norm_layer(outplanes)
        self.se = create_attn(attn_layer, outplanes)
        self.act2 = act_layer(inplace=True)
        self.downsample = downsample
        self.drop_path = drop_path

    def zero_init_last(self) -> None:
        weight = getattr(self.bn2, "weight", None)
        if isinstance(weight, torch.Tensor):
            nn.init.zeros_(weight)

    def forward(self, x_in: torch.Tensor) -> torch.Tensor:
        x = self.aa(self.act1(self.drop_block(self.bn1(self.conv1(x_in)))))
        x = self.bn2(self.conv2(x))
        if self.se is not None:
            x = self.se(x)
        if self.drop_path is not None:
            x = self.drop_path(x)
        # NOTE: the shortcut is computed late and added in place, so no extra activation-sized
        # tensor is allocated or kept alive while the branch runs
        x += x_in if self.downsample is None else self.downsample(x_in)
        return self.act2(x)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3 (grouped for ResNeXt), 1x1 expand by 4 (ResNet-50 and deeper)."""

    expansion = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        *,
        cardinality: int = 1,
        base_width: int = 64,
        reduce_first: int = 1,
        dilation: int = 1,
        first_dilation: int | None = None,
        act_layer: Callable[..., nn.Module] = nn.ReLU,
        norm_layer: Callable[..., nn.Module] = nn.BatchNorm2d,
        attn_layer: LayerType | None = None,
        aa_layer: LayerType | None = None,
        drop_block: Callable[[], nn.Module] | None = None,
        drop_path: nn.Module | None = None,
    ) -> None:
        super().__init__()
        width = int(math.floor(planes * (base_width / 64)) * cardinality)
        first_planes = width // reduce_first
        outplanes = planes * self.expansion
        first_dilation = first_dilation or dilation
        use_aa = aa_layer is not None and (stride == 2 or first_dilation != dilation)

        self.conv1 = nn.Conv2d(inplanes, first_planes, 1, bias=False)
        self.bn1 = norm_layer(first_planes)
        self.act1 = act_layer(inplace=True)
        self.conv2 = nn.Conv2d(
            first_planes,
            width,
            3,
            stride=1 if use_aa else stride,
            padding=first_dilation,
            dilation=first_dilation,
            groups=cardinality,
            bias=False,
        )
        self.bn2 = norm_layer(width)
        self.drop_block = drop_block() if drop_block is not None else nn.Identity()
        self.act2 = act_layer(inplace=True)
        self.aa = cast(nn.Module, create_aa(aa_layer, channels=width, stride=stride, enable=use_aa))
        self.conv3 = nn.Conv2d(width, outplanes, 1, bias=False)
        self.bn3 = norm_layer(outplanes)
        self.se = create_attn(attn_layer, outplanes)
        self.act3 = act_layer(inplace=True)
        self.downsample = downsample
        self.drop_path = drop_path

    def zero_init_last(self) -> None:
        weight = getattr(self.bn3, "weight", None)
        if isinstance(weight, torch.Tensor):
            nn.init.zeros_(weight)

    def forward(self, x_in: torch.Tensor) -> torch.Tensor:
        x = self.act1(self.bn1(self.conv1(x_in)))
        x = self.aa(self.act2(self.drop_block(self.bn2(self.conv2(x)))))
        x = self.bn3(self.conv3(x))
        if self.se is not None:
            x = self.se(x)
        if self.drop_path is not None:
            x = self.drop_path(x)
        # NOTE: the shortcut is computed late and added in place, so no extra activation-sized
        # tensor is allocated or kept alive while the branch runs
        x += x_in if self.downsample is None else self.downsample(x_in)
        return self.act3(x)


class BlockType(Protocol):
    """A ResNet block class: ``cls(inplanes, planes, stride, downsample, **block keywords)``
    with ``expansion`` (output width over ``planes``). Other families' blocks (Res2Net,
    ResNeSt, SKNet) plug in here, with their own options through ``block_args``."""

    expansion: int

    def __call__(self, *args: Any, **kwargs: Any) -> nn.Module: ...


_BLOCKS: dict[str, BlockType] = {"basic": BasicBlock, "bottleneck": Bottleneck}


def _block_cls(block: str | BlockType) -> BlockType:
    if isinstance(block, str):
        try:
            return _BLOCKS[block]
        except KeyError:
            raise ValueError(f"unknown ResNet block {block!r}; valid: {', '.join(_BLOCKS)}") from None
    return block


def downsample_conv(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    stride: int = 1,
    dilation: int = 1,
    first_dilation: int | None = None,
    norm_layer: Callable[..., nn.Module] | None = None,
) -> nn.Module:
    """Projection shortcut as a strided conv + norm (the ``b`` variants); timm's signature."""
    kernel_size = 1 if stride == 1 and dilation == 1 else kernel_size
    first_dilation = (first_dilation or dilation) if kernel_size > 1 else 1
    padding = get_padding(kernel_size, stride, first_dilation)
    conv = nn.Conv2d(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        padding=padding,
        dilation=first_dilation,
        bias=False,
    )
    return nn.Sequential(conv, (norm_layer or nn.BatchNorm2d)(out_channels))


def downsample_avg(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    stride: int = 1,
    dilation: int = 1,
    first_dilation: int | None = None,
    norm_layer: Callable[..., nn.Module] | None = None,
) -> nn.Module:
    """Projection shortcut as avg-pool + 1x1 conv + norm (the ``d`` variants); timm's signature
    (``kernel_size`` and ``first_dilation`` unused)."""
    avg_stride = stride if dilation == 1 else 1
    pool: nn.Module = nn.Identity()
    if stride != 1 or dilation != 1:
        pool_cls = AvgPool2dSame if avg_stride == 1 and dilation > 1 else nn.AvgPool2d
        pool = pool_cls(2, avg_stride, ceil_mode=True, count_include_pad=False)
    conv = nn.Conv2d(in_channels, out_channels, 1, bias=False)
    return nn.Sequential(pool, conv, (norm_layer or nn.BatchNorm2d)(out_channels))


def drop_blocks(drop_prob: float = 0.0) -> list[partial[DropBlock2d] | None]:
    """Per-stage DropBlock factories: none in the first two stages (timm's rule)."""
    if not drop_prob:
        return [None] * 4
    return [
        None,
        None,
        partial(DropBlock2d, drop_prob=drop_prob, block_size=5, gamma_scale=0.25),
        partial(DropBlock2d, drop_prob=drop_prob, block_size=3, gamma_scale=1.0),
    ]


def make_blocks(
    block_fns: Sequence[BlockType],
    channels: Sequence[int],
    block_repeats: Sequence[int],
    inplanes: int,
    reduce_first: int = 1,
    output_stride: int = 32,
    down_kernel_size: int = 1,
    avg_down: bool = False,
    drop_block_rate: float = 0.0,
    drop_path_rate: float = 0.0,
    **kwargs: Any,
) -> tuple[list[tuple[str, nn.Module]], list[dict[str, Any]]]:
    """ResNet's stages: ``[(f"layer{i}", Sequential of blocks)]`` and their feature info.

    Stages after ``output_stride`` is reached dilate instead of striding; stochastic depth rises
    linearly over all blocks; ``kwargs`` go to every block (``norm_layer`` to the shortcuts too).
    """
    stages: list[tuple[str, nn.Module]] = []
    feature_info: list[dict[str, Any]] = []
    total_blocks = sum(block_repeats)
    block_idx, net_stride, dilation, prev_dilation = 0, 4, 1, 1
    stage_drop_blocks = drop_blocks(drop_block_rate)
    for i, (block_fn, planes, depth) in enumerate(zip(block_fns, channels, block_repeats, strict=True)):
        stride = 1 if i == 0 else 2
        if net_stride >= output_stride:
            dilation *= stride
            stride = 1
        else:
            net_stride *= stride
        out_chs = planes * block_fn.expansion
        shortcut = None
        if stride != 1 or inplanes != out_chs:
            make_shortcut = downsample_avg if avg_down else downsample_conv
            shortcut = make_shortcut(
                inplanes,
                out_chs,
                down_kernel_size,
                stride=stride,
                dilation=dilation,
                first_dilation=prev_dilation,
                norm_layer=kwargs.get("norm_layer"),
            )
        blocks = []
        for j in range(depth):
            dpr = drop_path_rate * block_idx / max(total_blocks - 1, 1)
            blocks.append(
                block_fn(
                    inplanes,
                    planes,
                    stride if j == 0 else 1,
                    shortcut if j == 0 else None,
                    reduce_first=reduce_first,
                    dilation=dilation,
                    first_dilation=prev_dilation,
                    drop_block=stage_drop_blocks[i] if i < len(stage_drop_blocks) else None,
                    drop_path=DropPath(dpr) if dpr > 0.0 else None,
                    **kwargs,
                )
            )
            prev_dilation = dilation
            inplanes = out_chs
            block_idx += 1
        # NOTE: stages are named layer1..layerN for checkpoint compatibility
        stages.append((f"layer{i + 1}", nn.Sequential(*blocks)))
        feature_info.append(dict(num_chs=inplanes, reduction=net_stride, module=f"layer{i + 1}"))
    return stages, feature_info


# --- model ----------------------------------------------------------------------------------------
class ResNet(VisionModel):
    """ResNet / ResNeXt / SE-ResNet / SENet, with the Gluon stem and downsample variants.

    Stems (``stem_type``, ``stem_width``): ``''`` one 7x7 conv; ``'deep'`` three 3x3 convs of
    widths (w, w, 2w) (c/d/s variants); ``'deep_tiered'`` widths (3w/4, w, 2w) (t variants).
    ``avg_down`` uses avg-pool + 1x1 conv shortcuts (d variants).

    Args:
        block: block class (or ``'basic'`` / ``'bottleneck'``), or one per stage.
        layers: blocks per stage.
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        output_stride: 32, 16 or 8 (later stages are dilated instead of strided).
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
        cardinality, base_width: ResNeXt groups and width per group.
        stem_width, stem_type, replace_stem_pool: stem options (see above; the last replaces the
            stem max-pool with a strided conv, as in ResNet-RS).
        block_reduce_first: width reduction of each block's first conv (2 for SENet-154).
        down_kernel_size: kernel of conv shortcuts (3 for SENet-154).
        avg_down: avg-pool shortcuts.
        channels: base width of each stage.
        act_layer, norm_layer, aa_layer, attn_layer: activation, norm, anti-aliasing and channel
            attention (``'se'``, ``'eca'``) layers.
        drop_rate, drop_path_rate, drop_block_rate: regularisation.
        zero_init_last: zero the last norm of each residual branch at init.
        block_args: extra keyword arguments for every block.
    """

    trunk = Trunk(stem=("conv1", "bn1", "act1", "maxpool"), stages=("layer*",), checkpoint="block")

    def __init__(
        self,
        block: str | BlockType | Sequence[str | BlockType],
        layers: Sequence[int],
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        output_stride: int = 32,
        global_pool: str = "avg",
        cardinality: int = 1,
        base_width: int = 64,
        stem_width: int = 64,
        stem_type: str = "",
        replace_stem_pool: bool = False,
        block_reduce_first: int = 1,
        down_kernel_size: int = 1,
        avg_down: bool = False,
        channels: Sequence[int] = (64, 128, 256, 512),
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        aa_layer: LayerType | None = None,
        attn_layer: LayerType | None = None,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        drop_block_rate: float = 0.0,
        zero_init_last: bool = True,
        block_args: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")
        if stem_type not in ("", "deep", "deep_tiered"):
            raise ValueError(f"stem_type must be '', 'deep' or 'deep_tiered', got {stem_type!r}")
        if len(layers) != len(channels):
            raise ValueError(f"layers {tuple(layers)} and channels {tuple(channels)} differ in length")
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        act, norm = get_act_layer(act_layer), get_norm_layer(norm_layer)
        if act is None or norm is None:
            raise ValueError(f"ResNet needs an act_layer and a norm_layer, got {act_layer!r}, {norm_layer!r}")
        if isinstance(block, (list, tuple)):
            blocks = [_block_cls(b) for b in block]
        else:
            blocks = [_block_cls(cast(str | BlockType, block))] * len(channels)

        # stem
        inplanes = stem_width * 2 if stem_type else 64
        self.conv1: nn.Module
        if stem_type:
            w1, w2 = (3 * (stem_width // 4), stem_width) if stem_type == "deep_tiered" else (stem_width,) * 2
            self.conv1 = nn.Sequential(
                nn.Conv2d(in_chans, w1, 3, stride=2, padding=1, bias=False),
                norm(w1),
                act(inplace=True),
                nn.Conv2d(w1, w2, 3, stride=1, padding=1, bias=False),
                norm(w2),
                act(inplace=True),
                nn.Conv2d(w2, inplanes, 3, stride=1, padding=1, bias=False),
            )
        else:
            self.conv1 = nn.Conv2d(in_chans, inplanes, 7, stride=2, padding=3, bias=False)
        self.bn1 = norm(inplanes)
        self.act1 = act(inplace=True)
        self.feature_info = [dict(num_chs=inplanes, reduction=2, module="act1")]
        # NOTE: named `maxpool` whatever it holds, for checkpoint compatibility
        self.maxpool = self._stem_pool(inplanes, replace_stem_pool, aa_layer, act, norm)

        # stages
        stages, stage_info = make_blocks(
            blocks,
            channels,
            layers,
            inplanes,
            reduce_first=block_reduce_first,
            output_stride=output_stride,
            down_kernel_size=down_kernel_size,
            avg_down=avg_down,
            drop_block_rate=drop_block_rate,
            drop_path_rate=drop_path_rate,
            cardinality=cardinality,
            base_width=base_width,
            act_layer=act,
            norm_layer=norm,
            attn_layer=attn_layer,
            aa_layer=aa_layer,
            **(block_args or {}),
        )
        for name, stage in stages:
            self.add_module(name, stage)
        self.feature_info.extend(stage_info)
        inplanes = stage_info[-1]["num_chs"]
        self.num_stages = len(channels)
        self._init_head(inplanes, num_classes, global_pool)
        self._initialize(zero_init_last=zero_init_last)

    @staticmethod
    def _stem_pool(
        chs: int,
        replace: bool,
        aa_layer: LayerType | None,
        act: Callable[..., nn.Module],
        norm: Callable[..., nn.Module],
    ) -> nn.Module:
        if replace:
            parts: list[nn.Module] = [
                nn.Conv2d(chs, chs, 3, stride=1 if aa_layer else 2, padding=1, bias=False)
            ]
            if aa_layer is not None:
                parts.append(cast(nn.Module, create_aa(aa_layer, channels=chs, stride=2)))
            return nn.Sequential(*parts, norm(chs), act(inplace=True))
        if aa_layer is None:
            return nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        aa_base = aa_layer.func if isinstance(aa_layer, partial) else aa_layer
        if isinstance(aa_base, type) and issubclass(aa_base, nn.AvgPool2d):
            return cast(Callable[..., nn.Module], aa_layer)(2)
        blur = cast(nn.Module, create_aa(aa_layer, channels=chs, stride=2))
        return nn.Sequential(nn.MaxPool2d(kernel_size=3, stride=1, padding=1), blur)

    def init_weights(self, zero_init_last: bool = True) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if zero_init_last:
            for m in self.modules():
                zero_last = getattr(m, "zero_init_last", None)
                if callable(zero_last):
                    zero_last()

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^conv1|bn1|maxpool", blocks=r"^layer(\d+)" if coarse else r"^layer(\d+)\.(\d+)")
