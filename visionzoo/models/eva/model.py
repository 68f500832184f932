"""The EVA model class, its attention and blocks (state-dict keys as timm's ``eva``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ...features import feature_take_indices
from ...layers import (
    AttentionPoolLatent,
    DropPath,
    LayerNorm,
    Mlp,
    PatchEmbed,
    SwiGLU,
    SwiGLUPacked,
    calculate_drop_path_rates,
    resample_abs_pos_embed,
    to_2tuple,
    trunc_normal_,
)
from ...layers.pos_embed_sincos import apply_rot_embed_cat, create_rope_embed
from ...layers.token_pool import TOKEN_POOL_TYPES, global_pool_nlc
from ...model import TokenModel
from ...model_input import update_model_input_size
from ...pretrained import cfg_as_built

__all__ = ["Eva", "EvaAttention", "EvaBlock", "EvaBlockPostNorm"]

LayerFn = Callable[..., nn.Module]

# One graph node under FX: the resampling branches on the token grid, a size only a call knows.
torch.fx.wrap("resample_abs_pos_embed")

_ATTN_TYPES = ("eva", "rope")
_ROPE_TYPES = ("cat", "mixed", "dinov3")


class EvaAttention(nn.Module):
    """Self-attention that rotates queries and keys of the patch tokens (prefix tokens are left
    as they are) by a RoPE table ``(..., N, 2 * head_dim)`` passed with the tokens.

    Two projection layouts, as the checkpoints hold them: fused ``qkv`` or separate ``q_proj`` /
    ``k_proj`` / ``v_proj`` (``qkv_fused=False``, which also allows ``num_kv_heads < num_heads``,
    grouped-query attention). ``zero_k_bias`` is EVA's and BEiT's: the keys have no bias (a fused
    projection keeps ``q_bias`` / ``v_bias`` beside it, a separate ``k_proj`` has none);
    otherwise each projection has its own ``qkv_bias``.
    """

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        k_bias: torch.Tensor | None  # a non-persistent buffer

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = True,
        qkv_fused: bool = True,
        zero_k_bias: bool = True,
        num_kv_heads: int | None = None,
        num_prefix_tokens: int = 1,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        attn_head_dim: int | None = None,
        norm_layer: LayerFn | None = None,
        qk_norm: bool = False,
        scale_norm: bool = False,
        rotate_half: bool = False,
        gated: bool = False,
    ) -> None:
        super().__init__()
        if attn_head_dim is None and dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        if (qk_norm or scale_norm) and norm_layer is None:
            raise ValueError("qk_norm / scale_norm need a norm_layer")
        num_kv_heads = num_kv_heads or num_heads
        if num_heads % num_kv_heads:
            raise ValueError(f"num_heads={num_heads} is not divisible by num_kv_heads={num_kv_heads}")
        if num_kv_heads != num_heads and (qkv_fused or zero_k_bias):
            raise ValueError(
                "grouped-query attention (num_kv_heads) needs qkv_fused=False and attn_type='rope'"
            )
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads
        self.num_kv_groups = num_heads // num_kv_heads
        self.head_dim = attn_head_dim or dim // num_heads
        self.attn_dim = self.head_dim * num_heads
        kv_dim = self.head_dim * num_kv_heads
        self.scale = self.head_dim**-0.5
        self.num_prefix_tokens = num_prefix_tokens
        self.rotate_half = rotate_half
        self.fused_attn = True
        self.zero_k_bias = zero_k_bias

        self.qkv: nn.Linear | None = None
        self.q_proj: nn.Linear | None = None
        self.k_proj: nn.Linear | None = None
        self.v_proj: nn.Linear | None = None
        self.q_bias: nn.Parameter | None = None
        self.v_bias: nn.Parameter | None = None
        k_bias = None
        if qkv_fused:
            self.qkv = nn.Linear(dim, self.attn_dim * 3, bias=qkv_bias and not zero_k_bias)
            if qkv_bias and zero_k_bias:
                self.q_bias = nn.Parameter(torch.zeros(self.attn_dim))
                self.v_bias = nn.Parameter(torch.zeros(self.attn_dim))
                k_bias = torch.zeros(self.attn_dim)
        else:
            self.q_proj = nn.Linear(dim, self.attn_dim, bias=qkv_bias)
            self.k_proj = nn.Linear(dim, kv_dim, bias=qkv_bias and not zero_k_bias)
            self.v_proj = nn.Linear(dim, kv_dim, bias=qkv_bias)
        self.register_buffer("k_bias", k_bias, persistent=False)
        norm_fn: LayerFn = norm_layer or LayerNorm
        self.q_norm: nn.Module = norm_fn(self.head_dim) if qk_norm else nn.Identity()
        self.k_norm: nn.Module = norm_fn(self.head_dim) if qk_norm else nn.Identity()
        self.attn_drop = nn.Dropout(attn_drop)
        self.norm: nn.Module = norm_fn(self.attn_dim) if scale_norm else nn.Identity()
        self.gate: nn.Linear | None = nn.Linear(dim, self.attn_dim, bias=qkv_bias) if gated else None
        self.proj = nn.Linear(self.attn_dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def init_non_persistent_buffers(self) -> None:
        if self.k_bias is not None:
            self.k_bias.zero_()

    def _rotate(self, t: torch.Tensor, rope: torch.Tensor) -> torch.Tensor:
        npt = self.num_prefix_tokens
        rotated = apply_rot_embed_cat(t[:, :, npt:, :], rope, half=self.rotate_half)
        return torch.cat([t[:, :, :npt, :], rotated], dim=2)

    def forward(self, x: torch.Tensor, rope: torch.Tensor | None = None) -> torch.Tensor:
        b, n, _ = x.shape
        gate = self.gate(x).sigmoid() if self.gate is not None else None
        if self.qkv is not None:
            if self.q_bias is not None and self.k_bias is not None and self.v_bias is not None:
                qkv = F.linear(x, self.qkv.weight, torch.cat((self.q_bias, self.k_bias, self.v_bias)))
            else:
                qkv = self.qkv(x)
            q, k, v = qkv.reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        else:
            assert self.q_proj is not None and self.k_proj is not None and self.v_proj is not None
            q = self.q_proj(x).reshape(b, n, self.num_heads, self.head_dim).transpose(1, 2)
            k = self.k_proj(x).reshape(b, n, self.num_kv_heads, self.head_dim).transpose(1, 2)
            v = self.v_proj(x).reshape(b, n, self.num_kv_heads, self.head_dim).transpose(1, 2)
        q, k = self.q_norm(q), self.k_norm(k)
        if rope is not None:
            q, k = self._rotate(q, rope).type_as(v), self._rotate(k, rope).type_as(v)
        if self.num_kv_groups > 1:  # query head h reads key/value head h // groups
            k = k.repeat_interleave(self.num_kv_groups, dim=1)
            v = v.repeat_interleave(self.num_kv_groups, dim=1)
        if self.fused_attn:
            x = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop.p if self.training else 0.0)
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1)
            x = self.attn_drop(attn.softmax(dim=-1)) @ v
        x = self.norm(x.transpose(1, 2).reshape(b, n, self.attn_dim))
        if gate is not None:
            x = x * gate
        return self.proj_drop(self.proj(x))


def _attention(
    attn_type: str,
    dim: int,
    num_heads: int,
    qkv_bias: bool,
    qkv_fused: bool,
    num_kv_heads: int | None,
    num_prefix_tokens: int,
    attn_drop: float,
    proj_drop: float,
    norm_layer: LayerFn,
    qk_norm: bool,
    scale_norm: bool,
    rotate_half: bool,
) -> EvaAttention:
    if attn_type not in _ATTN_TYPES:
        raise ValueError(f"attn_type={attn_type!r}; valid: {', '.join(map(repr, _ATTN_TYPES))}")
    return EvaAttention(
        dim,
        num_heads=num_heads,
        qkv_bias=qkv_bias,
        qkv_fused=qkv_fused,
        zero_k_bias=attn_type == "eva",
        num_kv_heads=num_kv_heads,
        num_prefix_tokens=num_prefix_tokens,
        attn_drop=attn_drop,
        proj_drop=proj_drop,
        norm_layer=norm_layer,
        qk_norm=qk_norm,
        scale_norm=scale_norm,
        rotate_half=rotate_half,
    )


def _mlp(
    dim: int,
    mlp_ratio: float,
    swiglu_mlp: bool,
    swiglu_align_to: int,
    scale_mlp: bool,
    act_layer: LayerFn,
    norm_layer: LayerFn,
    drop: float,
) -> nn.Module:
    """EVA's MLP choice: SwiGLU with separate ``fc1_g`` / ``fc1_x`` when it has a norm or an
    aligned width, SwiGLU with one packed ``fc1`` otherwise, else a plain MLP."""
    hidden = int(dim * mlp_ratio)
    mlp_norm = norm_layer if scale_mlp else None
    if swiglu_mlp and (scale_mlp or swiglu_align_to):
        return SwiGLU(dim, hidden, norm_layer=mlp_norm, drop=drop, align_to=swiglu_align_to)
    if swiglu_mlp:
        return SwiGLUPacked(dim, hidden * 2, drop=drop)
    return Mlp(dim, hidden, act_layer=act_layer, norm_layer=mlp_norm, drop=drop)


class EvaBlock(nn.Module):
    """Pre-norm block, ``x + gamma_1 * attn(norm1(x), rope)`` then ``x + gamma_2 * mlp(norm2(x))``;
    the layer-scale vectors are bare parameters (EVA's keys), ``gamma_2`` absent with
    ``attn_only_layer_scale`` (Sapiens2)."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        qkv_bias: bool = True,
        qkv_fused: bool = True,
        mlp_ratio: float = 4.0,
        swiglu_mlp: bool = False,
        swiglu_align_to: int = 0,
        scale_mlp: bool = False,
        scale_attn_inner: bool = False,
        num_prefix_tokens: int = 1,
        attn_type: str = "eva",
        rotate_half: bool = False,
        qk_norm: bool = False,
        num_kv_heads: int | None = None,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        init_values: float | None = None,
        attn_only_layer_scale: bool = False,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = LayerNorm,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = _attention(
            attn_type,
            dim,
            num_heads,
            qkv_bias,
            qkv_fused,
            num_kv_heads,
            num_prefix_tokens,
            attn_drop,
            proj_drop,
            norm_layer,
            qk_norm,
            scale_attn_inner,
            rotate_half,
        )
        self.init_values = init_values
        self.gamma_1: nn.Parameter | None = (
            nn.Parameter(torch.full((dim,), float(init_values))) if init_values is not None else None
        )
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = _mlp(
            dim, mlp_ratio, swiglu_mlp, swiglu_align_to, scale_mlp, act_layer, norm_layer, proj_drop
        )
        self.gamma_2: nn.Parameter | None = (
            nn.Parameter(torch.full((dim,), float(init_values)))
            if init_values is not None and not attn_only_layer_scale
            else None
        )
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def reset_parameters(self) -> None:
        if self.init_values is not None:
            for gamma in (self.gamma_1, self.gamma_2):
                if gamma is not None:
                    nn.init.constant_(gamma, self.init_values)

    def forward(self, x: torch.Tensor, rope: torch.Tensor | None = None) -> torch.Tensor:
        y = self.attn(self.norm1(x), rope)
        if self.gamma_1 is not None:
            y = self.gamma_1 * y
        x = x + self.drop_path1(y)
        y = self.mlp(self.norm2(x))
        if self.gamma_2 is not None:
            y = self.gamma_2 * y
        return x + self.drop_path2(y)


class EvaBlockPostNorm(nn.Module):
    """Post-norm block (EVA-02 CLIP-E): ``x + norm1(attn(x, rope))`` then ``x + norm2(mlp(x))``;
    no layer scale."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        qkv_bias: bool = True,
        qkv_fused: bool = True,
        mlp_ratio: float = 4.0,
        swiglu_mlp: bool = False,
        swiglu_align_to: int = 0,
        scale_mlp: bool = False,
        scale_attn_inner: bool = False,
        num_prefix_tokens: int = 1,
        attn_type: str = "eva",
        rotate_half: bool = False,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = LayerNorm,
    ) -> None:
        super().__init__()
        self.attn = _attention(
            attn_type,
            dim,
            num_heads,
            qkv_bias,
            qkv_fused,
            None,
            num_prefix_tokens,
            attn_drop,
            proj_drop,
            norm_layer,
            False,
            scale_attn_inner,
            rotate_half,
        )
        self.norm1 = norm_layer(dim)
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.mlp = _mlp(
            dim, mlp_ratio, swiglu_mlp, swiglu_align_to, scale_mlp, act_layer, norm_layer, proj_drop
        )
        self.norm2 = norm_layer(dim)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor, rope: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.drop_path1(self.norm1(self.attn(x, rope)))
        return x + self.drop_path2(self.norm2(self.mlp(x)))


class Eva(TokenModel):
    """EVA ViT: class / register tokens, an optional absolute position embedding, an optional
    RoPE (``rope_type``: ``'cat'`` axial inverse-frequency bands, ``'dinov3'`` periods on a
    centred grid, ``'mixed'`` learned per block and head), pre- or post-norm blocks, and a pooling
    head (``'avg'`` with ``fc_norm`` by default, ``'token'``, ``'map'`` attention pool...).

    The RoPE table is built for the patch grid of each call (no state-dict keys; the mixed
    frequencies are ``rope.freqs``), so ``dynamic_img_size`` models take any input size.

    Args:
        img_size, patch_size, in_chans, num_classes, global_pool: input and head.
        embed_dim, depth, num_heads, mlp_ratio: width, blocks, heads, MLP expansion.
        num_kv_heads: key/value heads for grouped-query attention, one for all blocks or one per
            block (``attn_type='rope'``, ``qkv_fused=False``).
        qkv_bias, qkv_fused, qk_norm: projection bias, fused projection, per-head q/k norm.
        swiglu_mlp, swiglu_align_to, scale_mlp, scale_attn_inner: SwiGLU MLP (hidden width rounded
            up to a multiple), norms inside the MLP / before the attention projection (NormFormer).
        attn_type: ``'eva'`` (no key bias) or ``'rope'`` (a bias on every projection).
        init_values, attn_only_layer_scale: layer scale, on the attention branch only.
        class_token, num_reg_tokens, no_embed_class, use_abs_pos_emb: prefix tokens and the
            learned position embedding (not on prefix tokens with ``no_embed_class``).
        use_rot_pos_emb, rope_*: the RoPE and its layout; ``ref_feat_shape`` rescales the ``'cat'``
            grid to the pretraining grid. ``rope_shift_coords`` / ``rope_jitter_coords`` /
            ``rope_rescale_coords`` augment the ``'dinov3'`` grid in training.
        use_post_norm: post-norm blocks. use_pre_transformer_norm: a norm before the blocks (and
            no patch bias). use_post_transformer_norm, use_fc_norm: the final norm before / after
            pooling (default: ``fc_norm`` for ``'avg'`` pooling, else the final norm).
        attn_pool_num_heads, attn_pool_mlp_ratio: the ``'map'`` pool.
        dynamic_img_size, dynamic_img_pad: any input size per call.
        drop_rate, pos_drop_rate, proj_drop_rate, attn_drop_rate, drop_path_rate: dropouts.
        norm_layer, head_init_scale: norm class, classifier init scale.
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
        num_kv_heads: int | tuple[int | None, ...] | None = None,
        qkv_bias: bool = True,
        qkv_fused: bool = True,
        qk_norm: bool = False,
        mlp_ratio: float = 4.0,
        swiglu_mlp: bool = False,
        swiglu_align_to: int = 0,
        scale_mlp: bool = False,
        scale_attn_inner: bool = False,
        attn_type: str = "eva",
        drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_layer: LayerFn = LayerNorm,
        init_values: float | None = None,
        attn_only_layer_scale: bool = False,
        class_token: bool = True,
        num_reg_tokens: int = 0,
        no_embed_class: bool = False,
        use_abs_pos_emb: bool = True,
        use_rot_pos_emb: bool = False,
        rope_type: str = "cat",
        rope_grid_offset: float = 0.0,
        rope_grid_indexing: str = "ij",
        rope_temperature: float = 10000.0,
        rope_rotate_half: bool = False,
        rope_shift_coords: float | None = None,
        rope_jitter_coords: float | None = None,
        rope_rescale_coords: float | None = None,
        use_post_norm: bool = False,
        use_pre_transformer_norm: bool = False,
        use_post_transformer_norm: bool | None = None,
        use_fc_norm: bool | None = None,
        attn_pool_num_heads: int | None = None,
        attn_pool_mlp_ratio: float | None = None,
        dynamic_img_size: bool = False,
        dynamic_img_pad: bool = False,
        ref_feat_shape: int | tuple[int, int] | None = None,
        head_init_scale: float = 0.001,
    ) -> None:
        super().__init__()
        if global_pool not in TOKEN_POOL_TYPES:
            raise ValueError(f"global_pool={global_pool!r}; valid: {', '.join(map(repr, TOKEN_POOL_TYPES))}")
        if global_pool == "token" and not class_token:
            raise ValueError("global_pool='token' needs class_token=True")
        if use_rot_pos_emb and rope_type not in _ROPE_TYPES:
            raise ValueError(f"rope_type={rope_type!r}; valid: {', '.join(map(repr, _ROPE_TYPES))}")
        kv_heads = num_kv_heads if isinstance(num_kv_heads, tuple) else (num_kv_heads,) * depth
        if len(kv_heads) != depth:
            raise ValueError(
                f"num_kv_heads has {len(kv_heads)} entries for depth={depth}; give one per block"
            )
        if use_post_norm and (qk_norm or attn_only_layer_scale or any(h is not None for h in kv_heads)):
            raise ValueError(
                "qk_norm, num_kv_heads and attn_only_layer_scale need pre-norm blocks (use_post_norm=False)"
            )
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.global_pool = global_pool
        self.num_features = self.head_hidden_size = self.embed_dim = embed_dim
        self.num_prefix_tokens = (1 if class_token else 0) + num_reg_tokens
        self.has_class_token = class_token
        self.pool_include_prefix = False
        self.no_embed_class = no_embed_class
        self.dynamic_img_size = dynamic_img_size
        self.drop_rate = drop_rate
        self.head_init_scale = head_init_scale
        fc_norm = global_pool == "avg" if use_fc_norm is None else use_fc_norm
        final_norm = not fc_norm if use_post_transformer_norm is None else use_post_transformer_norm

        embed_args: dict[str, Any] = {}
        if dynamic_img_size:  # the grid is kept until the position embedding is added
            embed_args.update(strict_img_size=False, output_fmt="NHWC")
        self.patch_embed = PatchEmbed(
            img_size=img_size,
            patch_size=patch_size,
            in_chans=in_chans,
            embed_dim=embed_dim,
            dynamic_img_pad=dynamic_img_pad,
            bias=not use_pre_transformer_norm,
            **embed_args,
        )
        num_patches = self.patch_embed.num_patches
        reduction = self.patch_embed.feat_ratio()
        self.cls_token: nn.Parameter | None = (
            nn.Parameter(torch.zeros(1, 1, embed_dim)) if class_token else None
        )
        self.reg_token: nn.Parameter | None = (
            nn.Parameter(torch.zeros(1, num_reg_tokens, embed_dim)) if num_reg_tokens else None
        )
        num_pos = num_patches if no_embed_class else num_patches + self.num_prefix_tokens
        self.pos_embed: nn.Parameter | None = (
            nn.Parameter(torch.zeros(1, num_pos, embed_dim)) if use_abs_pos_emb else None
        )
        self.pos_drop = nn.Dropout(p=pos_drop_rate)

        self.rope_mixed = use_rot_pos_emb and rope_type == "mixed"
        self.rope: nn.Module | None = None
        if use_rot_pos_emb:
            rope_args: dict[str, Any] = dict(temperature=rope_temperature, grid_indexing=rope_grid_indexing)
            if rope_type == "mixed":
                rope_args.update(depth=depth)
            elif rope_type == "cat":
                rope_args.update(
                    in_pixels=False,
                    grid_offset=rope_grid_offset,
                    rotate_half=rope_rotate_half,
                    ref_feat_shape=list(to_2tuple(ref_feat_shape)) if ref_feat_shape is not None else None,
                )
            else:
                rope_args.update(
                    grid_offset=rope_grid_offset,
                    rotate_half=rope_rotate_half,
                    shift_coords=rope_shift_coords,
                    jitter_coords=rope_jitter_coords,
                    rescale_coords=rope_rescale_coords,
                )
            if rope_type == "mixed" and rope_rotate_half:
                raise ValueError("rope_type='mixed' needs rope_rotate_half=False")
            self.rope = create_rope_embed(
                rope_type=rope_type, dim=embed_dim, num_heads=num_heads, **rope_args
            )

        self.norm_pre: nn.Module = norm_layer(embed_dim) if use_pre_transformer_norm else nn.Identity()
        dpr = cast(list[float], calculate_drop_path_rates(drop_path_rate, depth))
        shared: dict[str, Any] = dict(
            dim=embed_dim,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            qkv_fused=qkv_fused,
            mlp_ratio=mlp_ratio,
            swiglu_mlp=swiglu_mlp,
            swiglu_align_to=swiglu_align_to,
            scale_mlp=scale_mlp,
            scale_attn_inner=scale_attn_inner,
            num_prefix_tokens=self.num_prefix_tokens,
            attn_type=attn_type,
            rotate_half=rope_rotate_half,
            proj_drop=proj_drop_rate,
            attn_drop=attn_drop_rate,
            norm_layer=norm_layer,
        )
        blocks: list[nn.Module] = []
        for i in range(depth):
            if use_post_norm:
                blocks.append(EvaBlockPostNorm(**shared, drop_path=dpr[i]))
            else:
                blocks.append(
                    EvaBlock(
                        **shared,
                        drop_path=dpr[i],
                        qk_norm=qk_norm,
                        num_kv_heads=kv_heads[i],
                        init_values=init_values,
                        attn_only_layer_scale=attn_only_layer_scale,
                    )
                )
        self.blocks = nn.Sequential(*blocks)
        self.feature_info = [
            dict(module=f"blocks.{i}", num_chs=embed_dim, reduction=reduction) for i in range(depth)
        ]
        self.norm: nn.Module = norm_layer(embed_dim) if final_norm else nn.Identity()
        self.attn_pool: nn.Module | None = (
            AttentionPoolLatent(
                embed_dim,
                num_heads=attn_pool_num_heads or num_heads,
                mlp_ratio=attn_pool_mlp_ratio or mlp_ratio,
                norm_layer=norm_layer,
                act_layer=nn.GELU,
            )
            if global_pool == "map"
            else None
        )
        self.fc_norm: nn.Module = norm_layer(embed_dim) if fc_norm else nn.Identity()
        self.head_drop = nn.Dropout(drop_rate)
        self.head: nn.Module = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self._initialize()

    # --- init ----------------------------------------------------------------------------------
    def init_weights(self) -> None:
        """EVA's (BEiT's) init: truncated-normal linears and embeddings, block output projections
        scaled down by depth, the classifier scaled by ``head_init_scale``."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        for t in (self.pos_embed, self.cls_token, self.reg_token):
            if t is not None:
                trunc_normal_(t, std=0.02)
        block: Any
        with torch.no_grad():
            for i, block in enumerate(self.blocks):
                block.attn.proj.weight.div_(math.sqrt(2.0 * (i + 1)))
                block.mlp.fc2.weight.div_(math.sqrt(2.0 * (i + 1)))
            if self.head_init_scale and isinstance(self.head, nn.Linear):
                self.head.weight.mul_(self.head_init_scale)
                self.head.bias.mul_(self.head_init_scale)

    # --- training helpers ----------------------------------------------------------------------
    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """Embeddings as the stem, one group per block, the final norm (and the learned RoPE
        frequencies of every block, which timm leaves to the head group) last."""
        return dict(
            stem=r"^cls_token|reg_token|pos_embed|patch_embed|norm_pre",
            blocks=[(r"^blocks\.(\d+)", None), (r"^norm|^rope\.", (99999,))],
        )

    def no_weight_decay(self) -> set[str]:
        """Embeddings, prefix tokens and the learned RoPE frequencies."""
        out = {"pos_embed", "cls_token", "reg_token"}
        return out | ({"rope.freqs"} if self.rope_mixed else set())

    # --- input size ----------------------------------------------------------------------------
    def set_input_size(
        self,
        img_size: int | tuple[int, int] | None = None,
        patch_size: int | tuple[int, int] | None = None,
    ) -> None:
        """Rebuild for another input / patch size: the position embedding is resampled (the RoPE
        table follows the grid by itself)."""
        prev = self.patch_embed.grid_size
        self.patch_embed.set_input_size(img_size=img_size, patch_size=patch_size)
        grid = self.patch_embed.grid_size
        if self.pos_embed is not None and grid != prev:
            prefix = 0 if self.no_embed_class else self.num_prefix_tokens
            with torch.no_grad():
                resampled = resample_abs_pos_embed(
                    self.pos_embed, list(grid), list(prev), num_prefix_tokens=prefix
                )
            self.pos_embed = nn.Parameter(resampled, requires_grad=self.pos_embed.requires_grad)
        self.feature_info = [dict(fi, reduction=self.patch_embed.feat_ratio()) for fi in self.feature_info]
        update_model_input_size(self, self.patch_embed.img_size, patch_size=patch_size)
        if self.pretrained_cfg is not None and self.patch_embed.img_size is not None:
            size = self.patch_embed.img_size
            self.pretrained_cfg = cfg_as_built(
                self.pretrained_cfg, in_chans=self.pretrained_cfg.input_size[0], img_size=(size[0], size[1])
            )

    # --- forward -------------------------------------------------------------------------------
    def _embed_rope(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Image -> tokens before the blocks, and the RoPE table for its patch grid."""
        x = self.patch_embed(x)
        pos_embed: torch.Tensor | None = self.pos_embed
        if self.dynamic_img_size:
            b, h, w, c = x.shape
            grid = [h, w]
            if pos_embed is not None:
                size = self.patch_embed.grid_size
                prefix = 0 if self.no_embed_class else self.num_prefix_tokens
                pos_embed = resample_abs_pos_embed(
                    pos_embed, grid, [size[0], size[1]], num_prefix_tokens=prefix
                )
            x = x.reshape(b, -1, c)
        else:
            size = self.patch_embed.grid_size
            grid = [size[0], size[1]]
        rope = self.rope.get_embed(grid) if self.rope is not None else None  # type: ignore[operator]
        prefix_tokens: list[torch.Tensor] = []
        if self.cls_token is not None:
            prefix_tokens.append(self.cls_token.expand(x.shape[0], -1, -1))
        if self.reg_token is not None:
            prefix_tokens.append(self.reg_token.expand(x.shape[0], -1, -1))
        if self.no_embed_class and pos_embed is not None:
            x = x + pos_embed
        if len(prefix_tokens) > 0:
            prefix_tokens.append(x)
            x = torch.cat(prefix_tokens, dim=1)
        if not self.no_embed_class and pos_embed is not None:
            x = x + pos_embed
        return self.norm_pre(self.pos_drop(x)), rope

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        return self._embed_rope(x)[0]

    def _block_rope(self, rope: torch.Tensor | None, index: int) -> torch.Tensor | None:
        """The table block ``index`` rotates by: the shared one, or its own (mixed RoPE)."""
        if rope is None or not self.rope_mixed:
            return rope
        return rope[index]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x, rope = self._embed_rope(x)
        checkpointing = not torch.jit.is_scripting() and self._checkpointing()
        for i, block in enumerate(self.blocks):
            r = self._block_rope(rope, i)
            if checkpointing and not torch.jit.is_scripting():
                x = checkpoint(block, x, r, use_reentrant=False)
            else:
                x = block(x, r)
        return self.norm(x)

    def pool(self, x: torch.Tensor, pool_type: str | None = None) -> torch.Tensor:
        """As the contract's, but the attention pool reads every token, prefix tokens included."""
        if self.attn_pool is not None:
            return self.attn_pool(x)
        return global_pool_nlc(
            x, self.global_pool if pool_type is None else pool_type, num_prefix_tokens=self.num_prefix_tokens
        )

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
        """The contract's :meth:`TokenModel.forward_intermediates`, each block given its RoPE table."""
        if output_fmt not in ("NCHW", "NLC"):
            raise ValueError(f"output_fmt={output_fmt!r} is not supported; use 'NCHW' or 'NLC'")
        take, max_index = feature_take_indices(len(self.blocks), indices)
        height, width = x.shape[-2:]
        x, rope = self._embed_rope(x)
        blocks = self.blocks[: max_index + 1] if stop_early or intermediates_only else self.blocks
        found = []
        for i, block in enumerate(blocks):
            r = self._block_rope(rope, i)
            x = checkpoint(block, x, r, use_reentrant=False) if self._checkpointing() else block(x, r)
            if i in take:
                found.append(self.norm(x) if norm else x)
        prefix = [y[:, : self.num_prefix_tokens] for y in found]
        found = [y[:, self.num_prefix_tokens :] for y in found]
        if output_fmt == "NCHW":
            h, w = self.patch_embed.dynamic_feat_size((height, width))
            found = [y.reshape(y.shape[0], h, w, -1).permute(0, 3, 1, 2).contiguous() for y in found]
        out: list[Any] = (
            list(zip(found, prefix)) if return_prefix_tokens and self.num_prefix_tokens else found
        )
        return out if intermediates_only else (self.norm(x), out)
