"""HieraDet: the hierarchical image encoder of SAM 2, run channels-last.

Papers:
* `SAM 2: Segment Anything in Images and Videos` - https://arxiv.org/abs/2408.00714
* `Hiera: A Hierarchical Vision Transformer without the Bells-and-Whistles` - https://arxiv.org/abs/2306.00989
* `Window Attention is Bugged: How not to Interpolate Position Embeddings` - https://arxiv.org/abs/2311.05613

Weights: Meta's SAM 2 / 2.1 image encoders (Apache-2.0), as timm re-hosts them. Module names follow
timm's ``hieradet_sam2``; SAM 2's own MLP keys (``mlp.layers.0`` / ``.1``) are remapped by
:func:`checkpoint_filter_fn`.

Unlike Hiera (``hiera.py``), HieraDet keeps tokens as a ``(B, H, W, C)`` map: windowed attention
cuts it into windows, the first block of a stage max-pools its queries (and shortcut) by
``q_stride``, and a few blocks attend globally. ``forward_features`` returns the final map
channels-last (as timm's); ``forward_intermediates`` gives ``(B, C, H, W)`` levels.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..features import Trunk, walk_trunk
from ..layers import (
    ClNormMlpClassifierHead,
    DropPath,
    LayerScale,
    LayerType,
    Mlp,
    PatchEmbed,
    calculate_drop_path_rates,
    get_act_layer,
    get_norm_layer,
    init_weight_jax,
    init_weight_vit,
    pad_to_windows,
    to_2tuple,
    window_partition,
    window_unpartition,
)
from ..layers.classifier import check_num_classes
from ..model import VisionModel, checkpoint_seq, named_apply
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, NO_WEIGHTS, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["HieraDet", "MultiScaleAttention", "MultiScaleBlock", "checkpoint_filter_fn"]


class MultiScaleAttention(nn.Module):
    """Self-attention over a ``(B, H, W, C)`` map (a window or the whole map), its queries
    optionally max-pooled (``q_pool``) so the output map is smaller than the input."""

    def __init__(self, dim: int, dim_out: int, num_heads: int, q_pool: nn.Module | None = None) -> None:
        super().__init__()
        self.dim = dim
        self.dim_out = dim_out
        self.num_heads = num_heads
        self.scale = (dim_out // num_heads) ** -0.5
        self.fused_attn = True
        self.q_pool = q_pool
        self.qkv = nn.Linear(dim, dim_out * 3)
        self.proj = nn.Linear(dim_out, dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, _ = x.shape
        q, k, v = self.qkv(x).reshape(b, h * w, 3, self.num_heads, -1).unbind(2)
        if self.q_pool is not None:
            q = self.q_pool(q.reshape(b, h, w, -1).permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
            h, w = q.shape[1], q.shape[2]
            q = q.reshape(b, h * w, self.num_heads, -1)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if self.fused_attn:
            x = F.scaled_dot_product_attention(q, k, v)
        else:
            x = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1) @ v
        return self.proj(x.transpose(1, 2).reshape(b, h, w, -1))


class MultiScaleBlock(nn.Module):
    """Pre-norm block on a ``(B, H, W, C)`` map: windowed (``window_size`` > 0) or global
    attention, then an MLP. Where the width changes, the shortcut is ``proj(norm1(x))``,
    max-pooled by ``q_stride`` as the queries are."""

    def __init__(
        self,
        dim: int,
        dim_out: int,
        num_heads: int,
        *,
        mlp_ratio: float = 4.0,
        q_stride: tuple[int, int] | None = None,
        norm_layer: Callable[..., nn.Module] = nn.LayerNorm,
        act_layer: Callable[..., nn.Module] = nn.GELU,
        window_size: int = 0,
        init_values: float | None = None,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.window_size: tuple[int, int] = to_2tuple(window_size)
        self.is_windowed = any(self.window_size)
        self.dim = dim
        self.dim_out = dim_out
        self.q_stride: tuple[int, int] | None = tuple(q_stride) if q_stride else None  # type: ignore[assignment]
        self.proj: nn.Module = nn.Linear(dim, dim_out) if dim != dim_out else nn.Identity()
        # NOTE: the shortcut's pool and the attention's are separate instances, as in timm
        self.pool: nn.Module | None = nn.MaxPool2d(q_stride, stride=q_stride) if q_stride else None
        self.norm1 = norm_layer(dim)
        self.attn = MultiScaleAttention(
            dim, dim_out, num_heads, q_pool=nn.MaxPool2d(q_stride, stride=q_stride) if q_stride else None
        )
        self.ls1: nn.Module = LayerScale(dim_out, init_values) if init_values is not None else nn.Identity()
        self.drop_path1: nn.Module = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim_out)
        self.mlp = Mlp(dim_out, int(dim_out * mlp_ratio), act_layer=act_layer)
        self.ls2: nn.Module = LayerScale(dim_out, init_values) if init_values is not None else nn.Identity()
        self.drop_path2: nn.Module = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.norm1(x)
        if self.dim != self.dim_out:
            shortcut = self.proj(x)
            if self.pool is not None:
                shortcut = self.pool(shortcut.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        window = self.window_size
        if self.is_windowed:
            x, _ = pad_to_windows(x, window)
            x = window_partition(x, window)
        x = self.attn(x)
        if self.is_windowed:
            h, w = shortcut.shape[1], shortcut.shape[2]
            if self.q_stride is not None:  # the pooled queries made each window smaller
                window = (window[0] // self.q_stride[0], window[1] // self.q_stride[1])
            hp = h + (window[0] - h % window[0]) % window[0]
            wp = w + (window[1] - w % window[1]) % window[1]
            x = window_unpartition(x, window, (hp, wp))[:, :h, :w, :].contiguous()
        x = shortcut + self.drop_path1(self.ls1(x))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))


class HieraPatchEmbed(nn.Module):
    """Overlapping conv patch embedding (7x7 stride 4 by default) to a channels-last map."""

    def __init__(
        self,
        kernel_size: tuple[int, int] = (7, 7),
        stride: tuple[int, int] = (4, 4),
        padding: tuple[int, int] = (3, 3),
        in_chans: int = 3,
        embed_dim: int = 768,
    ) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=kernel_size, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).permute(0, 2, 3, 1)


_BLOCKS = Trunk(stages=("blocks.*",))  # the walk after the embedding (the position add is no module)


class HieraDet(VisionModel):
    """HieraDet: a patch embedding plus a windowed absolute position embedding, then stages of
    :class:`MultiScaleBlock`; a channels-last norm / MLP head.

    Args:
        in_chans: input channels.
        num_classes: classifier outputs (0 for none).
        global_pool: ``avg``, ``max``, ``avgmax`` or ``''``.
        embed_dim: width of the first stage (times ``dim_mul`` per stage).
        num_heads: heads of the first stage (times ``head_mul`` per stage).
        patch_kernel, patch_stride, patch_padding: the conv patch embedding.
        patch_size: a non-overlapping ViT-style patch embedding of this size instead.
        q_pool: how many stage transitions pool by ``q_stride``.
        q_stride: the pooling at a stage transition.
        stages: blocks per stage.
        dim_mul, head_mul: width and head growth per stage.
        global_pos_size: grid of the position embedding (resized bicubically to the token grid).
        window_spec: window side per stage (the window position embedding takes the first).
        global_att_blocks: blocks with global attention.
        init_values: layer scale (None: none).
        weight_init: ``''`` (ViT), ``'jax'`` or ``'skip'``.
        fix_init: scale each block's output projections down by depth.
        head_init_scale: scale of the initial classifier.
        drop_rate: dropout before the classifier.
        drop_path_rate: stochastic depth, rising linearly to this over the blocks.
        norm_layer, act_layer: the blocks' norm and activation.
    """

    trunk = Trunk(stem=("patch_embed",), stages=("blocks.*",))
    classifier_name = "head.fc"
    head_names = ("head",)
    output_fmt = "NHWC"  # of forward_features (forward_intermediates gives NCHW)

    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        embed_dim: int = 96,
        num_heads: int = 1,
        patch_kernel: tuple[int, int] = (7, 7),
        patch_stride: tuple[int, int] = (4, 4),
        patch_padding: tuple[int, int] = (3, 3),
        patch_size: int | tuple[int, int] | None = None,
        q_pool: int = 3,
        q_stride: tuple[int, int] = (2, 2),
        stages: Sequence[int] = (2, 3, 16, 3),
        dim_mul: float = 2.0,
        head_mul: float = 2.0,
        global_pos_size: tuple[int, int] = (7, 7),
        window_spec: Sequence[int] = (8, 4, 14, 7),
        global_att_blocks: Sequence[int] = (12, 16, 20),
        init_values: float | None = None,
        weight_init: str = "",
        fix_init: bool = True,
        head_init_scale: float = 0.001,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_layer: LayerType = "LayerNorm",
        act_layer: LayerType = "GELU",
    ) -> None:
        super().__init__()
        check_num_classes(num_classes)
        if len(stages) != len(window_spec):
            raise ValueError(f"one window size per stage: {len(stages)} stages, window_spec={window_spec}")
        if not 0 <= q_pool < len(stages):
            raise ValueError(f"q_pool must be in 0..{len(stages) - 1}, got {q_pool}")
        if weight_init not in ("", "jax", "skip"):
            raise ValueError(f"weight_init={weight_init!r}; valid: '', 'jax', 'skip'")
        norm = get_norm_layer(norm_layer)
        act = get_act_layer(act_layer)
        assert norm is not None and act is not None
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.window_spec = tuple(window_spec)
        self.global_att_blocks = tuple(global_att_blocks)
        self.q_stride = tuple(q_stride)
        self.stage_ends = [sum(stages[: i + 1]) - 1 for i in range(len(stages))]
        q_pool_blocks = [end + 1 for end in self.stage_ends[:-1]][:q_pool]

        self.patch_embed: nn.Module
        if patch_size is not None:
            self.patch_embed = PatchEmbed(
                img_size=None,
                patch_size=patch_size,
                in_chans=in_chans,
                embed_dim=embed_dim,
                output_fmt="NHWC",
                dynamic_img_pad=True,
            )
        else:
            self.patch_embed = HieraPatchEmbed(patch_kernel, patch_stride, patch_padding, in_chans, embed_dim)
        self.global_pos_size = tuple(global_pos_size)
        self.pos_embed = nn.Parameter(torch.zeros(1, embed_dim, *self.global_pos_size))
        self.pos_embed_window = nn.Parameter(torch.zeros(1, embed_dim, window_spec[0], window_spec[0]))

        rates = calculate_drop_path_rates(drop_path_rate, sum(stages))
        blocks, self.feature_info = [], []
        stage = 0
        for i in range(sum(stages)):
            dim_out = embed_dim
            # a stage's first block still attends within the previous stage's windows
            window = 0 if i in self.global_att_blocks else self.window_spec[stage]
            if i - 1 in self.stage_ends:
                dim_out = int(embed_dim * dim_mul)
                num_heads = int(num_heads * head_mul)
                stage += 1
            blocks.append(
                MultiScaleBlock(
                    embed_dim,
                    dim_out,
                    num_heads,
                    q_stride=self.q_stride if i in q_pool_blocks else None,  # type: ignore[arg-type]
                    window_size=window,
                    norm_layer=norm,
                    act_layer=act,
                    init_values=init_values,
                    drop_path=float(rates[i]),  # type: ignore[arg-type]
                )
            )
            embed_dim = dim_out
            if i in self.stage_ends:
                self.feature_info.append(
                    dict(num_chs=dim_out, reduction=2 ** (stage + 2), module=f"blocks.{i}")
                )
        self.blocks = nn.Sequential(*blocks)
        self.num_features = embed_dim
        self.head = ClNormMlpClassifierHead(
            embed_dim, num_classes, pool_type=global_pool, drop_rate=drop_rate, norm_layer=norm
        )
        self.head_hidden_size = self.head.num_features
        self._initialize(weight_init=weight_init, fix_init=fix_init, head_init_scale=head_init_scale)

    def init_weights(
        self, weight_init: str = "", fix_init: bool = True, head_init_scale: float = 0.001
    ) -> None:
        """Truncated-normal position embeddings, ViT (or JAX) linears, block output projections
        scaled down by depth (``fix_init``), a zero classifier."""
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.pos_embed_window, std=0.02)
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

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^pos_embed|pos_embed_window|patch_embed", blocks=[(r"^blocks\.(\d+)", None)])

    def no_weight_decay(self) -> set[str]:
        return {"pos_embed", "pos_embed_window"}

    def _pos_embed(self, x: torch.Tensor) -> torch.Tensor:
        """Add the position embedding resized to the ``(B, H, W, C)`` grid, plus the window
        embedding tiled over it (https://arxiv.org/abs/2311.05613)."""
        h, w = x.shape[1], x.shape[2]
        window = self.pos_embed_window
        pos = F.interpolate(self.pos_embed, size=(h, w), mode="bicubic")
        pos = pos + window.tile((pos.shape[-2] // window.shape[-2], pos.shape[-1] // window.shape[-1]))
        return x + pos.permute(0, 2, 3, 1)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> the final ``(B, H/32, W/32, num_features)`` map (channels-last)."""
        x = self._pos_embed(self.patch_embed(x))
        if not torch.jit.is_scripting() and self._checkpointing():
            return checkpoint_seq(self.blocks, x)
        return self.blocks(x)

    def _intermediates(
        self, x: torch.Tensor, take: list[int], *, stop_early: bool, norm: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Embed, then walk the blocks; the levels as ``(B, C, H, W)`` maps."""
        x = self._pos_embed(self.patch_embed(x))
        taps = [self.feature_info[i] for i in sorted(take)]
        x, levels = walk_trunk(
            self, _BLOCKS, x, taps, stop_early=stop_early, checkpointing=self._checkpointing()
        )
        return x, [t.permute(0, 3, 1, 2) for t in levels]

    def reset_classifier(
        self, num_classes: int, global_pool: str | None = None, reset_other: bool = False
    ) -> None:
        """New classifier of ``num_classes`` outputs (0 removes it); ``reset_other`` also drops
        the head's norm."""
        check_num_classes(num_classes)
        self.head.reset(num_classes, global_pool, reset_other=reset_other, in_features=self.num_features)
        self.num_classes = num_classes
        self.head_hidden_size = self.head.num_features

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def _prune_head(self) -> None:
        """The head's norm goes too (it was sized for the final features); its pool stays."""
        self.reset_classifier(0, reset_other=True)


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """SAM 2's trunk layout (under ``model``) -> ours: its MLPs' ``layers.0`` / ``layers.1`` are
    ``fc1`` / ``fc2``."""
    state_dict = state_dict.get("model", state_dict)
    return {
        k.replace("mlp.layers.0", "mlp.fc1").replace("mlp.layers.1", "mlp.fc2"): v
        for k, v in state_dict.items()
    }


HieraDetArgs = model_args_type(HieraDet)

_SMALL = dict(stages=(1, 2, 11, 2), global_att_blocks=(7, 10, 13))
VARIANTS: dict[str, Any] = {
    "sam2_hiera_tiny": HieraDetArgs(stages=(1, 2, 7, 2), global_att_blocks=(5, 7, 9)),
    "sam2_hiera_small": HieraDetArgs(**_SMALL),
    "sam2_hiera_base_plus": HieraDetArgs(embed_dim=112, num_heads=2, global_pos_size=(14, 14)),
    "sam2_hiera_large": HieraDetArgs(
        embed_dim=144,
        num_heads=2,
        stages=(2, 6, 36, 4),
        global_att_blocks=(23, 33, 43),
        window_spec=(8, 4, 16, 8),
    ),
    "hieradet_small": HieraDetArgs(**_SMALL, window_spec=(8, 4, 16, 8), init_values=1e-5),
}

_R1024 = dict(min_input_size=(3, 256, 256), input_size=(3, 1024, 1024), pool_size=(32, 32))
WEIGHTS = {
    "sam2_hiera_tiny.fb_r896": weight(default=True),
    "sam2_hiera_tiny.fb_r896_2pt1": weight(),
    "sam2_hiera_small.fb_r896": weight(default=True),
    "sam2_hiera_small.fb_r896_2pt1": weight(),
    "sam2_hiera_base_plus.fb_r896": weight(default=True),
    "sam2_hiera_base_plus.fb_r896_2pt1": weight(),
    "sam2_hiera_large.fb_r1024": weight(_R1024, default=True),
    "sam2_hiera_large.fb_r1024_2pt1": weight(_R1024),
    "hieradet_small.untrained": weight(NO_WEIGHTS, num_classes=1000, size=256, pool_size=(8, 8)),
}

default_cfgs = register_family(
    __name__,
    model_cls=HieraDet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        num_classes=0,
        input_size=(3, 896, 896),
        pool_size=(28, 28),
        crop_pct=1.0,
        interpolation="bicubic",
        min_input_size=(3, 224, 224),
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
