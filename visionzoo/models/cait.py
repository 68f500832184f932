"""CaiT: class-attention image transformers.

Paper: `Going deeper with Image Transformers` - https://arxiv.org/abs/2103.17239

Patch tokens go through talking-heads self-attention blocks with per-channel layer scales; only
then does the class token join, through a few class-attention blocks that update it alone.
Weights: Apache-2.0 (Facebook Research's DeiT repository). Keys as timm's ``cait``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, ClassVar, cast

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..features import feature_take_indices
from ..layers import DropPath, Mlp, PatchEmbed, trunc_normal_
from ..layers.class_attn import ClassAttn
from ..layers.classifier import check_pool
from ..layers.talking_head_attn import TalkingHeadAttn
from ..model import TokenModel, checkpoint_seq
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "Cait",
    "ClassAttn",
    "LayerScaleBlock",
    "LayerScaleBlockClassAttn",
    "TalkingHeadAttn",
    "checkpoint_filter_fn",
    "default_cfgs",
]

LayerFn = Callable[..., nn.Module]
_LN6 = partial(nn.LayerNorm, eps=1e-6)


class _LayerScaleResidual(nn.Module):
    """Norms, attention, MLP and the bare ``gamma_1`` / ``gamma_2`` layer scales of a CaiT block."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float,
        qkv_bias: bool,
        proj_drop: float,
        attn_drop: float,
        drop_path: float,
        act_layer: LayerFn,
        norm_layer: LayerFn,
        attn_block: LayerFn,
        mlp_block: LayerFn,
        init_values: float,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = attn_block(
            dim, num_heads=num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=proj_drop
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = mlp_block(
            in_features=dim, hidden_features=int(dim * mlp_ratio), act_layer=act_layer, drop=proj_drop
        )
        self.gamma_1 = nn.Parameter(init_values * torch.ones(dim))
        self.gamma_2 = nn.Parameter(init_values * torch.ones(dim))


class LayerScaleBlock(_LayerScaleResidual):
    """``x + g1 * attn(norm1(x))``, then ``x + g2 * mlp(norm2(x))`` (talking-heads attention)."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = nn.LayerNorm,
        attn_block: LayerFn = TalkingHeadAttn,
        mlp_block: LayerFn = Mlp,
        init_values: float = 1e-4,
    ) -> None:
        super().__init__(
            dim,
            num_heads,
            mlp_ratio,
            qkv_bias,
            proj_drop,
            attn_drop,
            drop_path,
            act_layer,
            norm_layer,
            attn_block,
            mlp_block,
            init_values,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.gamma_1 * self.attn(self.norm1(x)))
        return x + self.drop_path(self.gamma_2 * self.mlp(self.norm2(x)))


class LayerScaleBlockClassAttn(_LayerScaleResidual):
    """Updates the class token only: it attends over ``[class, patches]``, then its own MLP."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = nn.LayerNorm,
        attn_block: LayerFn = ClassAttn,
        mlp_block: LayerFn = Mlp,
        init_values: float = 1e-4,
    ) -> None:
        super().__init__(
            dim,
            num_heads,
            mlp_ratio,
            qkv_bias,
            proj_drop,
            attn_drop,
            drop_path,
            act_layer,
            norm_layer,
            attn_block,
            mlp_block,
            init_values,
        )

    def forward(self, x: torch.Tensor, x_cls: torch.Tensor) -> torch.Tensor:
        u = torch.cat((x_cls, x), dim=1)
        x_cls = x_cls + self.drop_path(self.gamma_1 * self.attn(self.norm1(u)))
        return x_cls + self.drop_path(self.gamma_2 * self.mlp(self.norm2(x_cls)))


class Cait(TokenModel):
    """CaiT: ``depth`` talking-heads blocks over the patch tokens (position-embedded, no class
    token), then ``depth_token_only`` class-attention blocks that build the class token, which
    is prepended to the patch tokens before the final norm.

    ``global_pool``: ``'token'`` (the class token), ``'avg'`` (mean of the patch tokens) or
    ``''``. The intermediates are the patch-token blocks' outputs (no prefix tokens there yet).
    The drop path rate is the same in every block, as timm.
    """

    drop_path_schedule: ClassVar[str] = "uniform"

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "token",
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        block_layers: LayerFn = LayerScaleBlock,
        block_layers_token: LayerFn = LayerScaleBlockClassAttn,
        patch_layer: LayerFn = PatchEmbed,
        norm_layer: LayerFn = _LN6,
        act_layer: LayerFn = nn.GELU,
        attn_block: LayerFn = TalkingHeadAttn,
        mlp_block: LayerFn = Mlp,
        init_values: float = 1e-4,
        attn_block_token_only: LayerFn = ClassAttn,
        mlp_block_token_only: LayerFn = Mlp,
        depth_token_only: int = 2,
        mlp_ratio_token_only: float = 4.0,
    ) -> None:
        super().__init__()
        check_pool(global_pool, ("", "token", "avg"), model="CaiT")
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.global_pool = global_pool
        self.num_features = self.head_hidden_size = self.embed_dim = embed_dim
        self.num_prefix_tokens = 1
        self.pool_include_prefix = False
        self.has_class_token = True
        self.drop_rate = drop_rate

        # a PatchEmbed-like module (feat_ratio, num_patches): Any, as TokenModel declares it
        self.patch_embed = cast(
            Any, patch_layer(img_size=img_size, patch_size=patch_size, in_chans=in_chans, embed_dim=embed_dim)
        )
        reduction = self.patch_embed.feat_ratio()
        self.cls_token: nn.Parameter | None = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches, embed_dim))
        self.pos_drop = nn.Dropout(p=pos_drop_rate)
        common = dict(num_heads=num_heads, qkv_bias=qkv_bias, norm_layer=norm_layer, act_layer=act_layer)
        self.blocks = nn.Sequential(
            *[
                block_layers(
                    dim=embed_dim,
                    mlp_ratio=mlp_ratio,
                    proj_drop=proj_drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=drop_path_rate,
                    attn_block=attn_block,
                    mlp_block=mlp_block,
                    init_values=init_values,
                    **common,
                )
                for _ in range(depth)
            ]
        )
        self.feature_info = [
            dict(num_chs=embed_dim, reduction=reduction, module=f"blocks.{i}") for i in range(depth)
        ]
        self.blocks_token_only: nn.ModuleList | None = nn.ModuleList(
            [
                block_layers_token(
                    dim=embed_dim,
                    mlp_ratio=mlp_ratio_token_only,
                    attn_block=attn_block_token_only,
                    mlp_block=mlp_block_token_only,
                    init_values=init_values,
                    **common,
                )
                for _ in range(depth_token_only)
            ]
        )
        self.norm = norm_layer(embed_dim)
        self.attn_pool = None
        self.fc_norm = nn.Identity()
        self.head_drop = nn.Dropout(drop_rate)
        self.head: nn.Module = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal (0.02) embeddings, tokens and linears; zero biases; unit norms."""
        trunc_normal_(self.pos_embed, std=0.02)
        if self.cls_token is not None:
            trunc_normal_(self.cls_token, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def no_weight_decay(self) -> set[str]:
        return {"pos_embed", "cls_token"}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """Embeddings as the stem, one group per block; the class-attention blocks join the last
        blocks' groups and the final norm the last block's (timm's grouping)."""
        n = len(self.blocks)
        t = len(self.blocks_token_only) if self.blocks_token_only is not None else 0
        return dict(
            stem=r"^cls_token|pos_embed|patch_embed",
            blocks=[
                (r"^blocks\.(\d+)", None),
                *[(rf"^blocks_token_only\.{i}\.", (n - t + i,)) for i in range(t)],
                (r"^norm\.", (n - 1,)),
            ],
        )

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        if global_pool is not None:
            check_pool(global_pool, ("", "token", "avg"), model="CaiT")
            if global_pool == "token" and not self.num_prefix_tokens:
                raise ValueError("global_pool='token' needs the class token, which was pruned")
        super().reset_classifier(num_classes, global_pool)

    # --- forward -------------------------------------------------------------------------------
    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.pos_drop(self.patch_embed(x) + self.pos_embed)

    def forward_cls(self, x: torch.Tensor) -> torch.Tensor:
        """Build the class token over the patch tokens; return ``[class, patches]``."""
        if self.cls_token is None or self.blocks_token_only is None:
            return x
        cls_tokens = self.cls_token.expand(x.shape[0], -1, -1)
        for blk in self.blocks_token_only:
            cls_tokens = blk(x, cls_tokens)
        return torch.cat((cls_tokens, x), dim=1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self._embed(x)
        if not torch.jit.is_scripting() and self._checkpointing():  # static under TorchScript
            x = checkpoint_seq(self.blocks, x)
        else:
            x = self.blocks(x)
        return self.norm(self.forward_cls(x))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.global_pool == "avg":
            x = x[:, self.num_prefix_tokens :].mean(dim=1)
        elif self.global_pool:
            x = x[:, 0]
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    def forward_intermediates(  # type: ignore[override]
        self,
        x: torch.Tensor,
        indices: int | list[int] | tuple[int, ...] | None = None,
        *,
        return_prefix_tokens: bool = False,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> Any:
        """The patch-token blocks' outputs at ``indices`` (``NCHW`` maps or ``NLC`` tokens); the
        final output is the normed ``[class, patches]``. The blocks see no prefix tokens, so
        ``return_prefix_tokens`` adds none."""
        if output_fmt not in ("NCHW", "NLC"):
            raise ValueError(f"output_fmt={output_fmt!r} is not supported; use 'NCHW' or 'NLC'")
        take, max_index = feature_take_indices(len(self.blocks), indices)
        height, width = x.shape[-2:]
        x = self._embed(x)
        blocks = self.blocks[: max_index + 1] if stop_early or intermediates_only else self.blocks
        found = []
        for i, block in enumerate(blocks):
            x = checkpoint(block, x, use_reentrant=False) if self._checkpointing() else block(x)
            if i in take:
                found.append(self.norm(x) if norm else x)
        if output_fmt == "NCHW":
            h, w = self.patch_embed.dynamic_feat_size((height, width))
            found = [y.reshape(y.shape[0], h, w, -1).permute(0, 3, 1, 2).contiguous() for y in found]
        if intermediates_only:
            return found
        return self.norm(self.forward_cls(x)), found

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """As the token contract; ``prune_head`` also drops the class token and the
        class-attention blocks, which exist only for the head (as timm)."""
        if prune_head:
            self.blocks_token_only = None
            self.cls_token = None
            self.num_prefix_tokens = 0
        return super().prune_intermediate_layers(indices, prune_norm=prune_norm, prune_head=prune_head)


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module | None = None) -> dict[str, Any]:
    """The DeiT repository's checkpoints: weights under ``model``, ``module.`` (DDP) prefixes."""
    if "model" in state_dict:
        state_dict = state_dict["model"]
    return {k.replace("module.", ""): v for k, v in state_dict.items()}


CaitArgs = model_args_type(Cait)


def _v(embed_dim: int, depth: int, num_heads: int, init_values: float) -> Any:
    return CaitArgs(
        patch_size=16, embed_dim=embed_dim, depth=depth, num_heads=num_heads, init_values=init_values
    )


VARIANTS: dict[str, Any] = {
    "cait_xxs24_224": _v(192, 24, 4, 1e-5),
    "cait_xxs24_384": _v(192, 24, 4, 1e-5),
    "cait_xxs36_224": _v(192, 36, 4, 1e-5),
    "cait_xxs36_384": _v(192, 36, 4, 1e-5),
    "cait_xs24_384": _v(288, 24, 6, 1e-5),
    "cait_s24_224": _v(384, 24, 8, 1e-5),
    "cait_s24_384": _v(384, 24, 8, 1e-5),
    "cait_s36_384": _v(384, 36, 8, 1e-6),
    "cait_m36_384": _v(768, 36, 16, 1e-6),
    "cait_m48_448": _v(768, 48, 16, 1e-6),
}

_FB = "https://dl.fbaipublicfiles.com/deit/"
WEIGHTS: dict[str, dict[str, Any]] = {
    "cait_xxs24_224.fb_dist_in1k": weight(url=_FB + "XXS24_224.pth", size=224),
    "cait_xxs24_384.fb_dist_in1k": weight(url=_FB + "XXS24_384.pth"),
    "cait_xxs36_224.fb_dist_in1k": weight(url=_FB + "XXS36_224.pth", size=224),
    "cait_xxs36_384.fb_dist_in1k": weight(url=_FB + "XXS36_384.pth"),
    "cait_xs24_384.fb_dist_in1k": weight(url=_FB + "XS24_384.pth"),
    "cait_s24_224.fb_dist_in1k": weight(url=_FB + "S24_224.pth", size=224),
    "cait_s24_384.fb_dist_in1k": weight(url=_FB + "S24_384.pth"),
    "cait_s36_384.fb_dist_in1k": weight(url=_FB + "S36_384.pth"),
    "cait_m36_384.fb_dist_in1k": weight(url=_FB + "M36_384.pth"),
    "cait_m48_448.fb_dist_in1k": weight(url=_FB + "M48_448.pth", size=448),
}

default_cfgs = register_family(
    __name__,
    model_cls=Cait,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        num_classes=1000,
        input_size=(3, 384, 384),
        pool_size=None,
        crop_pct=1.0,
        interpolation="bicubic",
        fixed_input_size=True,
        mean=IMAGENET_DEFAULT_MEAN,
        std=IMAGENET_DEFAULT_STD,
        first_conv="patch_embed.proj",
        classifier="head",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=3, feature_cls="getter"),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. cait_s24_224
    return family_entrypoint(__name__, name)
