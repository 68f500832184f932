"""DeiT: data-efficient image transformers, with the distillation token and head; DeiT III.

Papers:
* `Training data-efficient image transformers & distillation through attention` - https://arxiv.org/abs/2012.12877
* `DeiT III: Revenge of the ViT` - https://arxiv.org/abs/2204.07118

Weights: Apache-2.0 (Facebook Research's DeiT releases). Module names follow timm's ``deit``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..model import DistilledHeads
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from .vision_transformer.model import VisionTransformer
from .vision_transformer.remap import checkpoint_filter_fn as vit_checkpoint_filter_fn
from .vision_transformer.variants import VisionTransformerArgs
from .vision_transformer.weights import CFG_DEFAULTS as VIT_CFG_DEFAULTS

__all__ = [
    "DEPRECATED",
    "DISTILLED_VARIANTS",
    "VARIANTS",
    "WEIGHTS",
    "VisionTransformerDistilled",
    "default_cfgs",
]


class VisionTransformerDistilled(DistilledHeads, VisionTransformer):
    """ViT with a distillation token after the class token and a second head reading it (see
    :class:`~visionzoo.model.DistilledHeads`). Takes the :class:`VisionTransformer` arguments
    (its variants are ``VisionTransformerArgs``); ``global_pool`` must be ``'token'``.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        weight_init = kwargs.pop("weight_init", "")
        kwargs["weight_init"] = "skip"
        super().__init__(*args, **kwargs)
        if self.global_pool != "token":
            raise ValueError(
                f"global_pool={self.global_pool!r}: the distilled head reads the class token; use 'token'"
            )
        self.num_prefix_tokens = 2
        self.dist_token = nn.Parameter(torch.zeros(1, 1, self.embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 2, self.embed_dim))
        self.head_dist: nn.Module | None = (
            nn.Linear(self.embed_dim, self.num_classes) if self.num_classes > 0 else nn.Identity()
        )
        self.distilled_training = False
        self.weight_init_mode = "" if weight_init in ("skip", "reset") else weight_init
        if weight_init != "skip":
            self._initialize()

    def init_weights(self, mode: str = "") -> None:
        nn.init.trunc_normal_(self.dist_token, std=0.02)
        super().init_weights(mode)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^cls_token|pos_embed|patch_embed|dist_token",
            blocks=[(r"^blocks\.(\d+)", None), (r"^norm", (99999,))],
        )

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        if global_pool not in (None, "", "token"):
            raise ValueError(
                f"global_pool={global_pool!r}: the distilled head reads the class token; use 'token'"
            )
        super().reset_classifier(num_classes)
        self._replace_heads(num_classes, lambda n: nn.Linear(self.embed_dim, n) if n > 0 else nn.Identity())

    def _pos_embed(self, x: torch.Tensor) -> torch.Tensor:
        pos_embed: torch.Tensor | None = self.pos_embed
        cls_token = self.cls_token
        if pos_embed is None or cls_token is None:
            raise RuntimeError("the distilled ViT needs its class token and position embedding")
        if self.dynamic_img_size:
            x, pos_embed = self._pos_embed_on_grid(x, pos_embed)
        cls, dist = cls_token.expand(x.shape[0], -1, -1), self.dist_token.expand(x.shape[0], -1, -1)
        if self.no_embed_class:
            x = torch.cat((cls, dist, x + pos_embed), dim=1)
        else:
            x = torch.cat((cls, dist, x), dim=1) + pos_embed
        return self.pos_drop(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x, x_dist = self.head_drop(x[:, 0]), self.head_drop(x[:, 1])
        if pre_logits:
            return (x + x_dist) / 2
        head_dist = self.head_dist
        if head_dist is None:
            return self.head(x)
        return self._distilled_logits(self.head(x), head_dist(x_dist))


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """The ViT remap, plus DeiT III's ``gamma_1`` / ``gamma_2`` layer-scale names."""
    return vit_checkpoint_filter_fn(state_dict, model, adapt_layer_scale=True)


# the ViT's, but DeiT normalises with the ImageNet statistics
CFG_DEFAULTS: dict[str, Any] = dict(VIT_CFG_DEFAULTS, mean=IMAGENET_DEFAULT_MEAN, std=IMAGENET_DEFAULT_STD)


def _v(patch_size: int, dims: tuple[int, int, int], **fields: Any) -> Any:
    embed_dim, depth, num_heads = dims
    return VisionTransformerArgs(
        patch_size=patch_size, embed_dim=embed_dim, depth=depth, num_heads=num_heads, **fields
    )


_TI, _S, _M, _B, _L, _H = (
    (192, 12, 3),
    (384, 12, 6),
    (512, 12, 8),
    (768, 12, 12),
    (1024, 24, 16),
    (1280, 32, 16),
)
_DEIT3 = dict(no_embed_class=True, init_values=1e-6)
VARIANTS: dict[str, Any] = {
    "deit_tiny_patch16_224": _v(16, _TI),
    "deit_small_patch16_224": _v(16, _S),
    "deit_base_patch16_224": _v(16, _B),
    "deit_base_patch16_384": _v(16, _B),
    "deit3_small_patch16_224": _v(16, _S, **_DEIT3),
    "deit3_small_patch16_384": _v(16, _S, **_DEIT3),
    "deit3_medium_patch16_224": _v(16, _M, **_DEIT3),
    "deit3_base_patch16_224": _v(16, _B, **_DEIT3),
    "deit3_base_patch16_384": _v(16, _B, **_DEIT3),
    "deit3_large_patch16_224": _v(16, _L, **_DEIT3),
    "deit3_large_patch16_384": _v(16, _L, **_DEIT3),
    "deit3_huge_patch14_224": _v(14, _H, **_DEIT3),
}
DISTILLED_VARIANTS: dict[str, Any] = {  # VisionTransformerDistilled takes the ViT's arguments
    "deit_tiny_distilled_patch16_224": _v(16, _TI),
    "deit_small_distilled_patch16_224": _v(16, _S),
    "deit_base_distilled_patch16_224": _v(16, _B),
    "deit_base_distilled_patch16_384": _v(16, _B),
}

_FB = "https://dl.fbaipublicfiles.com/"
_DIST = dict(classifier=("head", "head_dist"))


WEIGHTS: dict[str, dict[str, Any]] = {
    "deit3_base_patch16_224.fb_in1k": weight(default=True, url=_FB + "deit/deit_3_base_224_1k.pth"),
    "deit3_base_patch16_224.fb_in22k_ft_in1k": weight(url=_FB + "deit/deit_3_base_224_21k.pth", crop_pct=1.0),
    "deit3_base_patch16_384.fb_in1k": weight(
        default=True, url=_FB + "deit/deit_3_base_384_1k.pth", input_size=(3, 384, 384), crop_pct=1.0
    ),
    "deit3_base_patch16_384.fb_in22k_ft_in1k": weight(
        url=_FB + "deit/deit_3_base_384_21k.pth", input_size=(3, 384, 384), crop_pct=1.0
    ),
    "deit3_huge_patch14_224.fb_in1k": weight(default=True, url=_FB + "deit/deit_3_huge_224_1k.pth"),
    "deit3_huge_patch14_224.fb_in22k_ft_in1k": weight(
        url=_FB + "deit/deit_3_huge_224_21k_v1.pth", crop_pct=1.0
    ),
    "deit3_large_patch16_224.fb_in1k": weight(default=True, url=_FB + "deit/deit_3_large_224_1k.pth"),
    "deit3_large_patch16_224.fb_in22k_ft_in1k": weight(
        url=_FB + "deit/deit_3_large_224_21k.pth", crop_pct=1.0
    ),
    "deit3_large_patch16_384.fb_in1k": weight(
        default=True, url=_FB + "deit/deit_3_large_384_1k.pth", input_size=(3, 384, 384), crop_pct=1.0
    ),
    "deit3_large_patch16_384.fb_in22k_ft_in1k": weight(
        url=_FB + "deit/deit_3_large_384_21k.pth", input_size=(3, 384, 384), crop_pct=1.0
    ),
    "deit3_medium_patch16_224.fb_in1k": weight(default=True, url=_FB + "deit/deit_3_medium_224_1k.pth"),
    "deit3_medium_patch16_224.fb_in22k_ft_in1k": weight(
        url=_FB + "deit/deit_3_medium_224_21k.pth", crop_pct=1.0
    ),
    "deit3_small_patch16_224.fb_in1k": weight(default=True, url=_FB + "deit/deit_3_small_224_1k.pth"),
    "deit3_small_patch16_224.fb_in22k_ft_in1k": weight(
        url=_FB + "deit/deit_3_small_224_21k.pth", crop_pct=1.0
    ),
    "deit3_small_patch16_384.fb_in1k": weight(
        default=True, url=_FB + "deit/deit_3_small_384_1k.pth", input_size=(3, 384, 384), crop_pct=1.0
    ),
    "deit3_small_patch16_384.fb_in22k_ft_in1k": weight(
        url=_FB + "deit/deit_3_small_384_21k.pth", input_size=(3, 384, 384), crop_pct=1.0
    ),
    "deit_base_distilled_patch16_224.fb_in1k": weight(
        _DIST, url=_FB + "deit/deit_base_distilled_patch16_224-df68dfff.pth"
    ),
    "deit_base_distilled_patch16_384.fb_in1k": weight(
        _DIST,
        url=_FB + "deit/deit_base_distilled_patch16_384-d0272ac0.pth",
        input_size=(3, 384, 384),
        crop_pct=1.0,
    ),
    "deit_base_patch16_224.fb_in1k": weight(url=_FB + "deit/deit_base_patch16_224-b5f2ef4d.pth"),
    "deit_base_patch16_384.fb_in1k": weight(
        url=_FB + "deit/deit_base_patch16_384-8de9b5d1.pth", input_size=(3, 384, 384), crop_pct=1.0
    ),
    "deit_small_distilled_patch16_224.fb_in1k": weight(
        _DIST, url=_FB + "deit/deit_small_distilled_patch16_224-649709d9.pth"
    ),
    "deit_small_patch16_224.fb_in1k": weight(url=_FB + "deit/deit_small_patch16_224-cd65a155.pth"),
    "deit_tiny_distilled_patch16_224.fb_in1k": weight(
        _DIST, url=_FB + "deit/deit_tiny_distilled_patch16_224-b40b3cf7.pth"
    ),
    "deit_tiny_patch16_224.fb_in1k": weight(url=_FB + "deit/deit_tiny_patch16_224-a1311bcf.pth"),
}

DEPRECATED: dict[str, str | None] = {
    "deit3_small_patch16_224_in21ft1k": "deit3_small_patch16_224.fb_in22k_ft_in1k",
    "deit3_small_patch16_384_in21ft1k": "deit3_small_patch16_384.fb_in22k_ft_in1k",
    "deit3_medium_patch16_224_in21ft1k": "deit3_medium_patch16_224.fb_in22k_ft_in1k",
    "deit3_base_patch16_224_in21ft1k": "deit3_base_patch16_224.fb_in22k_ft_in1k",
    "deit3_base_patch16_384_in21ft1k": "deit3_base_patch16_384.fb_in22k_ft_in1k",
    "deit3_large_patch16_224_in21ft1k": "deit3_large_patch16_224.fb_in22k_ft_in1k",
    "deit3_large_patch16_384_in21ft1k": "deit3_large_patch16_384.fb_in22k_ft_in1k",
    "deit3_huge_patch14_224_in21ft1k": "deit3_huge_patch14_224.fb_in22k_ft_in1k",
}


def _group(names: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in WEIGHTS.items() if k.split(".", 1)[0] in names}


_SHARED = dict(
    cfg_defaults=CFG_DEFAULTS,
    feature_cfg=dict(out_indices=3, feature_cls="getter"),
    filter_fn=checkpoint_filter_fn,
)
default_cfgs = {
    **register_family(
        __name__,
        model_cls=VisionTransformer,
        variants=VARIANTS,
        weights=_group(VARIANTS),
        deprecated=DEPRECATED,
        **_SHARED,  # type: ignore[arg-type]
    ),
    **register_family(
        __name__,
        model_cls=VisionTransformerDistilled,
        variants=DISTILLED_VARIANTS,
        weights=_group(DISTILLED_VARIANTS),
        **_SHARED,  # type: ignore[arg-type]
    ),
}


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. deit_base_distilled_patch16_224
    return family_entrypoint(__name__, name)
