"""Swin Transformer V2-CR: timm's reimplementation of Swin V2 (after Christoph Reich's): cosine
window attention with a learned logit scale per head, a position bias from an MLP over
natural-log-spaced offsets (raw, no sigmoid), res-post-norm blocks whose norms start at zero, and
a norm on the main branch at the end of the last stage (every stage with ``extra_norm_stage``,
every sixth block for Huge / Giant). No final model norm.

Paper: `Swin Transformer V2: Scaling Up Capacity and Resolution` - https://arxiv.org/abs/2111.09883

Weights: timm's own (Ross Wightman), Apache-2.0. Module names follow timm's
``swin_transformer_v2_cr``; the shifted windows, patch merging, stages and resizing are Swin's
(:mod:`visionzoo.models.swin_transformer`). Maps between stages are ``(B, C, H, W)`` (timm's), the
blocks work channels-last.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import (
    ClassifierHead,
    Mlp,
    PatchEmbed,
    calculate_drop_path_rates,
    to_2tuple,
)
from ..layers.pos_embed_rel import gen_relative_log_coords, gen_relative_position_index
from ..model import Trunk
from ..pretrained import NO_WEIGHTS, RWIGHTMAN_RELEASES, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type
from .swin_transformer import (
    Size2,
    SwinTransformerBase,
    SwinTransformerBlock,
    SwinTransformerStage,
    WindowSpec,
    _stage_window_ratios,
    _windows_for_grid,
    stage_window_sizes,
)

__all__ = ["SwinTransformerV2Cr", "WindowMultiHeadAttention", "checkpoint_filter_fn"]

LayerFn = Callable[..., nn.Module]


def pair_log_offsets(window_size: Size2, device: torch.device | None = None) -> torch.Tensor:
    """``(N*N, 2)``: row ``i * N + j`` is ``sign(d) * ln(1 + |d|)`` of the offset ``(dy, dx)`` from
    token ``j`` to token ``i`` of a window of ``N`` tokens (row-major)."""
    table = gen_relative_log_coords(window_size, mode="cr", device=device).view(-1, 2)
    return table[gen_relative_position_index(window_size, device=device).view(-1)]


class WindowMultiHeadAttention(nn.Module):
    """Cosine attention inside a window: ``cos(q, k) * exp(min(logit_scale, ln 100))`` per head,
    plus a bias per head from ``meta_mlp`` over each token pair's log-spaced offset (evaluated per
    pair, as timm does, so its hidden dropout draws per pair), plus the seam mask."""

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        relative_coordinates_log: torch.Tensor

    def __init__(
        self,
        dim: int,
        num_heads: int,
        head_dim: int | None = None,
        window_size: int | Size2 = 7,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        meta_hidden_dim: int = 384,
    ) -> None:
        super().__init__()
        if dim % num_heads != 0 or (head_dim is not None and head_dim * num_heads != dim):
            raise ValueError(f"dim={dim} must split evenly over num_heads={num_heads} (head_dim={head_dim})")
        self.dim = dim
        self.num_heads = num_heads
        self.window_size = to_2tuple(window_size)
        self.fused_attn = True
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        # NOTE: the hidden dropout (0.125) is timm's: the bias MLP overfits without it
        self.meta_mlp = Mlp(
            2, hidden_features=meta_hidden_dim, out_features=num_heads, act_layer=nn.ReLU, drop=(0.125, 0.0)
        )
        self.logit_scale = nn.Parameter(torch.full((num_heads,), math.log(10.0)))
        self.register_buffer("relative_coordinates_log", pair_log_offsets(self.window_size), persistent=False)

    def reset_parameters(self) -> None:
        nn.init.constant_(self.logit_scale, math.log(10.0))
        self.init_non_persistent_buffers()

    def init_non_persistent_buffers(self) -> None:
        """The offsets follow the window (never stored in checkpoints)."""
        self.relative_coordinates_log = pair_log_offsets(
            self.window_size, device=self.relative_coordinates_log.device
        )

    def set_window_size(self, window_size: int | Size2) -> None:
        """Another window: new offsets, the same MLP."""
        new = to_2tuple(window_size)
        if new != self.window_size:
            self.window_size = new
            self.init_non_persistent_buffers()

    def _rel_pos_bias(self) -> torch.Tensor:
        n = self.window_size[0] * self.window_size[1]
        bias = self.meta_mlp(self.relative_coordinates_log).transpose(0, 1)
        return bias.reshape(1, self.num_heads, n, n)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Windows ``(B * nW, N, C)`` -> ``(B * nW, N, C)``; ``mask`` ``(nW, N, N)`` or None."""
        b, n, c = x.shape
        q, k, v = (
            self.qkv(x).view(b, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4).unbind(0)
        )
        scale = torch.clamp(self.logit_scale.view(1, -1, 1, 1), max=math.log(100.0)).exp()
        q, k = F.normalize(q, dim=-1) * scale, F.normalize(k, dim=-1)
        bias = self._rel_pos_bias()
        if mask is not None:
            num_win = mask.shape[0]
            bias = (bias.unsqueeze(1) + mask.view(1, num_win, 1, n, n)).expand(b // num_win, -1, -1, -1, -1)
            bias = bias.reshape(-1, self.num_heads, n, n)
        if self.fused_attn and not (self.training and self.attn_drop.p > 0.0):
            x = F.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype), scale=1.0)
        else:  # attention dropout drawn over the full map, as timm's
            x = self.attn_drop((q @ k.transpose(-2, -1) + bias).softmax(dim=-1)) @ v
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(b, n, c)))


class SwinTransformerV2Cr(SwinTransformerBase):
    """Swin Transformer V2-CR: patch embedding (conv, norm), stages of res-post-norm blocks with
    :class:`WindowMultiHeadAttention` (patch merging norms before its projection), the last
    stage ending in a norm, a pooling head.

    Args:
        img_size: input size the masks and windows are built for.
        patch_size: the patch embedding's stride.
        window_size: an int or ``(h, w)`` for every stage, or one per stage (overrides
            ``window_ratio``).
        window_ratio: the window is the patch grid over this (one, or one per stage).
        always_partition: cut windows and shift even where the window covers the map.
        strict_img_size: only inputs of ``img_size`` (False: any size, masks built per forward).
        dynamic_img_size: the same as ``strict_img_size=False``.
        embed_dim: the first stage's width (doubled per stage).
        depths: blocks per stage.
        num_heads: heads per stage.
        init_values: each block's post-norm weights start at this (None: the norm's default).
        extra_norm_period: every N-th block of a stage ends with a norm (0: none).
        extra_norm_stage: every stage (not only the last) ends with a norm.
        sequential_attn: accepted for timm's signature; attention is always computed at once.
        weight_init: ``'reset'`` (each module's own init), ``'skip'`` (none) or ``'swin'`` (timm's
            Swin init: xavier linears, q / k / v each xavier, a zero head).
    """

    # NOTE: whole stages are the recompute unit: a stage's forward also changes the map's layout
    trunk = Trunk(stem=("patch_embed",), stages=("stages.*",))
    output_fmt = "NCHW"

    def __init__(
        self,
        img_size: int | Size2 = 224,
        patch_size: int = 4,
        window_size: WindowSpec | None = None,
        window_ratio: int | Sequence[int] = 8,
        always_partition: bool = False,
        strict_img_size: bool = True,
        dynamic_img_size: bool = False,
        in_chans: int = 3,
        num_classes: int = 1000,
        embed_dim: int = 96,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        mlp_ratio: float = 4.0,
        init_values: float | None = 0.0,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_layer: LayerFn = nn.LayerNorm,
        extra_norm_period: int = 0,
        extra_norm_stage: bool = False,
        sequential_attn: bool = False,
        global_pool: str = "avg",
        weight_init: str = "reset",
    ) -> None:
        super().__init__()
        if weight_init not in ("reset", "skip", "swin"):
            raise ValueError(f"weight_init={weight_init!r}; valid: 'reset', 'skip', 'swin'")
        if len(num_heads) != len(depths):
            raise ValueError(
                f"num_heads={tuple(num_heads)} needs one entry per stage (depths={tuple(depths)})"
            )
        strict = strict_img_size and not dynamic_img_size
        self.dynamic_img_size = not strict
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.patch_size = patch_size
        self.init_values = init_values
        self.sequential_attn = sequential_attn
        num_stages = len(depths)
        self.num_layers = num_stages
        self.embed_dim = embed_dim
        self.num_features = int(embed_dim * 2 ** (num_stages - 1))
        self.patch_embed = PatchEmbed(
            img_size=img_size,
            patch_size=patch_size,
            in_chans=in_chans,
            embed_dim=embed_dim,
            norm_layer=norm_layer,
            strict_img_size=strict,
            output_fmt="NHWC",  # the first stage takes it channels-last; the rest NCHW
        )
        self.img_size = self.patch_embed.img_size
        grid = cast(Size2, tuple(self.patch_embed.grid_size))
        if window_size is not None:
            windows = stage_window_sizes(window_size, num_stages)
        else:
            windows = _windows_for_grid(grid, (), grid, None, _stage_window_ratios(window_ratio, num_stages))
        self.window_size = windows[0]
        # the windows set_input_size scales with the grid (each stage keeps its window-to-grid ratio)
        self._ref_window_sizes = windows
        self._ref_grid_size = grid
        rates = cast(
            list[list[float]], calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        )
        stages, self.feature_info = [], []
        dim, scale = embed_dim, 1
        for i in range(num_stages):
            out_dim = dim * 2 if i > 0 else dim
            stages.append(
                SwinTransformerStage(
                    dim=dim,
                    out_dim=out_dim,
                    input_resolution=((grid[0] + scale - 1) // scale, (grid[1] + scale - 1) // scale),
                    depth=depths[i],
                    downsample=i > 0,
                    num_heads=num_heads[i],
                    window_size=windows[i],
                    always_partition=always_partition,
                    dynamic_mask=not strict,
                    mlp_ratio=mlp_ratio,
                    proj_drop=proj_drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=rates[i],
                    norm_layer=norm_layer,
                    attn_layer=WindowMultiHeadAttention,
                    post_norm=True,
                    merge_post_norm=False,
                    extra_norm_period=extra_norm_period,
                    extra_norm_stage=extra_norm_stage or i == num_stages - 1,
                    input_fmt="NHWC" if i == 0 else "NCHW",
                    output_fmt="NCHW",
                )
            )
            dim = out_dim
            if i > 0:
                scale *= 2
            self.feature_info.append(dict(num_chs=dim, reduction=patch_size * scale, module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.global_pool = global_pool
        self.head = ClassifierHead(self.num_features, num_classes, pool_type=global_pool, drop_rate=drop_rate)
        self.head_hidden_size = self.head.num_features
        self.weight_init_mode = "reset" if weight_init == "skip" else weight_init
        if weight_init != "skip":
            self._initialize()

    def _swin_stages(self) -> nn.Sequential:
        return self.stages

    def init_weights(self, needs_reset: bool = True) -> None:
        """``'reset'``: each module's own init (PyTorch's linears); ``'swin'``: xavier-uniform
        linears (q, k and v each its own fan), a zero head, zero biases. Then every block's
        post-norm weights start at ``init_values``."""
        for name, m in self.named_modules():
            if m is self:
                continue
            if self.weight_init_mode == "swin" and isinstance(m, nn.Linear):
                if "qkv" in name:
                    bound = math.sqrt(6.0 / float(m.weight.shape[0] // 3 + m.weight.shape[1]))
                    nn.init.uniform_(m.weight, -bound, bound)
                elif "head" in name:
                    nn.init.zeros_(m.weight)
                else:
                    nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif needs_reset and hasattr(m, "reset_parameters"):
                cast(Any, m).reset_parameters()
        if self.init_values is not None:
            for stage in self.stages:
                for block in cast(SwinTransformerStage, stage).blocks:
                    blk = cast(SwinTransformerBlock, block)
                    nn.init.constant_(cast(nn.LayerNorm, blk.norm1).weight, self.init_values)
                    nn.init.constant_(cast(nn.LayerNorm, blk.norm2).weight, self.init_values)

    def _initialize(self, **kwargs: Any) -> None:
        super()._initialize(needs_reset=False)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^patch_embed",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [(r"^stages\.(\d+).downsample", (0,)), (r"^stages\.(\d+)\.\w+\.(\d+)", None)],
        )

    def no_weight_decay(self) -> set[str]:
        """The bias MLPs and logit scales."""
        return {n for n, _ in self.named_parameters() if "meta_mlp" in n or "logit_scale" in n}


# --- checkpoint remap -----------------------------------------------------------------------------
def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """Checkpoints (under ``model`` / ``state_dict``) to this model. timm's layout loads as is;
    the older one (a bare ``head``, attention temperatures ``tau``) is moved to ours: ``head.fc``,
    and ``logit_scale = ln(1 / tau)``."""
    state_dict = state_dict.get("model", state_dict)
    state_dict = state_dict.get("state_dict", state_dict)
    if "head.fc.weight" in state_dict:
        return state_dict
    out: dict[str, torch.Tensor] = {}
    for k, v in state_dict.items():
        if "tau" in k:
            k, v = k.replace("tau", "logit_scale"), torch.log(1.0 / v)
        out[k.replace("head.", "head.fc.")] = v
    return out


# --- variants -------------------------------------------------------------------------------------
SwinTransformerV2CrArgs = model_args_type(SwinTransformerV2Cr)

_T = dict(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24))
_S = dict(embed_dim=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24))
_B = dict(embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32))
_L = dict(embed_dim=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48))
_H = dict(embed_dim=352, depths=(2, 2, 18, 2), extra_norm_period=6)
_G = dict(embed_dim=512, depths=(2, 2, 42, 2), num_heads=(16, 32, 64, 128), extra_norm_period=6)
_NS = dict(extra_norm_stage=True)
VARIANTS: dict[str, Any] = {
    "swinv2_cr_tiny_384": SwinTransformerV2CrArgs(**_T),
    "swinv2_cr_tiny_224": SwinTransformerV2CrArgs(**_T),
    "swinv2_cr_tiny_ns_224": SwinTransformerV2CrArgs(**_T, **_NS),
    "swinv2_cr_small_384": SwinTransformerV2CrArgs(**_S),
    "swinv2_cr_small_224": SwinTransformerV2CrArgs(**_S),
    "swinv2_cr_small_ns_224": SwinTransformerV2CrArgs(**_S, **_NS),
    "swinv2_cr_small_ns_256": SwinTransformerV2CrArgs(**_S, **_NS),
    "swinv2_cr_base_384": SwinTransformerV2CrArgs(**_B),
    "swinv2_cr_base_224": SwinTransformerV2CrArgs(**_B),
    "swinv2_cr_base_ns_224": SwinTransformerV2CrArgs(**_B, **_NS),
    "swinv2_cr_large_384": SwinTransformerV2CrArgs(**_L),
    "swinv2_cr_large_224": SwinTransformerV2CrArgs(**_L),
    # timm is unsure of Huge's head counts: its 384 and 224 builds try different ones
    "swinv2_cr_huge_384": SwinTransformerV2CrArgs(num_heads=(11, 22, 44, 88), **_H),
    "swinv2_cr_huge_224": SwinTransformerV2CrArgs(num_heads=(8, 16, 32, 64), **_H),
    "swinv2_cr_giant_384": SwinTransformerV2CrArgs(**_G),
    "swinv2_cr_giant_224": SwinTransformerV2CrArgs(**_G),
}

_RW = RWIGHTMAN_RELEASES + "v0.1-weights-swinv2/"
_384 = dict(input_size=(3, 384, 384), crop_pct=1.0, pool_size=(12, 12))
WEIGHTS = {
    "swinv2_cr_tiny_384.untrained": weight(_384, NO_WEIGHTS),
    "swinv2_cr_tiny_224.untrained": weight(NO_WEIGHTS),
    "swinv2_cr_tiny_ns_224.sw_in1k": weight(url=_RW + "swin_v2_cr_tiny_ns_224-ba8166c6.pth"),
    "swinv2_cr_small_384.untrained": weight(_384, NO_WEIGHTS),
    "swinv2_cr_small_224.sw_in1k": weight(url=_RW + "swin_v2_cr_small_224-0813c165.pth"),
    "swinv2_cr_small_ns_224.sw_in1k": weight(url=_RW + "swin_v2_cr_small_ns_224_iv-2ce90f8e.pth"),
    "swinv2_cr_small_ns_256.untrained": weight(
        NO_WEIGHTS, input_size=(3, 256, 256), crop_pct=1.0, pool_size=(8, 8)
    ),
    "swinv2_cr_base_384.untrained": weight(_384, NO_WEIGHTS),
    "swinv2_cr_base_224.untrained": weight(NO_WEIGHTS),
    "swinv2_cr_base_ns_224.untrained": weight(NO_WEIGHTS),
    "swinv2_cr_large_384.untrained": weight(_384, NO_WEIGHTS),
    "swinv2_cr_large_224.untrained": weight(NO_WEIGHTS),
    "swinv2_cr_huge_384.untrained": weight(_384, NO_WEIGHTS),
    "swinv2_cr_huge_224.untrained": weight(NO_WEIGHTS),
    "swinv2_cr_giant_384.untrained": weight(_384, NO_WEIGHTS),
    "swinv2_cr_giant_224.untrained": weight(NO_WEIGHTS),
}

default_cfgs = register_family(
    __name__,
    model_cls=SwinTransformerV2Cr,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        num_classes=1000,
        input_size=(3, 224, 224),
        pool_size=(7, 7),
        crop_pct=0.9,
        interpolation="bicubic",
        fixed_input_size=True,
        first_conv="patch_embed.proj",
        classifier="head.fc",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. swinv2_cr_tiny_224
    return family_entrypoint(__name__, name)
