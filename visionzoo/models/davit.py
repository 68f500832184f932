"""DaViT: four stages of dual attention blocks, each a window-attention block (local, over the
tokens of a window) then a channel-attention block (global, over the channels of a head), both
linear in the number of tokens, so any input size runs (maps are padded to the windows).

Papers:
* `DaViT: Dual Attention Vision Transformers` - https://arxiv.org/abs/2204.03645
* `Florence-2: Advancing a Unified Representation for a Variety of Vision Tasks` (the ``_fl``
  image towers) - https://arxiv.org/abs/2311.06242

Weights: MIT code (dingmyu/davit); the weights' ``license`` field is timm's (Apache-2.0), the
``_fl`` towers come from Microsoft's Florence-2 checkpoints on the Hub. Module names follow timm's
DaViT, so its checkpoints load unchanged; the original layout (``patch_embeds`` /
``main_blocks``) and Florence-2's ``vision_tower.*`` through :func:`checkpoint_filter_fn`.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import (
    Attention,
    DropPath,
    LayerType,
    Mlp,
    calculate_drop_path_rates,
    get_act_layer,
    get_norm_layer,
    pad_to_windows,
    window_partition,
    window_unpartition,
)
from ..layers.channel_attn import ChannelAttention, ChannelAttentionV2
from ..layers.classifier import check_num_classes
from ..model import NormHeadModel, Trunk
from ..pretrained import NO_WEIGHTS, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["ChannelBlock", "DaVit", "DaVitStage", "SpatialBlock", "checkpoint_filter_fn"]

NormFactory = Callable[[int], nn.Module]


class ConvPosEnc(nn.Module):
    """Conditional position encoding: ``x + act(depthwise kxk conv(x))`` on ``(B, C, H, W)``."""

    def __init__(self, dim: int, k: int = 3, act: bool = False) -> None:
        super().__init__()
        self.proj = nn.Conv2d(dim, dim, k, padding=k // 2, groups=dim)
        self.act: nn.Module = nn.GELU() if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.act(self.proj(x))


class Stem(nn.Module):
    """7x7 stride-4 conv (the input zero-padded right / bottom to a multiple of 4), then a norm."""

    def __init__(self, in_chs: int, out_chs: int, norm_layer: NormFactory) -> None:
        super().__init__()
        self.stride = 4
        self.conv = nn.Conv2d(in_chs, out_chs, 7, stride=self.stride, padding=3)
        self.norm = norm_layer(out_chs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.stride
        x = F.pad(x, (0, (s - x.shape[-1] % s) % s, 0, (s - x.shape[-2] % s) % s))
        return self.norm(self.conv(x))


class Downsample(nn.Module):
    """Norm, then a stride-2 conv: an even kernel pads the map right / bottom to a multiple of the
    kernel (no conv padding), an odd one pads ``k // 2`` all round."""

    def __init__(self, in_chs: int, out_chs: int, kernel_size: int, norm_layer: NormFactory) -> None:
        super().__init__()
        self.norm = norm_layer(in_chs)
        self.even_k = kernel_size % 2 == 0
        self.kernel_size = kernel_size
        padding = 0 if self.even_k else kernel_size // 2
        self.conv = nn.Conv2d(in_chs, out_chs, kernel_size, stride=2, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        if self.even_k:
            k = self.kernel_size
            x = F.pad(x, (0, (k - x.shape[-1] % k) % k, 0, (k - x.shape[-2] % k) % k))
        return self.conv(x)


class _DualAttnBlock(nn.Module):
    """What both halves of a dual block share, on ``(B, C, H, W)`` maps: position encoding ->
    norm -> attention (``_mix``, on tokens) -> residual, position encoding -> norm -> MLP ->
    residual (the MLP half only with ``ffn``)."""

    def __init__(
        self,
        dim: int,
        attn: nn.Module,
        *,
        mlp_ratio: float,
        drop_path: float,
        act_layer: LayerType,
        norm_layer: NormFactory,
        ffn: bool,
        cpe_act: bool,
    ) -> None:
        super().__init__()
        self.ffn = ffn
        self.cpe1 = ConvPosEnc(dim, act=cpe_act)
        self.norm1 = norm_layer(dim)
        self.attn = attn
        self.drop_path1: nn.Module = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.cpe2 = ConvPosEnc(dim, act=cpe_act)
        # NOTE: without ``ffn`` these hold no parameters (timm leaves them None): the same keys
        self.norm2: nn.Module = norm_layer(dim) if ffn else nn.Identity()
        self.mlp: nn.Module = Mlp(dim, int(dim * mlp_ratio), act_layer=act_layer) if ffn else nn.Identity()
        self.drop_path2: nn.Module = DropPath(drop_path) if ffn and drop_path > 0.0 else nn.Identity()

    def _mix(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        x = self.cpe1(x).flatten(2).transpose(1, 2)
        x = x + self.drop_path1(self._mix(self.norm1(x), (h, w)))
        x = self.cpe2(x.transpose(1, 2).reshape(b, c, h, w))
        if self.ffn:
            t = x.flatten(2).transpose(1, 2)
            t = t + self.drop_path2(self.mlp(self.norm2(t)))
            x = t.transpose(1, 2).reshape(b, c, h, w)
        return x


class SpatialBlock(_DualAttnBlock):
    """Multi-head self-attention within non-overlapping windows (no shift, no position bias: the
    convolutional position encodings carry the positions); the map is padded to whole windows."""

    def __init__(self, dim: int, num_heads: int, *, window_size: int, qkv_bias: bool, **kwargs: Any) -> None:
        super().__init__(dim, Attention(dim, num_heads, qkv_bias=qkv_bias), **kwargs)
        self.window_size = (window_size, window_size)

    def _mix(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        b, _, c = x.shape
        h, w = hw
        wh, ww = self.window_size
        x, padded = pad_to_windows(x.reshape(b, h, w, c), self.window_size)
        windows = self.attn(window_partition(x, self.window_size).reshape(-1, wh * ww, c))
        x = window_unpartition(windows.reshape(-1, wh, ww, c), self.window_size, padded)
        return x[:, :h, :w, :].reshape(b, h * w, c)


class ChannelBlock(_DualAttnBlock):
    """Channel attention over all the tokens (:mod:`visionzoo.layers.channel_attn`)."""

    def __init__(self, dim: int, num_heads: int, *, qkv_bias: bool, v2: bool, **kwargs: Any) -> None:
        attn_cls = ChannelAttentionV2 if v2 else ChannelAttention
        super().__init__(dim, attn_cls(dim, num_heads, qkv_bias=qkv_bias), **kwargs)

    def _mix(self, x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        return self.attn(x)


class DaVitStage(nn.Module):
    """A downsample (Identity in the first stage), then ``depth`` dual blocks: each a
    ``Sequential`` of the ``attn_types`` blocks in order (named ``spatial_block`` /
    ``channel_block`` with ``named_blocks``, Florence-2's keys; else numbered)."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        depth: int,
        downsample: bool,
        attn_types: Sequence[str],
        num_heads: int,
        window_size: int,
        qkv_bias: bool,
        drop_path_rates: Sequence[float],
        norm_layer: NormFactory,
        norm_layer_cl: NormFactory,
        down_kernel_size: int,
        channel_attn_v2: bool,
        named_blocks: bool,
        **block_kwargs: Any,
    ) -> None:
        super().__init__()
        self.downsample: nn.Module = (
            Downsample(in_chs, out_chs, down_kernel_size, norm_layer) if downsample else nn.Identity()
        )

        def half(kind: str, drop_path: float) -> tuple[str, nn.Module]:
            common = dict(
                num_heads=num_heads,
                qkv_bias=qkv_bias,
                drop_path=drop_path,
                norm_layer=norm_layer_cl,
                **block_kwargs,
            )
            if kind == "spatial":
                return "spatial_block", SpatialBlock(out_chs, window_size=window_size, **common)
            return "channel_block", ChannelBlock(out_chs, v2=channel_attn_v2, **common)

        blocks = []
        for i in range(depth):
            parts = [half(kind, drop_path_rates[i]) for kind in attn_types]
            blocks.append(
                nn.Sequential(OrderedDict(parts)) if named_blocks else nn.Sequential(*(m for _, m in parts))
            )
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class DaVit(NormHeadModel):
    """DaViT: a 7x7 stride-4 stem, then four stages of dual (window, channel) attention blocks,
    each stage after the first halving the map.

    Args:
        depths: dual blocks per stage.
        embed_dims: channels per stage.
        num_heads: attention heads per stage.
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        global_pool: pooling in the head.
        window_size: side of the attention windows.
        mlp_ratio: MLP hidden width over the block width.
        qkv_bias: bias on the attention ``qkv`` projections.
        norm_layer: channels-first norm (stem, downsamples, head), by name.
        norm_layer_cl: the blocks' token norm, by name.
        norm_eps: epsilon of every norm.
        attn_types: the blocks of a dual block, in order: ``spatial`` and / or ``channel``.
        ffn: an MLP after each attention.
        cpe_act: GELU on the position encodings' convs.
        down_kernel_size: kernel of the downsample convs (2: patch merging; 3: Florence-2).
        channel_attn_v2: Florence-2's channel attention (:class:`ChannelAttentionV2`).
        named_blocks: name a dual block's halves (Florence-2's keys) instead of numbering them.
        drop_rate: dropout before the classifier.
        drop_path_rate: stochastic depth, rising linearly to this over the dual blocks.
        head_norm_first: norm before pooling (``norm_pre``) and a plain classifier head, instead
            of DaViT's pool -> norm -> fc head.
    """

    trunk = Trunk(
        stem=("stem",),
        stages=("stages.*",),
        post=("norm_pre",),  # ``head_norm_first``'s norm: it belongs to the last stage
        blocks=("downsample", "blocks.*"),
        checkpoint="block",
        norm_last=True,
    )

    def __init__(
        self,
        depths: Sequence[int] = (1, 1, 3, 1),
        embed_dims: Sequence[int] = (96, 192, 384, 768),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "avg",
        window_size: int = 7,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        norm_layer: str = "layernorm2d",
        norm_layer_cl: str = "layernorm",
        norm_eps: float = 1e-5,
        attn_types: Sequence[str] = ("spatial", "channel"),
        ffn: bool = True,
        cpe_act: bool = False,
        down_kernel_size: int = 2,
        channel_attn_v2: bool = False,
        named_blocks: bool = False,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        head_norm_first: bool = False,
    ) -> None:
        super().__init__()
        n = len(embed_dims)
        if not n or len(depths) != n or len(num_heads) != n:
            raise ValueError(
                f"depths, embed_dims and num_heads need one entry per stage, got {depths!r}, "
                f"{embed_dims!r}, {num_heads!r}"
            )
        bad = [t for t in attn_types if t not in ("spatial", "channel")]
        if bad:
            raise ValueError(f"attn_types entries must be 'spatial' or 'channel', got {bad!r}")
        check_num_classes(num_classes)
        norm_cls, norm_cl_cls = get_norm_layer(norm_layer), get_norm_layer(norm_layer_cl)
        if norm_cls is None or norm_cl_cls is None:
            raise ValueError(f"DaVit needs norm layers, got {norm_layer!r} and {norm_layer_cl!r}")
        norm: NormFactory = partial(norm_cls, eps=norm_eps)
        norm_cl: NormFactory = partial(norm_cl_cls, eps=norm_eps)
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate

        self.stem = Stem(in_chans, embed_dims[0], norm)
        rates = calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        stages = []
        self.feature_info = []
        prev = embed_dims[0]
        for i in range(n):
            stages.append(
                DaVitStage(
                    prev,
                    embed_dims[i],
                    depth=depths[i],
                    downsample=i > 0,
                    attn_types=tuple(attn_types),
                    num_heads=num_heads[i],
                    window_size=window_size,
                    qkv_bias=qkv_bias,
                    drop_path_rates=rates[i],  # type: ignore[arg-type]
                    norm_layer=norm,
                    down_kernel_size=down_kernel_size,
                    channel_attn_v2=channel_attn_v2,
                    named_blocks=named_blocks,
                    mlp_ratio=mlp_ratio,
                    act_layer=get_act_layer("gelu"),
                    norm_layer_cl=norm_cl,
                    ffn=ffn,
                    cpe_act=cpe_act,
                )
            )
            prev = embed_dims[i]
            self.feature_info.append(dict(num_chs=prev, reduction=2 ** (i + 2), module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.num_features = prev

        # NOTE: pool -> norm -> fc is the order of the DaViT weights
        self._init_norm_head(
            num_classes,
            global_pool=global_pool,
            drop_rate=drop_rate,
            norm_layer=norm,
            norm_first=head_norm_first,
        )
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal (std 0.02) linears with zero biases; convs and norms keep PyTorch's."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [
                (r"^stages\.(\d+).downsample", (0,)),
                (r"^stages\.(\d+)\.blocks\.(\d+)", None),
                (r"^norm_pre", (99999,)),
            ],
        )


# --- checkpoint remap -----------------------------------------------------------------------------
_RenameRules = tuple[tuple[re.Pattern[str], str], ...]
# dingmyu/davit: patch_embeds.0 the stem, patch_embeds.i stage i's downsample, main_blocks.i.j
_MSFT_RENAMES: _RenameRules = (
    (re.compile(r"^patch_embeds\.0\.proj\."), "stem.conv."),
    (re.compile(r"^patch_embeds\.0\."), "stem."),
    (re.compile(r"^patch_embeds\.(\d+)\.proj\."), r"stages.\1.downsample.conv."),
    (re.compile(r"^patch_embeds\.(\d+)\."), r"stages.\1.downsample."),
    (re.compile(r"^main_blocks\.(\d+)\."), r"stages.\1.blocks."),
    (re.compile(r"\.cpe\.0\."), ".cpe1."),
    (re.compile(r"\.cpe\.1\."), ".cpe2."),
    (re.compile(r"^head\."), "head.fc."),
    (re.compile(r"^norms\."), "head.norm."),
)
# Florence-2's vision tower (prefix removed): convs.i, blocks.i.j.{spatial,channel}_block, each
# half wrapped as {window,channel}_attn / ffn / conv1 / conv2 with .norm and .fn
_FLORENCE_RENAMES: _RenameRules = (
    (re.compile(r"^convs\.0\.proj\."), "stem.conv."),
    (re.compile(r"^convs\.0\."), "stem."),
    (re.compile(r"^convs\.(\d+)\.proj\."), r"stages.\1.downsample.conv."),
    (re.compile(r"^convs\.(\d+)\."), r"stages.\1.downsample."),
    (re.compile(r"^blocks\.(\d+)\."), r"stages.\1.blocks."),
    (re.compile(r"\.(?:window|channel)_attn\.norm\."), ".norm1."),
    (re.compile(r"\.(?:window|channel)_attn\.fn\."), ".attn."),
    (re.compile(r"\.ffn\.norm\."), ".norm2."),
    (re.compile(r"\.ffn\.fn\.net\."), ".mlp."),
    (re.compile(r"\.conv([12])\.fn\.dw\."), r".cpe\1.proj."),
)
_FLORENCE_PREFIX = "vision_tower."


def _rename(key: str, rules: _RenameRules) -> str:
    for pattern, repl in rules:
        key = pattern.sub(repl, key)
    return key


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """Other DaViT layouts -> ours (timm's).

    * dingmyu/davit (optionally under ``state_dict``): ``patch_embeds.i`` (``.0`` the stem) with
      ``proj`` convs, ``main_blocks.i.j``, ``cpe.0`` / ``cpe.1``, ``norms`` / ``head`` the
      head's norm and classifier;
    * a Florence-2 checkpoint: only its ``vision_tower.*`` keys, renamed. It has no head; the
      head's norm gets its identity init (timm loads these non-strictly to the same effect).
    """
    state_dict = state_dict.get("state_dict", state_dict)
    if "stem.conv.weight" in state_dict:
        return state_dict  # already ours, with or without the classifier
    if f"{_FLORENCE_PREFIX}convs.0.proj.weight" in state_dict:
        n = len(_FLORENCE_PREFIX)
        out = {
            _rename(k[n:], _FLORENCE_RENAMES): v
            for k, v in state_dict.items()
            if k.startswith(_FLORENCE_PREFIX)
        }
        ours = model.state_dict()
        if "head.norm.weight" in ours and "head.norm.weight" not in out:
            out["head.norm.weight"] = torch.ones_like(ours["head.norm.weight"], device="cpu")
            out["head.norm.bias"] = torch.zeros_like(ours["head.norm.bias"], device="cpu")
        return out
    return {_rename(k, _MSFT_RENAMES): v for k, v in state_dict.items()}


# --- variants -------------------------------------------------------------------------------------
DaVitArgs = model_args_type(DaVit)
_D1191 = (1, 1, 9, 1)
_B, _H = (128, 256, 512, 1024), (256, 512, 1024, 2048)
_FLORENCE = dict(window_size=12, down_kernel_size=3, channel_attn_v2=True, named_blocks=True)

VARIANTS: dict[str, Any] = {
    "davit_tiny": DaVitArgs(depths=(1, 1, 3, 1), embed_dims=(96, 192, 384, 768), num_heads=(3, 6, 12, 24)),
    "davit_small": DaVitArgs(depths=_D1191, embed_dims=(96, 192, 384, 768), num_heads=(3, 6, 12, 24)),
    "davit_base": DaVitArgs(depths=_D1191, embed_dims=_B, num_heads=(4, 8, 16, 32)),
    "davit_large": DaVitArgs(depths=_D1191, embed_dims=(192, 384, 768, 1536), num_heads=(6, 12, 24, 48)),
    "davit_huge": DaVitArgs(depths=_D1191, embed_dims=_H, num_heads=(8, 16, 32, 64)),
    "davit_giant": DaVitArgs(
        depths=(1, 1, 12, 3), embed_dims=(384, 768, 1536, 3072), num_heads=(12, 24, 48, 96)
    ),
    "davit_base_fl": DaVitArgs(depths=_D1191, embed_dims=_B, num_heads=(4, 8, 16, 32), **_FLORENCE),
    # NOTE: the "huge" tower is the image encoder of Florence-2-large
    "davit_huge_fl": DaVitArgs(depths=_D1191, embed_dims=_H, num_heads=(8, 16, 32, 64), **_FLORENCE),
}


# --- weights --------------------------------------------------------------------------------------
_FLORENCE_W = dict(num_classes=0, input_size=(3, 768, 768))

WEIGHTS: dict[str, dict[str, Any]] = {
    "davit_tiny.msft_in1k": weight(),
    "davit_small.msft_in1k": weight(),
    "davit_base.msft_in1k": weight(),
    "davit_large": weight(NO_WEIGHTS),
    "davit_huge": weight(NO_WEIGHTS),
    "davit_giant": weight(NO_WEIGHTS),
    "davit_base_fl.msft_florence2": weight(_FLORENCE_W, hf_hub_id="microsoft/Florence-2-base"),
    "davit_huge_fl.msft_florence2": weight(_FLORENCE_W, hf_hub_id="microsoft/Florence-2-large"),
}

default_cfgs = register_family(
    __name__,
    model_cls=DaVit,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        crop_pct=0.95,
        interpolation="bicubic",
        first_conv="stem.conv",
        classifier="head.fc",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. davit_tiny
    return family_entrypoint(__name__, name)
