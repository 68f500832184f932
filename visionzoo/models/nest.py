"""NesT: transformer layers run within non-overlapping image blocks only, and the hierarchy comes
from aggregating blocks between levels (conv -> norm -> 3x3 stride-2 max pool), each level
having a quarter of the previous level's blocks; fixed input size (learned per-block position
embeddings).

Paper: `Nested Hierarchical Transformer: Towards Accurate, Data-Efficient and Interpretable
Visual Understanding` - https://arxiv.org/abs/2105.12723

Weights: Apache-2.0 (google-research/nested-transformer, converted from JAX; they need TF
``'same'`` padding, hence the ``_jx`` variants). Module names follow timm's Nest, so its
checkpoints load unchanged; :func:`checkpoint_filter_fn` resizes position embeddings of another
input size.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import (
    DropPath,
    LayerNorm,
    LayerNorm2d,
    Mlp,
    PatchEmbed,
    calculate_drop_path_rates,
    create_conv2d,
    create_pool2d,
    trunc_normal_,
    window_partition,
    window_unpartition,
)
from ..layers.classifier import check_num_classes
from ..model import Trunk, VisionModel
from ..pretrained import NO_WEIGHTS, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["Nest", "NestLevel", "TransformerLayer", "checkpoint_filter_fn", "resize_pos_embed"]


def blockify(x: torch.Tensor, block_size: int) -> torch.Tensor:
    """``(B, H, W, C)`` -> ``(B, T, N, C)``: ``T`` blocks (row-major) of ``N = block_size ** 2``
    tokens."""
    b, _, _, c = x.shape
    windows = window_partition(x, (block_size, block_size))
    return windows.reshape(b, -1, block_size * block_size, c)


def deblockify(x: torch.Tensor, block_size: int, hw: tuple[int, int]) -> torch.Tensor:
    """The inverse of :func:`blockify`: ``(B, T, N, C)`` -> ``(B, H, W, C)``."""
    c = x.shape[-1]
    windows = x.reshape(-1, block_size, block_size, c)
    return window_unpartition(windows, (block_size, block_size), hw)


class Attention(nn.Module):
    """Multi-head self-attention within each block of ``(B, T, N, C)`` tokens.

    NOTE: the heads' outputs are merged channel-major (output channel ``c * heads + h``, not
    ``h * head_dim + c``) as in the original port, so ``proj`` reads the weights' layout.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        qkv_bias: bool,
        attn_drop: float,
        proj_drop: float,
        fused_attn: bool = True,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.fused_attn = fused_attn
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, n, c = x.shape
        # (3, B, heads, T, N, head_dim)
        qkv = self.qkv(x).reshape(b, t, n, 3, self.num_heads, self.head_dim).permute(3, 0, 4, 1, 2, 5)
        q, k, v = qkv.unbind(0)
        if self.fused_attn:
            x = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop.p if self.training else 0.0)
        else:
            x = self.attn_drop(((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)) @ v
        x = x.permute(0, 2, 3, 4, 1).reshape(b, t, n, c)  # (B, T, N, head_dim, heads)
        return self.proj_drop(self.proj(x))


class TransformerLayer(nn.Module):
    """A pre-norm ViT block on ``(B, T, N, C)``: attention runs within each of the ``T`` blocks."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        mlp_ratio: float,
        qkv_bias: bool,
        proj_drop: float,
        attn_drop: float,
        drop_path: float,
        norm_layer: Callable[[int], nn.Module],
        act_layer: type[nn.Module],
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=proj_drop)
        self.drop_path1: nn.Module = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=act_layer, drop=proj_drop)
        self.drop_path2: nn.Module = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path1(self.attn(self.norm1(x)))
        return x + self.drop_path2(self.mlp(self.norm2(x)))


class ConvPool(nn.Module):
    """Block aggregation: 3x3 conv -> LayerNorm over channels -> 3x3 stride-2 max pool (``'same'``
    padding for the JAX weights)."""

    def __init__(self, in_chs: int, out_chs: int, *, norm_eps: float, pad_type: str) -> None:
        super().__init__()
        self.conv = create_conv2d(in_chs, out_chs, 3, padding=pad_type, bias=True)
        self.norm = LayerNorm2d(out_chs, eps=norm_eps)
        self.pool = create_pool2d("max", 3, stride=2, padding=pad_type)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.norm(self.conv(x)))


class NestLevel(nn.Module):
    """One level: aggregate the previous level's map (not in the first), cut it into blocks, add
    the position embedding, run the transformer layers; NCHW in and out."""

    def __init__(
        self,
        num_blocks: int,
        block_size: int,
        seq_length: int,
        num_heads: int,
        depth: int,
        embed_dim: int,
        prev_embed_dim: int | None,
        *,
        drop_path_rates: Sequence[float],
        norm_eps: float,
        pad_type: str,
        **layer_kwargs: Any,
    ) -> None:
        super().__init__()
        self.block_size = block_size
        self.pos_embed = nn.Parameter(torch.zeros(1, num_blocks, seq_length, embed_dim))
        self.pool: nn.Module = (
            ConvPool(prev_embed_dim, embed_dim, norm_eps=norm_eps, pad_type=pad_type)
            if prev_embed_dim is not None
            else nn.Identity()
        )
        self.transformer_encoder = nn.Sequential(
            *(
                TransformerLayer(
                    embed_dim,
                    num_heads,
                    drop_path=drop_path_rates[i],
                    norm_layer=partial(LayerNorm, eps=norm_eps),
                    **layer_kwargs,
                )
                for i in range(depth)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(x).permute(0, 2, 3, 1)
        h, w = x.shape[1], x.shape[2]
        x = self.transformer_encoder(blockify(x, self.block_size) + self.pos_embed)
        return deblockify(x, self.block_size, (h, w)).permute(0, 3, 1, 2)


class Nest(VisionModel):
    """NesT: a patch embedding, then ``num_levels`` levels of block-local transformers, the last
    with a single block (global attention).

    Args:
        img_size: the (fixed, square) input size.
        in_chans: input channels.
        patch_size: patch embedding stride.
        num_levels: levels (block hierarchies); level ``i`` has ``4 ** (num_levels - 1 - i)`` blocks.
        embed_dims, num_heads, depths: per level (one value for all, or one per level).
        num_classes: classifier outputs (0 for none).
        mlp_ratio: MLP hidden width over the layer width.
        qkv_bias: bias on the attention ``qkv`` projections.
        drop_rate: dropout before the classifier.
        proj_drop_rate, attn_drop_rate: dropout after projections / on attention weights.
        drop_path_rate: stochastic depth, rising linearly to this over the layers.
        pad_type: ``''`` (symmetric) or ``'same'`` (TF, the JAX weights) padding of the aggregation.
        weight_init: ``''`` or ``'nlhb'`` (classifier bias ``-log(num_classes)``).
        global_pool: pooling in the head.
        norm_eps: epsilon of every norm.
    """

    trunk = Trunk(stem=("patch_embed",), stages=("levels.*",), post=("norm",), norm_last=True)
    classifier_name = "head"

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        head: nn.Module

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        in_chans: int = 3,
        patch_size: int = 4,
        num_levels: int = 3,
        embed_dims: int | Sequence[int] = (128, 256, 512),
        num_heads: int | Sequence[int] = (4, 8, 16),
        depths: int | Sequence[int] = (2, 2, 20),
        *,
        num_classes: int = 1000,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.5,
        pad_type: str = "",
        weight_init: str = "",
        global_pool: str = "avg",
        norm_eps: float = 1e-6,
    ) -> None:
        super().__init__()

        def per_level(name: str, value: int | Sequence[int]) -> list[int]:
            out = [value] * num_levels if isinstance(value, int) else list(value)
            if len(out) != num_levels:
                raise ValueError(f"{name} needs one value or {num_levels} (num_levels), got {value!r}")
            return out

        dims, heads = per_level("embed_dims", embed_dims), per_level("num_heads", num_heads)
        depth_list = per_level("depths", depths)
        if not isinstance(img_size, int):
            if img_size[0] != img_size[1]:
                raise ValueError(f"Nest takes square inputs only, got img_size={img_size!r}")
            img_size = img_size[0]
        if img_size % patch_size:
            raise ValueError(f"patch_size={patch_size} must divide img_size={img_size}")
        if weight_init not in ("", "nlhb"):
            raise ValueError(f"weight_init must be '' or 'nlhb', got {weight_init!r}")
        check_num_classes(num_classes)
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.num_levels = num_levels
        self.patch_size = patch_size
        self.weight_init = weight_init
        self.num_blocks = [4 ** (num_levels - 1 - i) for i in range(num_levels)]
        blocks_per_side = math.isqrt(self.num_blocks[0])
        grid = img_size // patch_size
        if grid % blocks_per_side:
            raise ValueError(
                f"the first level's {self.num_blocks[0]} blocks do not tile a {grid}x{grid} patch grid; "
                "check img_size, patch_size and num_levels"
            )
        self.block_size = grid // blocks_per_side  # block side, in patches

        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, dims[0], flatten=False)
        self.num_patches = self.patch_embed.num_patches
        self.seq_length = self.num_patches // self.num_blocks[0]
        rates = calculate_drop_path_rates(drop_path_rate, depth_list, stagewise=True)
        levels = []
        self.feature_info = []
        prev: int | None = None
        for i in range(num_levels):
            levels.append(
                NestLevel(
                    self.num_blocks[i],
                    self.block_size,
                    self.seq_length,
                    heads[i],
                    depth_list[i],
                    dims[i],
                    prev,
                    drop_path_rates=rates[i],  # type: ignore[arg-type]
                    norm_eps=norm_eps,
                    pad_type=pad_type,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    proj_drop=proj_drop_rate,
                    attn_drop=attn_drop_rate,
                    act_layer=nn.GELU,
                )
            )
            self.feature_info.append(dict(num_chs=dims[i], reduction=4 * 2**i, module=f"levels.{i}"))
            prev = dims[i]
        self.levels = nn.Sequential(*levels)
        # NOTE: a LayerNorm over the channels of the NCHW map (timm permutes around a LayerNorm)
        self.norm: nn.Module = LayerNorm2d(dims[-1], eps=norm_eps)
        self._init_head(dims[-1], num_classes, global_pool)
        self.head_drop = nn.Dropout(drop_rate)
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal (std 0.02) position embeddings, convs and linears, zero biases; with
        ``'nlhb'`` the classifier's bias starts at ``-log(num_classes)``."""
        head_bias = -math.log(self.num_classes) if self.weight_init == "nlhb" and self.num_classes else 0.0
        for level in self.levels.modules():
            if isinstance(level, NestLevel):
                trunc_normal_(level.pos_embed, std=0.02, a=-2, b=2)
        for name, m in self.named_modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                trunc_normal_(m.weight, std=0.02, a=-2, b=2)
                if m.bias is not None:
                    nn.init.constant_(m.bias, head_bias if name.startswith("head") else 0.0)

    def no_weight_decay(self) -> set[str]:
        return {f"levels.{i}.pos_embed" for i in range(len(self.levels))}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^patch_embed",
            blocks=[
                (r"^levels\.(\d+)" if coarse else r"^levels\.(\d+)\.transformer_encoder\.(\d+)", None),
                (r"^levels\.(\d+)\.(?:pool|pos_embed)", (0,)),
                (r"^norm", (99999,)),
            ],
        )

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.head_drop(self.global_pool(x))
        return x if pre_logits else self.head(x)


# --- checkpoint remap -----------------------------------------------------------------------------
def resize_pos_embed(posemb: torch.Tensor, new_shape: Sequence[int]) -> torch.Tensor:
    """A ``(1, T, N, C)`` block position embedding resampled (bicubic, as one square map) to
    ``new_shape`` ``(1, T', N', C)``: another input size."""
    old_block = math.isqrt(posemb.shape[2])
    old_side = math.isqrt(posemb.shape[1]) * old_block
    new_block = math.isqrt(new_shape[2])
    new_side = math.isqrt(new_shape[1]) * new_block
    grid = deblockify(posemb, old_block, (old_side, old_side)).permute(0, 3, 1, 2)
    grid = F.interpolate(grid, size=[new_side, new_side], mode="bicubic", align_corners=False)
    return blockify(grid.permute(0, 2, 3, 1), new_block)


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """Position embeddings of another input size resized to the model's.

    NOTE: timm's filter means to do this but matches no key of its own layout (``pos_embed_*``
    against ``levels.i.pos_embed``); a same-size checkpoint passes through unchanged either way.
    """
    ours = model.state_dict()
    out = dict(state_dict)
    for key, value in state_dict.items():
        if key.endswith(".pos_embed") and key in ours and value.shape != ours[key].shape:
            out[key] = resize_pos_embed(value, ours[key].shape)
    return out


# --- variants -------------------------------------------------------------------------------------
NestArgs = model_args_type(Nest)
_B = dict(embed_dims=(128, 256, 512), num_heads=(4, 8, 16), depths=(2, 2, 20))
_S = dict(embed_dims=(96, 192, 384), num_heads=(3, 6, 12), depths=(2, 2, 20))
_T = dict(embed_dims=(96, 192, 384), num_heads=(3, 6, 12), depths=(2, 2, 8))

VARIANTS: dict[str, Any] = {
    "nest_base": NestArgs(**_B),
    "nest_small": NestArgs(**_S),
    "nest_tiny": NestArgs(**_T),
    # the JAX weights were trained with TF 'same' padding
    "nest_base_jx": NestArgs(**_B, pad_type="same"),
    "nest_small_jx": NestArgs(**_S, pad_type="same"),
    "nest_tiny_jx": NestArgs(**_T, pad_type="same"),
}
DEPRECATED = {
    "jx_nest_base": "nest_base_jx",
    "jx_nest_small": "nest_small_jx",
    "jx_nest_tiny": "nest_tiny_jx",
}


# --- weights --------------------------------------------------------------------------------------
WEIGHTS: dict[str, dict[str, Any]] = {
    "nest_base.untrained": weight(NO_WEIGHTS),
    "nest_small.untrained": weight(NO_WEIGHTS),
    "nest_tiny.untrained": weight(NO_WEIGHTS),
    "nest_base_jx.goog_in1k": weight(),
    "nest_small_jx.goog_in1k": weight(),
    "nest_tiny_jx.goog_in1k": weight(),
}

default_cfgs = register_family(
    __name__,
    model_cls=Nest,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(14, 14),
        crop_pct=0.875,
        interpolation="bicubic",
        fixed_input_size=True,
        first_conv="patch_embed.proj",
        classifier="head",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
    deprecated=DEPRECATED,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. nest_tiny
    return family_entrypoint(__name__, name)
