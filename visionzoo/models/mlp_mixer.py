"""MLP-Mixer, ResMLP and gMLP: token models whose token mixing is an MLP over the patch axis.

Papers:
* `MLP-Mixer: An all-MLP Architecture for Vision` - https://arxiv.org/abs/2105.01601
* `ResMLP: Feedforward networks for image classification with data-efficient training` - https://arxiv.org/abs/2105.03404
* `Pay Attention to MLPs` (gMLP) - https://arxiv.org/abs/2105.08050

The token MLPs are sized by the patch count, so the input size is fixed. Weights: Apache-2.0
(Google's Mixer, MIIL's 21k-P, Facebook Research's ResMLP, timm's own). Keys as timm's
``mlp_mixer`` (``stem`` is the patch embedding).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar

import torch
from torch import nn

from ..layers import DropPath, GatedMlp, GluMlp, Mlp, PatchEmbed, lecun_normal_
from ..layers.classifier import check_pool
from ..model import TokenModel, named_apply
from ..pretrained import (
    IMAGENET_DEFAULT_MEAN,
    IMAGENET_DEFAULT_STD,
    IMAGENET_INCEPTION_MEAN,
    IMAGENET_INCEPTION_STD,
    NO_WEIGHTS,
    RWIGHTMAN_RELEASES,
    weight,
)
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "Affine",
    "MixerBlock",
    "MlpMixer",
    "ResBlock",
    "SpatialGatingBlock",
    "SpatialGatingUnit",
    "checkpoint_filter_fn",
    "default_cfgs",
]

LayerFn = Callable[..., nn.Module]
_LN6 = partial(nn.LayerNorm, eps=1e-6)


class MixerBlock(nn.Module):
    """``x + tokens_mlp(norm1(x)^T)^T``, then ``x + channels_mlp(norm2(x))``."""

    def __init__(
        self,
        dim: int,
        seq_len: int,
        mlp_ratio: float | tuple[float, float] = (0.5, 4.0),
        mlp_layer: LayerFn = Mlp,
        norm_layer: LayerFn = _LN6,
        act_layer: LayerFn = nn.GELU,
        drop: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        ratios = mlp_ratio if isinstance(mlp_ratio, (tuple, list)) else (mlp_ratio, mlp_ratio)  # to_2tuple
        tokens_dim, channels_dim = (int(r * dim) for r in ratios)
        self.norm1 = norm_layer(dim)
        self.mlp_tokens = mlp_layer(seq_len, tokens_dim, act_layer=act_layer, drop=drop)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp_channels = mlp_layer(dim, channels_dim, act_layer=act_layer, drop=drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.mlp_tokens(self.norm1(x).transpose(1, 2)).transpose(1, 2))
        return x + self.drop_path(self.mlp_channels(self.norm2(x)))


class Affine(nn.Module):
    """ResMLP's per-channel ``alpha * x + beta`` in place of a norm."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.beta, self.alpha, x)


class ResBlock(nn.Module):
    """ResMLP block: one linear layer across tokens, a channel MLP, each with a layer scale."""

    def __init__(
        self,
        dim: int,
        seq_len: int,
        mlp_ratio: float = 4,
        mlp_layer: LayerFn = Mlp,
        norm_layer: LayerFn = Affine,
        act_layer: LayerFn = nn.GELU,
        init_values: float = 1e-4,
        drop: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.linear_tokens = nn.Linear(seq_len, seq_len)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp_channels = mlp_layer(dim, int(dim * mlp_ratio), act_layer=act_layer, drop=drop)
        # bare parameters (keys ``ls1`` / ``ls2``), not LayerScale modules
        self.ls1 = nn.Parameter(init_values * torch.ones(dim))
        self.ls2 = nn.Parameter(init_values * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.ls1 * self.linear_tokens(self.norm1(x).transpose(1, 2)).transpose(1, 2))
        return x + self.drop_path(self.ls2 * self.mlp_channels(self.norm2(x)))


class SpatialGatingUnit(nn.Module):
    """gMLP's gate: ``u * proj_tokens(norm(v))`` for the channel halves ``(u, v)`` of the input."""

    def __init__(self, dim: int, seq_len: int, norm_layer: LayerFn = nn.LayerNorm) -> None:
        super().__init__()
        self.norm = norm_layer(dim // 2)
        self.proj = nn.Linear(seq_len, seq_len)

    def init_weights(self) -> None:
        # near-identity gate at init: ~0 token mixing plus a bias of one (the paper's choice)
        nn.init.normal_(self.proj.weight, std=1e-6)
        nn.init.ones_(self.proj.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, v = x.chunk(2, dim=-1)
        v = self.proj(self.norm(v).transpose(-1, -2))
        return u * v.transpose(-1, -2)


class SpatialGatingBlock(nn.Module):
    """gMLP block: ``x + gated_mlp(norm(x))`` with a spatial gating unit inside the MLP."""

    def __init__(
        self,
        dim: int,
        seq_len: int,
        mlp_ratio: float = 4,
        mlp_layer: LayerFn = GatedMlp,
        norm_layer: LayerFn = _LN6,
        act_layer: LayerFn = nn.GELU,
        drop: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.norm = norm_layer(dim)
        self.mlp_channels = mlp_layer(
            dim,
            int(dim * mlp_ratio),
            act_layer=act_layer,
            gate_layer=partial(SpatialGatingUnit, seq_len=seq_len),
            drop=drop,
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.drop_path(self.mlp_channels(self.norm(x)))


class MlpMixer(TokenModel):
    """Patch embedding (``stem``), a run of token-mixing blocks, a norm, mean pooling.

    ``block_layer`` picks the design: :class:`MixerBlock` (MLP-Mixer, with ``mlp_layer=GluMlp``
    the gMixer), :class:`ResBlock` (ResMLP, ``norm_layer=Affine``) or :class:`SpatialGatingBlock`
    (gMLP). Pooling is ``'avg'`` or ``''`` only (no class token).

    Args:
        num_classes, img_size, in_chans, patch_size: classes, (fixed) input size, channels, patch.
        num_blocks, embed_dim, mlp_ratio: depth, width, MLP expansion (a (tokens, channels) pair
            for :class:`MixerBlock`).
        block_layer, mlp_layer, norm_layer, act_layer: the layers.
        drop_rate, proj_drop_rate, drop_path_rate: head dropout, MLP dropout, drop path (the same
            rate in every block, as timm).
        nlhb: head bias ``-log(num_classes)`` at init.
        stem_norm: a norm after the patch embedding.
        global_pool: ``'avg'`` or ``''``.
    """

    drop_path_schedule: ClassVar[str] = "uniform"
    # NOTE: eager-only alias of ``stem`` for the token contract's grid size
    __jit_unused_properties__: ClassVar[list[str]] = ["default_cfg", "patch_embed"]

    def __init__(
        self,
        num_classes: int = 1000,
        img_size: int = 224,
        in_chans: int = 3,
        patch_size: int = 16,
        num_blocks: int = 8,
        embed_dim: int = 512,
        mlp_ratio: float | tuple[float, float] = (0.5, 4.0),
        block_layer: LayerFn = MixerBlock,
        mlp_layer: LayerFn = Mlp,
        norm_layer: LayerFn = _LN6,
        act_layer: LayerFn = nn.GELU,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        nlhb: bool = False,
        stem_norm: bool = False,
        global_pool: str = "avg",
    ) -> None:
        super().__init__()
        check_pool(global_pool, ("", "avg"), model="MlpMixer")
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.global_pool = global_pool
        self.num_features = self.head_hidden_size = self.embed_dim = embed_dim
        self.num_prefix_tokens = 0
        self.pool_include_prefix = False
        self.has_class_token = False
        self.drop_rate = drop_rate

        self.stem = PatchEmbed(
            img_size=img_size,
            patch_size=patch_size,
            in_chans=in_chans,
            embed_dim=embed_dim,
            norm_layer=norm_layer if stem_norm else None,
        )
        reduction = self.stem.feat_ratio()
        self.blocks = nn.Sequential(
            *[
                block_layer(
                    embed_dim,
                    self.stem.num_patches,
                    mlp_ratio,
                    mlp_layer=mlp_layer,
                    norm_layer=norm_layer,
                    act_layer=act_layer,
                    drop=proj_drop_rate,
                    drop_path=drop_path_rate,
                )
                for _ in range(num_blocks)
            ]
        )
        self.feature_info = [
            dict(module=f"blocks.{i}", num_chs=embed_dim, reduction=reduction) for i in range(num_blocks)
        ]
        self.norm = norm_layer(embed_dim)
        self.attn_pool = None
        self.fc_norm = nn.Identity()
        self.head_drop = nn.Dropout(drop_rate)
        self.head: nn.Module = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self._initialize(nlhb=nlhb)

    @property
    def patch_embed(self) -> PatchEmbed:
        """The patch embedding under the token contract's name (timm keeps it as ``stem``)."""
        return self.stem

    def init_weights(self, nlhb: bool = False) -> None:
        """Xavier linears (zero head, ``-log(C)`` head bias with ``nlhb``), lecun-normal patch
        conv, unit norms; a module's own ``init_weights`` (the gating unit) wins, children first."""
        head_bias = -math.log(self.num_classes) if nlhb and self.num_classes else 0.0
        named_apply(partial(_init_weights, head_bias=head_bias), self)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """The patch embedding as the stem, one group per block, the final norm last (as timm)."""
        return dict(stem=r"^stem", blocks=[(r"^blocks\.(\d+)", None), (r"^norm", (99999,))])

    def no_weight_decay(self) -> set[str]:
        return set()

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        if global_pool is not None:
            check_pool(global_pool, ("", "avg"), model="MlpMixer")
        super().reset_classifier(num_classes, global_pool)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.stem(x)


def _init_weights(module: nn.Module, name: str, head_bias: float = 0.0) -> None:
    """timm's Mixer init for one module (called children first, by dotted name)."""
    if isinstance(module, nn.Linear):
        if name.startswith("head"):
            nn.init.zeros_(module.weight)
            nn.init.constant_(module.bias, head_bias)
        else:
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.normal_(module.bias, std=1e-6) if "mlp" in name else nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Conv2d):
        lecun_normal_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.LayerNorm, nn.BatchNorm2d, nn.GroupNorm)):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)
    elif hasattr(module, "init_weights"):
        getattr(module, "init_weights")()  # noqa: B009


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """Facebook Research's ResMLP layout (``patch_embed``, ``attn``, ``mlp``, ``gamma_*``, flat
    affine vectors) -> these keys; other checkpoints pass through."""
    if "patch_embed.proj.weight" not in state_dict:
        return state_dict
    renames = (
        ("patch_embed.", "stem."),
        ("attn.", "linear_tokens."),
        ("mlp.", "mlp_channels."),
        ("gamma_", "ls"),
    )
    out = {}
    for k, v in state_dict.items():
        for old, new in renames:
            k = k.replace(old, new)
        if k.endswith((".alpha", ".beta")):
            v = v.reshape(1, 1, -1)
        out[k] = v
    return out


MlpMixerArgs = model_args_type(MlpMixer)


def _mixer(patch_size: int, num_blocks: int, embed_dim: int) -> Any:
    return MlpMixerArgs(patch_size=patch_size, num_blocks=num_blocks, embed_dim=embed_dim)


def _gmixer(num_blocks: int) -> Any:  # MLP-Mixer with SwiGLU MLPs (timm's own experiment)
    return MlpMixerArgs(
        patch_size=16,
        num_blocks=num_blocks,
        embed_dim=384,
        mlp_ratio=(1.0, 4.0),
        mlp_layer=GluMlp,
        act_layer=nn.SiLU,
    )


def _resmlp(patch_size: int, num_blocks: int, embed_dim: int, init_values: float) -> Any:
    return MlpMixerArgs(
        patch_size=patch_size,
        num_blocks=num_blocks,
        embed_dim=embed_dim,
        mlp_ratio=4,
        block_layer=partial(ResBlock, init_values=init_values) if init_values != 1e-4 else ResBlock,
        norm_layer=Affine,
    )


def _gmlp(embed_dim: int) -> Any:
    return MlpMixerArgs(
        patch_size=16,
        num_blocks=30,
        embed_dim=embed_dim,
        mlp_ratio=6,
        block_layer=SpatialGatingBlock,
        mlp_layer=GatedMlp,
    )


VARIANTS: dict[str, Any] = {
    "mixer_s32_224": _mixer(32, 8, 512),
    "mixer_s16_224": _mixer(16, 8, 512),
    "mixer_b32_224": _mixer(32, 12, 768),
    "mixer_b16_224": _mixer(16, 12, 768),
    "mixer_l32_224": _mixer(32, 24, 1024),
    "mixer_l16_224": _mixer(16, 24, 1024),
    "gmixer_12_224": _gmixer(12),
    "gmixer_24_224": _gmixer(24),
    "resmlp_12_224": _resmlp(16, 12, 384, 1e-4),
    "resmlp_24_224": _resmlp(16, 24, 384, 1e-5),
    "resmlp_36_224": _resmlp(16, 36, 384, 1e-6),
    "resmlp_big_24_224": _resmlp(8, 24, 768, 1e-6),
    "gmlp_ti16_224": _gmlp(128),
    "gmlp_s16_224": _gmlp(256),
    "gmlp_b16_224": _gmlp(512),
}

_VITJX = RWIGHTMAN_RELEASES + "v0.1-vitjx/"
_FB = "https://dl.fbaipublicfiles.com/deit/"
_IN = dict(mean=IMAGENET_DEFAULT_MEAN, std=IMAGENET_DEFAULT_STD)
_MIIL = dict(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), interpolation="bilinear")

# timm's tag order; an architecture's first tag is its default
WEIGHTS: dict[str, dict[str, Any]] = {
    "mixer_s32_224.untrained": weight(NO_WEIGHTS),
    "mixer_s16_224.untrained": weight(NO_WEIGHTS),
    "mixer_b32_224.untrained": weight(NO_WEIGHTS),
    "mixer_b16_224.goog_in21k_ft_in1k": weight(default=True, url=_VITJX + "jx_mixer_b16_224-76587d61.pth"),
    "mixer_b16_224.goog_in21k": weight(url=_VITJX + "jx_mixer_b16_224_in21k-617b3de2.pth", num_classes=21843),
    "mixer_l32_224.untrained": weight(NO_WEIGHTS),
    "mixer_l16_224.goog_in21k_ft_in1k": weight(default=True, url=_VITJX + "jx_mixer_l16_224-92f9adc4.pth"),
    "mixer_l16_224.goog_in21k": weight(url=_VITJX + "jx_mixer_l16_224_in21k-846aa33c.pth", num_classes=21843),
    "mixer_b16_224.miil_in21k": weight(
        _MIIL,
        url=RWIGHTMAN_RELEASES + "v0.1-tresnet/mixer_b16_224_miil_in21k-2a558a71.pth",
        num_classes=11221,
    ),
    "mixer_b16_224.miil_in21k_ft_in1k": weight(
        _MIIL, url=RWIGHTMAN_RELEASES + "v0.1-tresnet/mixer_b16_224_miil-9229a591.pth"
    ),
    "gmixer_12_224.untrained": weight(_IN, NO_WEIGHTS),
    "gmixer_24_224.ra3_in1k": weight(
        _IN, url=RWIGHTMAN_RELEASES + "v0.1-weights/gmixer_24_224_raa-7daf7ae6.pth"
    ),
    "resmlp_12_224.fb_in1k": weight(_IN, default=True, url=_FB + "resmlp_12_no_dist.pth"),
    "resmlp_24_224.fb_in1k": weight(_IN, default=True, url=_FB + "resmlp_24_no_dist.pth"),
    "resmlp_36_224.fb_in1k": weight(_IN, default=True, url=_FB + "resmlp_36_no_dist.pth"),
    "resmlp_big_24_224.fb_in1k": weight(_IN, default=True, url=_FB + "resmlpB_24_no_dist.pth"),
    "resmlp_12_224.fb_distilled_in1k": weight(_IN, url=_FB + "resmlp_12_dist.pth"),
    "resmlp_24_224.fb_distilled_in1k": weight(_IN, url=_FB + "resmlp_24_dist.pth"),
    "resmlp_36_224.fb_distilled_in1k": weight(_IN, url=_FB + "resmlp_36_dist.pth"),
    "resmlp_big_24_224.fb_distilled_in1k": weight(_IN, url=_FB + "resmlpB_24_dist.pth"),
    "resmlp_big_24_224.fb_in22k_ft_in1k": weight(_IN, url=_FB + "resmlpB_24_22k.pth"),
    "resmlp_12_224.fb_dino": weight(_IN, url=_FB + "resmlp_12_dino.pth"),
    "resmlp_24_224.fb_dino": weight(_IN, url=_FB + "resmlp_24_dino.pth"),
    "gmlp_ti16_224.untrained": weight(NO_WEIGHTS),
    "gmlp_s16_224.ra3_in1k": weight(url=RWIGHTMAN_RELEASES + "v0.1-weights/gmlp_s16_224_raa-10536d42.pth"),
    "gmlp_b16_224.untrained": weight(NO_WEIGHTS),
}

DEPRECATED: dict[str, str | None] = {
    "mixer_b16_224_in21k": "mixer_b16_224.goog_in21k_ft_in1k",
    "mixer_l16_224_in21k": "mixer_l16_224.goog_in21k_ft_in1k",
    "mixer_b16_224_miil": "mixer_b16_224.miil_in21k_ft_in1k",
    "mixer_b16_224_miil_in21k": "mixer_b16_224.miil_in21k",
    "resmlp_12_distilled_224": "resmlp_12_224.fb_distilled_in1k",
    "resmlp_24_distilled_224": "resmlp_24_224.fb_distilled_in1k",
    "resmlp_36_distilled_224": "resmlp_36_224.fb_distilled_in1k",
    "resmlp_big_24_distilled_224": "resmlp_big_24_224.fb_distilled_in1k",
    "resmlp_big_24_224_in22ft1k": "resmlp_big_24_224.fb_in22k_ft_in1k",
    "resmlp_12_224_dino": "resmlp_12_224",
    "resmlp_24_224_dino": "resmlp_24_224",
}

default_cfgs = register_family(
    __name__,
    model_cls=MlpMixer,
    variants=VARIANTS,
    weights=WEIGHTS,
    deprecated=DEPRECATED,
    cfg_defaults=dict(
        num_classes=1000,
        input_size=(3, 224, 224),
        pool_size=None,
        crop_pct=0.875,
        interpolation="bicubic",
        fixed_input_size=True,
        mean=IMAGENET_INCEPTION_MEAN,
        std=IMAGENET_INCEPTION_STD,
        first_conv="stem.proj",
        classifier="head",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=3, feature_cls="getter"),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. mixer_b16_224
    return family_entrypoint(__name__, name)
