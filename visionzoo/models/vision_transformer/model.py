"""The Vision Transformer model class and its blocks (state-dict keys as timm's)."""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
from torch import nn

from ...layers import (
    Attention,
    AttentionPoolLatent,
    DiffAttention,
    DropPath,
    LayerNorm,
    LayerScale,
    Mlp,
    PatchDropout,
    PatchEmbed,
    RmsNorm,
    get_act_layer,
    get_norm_layer,
    lecun_normal_,
    resample_abs_pos_embed,
)
from ...layers.diff_attention import DiffLambda, _lambda_params, _reset_lambda, diff_lambda_init
from ...layers.token_pool import TOKEN_POOL_TYPES, global_pool_nlc
from ...model import TokenModel
from ...model_input import update_model_input_size
from ...pretrained import cfg_as_built

# One graph node under FX: the resampling branches on the token grid, a size only a call knows.
torch.fx.wrap("resample_abs_pos_embed")

__all__ = [
    "Block",
    "DiffParallelScalingBlock",
    "ParallelScalingBlock",
    "ParallelThingsBlock",
    "ResPostBlock",
    "VisionTransformer",
    "get_init_weights_vit",
    "global_pool_nlc",
    "init_weights_reset_parameters",
    "init_weights_vit_jax",
    "init_weights_vit_moco",
    "init_weights_vit_timm",
    "resize_pos_embed",
]

LayerFn = Callable[..., nn.Module]


_ATTN_LAYERS: dict[str, LayerFn] = {"": Attention, "attn": Attention, "diff": DiffAttention}


def _attention(
    attn_layer: str | LayerFn,
    dim: int,
    num_heads: int,
    qkv_bias: bool,
    qk_norm: bool,
    scale_attn_norm: bool,
    proj_bias: bool,
    attn_drop: float,
    proj_drop: float,
    norm_layer: LayerFn,
    depth: int,
) -> nn.Module:
    if isinstance(attn_layer, str):
        if attn_layer not in _ATTN_LAYERS:
            raise ValueError(
                f"attn_layer={attn_layer!r}; valid: {', '.join(map(repr, _ATTN_LAYERS))} or a class"
            )
        attn_layer = _ATTN_LAYERS[attn_layer]
    extra = dict(depth=depth) if attn_layer is DiffAttention else {}  # its lambda starts by depth
    return attn_layer(
        dim,
        num_heads=num_heads,
        qkv_bias=qkv_bias,
        qk_norm=qk_norm,
        scale_norm=scale_attn_norm,
        proj_bias=proj_bias,
        attn_drop=attn_drop,
        proj_drop=proj_drop,
        norm_layer=norm_layer,
        **extra,
    )


class Block(nn.Module):
    """Pre-norm transformer block: ``x + ls1(attn(norm1(x)))``, then ``x + ls2(mlp(norm2(x)))``."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        qk_norm: bool = False,
        scale_attn_norm: bool = False,
        scale_mlp_norm: bool = False,
        proj_bias: bool = True,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        init_values: float | None = None,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = LayerNorm,
        mlp_layer: LayerFn = Mlp,
        attn_layer: str | LayerFn = Attention,
        depth: int = 0,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = _attention(
            attn_layer,
            dim,
            num_heads,
            qkv_bias,
            qk_norm,
            scale_attn_norm,
            proj_bias,
            attn_drop,
            proj_drop,
            norm_layer,
            depth,
        )
        self.ls1 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = mlp_layer(
            in_features=dim,
            hidden_features=int(dim * mlp_ratio),
            act_layer=act_layer,
            norm_layer=norm_layer if scale_mlp_norm else None,
            bias=proj_bias,
            drop=proj_drop,
        )
        self.ls2 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path1(self.ls1(self.attn(self.norm1(x))))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))


class ResPostBlock(nn.Module):
    """Post-norm block (norm on the residual branch output): ``x + norm1(attn(x))``..."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        qk_norm: bool = False,
        scale_attn_norm: bool = False,
        scale_mlp_norm: bool = False,
        proj_bias: bool = True,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        init_values: float | None = None,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = LayerNorm,
        mlp_layer: LayerFn = Mlp,
        attn_layer: str | LayerFn = Attention,
        depth: int = 0,
    ) -> None:
        super().__init__()
        self.init_values = init_values
        self.attn = _attention(
            attn_layer,
            dim,
            num_heads,
            qkv_bias,
            qk_norm,
            scale_attn_norm,
            proj_bias,
            attn_drop,
            proj_drop,
            norm_layer,
            depth,
        )
        self.norm1: Any = norm_layer(dim)
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.mlp = mlp_layer(
            in_features=dim,
            hidden_features=int(dim * mlp_ratio),
            act_layer=act_layer,
            norm_layer=norm_layer if scale_mlp_norm else None,
            bias=proj_bias,
            drop=proj_drop,
        )
        self.norm2: Any = norm_layer(dim)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def init_weights(self) -> None:
        # the branch norms start at init_values (a layer-scale of sorts)
        if self.init_values is not None:
            nn.init.constant_(self.norm1.weight, self.init_values)
            nn.init.constant_(self.norm2.weight, self.init_values)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path1(self.norm1(self.attn(x)))
        return x + self.drop_path2(self.norm2(self.mlp(x)))


class ParallelScalingBlock(nn.Module):
    """Attention and MLP in parallel from one fused input projection (ViT-22B).

    Paper: `Scaling Vision Transformers to 22 Billion Parameters` - https://arxiv.org/abs/2302.05442
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        qk_norm: bool = False,
        scale_attn_norm: bool = False,
        scale_mlp_norm: bool = False,
        proj_bias: bool = True,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        init_values: float | None = None,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = LayerNorm,
        mlp_layer: LayerFn | None = None,
        attn_layer: str | LayerFn | None = None,
        depth: int = 0,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        if scale_attn_norm or scale_mlp_norm:
            raise ValueError("ParallelScalingBlock has no scale norms")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.fused_attn = True
        hidden = int(mlp_ratio * dim)
        self.in_norm = norm_layer(dim)
        self.in_proj = nn.Linear(dim, hidden + 3 * dim, bias=qkv_bias)
        self.in_split = [hidden, dim, dim, dim]
        # with qkv_bias the MLP bias is part of in_proj.bias
        self.mlp_bias = None if qkv_bias else nn.Parameter(torch.zeros(hidden))
        self.q_norm = norm_layer(self.head_dim) if qk_norm else nn.Identity()
        self.k_norm = norm_layer(self.head_dim) if qk_norm else nn.Identity()
        self.attn_drop = nn.Dropout(attn_drop)
        self.mlp_drop = nn.Dropout(proj_drop)
        self.mlp_act = act_layer()
        self.out_proj = None
        self.attn_out_proj = nn.Linear(dim, dim, bias=proj_bias)
        self.mlp_out_proj = nn.Linear(hidden, dim, bias=proj_bias)
        self.ls = LayerScale(dim, init_values) if init_values is not None else nn.Identity()
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        x_mlp, q, k, v = torch.split(self.in_proj(self.in_norm(x)), self.in_split, dim=-1)
        if self.mlp_bias is not None:
            x_mlp = x_mlp + self.mlp_bias
        q = self.q_norm(q.view(b, n, self.num_heads, self.head_dim)).transpose(1, 2)
        k = self.k_norm(k.view(b, n, self.num_heads, self.head_dim)).transpose(1, 2)
        v = v.view(b, n, self.num_heads, self.head_dim).transpose(1, 2)
        if self.fused_attn:
            x_attn = nn.functional.scaled_dot_product_attention(
                q, k, v, dropout_p=self.attn_drop.p if self.training else 0.0
            )
        else:
            x_attn = self.attn_drop(((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)) @ v
        x_attn = x_attn.transpose(1, 2).reshape(b, n, c)
        x_mlp = self.mlp_drop(self.mlp_act(x_mlp))
        y = self.attn_out_proj(x_attn) + self.mlp_out_proj(x_mlp)
        return x + self.drop_path(self.ls(y))


class DiffParallelScalingBlock(DiffLambda, nn.Module):
    """:class:`ParallelScalingBlock` with differential attention and one fused output projection.

    Papers: https://arxiv.org/abs/2302.05442 (parallel block), https://arxiv.org/abs/2410.05258
    (differential attention).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        qk_norm: bool = False,
        scale_attn_norm: bool = False,
        scale_mlp_norm: bool = False,
        proj_bias: bool = True,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        init_values: float | None = None,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = LayerNorm,
        mlp_layer: LayerFn | None = None,
        attn_layer: str | LayerFn | None = None,
        depth: int = 0,
        dual_lambda: bool = False,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        if scale_attn_norm or scale_mlp_norm:
            raise ValueError("DiffParallelScalingBlock has no scale norms")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads // 2
        self.scale = self.head_dim**-0.5
        self.fused_attn = True
        hidden = int(mlp_ratio * dim)
        self.in_norm = norm_layer(dim)
        self.in_proj = nn.Linear(dim, hidden + 3 * dim, bias=qkv_bias)
        self.in_split = [hidden, dim, dim, dim]
        self.mlp_bias = None if qkv_bias else nn.Parameter(torch.zeros(hidden))
        self.q_norm = norm_layer(self.head_dim) if qk_norm else nn.Identity()
        self.k_norm = norm_layer(self.head_dim) if qk_norm else nn.Identity()
        self.attn_drop = nn.Dropout(attn_drop)
        self.sub_norm = RmsNorm(2 * self.head_dim, eps=1e-5)
        self.dual_lambda = dual_lambda
        _lambda_params(self, self.head_dim, dual_lambda)
        self.mlp_drop = nn.Dropout(proj_drop)
        self.mlp_act = act_layer()
        self.out_proj = nn.Linear(dim + hidden, dim, bias=proj_bias)
        self.ls = LayerScale(dim, init_values) if init_values is not None else nn.Identity()
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.lambda_init = diff_lambda_init(depth)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        _reset_lambda(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        x_mlp, q, k, v = torch.split(self.in_proj(self.in_norm(x)), self.in_split, dim=-1)
        if self.mlp_bias is not None:
            x_mlp = x_mlp + self.mlp_bias
        q = self.q_norm(q.reshape(b, n, 2 * self.num_heads, self.head_dim).transpose(1, 2))
        k = self.k_norm(k.reshape(b, n, 2 * self.num_heads, self.head_dim).transpose(1, 2))
        v = v.reshape(b, n, self.num_heads, 2 * self.head_dim).transpose(1, 2)
        x_attn = self._diff_attend(q, k, v).transpose(1, 2).reshape(b, n, c)
        x_mlp = self.mlp_drop(self.mlp_act(x_mlp))
        y = self.out_proj(torch.cat((x_attn, x_mlp), dim=-1))
        return x + self.drop_path(self.ls(y))


class ParallelThingsBlock(nn.Module):
    """``num_parallel`` attention branches, then ``num_parallel`` MLP branches, each summed.

    Paper: `Three things everyone should know about Vision Transformers` - https://arxiv.org/abs/2203.09795
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        num_parallel: int = 2,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = False,
        qk_norm: bool = False,
        scale_attn_norm: bool = False,
        scale_mlp_norm: bool = False,
        proj_bias: bool = True,
        init_values: float | None = None,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = LayerNorm,
        mlp_layer: LayerFn = Mlp,
        attn_layer: str | LayerFn = Attention,
        depth: int = 0,
    ) -> None:
        super().__init__()
        self.num_parallel = num_parallel
        self.attns = nn.ModuleList()
        self.ffns = nn.ModuleList()
        for _ in range(num_parallel):
            attn = _attention(
                attn_layer,
                dim,
                num_heads,
                qkv_bias,
                qk_norm,
                scale_attn_norm,
                proj_bias,
                attn_drop,
                proj_drop,
                norm_layer,
                depth,
            )
            mlp = mlp_layer(
                dim,
                hidden_features=int(dim * mlp_ratio),
                act_layer=act_layer,
                norm_layer=norm_layer if scale_mlp_norm else None,
                bias=proj_bias,
                drop=proj_drop,
            )
            for branches, name, inner in ((self.attns, "attn", attn), (self.ffns, "mlp", mlp)):
                branches.append(
                    nn.Sequential(
                        OrderedDict(
                            norm=norm_layer(dim),
                            **{name: inner},
                            ls=LayerScale(dim, init_values) if init_values else nn.Identity(),
                            drop_path=DropPath(drop_path) if drop_path > 0.0 else nn.Identity(),
                        )
                    )
                )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + torch.stack([attn(x) for attn in self.attns]).sum(dim=0)
        return x + torch.stack([ffn(x) for ffn in self.ffns]).sum(dim=0)


def _drop_path_rates(rate: float, depth: int) -> list[float]:
    return [x.item() for x in torch.linspace(0, rate, depth, device="cpu")]


class VisionTransformer(TokenModel):
    """Vision Transformer.

    Patch embedding -> (class / register tokens, position embedding) -> ``depth`` blocks -> norm
    -> pooling head. Options cover the ViT variants of the last years: ``class_token`` /
    ``reg_tokens`` / ``no_embed_class`` (prefix tokens and whether they get position embeddings),
    ``pre_norm`` (CLIP), ``fc_norm`` (norm after pooling), ``init_values`` (LayerScale),
    ``qk_norm``, ``global_pool`` in ``token``, ``avg``, ``avgmax``, ``max``, ``map`` (attention
    pool), ``''``; ``dynamic_img_size`` / ``dynamic_img_pad`` take any input size per call.

    Args:
        img_size: input size the position embedding is laid out for.
        patch_size: patch size.
        in_chans, num_classes: input channels, classes (0: no classifier).
        embed_dim, depth, num_heads, mlp_ratio: width, blocks, heads, MLP expansion.
        qkv_bias, qk_norm, proj_bias: attention projection biases and per-head q/k norm.
        scale_attn_norm, scale_mlp_norm: extra norms inside attention / MLP (NormFormer).
        init_values: LayerScale init (None: no LayerScale).
        class_token, reg_tokens, no_embed_class, pos_embed: prefix tokens and position embedding
            (``'learn'`` or ``'none'``).
        pre_norm, final_norm, fc_norm: norm before the blocks, after them, after pooling (None:
            for ``avg`` / ``avgmax`` / ``max`` pooling).
        pool_include_prefix: pool over prefix tokens too.
        dynamic_img_size, dynamic_img_pad: any input size (position embedding resampled per call),
            inputs padded to a multiple of the patch size.
        drop_rate, pos_drop_rate, patch_drop_rate, proj_drop_rate, attn_drop_rate, drop_path_rate:
            dropouts and stochastic depth.
        weight_init: ``''`` (timm), ``'jax'``, ``'jax_nlhb'``, ``'moco'`` or ``'skip'``.
        fix_init: scale block output projections by depth at init.
        embed_norm_layer, norm_layer, act_layer: layers (classes or names).
        block_fn, mlp_layer, attn_layer: block, MLP and attention classes (``attn_layer`` also
            ``'attn'`` or ``'diff'`` for differential attention).
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int | tuple[int, int] = 16,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "token",
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_norm: bool = False,
        scale_attn_norm: bool = False,
        scale_mlp_norm: bool = False,
        proj_bias: bool = True,
        init_values: float | None = None,
        class_token: bool = True,
        pos_embed: str = "learn",
        no_embed_class: bool = False,
        reg_tokens: int = 0,
        pre_norm: bool = False,
        final_norm: bool = True,
        fc_norm: bool | None = None,
        pool_include_prefix: bool = False,
        dynamic_img_size: bool = False,
        dynamic_img_pad: bool = False,
        drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        patch_drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        weight_init: str = "",
        fix_init: bool = False,
        embed_layer: LayerFn = PatchEmbed,
        embed_norm_layer: str | LayerFn | None = None,
        norm_layer: str | LayerFn | None = None,
        act_layer: str | LayerFn | None = None,
        block_fn: LayerFn = Block,
        mlp_layer: LayerFn = Mlp,
        attn_layer: str | LayerFn = Attention,
    ) -> None:
        super().__init__()
        if global_pool not in TOKEN_POOL_TYPES:
            raise ValueError(f"global_pool={global_pool!r}; valid: {', '.join(map(repr, TOKEN_POOL_TYPES))}")
        if global_pool == "token" and not class_token:
            raise ValueError("global_pool='token' needs class_token=True")
        if pos_embed not in ("", "none", "learn"):
            raise ValueError(f"pos_embed={pos_embed!r}; valid: 'learn', 'none'")
        if weight_init not in ("", "jax", "jax_nlhb", "moco", "skip", "reset"):
            raise ValueError(f"weight_init={weight_init!r}; valid: '', 'jax', 'jax_nlhb', 'moco', 'skip'")
        use_fc_norm = global_pool in ("avg", "avgmax", "max") if fc_norm is None else fc_norm
        norm_fn: LayerFn = get_norm_layer(norm_layer) or LayerNorm
        embed_norm_fn = get_norm_layer(embed_norm_layer)
        act_fn: LayerFn = get_act_layer(act_layer) or nn.GELU

        self.num_classes = num_classes
        self.in_chans = in_chans
        self.global_pool = global_pool
        self.num_features = self.head_hidden_size = self.embed_dim = embed_dim
        self.num_prefix_tokens = (1 if class_token else 0) + reg_tokens
        self.num_reg_tokens = reg_tokens
        self.has_class_token = class_token
        self.no_embed_class = no_embed_class
        self.pool_include_prefix = pool_include_prefix
        self.dynamic_img_size = dynamic_img_size
        self.drop_rate = drop_rate

        embed_args: dict[str, Any] = {}
        if dynamic_img_size:  # the grid is kept until the position embedding is added
            embed_args.update(strict_img_size=False, output_fmt="NHWC")
        if embed_norm_fn is not None:
            embed_args["norm_layer"] = embed_norm_fn
        patch_embed: Any = embed_layer(
            img_size=img_size,
            patch_size=patch_size,
            in_chans=in_chans,
            embed_dim=embed_dim,
            bias=not pre_norm,  # CLIP towers: no patch bias, a norm after the embedding instead
            dynamic_img_pad=dynamic_img_pad,
            **embed_args,
        )
        self.patch_embed = patch_embed
        num_patches: int = patch_embed.num_patches
        reduction = patch_embed.feat_ratio()

        self.cls_token: nn.Parameter | None = (
            nn.Parameter(torch.zeros(1, 1, embed_dim)) if class_token else None
        )
        self.reg_token: nn.Parameter | None = (
            nn.Parameter(torch.zeros(1, reg_tokens, embed_dim)) if reg_tokens else None
        )
        embed_len = num_patches if no_embed_class else num_patches + (1 if class_token else 0) + reg_tokens
        self.pos_embed: nn.Parameter | None = (
            nn.Parameter(torch.zeros(1, embed_len, embed_dim)) if pos_embed == "learn" else None
        )
        self.pos_drop = nn.Dropout(p=pos_drop_rate)
        self.patch_drop: nn.Module = (
            PatchDropout(patch_drop_rate, num_prefix_tokens=self.num_prefix_tokens)
            if patch_drop_rate > 0
            else nn.Identity()
        )
        self.norm_pre: nn.Module = norm_fn(embed_dim) if pre_norm else nn.Identity()

        dpr = _drop_path_rates(drop_path_rate, depth)
        self.blocks = nn.Sequential(
            *[
                block_fn(
                    dim=embed_dim,
                    num_heads=num_heads,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    qk_norm=qk_norm,
                    scale_attn_norm=scale_attn_norm,
                    scale_mlp_norm=scale_mlp_norm,
                    proj_bias=proj_bias,
                    init_values=init_values,
                    proj_drop=proj_drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=dpr[i],
                    norm_layer=norm_fn,
                    act_layer=act_fn,
                    mlp_layer=mlp_layer,
                    attn_layer=attn_layer,
                    depth=i,
                )
                for i in range(depth)
            ]
        )
        self.feature_info = [
            dict(module=f"blocks.{i}", num_chs=embed_dim, reduction=reduction) for i in range(depth)
        ]
        self.norm: nn.Module = norm_fn(embed_dim) if final_norm and not use_fc_norm else nn.Identity()
        self.attn_pool: nn.Module | None = (
            AttentionPoolLatent(
                embed_dim, num_heads=num_heads, mlp_ratio=mlp_ratio, norm_layer=norm_fn, act_layer=act_fn
            )
            if global_pool == "map"
            else None
        )
        self.fc_norm: nn.Module = norm_fn(embed_dim) if final_norm and use_fc_norm else nn.Identity()
        self.head_drop = nn.Dropout(drop_rate)
        self.head: nn.Module = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()

        self.weight_init_mode = "" if weight_init in ("skip", "reset") else weight_init
        self.fix_init = fix_init
        if weight_init != "skip":
            self._initialize()

    # --- init ----------------------------------------------------------------------------------
    def init_weights(self, mode: str = "") -> None:
        """timm's ViT init: truncated-normal linears and position embedding, near-zero tokens;
        ``'jax'`` (xavier, zero head), ``'jax_nlhb'`` (head bias -log(C)), ``'moco'``."""
        mode = mode or self.weight_init_mode
        head_bias = -math.log(self.num_classes) if "nlhb" in mode and self.num_classes else 0.0
        if self.pos_embed is not None:
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        for token in (self.cls_token, self.reg_token):
            if token is not None:
                nn.init.normal_(token, std=1e-6)
        init_fn = get_init_weights_vit(mode, head_bias, needs_reset=False)  # modules set themselves
        for name, module in self.named_modules():
            if module is not self:
                init_fn(module, name)
        if self.fix_init:
            with torch.no_grad():
                block: Any
                for i, block in enumerate(self.blocks):
                    block.attn.proj.weight.div_(math.sqrt(2.0 * (i + 1)))
                    block.mlp.fc2.weight.div_(math.sqrt(2.0 * (i + 1)))

    # --- training helpers ----------------------------------------------------------------------
    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """Embeddings as the stem, one group per block, the final norm last (as timm)."""
        return dict(
            stem=r"^cls_token|reg_token|pos_embed|patch_embed|norm_pre",
            blocks=[(r"^blocks\.(\d+)", None), (r"^norm", (99999,))],
        )

    # --- input size ----------------------------------------------------------------------------
    def set_input_size(
        self,
        img_size: int | tuple[int, int] | None = None,
        patch_size: int | tuple[int, int] | None = None,
    ) -> None:
        """Rebuild for another input size and/or patch size: the position embedding grid and
        the patch kernel are resampled (the same as building at that size from this model's
        weights)."""
        prev_grid = self.patch_embed.grid_size
        self.patch_embed.set_input_size(img_size=img_size, patch_size=patch_size)
        if self.pos_embed is not None and self.patch_embed.grid_size != prev_grid:
            prefix = 0 if self.no_embed_class else self.num_prefix_tokens
            with torch.no_grad():
                resampled = resample_abs_pos_embed(
                    self.pos_embed,
                    list(self.patch_embed.grid_size),
                    list(prev_grid),
                    num_prefix_tokens=prefix,
                )
            self.pos_embed = nn.Parameter(resampled, requires_grad=self.pos_embed.requires_grad)
        self.feature_info = [dict(fi, reduction=self.patch_embed.feat_ratio()) for fi in self.feature_info]
        # rebuilding this model (get_model_args, save_for_hf) takes the new sizes
        update_model_input_size(self, self.patch_embed.img_size, patch_size=patch_size)
        if self.pretrained_cfg is not None and self.patch_embed.img_size is not None:
            # the config describes the model as built (model_input_size and the data config read it)
            size = self.patch_embed.img_size
            self.pretrained_cfg = cfg_as_built(
                self.pretrained_cfg, in_chans=self.pretrained_cfg.input_size[0], img_size=(size[0], size[1])
            )

    # --- forward -------------------------------------------------------------------------------
    def _pos_embed_on_grid(
        self, x: torch.Tensor, pos_embed: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``dynamic_img_size``: NHWC patch tokens flattened, the embedding resampled to their grid."""
        b, h, w, c = x.shape
        grid = self.patch_embed.grid_size
        pos_embed = resample_abs_pos_embed(
            pos_embed,
            [h, w],
            [grid[0], grid[1]],
            num_prefix_tokens=0 if self.no_embed_class else self.num_prefix_tokens,
        )
        return x.reshape(b, -1, c), pos_embed

    def _pos_embed(self, x: torch.Tensor) -> torch.Tensor:
        prefix = []
        if self.cls_token is not None:
            prefix.append(self.cls_token.expand(x.shape[0], -1, -1))
        if self.reg_token is not None:
            prefix.append(self.reg_token.expand(x.shape[0], -1, -1))
        if self.pos_embed is None:
            prefix.append(x.reshape(x.shape[0], -1, x.shape[-1]))
            return torch.cat(prefix, dim=1)
        if self.dynamic_img_size:
            x, pos_embed = self._pos_embed_on_grid(x, self.pos_embed)
        else:
            pos_embed = self.pos_embed
        if self.no_embed_class:  # position embedding on patch tokens only (DeiT III, big_vision)
            x = x + pos_embed
            if prefix:
                prefix.append(x)
                x = torch.cat(prefix, dim=1)
        else:
            if prefix:
                prefix.append(x)
                x = torch.cat(prefix, dim=1)
            x = x + pos_embed
        return self.pos_drop(x)

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm_pre(self.patch_drop(self._pos_embed(self.patch_embed(x))))

    def get_intermediate_layers(
        self,
        x: torch.Tensor,
        n: int | list[int] | tuple[int, ...] = 1,
        reshape: bool = False,
        return_prefix_tokens: bool = False,
        norm: bool = False,
    ) -> list[Any]:
        """DINO-style access to block outputs (``forward_intermediates`` is the general form)."""
        return self.forward_intermediates(
            x,
            n,
            return_prefix_tokens=return_prefix_tokens,
            norm=norm,
            output_fmt="NCHW" if reshape else "NLC",
            intermediates_only=True,
        )


# --- timm's init functions: one module each, by its dotted name (``named_apply``'s call) ----------
def _init_rest(module: nn.Module, needs_reset: bool) -> None:
    """A module no rule above names: its own ``init_weights``, else ``reset_parameters``."""
    if hasattr(module, "init_weights"):
        getattr(module, "init_weights")()  # noqa: B009
    elif needs_reset and hasattr(module, "reset_parameters"):
        getattr(module, "reset_parameters")()  # noqa: B009


def init_weights_vit_timm(module: nn.Module, name: str = "", needs_reset: bool = True) -> None:
    """timm's original ViT init: truncated-normal (std 0.02) linears, zero biases."""
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    else:
        _init_rest(module, needs_reset)


def init_weights_vit_jax(
    module: nn.Module, name: str = "", head_bias: float = 0.0, needs_reset: bool = True
) -> None:
    """The JAX (Flax) ViT init: xavier linears (a zero head with ``head_bias``), lecun-normal convs."""
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
    else:
        _init_rest(module, needs_reset)


def init_weights_vit_moco(module: nn.Module, name: str = "", needs_reset: bool = True) -> None:
    """MoCo v3's ViT init: xavier linears, the fused qkv as three separate matrices."""
    if isinstance(module, nn.Linear):
        if "qkv" in name:
            bound = math.sqrt(6.0 / float(module.weight.shape[0] // 3 + module.weight.shape[1]))
            nn.init.uniform_(module.weight, -bound, bound)
        else:
            nn.init.xavier_uniform_(module.weight)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    else:
        _init_rest(module, needs_reset)


def init_weights_reset_parameters(module: nn.Module, name: str = "", needs_reset: bool = True) -> None:
    """Only each module's own ``reset_parameters`` (timm's ``'reset'`` mode)."""
    if needs_reset and hasattr(module, "reset_parameters"):
        getattr(module, "reset_parameters")()  # noqa: B009


def get_init_weights_vit(
    mode: str = "jax", head_bias: float = 0.0, needs_reset: bool = True
) -> Callable[[nn.Module, str], None]:
    """The init function of a ``weight_init`` mode (``'jax*'``, ``'moco*'``, ``'reset'``, else
    timm's), called as ``fn(module, name)``."""
    if mode.startswith("jax"):
        return partial(init_weights_vit_jax, head_bias=head_bias, needs_reset=needs_reset)
    if mode.startswith("moco"):
        return partial(init_weights_vit_moco, needs_reset=needs_reset)
    if mode == "reset":
        return partial(init_weights_reset_parameters, needs_reset=needs_reset)
    return partial(init_weights_vit_timm, needs_reset=needs_reset)


def resize_pos_embed(
    posemb: torch.Tensor,
    posemb_new: torch.Tensor,
    num_prefix_tokens: int = 1,
    gs_new: tuple[int, int] | tuple[()] = (),
    interpolation: str = "bicubic",
    antialias: bool = False,
) -> torch.Tensor:
    """``posemb`` (square grid) resampled to ``posemb_new``'s token count, or to the grid
    ``gs_new``; timm's older name for :func:`~visionzoo.layers.resample_abs_pos_embed`.

    Args:
        posemb: ``(1, prefix + H*W, C)`` position embedding to resize.
        posemb_new: an embedding of the target length (only its shape is read).
    """
    old_side = int(math.sqrt(posemb.shape[1] - num_prefix_tokens))
    new_size = gs_new or (int(math.sqrt(posemb_new.shape[1] - num_prefix_tokens)),) * 2
    return resample_abs_pos_embed(
        posemb,
        list(new_size),
        [old_side, old_side],
        num_prefix_tokens=num_prefix_tokens,
        interpolation=interpolation,
        antialias=antialias,
    )
