"""Twins: four-stage pyramid transformers with a conditional position encoding (PEG: a depthwise
conv after each stage's first block). Twins-PCPVT attends globally over spatially reduced keys in
every block; Twins-SVT alternates locally-grouped attention (within non-overlapping windows) with
that global sub-sampled attention.

Paper: `Twins: Revisiting the Design of Spatial Attention in Vision Transformers` -
https://arxiv.org/abs/2104.13840

Weights: the authors' ImageNet-1k trainings (https://github.com/Meituan-AutoML/Twins), apache-2.0.
Module names follow timm's ``twins``.

Tokens stay ``(B, H * W, C)`` inside a stage; every stage but the last hands a ``(B, C, H, W)`` map to
the next patch embedding, and the last stage's tokens go through the final norm to a mean-pooled
head, so ``forward_features`` gives tokens (``output_fmt = "NLC"``) and ``forward_intermediates``
gives each stage's map.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..features import feature_take_indices
from ..layers import DropPath, Mlp, PatchEmbed, calculate_drop_path_rates, to_2tuple, trunc_normal_
from ..layers.classifier import check_num_classes, check_pool
from ..layers.spatial_reduction_attn import SpatialReductionAttention
from ..layers.window import pad_to_windows, window_partition, window_unpartition
from ..model import VisionModel
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["VARIANTS", "WEIGHTS", "Block", "LocallyGroupedAttn", "PosConv", "Twins", "default_cfgs"]

LayerFn = Callable[..., nn.Module]
_LAYER_NORM_EPS6 = partial(nn.LayerNorm, eps=1e-6)  # the blocks' and final norm


class LocallyGroupedAttn(nn.Module):
    """Self-attention inside non-overlapping ``ws x ws`` windows of the token grid (LSA). The grid
    is zero-padded at the bottom / right to whole windows; the padded tokens take part as keys,
    as in the authors' code, and are cropped after."""

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        *,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        ws: int = 7,
        fused_attn: bool = True,
    ) -> None:
        super().__init__()
        if ws < 2:
            raise ValueError(f"ws={ws}: a local window spans at least 2 tokens (1 is global attention)")
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.fused_attn = fused_attn
        self.ws = ws
        self.qkv = nn.Linear(dim, dim * 3, bias=True)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor, feat_size: tuple[int, int]) -> torch.Tensor:
        b, n, c = x.shape
        h, w = feat_size
        window = (self.ws, self.ws)
        grid, padded = pad_to_windows(x.view(b, h, w, c), window)
        tokens = window_partition(grid, window).reshape(-1, self.ws * self.ws, c)  # (B * windows, L, C)
        qkv = self.qkv(tokens).reshape(tokens.shape[0], -1, 3, self.num_heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
        if self.fused_attn:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop.p if self.training else 0.0)
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1)
            y = self.attn_drop(attn.softmax(dim=-1)) @ v
        y = y.transpose(1, 2).reshape(-1, self.ws, self.ws, c)
        y = window_unpartition(y, window, padded)[:, :h, :w, :].reshape(b, n, c)
        return self.proj_drop(self.proj(y))


class Block(nn.Module):
    """Pre-norm residual block: attention (global sub-sampled with ``ws=1``, local windows of
    ``ws`` otherwise), then an MLP."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        mlp_ratio: float = 4.0,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = nn.LayerNorm,
        sr_ratio: int = 1,
        ws: int = 1,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn: nn.Module = (
            SpatialReductionAttention(
                dim, num_heads, sr_ratio=sr_ratio, attn_drop=attn_drop, proj_drop=proj_drop
            )
            if ws == 1
            else LocallyGroupedAttn(dim, num_heads, attn_drop=attn_drop, proj_drop=proj_drop, ws=ws)
        )
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=act_layer, drop=proj_drop)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor, feat_size: tuple[int, int]) -> torch.Tensor:
        x = x + self.drop_path1(self.attn(self.norm1(x), feat_size))
        return x + self.drop_path2(self.mlp(self.norm2(x)))


class PosConv(nn.Module):
    """PEG (https://arxiv.org/abs/2102.10882): a 3x3 depthwise conv over the token grid, added to
    the tokens (at stride 1): a position encoding that follows the input size."""

    def __init__(self, in_chans: int, embed_dim: int = 768, stride: int = 1) -> None:
        super().__init__()
        # NOTE: a one-conv Sequential for checkpoint compatibility (``proj.0``)
        self.proj = nn.Sequential(nn.Conv2d(in_chans, embed_dim, 3, stride, 1, groups=embed_dim))
        self.stride = stride

    def forward(self, x: torch.Tensor, feat_size: tuple[int, int]) -> torch.Tensor:
        b, _, c = x.shape
        grid = x.transpose(1, 2).reshape(b, c, feat_size[0], feat_size[1])
        y = self.proj(grid)
        if self.stride == 1:
            y = y + grid
        return y.flatten(2).transpose(1, 2)


class _StageBlocks(nn.ModuleList):
    """The stages' block lists (``blocks.N.M``), typed as such for the checkers."""

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript iterates it as a ModuleList

        def __iter__(self) -> Iterator[nn.ModuleList]: ...


class Twins(VisionModel):
    """Four stages, each a patch embedding (``patch_size``, then 2), blocks with a PEG after the
    first, at strides 4, 8, 16, 32; the final norm on the last stage's tokens; a mean-pooled
    linear head.

    Args:
        embed_dims, num_heads, mlp_ratios, depths, sr_ratios: per stage.
        wss: local window sizes per stage; the blocks alternate local (even) and global (odd)
            attention. None: every block global (PCPVT).
    """

    classifier_name = "head"
    output_fmt = "NLC"
    # NOTE: the levels' module names are timm's labels (``block.N``), read through
    # forward_intermediates; the stages are not one module each
    feature_modules = False

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        global_pool: str  # type: ignore[assignment]  # a pool type, not a pooling module
        head: nn.Module

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int = 4,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        embed_dims: tuple[int, ...] = (64, 128, 256, 512),
        num_heads: tuple[int, ...] = (1, 2, 4, 8),
        mlp_ratios: tuple[float, ...] = (4.0, 4.0, 4.0, 4.0),
        depths: tuple[int, ...] = (3, 4, 6, 3),
        sr_ratios: tuple[int, ...] = (8, 4, 2, 1),
        wss: tuple[int, ...] | None = None,
        drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_layer: LayerFn = _LAYER_NORM_EPS6,
    ) -> None:
        super().__init__()
        check_pool(global_pool, ("", "avg"), model="Twins")
        n = len(depths)
        for what, values in (
            ("embed_dims", embed_dims),
            ("num_heads", num_heads),
            ("mlp_ratios", mlp_ratios),
        ):
            if len(values) != n:
                raise ValueError(f"{what}={values!r} needs one value per stage ({n})")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.global_pool = global_pool  # type: ignore[assignment]
        self.depths = depths
        self.embed_dims = embed_dims
        self.num_features = self.head_hidden_size = embed_dims[-1]

        size = to_2tuple(img_size)
        self.img_size, self.patch_size = size, patch_size  # the model's input size (see model_input_size)
        self.patch_embeds = nn.ModuleList()
        self.pos_drops = nn.ModuleList()
        prev, patch = in_chans, patch_size
        for i in range(n):
            self.patch_embeds.append(
                PatchEmbed(
                    img_size=size,
                    patch_size=patch,
                    in_chans=prev,
                    embed_dim=embed_dims[i],
                    norm_layer=nn.LayerNorm,
                    output_fmt="NHWC",
                    strict_img_size=False,
                )
            )
            self.pos_drops.append(nn.Dropout(p=pos_drop_rate))
            prev = embed_dims[i]
            size = (size[0] // patch, size[1] // patch)
            patch = 2

        dpr = cast(list[float], calculate_drop_path_rates(drop_path_rate, sum(depths)))
        self.blocks = _StageBlocks()
        self.feature_info = []
        start = 0
        for k in range(n):
            self.blocks.append(
                nn.ModuleList(
                    [
                        Block(
                            embed_dims[k],
                            num_heads[k],
                            mlp_ratio=mlp_ratios[k],
                            proj_drop=proj_drop_rate,
                            attn_drop=attn_drop_rate,
                            drop_path=dpr[start + i],
                            norm_layer=norm_layer,
                            sr_ratio=sr_ratios[k],
                            ws=1 if wss is None or i % 2 == 1 else wss[k],
                        )
                        for i in range(depths[k])
                    ]
                )
            )
            # NOTE: ``block.N`` is timm's label for the level, not a module path
            self.feature_info.append(dict(module=f"block.{k}", num_chs=embed_dims[k], reduction=2 ** (2 + k)))
            start += depths[k]
        self.pos_block = nn.ModuleList([PosConv(d, d) for d in embed_dims])
        self.norm = norm_layer(self.num_features)
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal linears, unit LayerNorms, convs normal with std ``sqrt(2 / fan_out)``;
        zero biases."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
            elif isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            else:
                continue
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def no_weight_decay(self) -> set[str]:
        """The PEG convs."""
        return {f"pos_block.{n}" for n, _ in self.pos_block.named_parameters()}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        if coarse:
            blocks: list[tuple[str, tuple[int, ...] | None]] = [
                (r"^(?:blocks|patch_embeds|pos_block)\.(\d+)", None),
                (r"^norm", (99999,)),
            ]
        else:
            blocks = [
                (r"^blocks\.(\d+)\.(\d+)", None),
                (r"^(?:patch_embeds|pos_block)\.(\d+)", (0,)),
                (r"^norm", (99999,)),
            ]
        return dict(stem=r"^patch_embeds.0", blocks=blocks)

    # --- head ----------------------------------------------------------------------------------
    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        check_num_classes(num_classes)
        if global_pool is not None:
            check_pool(global_pool, ("", "avg"), model="Twins")
            self.global_pool = global_pool  # type: ignore[assignment]
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else None
        dtype = ref.dtype if ref is not None else None
        self.head = (
            nn.Linear(self.num_features, num_classes, device=device, dtype=dtype)
            if num_classes > 0
            else nn.Identity()
        )
        self.head.train(self.training)
        self.num_classes = num_classes

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Tokens ``(B, N, C)`` -> mean over the tokens (``'avg'``), dropout, classifier."""
        if self.global_pool == "avg":
            x = x.mean(dim=1)
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    # --- trunk ---------------------------------------------------------------------------------
    def _run_stage(
        self, x: torch.Tensor, blocks: nn.ModuleList, pos_blk: nn.Module, feat_size: tuple[int, int]
    ) -> torch.Tensor:
        """A stage's blocks on its tokens, the PEG after the first."""
        for j, blk in enumerate(blocks):
            if self._checkpointing():
                x = checkpoint(blk, x, feat_size, use_reentrant=False)
            else:
                x = blk(x, feat_size)
            if j == 0:
                x = pos_blk(x, feat_size)
        return x

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> the last stage's normed tokens ``(B, H / 32 * W / 32, C)``."""
        if not torch.jit.is_scripting():
            return self._intermediates(x, [], stop_early=False)[0]
        # NOTE: TorchScript cannot pass ModuleLists around; the same walk written out
        last = len(self.blocks) - 1
        for i, (embed, drop, blocks, pos_blk) in enumerate(
            zip(self.patch_embeds, self.pos_drops, self.blocks, self.pos_block)
        ):
            x = embed(x)
            b, h, w, c = x.shape
            x = drop(x.reshape(b, h * w, c))
            for j, blk in enumerate(blocks):
                x = blk(x, (h, w))
                if j == 0:
                    x = pos_blk(x, (h, w))
            if i < last:
                x = x.reshape(b, h, w, c).permute(0, 3, 1, 2).contiguous()
        return self.norm(x)

    def _intermediates(
        self, x: torch.Tensor, take: list[int], *, stop_early: bool, norm: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Each stage's map; the last (kept) stage stays tokens for the head, and ``norm`` applies
        the final norm to its map only (the norm is sized for it)."""
        last = len(self.blocks) - 1
        stop = max(take) if stop_early and take else last
        found = []
        for i in range(stop + 1):
            x = self.patch_embeds[i](x)
            b, h, w, c = x.shape
            x = self.pos_drops[i](x.reshape(b, h * w, c))
            x = self._run_stage(x, cast(nn.ModuleList, self.blocks[i]), self.pos_block[i], (h, w))
            if i < last:
                x = x.reshape(b, h, w, c).permute(0, 3, 1, 2).contiguous()
                if i in take:
                    found.append(x)
            elif i in take:
                y = self.norm(x) if norm else x
                found.append(y.reshape(b, h, w, c).permute(0, 3, 1, 2).contiguous())
        if stop == last:
            x = self.norm(x)
        return x, found

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """Drop the stages after the last of ``indices``; the final norm with ``prune_norm`` or a
        cut (it is sized for the last stage), the head with ``prune_head`` or a cut."""
        take, max_index = feature_take_indices(len(self.blocks), indices)
        cut = max_index < len(self.blocks) - 1
        keep = max_index + 1
        self.patch_embeds = self.patch_embeds[:keep]
        self.pos_drops = self.pos_drops[:keep]
        self.blocks = _StageBlocks(list(self.blocks)[:keep])
        self.pos_block = self.pos_block[:keep]
        if prune_norm or cut:
            self.norm = nn.Identity()
        if cut:
            self.num_features = self.head_hidden_size = self.feature_info[max_index]["num_chs"]
        if prune_head or cut:
            self.reset_classifier(0, "")
        return take


TwinsArgs = model_args_type(Twins)

_PCPVT = dict(
    patch_size=4, embed_dims=(64, 128, 320, 512), num_heads=(1, 2, 5, 8), mlp_ratios=(8.0, 8.0, 4.0, 4.0)
)
_SVT = dict(patch_size=4, mlp_ratios=(4.0,) * 4, wss=(7, 7, 7, 7), sr_ratios=(8, 4, 2, 1))
VARIANTS = {
    "twins_pcpvt_small": TwinsArgs(depths=(3, 4, 6, 3), sr_ratios=(8, 4, 2, 1), **_PCPVT),
    "twins_pcpvt_base": TwinsArgs(depths=(3, 4, 18, 3), sr_ratios=(8, 4, 2, 1), **_PCPVT),
    "twins_pcpvt_large": TwinsArgs(depths=(3, 8, 27, 3), sr_ratios=(8, 4, 2, 1), **_PCPVT),
    "twins_svt_small": TwinsArgs(
        embed_dims=(64, 128, 256, 512), num_heads=(2, 4, 8, 16), depths=(2, 2, 10, 4), **_SVT
    ),
    "twins_svt_base": TwinsArgs(
        embed_dims=(96, 192, 384, 768), num_heads=(3, 6, 12, 24), depths=(2, 2, 18, 2), **_SVT
    ),
    "twins_svt_large": TwinsArgs(
        embed_dims=(128, 256, 512, 1024), num_heads=(4, 8, 16, 32), depths=(2, 2, 18, 2), **_SVT
    ),
}

WEIGHTS = {f"{name}.in1k": weight() for name in VARIANTS}

default_cfgs = register_family(
    __name__,
    model_cls=Twins,
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
        first_conv="patch_embeds.0.proj",
        classifier="head",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=4, feature_cls="getter"),
)


def __getattr__(name: str) -> Entrypoint:
    return family_entrypoint(__name__, name)
