"""The Segment Anything (SAM) image encoder: a plain ViT on a ``(B, H, W, C)`` token grid whose
blocks attend within windows, a few globally, each adding a decomposed relative position bias
(one learned vector per row offset and per column offset), then a conv neck.

Papers:
* `Segment Anything` - https://arxiv.org/abs/2304.02643
* `Exploring Plain Vision Transformer Backbones for Object Detection` - https://arxiv.org/abs/2203.16527

Weights: Meta's SA-1B encoders (https://github.com/facebookresearch/segment-anything), apache-2.0;
no classifier. Module names follow timm's ``vision_transformer_sam``; :func:`checkpoint_filter_fn`
reads the original SAM checkpoints (the whole model, ``image_encoder.*`` kept).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..features import feature_take_indices
from ..layers import (
    ClassifierHead,
    DropPath,
    LayerNorm2d,
    LayerScale,
    Mlp,
    NormMlpClassifierHead,
    PatchDropout,
    PatchEmbed,
    calculate_drop_path_rates,
    decomposed_rel_pos_bias,
    pad_to_windows,
    resample_abs_pos_embed,
    to_2tuple,
    window_partition,
    window_unpartition,
)
from ..layers.pos_embed_sincos import RotaryEmbeddingCat, apply_rot_embed_cat
from ..model import NormHeadModel, checkpoint_seq
from ..pretrained import (
    IMAGENET_DEFAULT_MEAN,
    IMAGENET_DEFAULT_STD,
    IMAGENET_INCEPTION_MEAN,
    IMAGENET_INCEPTION_STD,
    weight,
)
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "VARIANTS",
    "WEIGHTS",
    "Attention",
    "Block",
    "VisionTransformerSAM",
    "checkpoint_filter_fn",
    "default_cfgs",
]

LayerFn = Callable[..., nn.Module]


# NOTE: one FX graph node each: both read sizes that only a call knows
torch.fx.wrap("decomposed_rel_pos_bias")
torch.fx.wrap("_resample_pos_embed")


def _resample_pos_embed(pos_embed: torch.Tensor, hw: list[int]) -> torch.Tensor:
    """The ``(1, H, W, D)`` position embedding on an ``hw`` grid (bicubic, as the 1024 px grid it
    was learned on is resampled for other input sizes)."""
    _, h, w, dim = pos_embed.shape
    if h == hw[0] and w == hw[1]:
        return pos_embed
    flat = resample_abs_pos_embed(pos_embed.reshape(1, h * w, dim), hw, old_size=[h, w], num_prefix_tokens=0)
    return flat.reshape(1, hw[0], hw[1], dim)


class Attention(nn.Module):
    """Self-attention over a ``(B, H, W, C)`` grid, with the decomposed relative position bias
    (``use_rel_pos``) over an ``input_size`` grid."""

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = True,
        qk_norm: bool = False,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        norm_layer: LayerFn = nn.LayerNorm,
        use_rel_pos: bool = False,
        input_size: tuple[int, int] | None = None,
        rope: RotaryEmbeddingCat | None = None,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.fused_attn = True
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.q_norm = norm_layer(self.head_dim) if qk_norm else nn.Identity()
        self.k_norm = norm_layer(self.head_dim) if qk_norm else nn.Identity()
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.use_rel_pos = use_rel_pos
        # NOTE: None where unused, so that TorchScript compiles the branch that reads them
        self.rel_pos_h: nn.Parameter | None = None
        self.rel_pos_w: nn.Parameter | None = None
        if use_rel_pos:
            if input_size is None:
                raise ValueError("use_rel_pos needs the input_size (token grid) of the attention")
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * input_size[0] - 1, self.head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * input_size[1] - 1, self.head_dim))
        if use_rel_pos and rope is not None:
            raise ValueError("use_rel_pos and a RoPE are exclusive")
        self.rope = rope

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        n = h * w
        qkv = self.qkv(x.reshape(b, n, -1)).view(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.reshape(3, b * self.num_heads, n, -1).unbind(0)  # (B * heads, N, head_dim)
        q, k = self.q_norm(q), self.k_norm(k)
        bias: torch.Tensor | None = None
        if self.rel_pos_h is not None and self.rel_pos_w is not None:
            bias = decomposed_rel_pos_bias(q, [h, w], [h, w], self.rel_pos_h, self.rel_pos_w)
        if self.rope is not None:
            rope = self.rope.get_embed([h, w])
            q = apply_rot_embed_cat(q, rope).type_as(v)
            k = apply_rot_embed_cat(k, rope).type_as(v)
        if self.fused_attn:
            x = F.scaled_dot_product_attention(
                q, k, v, attn_mask=bias, dropout_p=self.attn_drop.p if self.training else 0.0
            )
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1)
            if bias is not None:
                attn = attn + bias
            x = self.attn_drop(attn.softmax(dim=-1)) @ v
        x = x.view(b, self.num_heads, n, -1).transpose(1, 2).reshape(b, n, -1)
        return self.proj_drop(self.proj(x)).view(b, h, w, -1)


class Block(nn.Module):
    """Pre-norm block on ``(B, H, W, C)``: attention within ``window_size`` windows (0: over the
    whole grid), then the MLP."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_norm: bool = False,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        init_values: float | None = None,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = nn.LayerNorm,
        mlp_layer: LayerFn = Mlp,
        use_rel_pos: bool = False,
        window_size: int = 0,
        input_size: tuple[int, int] | None = None,
        rope: RotaryEmbeddingCat | None = None,
    ) -> None:
        super().__init__()
        self.window_size = window_size
        self.norm1 = norm_layer(dim)
        self.attn = Attention(
            dim,
            num_heads=num_heads,
            qkv_bias=qkv_bias,
            qk_norm=qk_norm,
            attn_drop=attn_drop,
            proj_drop=proj_drop,
            norm_layer=norm_layer,
            use_rel_pos=use_rel_pos,
            input_size=input_size if window_size == 0 else (window_size, window_size),
            rope=rope,
        )
        self.ls1 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = mlp_layer(
            in_features=dim, hidden_features=int(dim * mlp_ratio), act_layer=act_layer, drop=proj_drop
        )
        self.ls2 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        shortcut = x
        x = self.norm1(x)
        window = (self.window_size, self.window_size)
        padded = (h, w)
        if self.window_size > 0:
            x, padded = pad_to_windows(x, window)
            x = window_partition(x, window)
        # NOTE: drop-path per window where windowed, as timm's
        x = self.drop_path1(self.ls1(self.attn(x)))
        if self.window_size > 0:
            x = window_unpartition(x, window, padded)[:, :h, :w]
        x = (shortcut + x).reshape(b, h * w, -1)
        x = x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))
        return x.reshape(b, h, w, -1)


class VisionTransformerSAM(NormHeadModel):
    """SAM's image encoder: patch embedding to a ``(B, H, W, C)`` grid with an absolute position
    embedding (resampled to the input's grid), windowed / global blocks, a conv neck to
    ``neck_chans`` (without one: a channel norm), and a pooled classifier head (with
    ``head_hidden_size``: a norm-MLP head).

    Args:
        window_size: window side of the windowed blocks (0: all global).
        global_attn_indexes: the blocks that attend over the whole grid.
        use_rel_pos: the decomposed relative position bias in every block.
        use_rope: axial RoPE on queries and keys instead (one over the whole grid for the global
            blocks, one over a window for the others); ``ref_feat_shape`` (global, window) the
            grids each was trained on.
        pre_norm: a norm before the blocks (and no patch-embedding bias).
    """

    head_names = ("head",)
    # NOTE: the blocks' outputs are (B, H, W, C) grids, the levels their (B, C, H, W) maps: the
    # levels are read by forward_intermediates only (timm's getter)
    feature_modules = False

    def __init__(
        self,
        img_size: int = 1024,
        patch_size: int = 16,
        in_chans: int = 3,
        num_classes: int = 768,
        embed_dim: int = 768,
        depth: int = 12,
        num_heads: int = 12,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        qk_norm: bool = False,
        init_values: float | None = None,
        pre_norm: bool = False,
        drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        patch_drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_layer: LayerFn | None = nn.LayerNorm,
        act_layer: LayerFn | None = nn.GELU,
        mlp_layer: LayerFn = Mlp,
        use_abs_pos: bool = True,
        use_rel_pos: bool = False,
        use_rope: bool = False,
        window_size: int = 14,
        global_attn_indexes: tuple[int, ...] = (),
        neck_chans: int | None = 256,
        global_pool: str = "avg",
        head_hidden_size: int | None = None,
        ref_feat_shape: tuple[tuple[int, int], tuple[int, int]] | None = None,
    ) -> None:
        super().__init__()
        norm = norm_layer or nn.LayerNorm
        act = act_layer or nn.GELU
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.global_pool = global_pool  # type: ignore[assignment]  # a pool type, as timm keeps it
        self.num_features = self.embed_dim = embed_dim
        self.drop_rate = drop_rate
        self.patch_embed = PatchEmbed(
            img_size=img_size,
            patch_size=patch_size,
            in_chans=in_chans,
            embed_dim=embed_dim,
            output_fmt="NHWC",
            strict_img_size=False,
            bias=not pre_norm,
        )
        grid = cast(tuple[int, int], self.patch_embed.grid_size)
        reduction = self.patch_embed.feat_ratio()
        self.pos_embed: nn.Parameter | None = (
            nn.Parameter(torch.zeros(1, grid[0], grid[1], embed_dim)) if use_abs_pos else None
        )
        self.pos_drop = nn.Dropout(p=pos_drop_rate)
        self.patch_drop: nn.Module = (
            PatchDropout(patch_drop_rate, num_prefix_tokens=0) if patch_drop_rate > 0 else nn.Identity()
        )
        self.norm_pre: nn.Module = norm(embed_dim) if pre_norm else nn.Identity()
        self.rope_global: RotaryEmbeddingCat | None = None
        self.rope_window: RotaryEmbeddingCat | None = None
        if use_rope:
            if use_rel_pos:
                raise ValueError("use_rope and use_rel_pos are exclusive")
            ref_global, ref_window = (None, None) if ref_feat_shape is None else ref_feat_shape
            self.rope_global = RotaryEmbeddingCat(
                embed_dim // num_heads,
                in_pixels=False,
                ref_feat_shape=None if ref_global is None else list(to_2tuple(ref_global)),
            )
            self.rope_window = RotaryEmbeddingCat(
                embed_dim // num_heads,
                in_pixels=False,
                ref_feat_shape=None if ref_window is None else list(to_2tuple(ref_window)),
            )
        dpr = cast(list[float], calculate_drop_path_rates(drop_path_rate, depth))
        self.blocks = nn.Sequential(
            *[
                Block(
                    dim=embed_dim,
                    num_heads=num_heads,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    qk_norm=qk_norm,
                    init_values=init_values,
                    proj_drop=proj_drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=dpr[i],
                    norm_layer=norm,
                    act_layer=act,
                    mlp_layer=mlp_layer,
                    use_rel_pos=use_rel_pos,
                    window_size=0 if i in global_attn_indexes else window_size,
                    input_size=grid,
                    rope=self.rope_global if i in global_attn_indexes else self.rope_window,
                )
                for i in range(depth)
            ]
        )
        self.feature_info = [
            dict(
                module=f"blocks.{i}",
                num_chs=embed_dim,
                num_chs_norm=neck_chans or embed_dim,
                reduction=reduction,
            )
            for i in range(depth)
        ]
        if neck_chans:
            self.neck: nn.Module = nn.Sequential(
                nn.Conv2d(embed_dim, neck_chans, kernel_size=1, bias=False),
                LayerNorm2d(neck_chans),
                nn.Conv2d(neck_chans, neck_chans, kernel_size=3, padding=1, bias=False),
                LayerNorm2d(neck_chans),
            )
            self.num_features = neck_chans
        else:
            self.neck = nn.Identity() if head_hidden_size else LayerNorm2d(embed_dim)
        head_in = self.num_features
        self.head = (
            NormMlpClassifierHead(
                head_in, num_classes, hidden_size=head_hidden_size, pool_type=global_pool, drop_rate=drop_rate
            )
            if head_hidden_size
            else ClassifierHead(head_in, num_classes, pool_type=global_pool, drop_rate=drop_rate)
        )
        self.head_hidden_size = int(self.head.num_features)
        self._initialize()

    def no_weight_decay(self) -> set[str]:
        return {"pos_embed", "dist_token"}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^pos_embed|patch_embed", blocks=[(r"^blocks\.(\d+)", None), (r"^norm", (99999,))])

    def reset_classifier(
        self, num_classes: int, global_pool: str | None = None, reset_other: bool = False
    ) -> None:
        """:class:`NormHeadModel`'s, the plain head first re-sized to ``num_features`` (a pruned
        neck narrows them) and the pool type kept on the model, as timm keeps it."""
        if isinstance(self.head, ClassifierHead):
            self.head.in_features = self.num_features
        super().reset_classifier(num_classes, global_pool, reset_other)
        if global_pool is not None:
            self.global_pool = global_pool  # type: ignore[assignment]  # a pool type, as timm keeps it

    def _embed(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        if self.pos_embed is not None:
            x = x + _resample_pos_embed(self.pos_embed, [x.shape[1], x.shape[2]])
        return self.norm_pre(self.patch_drop(self.pos_drop(x)))

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> the neck's ``(B, num_features, H / 16, W / 16)`` map."""
        x = self._embed(x)
        if not torch.jit.is_scripting() and self._checkpointing():  # static under TorchScript
            x = checkpoint_seq(self.blocks, x)
        else:
            x = self.blocks(x)
        return self.neck(x.permute(0, 3, 1, 2))

    def forward_intermediates(
        self,
        x: torch.Tensor,
        indices: int | list[int] | tuple[int, ...] | None = None,
        *,
        norm: bool = False,
        stop_early: bool = False,
        output_fmt: str = "NCHW",
        intermediates_only: bool = False,
    ) -> list[torch.Tensor] | tuple[torch.Tensor, list[torch.Tensor]]:
        """Each block's grid as a ``(B, embed_dim, H, W)`` map; ``norm`` runs the neck on each
        (its width then ``num_chs_norm``)."""
        if output_fmt != "NCHW":
            raise ValueError(f"output_fmt={output_fmt!r} is not supported; use 'NCHW'")
        take, max_index = feature_take_indices(len(self.blocks), indices)
        x = self._embed(x)
        blocks = self.blocks[: max_index + 1] if stop_early or intermediates_only else self.blocks
        found = []
        for i, block in enumerate(blocks):
            x = checkpoint_seq([block], x) if self._checkpointing() else block(x)
            if i in take:
                level = x.permute(0, 3, 1, 2)
                found.append(self.neck(level) if norm else level)
        if intermediates_only:
            return found
        return self.neck(x.permute(0, 3, 1, 2)), found

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] | None = None,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """Keep the blocks up to the last of ``indices``; ``prune_norm`` drops the neck (the
        features then end at the blocks' width, and a head sized for the neck goes too)."""
        take, max_index = feature_take_indices(len(self.blocks), indices)
        self.blocks = self.blocks[: max_index + 1]
        narrowed = False
        if prune_norm:
            self.neck = nn.Identity()
            for info in self.feature_info:
                info["num_chs_norm"] = self.embed_dim
            narrowed = self.num_features != self.embed_dim
            self.num_features = self.embed_dim
        if prune_head or narrowed:
            self.reset_classifier(0, "", reset_other=True)
        return take


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """A whole SAM checkpoint (``image_encoder.*``, prompt encoder and mask decoder beside it) to
    the encoder: its keys kept, ``mlp.lin1/2`` named ``mlp.fc1/2``. Other checkpoints pass."""
    sam = "image_encoder.patch_embed.proj.weight" in state_dict
    out: dict[str, torch.Tensor] = {}
    for k, v in state_dict.items():
        if k.startswith("image_encoder."):
            k = k[len("image_encoder.") :].replace("mlp.lin", "mlp.fc")
        elif sam:
            continue
        out[k] = v
    return out


SamArgs = model_args_type(VisionTransformerSAM)

_SAM = dict(patch_size=16, window_size=14, use_rel_pos=True, img_size=1024)
VARIANTS: dict[str, Any] = {
    "samvit_base_patch16": SamArgs(
        embed_dim=768, depth=12, num_heads=12, global_attn_indexes=(2, 5, 8, 11), **_SAM
    ),
    "samvit_large_patch16": SamArgs(
        embed_dim=1024, depth=24, num_heads=16, global_attn_indexes=(5, 11, 17, 23), **_SAM
    ),
    "samvit_huge_patch16": SamArgs(
        embed_dim=1280, depth=32, num_heads=16, global_attn_indexes=(7, 15, 23, 31), **_SAM
    ),
    "samvit_base_patch16_224": SamArgs(
        embed_dim=768,
        depth=12,
        num_heads=12,
        global_attn_indexes=(2, 5, 8, 11),
        **{**_SAM, "img_size": 224},
        use_abs_pos=False,
        neck_chans=None,
    ),
}

_SA1B = dict(
    hf_hub_id="timm/",
    license="apache-2.0",
    mean=IMAGENET_DEFAULT_MEAN,
    std=IMAGENET_DEFAULT_STD,
    num_classes=0,
    crop_pct=1.0,
)
WEIGHTS: dict[str, dict[str, Any]] = {
    "samvit_base_patch16.sa1b": weight(
        _SA1B, url="https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth"
    ),
    "samvit_large_patch16.sa1b": weight(
        _SA1B, url="https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth"
    ),
    "samvit_huge_patch16.sa1b": weight(
        _SA1B, url="https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth"
    ),
    # NOTE: an untagged config without weights, as timm registers it
    "samvit_base_patch16_224": weight(mean=IMAGENET_DEFAULT_MEAN, std=IMAGENET_DEFAULT_STD, size=224),
}

default_cfgs = register_family(
    __name__,
    model_cls=VisionTransformerSAM,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        num_classes=1000,
        input_size=(3, 1024, 1024),
        pool_size=None,
        crop_pct=0.9,
        interpolation="bicubic",
        fixed_input_size=True,
        mean=IMAGENET_INCEPTION_MEAN,
        std=IMAGENET_INCEPTION_STD,
        first_conv="patch_embed.proj",
        classifier="head.fc",
        hf_hub_id=None,
    ),
    feature_cfg=dict(out_indices=3, feature_cls="getter"),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:
    return family_entrypoint(__name__, name)
