"""Vision Transformers with a relative position bias in every attention layer instead of an
absolute position embedding: a learned table per offset (Swin V1 / BEiT) or a small MLP over
log-spaced offsets (Swin V2's continuous bias), optionally one bias shared by all blocks, and
residual post-norm blocks (``rpn``).

Papers:
* `An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale` - https://arxiv.org/abs/2010.11929
* `Swin Transformer V2: Scaling Up Capacity and Resolution` - https://arxiv.org/abs/2111.09883

Weights: Ross Wightman's ImageNet-1k trainings (timm), apache-2.0. Module names follow timm's
``vision_transformer_relpos``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..layers import (
    DropPath,
    LayerNorm,
    LayerScale,
    Mlp,
    PatchEmbed,
    RelPosBias,
    RelPosMlp,
    calculate_drop_path_rates,
    get_act_layer,
    get_norm_layer,
    resize_rel_pos_bias_table,
)
from ..model import TokenModel
from ..model_input import update_model_input_size
from ..pretrained import (
    IMAGENET_INCEPTION_MEAN,
    IMAGENET_INCEPTION_STD,
    NO_WEIGHTS,
    RWIGHTMAN_RELEASES,
    weight,
)
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "VARIANTS",
    "WEIGHTS",
    "RelPosAttention",
    "RelPosBlock",
    "ResPostRelPosBlock",
    "VisionTransformerRelPos",
    "checkpoint_filter_fn",
    "default_cfgs",
]

LayerFn = Callable[..., nn.Module]


class RelPosAttention(nn.Module):
    """Multi-head self-attention whose logits get a relative position bias: the layer's own
    (``rel_pos_cls``) or one passed in (``shared_rel_pos``, ``(1, heads, N, N)``)."""

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = False,
        qk_norm: bool = False,
        rel_pos_cls: LayerFn | None = None,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        norm_layer: LayerFn = LayerNorm,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.fused_attn = True
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.q_norm = norm_layer(self.head_dim) if qk_norm else nn.Identity()
        self.k_norm = norm_layer(self.head_dim) if qk_norm else nn.Identity()
        self.rel_pos = rel_pos_cls(num_heads=num_heads) if rel_pos_cls is not None else None
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, shared_rel_pos: torch.Tensor | None = None) -> torch.Tensor:
        b, n, c = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        rel_pos = self.rel_pos
        bias = rel_pos.get_bias() if rel_pos is not None else shared_rel_pos  # type: ignore[operator]
        if self.fused_attn:
            x = F.scaled_dot_product_attention(
                q, k, v, attn_mask=bias, dropout_p=self.attn_drop.p if self.training else 0.0
            )
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1)
            if bias is not None:
                attn = attn + bias
            x = self.attn_drop(attn.softmax(dim=-1)) @ v
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(b, n, c)))


class RelPosBlock(nn.Module):
    """Pre-norm block: ``x + ls1(attn(norm1(x)))``, then ``x + ls2(mlp(norm2(x)))``."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        qk_norm: bool = False,
        rel_pos_cls: LayerFn | None = None,
        init_values: float | None = None,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = LayerNorm,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = RelPosAttention(
            dim,
            num_heads,
            qkv_bias=qkv_bias,
            qk_norm=qk_norm,
            rel_pos_cls=rel_pos_cls,
            attn_drop=attn_drop,
            proj_drop=proj_drop,
            norm_layer=norm_layer,
        )
        self.ls1 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=act_layer, drop=proj_drop)
        self.ls2 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor, shared_rel_pos: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.drop_path1(self.ls1(self.attn(self.norm1(x), shared_rel_pos=shared_rel_pos)))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))


class ResPostRelPosBlock(nn.Module):
    """Residual post-norm block (Swin V2's): ``x + norm1(attn(x))``, then ``x + norm2(mlp(x))``;
    the norms' scales start at ``init_values``, so each branch starts small (the layer scale's
    role)."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        qk_norm: bool = False,
        rel_pos_cls: LayerFn | None = None,
        init_values: float | None = None,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = LayerNorm,
    ) -> None:
        super().__init__()
        self.init_values = init_values
        self.attn = RelPosAttention(
            dim,
            num_heads,
            qkv_bias=qkv_bias,
            qk_norm=qk_norm,
            rel_pos_cls=rel_pos_cls,
            attn_drop=attn_drop,
            proj_drop=proj_drop,
            norm_layer=norm_layer,
        )
        self.norm1 = norm_layer(dim)
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=act_layer, drop=proj_drop)
        self.norm2 = norm_layer(dim)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.init_weights()

    def init_weights(self) -> None:
        norms: list[Any] = [self.norm1, self.norm2]
        if self.init_values is not None and not norms[0].weight.is_meta:
            for norm in norms:
                nn.init.constant_(norm.weight, self.init_values)

    def forward(self, x: torch.Tensor, shared_rel_pos: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.drop_path1(self.norm1(self.attn(x, shared_rel_pos=shared_rel_pos)))
        return x + self.drop_path2(self.norm2(self.mlp(x)))


_REL_POS_TYPES = ("mlp", "mlp_swin", "bias")


class VisionTransformerRelPos(TokenModel):
    """ViT with relative position biases and no absolute position embedding; no class token by
    default (``class_token`` adds one), average pooling, layer scale on.

    Args:
        rel_pos_type: ``'mlp'`` (an MLP over log offsets, timm's ``'cr'`` form), ``'mlp_swin'``
            (Swin V2's form) or ``'bias'`` (a learned table).
        rel_pos_dim: the MLP's hidden width (default 128).
        shared_rel_pos: one bias (``shared_rel_pos``) for every block instead of one per block.
        fc_norm: the final norm after the pool (``fc_norm``) instead of before (``norm``).
        block_fn: :class:`RelPosBlock` (pre-norm) or :class:`ResPostRelPosBlock`.
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int | tuple[int, int] = 16,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_norm: bool = False,
        init_values: float | None = 1e-6,
        class_token: bool = False,
        fc_norm: bool = False,
        rel_pos_type: str = "mlp",
        rel_pos_dim: int | None = None,
        shared_rel_pos: bool = False,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_layer: str | LayerFn | None = None,
        act_layer: str | LayerFn | None = None,
        block_fn: LayerFn = RelPosBlock,
    ) -> None:
        super().__init__()
        if global_pool not in ("", "avg", "token"):
            raise ValueError(f"global_pool={global_pool!r}; valid: '', 'avg', 'token'")
        if global_pool == "token" and not class_token:
            raise ValueError("global_pool='token' needs class_token=True")
        if rel_pos_type not in _REL_POS_TYPES:
            raise ValueError(f"rel_pos_type={rel_pos_type!r}; valid: {', '.join(map(repr, _REL_POS_TYPES))}")
        norm = cast(LayerFn, get_norm_layer(norm_layer) if norm_layer is not None else LayerNorm)
        act = cast(LayerFn, get_act_layer(act_layer) if act_layer is not None else nn.GELU)
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.global_pool = global_pool
        self.num_features = self.head_hidden_size = self.embed_dim = embed_dim
        self.num_prefix_tokens = 1 if class_token else 0
        self.has_class_token = class_token
        self.pool_include_prefix = False
        self.drop_rate = drop_rate

        self.patch_embed = PatchEmbed(
            img_size=img_size, patch_size=patch_size, in_chans=in_chans, embed_dim=embed_dim
        )
        grid = self.patch_embed.grid_size
        rel_args: dict[str, Any] = dict(window_size=grid, prefix_tokens=self.num_prefix_tokens)
        if rel_pos_type == "bias":
            rel_pos_cls: LayerFn | None = partial(RelPosBias, **rel_args)
        else:
            if rel_pos_dim:
                rel_args["hidden_dim"] = rel_pos_dim
            rel_pos_cls = partial(RelPosMlp, mode="swin" if rel_pos_type == "mlp_swin" else "cr", **rel_args)
        self.shared_rel_pos: nn.Module | None = None
        if shared_rel_pos:
            assert rel_pos_cls is not None
            self.shared_rel_pos = rel_pos_cls(num_heads=num_heads)
            rel_pos_cls = None  # the blocks read the shared bias instead
        self.cls_token: nn.Parameter | None = (
            nn.Parameter(torch.zeros(1, 1, embed_dim)) if class_token else None
        )
        dpr = cast(list[float], calculate_drop_path_rates(drop_path_rate, depth))
        self.blocks = nn.Sequential(
            *[
                block_fn(
                    dim=embed_dim,
                    num_heads=num_heads,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    qk_norm=qk_norm,
                    rel_pos_cls=rel_pos_cls,
                    init_values=init_values,
                    proj_drop=proj_drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=dpr[i],
                    norm_layer=norm,
                    act_layer=act,
                )
                for i in range(depth)
            ]
        )
        reduction = self.patch_embed.feat_ratio()
        self.feature_info = [
            dict(module=f"blocks.{i}", num_chs=embed_dim, reduction=reduction) for i in range(depth)
        ]
        self.norm: nn.Module = nn.Identity() if fc_norm else norm(embed_dim)
        self.attn_pool = None
        self.fc_norm: nn.Module = norm(embed_dim) if fc_norm else nn.Identity()
        self.head_drop = nn.Dropout(drop_rate)
        self.head: nn.Module = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self._initialize()

    def init_weights(self) -> None:
        """PyTorch's default init per layer (timm's ``'reset'``); a near-zero class token."""
        if self.cls_token is not None:
            nn.init.normal_(self.cls_token, std=1e-6)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^cls_token|patch_embed|shared_rel_pos",
            blocks=[(r"^blocks\.(\d+)", None), (r"^norm", (99999,))],
        )

    def no_weight_decay(self) -> set[str]:
        return {"cls_token"}

    def set_input_size(
        self,
        img_size: int | tuple[int, int] | None = None,
        patch_size: int | tuple[int, int] | None = None,
    ) -> None:
        """Rebuild for another input / patch size: each bias follows the new token grid."""
        self.patch_embed.set_input_size(img_size=img_size, patch_size=patch_size)
        grid = self.patch_embed.grid_size
        if self.shared_rel_pos is not None:
            cast(Any, self.shared_rel_pos).set_window_size(grid)
        block: Any
        for block in self.blocks:
            if block.attn.rel_pos is not None:
                block.attn.rel_pos.set_window_size(grid)
        self.feature_info = [dict(fi, reduction=self.patch_embed.feat_ratio()) for fi in self.feature_info]
        update_model_input_size(self, self.patch_embed.img_size, patch_size=patch_size)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        if self.cls_token is not None:
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        return x

    def _shared_bias(self) -> torch.Tensor | None:
        shared = self.shared_rel_pos
        return shared.get_bias() if shared is not None else None  # type: ignore[operator]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> normalised tokens ``(B, N, embed_dim)``, the class token first."""
        x = self._embed(x)
        bias = self._shared_bias()
        for block in self.blocks:
            if not torch.jit.is_scripting() and self._checkpointing():  # static under TorchScript
                x = checkpoint(block, x, bias, use_reentrant=False)
            else:
                x = block(x, shared_rel_pos=bias)
        return self.norm(x)

    # forward_intermediates: the blocks carry (tokens, the shared bias or None)
    def _begin_blocks(self, x: torch.Tensor) -> Any:
        return self._embed(x), self._shared_bias()

    def _run_block(self, block: nn.Module, state: Any) -> Any:
        x, bias = state
        return self._call_block(block, x, shared_rel_pos=bias), bias

    def _state_tokens(self, state: Any) -> torch.Tensor:
        return state[0]


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """Bias tables trained on another token grid resampled to the model's."""
    out: dict[str, torch.Tensor] = {}
    for k, v in state_dict.items():
        if k.endswith("relative_position_bias_table"):
            rel = cast(Any, model.get_submodule(k[: -len(".relative_position_bias_table")]))
            target = rel.relative_position_bias_table.shape
            if v.shape != target or rel.window_size[0] != rel.window_size[1]:
                v = resize_rel_pos_bias_table(v, new_window_size=rel.window_size, new_bias_shape=target)
        out[k] = v
    return out


RelPosArgs = model_args_type(VisionTransformerRelPos)

_S = dict(patch_size=16, embed_dim=384, depth=12, num_heads=6, qkv_bias=False)
_M = dict(patch_size=16, embed_dim=512, depth=12, num_heads=8, qkv_bias=False)
_B = dict(patch_size=16, embed_dim=768, depth=12, num_heads=12, qkv_bias=False)
_RPN = dict(block_fn=ResPostRelPosBlock)
_CLS = dict(class_token=True, global_pool="token")
VARIANTS: dict[str, Any] = {
    "vit_relpos_base_patch32_plus_rpn_256": RelPosArgs(
        patch_size=32, embed_dim=896, depth=12, num_heads=14, **_RPN
    ),
    "vit_relpos_base_patch16_plus_240": RelPosArgs(patch_size=16, embed_dim=896, depth=12, num_heads=14),
    "vit_relpos_small_patch16_224": RelPosArgs(**_S, fc_norm=True),
    "vit_relpos_medium_patch16_224": RelPosArgs(**_M, fc_norm=True),
    "vit_relpos_base_patch16_224": RelPosArgs(**_B, fc_norm=True),
    "vit_srelpos_small_patch16_224": RelPosArgs(**_S, rel_pos_dim=384, shared_rel_pos=True),
    "vit_srelpos_medium_patch16_224": RelPosArgs(**_M, rel_pos_dim=512, shared_rel_pos=True),
    "vit_relpos_medium_patch16_cls_224": RelPosArgs(**_M, rel_pos_dim=256, **_CLS),
    "vit_relpos_base_patch16_cls_224": RelPosArgs(**_B, **_CLS),
    # NOTE: class token with average pooling and fc norm: a mistake in the training config, kept
    "vit_relpos_base_patch16_clsgap_224": RelPosArgs(**_B, fc_norm=True, class_token=True),
    "vit_relpos_small_patch16_rpn_224": RelPosArgs(**_S, **_RPN),
    "vit_relpos_medium_patch16_rpn_224": RelPosArgs(**_M, **_RPN),
    "vit_relpos_base_patch16_rpn_224": RelPosArgs(**_B, **_RPN),
    "test_vit_relpos": RelPosArgs(
        patch_size=16, embed_dim=96, depth=9, num_heads=3, mlp_ratio=2, qkv_bias=False, fc_norm=True
    ),
}


def _tpu(file: str, **fields: Any) -> dict[str, Any]:
    return weight(url=f"{RWIGHTMAN_RELEASES}v0.1-tpu-weights/{file}", **fields)


WEIGHTS: dict[str, dict[str, Any]] = {
    "vit_relpos_base_patch32_plus_rpn_256.sw_in1k": _tpu(
        "vit_replos_base_patch32_plus_rpn_256-sw-dd486f51.pth", size=256
    ),
    "vit_relpos_base_patch16_plus_240.untrained": weight(NO_WEIGHTS, size=240),
    "vit_relpos_small_patch16_224.sw_in1k": _tpu("vit_relpos_small_patch16_224-sw-ec2778b4.pth"),
    "vit_relpos_medium_patch16_224.sw_in1k": _tpu("vit_relpos_medium_patch16_224-sw-11c174af.pth"),
    "vit_relpos_base_patch16_224.sw_in1k": _tpu("vit_relpos_base_patch16_224-sw-49049aed.pth"),
    "vit_srelpos_small_patch16_224.sw_in1k": _tpu("vit_srelpos_small_patch16_224-sw-6cdb8849.pth"),
    "vit_srelpos_medium_patch16_224.sw_in1k": _tpu("vit_srelpos_medium_patch16_224-sw-ad702b8c.pth"),
    "vit_relpos_medium_patch16_cls_224.sw_in1k": _tpu("vit_relpos_medium_patch16_cls_224-sw-cfe8e259.pth"),
    "vit_relpos_base_patch16_cls_224.untrained": weight(NO_WEIGHTS),
    "vit_relpos_base_patch16_clsgap_224.sw_in1k": _tpu("vit_relpos_base_patch16_gapcls_224-sw-1a341d6c.pth"),
    "vit_relpos_small_patch16_rpn_224.untrained": weight(NO_WEIGHTS),
    "vit_relpos_medium_patch16_rpn_224.sw_in1k": _tpu("vit_relpos_medium_patch16_rpn_224-sw-5d2befd8.pth"),
    "vit_relpos_base_patch16_rpn_224.untrained": weight(NO_WEIGHTS),
    "test_vit_relpos.untrained": weight(NO_WEIGHTS, size=160, crop=0.95),
}

default_cfgs = register_family(
    __name__,
    model_cls=VisionTransformerRelPos,
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
        first_conv="patch_embed.proj",
        classifier="head",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=3, feature_cls="getter"),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:
    return family_entrypoint(__name__, name)
