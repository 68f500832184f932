"""Swin Transformer: a hierarchical ViT whose blocks attend inside (shifted) local windows, with
patch merging between stages; and Swin-S3's searched variants (per-stage windows).

Papers:
* `Swin Transformer: Hierarchical Vision Transformer using Shifted Windows` -
  https://arxiv.org/abs/2103.14030
* `Searching the Search Space of Vision Transformer` (AutoFormerV2 / S3) -
  https://arxiv.org/abs/2111.14725

Weights: Microsoft's (microsoft/Swin-Transformer, microsoft/Cream), MIT. Module names follow
timm's ``swin_transformer``, so its checkpoints load unchanged; the original layout (a stage's
patch merging at its end rather than the next stage's start, a bare ``head``) through
:func:`checkpoint_filter_fn`.

Maps are ``(B, H, W, C)`` inside: ``forward_features`` and ``features_only`` return them so (as
timm's); ``forward_intermediates`` gives ``(B, C, H, W)`` levels.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import nn

from ..layers import (
    ClassifierHead,
    DropPath,
    LayerType,
    Mlp,
    PatchEmbed,
    calculate_drop_path_rates,
    resample_patch_embed,
    to_2tuple,
    to_ntuple,
    trunc_normal_,
)
from ..layers.pos_embed_rel import gen_relative_position_index, resize_rel_pos_bias_table
from ..layers.shifted_window import (
    shifted_window_mask,
    shifted_window_mask_like,
    window_merge_shifted,
    window_partition_shifted,
)
from ..model import Trunk, VisionModel
from ..model_input import update_model_input_size
from ..pretrained import RWIGHTMAN_RELEASES, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "PatchMerging",
    "SwinTransformer",
    "SwinTransformerBlock",
    "SwinTransformerStage",
    "WindowAttention",
    "checkpoint_filter_fn",
    "stage_window_sizes",
]

LayerFn = Callable[..., nn.Module]
Size2 = tuple[int, int]
WindowSpec = int | Size2 | Sequence[int | Size2]


# --- window sizes ---------------------------------------------------------------------------------
def stage_window_sizes(window_size: WindowSpec, num_stages: int) -> tuple[Size2, ...]:
    """One ``(h, w)`` window per stage from an int, an ``(h, w)`` pair (both: every stage) or one
    int / pair per stage. Two plain ints are always one ``(h, w)``, never two stages."""
    if isinstance(window_size, int):
        spec: Sequence[Any] = (window_size,) * num_stages
    elif len(window_size) == 2 and all(isinstance(w, int) for w in window_size):
        spec = (tuple(window_size),) * num_stages
    else:
        spec = window_size
    if len(spec) != num_stages:
        raise ValueError(f"window_size={window_size!r}: expected one per stage ({num_stages})")
    sizes = tuple(to_2tuple(w) for w in spec)
    if any(v <= 0 for s in sizes for v in s):
        raise ValueError(f"window sizes must be positive, got {sizes}")
    return sizes


def _stage_window_ratios(window_ratio: int | Sequence[int], num_stages: int) -> tuple[int, ...]:
    """One grid divisor per stage (a pair of ints is two stages here, not ``(h, w)``)."""
    ratios = tuple(to_ntuple(num_stages)(window_ratio))
    if len(ratios) != num_stages or any(r <= 0 for r in ratios):
        raise ValueError(
            f"window_ratio={window_ratio!r}: expected positive ints, one per stage ({num_stages})"
        )
    return ratios


def _windows_for_grid(
    grid: Size2,
    ref_windows: tuple[Size2, ...],
    ref_grid: Size2,
    window_size: tuple[Size2, ...] | None,
    window_ratio: tuple[int, ...] | None,
) -> tuple[Size2, ...]:
    """Per-stage windows for a new patch grid: given ones, the grid over a ratio, or else the
    reference windows scaled with the grid (each stage keeps its window-to-grid ratio)."""
    if window_size is not None:
        return window_size
    if window_ratio is not None:
        return tuple((max(1, grid[0] // r), max(1, grid[1] // r)) for r in window_ratio)
    return tuple(
        (max(1, w[0] * grid[0] // ref_grid[0]), max(1, w[1] * grid[1] // ref_grid[1])) for w in ref_windows
    )


# --- blocks ---------------------------------------------------------------------------------------
class WindowAttention(nn.Module):
    """Multi-head self-attention over the tokens of one window, plus a learned bias per head for
    each relative offset (Swin V1's table) and, for shifted windows, the seam mask."""

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        relative_position_index: torch.Tensor

    def __init__(
        self,
        dim: int,
        num_heads: int,
        head_dim: int | None = None,
        window_size: int | Size2 = 7,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.window_size = to_2tuple(window_size)
        self.window_area = self.window_size[0] * self.window_size[1]
        self.num_heads = num_heads
        head_dim = head_dim or dim // num_heads
        self.scale = head_dim**-0.5
        self.fused_attn = True
        wh, ww = self.window_size
        self.relative_position_bias_table = nn.Parameter(torch.empty((2 * wh - 1) * (2 * ww - 1), num_heads))
        self.register_buffer(
            "relative_position_index", gen_relative_position_index(self.window_size), persistent=False
        )
        self.qkv = nn.Linear(dim, head_dim * num_heads * 3, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(head_dim * num_heads, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if not self.relative_position_bias_table.is_meta:
            trunc_normal_(self.relative_position_bias_table, std=0.02)

    def init_non_persistent_buffers(self) -> None:
        self.relative_position_index = gen_relative_position_index(
            self.window_size, device=self.relative_position_index.device
        )

    def set_window_size(self, window_size: int | Size2) -> None:
        """Another window: the bias table resampled to it, a new index."""
        new = to_2tuple(window_size)
        if new == self.window_size:
            return
        table = self.relative_position_bias_table
        with torch.no_grad():
            resized = resize_rel_pos_bias_table(
                table,
                new_window_size=new,
                new_bias_shape=((2 * new[0] - 1) * (2 * new[1] - 1), self.num_heads),
                old_window_size=self.window_size,
            )
        self.relative_position_bias_table = nn.Parameter(resized, requires_grad=table.requires_grad)
        self.window_size = new
        self.window_area = new[0] * new[1]
        self.relative_position_index = gen_relative_position_index(new, device=table.device)

    def _rel_pos_bias(self) -> torch.Tensor:
        n = self.window_area
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)].view(n, n, -1)
        return bias.permute(2, 0, 1).unsqueeze(0)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """Windows ``(B * nW, N, C)`` -> ``(B * nW, N, C)``; ``mask`` ``(nW, N, N)`` or None."""
        b, n, _ = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, -1).permute(2, 0, 3, 1, 4).unbind(0)
        bias = self._rel_pos_bias()
        if mask is not None:
            num_win = mask.shape[0]
            bias = (bias.unsqueeze(1) + mask.view(1, num_win, 1, n, n)).expand(b // num_win, -1, -1, -1, -1)
            bias = bias.reshape(-1, self.num_heads, n, n)
        if self.fused_attn:
            x = nn.functional.scaled_dot_product_attention(
                q, k, v, attn_mask=bias.to(q.dtype), dropout_p=self.attn_drop.p if self.training else 0.0
            )
        else:
            attn = ((q * self.scale) @ k.transpose(-2, -1) + bias).softmax(dim=-1)
            x = self.attn_drop(attn) @ v
        return self.proj_drop(self.proj(x.transpose(1, 2).reshape(b, n, -1)))


class SwinTransformerBlock(nn.Module):
    """Block on a ``(B, H, W, C)`` map: (shifted) window attention, then an MLP; pre-norm (V1) or
    each branch normed at its output (``post_norm``: V2's res-post-norm).

    A window at least as large as the map along an axis is clipped to the map there and not
    shifted (one window covers it), unless ``always_partition``. ``dynamic_mask`` builds the seam
    mask per forward for the input's size instead of once for ``input_resolution``.
    ``attn_layer`` builds the window attention (V1's :class:`WindowAttention` by default).
    ``extra_norm`` norms the block's output (``norm3``; Swin V2-CR's main-branch norm).
    """

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        attn_mask: torch.Tensor | None

    def __init__(
        self,
        dim: int,
        input_resolution: Size2,
        num_heads: int = 4,
        head_dim: int | None = None,
        window_size: int | Size2 = 7,
        shift_size: int | Size2 = 0,
        always_partition: bool = False,
        dynamic_mask: bool = False,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: LayerType = nn.GELU,
        norm_layer: LayerFn = nn.LayerNorm,
        attn_layer: LayerFn = WindowAttention,
        post_norm: bool = False,
        extra_norm: bool = False,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.post_norm = post_norm
        self.input_resolution = tuple(input_resolution)
        self.target_shift_size = to_2tuple(shift_size)  # the shift asked for (kept across resizes)
        self.always_partition = always_partition
        self.dynamic_mask = dynamic_mask
        self.window_size, self.shift_size = self._window_and_shift(
            to_2tuple(window_size), self.target_shift_size
        )
        self.window_area = self.window_size[0] * self.window_size[1]
        self.mlp_ratio = mlp_ratio
        # NOTE: registered in the order of timm's V1 / V2 blocks (norm first / attention first)
        if not post_norm:
            self.norm1 = norm_layer(dim)
        self.attn = attn_layer(
            dim,
            num_heads=num_heads,
            head_dim=head_dim,
            window_size=self.window_size,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=proj_drop,
        )
        if post_norm:
            self.norm1 = norm_layer(dim)
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        if not post_norm:
            self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, hidden_features=int(dim * mlp_ratio), act_layer=act_layer, drop=proj_drop)
        if post_norm:
            self.norm2 = norm_layer(dim)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm3 = norm_layer(dim) if extra_norm else nn.Identity()
        self.register_buffer("attn_mask", self._static_mask(), persistent=False)

    def _window_and_shift(self, window: Size2, shift: Size2) -> tuple[Size2, Size2]:
        if self.always_partition:
            return window, shift
        res = self.input_resolution
        fits = (res[0] <= window[0], res[1] <= window[1])
        return (
            (res[0] if fits[0] else window[0], res[1] if fits[1] else window[1]),
            (0 if fits[0] else shift[0], 0 if fits[1] else shift[1]),
        )

    def _static_mask(self) -> torch.Tensor | None:
        """The seam mask for ``input_resolution`` (None: no shift, or built per forward)."""
        if self.dynamic_mask or not any(self.shift_size):
            return None
        ref: Any = getattr(self.norm1, "weight", None)
        ref = ref if isinstance(ref, torch.Tensor) else None
        device = None if ref is None or ref.is_meta else ref.device
        padded = tuple(math.ceil(r / w) * w for r, w in zip(self.input_resolution, self.window_size))
        return shifted_window_mask(
            cast(Size2, padded),
            self.window_size,
            self.shift_size,
            device=device,
            dtype=ref.dtype if ref is not None else None,
        )

    def init_non_persistent_buffers(self) -> None:
        self.attn_mask = self._static_mask()

    def set_input_size(
        self, feat_size: Size2, window_size: Size2, always_partition: bool | None = None
    ) -> None:
        """Another map size / window: window and shift worked out again, bias table resampled."""
        self.input_resolution = tuple(feat_size)
        if always_partition is not None:
            self.always_partition = always_partition
        window = to_2tuple(window_size)
        shift = (window[0] // 2, window[1] // 2) if any(self.target_shift_size) else (0, 0)
        self.window_size, self.shift_size = self._window_and_shift(window, shift)
        self.window_area = self.window_size[0] * self.window_size[1]
        cast(Any, self.attn).set_window_size(self.window_size)
        self.attn_mask = self._static_mask()

    def _attn(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[1], x.shape[2]
        windows, padded = window_partition_shifted(x, self.window_size, self.shift_size)
        if self.dynamic_mask and (self.shift_size[0] > 0 or self.shift_size[1] > 0):
            mask: torch.Tensor | None = shifted_window_mask_like(padded, self.window_size, self.shift_size)
        else:
            mask = self.attn_mask
        windows = self.attn(windows, mask=mask)
        return window_merge_shifted(
            windows, self.window_size, self.shift_size, (h, w), (padded.shape[1], padded.shape[2])
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, H, W, C)`` -> ``(B, H, W, C)``."""
        if self.post_norm:
            x = x + self.drop_path1(self.norm1(self._attn(x)))
            return self.norm3(x + self.drop_path2(self.norm2(self.mlp(x))))
        x = x + self.drop_path1(self._attn(self.norm1(x)))
        return x + self.drop_path2(self.mlp(self.norm2(x)))


class PatchMerging(nn.Module):
    """Halve a ``(B, H, W, C)`` map: each 2x2 patch (odd sizes zero-padded) concatenated, normed
    and projected to ``out_dim`` (default ``2 * dim``); ``post_norm`` (V2) norms after the
    projection instead."""

    def __init__(
        self,
        dim: int,
        out_dim: int | None = None,
        norm_layer: LayerFn = nn.LayerNorm,
        post_norm: bool = False,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.out_dim = out_dim or 2 * dim
        self.post_norm = post_norm
        if not post_norm:
            self.norm = norm_layer(4 * dim)
        self.reduction = nn.Linear(4 * dim, self.out_dim, bias=False)
        if post_norm:
            self.norm = norm_layer(self.out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        x = nn.functional.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        h, w = x.shape[1], x.shape[2]
        # NOTE: channel order (column offset, row offset, channel): the checkpoints' x0, x1, x2, x3
        x = x.reshape(b, h // 2, 2, w // 2, 2, c).permute(0, 1, 3, 4, 2, 5).flatten(3)
        if self.post_norm:
            return self.norm(self.reduction(x))
        return self.reduction(self.norm(x))


class SwinTransformerStage(nn.Module):
    """Patch merging (all but the first stage), then blocks alternating plain and shifted
    windows (V2: ``post_norm`` blocks and merging, ``attn_layer`` its attention).

    ``extra_norm_period`` / ``extra_norm_stage``: every N-th block / the last block ends with a
    norm (Swin V2-CR). ``merge_post_norm``: the patch merging's norm after its projection
    (default: ``post_norm``; V2-CR norms before). ``input_fmt`` / ``output_fmt``: ``'NHWC'`` or
    ``'NCHW'`` maps in and out (the blocks always work channels-last).
    """

    def __init__(
        self,
        dim: int,
        out_dim: int,
        input_resolution: Size2,
        depth: int,
        downsample: bool = True,
        num_heads: int = 4,
        head_dim: int | None = None,
        window_size: int | Size2 = 7,
        always_partition: bool = False,
        dynamic_mask: bool = False,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float | Sequence[float] = 0.0,
        norm_layer: LayerFn = nn.LayerNorm,
        act_layer: LayerType = nn.GELU,
        attn_layer: LayerFn = WindowAttention,
        post_norm: bool = False,
        merge_post_norm: bool | None = None,
        extra_norm_period: int = 0,
        extra_norm_stage: bool = False,
        input_fmt: str = "NHWC",
        output_fmt: str = "NHWC",
    ) -> None:
        super().__init__()
        for fmt in (input_fmt, output_fmt):
            if fmt not in ("NHWC", "NCHW"):
                raise ValueError(f"map format {fmt!r}; valid: 'NHWC', 'NCHW'")
        self.nchw_in = input_fmt == "NCHW"
        self.nchw_out = output_fmt == "NCHW"
        if not downsample and dim != out_dim:
            raise ValueError(f"a stage without downsample keeps its width ({dim} != {out_dim})")
        self.dim = dim
        self.input_resolution = tuple(input_resolution)
        self.output_resolution = self._out_res(self.input_resolution, downsample)
        self.depth = depth
        window = to_2tuple(window_size)
        shift = (window[0] // 2, window[1] // 2)
        self.downsample: nn.Module = (
            PatchMerging(
                dim,
                out_dim=out_dim,
                norm_layer=norm_layer,
                post_norm=post_norm if merge_post_norm is None else merge_post_norm,
            )
            if downsample
            else nn.Identity()
        )
        rates = list(drop_path) if isinstance(drop_path, Sequence) else [drop_path] * depth
        self.blocks = nn.Sequential(
            *[
                SwinTransformerBlock(
                    dim=out_dim,
                    input_resolution=cast(Size2, self.output_resolution),
                    num_heads=num_heads,
                    head_dim=head_dim,
                    window_size=window,
                    shift_size=0 if i % 2 == 0 else shift,
                    always_partition=always_partition,
                    dynamic_mask=dynamic_mask,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    proj_drop=proj_drop,
                    attn_drop=attn_drop,
                    drop_path=rates[i],
                    act_layer=act_layer,
                    norm_layer=norm_layer,
                    attn_layer=attn_layer,
                    post_norm=post_norm,
                    extra_norm=(extra_norm_period > 0 and (i + 1) % extra_norm_period == 0)
                    or (extra_norm_stage and i + 1 == depth),
                )
                for i in range(depth)
            ]
        )

    @staticmethod
    def _out_res(res: tuple[int, ...], downsample: bool) -> tuple[int, ...]:
        return tuple((r + 1) // 2 for r in res) if downsample else res

    def set_input_size(
        self, feat_size: Size2, window_size: Size2, always_partition: bool | None = None
    ) -> None:
        self.input_resolution = tuple(feat_size)
        self.output_resolution = self._out_res(
            self.input_resolution, not isinstance(self.downsample, nn.Identity)
        )
        for block in self.blocks:
            cast(SwinTransformerBlock, block).set_input_size(
                cast(Size2, self.output_resolution), window_size, always_partition
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.nchw_in:
            x = x.permute(0, 2, 3, 1)
        x = self.blocks(self.downsample(x))
        return x.permute(0, 3, 1, 2) if self.nchw_out else x


# --- model ----------------------------------------------------------------------------------------
class SwinTransformerBase(VisionModel):
    """What Swin V1 and V2 share: patch embedding (channels-last), stages of window attention
    with patch merging between them, a final norm, a pooling head; resizing, levels, pruning."""

    trunk = Trunk(
        stem=("patch_embed",),
        stages=("layers.*",),
        post=("norm",),
        blocks=("downsample", "blocks.*"),
        checkpoint="block",
        norm_last=True,
    )
    classifier_name = "head.fc"
    output_fmt = "NHWC"  # of forward_features and the features_only levels

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        patch_embed: Any  # a PatchEmbed-like module (grid_size, set_input_size)
        global_pool: str  # type: ignore[assignment]  # the head's pool type, as timm keeps it

    def _build(
        self,
        *,
        img_size: int | Size2,
        patch_size: int,
        in_chans: int,
        num_classes: int,
        global_pool: str,
        embed_dim: int | Sequence[int],
        depths: Sequence[int],
        num_heads: Sequence[int],
        window_size: WindowSpec,
        strict_img_size: bool,
        drop_rate: float,
        drop_path_rate: float,
        embed_layer: LayerFn,
        norm_layer: LayerFn,
        stage_args: Sequence[dict[str, Any]],
    ) -> None:
        """Build the trunk and head; ``stage_args``: each stage's own keyword arguments."""
        self.dynamic_img_size = not strict_img_size
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        num_stages = len(depths)
        self.num_layers = num_stages
        self.embed_dim = embed_dim
        dims = (
            [int(embed_dim * 2**i) for i in range(num_stages)]
            if isinstance(embed_dim, int)
            else [int(d) for d in embed_dim]
        )
        self.num_features = dims[-1]
        self.patch_embed = embed_layer(
            img_size=img_size,
            patch_size=patch_size,
            in_chans=in_chans,
            embed_dim=dims[0],
            norm_layer=norm_layer,
            strict_img_size=strict_img_size,
            output_fmt="NHWC",
        )
        grid = tuple(self.patch_embed.grid_size)
        windows = stage_window_sizes(window_size, num_stages)
        # the windows set_input_size scales with the grid (each stage keeps its window-to-grid ratio)
        self._ref_window_sizes = windows
        self._ref_grid_size = grid
        rates = cast(
            list[list[float]], calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        )
        stages, self.feature_info = [], []
        in_dim, scale = dims[0], 1
        for i in range(num_stages):
            stages.append(
                SwinTransformerStage(
                    dim=in_dim,
                    out_dim=dims[i],
                    input_resolution=((grid[0] + scale - 1) // scale, (grid[1] + scale - 1) // scale),
                    depth=depths[i],
                    downsample=i > 0,
                    num_heads=num_heads[i],
                    window_size=windows[i],
                    dynamic_mask=not strict_img_size,
                    drop_path=rates[i],
                    norm_layer=norm_layer,
                    **stage_args[i],
                )
            )
            in_dim = dims[i]
            if i > 0:
                scale *= 2
            self.feature_info.append(
                dict(num_chs=dims[i], reduction=max(to_2tuple(patch_size)) * scale, module=f"layers.{i}")
            )
        self.layers = nn.Sequential(*stages)
        self.norm = norm_layer(self.num_features)
        self.global_pool = global_pool
        self.head = ClassifierHead(
            self.num_features, num_classes, pool_type=global_pool, drop_rate=drop_rate, input_fmt="NHWC"
        )
        self.head_hidden_size = self.head.num_features

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^absolute_pos_embed|patch_embed",
            blocks=r"^layers\.(\d+)"
            if coarse
            else [
                (r"^layers\.(\d+).downsample", (0,)),
                (r"^layers\.(\d+)\.\w+\.(\d+)", None),
                (r"^norm", (99999,)),
            ],
        )

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        super().reset_classifier(num_classes, global_pool)
        if global_pool is not None:
            self.global_pool = global_pool

    def set_input_size(
        self,
        img_size: int | Size2 | None = None,
        patch_size: int | Size2 | None = None,
        window_size: WindowSpec | None = None,
        window_ratio: int | Sequence[int] | None = None,
        always_partition: bool | None = None,
    ) -> None:
        """Rebuild for another input size / patch size / windows: position biases follow the new
        windows, masks rebuilt. Without ``window_size`` / ``window_ratio`` each stage's window
        scales with the patch grid (so calling it at the current size changes nothing); given
        ones become the reference for later resizes.

        Args:
            img_size: new input size (None: the current one).
            patch_size: new patch size (the patch kernel is resampled).
            window_size: an int or ``(h, w)`` for all stages, or one per stage.
            window_ratio: the patch grid over this is the window, one for all stages or per stage.
            always_partition: switch window partitioning of maps no larger than the window.
        """
        stage_list = self._swin_stages()
        num_stages = len(stage_list)
        sizes = stage_window_sizes(window_size, num_stages) if window_size is not None else None
        ratios = (
            _stage_window_ratios(window_ratio, num_stages)
            if sizes is None and window_ratio is not None
            else None
        )
        if img_size is not None or patch_size is not None:
            self.patch_embed.set_input_size(img_size=img_size, patch_size=patch_size)
        if patch_size is not None:
            for i, info in enumerate(self.feature_info):
                info["reduction"] = max(self.patch_embed.patch_size) * 2**i
        grid = tuple(self.patch_embed.grid_size)
        windows = _windows_for_grid(grid, self._ref_window_sizes, self._ref_grid_size, sizes, ratios)
        if sizes is not None or ratios is not None:
            self._ref_window_sizes, self._ref_grid_size = windows, grid
        for i, stage in enumerate(stage_list):
            scale = 2 ** max(i - 1, 0)
            cast(SwinTransformerStage, stage).set_input_size(
                ((grid[0] + scale - 1) // scale, (grid[1] + scale - 1) // scale), windows[i], always_partition
            )
        update_model_input_size(
            self,
            self.patch_embed.img_size,
            patch_size=patch_size,
            window_size=windows,
            always_partition=always_partition,
        )

    def _swin_stages(self) -> nn.Sequential:
        """The stage container (``layers``; V2-CR names it ``stages``)."""
        return cast(nn.Sequential, self.layers)

    def _intermediates(
        self, x: torch.Tensor, take: list[int], *, stop_early: bool, norm: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The levels as ``(B, C, H, W)`` maps (the final output stays in ``output_fmt``)."""
        x, levels = super()._intermediates(x, take, stop_early=stop_early, norm=norm)
        if self.output_fmt != "NHWC":
            return x, levels
        return x, [t.permute(0, 3, 1, 2).contiguous() for t in levels]

    def _prune_trunk(self, max_index: int) -> None:
        super()._prune_trunk(max_index)
        self._ref_window_sizes = self._ref_window_sizes[: max_index + 1]


class SwinTransformer(SwinTransformerBase):
    """Swin Transformer V1 (and Swin-S3): pre-norm blocks, a learned bias table per window.

    Args:
        img_size: input size the masks and windows are built for.
        patch_size: the patch embedding's stride.
        embed_dim: the first stage's width (doubled per stage), or one width per stage.
        depths: blocks per stage.
        num_heads: heads per stage.
        head_dim: per-head width (default ``dim // heads``), one or per stage.
        window_size: an int or ``(h, w)`` for every stage, or one per stage (Swin-S3).
        always_partition: cut windows and shift even where the window covers the map.
        strict_img_size: only inputs of ``img_size`` (False: any size, masks built per forward).
        dynamic_img_size: the same as ``strict_img_size=False``.
        mlp_ratio: MLP width over ``dim``, one or per stage.
        drop_path_rate: stochastic depth, rising linearly to this over the blocks.
        weight_init: ``''`` (truncated-normal linears), ``'jax'``, ``'jax_nlhb'``, ``'moco'``,
            ``'reset'``, or ``'skip'`` (no init).
    """

    def __init__(
        self,
        img_size: int | Size2 = 224,
        patch_size: int = 4,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        embed_dim: int | Sequence[int] = 96,
        depths: Sequence[int] = (2, 2, 6, 2),
        num_heads: Sequence[int] = (3, 6, 12, 24),
        head_dim: int | Sequence[int] | None = None,
        window_size: WindowSpec = 7,
        always_partition: bool = False,
        strict_img_size: bool = True,
        dynamic_img_size: bool = False,
        mlp_ratio: float | Sequence[float] = 4.0,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        embed_layer: LayerFn = PatchEmbed,
        norm_layer: LayerFn = nn.LayerNorm,
        weight_init: str = "",
    ) -> None:
        super().__init__()
        if weight_init not in ("", "jax", "jax_nlhb", "moco", "reset", "skip"):
            raise ValueError(
                f"weight_init={weight_init!r}; valid: '', 'jax', 'jax_nlhb', 'moco', 'reset', 'skip'"
            )
        num_stages = len(depths)
        head_dims = to_ntuple(num_stages)(head_dim)
        mlp_ratios = to_ntuple(num_stages)(mlp_ratio)
        stage_args = [
            dict(
                head_dim=head_dims[i],
                mlp_ratio=mlp_ratios[i],
                always_partition=always_partition,
                qkv_bias=qkv_bias,
                proj_drop=proj_drop_rate,
                attn_drop=attn_drop_rate,
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
            embed_layer=embed_layer,
            norm_layer=norm_layer,
            stage_args=stage_args,
        )
        self.weight_init_mode = "reset" if weight_init == "skip" else weight_init
        if weight_init != "skip":
            self._initialize()

    def init_weights(self, mode: str = "", needs_reset: bool = True) -> None:
        """timm's ViT initialisers by mode (default: truncated-normal std 0.02 linears, zero biases;
        bias tables truncated-normal)."""
        from .vision_transformer.model import get_init_weights_vit

        mode = mode or self.weight_init_mode
        head_bias = -math.log(self.num_classes) if "nlhb" in mode and self.num_classes else 0.0
        fn = get_init_weights_vit(mode, head_bias=head_bias, needs_reset=needs_reset)
        for name, module in self.named_modules():
            if name:
                fn(module, name)

    def _initialize(self, **kwargs: Any) -> None:
        super()._initialize(needs_reset=False)

    def no_weight_decay(self) -> set[str]:
        """Every relative position bias table."""
        return {n for n, _ in self.named_parameters() if "relative_position_bias_table" in n}


# --- checkpoint remap -----------------------------------------------------------------------------
_ORIGINAL_DOWNSAMPLE = re.compile(r"^layers\.(\d+)\.downsample")


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """Checkpoints (under ``model`` / ``state_dict``) to this model: index and mask buffers
    dropped, the patch kernel and bias tables resampled to the model's sizes, and the original
    layout (stage ``i``'s merging at its end, found by ``layers.0.downsample``; a bare ``head``)
    moved to ours (stage ``i + 1``'s start; ``head.fc``)."""
    state_dict = state_dict.get("model", state_dict)
    state_dict = state_dict.get("state_dict", state_dict)
    m: Any = model
    original = "layers.0.downsample.reduction.weight" in state_dict
    out: dict[str, torch.Tensor] = {}
    for k, v in state_dict.items():
        if "relative_position_index" in k or "relative_coords_table" in k or "attn_mask" in k:
            continue
        if "patch_embed.proj.weight" in k:
            h, w = m.patch_embed.proj.weight.shape[-2:]
            if v.shape[-2:] != (h, w):
                v = resample_patch_embed(v, [h, w], interpolation="bicubic", antialias=True)
        if k.endswith("relative_position_bias_table"):
            attn = m.get_submodule(k[: -len(".relative_position_bias_table")])
            target = attn.relative_position_bias_table.shape
            if v.shape != target or attn.window_size[0] != attn.window_size[1]:
                v = resize_rel_pos_bias_table(v, new_window_size=attn.window_size, new_bias_shape=target)
        if original:
            k = _ORIGINAL_DOWNSAMPLE.sub(lambda g: f"layers.{int(g.group(1)) + 1}.downsample", k)
            k = k.replace("head.", "head.fc.")
        out[k] = v
    return out


# --- variants -------------------------------------------------------------------------------------
SwinTransformerArgs = model_args_type(SwinTransformer)

_T = dict(embed_dim=96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24))
_S = dict(embed_dim=96, depths=(2, 2, 18, 2), num_heads=(3, 6, 12, 24))
_B = dict(embed_dim=128, depths=(2, 2, 18, 2), num_heads=(4, 8, 16, 32))
_L = dict(embed_dim=192, depths=(2, 2, 18, 2), num_heads=(6, 12, 24, 48))
VARIANTS: dict[str, Any] = {
    "swin_tiny_patch4_window7_224": SwinTransformerArgs(patch_size=4, window_size=7, **_T),
    "swin_small_patch4_window7_224": SwinTransformerArgs(patch_size=4, window_size=7, **_S),
    "swin_base_patch4_window7_224": SwinTransformerArgs(patch_size=4, window_size=7, **_B),
    "swin_base_patch4_window12_384": SwinTransformerArgs(patch_size=4, window_size=12, **_B),
    "swin_large_patch4_window7_224": SwinTransformerArgs(patch_size=4, window_size=7, **_L),
    "swin_large_patch4_window12_384": SwinTransformerArgs(patch_size=4, window_size=12, **_L),
    "swin_s3_tiny_224": SwinTransformerArgs(patch_size=4, window_size=(7, 7, 14, 7), **_T),
    "swin_s3_small_224": SwinTransformerArgs(patch_size=4, window_size=(14, 14, 14, 7), **_S),
    "swin_s3_base_224": SwinTransformerArgs(
        patch_size=4, window_size=(7, 7, 14, 7), embed_dim=96, depths=(2, 2, 30, 2), num_heads=(3, 6, 12, 24)
    ),
}

_MS = "https://github.com/SwinTransformer/storage/releases/download/"
_RW = RWIGHTMAN_RELEASES + "v0.1-weights/"
_384 = dict(input_size=(3, 384, 384), pool_size=(12, 12), crop_pct=1.0)
_IN22K = dict(num_classes=21841)
WEIGHTS = {
    "swin_small_patch4_window7_224.ms_in22k_ft_in1k": weight(
        default=True, url=_MS + "v1.0.8/swin_small_patch4_window7_224_22kto1k_finetune.pth"
    ),
    "swin_base_patch4_window7_224.ms_in22k_ft_in1k": weight(
        default=True, url=_MS + "v1.0.0/swin_base_patch4_window7_224_22kto1k.pth"
    ),
    "swin_base_patch4_window12_384.ms_in22k_ft_in1k": weight(
        _384, default=True, url=_MS + "v1.0.0/swin_base_patch4_window12_384_22kto1k.pth"
    ),
    "swin_large_patch4_window7_224.ms_in22k_ft_in1k": weight(
        default=True, url=_MS + "v1.0.0/swin_large_patch4_window7_224_22kto1k.pth"
    ),
    "swin_large_patch4_window12_384.ms_in22k_ft_in1k": weight(
        _384, default=True, url=_MS + "v1.0.0/swin_large_patch4_window12_384_22kto1k.pth"
    ),
    "swin_tiny_patch4_window7_224.ms_in1k": weight(
        default=True, url=_MS + "v1.0.0/swin_tiny_patch4_window7_224.pth"
    ),
    "swin_small_patch4_window7_224.ms_in1k": weight(url=_MS + "v1.0.0/swin_small_patch4_window7_224.pth"),
    "swin_base_patch4_window7_224.ms_in1k": weight(url=_MS + "v1.0.0/swin_base_patch4_window7_224.pth"),
    "swin_base_patch4_window12_384.ms_in1k": weight(
        _384, url=_MS + "v1.0.0/swin_base_patch4_window12_384.pth"
    ),
    # timm lists tiny's 22k fine-tune after its 1k weights (it scores lower)
    "swin_tiny_patch4_window7_224.ms_in22k_ft_in1k": weight(
        url=_MS + "v1.0.8/swin_tiny_patch4_window7_224_22kto1k_finetune.pth"
    ),
    "swin_tiny_patch4_window7_224.ms_in22k": weight(
        _IN22K, url=_MS + "v1.0.8/swin_tiny_patch4_window7_224_22k.pth"
    ),
    "swin_small_patch4_window7_224.ms_in22k": weight(
        _IN22K, url=_MS + "v1.0.8/swin_small_patch4_window7_224_22k.pth"
    ),
    "swin_base_patch4_window7_224.ms_in22k": weight(
        _IN22K, url=_MS + "v1.0.0/swin_base_patch4_window7_224_22k.pth"
    ),
    "swin_base_patch4_window12_384.ms_in22k": weight(
        _384, _IN22K, url=_MS + "v1.0.0/swin_base_patch4_window12_384_22k.pth"
    ),
    "swin_large_patch4_window7_224.ms_in22k": weight(
        _IN22K, url=_MS + "v1.0.0/swin_large_patch4_window7_224_22k.pth"
    ),
    "swin_large_patch4_window12_384.ms_in22k": weight(
        _384, _IN22K, url=_MS + "v1.0.0/swin_large_patch4_window12_384_22k.pth"
    ),
    "swin_s3_tiny_224.ms_in1k": weight(default=True, url=_RW + "s3_t-1d53f6a8.pth"),
    "swin_s3_small_224.ms_in1k": weight(default=True, url=_RW + "s3_s-3bb4c69d.pth"),
    "swin_s3_base_224.ms_in1k": weight(default=True, url=_RW + "s3_b-a1e95db4.pth"),
}

DEPRECATED = {
    "swin_base_patch4_window7_224_in22k": "swin_base_patch4_window7_224.ms_in22k",
    "swin_base_patch4_window12_384_in22k": "swin_base_patch4_window12_384.ms_in22k",
    "swin_large_patch4_window7_224_in22k": "swin_large_patch4_window7_224.ms_in22k",
    "swin_large_patch4_window12_384_in22k": "swin_large_patch4_window12_384.ms_in22k",
}

CFG_DEFAULTS: dict[str, Any] = dict(
    num_classes=1000,
    input_size=(3, 224, 224),
    pool_size=(7, 7),
    crop_pct=0.9,
    interpolation="bicubic",
    fixed_input_size=True,
    first_conv="patch_embed.proj",
    classifier="head.fc",
    license="mit",
)

default_cfgs = register_family(
    __name__,
    model_cls=SwinTransformer,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=CFG_DEFAULTS,
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
    deprecated=DEPRECATED,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. swin_tiny_patch4_window7_224
    return family_entrypoint(__name__, name)
