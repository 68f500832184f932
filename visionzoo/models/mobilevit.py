"""MobileViT v1 / v2: inverted-residual convnets whose later stages add a transformer over the
pixels of each patch position (v1: multi-head attention; v2: separable linear attention), built
on ByobNet's stages, stem and head.

Papers:
* `MobileViT: Light-weight, General-purpose, and Mobile-friendly Vision Transformer` -
  https://arxiv.org/abs/2110.02178
* `Separable Self-attention for Mobile Vision Transformers` - https://arxiv.org/abs/2206.02680

Weights: Apple's ml-cvnets models (``cvnets-license``). The models are :class:`ByobNet` networks:
the two MobileViT blocks are block classes named in the ByoBlockCfg records (no global block
registration), so timm's state-dict keys (``stages.N.M.transformer...``) come out unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import GroupNorm1, Mlp, make_divisible, to_2tuple
from ..layers.drop import DropPath
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from .byobnet import ByoBlockCfg, ByobNet, ByobNetArgs, ByoModelCfg, LayerFn, num_groups
from .vision_transformer import Block as TransformerBlock

__all__ = [
    "LinearSelfAttention",
    "LinearTransformerBlock",
    "MobileVitBlock",
    "MobileVitV2Block",
    "default_cfgs",
]


def _padded_grid(h: int, w: int, patch_h: int, patch_w: int) -> tuple[int, int]:
    """Patches per side once the map is resized up to whole patches."""
    return math.ceil(h / patch_h), math.ceil(w / patch_w)


def pixel_sequences(x: torch.Tensor, patch_h: int, patch_w: int) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B * P, N, C)``: one sequence per position within a patch (``P =
    patch_h * patch_w``) over the N patches, the map first resized (bilinear) to whole patches."""
    b, c, h, w = x.shape
    nh, nw = _padded_grid(h, w, patch_h, patch_w)
    if nh * patch_h != h or nw * patch_w != w:
        x = F.interpolate(x, size=(nh * patch_h, nw * patch_w), mode="bilinear", align_corners=False)
    x = x.reshape(b, c, nh, patch_h, nw, patch_w).permute(0, 3, 5, 2, 4, 1)
    return x.reshape(b * patch_h * patch_w, nh * nw, c)


def pixel_sequences_to_map(t: torch.Tensor, like: torch.Tensor, patch_h: int, patch_w: int) -> torch.Tensor:
    """The inverse of :func:`pixel_sequences`: back to a map of ``like``'s size."""
    b, _, h, w = like.shape
    nh, nw = _padded_grid(h, w, patch_h, patch_w)
    c = t.shape[-1]
    x = (
        t.reshape(b, patch_h, patch_w, nh, nw, c)
        .permute(0, 5, 3, 1, 4, 2)
        .reshape(b, c, nh * patch_h, nw * patch_w)
    )
    if nh * patch_h != h or nw * patch_w != w:
        x = F.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
    return x


def resize_to_patches(x: torch.Tensor, patch_h: int, patch_w: int) -> torch.Tensor:
    """``x`` resized (bilinear, corners aligned) up to whole patches, unchanged if it is."""
    h, w = x.shape[-2:]
    nh, nw = _padded_grid(h, w, patch_h, patch_w)
    if nh * patch_h == h and nw * patch_w == w:
        return x
    return F.interpolate(x, size=(nh * patch_h, nw * patch_w), mode="bilinear", align_corners=True)


def patches(x: torch.Tensor, patch_h: int, patch_w: int) -> torch.Tensor:
    """``(B, C, H, W)`` of whole patches -> ``(B, C, P, N)``."""
    b, c, h, w = x.shape
    nh, nw = h // patch_h, w // patch_w
    x = x.reshape(b, c, nh, patch_h, nw, patch_w).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(b, c, patch_h * patch_w, nh * nw)


def patches_to_map(x: torch.Tensor, like: torch.Tensor, patch_h: int, patch_w: int) -> torch.Tensor:
    """The inverse of :func:`patches`, for a map of ``like``'s size."""
    b, c = x.shape[:2]
    nh, nw = like.shape[-2] // patch_h, like.shape[-1] // patch_w
    x = x.reshape(b, c, patch_h, patch_w, nh, nw).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(b, c, nh * patch_h, nw * patch_w)


# NOTE: the patch grid follows the input's shape: one graph node each under FX
torch.fx.wrap("pixel_sequences")
torch.fx.wrap("pixel_sequences_to_map")
torch.fx.wrap("resize_to_patches")
torch.fx.wrap("patches")
torch.fx.wrap("patches_to_map")


class MobileVitBlock(nn.Module):
    """MobileViT (v1) block: kxk conv, 1x1 to the transformer width, a transformer over the
    pixels sharing a position within their patch, 1x1 back, then a kxk conv fusing that with the
    block input (unless ``no_fusion``). A map that is not whole patches is resized (bilinear) to
    whole patches and back."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int | None = None,
        kernel_size: int = 3,
        stride: int = 1,
        bottle_ratio: float = 1.0,
        group_size: int | None = None,
        dilation: tuple[int, int] = (1, 1),
        mlp_ratio: float = 2.0,
        transformer_dim: int | None = None,
        transformer_depth: int = 2,
        patch_size: int = 8,
        num_heads: int = 4,
        attn_drop: float = 0.0,
        drop: float = 0.0,
        no_fusion: bool = False,
        drop_path_rate: float = 0.0,
        layers: LayerFn | None = None,
        transformer_norm_layer: Callable[..., nn.Module] = nn.LayerNorm,
        downsample: str = "",  # NOTE: unused; every ByobNet block takes the stage arguments
        drop_block: Callable[[], nn.Module] | None = None,  # NOTE: unused, as downsample
    ) -> None:
        super().__init__()
        layers = layers or LayerFn()
        groups = num_groups(group_size, in_chs)
        out_chs = out_chs or in_chs
        dim = transformer_dim or make_divisible(bottle_ratio * in_chs)
        self.conv_kxk = layers.conv_norm_act(
            in_chs, in_chs, kernel_size, stride=stride, groups=groups, dilation=dilation[0]
        )
        self.conv_1x1 = nn.Conv2d(in_chs, dim, 1, bias=False)
        self.transformer = nn.Sequential(
            *(
                TransformerBlock(
                    dim,
                    num_heads,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=True,
                    attn_drop=attn_drop,
                    proj_drop=drop,
                    drop_path=drop_path_rate,
                    act_layer=layers.act,
                    norm_layer=transformer_norm_layer,
                )
                for _ in range(transformer_depth)
            )
        )
        self.norm = transformer_norm_layer(dim)
        self.conv_proj = layers.conv_norm_act(dim, out_chs, 1, stride=1)
        self.conv_fusion = (
            None if no_fusion else layers.conv_norm_act(in_chs + out_chs, out_chs, kernel_size, stride=1)
        )
        self.patch_size = to_2tuple(patch_size)
        self.patch_area = self.patch_size[0] * self.patch_size[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.conv_1x1(self.conv_kxk(x))
        ph, pw = self.patch_size
        t = self.norm(self.transformer(pixel_sequences(x, ph, pw)))
        x = self.conv_proj(pixel_sequences_to_map(t, x, ph, pw))
        if self.conv_fusion is not None:
            x = self.conv_fusion(torch.cat((shortcut, x), dim=1))
        return x


class LinearSelfAttention(nn.Module):
    """Separable self-attention over ``(B, C, P, N)`` maps: a 1-channel query scores the N
    patches (softmax over N), the scored keys sum to one context vector per pixel position,
    which gates ``relu(values)``; projections are 1x1 convs (``qkv_proj`` holds query, keys and
    values: ``1 + 2 C`` channels)."""

    def __init__(
        self,
        embed_dim: int,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = dict(device=device, dtype=dtype)
        self.embed_dim = embed_dim
        self.qkv_proj = nn.Conv2d(embed_dim, 1 + 2 * embed_dim, 1, bias=bias, **dd)
        self.attn_drop = nn.Dropout(attn_drop)
        self.out_proj = nn.Conv2d(embed_dim, embed_dim, 1, bias=bias, **dd)
        self.out_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        query, key, value = self.qkv_proj(x).split([1, self.embed_dim, self.embed_dim], dim=1)
        scores = self.attn_drop(query.softmax(dim=-1))
        context = (key * scores).sum(dim=-1, keepdim=True)
        return self.out_drop(self.out_proj(F.relu(value) * context))


class LinearTransformerBlock(nn.Module):
    """Pre-norm block on ``(B, C, P, N)`` maps: separable attention, then a 1x1-conv MLP."""

    def __init__(
        self,
        embed_dim: int,
        mlp_ratio: float = 2.0,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: Callable[..., nn.Module] | None = None,
        norm_layer: Callable[..., nn.Module] | None = None,
    ) -> None:
        super().__init__()
        act_layer = act_layer or nn.SiLU
        norm_layer = norm_layer or GroupNorm1
        self.norm1 = norm_layer(embed_dim)
        self.attn = LinearSelfAttention(embed_dim, attn_drop=attn_drop, proj_drop=drop)
        self.drop_path1 = DropPath(drop_path)
        self.norm2 = norm_layer(embed_dim)
        # NOTE: dropout after the activation only (timm's ConvMlp), none after fc2
        self.mlp = Mlp(
            embed_dim, int(embed_dim * mlp_ratio), act_layer=act_layer, drop=(drop, 0.0), use_conv=True
        )
        self.drop_path2 = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path1(self.attn(self.norm1(x)))
        return x + self.drop_path2(self.mlp(self.norm2(x)))


class MobileVitV2Block(nn.Module):
    """MobileViT v2 block: depthwise kxk conv, 1x1 to the transformer width, separable-attention
    blocks over ``(B, C, P, N)`` patches, 1x1 projection (no fusion with the input). A map that
    is not whole patches is first resized (bilinear, corners aligned) to whole patches."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int | None = None,
        kernel_size: int = 3,
        bottle_ratio: float = 1.0,
        group_size: int | None = 1,
        dilation: tuple[int, int] = (1, 1),
        mlp_ratio: float = 2.0,
        transformer_dim: int | None = None,
        transformer_depth: int = 2,
        patch_size: int = 8,
        attn_drop: float = 0.0,
        drop: float = 0.0,
        drop_path_rate: float = 0.0,
        layers: LayerFn | None = None,
        transformer_norm_layer: Callable[..., nn.Module] = GroupNorm1,
        stride: int = 1,  # NOTE: unused (timm's block takes no stride); every ByobNet block gets one
        downsample: str = "",  # NOTE: unused, as stride
        drop_block: Callable[[], nn.Module] | None = None,  # NOTE: unused, as stride
    ) -> None:
        super().__init__()
        layers = layers or LayerFn()
        groups = num_groups(group_size, in_chs)
        out_chs = out_chs or in_chs
        dim = transformer_dim or make_divisible(bottle_ratio * in_chs)
        self.conv_kxk = layers.conv_norm_act(
            in_chs, in_chs, kernel_size, stride=1, groups=groups, dilation=dilation[0]
        )
        self.conv_1x1 = nn.Conv2d(in_chs, dim, 1, bias=False)
        self.transformer = nn.Sequential(
            *(
                LinearTransformerBlock(
                    dim,
                    mlp_ratio=mlp_ratio,
                    attn_drop=attn_drop,
                    drop=drop,
                    drop_path=drop_path_rate,
                    act_layer=layers.act,
                    norm_layer=transformer_norm_layer,
                )
                for _ in range(transformer_depth)
            )
        )
        self.norm = transformer_norm_layer(dim)
        self.conv_proj = layers.conv_norm_act(dim, out_chs, 1, stride=1, apply_act=False)
        self.patch_size = to_2tuple(patch_size)
        self.patch_area = self.patch_size[0] * self.patch_size[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ph, pw = self.patch_size
        x = self.conv_1x1(self.conv_kxk(resize_to_patches(x, ph, pw)))
        t = self.norm(self.transformer(patches(x, ph, pw)))
        return self.conv_proj(patches_to_map(t, x, ph, pw))


# --- variants -------------------------------------------------------------------------------------
def _inverted_residual(d: int, c: int, s: int, br: float = 4.0) -> ByoBlockCfg:
    """A MobileNetV2 inverted residual: ByobNet's bottleneck widened from its input, depthwise,
    with a linear output."""
    return ByoBlockCfg(
        type="bottle", d=d, c=c, s=s, gs=1, br=br, block_kwargs=dict(bottle_in=True, linear_out=True)
    )


def _mobilevit_stage(
    d: int, c: int, s: int, transformer_dim: int, transformer_depth: int, patch_size: int = 4, br: float = 4.0
) -> tuple[ByoBlockCfg, ByoBlockCfg]:
    """An inverted residual (the stride), then one MobileViT block."""
    kwargs = dict(transformer_dim=transformer_dim, transformer_depth=transformer_depth, patch_size=patch_size)
    return (
        _inverted_residual(d, c, s, br),
        ByoBlockCfg(type=MobileVitBlock, d=1, c=c, s=1, block_kwargs=kwargs),
    )


def _mobilevitv2_stage(
    d: int,
    c: int,
    s: int,
    transformer_depth: int,
    patch_size: int = 2,
    br: float = 2.0,
    transformer_br: float = 0.5,
) -> tuple[ByoBlockCfg, ByoBlockCfg]:
    kwargs = dict(transformer_depth=transformer_depth, patch_size=patch_size)
    return (
        _inverted_residual(d, c, s, br),
        ByoBlockCfg(type=MobileVitV2Block, d=1, c=c, s=1, br=transformer_br, gs=1, block_kwargs=kwargs),
    )


_STEM: dict[str, Any] = dict(stem_type="3x3", stem_pool="", downsample="", act_layer="silu")


def _v1(
    widths: tuple[int, int, int, int, int],
    dims: tuple[int, int, int],
    num_features: int,
    br: float = 4.0,
) -> ByoModelCfg:
    """MobileViT v1: two inverted-residual stages, three MobileViT stages (2 / 4 / 3
    transformer layers of widths ``dims``), a final 1x1 conv."""
    c = widths
    return ByoModelCfg(
        blocks=(
            _inverted_residual(1, c[0], 1, br=br),
            _inverted_residual(3, c[1], 2, br=br),
            _mobilevit_stage(1, c[2], 2, dims[0], 2, patch_size=2, br=br),
            _mobilevit_stage(1, c[3], 2, dims[1], 4, patch_size=2, br=br),
            _mobilevit_stage(1, c[4], 2, dims[2], 3, patch_size=2, br=br),
        ),
        stem_chs=16,
        num_features=num_features,
        **_STEM,
    )


def _v2(multiplier: float) -> ByoModelCfg:
    """MobileViT v2 at a width multiplier (stem and every stage scaled)."""
    c = tuple(int(w * multiplier) for w in (64, 128, 256, 384, 512))
    return ByoModelCfg(
        blocks=(
            _inverted_residual(1, c[0], 1, br=2.0),
            _inverted_residual(2, c[1], 2, br=2.0),
            _mobilevitv2_stage(1, c[2], 2, transformer_depth=2),
            _mobilevitv2_stage(1, c[3], 2, transformer_depth=4),
            _mobilevitv2_stage(1, c[4], 2, transformer_depth=3),
        ),
        stem_chs=int(32 * multiplier),
        **_STEM,
    )


VARIANTS = {
    "mobilevit_xxs": ByobNetArgs(cfg=_v1((16, 24, 48, 64, 80), (64, 80, 96), 320, br=2.0)),
    "mobilevit_xs": ByobNetArgs(cfg=_v1((32, 48, 64, 80, 96), (96, 120, 144), 384)),
    "mobilevit_s": ByobNetArgs(cfg=_v1((32, 64, 96, 128, 160), (144, 192, 240), 640)),
    **{f"mobilevitv2_{m:03d}": ByobNetArgs(cfg=_v2(m / 100)) for m in (50, 75, 100, 125, 150, 175, 200)},
}

# --- weights --------------------------------------------------------------------------------------
_V2 = dict(crop_pct=0.888)
_V2_384 = dict(input_size=(3, 384, 384), pool_size=(12, 12), crop_pct=1.0)
WEIGHTS: dict[str, dict[str, Any]] = {
    **{f"mobilevit_{s}.cvnets_in1k": weight(default=True) for s in ("xxs", "xs", "s")},
    **{
        f"mobilevitv2_{m}.cvnets_in1k": weight(_V2, default=True)
        for m in ("050", "075", "100", "125", "150", "175", "200")
    },
    **{f"mobilevitv2_{m}.cvnets_in22k_ft_in1k": weight(_V2) for m in ("150", "175", "200")},
    **{f"mobilevitv2_{m}.cvnets_in22k_ft_in1k_384": weight(_V2_384) for m in ("150", "175", "200")},
}

DEPRECATED = {
    **{f"mobilevitv2_{m}_in22ft1k": f"mobilevitv2_{m}.cvnets_in22k_ft_in1k" for m in ("150", "175", "200")},
    **{
        f"mobilevitv2_{m}_384_in22ft1k": f"mobilevitv2_{m}.cvnets_in22k_ft_in1k_384"
        for m in ("150", "175", "200")
    },
}

default_cfgs = register_family(
    __name__,
    model_cls=ByobNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        input_size=(3, 256, 256),
        pool_size=(8, 8),
        crop_pct=0.9,
        interpolation="bicubic",
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        first_conv="stem.conv",
        classifier="head.fc",
        fixed_input_size=False,
        license="cvnets-license",
    ),
    feature_cfg=dict(flatten_sequential=True),
    deprecated=DEPRECATED,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. mobilevit_s
    return family_entrypoint(__name__, name)
