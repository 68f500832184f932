"""Transformer in Transformer (TNT): an inner transformer over the pixels of each patch feeds
the outer transformer over the patches, block by block.

Paper: `Transformer in Transformer` - https://arxiv.org/abs/2103.00112

Weights: Huawei Noah's Ark Lab's ImageNet-1k trainings
(https://github.com/huawei-noah/Efficient-AI-Backbones/tree/master/tnt_pytorch), apache-2.0. Module
names follow timm's ``tnt``; :func:`checkpoint_filter_fn` reads the original layout.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar, cast

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..features import feature_take_indices
from ..layers import (
    DropPath,
    Mlp,
    calculate_drop_path_rates,
    resample_abs_pos_embed,
    to_2tuple,
    trunc_normal_,
)
from ..model import TokenModel, VisionModel
from ..pretrained import IMAGENET_INCEPTION_MEAN, IMAGENET_INCEPTION_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "TNT",
    "VARIANTS",
    "WEIGHTS",
    "Attention",
    "Block",
    "PixelEmbed",
    "checkpoint_filter_fn",
    "default_cfgs",
]

LayerFn = Callable[..., nn.Module]


class Attention(nn.Module):
    """Multi-head self-attention with a joint q/k projection of ``hidden_dim`` and a separate v."""

    def __init__(
        self,
        dim: int,
        hidden_dim: int,
        num_heads: int = 8,
        qkv_bias: bool = False,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.head_dim = hidden_dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qk = nn.Linear(dim, hidden_dim * 2, bias=qkv_bias)
        self.v = nn.Linear(dim, dim, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        q, k = self.qk(x).reshape(b, n, 2, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        v = self.v(x).reshape(b, n, self.num_heads, -1).permute(0, 2, 1, 3)
        attn = self.attn_drop(((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1))
        return self.proj_drop(self.proj((attn @ v).transpose(1, 2).reshape(b, n, -1)))


class Block(nn.Module):
    """One TNT block: the inner transformer over each patch's pixel tokens, their projection added
    to the patch tokens (the class token excepted), then the outer transformer over the patches.

    ``legacy``: the first release's projection (norm over each pixel token, biased linear, no
    norm after it).
    """

    def __init__(
        self,
        dim: int,
        dim_out: int,
        num_pixel: int,
        num_heads_in: int = 4,
        num_heads_out: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = nn.LayerNorm,
        legacy: bool = False,
    ) -> None:
        super().__init__()
        self.norm_in = norm_layer(dim)
        self.attn_in = Attention(
            dim, dim, num_heads=num_heads_in, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=proj_drop
        )
        self.norm_mlp_in = norm_layer(dim)
        self.mlp_in = Mlp(dim, dim * 4, dim, act_layer=act_layer, drop=proj_drop)
        self.legacy = legacy
        self.norm1_proj = norm_layer(dim if legacy else dim * num_pixel)
        self.proj = nn.Linear(dim * num_pixel, dim_out, bias=legacy)
        self.norm2_proj: nn.Module | None = None if legacy else norm_layer(dim_out)
        self.norm_out = norm_layer(dim_out)
        self.attn_out = Attention(
            dim_out,
            dim_out,
            num_heads=num_heads_out,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=proj_drop,
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm_mlp = norm_layer(dim_out)
        self.mlp = Mlp(dim_out, int(dim_out * mlp_ratio), dim_out, act_layer=act_layer, drop=proj_drop)

    def forward(
        self, patch_embed: torch.Tensor, pixel_embed: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(patch tokens (B, 1 + N, C), pixel tokens (B * N, P, c))`` -> the same, updated.

        NOTE: patch tokens first (timm's block takes and returns pixels first): a hook or an FX
        tap of a block reads the first output, the patch tokens, as the block's level.
        """
        pixel_embed = pixel_embed + self.drop_path(self.attn_in(self.norm_in(pixel_embed)))
        pixel_embed = pixel_embed + self.drop_path(self.mlp_in(self.norm_mlp_in(pixel_embed)))
        b, n, _ = patch_embed.shape
        if self.norm2_proj is None:
            added = self.proj(self.norm1_proj(pixel_embed).reshape(b, n - 1, -1))
        else:
            added = self.norm2_proj(self.proj(self.norm1_proj(pixel_embed.reshape(b, n - 1, -1))))
        patch_embed = torch.cat((patch_embed[:, :1], patch_embed[:, 1:] + added), dim=1)
        patch_embed = patch_embed + self.drop_path(self.attn_out(self.norm_out(patch_embed)))
        patch_embed = patch_embed + self.drop_path(self.mlp(self.norm_mlp(patch_embed)))
        return patch_embed, pixel_embed


class PixelEmbed(nn.Module):
    """Image -> pixel tokens ``(B * N, P, in_dim)``: each ``patch_size`` patch cut out, a 7x7
    conv of ``stride`` over it (``legacy``: over the whole image, then cut), plus ``pixel_pos``."""

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int | tuple[int, int] = 16,
        in_chans: int = 3,
        in_dim: int = 48,
        stride: int = 4,
        legacy: bool = False,
    ) -> None:
        super().__init__()
        self.img_size = to_2tuple(img_size)
        self.patch_size = to_2tuple(patch_size)
        self.grid_size = (self.img_size[0] // self.patch_size[0], self.img_size[1] // self.patch_size[1])
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.legacy = legacy
        self.in_dim = in_dim
        self.new_patch_size = [math.ceil(p / stride) for p in self.patch_size]
        self.proj = nn.Conv2d(in_chans, in_dim, kernel_size=7, padding=3, stride=stride)
        cut = tuple(self.new_patch_size) if legacy else self.patch_size
        self.unfold = nn.Unfold(kernel_size=cut, stride=cut)

    def feat_ratio(self, as_scalar: bool = True) -> int | tuple[int, int]:
        return max(self.patch_size) if as_scalar else self.patch_size

    def dynamic_feat_size(self, img_size: tuple[int, int]) -> tuple[int, int]:
        return img_size[0] // self.patch_size[0], img_size[1] // self.patch_size[1]

    def forward(self, x: torch.Tensor, pixel_pos: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        torch._assert(h == self.img_size[0], f"input height {h} != the model's img_size {self.img_size}")
        torch._assert(w == self.img_size[1], f"input width {w} != the model's img_size {self.img_size}")
        ph, pw = self.new_patch_size
        if self.legacy:
            x = self.unfold(self.proj(x)).transpose(1, 2).reshape(b * self.num_patches, self.in_dim, ph, pw)
        else:
            x = self.unfold(x).transpose(1, 2)
            x = self.proj(x.reshape(b * self.num_patches, c, self.patch_size[0], self.patch_size[1]))
        x = x + pixel_pos
        return x.reshape(b * self.num_patches, self.in_dim, -1).transpose(1, 2)


class TNT(TokenModel):
    """TNT: pixel tokens (``inner_dim`` wide) per patch and patch tokens (``embed_dim``) with a
    class token, both with learned position embeddings; class-token pooling by default."""

    # NOTE: ``patch_embed`` (the token grid the contract reads) is the pixel embedding, and
    # Python-side only
    __jit_unused_properties__: ClassVar[list[str]] = [*VisionModel.__jit_unused_properties__, "patch_embed"]

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int | tuple[int, int] = 16,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "token",
        embed_dim: int = 768,
        inner_dim: int = 48,
        depth: int = 12,
        num_heads_inner: int = 4,
        num_heads_outer: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_layer: LayerFn = nn.LayerNorm,
        first_stride: int = 4,
        legacy: bool = False,
    ) -> None:
        super().__init__()
        if global_pool not in ("", "token", "avg"):
            raise ValueError(f"global_pool={global_pool!r}; valid: '', 'token', 'avg'")
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.global_pool = global_pool
        self.num_features = self.head_hidden_size = self.embed_dim = embed_dim
        self.num_prefix_tokens = 1
        self.has_class_token = True
        self.pool_include_prefix = False
        self.drop_rate = drop_rate

        self.pixel_embed = PixelEmbed(
            img_size=img_size,
            patch_size=patch_size,
            in_chans=in_chans,
            in_dim=inner_dim,
            stride=first_stride,
            legacy=legacy,
        )
        self.num_patches = num_patches = self.pixel_embed.num_patches
        new_patch_size = self.pixel_embed.new_patch_size
        num_pixel = new_patch_size[0] * new_patch_size[1]
        self.norm1_proj = norm_layer(num_pixel * inner_dim)
        self.proj = nn.Linear(num_pixel * inner_dim, embed_dim)
        self.norm2_proj = norm_layer(embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.patch_pos = nn.Parameter(torch.zeros(1, num_patches + 1, embed_dim))
        self.pixel_pos = nn.Parameter(torch.zeros(1, inner_dim, new_patch_size[0], new_patch_size[1]))
        self.pos_drop = nn.Dropout(p=pos_drop_rate)
        dpr = cast(list[float], calculate_drop_path_rates(drop_path_rate, depth))
        # NOTE: a list, not a Sequential: each block takes and returns two streams
        self.blocks = nn.ModuleList(  # type: ignore[assignment]
            [
                Block(
                    dim=inner_dim,
                    dim_out=embed_dim,
                    num_pixel=num_pixel,
                    num_heads_in=num_heads_inner,
                    num_heads_out=num_heads_outer,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    proj_drop=proj_drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=dpr[i],
                    norm_layer=norm_layer,
                    legacy=legacy,
                )
                for i in range(depth)
            ]
        )
        reduction = self.pixel_embed.feat_ratio()
        self.feature_info = [
            dict(module=f"blocks.{i}", num_chs=embed_dim, reduction=reduction) for i in range(depth)
        ]
        self.norm = norm_layer(embed_dim)
        self.attn_pool = None
        self.fc_norm = nn.Identity()
        self.head_drop = nn.Dropout(drop_rate)
        self.head: nn.Module = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self._initialize()

    @property
    def patch_embed(self) -> PixelEmbed:  # type: ignore[override]
        """The pixel embedding: it holds the patch grid (``dynamic_feat_size``, ``img_size``)."""
        return self.pixel_embed

    def init_weights(self) -> None:
        """Truncated-normal embeddings and linears, zero biases, unit norms."""
        for p in (self.cls_token, self.patch_pos, self.pixel_pos):
            trunc_normal_(p, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def no_weight_decay(self) -> set[str]:
        return {"patch_pos", "pixel_pos", "cls_token"}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^cls_token|patch_pos|pixel_pos|pixel_embed|norm[12]_proj|proj",
            blocks=[(r"^blocks\.(\d+)", None), (r"^norm", (99999,))],
        )

    def _embed_both(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Image -> (patch tokens ``(B, 1 + N, embed_dim)``, pixel tokens ``(B * N, P, inner_dim)``)."""
        b = x.shape[0]
        pixel_embed = self.pixel_embed(x, self.pixel_pos)
        patch_embed = self.norm2_proj(
            self.proj(self.norm1_proj(pixel_embed.reshape(b, self.num_patches, -1)))
        )
        patch_embed = torch.cat((self.cls_token.expand(b, -1, -1), patch_embed), dim=1)
        return self.pos_drop(patch_embed + self.patch_pos), pixel_embed

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> normalised patch tokens ``(B, 1 + N, embed_dim)``."""
        patch_embed, pixel_embed = self._embed_both(x)
        for block in self.blocks:
            if not torch.jit.is_scripting() and self._checkpointing():  # static under TorchScript
                patch_embed, pixel_embed = checkpoint(block, patch_embed, pixel_embed, use_reentrant=False)
            else:
                patch_embed, pixel_embed = block(patch_embed, pixel_embed)
        return self.norm(patch_embed)

    # forward_intermediates: the blocks carry (patch tokens, pixel tokens)
    def _begin_blocks(self, x: torch.Tensor) -> Any:
        return self._embed_both(x)

    def _run_block(self, block: nn.Module, state: Any) -> Any:
        return self._call_block(block, *state)

    def _state_tokens(self, state: Any) -> torch.Tensor:
        return state[0]

    def _token_grid(self, img_size: tuple[int, int]) -> tuple[int, int]:
        return self.pixel_embed.dynamic_feat_size(img_size)

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """Keep the blocks up to the last of ``indices``; drop the final norm (``prune_norm``)
        and the head (``prune_head``)."""
        take, max_index = feature_take_indices(len(self.blocks), indices)
        self.blocks = self.blocks[: max_index + 1]
        if prune_norm:
            self.norm = nn.Identity()
        if prune_head:
            self.reset_classifier(0, "")
        return take


# the original release's names -> timm's (and ours), applied in this order
_ORIGINAL_NAMES = (
    ("outer_pos", "patch_pos"),
    ("inner_pos", "pixel_pos"),
    ("patch_embed", "pixel_embed"),
    ("proj_norm1", "norm1_proj"),
    ("proj_norm2", "norm2_proj"),
    ("inner_norm1", "norm_in"),
    ("inner_attn", "attn_in"),
    ("inner_norm2", "norm_mlp_in"),
    ("inner_mlp", "mlp_in"),
    ("outer_norm1", "norm_out"),
    ("outer_attn", "attn_out"),
    ("outer_norm2", "norm_mlp"),
    ("outer_mlp", "mlp"),
)


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """Huawei's checkpoints to this model: module names renamed, the pixel position embedding
    from tokens ``(1, P, c)`` to a map ``(1, c, h, w)``, the unused ``outer_tokens`` dropped;
    any checkpoint's patch position embedding resampled to the model's grid."""
    m = cast(TNT, model)
    state_dict = {k: v for k, v in state_dict.items() if k != "outer_tokens"}
    if "patch_pos" in state_dict:
        out = state_dict
    else:
        out = {}
        for k, v in state_dict.items():
            for old, new in _ORIGINAL_NAMES:
                k = k.replace(old, new)
            if k == "pixel_pos" and not m.pixel_embed.legacy:
                b, n, c = v.shape
                side = math.isqrt(n)
                if side * side != n:
                    raise ValueError(f"inner_pos of {n} pixels is not a square patch")
                v = v.permute(0, 2, 1).reshape(b, c, side, side)
            out[k] = v
    if out["patch_pos"].shape != m.patch_pos.shape:
        out["patch_pos"] = resample_abs_pos_embed(
            out["patch_pos"], list(m.pixel_embed.grid_size), num_prefix_tokens=1
        )
    return out


TNTArgs = model_args_type(TNT)

VARIANTS: dict[str, Any] = {
    "tnt_s_legacy_patch16_224": TNTArgs(
        patch_size=16, embed_dim=384, inner_dim=24, depth=12, num_heads_outer=6, qkv_bias=False, legacy=True
    ),
    "tnt_s_patch16_224": TNTArgs(patch_size=16, embed_dim=384, inner_dim=24, depth=12, num_heads_outer=6),
    "tnt_b_patch16_224": TNTArgs(patch_size=16, embed_dim=640, inner_dim=40, depth=12, num_heads_outer=10),
}

WEIGHTS: dict[str, dict[str, Any]] = {
    "tnt_s_legacy_patch16_224.in1k": weight(),
    "tnt_s_patch16_224.in1k": weight(),
    "tnt_b_patch16_224.in1k": weight(),
}

default_cfgs = register_family(
    __name__,
    model_cls=TNT,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        num_classes=1000,
        input_size=(3, 224, 224),
        pool_size=None,
        crop_pct=0.9,
        interpolation="bicubic",
        fixed_input_size=True,
        mean=IMAGENET_INCEPTION_MEAN,
        std=IMAGENET_INCEPTION_STD,
        first_conv="pixel_embed.proj",
        classifier="head",
        paper_ids="arXiv:2103.00112",
        paper_name="Transformer in Transformer",
        origin_url="https://github.com/huawei-noah/Efficient-AI-Backbones/tree/master/tnt_pytorch",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=3, feature_cls="getter"),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:
    return family_entrypoint(__name__, name)
