"""ResNet, ResNeXt, SE-/ECA-ResNet, Wide ResNet, ResNet-RS, anti-aliased and GroupNorm ResNets.

Papers:
* `Deep Residual Learning for Image Recognition` - https://arxiv.org/abs/1512.03385
* `Bag of Tricks for Image Classification with CNNs` (c/d/s stems) - https://arxiv.org/abs/1812.01187
* `Aggregated Residual Transformations for Deep Neural Networks` - https://arxiv.org/abs/1611.05431
* `Wide Residual Networks` - https://arxiv.org/abs/1605.07146
* `Squeeze-and-Excitation Networks` - https://arxiv.org/abs/1709.01507
* `ECA-Net` - https://arxiv.org/abs/1910.03151
* `Making Convolutional Networks Shift-Invariant Again` - https://arxiv.org/abs/1904.11486
* `Revisiting ResNets: Improved Training and Scaling Strategies` - https://arxiv.org/abs/2103.07579
* `ResNet strikes back: An improved training procedure in timm` - https://arxiv.org/abs/2110.00476
* `Knapsack Pruning with Inner Distillation` - https://arxiv.org/abs/2002.08258

Weights: each tag's ``license`` field gives its terms (Apache-2.0 for timm-trained weights,
BSD-3-Clause for torchvision's, CC-BY-NC-4.0 for Facebook's semi/weakly supervised ones).
Module names follow timm's ResNet, so timm checkpoints load unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
from torch import nn

from ..builder import Pruned, build_model_with_cfg, model_args_type
from ..layers import (
    AvgPool2dSame,
    BlurPool2d,
    DropBlock2d,
    DropPath,
    LayerType,
    SEModule,
    create_aa,
    create_attn,
    get_act_layer,
    get_norm_layer,
)
from ..model import VisionModel
from ..registry import register_family

__all__ = ["BasicBlock", "Bottleneck", "ResNet", "default_cfgs"]


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
        self.aa = create_aa(aa_layer, channels=first_planes, stride=stride, enable=use_aa)
        self.conv2 = nn.Conv2d(first_planes, outplanes, 3, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = norm_layer(outplanes)
        self.se = create_attn(attn_layer, outplanes)
        self.act2 = act_layer(inplace=True)
        self.downsample = downsample
        self.drop_path = drop_path

    def zero_init_last(self) -> None:
        if getattr(self.bn2, "weight", None) is not None:
            nn.init.zeros_(self.bn2.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        x = self.aa(self.act1(self.drop_block(self.bn1(self.conv1(x)))))
        x = self.bn2(self.conv2(x))
        if self.se is not None:
            x = self.se(x)
        if self.drop_path is not None:
            x = self.drop_path(x)
        return self.act2(x + shortcut)


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
        self.aa = create_aa(aa_layer, channels=width, stride=stride, enable=use_aa)
        self.conv3 = nn.Conv2d(width, outplanes, 1, bias=False)
        self.bn3 = norm_layer(outplanes)
        self.se = create_attn(attn_layer, outplanes)
        self.act3 = act_layer(inplace=True)
        self.downsample = downsample
        self.drop_path = drop_path

    def zero_init_last(self) -> None:
        if getattr(self.bn3, "weight", None) is not None:
            nn.init.zeros_(self.bn3.weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        x = self.act1(self.bn1(self.conv1(x)))
        x = self.aa(self.act2(self.drop_block(self.bn2(self.conv2(x)))))
        x = self.bn3(self.conv3(x))
        if self.se is not None:
            x = self.se(x)
        if self.drop_path is not None:
            x = self.drop_path(x)
        return self.act3(x + shortcut)


_BLOCKS: dict[str, type[nn.Module]] = {"basic": BasicBlock, "bottleneck": Bottleneck}


def _block_cls(block: str | type[nn.Module]) -> type[nn.Module]:
    if isinstance(block, str):
        try:
            return _BLOCKS[block]
        except KeyError:
            raise ValueError(f"unknown ResNet block {block!r}; valid: {', '.join(_BLOCKS)}") from None
    return block


def _downsample(
    in_chs: int,
    out_chs: int,
    *,
    kernel_size: int,
    stride: int,
    dilation: int,
    first_dilation: int,
    avg_down: bool,
    norm_layer: Callable[..., nn.Module],
) -> nn.Module:
    """Projection shortcut: strided conv (``b``) or avg-pool then 1x1 conv (``d``)."""
    if avg_down:
        avg_stride = stride if dilation == 1 else 1
        if stride == 1 and dilation == 1:
            pool: nn.Module = nn.Identity()
        elif avg_stride == 1 and dilation > 1:
            pool = AvgPool2dSame(2, avg_stride, ceil_mode=True, count_include_pad=False)
        else:
            pool = nn.AvgPool2d(2, avg_stride, ceil_mode=True, count_include_pad=False)
        return nn.Sequential(pool, nn.Conv2d(in_chs, out_chs, 1, bias=False), norm_layer(out_chs))
    kernel_size = 1 if stride == 1 and dilation == 1 else kernel_size
    first_dilation = first_dilation if kernel_size > 1 else 1
    padding = ((stride - 1) + first_dilation * (kernel_size - 1)) // 2
    return nn.Sequential(
        nn.Conv2d(
            in_chs, out_chs, kernel_size, stride=stride, padding=padding, dilation=first_dilation, bias=False
        ),
        norm_layer(out_chs),
    )


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

    def __init__(
        self,
        block: str | type[nn.Module] | Sequence[str | type[nn.Module]],
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
        act = get_act_layer(act_layer)
        norm = get_norm_layer(norm_layer)
        blocks = (
            [_block_cls(b) for b in block]
            if isinstance(block, (list, tuple))
            else ([_block_cls(block)] * len(channels))
        )

        # stem
        inplanes = stem_width * 2 if stem_type else 64
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
        total_blocks = sum(layers)
        block_idx, net_stride, dilation, prev_dilation = 0, 4, 1, 1
        drop_blocks = [
            None,
            None,
            partial(DropBlock2d, drop_block_rate, 5, 0.25) if drop_block_rate else None,
            partial(DropBlock2d, drop_block_rate, 3, 1.0) if drop_block_rate else None,
        ]
        for i, (block_cls, planes, depth) in enumerate(zip(blocks, channels, layers)):
            stride = 1 if i == 0 else 2
            if net_stride >= output_stride:
                dilation *= stride
                stride = 1
            else:
                net_stride *= stride
            out_chs = planes * block_cls.expansion
            shortcut = None
            if stride != 1 or inplanes != out_chs:
                shortcut = _downsample(
                    inplanes,
                    out_chs,
                    kernel_size=down_kernel_size,
                    stride=stride,
                    dilation=dilation,
                    first_dilation=prev_dilation,
                    avg_down=avg_down,
                    norm_layer=norm,
                )
            stage = []
            for j in range(depth):
                dpr = drop_path_rate * block_idx / max(total_blocks - 1, 1)
                stage.append(
                    block_cls(
                        inplanes,
                        planes,
                        stride if j == 0 else 1,
                        shortcut if j == 0 else None,
                        cardinality=cardinality,
                        base_width=base_width,
                        reduce_first=block_reduce_first,
                        dilation=dilation,
                        first_dilation=prev_dilation,
                        act_layer=act,
                        norm_layer=norm,
                        attn_layer=attn_layer,
                        aa_layer=aa_layer,
                        drop_block=drop_blocks[i] if i < len(drop_blocks) else None,
                        drop_path=DropPath(dpr) if dpr > 0.0 else None,
                        **(block_args or {}),
                    )
                )
                prev_dilation = dilation
                inplanes = out_chs
                block_idx += 1
            # NOTE: stages are named layer1..layerN for checkpoint compatibility
            self.add_module(f"layer{i + 1}", nn.Sequential(*stage))
            self.feature_info.append(dict(num_chs=inplanes, reduction=net_stride, module=f"layer{i + 1}"))
        self.num_stages = len(channels)
        self._init_head(inplanes, num_classes, global_pool)
        self.init_weights(zero_init_last=zero_init_last)

    @staticmethod
    def _stem_pool(
        chs: int,
        replace: bool,
        aa_layer: LayerType | None,
        act: Callable[..., nn.Module],
        norm: Callable[..., nn.Module],
    ) -> nn.Module:
        if replace:
            parts = [nn.Conv2d(chs, chs, 3, stride=1 if aa_layer else 2, padding=1, bias=False)]
            if aa_layer is not None:
                parts.append(create_aa(aa_layer, channels=chs, stride=2))
            return nn.Sequential(*parts, norm(chs), act(inplace=True))
        if aa_layer is None:
            return nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        aa_base = aa_layer.func if isinstance(aa_layer, partial) else aa_layer
        if isinstance(aa_base, type) and issubclass(aa_base, nn.AvgPool2d):
            return aa_layer(2)
        return nn.Sequential(
            nn.MaxPool2d(kernel_size=3, stride=1, padding=1), create_aa(aa_layer, channels=chs, stride=2)
        )

    def init_weights(self, zero_init_last: bool = True) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if zero_init_last:
            for m in self.modules():
                if hasattr(m, "zero_init_last"):
                    m.zero_init_last()

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^conv1|bn1|maxpool", blocks=r"^layer(\d+)" if coarse else r"^layer(\d+)\.(\d+)")

    def stages(self) -> list[nn.Sequential]:
        return [getattr(self, f"layer{i + 1}") for i in range(self.num_stages)]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.act1(self.bn1(self.conv1(x))))
        if self.grad_checkpointing and self.training and torch.is_grad_enabled():
            from torch.utils.checkpoint import checkpoint

            for block in (b for stage in self.stages() for b in stage):
                x = checkpoint(block, x, use_reentrant=False)
            return x
        for stage in self.stages():
            x = stage(x)
        return x


def _create(variant: str, pretrained: bool = False, **kwargs: Any) -> ResNet:
    return build_model_with_cfg(ResNet, variant, pretrained, **kwargs)


# --- variants -------------------------------------------------------------------------------------
ResNetArgs = model_args_type(ResNet)
_B, _N = "basic", "bottleneck"
_D = dict(stem_width=32, stem_type="deep", avg_down=True)  # 'd': deep stem + avg-pool shortcut
_T = dict(stem_width=32, stem_type="deep_tiered", avg_down=True)  # 't': tiered deep stem
_C = dict(stem_width=32, stem_type="deep")  # 'c': deep stem
_S = dict(stem_width=64, stem_type="deep")  # 's': wide deep stem
_RS = dict(_D, replace_stem_pool=True, attn_layer=partial(SEModule, rd_ratio=0.25))  # ResNet-RS
_X32x4, _X32x8, _X64x4 = (
    dict(cardinality=32, base_width=4),
    dict(cardinality=32, base_width=8),
    dict(cardinality=64, base_width=4),
)
_SE, _ECA = dict(attn_layer="se"), dict(attn_layer="eca")
_AA, _BLUR = dict(aa_layer=nn.AvgPool2d), dict(aa_layer=BlurPool2d)
_R18, _R34, _R26, _R50 = (2, 2, 2, 2), (3, 4, 6, 3), (2, 2, 2, 2), (3, 4, 6, 3)
_R101, _R152, _R200, _R269 = (3, 4, 23, 3), (3, 8, 36, 3), (3, 24, 36, 3), (3, 30, 48, 8)


def _merge(*parts: dict[str, Any], **fields: Any) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for part in (*parts, fields):
        merged.update(part)
    return merged


def _v(block: str | tuple[str, ...], layers: tuple[int, ...], *parts: dict[str, Any], **kw: Any) -> Any:
    return ResNetArgs(block=block, layers=layers, **_merge(*parts, **kw))


VARIANTS: dict[str, Any] = {
    "resnet10t": _v(_B, (1, 1, 1, 1), _T),
    "resnet14t": _v(_N, (1, 1, 1, 1), _T),
    "resnet18": _v(_B, _R18),
    "resnet18d": _v(_B, _R18, _D),
    "resnet34": _v(_B, _R34),
    "resnet34d": _v(_B, _R34, _D),
    "resnet26": _v(_N, _R26),
    "resnet26t": _v(_N, _R26, _T),
    "resnet26d": _v(_N, _R26, _D),
    "resnet50": _v(_N, _R50),
    "resnet50c": _v(_N, _R50, _C),
    "resnet50d": _v(_N, _R50, _D),
    "resnet50s": _v(_N, _R50, _S),
    "resnet50t": _v(_N, _R50, _T),
    "resnet101": _v(_N, _R101),
    "resnet101c": _v(_N, _R101, _C),
    "resnet101d": _v(_N, _R101, _D),
    "resnet101s": _v(_N, _R101, _S),
    "resnet152": _v(_N, _R152),
    "resnet152c": _v(_N, _R152, _C),
    "resnet152d": _v(_N, _R152, _D),
    "resnet152s": _v(_N, _R152, _S),
    "resnet200": _v(_N, _R200),
    "resnet200d": _v(_N, _R200, _D),
    "wide_resnet50_2": _v(_N, _R50, base_width=128),
    "wide_resnet101_2": _v(_N, _R101, base_width=128),
    "resnet50_gn": _v(_N, _R50, norm_layer="groupnorm"),
    "resnext50_32x4d": _v(_N, _R50, _X32x4),
    "resnext50d_32x4d": _v(_N, _R50, _X32x4, _D),
    "resnext101_32x4d": _v(_N, _R101, _X32x4),
    "resnext101_32x8d": _v(_N, _R101, _X32x8),
    "resnext101_32x16d": _v(_N, _R101, cardinality=32, base_width=16),
    "resnext101_32x32d": _v(_N, _R101, cardinality=32, base_width=32),
    "resnext101_64x4d": _v(_N, _R101, _X64x4),
    "ecaresnet26t": _v(_N, _R26, _T, _ECA),
    "ecaresnet50d": _v(_N, _R50, _D, _ECA),
    "ecaresnet50d_pruned": Pruned(_v(_N, _R50, _D, _ECA)),
    "ecaresnet50t": _v(_N, _R50, _T, _ECA),
    "ecaresnetlight": _v(_N, (1, 1, 11, 3), _ECA, stem_width=32, avg_down=True),
    "ecaresnet101d": _v(_N, _R101, _D, _ECA),
    "ecaresnet101d_pruned": Pruned(_v(_N, _R101, _D, _ECA)),
    "ecaresnet200d": _v(_N, _R200, _D, _ECA),
    "ecaresnet269d": _v(_N, _R269, _D, _ECA),
    "ecaresnext26t_32x4d": _v(_N, _R26, _X32x4, _T, _ECA),
    "ecaresnext50t_32x4d": _v(_N, _R50, _X32x4, _T, _ECA),
    "seresnet18": _v(_B, _R18, _SE),
    "seresnet34": _v(_B, _R34, _SE),
    "seresnet50": _v(_N, _R50, _SE),
    "seresnet50t": _v(_N, _R50, _T, _SE),
    "seresnet101": _v(_N, _R101, _SE),
    "seresnet152": _v(_N, _R152, _SE),
    "seresnet152d": _v(_N, _R152, _D, _SE),
    "seresnet200d": _v(_N, _R200, _D, _SE),
    "seresnet269d": _v(_N, _R269, _D, _SE),
    "seresnext26d_32x4d": _v(_N, _R26, _X32x4, _D, _SE),
    "seresnext26t_32x4d": _v(_N, _R26, _X32x4, _T, _SE),
    "seresnext50_32x4d": _v(_N, _R50, _X32x4, _SE),
    "seresnext101_32x4d": _v(_N, _R101, _X32x4, _SE),
    "seresnext101_32x8d": _v(_N, _R101, _X32x8, _SE),
    "seresnext101d_32x8d": _v(_N, _R101, _X32x8, _D, _SE),
    "seresnext101_64x4d": _v(_N, _R101, _X64x4, _SE),
    "senet154": _v(_N, _R152, _X64x4, _SE, stem_type="deep", down_kernel_size=3, block_reduce_first=2),
    "resnetblur18": _v(_B, _R18, _BLUR),
    "resnetblur50": _v(_N, _R50, _BLUR),
    "resnetblur50d": _v(_N, _R50, _BLUR, _D),
    "resnetblur101d": _v(_N, _R101, _BLUR, _D),
    "resnetaa34d": _v(_B, _R34, _AA, _D),
    "resnetaa50": _v(_N, _R50, _AA),
    "resnetaa50d": _v(_N, _R50, _AA, _D),
    "resnetaa101d": _v(_N, _R101, _AA, _D),
    "seresnetaa50d": _v(_N, _R50, _AA, _D, _SE),
    "seresnextaa101d_32x8d": _v(_N, _R101, _X32x8, _D, _AA, _SE),
    "seresnextaa201d_32x8d": _v(_N, (3, 24, 36, 4), _X32x8, _D, _AA, _SE, stem_width=64),
    "resnetrs50": _v(_N, _R50, _RS),
    "resnetrs101": _v(_N, _R101, _RS),
    "resnetrs152": _v(_N, _R152, _RS),
    "resnetrs200": _v(_N, _R200, _RS),
    "resnetrs270": _v(_N, (4, 29, 53, 4), _RS),
    "resnetrs350": _v(_N, (4, 36, 72, 4), _RS),
    "resnetrs420": _v(_N, (4, 44, 87, 4), _RS),
    "test_resnet": _v((_B, _B, _N, _B), (1, 1, 1, 1), _D, stem_width=16, channels=(32, 48, 48, 96)),
}

# --- weights --------------------------------------------------------------------------------------
_TIMM_REPO = "https://github.com/huggingface/pytorch-image-models"
_RSB_PAPER = "arXiv:2110.00476"
_TV_REPO = "https://github.com/pytorch/vision"
_FB_SSL_REPO = "https://github.com/facebookresearch/semi-supervised-ImageNet1K-models"
# The config every weight starts from; profiles below hold what a training recipe changes.
_BASE = dict(
    url="",
    hf_hub_id="timm/",
    num_classes=1000,
    input_size=(3, 224, 224),
    crop_pct=0.875,
    interpolation="bilinear",
    classifier="fc",
    license="apache-2.0",
)
_BICUBIC = dict(interpolation="bicubic")
_MIIL = dict(interpolation="bicubic", test_input_size=(3, 288, 288), test_crop_pct=0.95)
_TIMM = dict(_MIIL, origin_url=_TIMM_REPO)  # trained in timm
_RSB = dict(  # "ResNet strikes back" recipes
    interpolation="bicubic",
    crop_pct=0.95,
    test_input_size=(3, 288, 288),
    test_crop_pct=1.0,
    origin_url=_TIMM_REPO,
    paper_ids=_RSB_PAPER,
)
_RSB160 = dict(_RSB, input_size=(3, 160, 160), test_input_size=(3, 224, 224), test_crop_pct=0.95)
_GLUON = dict(interpolation="bicubic", origin_url="https://cv.gluon.ai/model_zoo/classification.html")
_TV = dict(license="bsd-3-clause", origin_url=_TV_REPO)
_TV2 = dict(_TV, input_size=(3, 176, 176), test_input_size=(3, 224, 224), test_crop_pct=0.965)
_FB_SSL = dict(license="cc-by-nc-4.0", origin_url=_FB_SSL_REPO)
_FB_WSL = dict(license="cc-by-nc-4.0", origin_url="https://github.com/facebookresearch/WSL-Images")


def _w(profile: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return _merge(_BASE, profile, **fields)


def _derive(name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    """Fill what follows from the architecture: the first conv and the final pool size."""
    args = VARIANTS[name.partition(".")[0]]
    args = args.args if isinstance(args, Pruned) else args
    size = cfg.get("input_size", (3, 224, 224))
    return {
        "first_conv": "conv1.0" if args.stem_type else "conv1",
        "pool_size": tuple(math.ceil(s / 32) for s in size[1:]),
        **cfg,
    }


# Weight tags in priority order: an architecture's first tag with weights is its default.
_WEIGHTS = {
    "resnet10t.c3_in1k": _w(
        _TIMM,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet10t_176_c3-f3215ab1.pth",
        input_size=(3, 176, 176),
        test_input_size=(3, 224, 224),
    ),
    "resnet14t.c3_in1k": _w(
        _TIMM,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet14t_176_c3-c4ed2c37.pth",
        input_size=(3, 176, 176),
        test_input_size=(3, 224, 224),
    ),
    "resnet18.a1_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet18_a1_0-d63eafa0.pth",
    ),
    "resnet18.a2_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet18_a2_0-b61bd467.pth",
    ),
    "resnet18.a3_in1k": _w(
        _RSB160,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet18_a3_0-40c531c8.pth",
    ),
    "resnet18.tv_in1k": _w(_TV, url="https://download.pytorch.org/models/resnet18-f37072fd.pth"),
    "resnet18.fb_ssl_yfcc100m_ft_in1k": _w(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_supervised_resnet18-d92f0530.pth",
    ),
    "resnet18.fb_swsl_ig1b_ft_in1k": _w(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_weakly_supervised_resnet18-118f1556.pth",
    ),
    "resnet18.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet18_v1b-0757602b.pth",
    ),
    "resnet18d.ra2_in1k": _w(
        _TIMM,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/resnet18d_ra2-48a79e06.pth",
    ),
    "resnet18d.ra4_e3600_r224_in1k": _w(
        _RSB,
        crop_pct=0.9,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
    ),
    "resnet34.a1_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet34_a1_0-46f8f793.pth",
    ),
    "resnet34.a2_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet34_a2_0-82d47d71.pth",
    ),
    "resnet34.a3_in1k": _w(
        _RSB160,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet34_a3_0-a20cabb6.pth",
    ),
    "resnet34.bt_in1k": _w(
        _TIMM,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/resnet34-43635321.pth",
    ),
    "resnet34.ra4_e3600_r224_in1k": _w(
        _RSB,
        crop_pct=0.9,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
    ),
    "resnet34.tv_in1k": _w(_TV, url="https://download.pytorch.org/models/resnet34-b627a593.pth"),
    "resnet34.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet34_v1b-c6d82d59.pth",
    ),
    "resnet34d.ra2_in1k": _w(
        _TIMM,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/resnet34d_ra2-f8dcfcaf.pth",
    ),
    "resnet26.bt_in1k": _w(
        _TIMM,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/resnet26-9aa10e23.pth",
    ),
    "resnet26t.ra2_in1k": _w(
        _TIMM,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-attn-weights/resnet26t_256_ra2-6f6fa748.pth",
        input_size=(3, 256, 256),
        crop_pct=0.94,
        test_input_size=(3, 320, 320),
        test_crop_pct=1.0,
    ),
    "resnet26d.bt_in1k": _w(
        _TIMM,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/resnet26d-69e92c46.pth",
    ),
    "resnet50.a1_in1k": _w(
        _RSB,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_a1_0-14fe96d1.pth",
    ),
    "resnet50.a1h_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_a1h2_176-001a1197.pth",
        input_size=(3, 176, 176),
        crop_pct=0.9,
        test_input_size=(3, 224, 224),
    ),
    "resnet50.a2_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_a2_0-a2746f79.pth",
    ),
    "resnet50.a3_in1k": _w(
        _RSB160,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_a3_0-59cae1ef.pth",
    ),
    "resnet50.b1k_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_b1k-532a802a.pth",
    ),
    "resnet50.b2k_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_b2k-1ba180c1.pth",
    ),
    "resnet50.c1_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_c1-5ba5e060.pth",
    ),
    "resnet50.c2_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_c2-d01e05b2.pth",
    ),
    "resnet50.d_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_d-f39db8af.pth",
    ),
    "resnet50.ram_in1k": _w(
        _TIMM,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-weights/resnet50_ram-a26f946b.pth",
    ),
    "resnet50.am_in1k": _w(
        _BICUBIC,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-weights/resnet50_am-6c502b37.pth",
    ),
    "resnet50.ra_in1k": _w(
        _TIMM,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-weights/resnet50_ra-85ebb6e5.pth",
    ),
    "resnet50.bt_in1k": _w(
        _TIMM,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-weights/rw_resnet50-86acaeed.pth",
    ),
    "resnet50.tv_in1k": _w(_TV, url="https://download.pytorch.org/models/resnet50-0676ba61.pth"),
    "resnet50.tv2_in1k": _w(_TV2, url="https://download.pytorch.org/models/resnet50-11ad3fa6.pth"),
    "resnet50.bamboo": _w(
        _BICUBIC,
        num_classes=0,
        crop_pct=1.0,
        license=None,
        origin_url="https://github.com/ZhangYuanhan-AI/Bamboo",
        paper_ids="arXiv:2203.07845",
    ),
    "resnet50.fb_ssl_yfcc100m_ft_in1k": _w(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_supervised_resnet50-08389792.pth",
    ),
    "resnet50.fb_swsl_ig1b_ft_in1k": _w(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_weakly_supervised_resnet50-16a12f1b.pth",
    ),
    "resnet50.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet50_v1b-0ebe02e2.pth",
    ),
    "resnet50c.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet50_v1c-48092f55.pth",
    ),
    "resnet50d.ra2_in1k": _w(
        _TIMM,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/resnet50d_ra2-464e36ba.pth",
    ),
    "resnet50d.ra4_e3600_r224_in1k": _w(_RSB, mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)),
    "resnet50d.a1_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50d_a1_0-e20cff14.pth",
    ),
    "resnet50d.a2_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50d_a2_0-a3adc64d.pth",
    ),
    "resnet50d.a3_in1k": _w(
        _RSB160,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50d_a3_0-403fdfad.pth",
    ),
    "resnet50d.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet50_v1d-818a1b1b.pth",
    ),
    "resnet50s.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet50_v1s-1762acc0.pth",
    ),
    "resnet50t.untrained": _w(_TIMM, hf_hub_id=None),
    "resnet101.a1h_in1k": _w(
        _RSB,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet101_a1h-36d3f2aa.pth",
    ),
    "resnet101.a1_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet101_a1_0-cdcb52a9.pth",
    ),
    "resnet101.a2_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet101_a2_0-6edb36c7.pth",
    ),
    "resnet101.a3_in1k": _w(
        _RSB160,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet101_a3_0-1db14157.pth",
    ),
    "resnet101.tv_in1k": _w(_TV, url="https://download.pytorch.org/models/resnet101-63fe2227.pth"),
    "resnet101.tv2_in1k": _w(
        _TV2,
        url="https://download.pytorch.org/models/resnet101-cd907fc2.pth",
    ),
    "resnet101.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet101_v1b-3b017079.pth",
    ),
    "resnet101c.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet101_v1c-1f26822a.pth",
    ),
    "resnet101d.ra2_in1k": _w(
        _RSB,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/resnet101d_ra2-2803ffab.pth",
        input_size=(3, 256, 256),
        test_input_size=(3, 320, 320),
        paper_ids=None,
    ),
    "resnet101d.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet101_v1d-0f9c8644.pth",
    ),
    "resnet101s.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet101_v1s-60fe0cc1.pth",
    ),
    "resnet152.a1h_in1k": _w(
        _RSB,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet152_a1h-dc400468.pth",
    ),
    "resnet152.a1_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet152_a1_0-2eee8a7a.pth",
    ),
    "resnet152.a2_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet152_a2_0-b4c6978f.pth",
    ),
    "resnet152.a3_in1k": _w(
        _RSB160,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet152_a3_0-134d4688.pth",
    ),
    "resnet152.tv_in1k": _w(_TV, url="https://download.pytorch.org/models/resnet152-394f9c45.pth"),
    "resnet152.tv2_in1k": _w(
        _TV2,
        url="https://download.pytorch.org/models/resnet152-f82ba261.pth",
    ),
    "resnet152.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet152_v1b-c1edb0dd.pth",
    ),
    "resnet152c.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet152_v1c-a3bb0b98.pth",
    ),
    "resnet152d.ra2_in1k": _w(
        _RSB,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/resnet152d_ra2-5cac0439.pth",
        input_size=(3, 256, 256),
        test_input_size=(3, 320, 320),
        paper_ids=None,
    ),
    "resnet152d.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet152_v1d-bd354e12.pth",
    ),
    "resnet152s.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnet152_v1s-dcc41b81.pth",
    ),
    "resnet200.untrained": _w(_TIMM, hf_hub_id=None),
    "resnet200d.ra2_in1k": _w(
        _RSB,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/resnet200d_ra2-bdba9bf9.pth",
        input_size=(3, 256, 256),
        test_input_size=(3, 320, 320),
        paper_ids=None,
    ),
    "wide_resnet50_2.racm_in1k": _w(
        _TIMM,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/wide_resnet50_racm-8234f177.pth",
    ),
    "wide_resnet50_2.tv_in1k": _w(
        _TV,
        url="https://download.pytorch.org/models/wide_resnet50_2-95faca4d.pth",
    ),
    "wide_resnet50_2.tv2_in1k": _w(
        _TV2,
        url="https://download.pytorch.org/models/wide_resnet50_2-9ba9bcbe.pth",
    ),
    "wide_resnet101_2.tv_in1k": _w(
        _TV,
        url="https://download.pytorch.org/models/wide_resnet101_2-32ee1156.pth",
    ),
    "wide_resnet101_2.tv2_in1k": _w(
        _TV2,
        url="https://download.pytorch.org/models/wide_resnet101_2-d733dc28.pth",
    ),
    "resnet50_gn.a1h_in1k": _w(
        _TIMM,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rsb-weights/resnet50_gn_a1h2-8fe6c4d0.pth",
        crop_pct=0.94,
    ),
    "resnext50_32x4d.a1h_in1k": _w(
        _RSB,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rsb-weights/resnext50_32x4d_a1h-0146ab0a.pth",
    ),
    "resnext50_32x4d.a1_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnext50_32x4d_a1_0-b5a91a1d.pth",
    ),
    "resnext50_32x4d.a2_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnext50_32x4d_a2_0-efc76add.pth",
    ),
    "resnext50_32x4d.a3_in1k": _w(
        _RSB160,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/resnext50_32x4d_a3_0-3e450271.pth",
    ),
    "resnext50_32x4d.ra_in1k": _w(
        _TIMM,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-weights/resnext50_32x4d_ra-d733960d.pth",
    ),
    "resnext50_32x4d.tv_in1k": _w(
        _TV,
        url="https://download.pytorch.org/models/resnext50_32x4d-7cdf4587.pth",
    ),
    "resnext50_32x4d.tv2_in1k": _w(
        _TV2,
        url="https://download.pytorch.org/models/resnext50_32x4d-1a0047aa.pth",
    ),
    "resnext50_32x4d.fb_ssl_yfcc100m_ft_in1k": _w(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_supervised_resnext50_32x4-ddb3e555.pth",
    ),
    "resnext50_32x4d.fb_swsl_ig1b_ft_in1k": _w(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_weakly_supervised_resnext50_32x4-72679e44.pth",
    ),
    "resnext50_32x4d.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnext50_32x4d-e6a097c1.pth",
    ),
    "resnext50d_32x4d.bt_in1k": _w(
        _TIMM,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/resnext50d_32x4d-103e99f8.pth",
    ),
    "resnext101_32x4d.fb_ssl_yfcc100m_ft_in1k": _w(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_supervised_resnext101_32x4-dc43570a.pth",
    ),
    "resnext101_32x4d.untrained": _w(_TIMM, hf_hub_id=None),
    "resnext101_32x4d.fb_swsl_ig1b_ft_in1k": _w(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_weakly_supervised_resnext101_32x4-3f87e46b.pth",
    ),
    "resnext101_32x4d.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnext101_32x4d-b253c8c4.pth",
    ),
    "resnext101_32x8d.tv_in1k": _w(
        _TV,
        url="https://download.pytorch.org/models/resnext101_32x8d-8ba56ff5.pth",
    ),
    "resnext101_32x8d.tv2_in1k": _w(
        _TV2,
        url="https://download.pytorch.org/models/resnext101_32x8d-110c445d.pth",
    ),
    "resnext101_32x8d.fb_wsl_ig1b_ft_in1k": _w(
        _FB_WSL,
        url="https://download.pytorch.org/models/ig_resnext101_32x8-c38310e5.pth",
    ),
    "resnext101_32x8d.fb_ssl_yfcc100m_ft_in1k": _w(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_supervised_resnext101_32x8-2cfe2f8b.pth",
    ),
    "resnext101_32x8d.fb_swsl_ig1b_ft_in1k": _w(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_weakly_supervised_resnext101_32x8-b4712904.pth",
    ),
    "resnext101_32x16d.fb_wsl_ig1b_ft_in1k": _w(
        _FB_WSL,
        url="https://download.pytorch.org/models/ig_resnext101_32x16-c6f796b0.pth",
    ),
    "resnext101_32x16d.fb_ssl_yfcc100m_ft_in1k": _w(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_supervised_resnext101_32x16-15fffa57.pth",
    ),
    "resnext101_32x16d.fb_swsl_ig1b_ft_in1k": _w(
        _FB_SSL,
        url="https://dl.fbaipublicfiles.com/semiweaksupervision/model_files/semi_weakly_supervised_resnext101_32x16-f3559a9c.pth",
    ),
    "resnext101_32x32d.fb_wsl_ig1b_ft_in1k": _w(
        _FB_WSL,
        url="https://download.pytorch.org/models/ig_resnext101_32x32-e4b90b00.pth",
    ),
    "resnext101_64x4d.c1_in1k": _w(
        _RSB,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-tpu-weights/resnext101_64x4d_c-0d0e0cc0.pth",
    ),
    "resnext101_64x4d.tv_in1k": _w(
        _TV,
        url="https://download.pytorch.org/models/resnext101_64x4d-173b62eb.pth",
    ),
    "resnext101_64x4d.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_resnext101_64x4d-f9a8e184.pth",
    ),
    "ecaresnet26t.ra2_in1k": _w(
        _TIMM,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/ecaresnet26t_ra2-46609757.pth",
        input_size=(3, 256, 256),
        test_input_size=(3, 320, 320),
    ),
    "ecaresnet50d.miil_in1k": _w(
        _MIIL,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-tresnet/ecaresnet50d-93c81e3b.pth",
    ),
    "ecaresnet50d_pruned.miil_in1k": _w(
        _MIIL,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-tresnet/ecaresnet50d_p-e4fa23c2.pth",
    ),
    "ecaresnet50t.ra2_in1k": _w(
        _MIIL,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/ecaresnet50t_ra2-f7ac63c4.pth",
        input_size=(3, 256, 256),
        test_input_size=(3, 320, 320),
    ),
    "ecaresnet50t.a1_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/ecaresnet50t_a1_0-99bd76a8.pth",
    ),
    "ecaresnet50t.a2_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/ecaresnet50t_a2_0-b1c7b745.pth",
    ),
    "ecaresnet50t.a3_in1k": _w(
        _RSB160,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/ecaresnet50t_a3_0-8cc311f1.pth",
    ),
    "ecaresnetlight.miil_in1k": _w(
        _MIIL,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-tresnet/ecaresnetlight-75a9c627.pth",
    ),
    "ecaresnet101d.miil_in1k": _w(
        _MIIL,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-tresnet/ecaresnet101d-153dad65.pth",
    ),
    "ecaresnet101d_pruned.miil_in1k": _w(
        _MIIL,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-tresnet/ecaresnet101d_p-9e74cb91.pth",
    ),
    "ecaresnet200d.untrained": _w(_TIMM, hf_hub_id=None, input_size=(3, 256, 256), crop_pct=0.95),
    "ecaresnet269d.ra2_in1k": _w(
        _RSB,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/ecaresnet269d_320_ra2-7baa55cb.pth",
        input_size=(3, 320, 320),
        test_input_size=(3, 352, 352),
        paper_ids=None,
    ),
    "ecaresnext26t_32x4d.untrained": _w(_BICUBIC, hf_hub_id=None),
    "ecaresnext50t_32x4d.untrained": _w(_BICUBIC, hf_hub_id=None),
    "seresnet18.untrained": _w(_TIMM, hf_hub_id=None),
    "seresnet34.untrained": _w(_TIMM, hf_hub_id=None),
    "seresnet50.a1_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/seresnet50_a1_0-ffa00869.pth",
    ),
    "seresnet50.a2_in1k": _w(
        _RSB,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/seresnet50_a2_0-850de0d9.pth",
    ),
    "seresnet50.a3_in1k": _w(
        _RSB160,
        url="https://github.com/huggingface/pytorch-image-models/releases/download/v0.1-rsb-weights/seresnet50_a3_0-317ecd56.pth",
    ),
    "seresnet50.ra2_in1k": _w(
        _TIMM,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/seresnet50_ra_224-8efdb4bb.pth",
    ),
    "seresnet50t.untrained": _w(_TIMM, hf_hub_id=None),
    "seresnet101.untrained": _w(_TIMM, hf_hub_id=None),
    "seresnet152.untrained": _w(_TIMM, hf_hub_id=None),
    "seresnet152d.ra2_in1k": _w(
        _RSB,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/seresnet152d_ra2-04464dd2.pth",
        input_size=(3, 256, 256),
        test_input_size=(3, 320, 320),
        paper_ids=None,
    ),
    "seresnet200d.untrained": _w(_TIMM, hf_hub_id=None, input_size=(3, 256, 256)),
    "seresnet269d.untrained": _w(_TIMM, hf_hub_id=None, input_size=(3, 256, 256)),
    "seresnext26d_32x4d.bt_in1k": _w(
        _TIMM,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/seresnext26d_32x4d-80fa48a3.pth",
    ),
    "seresnext26t_32x4d.bt_in1k": _w(
        _TIMM,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/seresnext26tn_32x4d-569cb627.pth",
    ),
    "seresnext50_32x4d.racm_in1k": _w(
        _TIMM,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/seresnext50_32x4d_racm-a304a460.pth",
    ),
    "seresnext50_32x4d.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_seresnext50_32x4d-90cf2d6e.pth",
    ),
    "seresnext101_32x4d.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_seresnext101_32x4d-cf52900d.pth",
    ),
    "seresnext101_32x4d.untrained": _w(_TIMM, hf_hub_id=None),
    "seresnext101_32x8d.ah_in1k": _w(
        _RSB,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-tpu-weights/seresnext101_32x8d_ah-e6bc4c0a.pth",
    ),
    "seresnext101d_32x8d.ah_in1k": _w(
        _RSB,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-tpu-weights/seresnext101d_32x8d_ah-191d7b94.pth",
    ),
    "seresnext101_64x4d.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_seresnext101_64x4d-f9926f93.pth",
    ),
    "senet154.gluon_in1k": _w(
        _GLUON,
        url="https://github.com/rwightman/pytorch-pretrained-gluonresnet/releases/download/v0.1/gluon_senet154-70a1a3c0.pth",
    ),
    "resnetblur18.untrained": _w(_TIMM, hf_hub_id=None),
    "resnetblur50.bt_in1k": _w(
        _TIMM,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/resnetblur50-84f4748f.pth",
    ),
    "resnetblur50d.untrained": _w(_TIMM, hf_hub_id=None),
    "resnetblur101d.untrained": _w(_TIMM, hf_hub_id=None),
    "resnetaa34d.untrained": _w(_TIMM, hf_hub_id=None),
    "resnetaa50.a1h_in1k": _w(
        _RSB,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rsb-weights/resnetaa50_a1h-4cf422b3.pth",
    ),
    "resnetaa50d.sw_in12k_ft_in1k": _w(_RSB, paper_ids=None),
    "resnetaa50d.sw_in12k": _w(_RSB, num_classes=11821, paper_ids=None),
    "resnetaa50d.d_in12k": _w(_RSB, num_classes=11821, paper_ids=None),
    "resnetaa101d.sw_in12k_ft_in1k": _w(_RSB, paper_ids=None),
    "resnetaa101d.sw_in12k": _w(_RSB, num_classes=11821, paper_ids=None),
    "seresnetaa50d.untrained": _w(_TIMM, hf_hub_id=None),
    "seresnextaa101d_32x8d.sw_in12k_ft_in1k_288": _w(
        _RSB,
        input_size=(3, 288, 288),
        test_input_size=(3, 320, 320),
        paper_ids=None,
    ),
    "seresnextaa101d_32x8d.sw_in12k_ft_in1k": _w(_TIMM, test_crop_pct=1.0),
    "seresnextaa101d_32x8d.sw_in12k": _w(_RSB, num_classes=11821, paper_ids=None),
    "seresnextaa101d_32x8d.ah_in1k": _w(
        _RSB,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-tpu-weights/seresnextaa101d_32x8d_ah-83c8ae12.pth",
    ),
    "seresnextaa201d_32x8d.sw_in12k_ft_in1k_384": _w(
        _BICUBIC,
        input_size=(3, 384, 384),
        crop_pct=1.0,
    ),
    "seresnextaa201d_32x8d.sw_in12k": _w(
        _BICUBIC,
        num_classes=11821,
        input_size=(3, 320, 320),
        crop_pct=0.95,
        test_input_size=(3, 384, 384),
        test_crop_pct=1.0,
    ),
    "resnetrs50.tf_in1k": _w(
        _BICUBIC,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rs-weights/resnetrs50_ema-6b53758b.pth",
        input_size=(3, 160, 160),
        crop_pct=0.91,
        test_input_size=(3, 224, 224),
    ),
    "resnetrs101.tf_in1k": _w(
        _BICUBIC,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rs-weights/resnetrs101_i192_ema-1509bbf6.pth",
        input_size=(3, 192, 192),
        crop_pct=0.94,
        test_input_size=(3, 288, 288),
    ),
    "resnetrs152.tf_in1k": _w(
        _BICUBIC,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rs-weights/resnetrs152_i256_ema-a9aff7f9.pth",
        input_size=(3, 256, 256),
        crop_pct=1.0,
        test_input_size=(3, 320, 320),
    ),
    "resnetrs200.tf_in1k": _w(
        _BICUBIC,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-tpu-weights/resnetrs200_c-6b698b88.pth",
        input_size=(3, 256, 256),
        crop_pct=1.0,
        test_input_size=(3, 320, 320),
    ),
    "resnetrs270.tf_in1k": _w(
        _BICUBIC,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rs-weights/resnetrs270_ema-b40e674c.pth",
        input_size=(3, 256, 256),
        crop_pct=1.0,
        test_input_size=(3, 352, 352),
    ),
    "resnetrs350.tf_in1k": _w(
        _BICUBIC,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rs-weights/resnetrs350_i256_ema-5a1aa8f1.pth",
        input_size=(3, 288, 288),
        crop_pct=1.0,
        test_input_size=(3, 384, 384),
    ),
    "resnetrs420.tf_in1k": _w(
        _BICUBIC,
        url="https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-rs-weights/resnetrs420_ema-972dee69.pth",
        input_size=(3, 320, 320),
        crop_pct=1.0,
        test_input_size=(3, 416, 416),
    ),
    "test_resnet.r160_in1k": _w(
        _BASE,
        input_size=(3, 160, 160),
        crop_pct=0.95,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
    ),
}
WEIGHTS = {name: _derive(name, cfg) for name, cfg in _WEIGHTS.items()}

DEPRECATED = {
    "tv_resnet34": "resnet34.tv_in1k",
    "tv_resnet50": "resnet50.tv_in1k",
    "tv_resnet101": "resnet101.tv_in1k",
    "tv_resnet152": "resnet152.tv_in1k",
    "tv_resnext50_32x4d": "resnext50_32x4d.tv_in1k",
    "ig_resnext101_32x8d": "resnext101_32x8d.fb_wsl_ig1b_ft_in1k",
    "ig_resnext101_32x16d": "resnext101_32x8d.fb_wsl_ig1b_ft_in1k",
    "ig_resnext101_32x32d": "resnext101_32x8d.fb_wsl_ig1b_ft_in1k",
    "ig_resnext101_32x48d": "resnext101_32x8d.fb_wsl_ig1b_ft_in1k",
    "ssl_resnet18": "resnet18.fb_ssl_yfcc100m_ft_in1k",
    "ssl_resnet50": "resnet50.fb_ssl_yfcc100m_ft_in1k",
    "ssl_resnext50_32x4d": "resnext50_32x4d.fb_ssl_yfcc100m_ft_in1k",
    "ssl_resnext101_32x4d": "resnext101_32x4d.fb_ssl_yfcc100m_ft_in1k",
    "ssl_resnext101_32x8d": "resnext101_32x8d.fb_ssl_yfcc100m_ft_in1k",
    "ssl_resnext101_32x16d": "resnext101_32x16d.fb_ssl_yfcc100m_ft_in1k",
    "swsl_resnet18": "resnet18.fb_swsl_ig1b_ft_in1k",
    "swsl_resnet50": "resnet50.fb_swsl_ig1b_ft_in1k",
    "swsl_resnext50_32x4d": "resnext50_32x4d.fb_swsl_ig1b_ft_in1k",
    "swsl_resnext101_32x4d": "resnext101_32x4d.fb_swsl_ig1b_ft_in1k",
    "swsl_resnext101_32x8d": "resnext101_32x8d.fb_swsl_ig1b_ft_in1k",
    "swsl_resnext101_32x16d": "resnext101_32x16d.fb_swsl_ig1b_ft_in1k",
    "gluon_resnet18_v1b": "resnet18.gluon_in1k",
    "gluon_resnet34_v1b": "resnet34.gluon_in1k",
    "gluon_resnet50_v1b": "resnet50.gluon_in1k",
    "gluon_resnet101_v1b": "resnet101.gluon_in1k",
    "gluon_resnet152_v1b": "resnet152.gluon_in1k",
    "gluon_resnet50_v1c": "resnet50c.gluon_in1k",
    "gluon_resnet101_v1c": "resnet101c.gluon_in1k",
    "gluon_resnet152_v1c": "resnet152c.gluon_in1k",
    "gluon_resnet50_v1d": "resnet50d.gluon_in1k",
    "gluon_resnet101_v1d": "resnet101d.gluon_in1k",
    "gluon_resnet152_v1d": "resnet152d.gluon_in1k",
    "gluon_resnet50_v1s": "resnet50s.gluon_in1k",
    "gluon_resnet101_v1s": "resnet101s.gluon_in1k",
    "gluon_resnet152_v1s": "resnet152s.gluon_in1k",
    "gluon_resnext50_32x4d": "resnext50_32x4d.gluon_in1k",
    "gluon_resnext101_32x4d": "resnext101_32x4d.gluon_in1k",
    "gluon_resnext101_64x4d": "resnext101_64x4d.gluon_in1k",
    "gluon_seresnext50_32x4d": "seresnext50_32x4d.gluon_in1k",
    "gluon_seresnext101_32x4d": "seresnext101_32x4d.gluon_in1k",
    "gluon_seresnext101_64x4d": "seresnext101_64x4d.gluon_in1k",
    "gluon_senet154": "senet154.gluon_in1k",
    "seresnext26tn_32x4d": "seresnext26t_32x4d",
}

default_cfgs = register_family(__name__, VARIANTS, _create, weights=WEIGHTS, deprecated=DEPRECATED)
