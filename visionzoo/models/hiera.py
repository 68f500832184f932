"""Hiera: a hierarchical ViT whose early stages attend within mask units, on tokens kept in
"unrolled" order so that pooling and windowing are plain reshapes.

Papers:
* `Hiera: A Hierarchical Vision Transformer without the Bells-and-Whistles` - https://arxiv.org/abs/2306.00989
* `Window Attention is Bugged: How not to Interpolate Position Embeddings` - https://arxiv.org/abs/2311.05613
  (the ``abswin`` position embedding)

Weights: Meta's MAE-pretrained / fine-tuned Hiera (CC-BY-NC-4.0) and timm's ``abswin`` trainings
(Apache-2.0). Module names follow timm's ``hiera``; the original release layout
(``model_state``, ``head.projection``, ``norm`` / ``encoder_norm``) through
:func:`checkpoint_filter_fn`.

Token order: after the patch embedding the tokens are *unrolled* (:class:`Unroll`): each
``q_stride`` step moves the strided offsets to the front, so that a max over the first axis of
``(B, prod(q_stride), N / prod(q_stride), C)`` is a strided max-pool and a mask unit's tokens
are a contiguous run. The blocks' outputs are in that order; :class:`Reroll` puts a stage's
output back on its ``(H, W)`` grid for ``forward_intermediates``. ``forward_features`` returns
the final ``(B, N, C)`` tokens (all strides consumed: grid order), as timm's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.fx._symbolic_trace import is_fx_symbolic_tracing
from torch.utils.checkpoint import checkpoint

from ..features import feature_take_indices
from ..layers import (
    ClNormMlpClassifierHead,
    DropPath,
    LayerScale,
    LayerType,
    Mlp,
    calculate_drop_path_rates,
    get_norm_layer,
    init_weight_jax,
    init_weight_vit,
    register_notrace_function,
    to_2tuple,
)
from ..layers.classifier import check_num_classes
from ..model import TokenModel, named_apply
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, NO_WEIGHTS, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "Hiera",
    "HieraBlock",
    "MaskUnitAttention",
    "Reroll",
    "Unroll",
    "checkpoint_filter_fn",
    "undo_windowing",
]


def undo_windowing(x: torch.Tensor, shape: list[int], mu_shape: list[int]) -> torch.Tensor:
    """Mask-unit windows ``(B, #MU, *mu_shape, C)`` -> the grid ``(B, *shape, C)``."""
    d = len(shape)
    b, c = x.shape[0], x.shape[-1]
    num_mu = [s // m for s, m in zip(shape, mu_shape)]
    x = x.view(b, *num_mu, *mu_shape, c)
    # interleave (#MU_i, MU_i) per spatial dim: (B, #MU_1, MU_1, #MU_2, MU_2, ..., C)
    order = [0] + [k for i in range(d) for k in (1 + i, 1 + d + i)] + [1 + 2 * d]
    return x.permute(order).reshape(b, *shape, c)


class Unroll(nn.Module):
    """Grid tokens ``(B, N, C)`` -> unrolled order: for each stride ``s`` of ``schedule`` the
    in-window offsets ``(s_1, .., s_D)`` become the leading (slowest) index, over the
    strided grid."""

    def __init__(
        self, input_size: Sequence[int], patch_stride: Sequence[int], schedule: list[tuple[int, ...]]
    ) -> None:
        super().__init__()
        self.size = [i // s for i, s in zip(input_size, patch_stride)]
        self.schedule = schedule

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, c = x.shape
        size = self.size
        d = len(size)
        x = x.view(b, *size, c)
        for strides in self.schedule:
            size = [n // s for n, s in zip(size, strides)]
            x = x.view(b, *[v for n, s in zip(size, strides) for v in (n, s)], c)
            # (B, n_1, s_1, n_2, s_2, .., C) -> (B, s_1, s_2, .., n_1, n_2, .., C), offsets to the batch
            x = x.permute([0, *range(2, 2 * d + 1, 2), *range(1, 2 * d, 2), 2 * d + 1])
            x = x.flatten(0, d)
            b *= math.prod(strides)
        return x.reshape(-1, math.prod(self.size), c)


class Reroll(nn.Module):
    """Unrolled tokens after block ``i`` -> ``(B, H_i, W_i, C)`` on that block's grid (or, with a
    mask, the kept mask units ``(B, #MU, *mu_shape, C)``)."""

    def __init__(
        self,
        input_size: Sequence[int],
        patch_stride: Sequence[int],
        schedule: list[tuple[int, ...]],
        stage_ends: list[int],
        q_pool: int,
    ) -> None:
        super().__init__()
        self.size = [i // s for i, s in zip(input_size, patch_stride)]
        # per block: the strides not yet consumed by pooling, and its grid
        self.schedule: dict[int, tuple[list[tuple[int, ...]], list[int]]] = {}
        size = self.size
        for i in range(stage_ends[-1] + 1):
            self.schedule[i] = (schedule, size)
            if i in stage_ends[:q_pool]:
                if schedule:
                    size = [n // s for n, s in zip(size, schedule[0])]
                schedule = schedule[1:]

    def forward(self, x: torch.Tensor, block_idx: int, mask: torch.Tensor | None = None) -> torch.Tensor:
        schedule, size = self.schedule[block_idx]
        b, n, c = x.shape
        d = len(size)
        mu_shape = [1] * d
        for strides in schedule:
            # (B, s_1..s_D, N', mu_1..mu_D, C) -> (B, N', s_1, mu_1, .., s_D, mu_D, C)
            x = x.view(b, *strides, n // math.prod(strides), *mu_shape, c)
            last = x.dim() - 1
            x = x.permute([0, 1 + d] + [k for i in range(d) for k in (1 + i, 2 + d + i)] + [last])
            mu_shape = [m * s for m, s in zip(mu_shape, strides)]
            x = x.reshape(b, -1, *mu_shape, c)
            n = x.shape[1]
        x = x.view(b, n, *mu_shape, c)
        if mask is not None:
            return x
        return undo_windowing(x, size, mu_shape)


class MaskUnitAttention(nn.Module):
    """Attention within mask units (``use_mask_unit_attn``) or over all tokens, on unrolled
    tokens; with ``q_stride`` > 1 the queries are max-pooled over the leading stride, so the
    output has ``N / q_stride`` tokens.

    Args:
        window_size: tokens per mask unit after the pooling.
    """

    def __init__(
        self,
        dim: int,
        dim_out: int,
        heads: int,
        q_stride: int = 1,
        window_size: int = 0,
        use_mask_unit_attn: bool = False,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.dim_out = dim_out
        self.heads = heads
        self.q_stride = q_stride
        self.head_dim = dim_out // heads
        self.scale = self.head_dim**-0.5
        self.fused_attn = True
        self.qkv = nn.Linear(dim, 3 * dim_out)
        self.proj = nn.Linear(dim_out, dim_out)
        self.window_size = window_size
        self.use_mask_unit_attn = use_mask_unit_attn

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        if self.use_mask_unit_attn:
            # (B, tokens per unit, units, 3, heads, hd) -> (3, B, heads, units, tokens per unit, hd)
            units = n // (self.q_stride * self.window_size)
            qkv = self.qkv(x).reshape(b, -1, units, 3, self.heads, self.head_dim).permute(3, 0, 4, 2, 1, 5)
            q, k, v = qkv.unbind(0)
            if self.q_stride > 1:
                q = q.view(b, self.heads, units, self.q_stride, -1, self.head_dim).amax(dim=3)
        else:
            q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
            if self.q_stride > 1:
                q = q.view(b, self.heads, self.q_stride, -1, self.head_dim).amax(dim=2)
            q, k, v = q.contiguous(), k.contiguous(), v.contiguous()
        if self.fused_attn:
            x = F.scaled_dot_product_attention(q, k, v)
        else:
            x = ((q * self.scale) @ k.transpose(-1, -2)).softmax(dim=-1) @ v
        # back to (B, tokens, C): units after the in-unit position, as they came in
        x = x.transpose(1, 3) if self.use_mask_unit_attn else x.transpose(1, 2)
        return self.proj(x.reshape(b, -1, self.dim_out))


class HieraBlock(nn.Module):
    """Pre-norm block. Where the width grows, the shortcut is the normed input widened by
    ``proj`` (or, without ``use_expand_proj``, max and mean pools concatenated: twice the width)
    and max-pooled over the leading ``q_stride`` as the queries are."""

    def __init__(
        self,
        dim: int,
        dim_out: int,
        heads: int,
        *,
        mlp_ratio: float = 4.0,
        drop_path: float = 0.0,
        init_values: float | None = None,
        norm_layer: Callable[..., nn.Module] = nn.LayerNorm,
        act_layer: Callable[..., nn.Module] = nn.GELU,
        q_stride: int = 1,
        window_size: int = 0,
        use_expand_proj: bool = True,
        use_mask_unit_attn: bool = False,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.dim_out = dim_out
        self.norm1 = norm_layer(dim)
        self.do_expand = dim != dim_out
        self.proj: nn.Linear | None = None
        if self.do_expand and use_expand_proj:
            self.proj = nn.Linear(dim, dim_out)
        elif self.do_expand and dim_out != 2 * dim:
            raise ValueError(f"without use_expand_proj a block doubles its width: {dim} -> {dim_out}")
        self.attn = MaskUnitAttention(dim, dim_out, heads, q_stride, window_size, use_mask_unit_attn)
        self.ls1: nn.Module = LayerScale(dim_out, init_values) if init_values is not None else nn.Identity()
        self.drop_path1: nn.Module = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = norm_layer(dim_out)
        self.mlp = Mlp(dim_out, int(dim_out * mlp_ratio), act_layer=act_layer)
        self.ls2: nn.Module = LayerScale(dim_out, init_values) if init_values is not None else nn.Identity()
        self.drop_path2: nn.Module = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_norm = self.norm1(x)
        if self.do_expand:
            stride = self.attn.q_stride
            if self.proj is not None:
                x = self.proj(x_norm)
                x = x.view(x.shape[0], stride, -1, x.shape[-1]).amax(dim=1)
            else:  # NOTE: the un-normed input, as timm's
                grouped = x.view(x.shape[0], stride, -1, x.shape[-1])
                x = torch.cat([grouped.amax(dim=1), grouped.mean(dim=1)], dim=-1)
        x = x + self.drop_path1(self.ls1(self.attn(x_norm)))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))


@register_notrace_function
def _resize_mask(mask: torch.Tensor, size: list[int]) -> torch.Tensor:
    """A ``(B, 1, *mask_units)`` keep-mask at the input's resolution (nearest)."""
    if list(mask.shape[2:]) != list(size):
        return F.interpolate(mask.float(), size=size)
    return mask


class PatchEmbed(nn.Module):
    """Conv patch embedding of 1, 2 or 3 spatial dims to grid-ordered tokens ``(B, N, C)``; a
    keep-mask zeroes the dropped mask units' pixels first."""

    def __init__(
        self,
        dim_in: int,
        dim_out: int,
        kernel: Sequence[int],
        stride: Sequence[int],
        padding: Sequence[int],
        reshape: bool = True,
        *,
        img_size: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        if not 1 <= len(kernel) <= 3:
            raise ValueError(f"Hiera embeds 1 to 3 spatial dims, got kernel={tuple(kernel)}")
        conv: Any = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[len(kernel) - 1]
        self.spatial_dims = len(kernel)
        self.reshape = reshape
        # the input size the model is built for, and the token stride (what the builder reads)
        self.img_size = None if img_size is None else tuple(img_size)
        self.patch_size = tuple(stride)
        self.proj = conv(
            dim_in, dim_out, kernel_size=tuple(kernel), stride=tuple(stride), padding=tuple(padding)
        )

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if mask is not None:
            x = x * _resize_mask(mask, list(x.shape[2:])).to(torch.bool)
        x = self.proj(x)
        if self.reshape:
            x = x.reshape(x.shape[0], x.shape[1], -1).transpose(2, 1)
        return x


class Hiera(TokenModel):
    """Hiera: a conv patch embedding, a position embedding (learned per token, separate space /
    time, or ``abs_win``: a global grid resized plus a tiled per-window one), unrolled tokens,
    stages of :class:`HieraBlock` (mask-unit attention in the first ``mask_unit_attn`` stages,
    query pooling at the first ``q_pool`` stage transitions), a norm / pool head.

    Args:
        img_size: input size (fixed: the unroll and the position embedding follow it).
        in_chans: input channels.
        embed_dim: width of the first stage (times ``dim_mul`` per stage).
        num_heads: heads of the first stage (times ``head_mul`` per stage).
        num_classes: classifier outputs (0 for none).
        global_pool: ``avg``, ``max``, ``avgmax`` or ``''``.
        stages: blocks per stage.
        q_pool: how many stage transitions pool the queries by ``q_stride``.
        q_stride: that pooling, per spatial dim.
        mask_unit_size: the attention windows of the masked stages, in tokens.
        mask_unit_attn: per stage, mask-unit (True) or global attention.
        use_expand_proj: widen the shortcut with a linear (else max / mean pools concatenated).
        dim_mul, head_mul: width and head growth per stage.
        patch_kernel, patch_stride, patch_padding: the patch embedding's conv.
        mlp_ratio: the MLPs' hidden width over the block width.
        drop_path_rate: stochastic depth, rising linearly to this over the blocks.
        init_values: layer scale (None: none).
        fix_init: scale each block's output projections down by depth.
        weight_init: ``''`` (ViT), ``'jax'`` or ``'skip'``.
        norm_layer: the blocks' and head's norm.
        drop_rate: dropout before the classifier.
        patch_drop_rate: in training, drop this share of the mask units (MAE-style).
        head_init_scale: scale of the initial classifier.
        sep_pos_embed: separate spatial and temporal position embeddings (video).
        abs_win_pos_embed: the ``abswin`` position embedding.
        global_pos_size: the grid of the ``abswin`` global position embedding.
    """

    classifier_name = "head.fc"
    head_names = ("head",)
    # NOTE: a stage's last block leaves its tokens unrolled; the levels are rerolled from them
    feature_modules = False

    def __init__(
        self,
        img_size: int | tuple[int, ...] = (224, 224),
        in_chans: int = 3,
        embed_dim: int = 96,
        num_heads: int = 1,
        num_classes: int = 1000,
        global_pool: str = "avg",
        stages: Sequence[int] = (2, 3, 16, 3),
        q_pool: int = 3,
        q_stride: tuple[int, ...] = (2, 2),
        mask_unit_size: tuple[int, ...] = (8, 8),
        mask_unit_attn: Sequence[bool] = (True, True, False, False),
        use_expand_proj: bool = True,
        dim_mul: float = 2.0,
        head_mul: float = 2.0,
        patch_kernel: tuple[int, ...] = (7, 7),
        patch_stride: tuple[int, ...] = (4, 4),
        patch_padding: tuple[int, ...] = (3, 3),
        mlp_ratio: float = 4.0,
        drop_path_rate: float = 0.0,
        init_values: float | None = None,
        fix_init: bool = True,
        weight_init: str = "",
        norm_layer: LayerType = "LayerNorm",
        drop_rate: float = 0.0,
        patch_drop_rate: float = 0.0,
        head_init_scale: float = 0.001,
        sep_pos_embed: bool = False,
        abs_win_pos_embed: bool = False,
        global_pos_size: tuple[int, int] = (14, 14),
    ) -> None:
        super().__init__()
        check_num_classes(num_classes)
        if not 0 <= q_pool < len(stages):
            raise ValueError(f"q_pool must be in 0..{len(stages) - 1}, got {q_pool}")
        if weight_init not in ("", "jax", "skip"):
            raise ValueError(f"weight_init={weight_init!r}; valid: '', 'jax', 'skip'")
        norm = get_norm_layer(norm_layer)
        assert norm is not None
        img_size = to_2tuple(img_size) if isinstance(img_size, int) else tuple(img_size)
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.global_pool = global_pool
        self.num_prefix_tokens = 0
        self.has_class_token = False
        self.pool_include_prefix = False
        self.attn_pool = None
        self.patch_stride = tuple(patch_stride)
        self.tokens_spatial_shape = [i // s for i, s in zip(img_size, patch_stride)]
        num_tokens = math.prod(self.tokens_spatial_shape)
        flat_mu_size = math.prod(mask_unit_size)
        flat_q_stride = math.prod(q_stride)
        self.q_pool, self.q_stride = q_pool, tuple(q_stride)
        self.mu_size, self.mask_unit_size = flat_mu_size, tuple(mask_unit_size)
        self.mask_spatial_shape = [i // s for i, s in zip(self.tokens_spatial_shape, mask_unit_size)]
        self.stage_ends = [sum(stages[: i + 1]) - 1 for i in range(len(stages))]
        self.patch_drop_rate = patch_drop_rate

        self.patch_embed = PatchEmbed(
            in_chans, embed_dim, patch_kernel, patch_stride, patch_padding, img_size=img_size
        )
        self.pos_embed: nn.Parameter | None = None
        self.pos_embed_win: nn.Parameter | None = None
        self.pos_embed_spatial: nn.Parameter | None = None
        self.pos_embed_temporal: nn.Parameter | None = None
        if sep_pos_embed:
            t, h, w = self.tokens_spatial_shape
            self.pos_embed_spatial = nn.Parameter(torch.zeros(1, h * w, embed_dim))
            self.pos_embed_temporal = nn.Parameter(torch.zeros(1, t, embed_dim))
        elif abs_win_pos_embed:  # (1, C, H, W): tiled and resized as maps
            self.pos_embed = nn.Parameter(torch.zeros(1, embed_dim, *global_pos_size))
            self.pos_embed_win = nn.Parameter(torch.zeros(1, embed_dim, *mask_unit_size))
        else:
            self.pos_embed = nn.Parameter(torch.zeros(1, num_tokens, embed_dim))

        schedule = [tuple(q_stride)] * (len(self.stage_ends) - 1)
        self.unroll = Unroll(img_size, patch_stride, schedule)
        self.reroll = Reroll(img_size, patch_stride, schedule, self.stage_ends, q_pool)
        q_pool_blocks = [end + 1 for end in self.stage_ends[:q_pool]]

        rates = calculate_drop_path_rates(drop_path_rate, sum(stages))
        blocks, self.feature_info = [], []
        stage = 0
        for i in range(sum(stages)):
            dim_out = embed_dim
            # the first block of a stage still uses the previous stage's attention kind
            use_mask_unit_attn = mask_unit_attn[stage]
            if i - 1 in self.stage_ends:
                dim_out = int(embed_dim * dim_mul)
                num_heads = int(num_heads * head_mul)
                stage += 1
                if i in q_pool_blocks:
                    flat_mu_size //= flat_q_stride
            blocks.append(
                HieraBlock(
                    embed_dim,
                    dim_out,
                    num_heads,
                    mlp_ratio=mlp_ratio,
                    drop_path=float(rates[i]),  # type: ignore[arg-type]
                    init_values=init_values,
                    norm_layer=norm,
                    q_stride=flat_q_stride if i in q_pool_blocks else 1,
                    window_size=flat_mu_size,
                    use_expand_proj=use_expand_proj,
                    use_mask_unit_attn=use_mask_unit_attn,
                )
            )
            embed_dim = dim_out
            if i in self.stage_ends:
                self.feature_info.append(
                    dict(num_chs=dim_out, reduction=2 ** (stage + 2), module=f"blocks.{i}")
                )
        # NOTE: a ModuleList in timm; a Sequential here keeps the same keys
        self.blocks = nn.Sequential(*blocks)
        self.num_features = self.embed_dim = embed_dim
        self.head: ClNormMlpClassifierHead = ClNormMlpClassifierHead(
            embed_dim,
            num_classes,
            pool_type=global_pool,
            drop_rate=drop_rate,
            norm_layer=norm,
            input_fmt="NLC",
        )
        self.head_hidden_size = self.head.num_features
        self._initialize(weight_init=weight_init, fix_init=fix_init, head_init_scale=head_init_scale)

    def init_weights(
        self, weight_init: str = "", fix_init: bool = True, head_init_scale: float = 0.001
    ) -> None:
        """Truncated-normal position embeddings, ViT (or JAX) linears and convs, block output
        projections scaled down by depth (``fix_init``), a zero classifier."""
        for p in (self.pos_embed, self.pos_embed_win, self.pos_embed_spatial, self.pos_embed_temporal):
            if p is not None:
                nn.init.trunc_normal_(p, std=0.02)
        if weight_init != "skip":
            init = init_weight_jax if weight_init == "jax" else init_weight_vit
            named_apply(partial(init, classifier_name="head.fc"), self)
        block: Any
        with torch.no_grad():
            if fix_init:
                for i, block in enumerate(self.blocks):
                    block.attn.proj.weight.div_(math.sqrt(2.0 * (i + 1)))
                    block.mlp.fc2.weight.div_(math.sqrt(2.0 * (i + 1)))
            if isinstance(self.head.fc, nn.Linear):
                self.head.fc.weight.mul_(head_init_scale)
                self.head.fc.bias.mul_(head_init_scale)

    def no_weight_decay(self) -> set[str]:
        """The position embeddings."""
        names = ("pos_embed", "pos_embed_win", "pos_embed_spatial", "pos_embed_temporal")
        return {n for n in names if getattr(self, n) is not None}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^pos_embed|pos_embed_spatial|pos_embed_temporal|pos_embed_abs|pos_embed_win|patch_embed",
            blocks=[(r"^blocks\.(\d+)", None), (r"^norm", (99999,))],
        )

    # --- head ----------------------------------------------------------------------------------
    def reset_classifier(  # type: ignore[override]
        self, num_classes: int, global_pool: str | None = None, reset_other: bool = False
    ) -> None:
        """New classifier of ``num_classes`` outputs (0 removes it); ``reset_other`` also drops
        the head's norm."""
        check_num_classes(num_classes)
        self.head.reset(num_classes, global_pool, reset_other=reset_other, in_features=self.num_features)
        if global_pool is not None:
            self.global_pool = global_pool
        self.num_classes = num_classes
        self.head_hidden_size = self.head.num_features

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Tokens ``(B, N, C)`` -> pool, norm, classify."""
        return self.head(x, pre_logits=pre_logits)

    # --- trunk ---------------------------------------------------------------------------------
    def get_random_mask(self, x: torch.Tensor, mask_ratio: float) -> torch.Tensor:
        """A random keep-mask ``(B, #mask units)`` (True: keep) dropping ``mask_ratio`` of each
        image's mask units (MAE / FLIP style)."""
        b = x.shape[0]
        units = math.prod(self.mask_spatial_shape)
        keep = int(units * (1 - mask_ratio))
        order = torch.argsort(torch.rand(b, units, device=x.device), dim=1)
        mask = torch.zeros(b, units, device=x.device)
        mask[:, :keep] = 1
        return torch.gather(mask, 1, torch.argsort(order, dim=1)).bool()

    def _pos_embed_add(self, x: torch.Tensor) -> torch.Tensor:
        if self.pos_embed_win is not None and self.pos_embed is not None:
            # abswin: the global grid resized to the token grid plus the window embedding tiled on it
            win = self.pos_embed_win.tile(self.mask_spatial_shape)
            pos = F.interpolate(self.pos_embed, size=win.shape[-2:], mode="bicubic", antialias=True)
            return x + (pos + win).flatten(2).transpose(1, 2)
        if self.pos_embed is not None:
            return x + self.pos_embed
        assert self.pos_embed_spatial is not None and self.pos_embed_temporal is not None
        t, h, w = self.tokens_spatial_shape
        spatial = self.pos_embed_spatial.repeat(1, t, 1)
        return x + spatial + torch.repeat_interleave(self.pos_embed_temporal, h * w, dim=1)

    def _embed_tokens(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """Image -> unrolled tokens, the masked-out mask units dropped."""
        patch_mask = None if mask is None else mask.view(x.shape[0], 1, *self.mask_spatial_shape)
        x = self.unroll(self._pos_embed_add(self.patch_embed(x, mask=patch_mask)))
        if mask is not None:  # unrolled, a token's mask unit is its index modulo the unit count
            keep = mask[..., None].tile(1, self.mu_size, x.shape[2])
            x = x[keep].view(x.shape[0], -1, x.shape[-1])
        return x

    def _run_block(self, block: nn.Module, x: torch.Tensor) -> torch.Tensor:
        return checkpoint(block, x, use_reentrant=False) if self._checkpointing() else block(x)

    def forward_features(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``(B, C, H, W)`` -> final tokens ``(B, N, num_features)``.

        Args:
            mask: keep-mask ``(B, #mask units)``, the same count kept per image (True: keep);
                in training with ``patch_drop_rate`` a random one is drawn.
        """
        if self.training and self.patch_drop_rate > 0:
            if mask is not None:
                raise ValueError("a mask is drawn in training with patch_drop_rate; pass none")
            mask = self.get_random_mask(x, mask_ratio=self.patch_drop_rate)
        x = self._embed_tokens(x, mask)
        for block in self.blocks:
            x = self._run_block(block, x)
        return x

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Logits, or with a ``mask`` the kept tokens (``forward_features``)."""
        if is_fx_symbolic_tracing():  # NOTE: the optional mask is a placeholder there: trace unmasked
            mask = None
        x = self.forward_features(x, mask=mask)
        return x if mask is not None else self.forward_head(x)

    def forward_intermediates(  # type: ignore[override]
        self,
        x: torch.Tensor,
        indices: int | list[int] | tuple[int, ...] | None = None,
        *,
        mask: torch.Tensor | None = None,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
        coarse: bool = True,
    ) -> Any:
        """Run the blocks and return stage outputs rerolled onto their grids.

        Args:
            x: input ``(B, C, H, W)``.
            indices: stages (``coarse``) or blocks to take: None for all, an int ``n`` for the
                last ``n``, or a sequence.
            mask: keep-mask as for ``forward_features``; the levels are then the kept mask units
                ``(B, #MU, *mu_shape, C)``.
            norm: not supported (the norm is the head's).
            stop_early: stop after the last requested level.
            output_fmt: ``'NCHW'`` or ``'NHWC'``.
            intermediates_only: return just the list.
            coarse: index stages (feature levels) rather than blocks.

        Returns:
            ``(final tokens, [levels])``, or only the list.
        """
        if norm:
            raise ValueError("Hiera has no per-level norm (its final norm is the head's)")
        if output_fmt not in ("NCHW", "NHWC"):
            raise ValueError(f"output_fmt={output_fmt!r} is not supported; use 'NCHW' or 'NHWC'")
        if coarse:
            take, max_index = feature_take_indices(len(self.stage_ends), indices)
            take = [self.stage_ends[i] for i in take]
            max_index = self.stage_ends[max_index]
        else:
            take, max_index = feature_take_indices(len(self.blocks), indices)
        x = self._embed_tokens(x, mask)
        blocks = self.blocks[: max_index + 1] if stop_early or intermediates_only else self.blocks
        found = []
        for i, block in enumerate(blocks):
            x = self._run_block(block, x)
            if i in take:
                level = self.reroll(x, i, mask=mask)
                found.append(level.permute(0, 3, 1, 2) if output_fmt == "NCHW" and mask is None else level)
        return found if intermediates_only else (x, found)

    def prune_intermediate_layers(  # type: ignore[override]
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
        coarse: bool = True,
    ) -> list[int]:
        """Keep the blocks up to the last of ``indices``; the head (with its norm) goes with
        ``prune_head`` or a cut. Returns the kept indices."""
        if coarse:
            take, max_index = feature_take_indices(len(self.stage_ends), indices)
            num_chs = self.feature_info[max_index]["num_chs"]
            max_index = self.stage_ends[max_index]
        else:
            take, max_index = feature_take_indices(len(self.blocks), indices)
            num_chs = self.blocks[max_index].dim_out
        cut = max_index < len(self.blocks) - 1
        self.blocks = self.blocks[: max_index + 1]
        if cut:
            self.num_features = self.head_hidden_size = num_chs
        if prune_head or cut:
            self.reset_classifier(0, reset_other=True)
        return take


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """The original Hiera release (under ``model_state``) -> ours: ``head.projection`` is
    ``head.fc``, the final ``norm`` / ``encoder_norm`` the head's, ``pos_embed_abs`` the
    ``pos_embed``."""
    state_dict = state_dict.get("model_state", state_dict)
    out = {}
    for k, v in state_dict.items():
        k = k.replace("head.projection.", "head.fc.")
        if k.startswith("encoder_norm."):
            k = "head.norm." + k[len("encoder_norm.") :]
        elif k.startswith("norm."):
            k = "head.norm." + k[len("norm.") :]
        out["pos_embed" if k == "pos_embed_abs" else k] = v
    return out


HieraArgs = model_args_type(Hiera)

_ABSWIN = dict(abs_win_pos_embed=True, init_values=1e-5, weight_init="jax")
VARIANTS: dict[str, Any] = {
    "hiera_tiny_224": HieraArgs(embed_dim=96, num_heads=1, stages=(1, 2, 7, 2)),
    "hiera_small_224": HieraArgs(embed_dim=96, num_heads=1, stages=(1, 2, 11, 2)),
    "hiera_base_224": HieraArgs(embed_dim=96, num_heads=1, stages=(2, 3, 16, 3)),
    "hiera_base_plus_224": HieraArgs(embed_dim=112, num_heads=2, stages=(2, 3, 16, 3)),
    "hiera_large_224": HieraArgs(embed_dim=144, num_heads=2, stages=(2, 6, 36, 4)),
    "hiera_huge_224": HieraArgs(embed_dim=256, num_heads=4, stages=(2, 6, 36, 4)),
    "hiera_small_abswin_256": HieraArgs(
        embed_dim=96,
        num_heads=1,
        stages=(1, 2, 11, 2),
        global_pos_size=(16, 16),
        use_expand_proj=False,
        **_ABSWIN,
    ),
    "hiera_base_abswin_256": HieraArgs(embed_dim=96, num_heads=1, stages=(2, 3, 16, 3), **_ABSWIN),
}

_NC = dict(license="cc-by-nc-4.0")
_MAE = dict(_NC, num_classes=0)  # the MAE-pretrained encoders, no classifier
_R256 = dict(input_size=(3, 256, 256), crop_pct=0.95)
_MAE_ARCHS = [n for n in VARIANTS if n.endswith("_224")]
WEIGHTS = {
    **{
        f"{arch}.{tag}": fields
        for arch in _MAE_ARCHS
        for tag, fields in (("mae_in1k_ft_in1k", weight(_NC, default=True)), ("mae", weight(_MAE)))
    },
    "hiera_small_abswin_256.sbb2_e200_in12k_ft_in1k": weight(_R256, default=True),
    "hiera_small_abswin_256.sbb2_pd_e200_in12k_ft_in1k": weight(_R256),
    "hiera_small_abswin_256.sbb2_e200_in12k": weight(_R256, num_classes=11821),
    "hiera_small_abswin_256.sbb2_pd_e200_in12k": weight(_R256, num_classes=11821),
    "hiera_base_abswin_256.untrained": weight(_R256, NO_WEIGHTS),
}

default_cfgs = register_family(
    __name__,
    model_cls=Hiera,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        num_classes=1000,
        input_size=(3, 224, 224),
        pool_size=None,
        crop_pct=0.9,
        interpolation="bicubic",
        fixed_input_size=True,
        mean=IMAGENET_DEFAULT_MEAN,
        std=IMAGENET_DEFAULT_STD,
        first_conv="patch_embed.proj",
        classifier="head.fc",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=4, feature_cls="getter"),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:
    return family_entrypoint(__name__, name)
