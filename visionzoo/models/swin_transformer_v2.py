"""Swin Transformer V2: Swin's shifted windows with cosine attention (a learned logit scale per
head), a continuous position bias from a small MLP over log-spaced offsets (so a window of
another size needs no table resampling), and res-post-norm blocks.

Paper: `Swin Transformer V2: Scaling Up Capacity and Resolution` - https://arxiv.org/abs/2111.09883

Weights: Microsoft's (microsoft/Swin-Transformer), MIT. Module names follow timm's
``swin_transformer_v2``; the shifted windows, patch merging, stages, resizing and checkpoint
remap are V1's (:mod:`visionzoo.models.swin_transformer`).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import LayerType, PatchEmbed, get_act_layer, to_2tuple, to_ntuple, trunc_normal_
from ..layers.pos_embed_rel import gen_relative_log_coords, gen_relative_position_index
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type
from .swin_transformer import CFG_DEFAULTS as SWIN_CFG_DEFAULTS
from .swin_transformer import Size2, SwinTransformerBase, WindowSpec, checkpoint_filter_fn

__all__ = ["SwinTransformerV2", "WindowAttentionV2"]

LayerFn = Callable[..., nn.Module]


class WindowAttentionV2(nn.Module):
    """Cosine attention inside a window: ``cos(q, k) * exp(min(logit_scale, ln 100))`` per head,
    plus ``16 * sigmoid(cpb_mlp(offset))``, a bias per head from an MLP over each log-spaced
    offset (normalised by ``pretrained_window_size`` where the weights were trained at another
    window), plus the seam mask of shifted windows."""

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        k_bias: torch.Tensor | None
        relative_coords_table: torch.Tensor
        relative_position_index: torch.Tensor

    def __init__(
        self,
        dim: int,
        window_size: Size2,
        num_heads: int,
        qkv_bias: bool = True,
        qkv_bias_separate: bool = False,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        pretrained_window_size: Size2 = (0, 0),
        head_dim: int | None = None,
    ) -> None:
        super().__init__()
        if head_dim is not None and head_dim * num_heads != dim:
            raise ValueError(
                f"Swin V2 attention splits dim={dim} over its heads; head_dim={head_dim} is not supported"
            )
        self.dim = dim
        self.window_size = to_2tuple(window_size)
        self.pretrained_window_size = to_2tuple(pretrained_window_size)
        self.num_heads = num_heads
        self.qkv_bias_separate = qkv_bias_separate
        self.fused_attn = True
        self.logit_scale = nn.Parameter(torch.full((num_heads, 1, 1), math.log(10.0)))
        self.cpb_mlp = nn.Sequential(
            nn.Linear(2, 512, bias=True), nn.ReLU(inplace=True), nn.Linear(512, num_heads, bias=False)
        )
        self.qkv = nn.Linear(dim, dim * 3, bias=False)
        self.q_bias: nn.Parameter | None = nn.Parameter(torch.zeros(dim)) if qkv_bias else None
        self.register_buffer("k_bias", torch.zeros(dim) if qkv_bias else None, persistent=False)
        self.v_bias: nn.Parameter | None = nn.Parameter(torch.zeros(dim)) if qkv_bias else None
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.register_buffer("relative_coords_table", torch.empty(0), persistent=False)
        self.register_buffer("relative_position_index", torch.empty(0, dtype=torch.long), persistent=False)
        self._init_buffers()

    def _init_buffers(self) -> None:
        """Offsets and index follow the window (never stored in checkpoints)."""
        device = self.relative_position_index.device
        ref = self.pretrained_window_size if self.pretrained_window_size[0] > 0 else self.window_size
        # NOTE: a window of 1 has only the offset 0: normalise it by 1 (not 0 / 0), as timm's V2 does
        ref = (max(ref[0], 2), max(ref[1], 2))
        self.relative_coords_table = gen_relative_log_coords(
            self.window_size, ref, mode="swin", device=device
        )
        self.relative_position_index = gen_relative_position_index(self.window_size, device=device)
        if self.k_bias is not None:
            self.k_bias = torch.zeros_like(self.k_bias)

    def init_non_persistent_buffers(self) -> None:
        self._init_buffers()

    def reset_parameters(self) -> None:
        nn.init.constant_(self.logit_scale, math.log(10.0))
        if self.q_bias is not None and self.v_bias is not None:
            nn.init.zeros_(self.q_bias)
            nn.init.zeros_(self.v_bias)
        self._init_buffers()

    def set_window_size(self, window_size: int | Size2) -> None:
        """Another window: new offsets and index, the same MLP."""
        new = to_2tuple(window_size)
        if new != self.window_size:
            self.window_size = new
            self._init_buffers()

    def _rel_pos_bias(self) -> torch.Tensor:
        n = self.window_size[0] * self.window_size[1]
        table = self.cpb_mlp(self.relative_coords_table).view(-1, self.num_heads)
        bias = table[self.relative_position_index.view(-1)].view(n, n, -1).permute(2, 0, 1)
        return 16 * torch.sigmoid(bias).unsqueeze(0)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Windows ``(B * nW, N, C)`` -> ``(B * nW, N, C)``; ``mask`` ``(nW, N, N)`` or None."""
        b, n, c = x.shape
        if self.q_bias is None or self.k_bias is None or self.v_bias is None:
            qkv = self.qkv(x)
        else:
            qkv_bias = torch.cat((self.q_bias, self.k_bias, self.v_bias))
            qkv = self.qkv(x) + qkv_bias if self.qkv_bias_separate else F.linear(x, self.qkv.weight, qkv_bias)
        q, k, v = qkv.reshape(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        scale = torch.clamp(self.logit_scale, max=math.log(100.0)).exp()
        q, k = F.normalize(q, dim=-1) * scale, F.normalize(k, dim=-1)
        bias = self._rel_pos_bias()
        if mask is not None:
            num_win = mask.shape[0]
            bias = (bias.unsqueeze(1) + mask.view(1, num_win, 1, n, n)).expand(b // num_win, -1, -1, -1, -1)
            bias = bias.reshape(-1, self.num_heads, n, n)
        if self.fused_attn:
            x = F.scaled_dot_product_attention(
                q,
                k,
                v,
                attn_mask=bias.to(q.dtype),
                dropout_p=self.attn_drop.p if self.training else 0.0,
                scale=1.0,
            )
        else:
            x = self.attn_drop((q @ k.transpose(-2, -1) + bias).softmax(dim=-1)) @ v
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(b, n, c)))


class SwinTransformerV2(SwinTransformerBase):
    """Swin Transformer V2: V1's trunk with res-post-norm blocks, norm-after patch merging and
    :class:`WindowAttentionV2`.

    Args:
        img_size: input size the masks and windows are built for.
        patch_size: the patch embedding's stride.
        embed_dim: the first stage's width (doubled per stage).
        depths: blocks per stage.
        num_heads: heads per stage.
        window_size: an int or ``(h, w)`` for every stage, or one per stage.
        always_partition: cut windows and shift even where the window covers the map.
        strict_img_size: only inputs of ``img_size`` (False: any size, masks built per forward).
        dynamic_img_size: the same as ``strict_img_size=False``.
        pretrained_window_sizes: per stage, the window the weights were trained at (0: this one),
            which the bias MLP's offsets are normalised by.
        drop_path_rate: stochastic depth, rising linearly to this over the blocks.
    """

    def __init__(
        self,
        img_size: int | Size2 = 224,
        patch_size: int = 4,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        embed_dim: int = 96,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        window_size: WindowSpec = 7,
        always_partition: bool = False,
        strict_img_size: bool = True,
        dynamic_img_size: bool = False,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        act_layer: LayerType = "gelu",
        norm_layer: LayerFn = nn.LayerNorm,
        pretrained_window_sizes: Sequence[int | Size2] = (0, 0, 0, 0),
    ) -> None:
        super().__init__()
        num_stages = len(depths)
        act = get_act_layer(act_layer)
        pretrained = to_ntuple(num_stages)(pretrained_window_sizes)
        stage_args = [
            dict(
                mlp_ratio=mlp_ratio,
                always_partition=always_partition,
                qkv_bias=qkv_bias,
                proj_drop=proj_drop_rate,
                attn_drop=attn_drop_rate,
                act_layer=act,
                attn_layer=functools.partial(
                    WindowAttentionV2, pretrained_window_size=to_2tuple(pretrained[i])
                ),
                post_norm=True,
            )
            for i in range(num_stages)
        ]
        self._build(
            img_size=img_size,
            patch_size=patch_size,
            in_chans=in_chans,
            num_classes=num_classes,
            global_pool=global_pool,
            embed_dim=embed_dim,
            depths=depths,
            num_heads=num_heads,
            window_size=window_size,
            strict_img_size=strict_img_size and not dynamic_img_size,
            drop_rate=drop_rate,
            drop_path_rate=drop_path_rate,
            embed_layer=PatchEmbed,
            norm_layer=norm_layer,
            stage_args=stage_args,
        )
        self._initialize()

    def init_weights(self, needs_reset: bool = True) -> None:
        """Truncated-normal (std 0.02) linears with zero biases; every block's post-norms start at
        zero (each residual branch starts closed)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif needs_reset and m is not self and hasattr(m, "reset_parameters"):
                cast(Any, m).reset_parameters()
        for stage in self.layers:
            for block in stage.blocks:  # type: ignore[union-attr]
                for norm in (block.norm1, block.norm2):
                    nn.init.zeros_(norm.weight)
                    nn.init.zeros_(norm.bias)

    def _initialize(self, **kwargs: Any) -> None:
        super()._initialize(needs_reset=False)

    def no_weight_decay(self) -> set[str]:
        """The bias MLPs and logit scales."""
        return {n for n, _ in self.named_parameters() if "cpb_mlp" in n or "logit_scale" in n}


# --- variants -------------------------------------------------------------------------------------
SwinTransformerV2Args = model_args_type(SwinTransformerV2)

_T = dict(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24))
_S = dict(embed_dim=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24))
_B = dict(embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32))
_L = dict(embed_dim=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48))
_FROM12 = dict(pretrained_window_sizes=(12, 12, 12, 6))  # fine-tuned from 192 px, window 12
VARIANTS: dict[str, Any] = {
    "swinv2_tiny_window16_256": SwinTransformerV2Args(window_size=16, **_T),
    "swinv2_tiny_window8_256": SwinTransformerV2Args(window_size=8, **_T),
    "swinv2_small_window16_256": SwinTransformerV2Args(window_size=16, **_S),
    "swinv2_small_window8_256": SwinTransformerV2Args(window_size=8, **_S),
    "swinv2_base_window16_256": SwinTransformerV2Args(window_size=16, **_B),
    "swinv2_base_window8_256": SwinTransformerV2Args(window_size=8, **_B),
    "swinv2_base_window12_192": SwinTransformerV2Args(window_size=12, **_B),
    "swinv2_base_window12to16_192to256": SwinTransformerV2Args(window_size=16, **_B, **_FROM12),
    "swinv2_base_window12to24_192to384": SwinTransformerV2Args(window_size=24, **_B, **_FROM12),
    "swinv2_large_window12_192": SwinTransformerV2Args(window_size=12, **_L),
    "swinv2_large_window12to16_192to256": SwinTransformerV2Args(window_size=16, **_L, **_FROM12),
    "swinv2_large_window12to24_192to384": SwinTransformerV2Args(window_size=24, **_L, **_FROM12),
}

_MS = "https://github.com/SwinTransformer/storage/releases/download/v2.0.0/"
_384 = dict(input_size=(3, 384, 384), pool_size=(12, 12), crop_pct=1.0)
_IN22K_192 = dict(num_classes=21841, input_size=(3, 192, 192), pool_size=(6, 6))
WEIGHTS = {
    "swinv2_base_window12to16_192to256.ms_in22k_ft_in1k": weight(
        default=True, url=_MS + "swinv2_base_patch4_window12to16_192to256_22kto1k_ft.pth"
    ),
    "swinv2_base_window12to24_192to384.ms_in22k_ft_in1k": weight(
        _384, default=True, url=_MS + "swinv2_base_patch4_window12to24_192to384_22kto1k_ft.pth"
    ),
    "swinv2_large_window12to16_192to256.ms_in22k_ft_in1k": weight(
        default=True, url=_MS + "swinv2_large_patch4_window12to16_192to256_22kto1k_ft.pth"
    ),
    "swinv2_large_window12to24_192to384.ms_in22k_ft_in1k": weight(
        _384, default=True, url=_MS + "swinv2_large_patch4_window12to24_192to384_22kto1k_ft.pth"
    ),
    "swinv2_tiny_window8_256.ms_in1k": weight(default=True, url=_MS + "swinv2_tiny_patch4_window8_256.pth"),
    "swinv2_tiny_window16_256.ms_in1k": weight(default=True, url=_MS + "swinv2_tiny_patch4_window16_256.pth"),
    "swinv2_small_window8_256.ms_in1k": weight(default=True, url=_MS + "swinv2_small_patch4_window8_256.pth"),
    "swinv2_small_window16_256.ms_in1k": weight(
        default=True, url=_MS + "swinv2_small_patch4_window16_256.pth"
    ),
    "swinv2_base_window8_256.ms_in1k": weight(default=True, url=_MS + "swinv2_base_patch4_window8_256.pth"),
    "swinv2_base_window16_256.ms_in1k": weight(default=True, url=_MS + "swinv2_base_patch4_window16_256.pth"),
    "swinv2_base_window12_192.ms_in22k": weight(
        _IN22K_192, default=True, url=_MS + "swinv2_base_patch4_window12_192_22k.pth"
    ),
    "swinv2_large_window12_192.ms_in22k": weight(
        _IN22K_192, default=True, url=_MS + "swinv2_large_patch4_window12_192_22k.pth"
    ),
}

DEPRECATED = {
    "swinv2_base_window12_192_22k": "swinv2_base_window12_192.ms_in22k",
    "swinv2_base_window12to16_192to256_22kft1k": "swinv2_base_window12to16_192to256.ms_in22k_ft_in1k",
    "swinv2_base_window12to24_192to384_22kft1k": "swinv2_base_window12to24_192to384.ms_in22k_ft_in1k",
    "swinv2_large_window12_192_22k": "swinv2_large_window12_192.ms_in22k",
    "swinv2_large_window12to16_192to256_22kft1k": "swinv2_large_window12to16_192to256.ms_in22k_ft_in1k",
    "swinv2_large_window12to24_192to384_22kft1k": "swinv2_large_window12to24_192to384.ms_in22k_ft_in1k",
}

default_cfgs = register_family(
    __name__,
    model_cls=SwinTransformerV2,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(SWIN_CFG_DEFAULTS, input_size=(3, 256, 256), pool_size=(8, 8)),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
    deprecated=DEPRECATED,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. swinv2_tiny_window8_256
    return family_entrypoint(__name__, name)
