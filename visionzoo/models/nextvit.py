"""Next-ViT: a conv / transformer hybrid for deployment. Stages of Next Convolution Blocks
(multi-head convolutional attention: a grouped 3x3 conv per head) with a Next Transformer Block at
the end of each run, which attends over spatially pooled keys on part of the channels and mixes
the rest by convolutional attention. Batch norms only; the norms before the MLPs and attention
projections fold into them for inference (``reparameterize``).

Paper: `Next-ViT: Next Generation Vision Transformer for Efficient Deployment in Realistic
Industrial Scenarios` - https://arxiv.org/abs/2207.05501

Weights: ByteDance's ImageNet-1k trainings (https://github.com/bytedance/Next-ViT), at 224 and 384
px, with and without SSLD distillation on 6M images; apache-2.0. Module names follow timm's
``nextvit``; the original layout (``features.N`` and other names, in the same order) through
:func:`checkpoint_filter_fn`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import (
    ClassifierHead,
    DropPath,
    Mlp,
    calculate_drop_path_rates,
    get_act_layer,
    get_norm_layer,
    trunc_normal_,
)
from ..layers.branch_fusion import norm_scale_shift
from ..model import Trunk, VisionModel
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "VARIANTS",
    "WEIGHTS",
    "ConvAttention",
    "ConvNormAct",
    "EfficientAttention",
    "NextConvBlock",
    "NextStage",
    "NextTransformerBlock",
    "NextViT",
    "PatchEmbed",
    "checkpoint_filter_fn",
    "default_cfgs",
    "merge_pre_bn",
]

LayerFn = Callable[..., nn.Module]


@torch.no_grad()
def merge_pre_bn(module: nn.Module, pre_bn_1: nn.Module, pre_bn_2: nn.Module | None = None) -> None:
    """Fold the eval batch norm(s) run just before a linear layer or 1x1 conv into it, in place:
    ``W (x * s + t) + b = (W * s) x + (W t + b)`` (two norms compose into one such map)."""
    weight = cast(torch.Tensor, module.weight)
    scale, shift = norm_scale_shift(pre_bn_1, dtype=torch.float64)
    if pre_bn_2 is not None:
        scale2, shift2 = norm_scale_shift(pre_bn_2, dtype=torch.float64)
        scale, shift = scale * scale2, shift * scale2 + shift2
    w = weight.double().reshape(weight.shape[0], weight.shape[1])
    bias = module.bias
    extra = w @ shift
    if bias is None:
        module.bias = nn.Parameter(extra.to(weight.dtype))
    else:
        cast(torch.Tensor, bias).add_(extra.to(weight.dtype))
    weight.copy_((w * scale[None, :]).reshape(weight.shape).to(weight.dtype))


class ConvNormAct(nn.Module):
    """Conv (padding 1, no bias) -> norm -> act."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        groups: int = 1,
        norm_layer: LayerFn = nn.BatchNorm2d,
        act_layer: LayerFn = nn.ReLU,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(
            in_chs, out_chs, kernel_size, stride=stride, padding=1, groups=groups, bias=False
        )
        self.norm = norm_layer(out_chs)
        self.act = act_layer()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.norm(self.conv(x)))


def _make_divisible(v: float, divisor: int) -> int:
    """Nearest multiple of ``divisor`` (at least one), not more than 10% below ``v``."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new_v + divisor if new_v < 0.9 * v else new_v


class PatchEmbed(nn.Module):
    """Stride 2: 2x2 average pool (ceil, edge windows averaged over what they cover), then a 1x1
    conv-norm; stride 1: the 1x1 conv-norm only where the width changes, else nothing."""

    def __init__(
        self, in_chs: int, out_chs: int, stride: int = 1, norm_layer: LayerFn = nn.BatchNorm2d
    ) -> None:
        super().__init__()
        self.pool: nn.Module = (
            nn.AvgPool2d((2, 2), stride=2, ceil_mode=True, count_include_pad=False)
            if stride == 2
            else nn.Identity()
        )
        project = stride == 2 or in_chs != out_chs
        self.conv: nn.Module = nn.Conv2d(in_chs, out_chs, 1, bias=False) if project else nn.Identity()
        self.norm: nn.Module = norm_layer(out_chs) if project else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(self.pool(x)))


class ConvAttention(nn.Module):
    """Multi-head convolutional attention: a 3x3 conv grouped by head (``head_dim`` channels a
    group), norm, act, 1x1 projection."""

    def __init__(
        self, out_chs: int, head_dim: int, norm_layer: LayerFn = nn.BatchNorm2d, act_layer: LayerFn = nn.ReLU
    ) -> None:
        super().__init__()
        self.group_conv3x3 = nn.Conv2d(out_chs, out_chs, 3, padding=1, groups=out_chs // head_dim, bias=False)
        self.norm = norm_layer(out_chs)
        self.act = act_layer()
        self.projection = nn.Conv2d(out_chs, out_chs, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projection(self.act(self.norm(self.group_conv3x3(x))))


class NextConvBlock(nn.Module):
    """Patch embedding, then ``x + mhca(x)`` and ``x + mlp(norm(x))`` (a conv MLP)."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        stride: int = 1,
        drop_path: float = 0.0,
        drop: float = 0.0,
        head_dim: int = 32,
        mlp_ratio: float = 3.0,
        norm_layer: LayerFn = nn.BatchNorm2d,
        act_layer: LayerFn = nn.ReLU,
    ) -> None:
        super().__init__()
        if out_chs % head_dim:
            raise ValueError(f"out_chs={out_chs} is not a multiple of head_dim={head_dim}")
        self.patch_embed = PatchEmbed(in_chs, out_chs, stride, norm_layer=norm_layer)
        self.mhca = ConvAttention(out_chs, head_dim, norm_layer=norm_layer, act_layer=act_layer)
        self.attn_drop_path = DropPath(drop_path)
        self.norm: nn.Module = norm_layer(out_chs)
        self.mlp = Mlp(out_chs, int(out_chs * mlp_ratio), act_layer=act_layer, drop=drop, use_conv=True)
        self.mlp_drop_path = DropPath(drop_path)
        self.is_fused = False

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Fold the pre-MLP norm into the MLP's first conv (eval statistics; one-way)."""
        if not self.is_fused:
            merge_pre_bn(self.mlp.fc1, self.norm)
            self.norm = nn.Identity()
            self.is_fused = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        x = x + self.attn_drop_path(self.mhca(x))
        return x + self.mlp_drop_path(self.mlp(self.norm(x)))


class EfficientAttention(nn.Module):
    """Multi-head attention of every token over keys / values average-pooled ``sr_ratio**2`` tokens
    at a time along the flattened grid (then batch-normed); separate ``q`` / ``k`` / ``v``."""

    def __init__(
        self,
        dim: int,
        out_dim: int | None = None,
        head_dim: int = 32,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        sr_ratio: int = 1,
        norm_layer: LayerFn = nn.BatchNorm1d,
        *,
        fused_attn: bool = True,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.num_heads = dim // head_dim
        self.head_dim = head_dim
        self.scale = head_dim**-0.5
        self.fused_attn = fused_attn
        self.q = nn.Linear(dim, dim, bias=qkv_bias)
        self.k = nn.Linear(dim, dim, bias=qkv_bias)
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, out_dim if out_dim is not None else dim)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj_drop = nn.Dropout(proj_drop)
        self.sr_ratio = sr_ratio
        reduce = sr_ratio**2
        self.sr: nn.Module | None = nn.AvgPool1d(kernel_size=reduce, stride=reduce) if sr_ratio > 1 else None
        self.norm: nn.Module | None = norm_layer(dim) if sr_ratio > 1 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        q = self.q(x).reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)
        if self.sr is not None and self.norm is not None:
            x = self.norm(self.sr(x.transpose(1, 2))).transpose(1, 2)
        k = self.k(x).reshape(b, -1, self.num_heads, self.head_dim).transpose(1, 2)
        v = self.v(x).reshape(b, -1, self.num_heads, self.head_dim).transpose(1, 2)
        if self.fused_attn:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop.p if self.training else 0.0)
        else:
            attn = (q * self.scale) @ k.transpose(-1, -2)
            y = self.attn_drop(attn.softmax(dim=-1)) @ v
        return self.proj_drop(self.proj(y.transpose(1, 2).reshape(b, n, c)))


class NextTransformerBlock(nn.Module):
    """Patch embedding to ``mix_block_ratio`` of the width (rounded to 32), efficient attention
    on those channels, a projection to the rest mixed by convolutional attention, the two
    concatenated, then ``x + mlp(norm(x))``."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        drop_path: float,
        stride: int = 1,
        sr_ratio: int = 1,
        mlp_ratio: float = 2.0,
        head_dim: int = 32,
        mix_block_ratio: float = 0.75,
        attn_drop: float = 0.0,
        drop: float = 0.0,
        norm_layer: LayerFn = nn.BatchNorm2d,
        act_layer: LayerFn = nn.ReLU,
    ) -> None:
        super().__init__()
        self.mhsa_out_chs = _make_divisible(int(out_chs * mix_block_ratio), 32)
        self.mhca_out_chs = out_chs - self.mhsa_out_chs
        # NOTE: the block's first patch embedding keeps BatchNorm2d whatever norm_layer, as timm's
        self.patch_embed = PatchEmbed(in_chs, self.mhsa_out_chs, stride)
        self.norm1: nn.Module = norm_layer(self.mhsa_out_chs)
        self.e_mhsa = EfficientAttention(
            self.mhsa_out_chs, head_dim=head_dim, sr_ratio=sr_ratio, attn_drop=attn_drop, proj_drop=drop
        )
        self.mhsa_drop_path = DropPath(drop_path * mix_block_ratio)
        self.projection = PatchEmbed(self.mhsa_out_chs, self.mhca_out_chs, stride=1, norm_layer=norm_layer)
        self.mhca = ConvAttention(
            self.mhca_out_chs, head_dim=head_dim, norm_layer=norm_layer, act_layer=act_layer
        )
        self.mhca_drop_path = DropPath(drop_path * (1 - mix_block_ratio))
        self.norm2: nn.Module = norm_layer(out_chs)
        self.mlp = Mlp(out_chs, int(out_chs * mlp_ratio), act_layer=act_layer, drop=drop, use_conv=True)
        self.mlp_drop_path = DropPath(drop_path)
        self.is_fused = False

    @torch.no_grad()
    def reparameterize(self) -> None:
        """Fold ``norm1`` into ``q`` (and, through the key pooling and its norm, into ``k`` / ``v``)
        and ``norm2`` into the MLP's first conv (eval statistics; one-way)."""
        if self.is_fused:
            return
        attn = self.e_mhsa
        merge_pre_bn(attn.q, self.norm1)
        pooled_norm = attn.norm  # average pooling commutes with a per-channel affine map
        merge_pre_bn(attn.k, self.norm1, pooled_norm)
        merge_pre_bn(attn.v, self.norm1, pooled_norm)
        if pooled_norm is not None:
            attn.norm = nn.Identity()
        self.norm1 = nn.Identity()
        merge_pre_bn(self.mlp.fc1, self.norm2)
        self.norm2 = nn.Identity()
        self.is_fused = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        b, c, h, w = x.shape
        out = self.norm1(x).reshape(b, c, -1).transpose(-1, -2)
        out = self.mhsa_drop_path(self.e_mhsa(out))
        x = x + out.transpose(-1, -2).reshape(b, c, h, w)
        out = self.projection(x)
        out = out + self.mhca_drop_path(self.mhca(out))
        x = torch.cat([x, out], dim=1)
        return x + self.mlp_drop_path(self.mlp(self.norm2(x)))


class NextStage(nn.Module):
    """Blocks of the given types and widths; the first takes the stage stride."""

    def __init__(
        self,
        in_chs: int,
        block_chs: list[int],
        block_types: list[type[nn.Module]],
        stride: int = 2,
        sr_ratio: int = 1,
        mix_block_ratio: float = 1.0,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float | list[float] = 0.0,
        head_dim: int = 32,
        norm_layer: LayerFn = nn.BatchNorm2d,
        act_layer: LayerFn = nn.ReLU,
    ) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        for i, (out_chs, kind) in enumerate(zip(block_chs, block_types)):
            step = stride if i == 0 else 1
            rate = drop_path[i] if isinstance(drop_path, list) else drop_path
            if kind is NextConvBlock:
                blocks.append(
                    NextConvBlock(
                        in_chs, out_chs, stride=step, drop_path=rate, drop=drop, head_dim=head_dim,
                        norm_layer=norm_layer, act_layer=act_layer,
                    )
                )  # fmt: skip
            else:
                blocks.append(
                    NextTransformerBlock(
                        in_chs, out_chs, drop_path=rate, stride=step, sr_ratio=sr_ratio, head_dim=head_dim,
                        mix_block_ratio=mix_block_ratio, attn_drop=attn_drop, drop=drop,
                        norm_layer=norm_layer, act_layer=act_layer,
                    )
                )  # fmt: skip
            in_chs = out_chs
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


def _stage_layout(depths: tuple[int, ...]) -> tuple[list[list[int]], list[list[type[nn.Module]]]]:
    """The published widths and block types per stage (the third stage repeats a run of four
    conv blocks and a transformer block, so its depth is a multiple of 5)."""
    c, t = NextConvBlock, NextTransformerBlock
    widths = [
        [96] * depths[0],
        [192] * (depths[1] - 1) + [256],
        [384, 384, 384, 384, 512] * (depths[2] // 5),
        [768] * (depths[3] - 1) + [1024],
    ]
    kinds: list[list[type[nn.Module]]] = [
        [c] * depths[0],
        [c] * (depths[1] - 1) + [t],
        [c, c, c, c, t] * (depths[2] // 5),
        [c] * (depths[3] - 1) + [t],
    ]
    return widths, kinds


class NextViT(VisionModel):
    """Four-conv stem (stride 4), four stages at strides 4, 8, 16, 32, a final batch norm and a
    pooled linear head.

    Args:
        stem_chs: the stem convs' widths.
        depths: blocks per stage (four stages; the third a multiple of 5).
        strides, sr_ratios: per stage.
        mix_block_ratio: the share of a transformer block's width that attends.
        act_layer: default ReLU.
    """

    trunk = Trunk(
        stem=("stem",),
        stages=("stages.*",),
        post=("norm",),
        norm_last=True,
        blocks=("blocks.*",),
        checkpoint="block",
    )
    classifier_name = "head.fc"
    # DropPaths at a fixed share of their block's rate: a transformer block's two token mixers
    # split it by mix_block_ratio (as timm's); the MLP's takes the whole rate
    scaled_drop_paths: ClassVar[tuple[str, ...]] = ("mhsa_drop_path", "mhca_drop_path")

    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        stem_chs: tuple[int, ...] = (64, 32, 64),
        depths: tuple[int, ...] = (3, 4, 10, 3),
        strides: tuple[int, ...] = (1, 2, 2, 2),
        sr_ratios: tuple[int, ...] = (8, 4, 2, 1),
        drop_path_rate: float = 0.1,
        attn_drop_rate: float = 0.0,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        head_dim: int = 32,
        mix_block_ratio: float = 0.75,
        norm_layer: str | LayerFn = nn.BatchNorm2d,
        act_layer: str | LayerFn | None = None,
    ) -> None:
        super().__init__()
        if len(depths) != 4 or depths[2] % 5:
            raise ValueError(f"depths={depths!r}: four stages, the third a multiple of 5")
        norm = cast(LayerFn, get_norm_layer(norm_layer))
        act = partial(nn.ReLU, inplace=True) if act_layer is None else cast(LayerFn, get_act_layer(act_layer))
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        widths, kinds = _stage_layout(depths)
        self.stage_out_chs = widths
        self.feature_info = [
            dict(num_chs=w[-1], reduction=2 ** (i + 2), module=f"stages.{i}") for i, w in enumerate(widths)
        ]
        self.stem = nn.Sequential(
            ConvNormAct(in_chans, stem_chs[0], 3, stride=2, norm_layer=norm, act_layer=act),
            ConvNormAct(stem_chs[0], stem_chs[1], 3, stride=1, norm_layer=norm, act_layer=act),
            ConvNormAct(stem_chs[1], stem_chs[2], 3, stride=1, norm_layer=norm, act_layer=act),
            ConvNormAct(stem_chs[2], stem_chs[2], 3, stride=2, norm_layer=norm, act_layer=act),
        )
        dpr = cast(list[list[float]], calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True))
        in_chs = stem_chs[-1]
        stages = []
        for i in range(4):
            stages.append(
                NextStage(
                    in_chs, widths[i], kinds[i], stride=strides[i], sr_ratio=sr_ratios[i],
                    mix_block_ratio=mix_block_ratio, head_dim=head_dim, drop=proj_drop_rate,
                    attn_drop=attn_drop_rate, drop_path=dpr[i], norm_layer=norm, act_layer=act,
                )
            )  # fmt: skip
            in_chs = widths[i][-1]
        self.stages = nn.Sequential(*stages)
        self.norm = norm(in_chs)
        self.num_features = in_chs
        self.num_classes = num_classes
        self.head = ClassifierHead(in_chs, num_classes, pool_type=global_pool, drop_rate=drop_rate)
        self.head_hidden_size = self.head.num_features
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal (0.02) linears and convs, zero biases."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [(r"^stages\.(\d+)\.blocks\.(\d+)", None), (r"^norm", (99999,))],
        )


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """The authors' checkpoints name modules otherwise (``features.N``, ``mlp.conv1``...) but hold
    the same tensors in the same order: renamed by position. Ours pass unchanged."""
    if "stages.0.blocks.0.mlp.fc1.weight" in state_dict:
        return state_dict
    ours = model.state_dict()
    if len(ours) != len(state_dict):
        raise ValueError(
            f"an original Next-ViT checkpoint has {len(ours)} tensors here, got {len(state_dict)}"
        )
    return {key: value for key, value in zip(ours, state_dict.values())}


NextViTArgs = model_args_type(NextViT)

VARIANTS = {
    "nextvit_small": NextViTArgs(depths=(3, 4, 10, 3), drop_path_rate=0.1),
    "nextvit_base": NextViTArgs(depths=(3, 4, 20, 3), drop_path_rate=0.2),
    "nextvit_large": NextViTArgs(depths=(3, 4, 30, 3), drop_path_rate=0.2),
}

_384 = dict(input_size=(3, 384, 384), pool_size=(12, 12), crop_pct=1.0)
WEIGHTS = {
    **{f"{n}.bd_in1k": weight(default=True) for n in VARIANTS},
    **{f"{n}.bd_in1k_384": weight(_384) for n in VARIANTS},
    **{f"{n}.bd_ssld_6m_in1k": weight() for n in VARIANTS},
    **{f"{n}.bd_ssld_6m_in1k_384": weight(_384) for n in VARIANTS},
}

default_cfgs = register_family(
    __name__,
    model_cls=NextViT,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        num_classes=1000,
        input_size=(3, 224, 224),
        pool_size=(7, 7),
        crop_pct=0.95,
        interpolation="bicubic",
        mean=IMAGENET_DEFAULT_MEAN,
        std=IMAGENET_DEFAULT_STD,
        first_conv="stem.0.conv",
        classifier="head.fc",
        license="apache-2.0",
    ),
    feature_cfg=dict(flatten_sequential=True, out_indices=(0, 1, 2, 3)),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:
    return family_entrypoint(__name__, name)
