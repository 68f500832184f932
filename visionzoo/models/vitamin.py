"""ViTamin: a convolutional stem and two MBConv stages make the tokens of a plain ViT.

Paper: `ViTamin: Designing Scalable Vision Models in the Vision-Language Era` -
https://arxiv.org/abs/2404.02132 (original code: https://github.com/ViTamin/ViTamin, Apache-2.0)

Weights: the authors' DataComp-1B CLIP image towers on the Hugging Face Hub (``jienengchen/*``,
MIT); ``num_classes`` is the CLIP embedding width. The model is
:class:`~visionzoo.models.vision_transformer.VisionTransformer` with a
:class:`~visionzoo.layers.HybridEmbed` (no projection) over :class:`MbConvStages`, and GeGLU MLPs
in its blocks, so keys are timm's (``patch_embed.backbone.*``, ``blocks.*.mlp.w0`` ...).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import nn

from ..layers import DropPath, HybridEmbed, LayerNorm, LayerNorm2d, make_divisible
from ..layers.activations import act_or_identity
from ..layers.layer_norm import LayerNormAct2d
from ..pretrained import OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from .vision_transformer.model import VisionTransformer
from .vision_transformer.remap import checkpoint_filter_fn
from .vision_transformer.variants import VisionTransformerArgs

__all__ = [
    "VARIANTS",
    "WEIGHTS",
    "ConvStem",
    "GeGluMlp",
    "MbConvLNBlock",
    "MbConvStages",
    "PoolDownsample",
    "StridedConv",
    "default_cfgs",
]

_EPS = 1e-6  # every ViTamin norm


def _init_conv(module: nn.Module) -> None:
    """He-normal by fan-out (groups counted), zero bias: the original repo's conv init."""
    if isinstance(module, nn.Conv2d):
        fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels // module.groups
        nn.init.normal_(module.weight, 0.0, math.sqrt(2.0 / fan_out))
        if module.bias is not None:
            nn.init.zeros_(module.bias)


class ConvStem(nn.Module):
    """Stride-2 3x3 conv, LayerNorm + GELU, 3x3 conv (no norm after: the first block pre-norms)."""

    def __init__(self, in_chs: int, out_chs: int, *, act_layer: str = "gelu") -> None:
        super().__init__()
        self.out_chs = out_chs
        self.conv1 = nn.Conv2d(in_chs, out_chs, 3, stride=2, padding=1)
        self.norm1 = LayerNormAct2d(out_chs, eps=_EPS, act_layer=act_layer)
        self.conv2 = nn.Conv2d(out_chs, out_chs, 3, padding=1)
        self.init_weights()

    def init_weights(self) -> None:
        self.apply(_init_conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.norm1(self.conv1(x)))


class PoolDownsample(nn.Module):
    """Shortcut of a strided block: 3x3 average pool (stride 2, padding not counted), then a 1x1
    conv where the width changes. NOTE: ``pool`` / ``expand`` named for checkpoint compatibility."""

    def __init__(self, in_chs: int, out_chs: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(kernel_size=3, stride=2, padding=1, count_include_pad=False)
        expand = nn.Conv2d(in_chs, out_chs, 1) if in_chs != out_chs else nn.Identity()
        self.expand = expand

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.expand(self.pool(x))


class StridedConv(nn.Module):
    """LayerNorm over the input channels, then a stride-2 3x3 conv: the hand-over from the conv
    stages to the tokens (norm first, unlike a patch embedding)."""

    def __init__(self, in_chs: int, out_chs: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chs, out_chs, kernel_size=3, stride=2, padding=1)
        self.norm = LayerNorm2d(in_chs, eps=_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.norm(x))


class MbConvLNBlock(nn.Module):
    """Pre-norm inverted bottleneck: LayerNorm -> 1x1 expand -> GELU -> (strided) depthwise kxk ->
    GELU -> 1x1 project, plus a shortcut (pooled where strided, 1x1 conv where the width changes).
    The expansion is of the output width."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        stride: int = 1,
        kernel_size: int = 3,
        expand_ratio: float = 4.0,
        act_layer: str = "gelu",
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"MbConvLNBlock stride={stride}; valid: 1, 2")
        self.stride, self.in_chs, self.out_chs = stride, in_chs, out_chs
        mid_chs = make_divisible(out_chs * expand_ratio)
        shortcut: nn.Module = nn.Identity()
        if stride == 2:
            shortcut = PoolDownsample(in_chs, out_chs)
        elif in_chs != out_chs:
            shortcut = nn.Conv2d(in_chs, out_chs, 1)
        self.shortcut = shortcut
        self.pre_norm = LayerNormAct2d(in_chs, eps=_EPS, apply_act=False)
        self.down = nn.Identity()  # NOTE: an empty slot kept from the original code (no keys)
        self.conv1_1x1 = nn.Conv2d(in_chs, mid_chs, 1)
        self.act1 = act_or_identity(act_layer, inplace=True)
        pad = (kernel_size - 1) // 2
        self.conv2_kxk = nn.Conv2d(mid_chs, mid_chs, kernel_size, stride=stride, padding=pad, groups=mid_chs)
        self.act2 = act_or_identity(act_layer, inplace=True)
        self.conv3_1x1 = nn.Conv2d(mid_chs, out_chs, 1)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def init_weights(self) -> None:
        self.apply(_init_conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.shortcut(x)
        x = self.act1(self.conv1_1x1(self.down(self.pre_norm(x))))
        x = self.conv3_1x1(self.act2(self.conv2_kxk(x)))
        return self.drop_path(x) + shortcut


class MbConvStages(nn.Module):
    """The token source: :class:`ConvStem` (stride 2), two MBConv stages (stride 2 each, the first
    block strided) and a :class:`StridedConv` to the ViT width: ``(B, C, H, W)`` ->
    ``(B, embed_dim[2], H / 16, W / 16)``.

    Args:
        in_chans: input channels.
        embed_dim: widths of the two conv stages and of the tokens.
        depths: blocks of the two conv stages.
        stem_width: width of the stem.
    """

    def __init__(
        self,
        in_chans: int = 3,
        *,
        embed_dim: tuple[int, int, int] = (64, 128, 384),
        depths: tuple[int, int] = (2, 4),
        stem_width: int = 64,
    ) -> None:
        super().__init__()
        if len(embed_dim) != 3 or len(depths) != 2:
            raise ValueError(
                f"MbConvStages needs 3 widths (2 conv stages, tokens) and 2 depths; got {embed_dim}, {depths}"
            )
        self.stem = ConvStem(in_chans, stem_width)
        stages, prev = [], stem_width
        for dim, depth in zip(embed_dim[:2], depths):
            blocks = [
                MbConvLNBlock(prev if d == 0 else dim, dim, stride=2 if d == 0 else 1) for d in range(depth)
            ]
            stages.append(nn.Sequential(*blocks))
            prev = dim
        self.stages = nn.Sequential(*stages)
        self.pool = StridedConv(prev, embed_dim[2])
        self.num_features = embed_dim[2]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.stages(self.stem(x)))


class GeGluMlp(nn.Module):
    """Normalised GeGLU MLP: ``w2(act(w0(n)) * w1(n))`` with ``n = LayerNorm(x)``; the block's own
    pre-norm comes before it too (the original design normalises twice).

    Args:
        in_features, hidden_features: input (and output) width, gate width.
        act_layer: the gate's activation.
        norm_layer: the inner norm (default LayerNorm), built with ``eps=1e-6``.
        bias: linear biases.
        drop: dropout after the gate and after the output projection.
    """

    def __init__(
        self,
        in_features: int,
        hidden_features: int,
        act_layer: Callable[..., nn.Module] = nn.GELU,
        norm_layer: Callable[..., nn.Module] | None = None,
        bias: bool = True,
        drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm = (norm_layer or LayerNorm)(in_features, eps=_EPS)
        self.w0 = nn.Linear(in_features, hidden_features, bias=bias)
        self.act = act_layer()
        self.w1 = nn.Linear(in_features, hidden_features, bias=bias)
        self.drop1 = nn.Dropout(drop)
        self.w2 = nn.Linear(hidden_features, in_features, bias=bias)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        x = self.drop1(self.act(self.w0(x)) * self.w1(x))
        return self.drop2(self.w2(x))


# --- variants -------------------------------------------------------------------------------------
def _v(widths: tuple[int, int, int], depth: int, num_heads: int, img_size: int = 224, **fields: Any) -> Any:
    """A ViTamin: conv widths ``widths[:2]`` (stem as wide as the first), ``depth`` ViT blocks of
    width ``widths[2]``, average-pooled tokens, no class token."""
    backbone = partial(MbConvStages, embed_dim=widths, depths=(2, 4), stem_width=widths[0])
    return VisionTransformerArgs(
        img_size=img_size,
        patch_size=1,
        embed_dim=widths[2],
        depth=depth,
        num_heads=num_heads,
        mlp_ratio=2.0,
        mlp_layer=GeGluMlp,
        class_token=False,
        global_pool="avg",
        embed_layer=partial(HybridEmbed, backbone=backbone, proj=False),
        **fields,
    )


_S, _B, _L, _XL = (64, 128, 384), (128, 256, 768), (160, 320, 1024), (192, 384, 1152)

VARIANTS: dict[str, Any] = {
    "vitamin_small_224": _v(_S, 14, 6),
    "vitamin_base_224": _v(_B, 14, 12),
    **{f"vitamin_large_{s}": _v(_L, 31, 16, s) for s in (224, 256, 336, 384)},
    # the same network as large; its weights are CLIP towers with a wider text embedding
    **{f"vitamin_large2_{s}": _v(_L, 31, 16, s) for s in (224, 256, 336, 384)},
    **{f"vitamin_xlarge_{s}": _v(_XL, 32, 16, s, pos_embed="none") for s in (256, 336, 384)},
}

# --- weights --------------------------------------------------------------------------------------
CFG_DEFAULTS: dict[str, Any] = dict(
    input_size=(3, 224, 224),
    crop_pct=0.9,
    interpolation="bicubic",
    fixed_input_size=True,
    mean=OPENAI_CLIP_MEAN,
    std=OPENAI_CLIP_STD,
    first_conv="patch_embed.backbone.stem.conv1",
    classifier="head",
    license="mit",
)


def _hub(repo: str, classes: int, size: int = 224, **fields: Any) -> dict[str, Any]:
    """A CLIP tower at ``jienengchen/ViTamin-{repo}``; above 224 px the full image (no crop)."""
    sized = dict(input_size=(3, size, size), crop_pct=1.0) if size != 224 else {}
    return weight(sized, hf_hub_id=f"jienengchen/ViTamin-{repo}", num_classes=classes, **fields)


WEIGHTS: dict[str, dict[str, Any]] = {
    "vitamin_small_224.datacomp1b_clip_ltt": _hub("S-LTT", 768, default=True),
    "vitamin_small_224.datacomp1b_clip": _hub("S", 384),
    "vitamin_base_224.datacomp1b_clip_ltt": _hub("B-LTT", 768, default=True),
    "vitamin_base_224.datacomp1b_clip": _hub("B", 768),
    **{
        f"vitamin_large_{s}.datacomp1b_clip": _hub(f"L-{s}px", 768, s, default=True)
        for s in (224, 256, 336, 384)
    },
    **{
        f"vitamin_large2_{s}.datacomp1b_clip": _hub(f"L2-{s}px", 1024, s, default=True)
        for s in (224, 256, 336, 384)
    },
    **{
        f"vitamin_xlarge_{s}.datacomp1b_clip": _hub(f"XL-{s}px", 1152, s, default=True)
        for s in (256, 336, 384)
    },
}

default_cfgs = register_family(
    __name__,
    model_cls=VisionTransformer,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=CFG_DEFAULTS,
    feature_cfg=dict(out_indices=3, feature_cls="getter"),  # the last three blocks, as timm
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. vitamin_small_224
    return family_entrypoint(__name__, name)
