"""MViTv2: multiscale ViT with pooling attention and decomposed relative positions.

Paper: `MViTv2: Improved Multiscale Vision Transformers for Classification and Detection` -
https://arxiv.org/abs/2112.01526

Weights: Meta's ImageNet-1k / -21k classifiers (facebookresearch/mvit, Apache-2.0). Module names
follow timm's ``mvitv2``; the original release layout (``model_state``, flat ``blocks.N``,
``proj``, ``head.projection``) through :func:`checkpoint_filter_fn`.

Every attention layer pools its queries, keys and values (a depthwise conv + norm per head, or a
max / avg pool) before attending; a stage's first block pools the queries by the stage stride,
which downsamples the token grid (the shortcut is max-pooled alike). Tokens stay ``(B, N, C)``
(a class token first for the ``_cls`` variants); ``forward_intermediates`` gives each stage's
tokens on their grid.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..features import feature_take_indices
from ..layers import (
    DropPath,
    LayerType,
    Mlp,
    add_decomposed_rel_pos,
    calculate_drop_path_rates,
    get_norm_layer,
    register_notrace_function,
    to_2tuple,
    trunc_normal_tf_,
)
from ..layers.classifier import check_num_classes
from ..model import TokenModel
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, NO_WEIGHTS, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "MultiScaleAttention",
    "MultiScaleAttentionPoolFirst",
    "MultiScaleBlock",
    "MultiScaleVit",
    "MultiScaleVitCfg",
    "MultiScaleVitStage",
    "checkpoint_filter_fn",
]

LayerFn = Callable[..., nn.Module]
# NOTE: leaves for torch.fx.symbolic_trace: their shape arithmetic reads tensor sizes
torch.fx.wrap("add_decomposed_rel_pos")


class PatchEmbed(nn.Module):
    """Conv patch embedding: ``(B, C, H, W)`` -> tokens ``(B, h * w, dim)`` and their grid."""

    def __init__(
        self,
        dim_in: int = 3,
        dim_out: int = 768,
        kernel: tuple[int, int] = (7, 7),
        stride: tuple[int, int] = (4, 4),
        padding: tuple[int, int] = (3, 3),
    ) -> None:
        super().__init__()
        self.proj = nn.Conv2d(dim_in, dim_out, kernel_size=kernel, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
        x = self.proj(x)
        return x.flatten(2).transpose(1, 2), [x.shape[-2], x.shape[-1]]


@register_notrace_function
def _to_grid(
    x: torch.Tensor, feat_size: list[int], has_cls_token: bool
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Per-head tokens ``(B, heads, prefix + H * W, d)`` -> maps ``(B * heads, d, H, W)`` and the
    class token (kept aside: it is not pooled)."""
    cls_tok: torch.Tensor | None = None
    if has_cls_token:
        cls_tok, x = x[:, :, :1, :], x[:, :, 1:, :]
    x = x.reshape(-1, feat_size[0], feat_size[1], x.shape[-1]).permute(0, 3, 1, 2).contiguous()
    return x, cls_tok


@register_notrace_function
def _from_grid(
    x: torch.Tensor, num_heads: int, cls_tok: torch.Tensor | None = None
) -> tuple[torch.Tensor, list[int]]:
    """The inverse of :func:`_to_grid` after pooling, with the pooled grid's ``[h, w]``."""
    feat_size = [x.shape[2], x.shape[3]]
    x = x.reshape(-1, num_heads, x.shape[1], feat_size[0] * feat_size[1]).transpose(2, 3)
    if cls_tok is not None:
        x = torch.cat((cls_tok, x), dim=2)
    return x, feat_size


torch.fx.wrap("_to_grid")
torch.fx.wrap("_from_grid")


def _pool_layers(
    mode: str,
    dim_conv: int,
    kernel: tuple[int, ...] | None,
    stride: tuple[int, ...],
    norm_layer: LayerFn,
) -> tuple[nn.Module | None, nn.Module | None]:
    """One pooling of ``mode`` (``max``, ``avg``, ``conv``, ``conv_unshared``) and its norm (convs
    only); ``(None, None)`` without a kernel."""
    if kernel is None:
        return None, None
    # (2-d sizes; typed loosely for torch's per-dim signatures)
    size: Any = kernel
    step: Any = stride
    padding: Any = tuple(k // 2 for k in kernel)
    if mode == "max":
        return nn.MaxPool2d(size, step, padding), None
    if mode == "avg":
        return nn.AvgPool2d(size, step, padding), None
    conv = nn.Conv2d(dim_conv, dim_conv, size, stride=step, padding=padding, groups=dim_conv, bias=False)
    return conv, norm_layer(dim_conv)


class _PoolingAttention(nn.Module):
    """What both attention layers share: the q / k / v poolings and their norms, the relative
    position tables, and the pooled attention itself. A subclass builds its projections, then
    calls :meth:`_init_pooling` (timm's registration order: the state dict's)."""

    def __init__(self, dim_out: int, num_heads: int, mode: str, has_cls_token: bool) -> None:
        super().__init__()
        if mode not in ("avg", "max", "conv", "conv_unshared"):
            raise ValueError(f"mode={mode!r}; valid: 'avg', 'max', 'conv', 'conv_unshared'")
        self.num_heads = num_heads
        self.dim_out = dim_out
        self.head_dim = dim_out // num_heads
        self.scale = self.head_dim**-0.5
        self.has_cls_token = has_cls_token
        self.mode = mode
        self.unshared = mode == "conv_unshared"

    def _init_pooling(
        self,
        dim_conv: int,
        feat_size: tuple[int, int],
        kernel_q: tuple[int, ...],
        kernel_kv: tuple[int, ...],
        stride_q: tuple[int, ...],
        stride_kv: tuple[int, ...],
        rel_pos_type: str,
        residual_pooling: bool,
        norm_layer: LayerFn,
    ) -> None:
        # a (1, 1) pooling with stride 1 is none at all
        kq = None if math.prod(kernel_q) == 1 and math.prod(stride_q) == 1 else kernel_q
        kkv = None if math.prod(kernel_kv) == 1 and math.prod(stride_kv) == 1 else kernel_kv
        self.pool_q, self.norm_q = _pool_layers(self.mode, dim_conv, kq, stride_q, norm_layer)
        self.pool_k, self.norm_k = _pool_layers(self.mode, dim_conv, kkv, stride_kv, norm_layer)
        self.pool_v, self.norm_v = _pool_layers(self.mode, dim_conv, kkv, stride_kv, norm_layer)
        self.rel_pos_type = rel_pos_type
        if rel_pos_type == "spatial":
            if feat_size[0] != feat_size[1]:
                raise ValueError(f"relative positions need a square grid, got {feat_size}")
            q_size = feat_size[0] // stride_q[1] if len(stride_q) > 0 else feat_size[0]
            kv_size = feat_size[0] // stride_kv[1] if len(stride_kv) > 0 else feat_size[0]
            rel_dim = 2 * max(q_size, kv_size) - 1
            self.rel_pos_h = nn.Parameter(torch.zeros(rel_dim, self.head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(rel_dim, self.head_dim))
            trunc_normal_tf_(self.rel_pos_h, std=0.02)
            trunc_normal_tf_(self.rel_pos_w, std=0.02)
        self.residual_pooling = residual_pooling

    def _pool_qkv(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, feat_size: list[int]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[int], list[int], list[int]]:
        """Pool and norm per-head ``q``, ``k``, ``v`` on the ``feat_size`` grid; with their grids.
        (Written out per tensor: TorchScript takes no modules as arguments.)"""
        q_size, k_size, v_size = feat_size, feat_size, feat_size
        if self.pool_q is not None:
            q, tok = _to_grid(q, feat_size, self.has_cls_token)
            q, q_size = _from_grid(self.pool_q(q), self.num_heads, tok)
        if self.norm_q is not None:
            q = self.norm_q(q)
        if self.pool_k is not None:
            k, tok = _to_grid(k, feat_size, self.has_cls_token)
            k, k_size = _from_grid(self.pool_k(k), self.num_heads, tok)
        if self.norm_k is not None:
            k = self.norm_k(k)
        if self.pool_v is not None:
            v, tok = _to_grid(v, feat_size, self.has_cls_token)
            v, v_size = _from_grid(self.pool_v(v), self.num_heads, tok)
        if self.norm_v is not None:
            v = self.norm_v(v)
        return q, k, v, q_size, k_size, v_size

    def _attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, q_size: list[int], k_size: list[int]
    ) -> torch.Tensor:
        """Per-head ``q``, ``k``, ``v`` ``(B, heads, N, d)`` -> ``(B, N_q, dim_out)``."""
        attn = (q * self.scale) @ k.transpose(-2, -1)
        if self.rel_pos_type == "spatial":
            attn = add_decomposed_rel_pos(
                attn, q, q_size, k_size, self.rel_pos_h, self.rel_pos_w, int(self.has_cls_token)
            )
        x = attn.softmax(dim=-1) @ v
        if self.residual_pooling:
            x = x + q
        return x.transpose(1, 2).reshape(q.shape[0], -1, self.dim_out)


class MultiScaleAttention(_PoolingAttention):
    """Pooling attention: project to q, k, v (one ``qkv`` linear), pool each per head, attend
    with the decomposed relative position bias, add the pooled queries back
    (``residual_pooling``)."""

    def __init__(
        self,
        dim: int,
        dim_out: int,
        feat_size: tuple[int, int],
        num_heads: int = 8,
        qkv_bias: bool = True,
        mode: str = "conv",
        kernel_q: tuple[int, ...] = (1, 1),
        kernel_kv: tuple[int, ...] = (1, 1),
        stride_q: tuple[int, ...] = (1, 1),
        stride_kv: tuple[int, ...] = (1, 1),
        has_cls_token: bool = True,
        rel_pos_type: str = "spatial",
        residual_pooling: bool = True,
        norm_layer: LayerFn = nn.LayerNorm,
    ) -> None:
        super().__init__(dim_out, num_heads, mode, has_cls_token)
        self.qkv = nn.Linear(dim, dim_out * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim_out, dim_out)
        dim_conv = dim_out // num_heads if mode == "conv" else dim_out
        self._init_pooling(
            dim_conv,
            feat_size,
            kernel_q,
            kernel_kv,
            stride_q,
            stride_kv,
            rel_pos_type,
            residual_pooling,
            norm_layer,
        )

    def forward(self, x: torch.Tensor, feat_size: list[int]) -> tuple[torch.Tensor, list[int]]:
        b, n, _ = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(dim=0)
        q, k, v, q_size, k_size, _ = self._pool_qkv(q, k, v, feat_size)
        return self.proj(self._attend(q, k, v, q_size, k_size)), q_size


class MultiScaleAttentionPoolFirst(_PoolingAttention):
    """Pooling attention that pools the input per head first, then projects the pooled tokens to
    q, k, v with separate linears (``pool_first``)."""

    def __init__(
        self,
        dim: int,
        dim_out: int,
        feat_size: tuple[int, int],
        num_heads: int = 8,
        qkv_bias: bool = True,
        mode: str = "conv",
        kernel_q: tuple[int, ...] = (1, 1),
        kernel_kv: tuple[int, ...] = (1, 1),
        stride_q: tuple[int, ...] = (1, 1),
        stride_kv: tuple[int, ...] = (1, 1),
        has_cls_token: bool = True,
        rel_pos_type: str = "spatial",
        residual_pooling: bool = True,
        norm_layer: LayerFn = nn.LayerNorm,
    ) -> None:
        super().__init__(dim_out, num_heads, mode, has_cls_token)
        self.q = nn.Linear(dim, dim_out, bias=qkv_bias)
        self.k = nn.Linear(dim, dim_out, bias=qkv_bias)
        self.v = nn.Linear(dim, dim_out, bias=qkv_bias)
        self.proj = nn.Linear(dim_out, dim_out)
        dim_conv = dim // num_heads if mode == "conv" else dim
        self._init_pooling(
            dim_conv,
            feat_size,
            kernel_q,
            kernel_kv,
            stride_q,
            stride_kv,
            rel_pos_type,
            residual_pooling,
            norm_layer,
        )

    def forward(self, x: torch.Tensor, feat_size: list[int]) -> tuple[torch.Tensor, list[int]]:
        b, n, _ = x.shape
        fold = 1 if self.unshared else self.num_heads
        x = x.reshape(b, n, fold, -1).permute(0, 2, 1, 3)
        q, k, v, q_size, k_size, v_size = self._pool_qkv(x, x, x, feat_size)
        prefix = int(self.has_cls_token)
        q_n = q_size[0] * q_size[1] + prefix
        k_n = k_size[0] * k_size[1] + prefix
        v_n = v_size[0] * v_size[1] + prefix
        q = self.q(q.transpose(1, 2).reshape(b, q_n, -1)).reshape(b, q_n, self.num_heads, -1).transpose(1, 2)
        k = self.k(k.transpose(1, 2).reshape(b, k_n, -1)).reshape(b, k_n, self.num_heads, -1).transpose(1, 2)
        v = self.v(v.transpose(1, 2).reshape(b, v_n, -1)).reshape(b, v_n, self.num_heads, -1).transpose(1, 2)
        return self.proj(self._attend(q, k, v, q_size, k_size)), q_size


class MultiScaleBlock(nn.Module):
    """Pre-norm block: pooling attention, then an MLP. Where the width changes, the shortcut is a
    linear of the normed input, before the attention (``expand_attn``) or the MLP; where the
    queries are strided, the attention shortcut is max-pooled alike."""

    def __init__(
        self,
        dim: int,
        dim_out: int,
        num_heads: int,
        feat_size: tuple[int, int],
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_path: float = 0.0,
        norm_layer: LayerFn = nn.LayerNorm,
        kernel_q: tuple[int, ...] = (1, 1),
        kernel_kv: tuple[int, ...] = (1, 1),
        stride_q: tuple[int, ...] = (1, 1),
        stride_kv: tuple[int, ...] = (1, 1),
        mode: str = "conv",
        has_cls_token: bool = True,
        expand_attn: bool = False,
        pool_first: bool = False,
        rel_pos_type: str = "spatial",
        residual_pooling: bool = True,
    ) -> None:
        super().__init__()
        widen = dim != dim_out
        self.dim = dim
        self.dim_out = dim_out
        self.has_cls_token = has_cls_token
        self.norm1 = norm_layer(dim)
        self.shortcut_proj_attn = nn.Linear(dim, dim_out) if widen and expand_attn else None
        self.shortcut_pool_attn: nn.Module | None = None
        if stride_q and math.prod(stride_q) > 1:
            kernel_skip = [s + 1 if s > 1 else s for s in stride_q]
            self.shortcut_pool_attn = nn.MaxPool2d(
                tuple(kernel_skip), stride_q, tuple(k // 2 for k in kernel_skip)
            )
        att_dim = dim_out if expand_attn else dim
        attn_cls = MultiScaleAttentionPoolFirst if pool_first else MultiScaleAttention
        self.attn = attn_cls(
            dim,
            att_dim,
            num_heads=num_heads,
            feat_size=feat_size,
            qkv_bias=qkv_bias,
            kernel_q=kernel_q,
            kernel_kv=kernel_kv,
            stride_q=stride_q,
            stride_kv=stride_kv,
            norm_layer=norm_layer,
            has_cls_token=has_cls_token,
            mode=mode,
            rel_pos_type=rel_pos_type,
            residual_pooling=residual_pooling,
        )
        self.drop_path1: nn.Module = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(att_dim)
        self.shortcut_proj_mlp = nn.Linear(dim, dim_out) if widen and not expand_attn else None
        self.mlp = Mlp(in_features=att_dim, hidden_features=int(att_dim * mlp_ratio), out_features=dim_out)
        self.drop_path2: nn.Module = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def _shortcut_pool(self, x: torch.Tensor, feat_size: list[int]) -> torch.Tensor:
        if self.shortcut_pool_attn is None:
            return x
        cls_tok: torch.Tensor | None = None
        if self.has_cls_token:
            cls_tok, x = x[:, :1, :], x[:, 1:, :]
        b, _, c = x.shape
        x = x.reshape(b, feat_size[0], feat_size[1], c).permute(0, 3, 1, 2).contiguous()
        x = self.shortcut_pool_attn(x).reshape(b, c, -1).transpose(1, 2)
        return x if cls_tok is None else torch.cat((cls_tok, x), dim=1)

    def forward(self, x: torch.Tensor, feat_size: list[int]) -> tuple[torch.Tensor, list[int]]:
        x_norm = self.norm1(x)
        # NOTE: as the original, the shortcut is the un-normed input where it is not projected
        shortcut = x if self.shortcut_proj_attn is None else self.shortcut_proj_attn(x_norm)
        shortcut = self._shortcut_pool(shortcut, feat_size)
        x, feat_size = self.attn(x_norm, feat_size)
        x = shortcut + self.drop_path1(x)
        x_norm = self.norm2(x)
        shortcut = x if self.shortcut_proj_mlp is None else self.shortcut_proj_mlp(x_norm)
        return shortcut + self.drop_path2(self.mlp(x_norm)), feat_size


class MultiScaleVitStage(nn.Module):
    """A stage: its first block strides the queries (and widens, with ``expand_attn``); without
    ``expand_attn`` the last block widens to ``dim_out``."""

    def __init__(
        self,
        dim: int,
        dim_out: int,
        depth: int,
        num_heads: int,
        feat_size: tuple[int, int],
        *,
        drop_path: Sequence[float],
        expand_attn: bool = False,
        stride_q: tuple[int, ...] = (1, 1),
        **block_kwargs: Any,
    ) -> None:
        super().__init__()
        self.grad_checkpointing = False
        out_dims = (dim_out,) * depth if expand_attn else (dim,) * (depth - 1) + (dim_out,)
        blocks = []
        for i in range(depth):
            blocks.append(
                MultiScaleBlock(
                    dim,
                    out_dims[i],
                    num_heads,
                    feat_size,
                    stride_q=stride_q if i == 0 else (1, 1),
                    expand_attn=expand_attn,
                    drop_path=drop_path[i],
                    **block_kwargs,
                )
            )
            dim = out_dims[i]
            if i == 0:
                feat_size = (feat_size[0] // stride_q[0], feat_size[1] // stride_q[1])
        self.blocks = nn.ModuleList(blocks)
        self.feat_size = feat_size

    def forward(self, x: torch.Tensor, feat_size: list[int]) -> tuple[torch.Tensor, list[int]]:
        for block in self.blocks:
            if (
                not torch.jit.is_scripting()
                and self.grad_checkpointing
                and self.training
                and torch.is_grad_enabled()
            ):
                x, feat_size = checkpoint(block, x, feat_size, use_reentrant=False)
            else:
                x, feat_size = block(x, feat_size)
        return x, feat_size


@dataclass
class MultiScaleVitCfg:
    """timm's architecture record of an MViTv2 (the fields :class:`MultiScaleVit` takes, by
    name); ``MultiScaleVit(**cfg.model_kwargs())`` builds it. ``pool_type`` and ``act_layer``
    are timm's unused fields."""

    depths: tuple[int, ...] = (2, 3, 16, 3)
    embed_dim: int | tuple[int, ...] = 96
    num_heads: int | tuple[int, ...] = 1
    mlp_ratio: float = 4.0
    pool_first: bool = False
    expand_attn: bool = True
    qkv_bias: bool = True
    use_cls_token: bool = False
    use_abs_pos: bool = False
    residual_pooling: bool = True
    mode: str = "conv"
    kernel_qkv: tuple[int, int] = (3, 3)
    stride_q: tuple[tuple[int, int], ...] | None = ((1, 1), (2, 2), (2, 2), (2, 2))
    stride_kv: tuple[tuple[int, int], ...] | None = None
    stride_kv_adaptive: tuple[int, int] | None = (4, 4)
    patch_kernel: tuple[int, int] = (7, 7)
    patch_stride: tuple[int, int] = (4, 4)
    patch_padding: tuple[int, int] = (3, 3)
    pool_type: str = "max"
    rel_pos_type: str = "spatial"
    act_layer: str | tuple[str, str] = "gelu"
    norm_layer: str | tuple[str, str] = "layernorm"
    norm_eps: float = 1e-6

    def model_kwargs(self) -> dict[str, Any]:
        """The fields as :class:`MultiScaleVit` keyword arguments."""
        return {
            f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("pool_type", "act_layer")
        }


class MultiScaleVit(TokenModel):
    """MViTv2: a conv patch embedding, an optional class token and absolute position embedding,
    stages of pooling-attention blocks, a final norm, an average (or class-token) pool and a
    linear head.

    Args:
        depths: blocks per stage.
        embed_dim: width per stage (an int doubles per stage).
        num_heads: heads per stage (an int doubles per stage).
        mlp_ratio: the MLPs' hidden width over their input.
        pool_first: pool before projecting to q, k, v (separate linears).
        expand_attn: widen in the attention (first block of a stage), else in the MLP (last).
        qkv_bias: biases on the q, k, v projections.
        use_cls_token: a class token before the patch tokens.
        use_abs_pos: a learned absolute position embedding.
        residual_pooling: add the pooled queries to the attention output.
        mode: the q / k / v pooling: ``conv`` (depthwise per head), ``conv_unshared``, ``max``, ``avg``.
        kernel_qkv: the pooling kernel.
        stride_q: the query stride per stage (its first block).
        stride_kv: the key / value stride per stage (None: from ``stride_kv_adaptive``).
        stride_kv_adaptive: the first stage's key / value stride, divided by each query stride.
        patch_kernel, patch_stride, patch_padding: the patch embedding's conv.
        rel_pos_type: ``spatial`` (decomposed relative positions) or ``''`` (none).
        norm_layer, norm_eps: the norm and its epsilon.
        img_size: input size (fixed: the relative position tables follow it).
        in_chans: input channels.
        global_pool: ``avg``, ``token`` or ``''`` (None: ``token`` with a class token, else ``avg``).
        num_classes: classifier outputs (0 for none).
        drop_path_rate: stochastic depth, rising linearly to this over the blocks.
        drop_rate: dropout before the classifier.
    """

    classifier_name = "head.fc"
    head_names = ("head",)
    # NOTE: timm labels the levels ``block.{i}`` (no such modules); the levels are stage outputs
    # on their grids, which forward_intermediates gives
    feature_modules = False

    def __init__(
        self,
        depths: Sequence[int] = (2, 3, 16, 3),
        embed_dim: int | Sequence[int] = 96,
        num_heads: int | Sequence[int] = 1,
        mlp_ratio: float = 4.0,
        pool_first: bool = False,
        expand_attn: bool = True,
        qkv_bias: bool = True,
        use_cls_token: bool = False,
        use_abs_pos: bool = False,
        residual_pooling: bool = True,
        mode: str = "conv",
        kernel_qkv: tuple[int, int] = (3, 3),
        stride_q: Sequence[tuple[int, int]] = ((1, 1), (2, 2), (2, 2), (2, 2)),
        stride_kv: Sequence[tuple[int, int]] | None = None,
        stride_kv_adaptive: tuple[int, int] | None = (4, 4),
        patch_kernel: tuple[int, int] = (7, 7),
        patch_stride: tuple[int, int] = (4, 4),
        patch_padding: tuple[int, int] = (3, 3),
        rel_pos_type: str = "spatial",
        norm_layer: LayerType = "layernorm",
        norm_eps: float = 1e-6,
        img_size: int | tuple[int, int] = (224, 224),
        in_chans: int = 3,
        global_pool: str | None = None,
        num_classes: int = 1000,
        drop_path_rate: float = 0.0,
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        check_num_classes(num_classes)
        n = len(depths)
        dims = (
            tuple(embed_dim) if isinstance(embed_dim, Sequence) else tuple(embed_dim * 2**i for i in range(n))
        )
        heads = (
            tuple(num_heads) if isinstance(num_heads, Sequence) else tuple(num_heads * 2**i for i in range(n))
        )
        if len(dims) != n or len(heads) != n:
            raise ValueError(f"embed_dim {dims} and num_heads {heads} need one entry per stage ({n})")
        if stride_kv is None:
            if stride_kv_adaptive is None:
                raise ValueError("give stride_kv or stride_kv_adaptive")
            kv, strides = list(stride_kv_adaptive), []
            for i in range(n):
                if min(stride_q[i]) > 1:
                    kv = [max(s // q, 1) for s, q in zip(kv, stride_q[i])]
                strides.append((kv[0], kv[1]))
            stride_kv = strides
        kv_strides: Sequence[tuple[int, int]] = stride_kv
        if global_pool is None:
            global_pool = "token" if use_cls_token else "avg"
        self._check_pool(global_pool, use_cls_token)
        norm_fn = get_norm_layer(norm_layer)
        assert norm_fn is not None
        norm = partial(norm_fn, eps=norm_eps)
        img_size = to_2tuple(img_size)
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.global_pool = global_pool
        self.depths = tuple(depths)
        self.expand_attn = expand_attn
        self.has_class_token = use_cls_token
        self.num_prefix_tokens = 1 if use_cls_token else 0
        self.pool_include_prefix = False
        self.attn_pool = None

        self.patch_embed = PatchEmbed(in_chans, dims[0], patch_kernel, patch_stride, patch_padding)
        grid = (img_size[0] // patch_stride[0], img_size[1] // patch_stride[1])
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dims[0])) if use_cls_token else None
        self.pos_embed = (
            nn.Parameter(torch.zeros(1, math.prod(grid) + self.num_prefix_tokens, dims[0]))
            if use_abs_pos
            else None
        )

        rates: Any = calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        dim, stride = dims[0], max(patch_stride)
        stages, self.feature_info = [], []
        for i in range(n):
            dim_out = dims[i] if expand_attn else dims[min(i + 1, n - 1)]
            stage = MultiScaleVitStage(
                dim,
                dim_out,
                depths[i],
                heads[i],
                grid,
                drop_path=rates[i],
                expand_attn=expand_attn,
                stride_q=tuple(stride_q[i]),
                mlp_ratio=mlp_ratio,
                qkv_bias=qkv_bias,
                mode=mode,
                pool_first=pool_first,
                kernel_q=tuple(kernel_qkv),
                kernel_kv=tuple(kernel_qkv),
                stride_kv=tuple(kv_strides[i]),
                has_cls_token=use_cls_token,
                rel_pos_type=rel_pos_type,
                residual_pooling=residual_pooling,
                norm_layer=norm,
            )
            stride *= max(stride_q[i])
            self.feature_info.append(dict(module=f"block.{i}", num_chs=dim_out, reduction=stride))
            dim, grid = dim_out, stage.feat_size
            stages.append(stage)
        self.stages = nn.ModuleList(stages)
        self.num_features = self.head_hidden_size = self.embed_dim = dim
        self.norm: nn.Module = norm(dim)
        self.head = nn.Sequential(
            OrderedDict(
                drop=nn.Dropout(drop_rate), fc=nn.Linear(dim, num_classes) if num_classes else nn.Identity()
            )
        )
        self._initialize()

    @staticmethod
    def _check_pool(global_pool: str, has_cls_token: bool) -> None:
        if global_pool not in ("", "avg", "token"):
            raise ValueError(f"global_pool={global_pool!r}; valid: '', 'avg', 'token'")
        if global_pool == "token" and not has_cls_token:
            raise ValueError("global_pool='token' needs the class token (use_cls_token=True)")

    def init_weights(self) -> None:
        """Truncated-normal (TF style, std 0.02) linears, embeddings and class token; zero biases."""
        for p in (self.pos_embed, self.cls_token):
            if p is not None:
                trunc_normal_tf_(p, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_tf_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def no_weight_decay(self) -> set[str]:
        """Embeddings, the class token and the relative position tables."""
        keys = ("pos_embed", "rel_pos_h", "rel_pos_w", "cls_token")
        return {k for k, _ in self.named_parameters() if any(n in k for n in keys)}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^cls_token|pos_embed|patch_embed", blocks=[(r"^stages\.(\d+)", None), (r"^norm", (99999,))]
        )

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable
        stage: Any
        for stage in self.stages:
            stage.grad_checkpointing = enable

    # --- head ----------------------------------------------------------------------------------
    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A fresh ``num_classes`` classifier (0 removes it); ``global_pool`` among ``''``,
        ``avg``, ``token``."""
        check_num_classes(num_classes)
        if global_pool is not None:
            self._check_pool(global_pool, self.cls_token is not None)
            self.global_pool = global_pool
        ref = next(self.parameters(), None)
        with torch.device("cpu" if ref is None or ref.is_meta else ref.device):
            fc = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        if ref is not None:
            fc.to(dtype=ref.dtype)
        self.head = nn.Sequential(OrderedDict(drop=nn.Dropout(self.drop_rate), fc=fc))
        self.head.train(self.training)
        self.num_classes = num_classes

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Tokens -> the mean of the patch tokens (``avg``) or the class token (``token``) ->
        the classifier."""
        if self.global_pool == "avg":
            x = x[:, self.num_prefix_tokens :].mean(1)
        elif self.global_pool == "token":
            x = x[:, 0]
        return x if pre_logits else self.head(x)

    # --- trunk ---------------------------------------------------------------------------------
    def _embed_tokens(self, x: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
        x, feat_size = self.patch_embed(x)
        if self.cls_token is not None:
            x = torch.cat((self.cls_token.expand(x.shape[0], -1, -1), x), dim=1)
        if self.pos_embed is not None:
            x = x + self.pos_embed
        return x, feat_size

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> normed tokens ``(B, prefix + h * w, num_features)``."""
        x, feat_size = self._embed_tokens(x)
        for stage in self.stages:
            x, feat_size = stage(x, feat_size)
        return self.norm(x)

    def forward_intermediates(  # type: ignore[override]
        self,
        x: torch.Tensor,
        indices: int | list[int] | tuple[int, ...] | None = None,
        *,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> Any:
        """Run the stages and return their outputs at ``indices``.

        Args:
            x: input ``(B, C, H, W)``.
            indices: stages to take: None for all, an int ``n`` for the last ``n``, or a sequence.
            norm: apply the final norm to the last stage's output.
            stop_early: stop after the last requested stage.
            output_fmt: ``'NCHW'`` (patch tokens on the stage's grid) or ``'NLC'`` (tokens,
                class token included).
            intermediates_only: return just the list.

        Returns:
            ``(normed final tokens, [levels])``, or only the list.
        """
        if output_fmt not in ("NCHW", "NLC"):
            raise ValueError(f"output_fmt={output_fmt!r} is not supported; use 'NCHW' or 'NLC'")
        take, max_index = feature_take_indices(len(self.stages), indices)
        b = x.shape[0]
        x, feat_size = self._embed_tokens(x)
        last = len(self.stages) - 1
        stages = self.stages[: max_index + 1] if stop_early or intermediates_only else self.stages
        found, i = [], -1
        for i, stage in enumerate(stages):
            x, feat_size = stage(x, feat_size)
            if i in take:
                level = self.norm(x) if norm and i == last else x
                if output_fmt == "NCHW":
                    level = level[:, self.num_prefix_tokens :]
                    level = level.reshape(b, feat_size[0], feat_size[1], -1).permute(0, 3, 1, 2)
                found.append(level)
        if intermediates_only:
            return found
        return (self.norm(x) if i == last else x), found

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """Keep the stages up to the last of ``indices``; the final norm goes with ``prune_norm``
        or a cut (it belongs to the last stage), the classifier with ``prune_head`` or a cut."""
        take, max_index = feature_take_indices(len(self.stages), indices)
        cut = max_index < len(self.stages) - 1
        if prune_norm or cut:
            self.norm = nn.Identity()
        self.stages = self.stages[: max_index + 1]
        if cut:
            self.num_features = self.head_hidden_size = self.feature_info[max_index]["num_chs"]
        if prune_head or cut:
            self.reset_classifier(0, "")
        return take


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """Checkpoints into this model: ours / timm's with relative position tables of another length
    resampled (linearly) to the model's; the original release (``model_state``, flat
    ``blocks.N``, the widening ``proj``, ``head.projection``) renamed."""
    if "stages.0.blocks.0.norm1.weight" in state_dict:
        target = model.state_dict()
        out = dict(state_dict)
        for k, v in state_dict.items():
            if "rel_pos" in k and v.shape[0] != target[k].shape[0]:
                length = target[k].shape[0]
                resized = F.interpolate(
                    v.reshape(1, v.shape[0], -1).permute(0, 2, 1), size=length, mode="linear"
                )
                out[k] = resized.reshape(-1, length).permute(1, 0)
        return out
    state_dict = state_dict.get("model_state", state_dict)
    m: Any = model
    depths = getattr(m, "depths", None)
    if depths is None:
        raise ValueError(f"{type(model).__name__} has no depths: the original layout cannot be remapped")
    place: dict[int, tuple[int, int]] = {}
    start = 0
    for stage, depth in enumerate(depths):
        place.update({start + j: (stage, j) for j in range(depth)})
        start += depth
    widen = "shortcut_proj_attn" if getattr(m, "expand_attn", True) else "shortcut_proj_mlp"
    out = {}
    for k, v in state_dict.items():
        k = re.sub(r"blocks\.(\d+)", lambda g: "stages.{}.blocks.{}".format(*place[int(g.group(1))]), k)
        k = re.sub(r"stages\.(\d+)\.blocks\.(\d+)\.proj", rf"stages.\1.blocks.\2.{widen}", k)
        out[k.replace("head.projection", "head.fc")] = v
    return out


MultiScaleVitArgs = model_args_type(MultiScaleVit)

_L = dict(depths=(2, 6, 36, 4), embed_dim=144, num_heads=2)
VARIANTS: dict[str, Any] = {
    "mvitv2_tiny": MultiScaleVitArgs(depths=(1, 2, 5, 2)),
    "mvitv2_small": MultiScaleVitArgs(depths=(1, 2, 11, 2)),
    "mvitv2_base": MultiScaleVitArgs(depths=(2, 3, 16, 3)),
    "mvitv2_large": MultiScaleVitArgs(**_L, expand_attn=False),
    "mvitv2_small_cls": MultiScaleVitArgs(depths=(1, 2, 11, 2), use_cls_token=True),
    "mvitv2_base_cls": MultiScaleVitArgs(depths=(2, 3, 16, 3), use_cls_token=True),
    "mvitv2_large_cls": MultiScaleVitArgs(**_L, use_cls_token=True),
    "mvitv2_huge_cls": MultiScaleVitArgs(
        depths=(4, 8, 60, 8), embed_dim=192, num_heads=3, use_cls_token=True
    ),
}

_FB = "https://dl.fbaipublicfiles.com/mvit/mvitv2_models/"
_IN21K = dict(num_classes=19168)
WEIGHTS = {
    "mvitv2_tiny.fb_in1k": weight(url=_FB + "MViTv2_T_in1k.pyth"),
    "mvitv2_small.fb_in1k": weight(url=_FB + "MViTv2_S_in1k.pyth"),
    "mvitv2_base.fb_in1k": weight(url=_FB + "MViTv2_B_in1k.pyth"),
    "mvitv2_large.fb_in1k": weight(url=_FB + "MViTv2_L_in1k.pyth"),
    "mvitv2_small_cls": weight(NO_WEIGHTS),
    "mvitv2_base_cls.fb_inw21k": weight(_IN21K, url=_FB + "MViTv2_B_in21k.pyth"),
    "mvitv2_large_cls.fb_inw21k": weight(_IN21K, url=_FB + "MViTv2_L_in21k.pyth"),
    "mvitv2_huge_cls.fb_inw21k": weight(_IN21K, url=_FB + "MViTv2_H_in21k.pyth"),
}

default_cfgs = register_family(
    __name__,
    model_cls=MultiScaleVit,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        num_classes=1000,
        input_size=(3, 224, 224),
        pool_size=None,
        crop_pct=0.9,
        interpolation="bicubic",
        mean=IMAGENET_DEFAULT_MEAN,
        std=IMAGENET_DEFAULT_STD,
        first_conv="patch_embed.proj",
        classifier="head.fc",
        fixed_input_size=True,
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=4, feature_cls="getter"),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:
    return family_entrypoint(__name__, name)
