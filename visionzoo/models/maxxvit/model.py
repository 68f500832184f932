"""MaxxVit: the blocks and the model shared by CoAtNet, MaxViT, MaxxViT and MaxxViT-V2.

A conv stem, then four stages of blocks picked per stage by letter: ``C`` a conv block (MBConv, or
ConvNeXt for the MaxxViT names), ``T`` a transformer block over the whole map (CoAtNet), ``M``
a conv block then block and grid partition attention (MaxViT), ``PM`` the experimental parallel
block (block and grid attention side by side, one MLP). Module names follow timm's ``MaxxVit``.
"""

from __future__ import annotations

import dataclasses
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

from ...layers import (
    ClassifierHead,
    DropPath,
    LayerScale,
    LayerScale2d,
    Mlp,
    NormMlpClassifierHead,
    calculate_drop_path_rates,
    create_attn,
    create_conv2d,
    get_norm_act_layer,
    get_norm_layer,
    make_divisible,
)
from ...layers.classifier import check_num_classes
from ...layers.grid_window import block_partition, block_unpartition, grid_partition, grid_unpartition
from ...layers.helpers import to_2tuple
from ...layers.pool import create_pool2d
from ...layers.pos_embed_rel import RelPosBias, RelPosBiasTf, RelPosMlp, resize_rel_pos_bias_table
from ...layers.weight_init import trunc_normal_tf_
from ...model import NormHeadModel, Trunk
from ...model_input import update_model_input_size

__all__ = [
    "Attention2d",
    "AttentionCl",
    "ConvNeXtBlock",
    "Downsample2d",
    "MaxxVit",
    "MaxxVitBlock",
    "MaxxVitConvCfg",
    "MaxxVitStage",
    "MaxxVitTransformerCfg",
    "MbConvBlock",
    "ParallelMaxxVitBlock",
    "ParallelPartitionAttention",
    "PartitionAttention2d",
    "PartitionAttentionCl",
    "Stem",
    "TransformerBlock2d",
    "checkpoint_filter_fn",
]

_POOL_TYPES = ("max", "max2", "avg", "avg2")
_REL_POS_TYPES = ("bias", "bias_tf", "mlp", "")
_INIT_SCHEMES = ("", "normal", "trunc_normal", "xavier_normal", "vit_eff")


@dataclasses.dataclass(frozen=True)
class MaxxVitTransformerCfg:
    """Attention blocks: head width, MLP expansion, norms, relative position type, partitions.

    ``window_size`` / ``grid_size`` None: both follow the input, ``img_size // partition_ratio``.
    ``expand_first``: a widening block attends at the output width (else at the input width, the
    projection widening). ``head_first``: ``qkv`` channels are ``(heads, 3, head_dim)``, else
    ``(3, heads, head_dim)`` (the TensorFlow weights). ``use_nchw_attn``: partition attention on
    NCHW maps with 1x1-conv projections and channels-first norms (no published weights).
    """

    dim_head: int = 32
    head_first: bool = True
    expand_ratio: float = 4.0
    expand_first: bool = True
    shortcut_bias: bool = True
    attn_bias: bool = True
    attn_drop: float = 0.0
    proj_drop: float = 0.0
    pool_type: str = "avg2"
    rel_pos_type: str = "bias"
    rel_pos_dim: int = 512
    partition_ratio: int = 32
    window_size: tuple[int, int] | None = None
    grid_size: tuple[int, int] | None = None
    no_block_attn: bool = False
    use_nchw_attn: bool = False
    init_values: float | None = None
    act_layer: str = "gelu"
    norm_layer: str = "layernorm2d"
    norm_layer_cl: str = "layernorm"
    norm_eps: float = 1e-6

    def __post_init__(self) -> None:
        if self.pool_type not in _POOL_TYPES:
            raise ValueError(f"pool_type={self.pool_type!r}; valid: {_POOL_TYPES}")
        if self.rel_pos_type not in _REL_POS_TYPES:
            raise ValueError(f"rel_pos_type={self.rel_pos_type!r}; valid: {_REL_POS_TYPES}")
        window = None if self.window_size is None else to_2tuple(self.window_size)
        grid = None if self.grid_size is None else to_2tuple(self.grid_size)
        object.__setattr__(self, "window_size", window)
        object.__setattr__(self, "grid_size", grid if grid is not None else window)


@dataclasses.dataclass(frozen=True)
class MaxxVitConvCfg:
    """Conv blocks: ``block_type`` ``'mbconv'`` (pre-norm MBConv with SE) or ``'convnext'``.

    ``stride_mode`` says where a stage's stride goes: ``'dw'`` (the kxk conv), ``'1x1'`` (the
    expansion conv), ``'pool'`` (a pool before it). ``expand_output``: the MBConv hidden width
    follows the output width (else the input). Norm names and eps left empty take the block
    type's defaults (batch norm, 1e-5 for MBConv; layer norm, 1e-6 for ConvNeXt).
    """

    block_type: str = "mbconv"
    expand_ratio: float = 4.0
    expand_output: bool = True
    kernel_size: int = 3
    group_size: int = 1
    pre_norm_act: bool = False
    output_bias: bool = True
    stride_mode: str = "dw"
    pool_type: str = "avg2"
    downsample_pool_type: str = "avg2"
    padding: str = ""
    attn_early: bool = False
    attn_layer: str = "se"
    attn_act_layer: str = "silu"
    attn_ratio: float = 0.25
    init_values: float | None = 1e-6
    act_layer: str = "gelu"
    norm_layer: str = ""
    norm_layer_cl: str = ""
    norm_eps: float | None = None

    def __post_init__(self) -> None:
        if self.block_type not in ("mbconv", "convnext"):
            raise ValueError(f"block_type={self.block_type!r}; valid: 'mbconv', 'convnext'")
        modes = ("pool", "1x1", "dw") if self.block_type == "mbconv" else ("pool", "dw")
        if self.stride_mode not in modes:
            raise ValueError(f"stride_mode={self.stride_mode!r} for {self.block_type}; valid: {modes}")
        mbconv = self.block_type == "mbconv"
        if not self.norm_layer:
            object.__setattr__(self, "norm_layer", "batchnorm2d" if mbconv else "layernorm2d")
        if not self.norm_layer_cl and not mbconv:
            object.__setattr__(self, "norm_layer_cl", "layernorm")
        if self.norm_eps is None:
            object.__setattr__(self, "norm_eps", 1e-5 if mbconv else 1e-6)
        object.__setattr__(self, "downsample_pool_type", self.downsample_pool_type or self.pool_type)


def _norm(name: str, eps: float | None) -> Callable[..., nn.Module]:
    layer = get_norm_layer(name)
    if layer is None:
        raise ValueError(f"unknown norm layer {name!r}")
    return partial(layer, eps=eps)


def _rel_pos_factory(
    cfg: MaxxVitTransformerCfg, window_size: tuple[int, int]
) -> Callable[..., nn.Module] | None:
    """The relative position module of a ``window_size`` attention window (``num_heads`` left)."""
    if cfg.rel_pos_type == "mlp":
        return partial(RelPosMlp, window_size, hidden_dim=cfg.rel_pos_dim)
    if cfg.rel_pos_type == "bias":
        return partial(RelPosBias, window_size)
    if cfg.rel_pos_type == "bias_tf":
        return partial(RelPosBiasTf, window_size)
    return None


# --- attention --------------------------------------------------------------------------------
class Attention2d(nn.Module):
    """Multi-head self-attention over the pixels of an NCHW map, 1x1-conv projections, ``dim_head``
    wide heads and an optional relative position bias (``rel_pos``)."""

    def __init__(
        self,
        dim: int,
        dim_out: int | None = None,
        *,
        dim_head: int = 32,
        bias: bool = True,
        expand_first: bool = True,
        head_first: bool = True,
        rel_pos: Callable[..., nn.Module] | None = None,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        dim_out = dim_out or dim
        dim_attn = dim_out if expand_first else dim
        self.num_heads = dim_attn // dim_head
        self.dim_head = dim_head
        self.head_first = head_first
        self.qkv = nn.Conv2d(dim, dim_attn * 3, 1, bias=bias)
        self.rel_pos = rel_pos(num_heads=self.num_heads) if rel_pos is not None else None
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Conv2d(dim_attn, dim_out, 1, bias=bias)
        self.proj_drop = nn.Dropout(proj_drop)

    def _bias(self) -> torch.Tensor | None:
        if self.rel_pos is None:
            return None
        return self.rel_pos.get_bias()  # type: ignore[operator]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        if self.head_first:
            q, k, v = self.qkv(x).view(b, self.num_heads, self.dim_head * 3, -1).chunk(3, dim=2)
        else:
            q, k, v = self.qkv(x).reshape(b, 3, self.num_heads, self.dim_head, -1).unbind(1)
        o = F.scaled_dot_product_attention(
            q.transpose(-1, -2).contiguous(),
            k.transpose(-1, -2).contiguous(),
            v.transpose(-1, -2).contiguous(),
            attn_mask=self._bias(),
            dropout_p=self.attn_drop.p if self.training else 0.0,
        )
        return self.proj_drop(self.proj(o.transpose(-1, -2).reshape(b, -1, h, w)))


class AttentionCl(nn.Module):
    """Multi-head self-attention over channels-last ``(B, ..., C)`` tokens, linear projections,
    ``dim_head`` wide heads and an optional relative position bias (``rel_pos``)."""

    def __init__(
        self,
        dim: int,
        dim_out: int | None = None,
        *,
        dim_head: int = 32,
        bias: bool = True,
        expand_first: bool = True,
        head_first: bool = True,
        rel_pos: Callable[..., nn.Module] | None = None,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        dim_out = dim_out or dim
        dim_attn = dim_out if expand_first and dim_out > dim else dim
        if dim_attn % dim_head:
            raise ValueError(f"attention width {dim_attn} is not a multiple of dim_head={dim_head}")
        self.num_heads = dim_attn // dim_head
        self.dim_head = dim_head
        self.head_first = head_first
        self.qkv = nn.Linear(dim, dim_attn * 3, bias=bias)
        self.rel_pos = rel_pos(num_heads=self.num_heads) if rel_pos is not None else None
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim_attn, dim_out, bias=bias)
        self.proj_drop = nn.Dropout(proj_drop)

    def _bias(self) -> torch.Tensor | None:
        if self.rel_pos is None:
            return None
        return self.rel_pos.get_bias()  # type: ignore[operator]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        if self.head_first:
            qkv = self.qkv(x).view(b, -1, self.num_heads, self.dim_head * 3).transpose(1, 2)
            q, k, v = qkv.chunk(3, dim=3)
        else:
            q, k, v = self.qkv(x).reshape(b, -1, 3, self.num_heads, self.dim_head).transpose(1, 3).unbind(2)
        o = F.scaled_dot_product_attention(
            q, k, v, attn_mask=self._bias(), dropout_p=self.attn_drop.p if self.training else 0.0
        )
        o = o.transpose(1, 2).flatten(2).unflatten(1, x.shape[1:-1])  # back to (B, ..., C)
        return self.proj_drop(self.proj(o))


# --- conv blocks ------------------------------------------------------------------------------
class Downsample2d(nn.Module):
    """Stride-2 pool (``max``/``avg``: 3x3 padded; ``max2``/``avg2``: 2x2), then a 1x1 conv where
    the width changes."""

    def __init__(
        self, dim: int, dim_out: int, *, pool_type: str = "avg2", padding: str = "", bias: bool = True
    ) -> None:
        super().__init__()
        if pool_type not in _POOL_TYPES:
            raise ValueError(f"pool_type={pool_type!r}; valid: {_POOL_TYPES}")
        if pool_type == "max":
            self.pool = create_pool2d("max", 3, stride=2, padding=padding or 1)
        elif pool_type == "max2":
            self.pool = create_pool2d("max", 2, padding=padding or 0)
        elif pool_type == "avg":
            self.pool = create_pool2d("avg", 3, stride=2, padding=padding or 1, count_include_pad=False)
        else:
            self.pool = create_pool2d("avg", 2, padding=padding or 0)
        self.expand = nn.Conv2d(dim, dim_out, 1, bias=bias) if dim != dim_out else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.expand(self.pool(x))


class MbConvBlock(nn.Module):
    """Pre-norm inverted bottleneck: norm, 1x1 expand, kxk depthwise (grouped), SE, 1x1 project."""

    def __init__(
        self, in_chs: int, out_chs: int, *, stride: int = 1, cfg: MaxxVitConvCfg, drop_path: float = 0.0
    ) -> None:
        super().__init__()
        norm_act = get_norm_act_layer(cfg.norm_layer, cfg.act_layer)
        assert norm_act is not None
        norm_act = partial(norm_act, eps=cfg.norm_eps)
        mid_chs = make_divisible((out_chs if cfg.expand_output else in_chs) * cfg.expand_ratio)
        groups = mid_chs // cfg.group_size if cfg.group_size else 1
        self.shortcut: nn.Module = (
            Downsample2d(in_chs, out_chs, pool_type=cfg.pool_type, bias=cfg.output_bias, padding=cfg.padding)
            if stride == 2
            else nn.Identity()
        )
        stride_pool = stride if cfg.stride_mode == "pool" else 1
        stride_1x1 = stride if cfg.stride_mode == "1x1" else 1
        stride_kxk = stride if cfg.stride_mode == "dw" else 1
        self.pre_norm = norm_act(in_chs, apply_act=cfg.pre_norm_act)
        self.down: nn.Module = (
            Downsample2d(in_chs, in_chs, pool_type=cfg.downsample_pool_type, padding=cfg.padding)
            if stride_pool > 1
            else nn.Identity()
        )
        self.conv1_1x1 = create_conv2d(in_chs, mid_chs, 1, stride=stride_1x1)
        self.norm1 = norm_act(mid_chs)
        self.conv2_kxk = create_conv2d(
            mid_chs, mid_chs, cfg.kernel_size, stride=stride_kxk, groups=groups, padding=cfg.padding
        )
        attn_kwargs: dict[str, Any] = {}
        if cfg.attn_layer in ("se", "eca"):
            attn_kwargs = dict(
                act_layer=cfg.attn_act_layer,
                rd_channels=int(cfg.attn_ratio * (out_chs if cfg.expand_output else mid_chs)),
            )
        # NOTE: two orders of SE and norm2 (some weights were trained with SE before norm2)
        if cfg.attn_early:
            self.se_early = create_attn(cfg.attn_layer, mid_chs, **attn_kwargs)
            self.norm2 = norm_act(mid_chs)
            self.se = None
        else:
            self.se_early = None
            self.norm2 = norm_act(mid_chs)
            self.se = create_attn(cfg.attn_layer, mid_chs, **attn_kwargs)
        self.conv3_1x1 = create_conv2d(mid_chs, out_chs, 1, bias=cfg.output_bias)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.shortcut(x)
        x = self.norm1(self.conv1_1x1(self.down(self.pre_norm(x))))
        x = self.conv2_kxk(x)
        if self.se_early is not None:
            x = self.se_early(x)
        x = self.norm2(x)
        if self.se is not None:
            x = self.se(x)
        return self.drop_path(self.conv3_1x1(x)) + shortcut


class ConvNeXtBlock(nn.Module):
    """ConvNeXt block on NCHW maps: 7x7 depthwise conv, norm, 1x1-conv MLP, layer scale. A
    strided block pools its shortcut (and, with ``stride_mode='pool'``, its input)."""

    def __init__(
        self, in_chs: int, out_chs: int, *, stride: int = 1, cfg: MaxxVitConvCfg, drop_path: float = 0.0
    ) -> None:
        super().__init__()
        if stride == 2:
            self.shortcut: nn.Module = Downsample2d(in_chs, out_chs)
        elif in_chs != out_chs:
            self.shortcut = nn.Conv2d(in_chs, out_chs, 1, bias=cfg.output_bias)
        else:
            self.shortcut = nn.Identity()
        stride_pool = stride if cfg.stride_mode == "pool" else 1
        stride_dw = stride if cfg.stride_mode == "dw" else 1
        self.down: nn.Module = (
            Downsample2d(in_chs, in_chs, pool_type=cfg.downsample_pool_type)
            if stride_pool == 2
            else nn.Identity()
        )
        # NOTE: groups=in_chs with out_chs outputs (a channel multiplier where the width grows)
        self.conv_dw = create_conv2d(
            in_chs, out_chs, 7, stride=stride_dw, groups=in_chs, bias=cfg.output_bias
        )
        self.norm = _norm(cfg.norm_layer, cfg.norm_eps)(out_chs)
        self.mlp = Mlp(
            out_chs,
            int(cfg.expand_ratio * out_chs),
            act_layer=cfg.act_layer,
            bias=cfg.output_bias,
            use_conv=True,
        )
        self.ls = LayerScale2d(out_chs, cfg.init_values) if cfg.init_values else nn.Identity()
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = self.shortcut(x)
        x = self.ls(self.mlp(self.norm(self.conv_dw(self.down(x)))))
        return self.drop_path(x) + shortcut


def _conv_block(
    in_chs: int, out_chs: int, *, stride: int = 1, cfg: MaxxVitConvCfg, drop_path: float = 0.0
) -> nn.Module:
    cls = ConvNeXtBlock if cfg.block_type == "convnext" else MbConvBlock
    return cls(in_chs, out_chs, stride=stride, cfg=cfg, drop_path=drop_path)


# --- transformer blocks -----------------------------------------------------------------------
class TransformerBlock2d(nn.Module):
    """Pre-norm attention over the whole NCHW map plus a 1x1-conv MLP (CoAtNet's ``T``). A strided
    block pools the normed input and the shortcut."""

    def __init__(
        self,
        dim: int,
        dim_out: int,
        *,
        stride: int = 1,
        rel_pos: Callable[..., nn.Module] | None = None,
        cfg: MaxxVitTransformerCfg,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        norm = _norm(cfg.norm_layer, cfg.norm_eps)
        if stride == 2:
            self.shortcut: nn.Module = Downsample2d(
                dim, dim_out, pool_type=cfg.pool_type, bias=cfg.shortcut_bias
            )
            self.norm1: nn.Module = nn.Sequential(
                OrderedDict(norm=norm(dim), down=Downsample2d(dim, dim, pool_type=cfg.pool_type))
            )
        else:
            if dim != dim_out:
                raise ValueError(f"an unstrided transformer block keeps its width ({dim} -> {dim_out})")
            self.shortcut = nn.Identity()
            self.norm1 = norm(dim)
        self.attn = Attention2d(
            dim,
            dim_out,
            dim_head=cfg.dim_head,
            expand_first=cfg.expand_first,
            bias=cfg.attn_bias,
            rel_pos=rel_pos,
            attn_drop=cfg.attn_drop,
            proj_drop=cfg.proj_drop,
        )
        self.ls1 = LayerScale2d(dim_out, cfg.init_values) if cfg.init_values else nn.Identity()
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm(dim_out)
        self.mlp = Mlp(
            dim_out,
            int(dim_out * cfg.expand_ratio),
            act_layer=cfg.act_layer,
            drop=cfg.proj_drop,
            use_conv=True,
        )
        self.ls2 = LayerScale2d(dim_out, cfg.init_values) if cfg.init_values else nn.Identity()
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def set_input_size(
        self, feat_size: tuple[int, int], window_size: tuple[int, int], grid_size: tuple[int, int]
    ) -> None:
        """The bias covers the whole (output) map: it follows ``feat_size``."""
        if self.attn.rel_pos is not None:
            self.attn.rel_pos.set_window_size(feat_size)  # type: ignore[operator]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.shortcut(x) + self.drop_path1(self.ls1(self.attn(self.norm1(x))))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))


class PartitionAttentionCl(nn.Module):
    """Block or grid partition attention plus an MLP, on channels-last ``(B, H, W, C)`` maps."""

    def __init__(
        self, dim: int, *, partition_type: str = "block", cfg: MaxxVitTransformerCfg, drop_path: float = 0.0
    ) -> None:
        super().__init__()
        norm = _norm(cfg.norm_layer_cl, cfg.norm_eps)
        self.partition_block = partition_type == "block"
        size = cfg.window_size if self.partition_block else cfg.grid_size
        assert size is not None
        self.partition_size = size
        self.norm1 = norm(dim)
        self.attn = AttentionCl(
            dim,
            dim,
            dim_head=cfg.dim_head,
            bias=cfg.attn_bias,
            head_first=cfg.head_first,
            rel_pos=_rel_pos_factory(cfg, size),
            attn_drop=cfg.attn_drop,
            proj_drop=cfg.proj_drop,
        )
        self.ls1 = LayerScale(dim, cfg.init_values) if cfg.init_values else nn.Identity()
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm(dim)
        self.mlp = Mlp(dim, int(dim * cfg.expand_ratio), act_layer=cfg.act_layer, drop=cfg.proj_drop)
        self.ls2 = LayerScale(dim, cfg.init_values) if cfg.init_values else nn.Identity()
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def set_partition_size(self, partition_size: tuple[int, int]) -> None:
        """Another window / grid: the relative position bias follows."""
        self.partition_size = to_2tuple(partition_size)
        if self.attn.rel_pos is not None:
            self.attn.rel_pos.set_window_size(self.partition_size)  # type: ignore[operator]

    def _partition_attn(self, x: torch.Tensor) -> torch.Tensor:
        hw = (x.shape[1], x.shape[2])
        if self.partition_block:
            return block_unpartition(
                self.attn(block_partition(x, self.partition_size)), self.partition_size, hw
            )
        return grid_unpartition(self.attn(grid_partition(x, self.partition_size)), self.partition_size, hw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path1(self.ls1(self._partition_attn(self.norm1(x))))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))


class PartitionAttention2d(nn.Module):
    """Block or grid partition attention plus an MLP, on NCHW maps (1x1-conv projections,
    channels-first norms): ``use_nchw_attn``."""

    def __init__(
        self, dim: int, *, partition_type: str = "block", cfg: MaxxVitTransformerCfg, drop_path: float = 0.0
    ) -> None:
        super().__init__()
        norm = _norm(cfg.norm_layer, cfg.norm_eps)
        self.partition_block = partition_type == "block"
        size = cfg.window_size if self.partition_block else cfg.grid_size
        assert size is not None
        self.partition_size = size
        self.norm1 = norm(dim)
        self.attn = Attention2d(
            dim,
            dim,
            dim_head=cfg.dim_head,
            bias=cfg.attn_bias,
            head_first=cfg.head_first,
            rel_pos=_rel_pos_factory(cfg, size),
            attn_drop=cfg.attn_drop,
            proj_drop=cfg.proj_drop,
        )
        self.ls1 = LayerScale2d(dim, cfg.init_values) if cfg.init_values else nn.Identity()
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm(dim)
        self.mlp = Mlp(
            dim,
            int(dim * cfg.expand_ratio),
            act_layer=cfg.act_layer,
            drop=cfg.proj_drop,
            use_conv=True,
        )
        self.ls2 = LayerScale2d(dim, cfg.init_values) if cfg.init_values else nn.Identity()
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def set_partition_size(self, partition_size: tuple[int, int]) -> None:
        """Another window / grid: the relative position bias follows."""
        self.partition_size = to_2tuple(partition_size)
        if self.attn.rel_pos is not None:
            self.attn.rel_pos.set_window_size(self.partition_size)  # type: ignore[operator]

    def _partition_attn(self, x: torch.Tensor) -> torch.Tensor:
        # the partitions are cut channels-last and attended as NCHW windows
        hw = (x.shape[2], x.shape[3])
        x = x.permute(0, 2, 3, 1)
        if self.partition_block:
            windows = block_partition(x, self.partition_size)
        else:
            windows = grid_partition(x, self.partition_size)
        windows = self.attn(windows.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        if self.partition_block:
            x = block_unpartition(windows, self.partition_size, hw)
        else:
            x = grid_unpartition(windows, self.partition_size, hw)
        return x.permute(0, 3, 1, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path1(self.ls1(self._partition_attn(self.norm1(x))))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))


class ParallelPartitionAttention(nn.Module):
    """Block and grid attention side by side (each half the width, concatenated), one MLP, on
    channels-last maps (timm's experimental ``PM`` block)."""

    def __init__(self, dim: int, *, cfg: MaxxVitTransformerCfg, drop_path: float = 0.0) -> None:
        super().__init__()
        if dim % 2:
            raise ValueError(f"parallel partition attention splits the width in two, got {dim}")
        if cfg.window_size != cfg.grid_size or cfg.window_size is None:
            raise ValueError("parallel partition attention needs window_size == grid_size")
        norm = _norm(cfg.norm_layer_cl, cfg.norm_eps)
        self.partition_size = cfg.window_size
        rel_pos = _rel_pos_factory(cfg, cfg.window_size)
        self.norm1 = norm(dim)
        attn = partial(
            AttentionCl,
            dim,
            dim // 2,
            dim_head=cfg.dim_head,
            bias=cfg.attn_bias,
            head_first=cfg.head_first,
            rel_pos=rel_pos,
            attn_drop=cfg.attn_drop,
            proj_drop=cfg.proj_drop,
        )
        self.attn_block = attn()
        self.attn_grid = attn()
        self.ls1 = LayerScale(dim, cfg.init_values) if cfg.init_values else nn.Identity()
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm(dim)
        self.mlp = Mlp(dim, int(dim * cfg.expand_ratio), dim, act_layer=cfg.act_layer, drop=cfg.proj_drop)
        self.ls2 = LayerScale(dim, cfg.init_values) if cfg.init_values else nn.Identity()
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def set_partition_size(self, partition_size: tuple[int, int]) -> None:
        """Another window (= grid): both biases follow."""
        self.partition_size = to_2tuple(partition_size)
        for attn in (self.attn_block, self.attn_grid):
            if attn.rel_pos is not None:
                attn.rel_pos.set_window_size(self.partition_size)  # type: ignore[operator]

    def _partition_attn(self, x: torch.Tensor) -> torch.Tensor:
        hw = (x.shape[1], x.shape[2])
        size = self.partition_size
        x_block = block_unpartition(self.attn_block(block_partition(x, size)), size, hw)
        x_grid = grid_unpartition(self.attn_grid(grid_partition(x, size)), size, hw)
        return torch.cat([x_block, x_grid], dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path1(self.ls1(self._partition_attn(self.norm1(x))))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))


class MaxxVitBlock(nn.Module):
    """MaxViT's block: a conv block, block (window) attention, grid attention. NCHW in and out;
    the attention runs channels-last unless ``use_nchw_attn``."""

    def __init__(
        self,
        dim: int,
        dim_out: int,
        *,
        stride: int = 1,
        conv_cfg: MaxxVitConvCfg,
        transformer_cfg: MaxxVitTransformerCfg,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.nchw_attn = transformer_cfg.use_nchw_attn
        self.conv = _conv_block(dim, dim_out, stride=stride, cfg=conv_cfg, drop_path=drop_path)
        layer = PartitionAttention2d if self.nchw_attn else PartitionAttentionCl
        self.attn_block = (
            None
            if transformer_cfg.no_block_attn
            else layer(dim_out, cfg=transformer_cfg, drop_path=drop_path)
        )
        self.attn_grid = layer(dim_out, partition_type="grid", cfg=transformer_cfg, drop_path=drop_path)

    def set_input_size(
        self, feat_size: tuple[int, int], window_size: tuple[int, int], grid_size: tuple[int, int]
    ) -> None:
        """New window and grid sizes (the partitions do not depend on the map size)."""
        if self.attn_block is not None:
            self.attn_block.set_partition_size(window_size)
        self.attn_grid.set_partition_size(grid_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if not self.nchw_attn:
            x = x.permute(0, 2, 3, 1)
        if self.attn_block is not None:
            x = self.attn_block(x)
        x = self.attn_grid(x)
        if not self.nchw_attn:
            x = x.permute(0, 3, 1, 2)
        return x


class ParallelMaxxVitBlock(nn.Module):
    """Two conv blocks, then :class:`ParallelPartitionAttention` (timm's experimental ``PM``)."""

    def __init__(
        self,
        dim: int,
        dim_out: int,
        *,
        stride: int = 1,
        num_conv: int = 2,
        conv_cfg: MaxxVitConvCfg,
        transformer_cfg: MaxxVitTransformerCfg,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        first = _conv_block(dim, dim_out, stride=stride, cfg=conv_cfg, drop_path=drop_path)
        if num_conv > 1:
            # NOTE: timm repeats one module instance for the convs after the second (one shared
            # block); the published configs use two, where that makes no difference
            rest = _conv_block(dim_out, dim_out, cfg=conv_cfg, drop_path=drop_path)
            self.conv: nn.Module = nn.Sequential(first, *([rest] * (num_conv - 1)))
        else:
            self.conv = first
        self.attn = ParallelPartitionAttention(dim_out, cfg=transformer_cfg, drop_path=drop_path)

    def set_input_size(
        self, feat_size: tuple[int, int], window_size: tuple[int, int], grid_size: tuple[int, int]
    ) -> None:
        """A new partition size (window and grid must agree)."""
        if to_2tuple(window_size) != to_2tuple(grid_size):
            raise ValueError(
                f"the parallel block needs window_size == grid_size, got {window_size}, {grid_size}"
            )
        self.attn.set_partition_size(window_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x).permute(0, 2, 3, 1)
        return self.attn(x).permute(0, 3, 1, 2)


_BLOCK_TYPES = ("C", "T", "M", "PM")


class MaxxVitStage(nn.Module):
    """One stage: blocks by letter (``C``, ``T``, ``M``, ``PM``), the first strided."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        stride: int = 2,
        depth: int = 4,
        feat_size: tuple[int, int] = (14, 14),
        block_types: str | Sequence[str] = "C",
        transformer_cfg: MaxxVitTransformerCfg,
        conv_cfg: MaxxVitConvCfg,
        drop_path: Sequence[float] = (),
    ) -> None:
        super().__init__()
        types = (block_types,) if isinstance(block_types, str) else tuple(block_types)
        types = types + (types[-1],) * (depth - len(types))
        blocks: list[nn.Module] = []
        for i, kind in enumerate(types[:depth]):
            if kind not in _BLOCK_TYPES:
                raise ValueError(f"block type {kind!r}; valid: {_BLOCK_TYPES}")
            s = stride if i == 0 else 1
            dp = drop_path[i] if drop_path else 0.0
            if kind == "C":
                blocks.append(_conv_block(in_chs, out_chs, stride=s, cfg=conv_cfg, drop_path=dp))
            elif kind == "T":
                rel_pos = _rel_pos_factory(transformer_cfg, feat_size)
                blocks.append(
                    TransformerBlock2d(
                        in_chs, out_chs, stride=s, rel_pos=rel_pos, cfg=transformer_cfg, drop_path=dp
                    )
                )
            else:
                cls = MaxxVitBlock if kind == "M" else ParallelMaxxVitBlock
                blocks.append(
                    cls(
                        in_chs,
                        out_chs,
                        stride=s,
                        conv_cfg=conv_cfg,
                        transformer_cfg=transformer_cfg,
                        drop_path=dp,
                    )
                )
            in_chs = out_chs
        self.blocks = nn.Sequential(*blocks)

    def set_input_size(
        self, feat_size: tuple[int, int], window_size: tuple[int, int], grid_size: tuple[int, int]
    ) -> None:
        for block in self.blocks:
            if isinstance(block, (TransformerBlock2d, MaxxVitBlock, ParallelMaxxVitBlock)):
                block.set_input_size(feat_size, window_size, grid_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class Stem(nn.Module):
    """Stride-2 3x3 conv, norm + act, 3x3 conv."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int | tuple[int, int],
        *,
        padding: str = "",
        bias: bool = False,
        act_layer: str = "gelu",
        norm_layer: str = "batchnorm2d",
        norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        chs = to_2tuple(out_chs)
        norm_act = get_norm_act_layer(norm_layer, act_layer)
        assert norm_act is not None
        self.out_chs = chs[1]
        self.stride = 2
        self.conv1 = create_conv2d(in_chs, chs[0], 3, stride=2, padding=padding, bias=bias)
        self.norm1 = norm_act(chs[0], eps=norm_eps)
        self.conv2 = create_conv2d(chs[0], chs[1], 3, padding=padding, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.norm1(self.conv1(x)))


# --- init -------------------------------------------------------------------------------------
def _init_layer(module: nn.Module, name: str, scheme: str, *, transformer: bool) -> None:
    """timm's schemes: ``normal`` / ``trunc_normal`` (std 0.02) / ``xavier_normal``; otherwise
    ViT-like for attention blocks (xavier uniform, tiny MLP biases) and EfficientNet-like fan-out
    normal for conv blocks."""
    if not isinstance(module, (nn.Conv2d, nn.Linear)) or (not transformer and isinstance(module, nn.Linear)):
        return
    if scheme == "normal":
        nn.init.normal_(module.weight, std=0.02)
    elif scheme == "trunc_normal":
        trunc_normal_tf_(module.weight, std=0.02)
    elif scheme == "xavier_normal":
        nn.init.xavier_normal_(module.weight)
    elif transformer:
        nn.init.xavier_uniform_(module.weight)
        if module.bias is not None and "mlp" in name:
            nn.init.normal_(module.bias, std=1e-6)
            return
    else:
        assert isinstance(module, nn.Conv2d)
        fan_out = module.kernel_size[0] * module.kernel_size[1] * module.out_channels // module.groups
        nn.init.normal_(module.weight, 0, math.sqrt(2.0 / fan_out))
    if module.bias is not None:
        nn.init.zeros_(module.bias)


def _init_block(block: nn.Module, scheme: str) -> None:
    def apply(part: nn.Module | None, transformer: bool) -> None:
        if part is not None:
            for name, m in part.named_modules():
                _init_layer(m, name, scheme, transformer=transformer)

    if isinstance(block, MaxxVitBlock):
        apply(block.attn_block, True)
        apply(block.attn_grid, True)
        apply(block.conv, False)
    elif isinstance(block, ParallelMaxxVitBlock):
        apply(block.attn, True)
        apply(block.conv, False)
    elif isinstance(block, TransformerBlock2d):
        apply(block, True)
    elif isinstance(block, MbConvBlock):
        apply(block, False)
    # NOTE: timm leaves its ConvNeXt blocks (in C stages) at PyTorch's default init


# --- model ------------------------------------------------------------------------------------
class MaxxVit(NormHeadModel):
    """CoAtNet / MaxViT / MaxxViT: conv stem, four stages of blocks by letter, final norm, head.

    Args:
        embed_dim: stage widths.
        depths: blocks per stage.
        block_type: per stage, a letter or a sequence of letters (the last repeats): ``C`` conv,
            ``T`` transformer over the whole map, ``M`` MaxViT block, ``PM`` parallel MaxViT block.
        stem_width: the stem's width (or its two convs' widths).
        stem_bias: biases on the stem convs.
        conv_cfg: the conv blocks (and the stem's norm and activation).
        transformer_cfg: the attention blocks (and the final norm).
        head_hidden_size: a pool -> norm -> ``fc -> tanh`` head of this width (the final norm
            moves into the head); None: final norm -> pool -> fc.
        weight_init: ``vit_eff`` (default), ``normal``, ``trunc_normal``, ``xavier_normal``, or
            ``''`` (PyTorch's defaults).
        img_size: the input size; the partition windows and the ``T`` blocks' biases follow it.
    """

    trunk = Trunk(
        stem=("stem",),
        stages=("stages.*",),
        post=("norm",),
        blocks=("blocks.*",),
        checkpoint="block",
        norm_last=True,
    )
    head_names = ("head",)

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        head: NormMlpClassifierHead | ClassifierHead

    def __init__(
        self,
        embed_dim: tuple[int, ...] = (96, 192, 384, 768),
        depths: tuple[int, ...] = (2, 3, 5, 2),
        block_type: tuple[str | tuple[str, ...], ...] = ("C", "C", "T", "T"),
        stem_width: int | tuple[int, int] = 64,
        *,
        stem_bias: bool = False,
        conv_cfg: MaxxVitConvCfg = MaxxVitConvCfg(),
        transformer_cfg: MaxxVitTransformerCfg = MaxxVitTransformerCfg(),
        head_hidden_size: int | None = None,
        weight_init: str = "vit_eff",
        img_size: int | tuple[int, int] = 224,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        check_num_classes(num_classes)
        if not len(embed_dim) == len(depths) == len(block_type):
            raise ValueError(
                "embed_dim, depths and block_type need one entry per stage, "
                f"got {embed_dim}, {depths}, {block_type}"
            )
        if weight_init not in _INIT_SCHEMES:
            raise ValueError(f"weight_init={weight_init!r}; valid: {_INIT_SCHEMES}")
        self.img_size = to_2tuple(img_size)
        self.partition_ratio = transformer_cfg.partition_ratio
        if transformer_cfg.window_size is None:
            size = (self.img_size[0] // self.partition_ratio, self.img_size[1] // self.partition_ratio)
            transformer_cfg = dataclasses.replace(transformer_cfg, window_size=size, grid_size=size)
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.weight_init = weight_init
        self.stem = Stem(
            in_chans,
            stem_width,
            padding=conv_cfg.padding,
            bias=stem_bias,
            act_layer=conv_cfg.act_layer,
            norm_layer=conv_cfg.norm_layer,
            norm_eps=conv_cfg.norm_eps or 1e-5,
        )
        stride = self.stem.stride
        self.feature_info = [dict(num_chs=self.stem.out_chs, reduction=stride, module="stem")]
        feat_size = (self.img_size[0] // stride, self.img_size[1] // stride)
        dpr = calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        in_chs = self.stem.out_chs
        stages = []
        for i, (width, depth) in enumerate(zip(embed_dim, depths)):
            feat_size = ((feat_size[0] - 1) // 2 + 1, (feat_size[1] - 1) // 2 + 1)
            stages.append(
                MaxxVitStage(
                    in_chs,
                    width,
                    depth=depth,
                    block_types=block_type[i],
                    conv_cfg=conv_cfg,
                    transformer_cfg=transformer_cfg,
                    feat_size=feat_size,
                    drop_path=dpr[i],  # type: ignore[arg-type]
                )
            )
            stride *= 2
            in_chs = width
            self.feature_info.append(dict(num_chs=width, reduction=stride, module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.num_features = embed_dim[-1]
        final_norm = _norm(transformer_cfg.norm_layer, transformer_cfg.norm_eps)
        if head_hidden_size:
            self.norm: nn.Module = nn.Identity()  # NOTE: the head norms (after pooling)
            self.head = NormMlpClassifierHead(
                self.num_features,
                num_classes,
                head_hidden_size,
                global_pool,
                drop_rate,
                norm_layer=final_norm,
            )
        else:
            self.norm = final_norm(self.num_features)
            self.head = ClassifierHead(self.num_features, num_classes, global_pool, drop_rate)
        self.head_hidden_size = int(self.head.num_features)
        self._initialize()

    def init_weights(self) -> None:
        """timm's init (``weight_init``): each block by its kind, then the stem as a conv."""
        if not self.weight_init:
            return
        for stage in self.stages:
            assert isinstance(stage, MaxxVitStage)
            for block in stage.blocks:
                _init_block(block, self.weight_init)
        for name, m in self.stem.named_modules():
            _init_layer(m, name, self.weight_init, transformer=False)

    def no_weight_decay(self) -> set[str]:
        """The relative position tables and MLPs."""
        return {
            k for k, _ in self.named_parameters() if "relative_position_bias_table" in k or "rel_pos.mlp" in k
        }

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^stem", blocks=[(r"^stages\.(\d+)", None), (r"^norm", (99999,))])

    def set_input_size(
        self,
        img_size: int | tuple[int, int] | None = None,
        window_size: int | tuple[int, int] | None = None,
        grid_size: int | tuple[int, int] | None = None,
        partition_ratio: int | None = None,
    ) -> None:
        """A new input size: the windows and grids (``img_size // partition_ratio`` unless given)
        and the ``T`` blocks' biases follow, tables resampled as timm does."""
        if img_size is not None:
            self.img_size = to_2tuple(img_size)
        if partition_ratio is not None:
            self.partition_ratio = partition_ratio
        size = (self.img_size[0] // self.partition_ratio, self.img_size[1] // self.partition_ratio)
        window = size if window_size is None else to_2tuple(window_size)
        grid = size if grid_size is None else to_2tuple(grid_size)
        feat = (self.img_size[0] // self.stem.stride, self.img_size[1] // self.stem.stride)
        for stage in self.stages:
            assert isinstance(stage, MaxxVitStage)
            feat = ((feat[0] - 1) // 2 + 1, (feat[1] - 1) // 2 + 1)
            stage.set_input_size(feat, window, grid)
        update_model_input_size(self, self.img_size)


# --- checkpoint remap -------------------------------------------------------------------------
def checkpoint_filter_fn(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """A checkpoint of another input size: bias tables resampled to this model's windows (as
    timm does on load); conv <-> linear weights of the same size reshaped."""
    own = model.state_dict()
    out = {}
    for k, v in state_dict.items():
        if k.endswith("relative_position_bias_table"):
            m = model.get_submodule(k[: -len(".relative_position_bias_table")])
            table = m.get_parameter("relative_position_bias_table")
            window = tuple(m.window_size)  # type: ignore[arg-type]
            if v.shape != table.shape or window[0] != window[1]:
                v = resize_rel_pos_bias_table(v, new_window_size=window, new_bias_shape=tuple(table.shape))  # type: ignore[arg-type]
        if k in own and v.ndim != own[k].ndim and v.numel() == own[k].numel():
            if v.ndim not in (2, 4):
                raise ValueError(f"{k}: cannot reshape a {v.ndim}-d tensor to {tuple(own[k].shape)}")
            v = v.reshape(own[k].shape)
        out[k] = v
    return out
