"""CrossViT: two-branch vision transformers (small and large patches) fused by cross attention.

Paper: `CrossViT: Cross-Attention Multi-Scale Vision Transformer for Image Classification`
(ICCV 2021) - https://arxiv.org/abs/2103.14899 (original code: https://github.com/IBM/CrossViT)

Weights: IBM's ImageNet-1k models (apache-2.0). Module names follow timm's ``crossvit``, so timm
checkpoints load unchanged; the authors' files (class tokens and position embeddings in
parameter lists) load through :func:`checkpoint_filter_fn`. Names end in the input size the
models take (240 / 408): the large-patch branch sees the image resized to 224 / 384.

Each branch embeds the image at its own patch size and runs plain ViT blocks; after them, each
branch's class token, projected to the other branch's width, attends over the other branch's
patch tokens (one query: linear in the token count) and is projected back. The head averages the
two branches' classifiers, so ``forward_features`` returns the two branches' tokens as a list, as
timm's does (``features_are_list``).
"""

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..features import feature_take_indices
from ..layers import DropPath, LayerNorm, PatchEmbed, to_2tuple, trunc_normal_
from ..layers._fx import register_notrace_function
from ..layers.classifier import check_num_classes, check_pool
from ..layers.drop import calculate_drop_path_rates
from ..layers.norm import get_norm_layer
from ..model import VisionModel
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type
from .vision_transformer.model import Block

__all__ = [
    "VARIANTS",
    "WEIGHTS",
    "CrossAttention",
    "CrossAttentionBlock",
    "CrossVit",
    "MultiConvPatchEmbed",
    "MultiScaleBlock",
    "checkpoint_filter_fn",
    "default_cfgs",
    "scale_image",
]

LayerFn = Callable[..., nn.Module]
_POOLS = ("token", "avg")


class MultiConvPatchEmbed(nn.Module):
    """The "dagger" models' patch embedding: three convs (7x7 stride 4, then 3x3 convs) reaching
    the patch stride (12 or 16) with a wider receptive field than one patch conv.
    ``(B, C, H, W)`` -> tokens ``(B, H/p * W/p, D)``."""

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
    ) -> None:
        super().__init__()
        if patch_size not in (12, 16):
            raise ValueError(
                f"the multi-conv patch embedding has strides 12 or 16, got patch_size={patch_size}"
            )
        self.img_size = to_2tuple(img_size)
        self.patch_size = to_2tuple(patch_size)
        # stride 4, then x3 (12) or x2 x2 (16)
        second, third = ((3, 0), (1, 1)) if patch_size == 12 else ((2, 1), (2, 1))
        self.proj = nn.Sequential(
            nn.Conv2d(in_chans, embed_dim // 4, kernel_size=7, stride=4, padding=3),
            nn.ReLU(inplace=True),
            nn.Conv2d(embed_dim // 4, embed_dim // 2, kernel_size=3, stride=second[0], padding=second[1]),
            nn.ReLU(inplace=True),
            nn.Conv2d(embed_dim // 2, embed_dim, kernel_size=3, stride=third[0], padding=third[1]),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class CrossAttention(nn.Module):
    """The first token alone queries all tokens: ``(B, N, C)`` -> ``(B, 1, C)``. Separate q / k / v
    projections (keys as the authors'); the query is projected from the first token only."""

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        qkv_bias: bool = False,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.wq = nn.Linear(dim, dim, bias=qkv_bias)
        self.wk = nn.Linear(dim, dim, bias=qkv_bias)
        self.wv = nn.Linear(dim, dim, bias=qkv_bias)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        h = self.num_heads
        q = self.wq(x[:, 0:1]).reshape(b, 1, h, c // h).transpose(1, 2)
        k = self.wk(x).reshape(b, n, h, c // h).transpose(1, 2)
        v = self.wv(x).reshape(b, n, h, c // h).transpose(1, 2)
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.attn_drop.p if self.training else 0.0)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(b, 1, c)))


class CrossAttentionBlock(nn.Module):
    """``x[:, :1] + drop_path(cross_attn(norm1(x)))``: the updated first (class) token alone; no MLP."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        qkv_bias: bool = False,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        norm_layer: LayerFn = LayerNorm,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = CrossAttention(
            dim, num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=proj_drop
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, 0:1] + self.drop_path(self.attn(self.norm1(x)))


class MultiScaleBlock(nn.Module):
    """Each branch's ViT blocks, then the fusion: per branch, its class token projected to the
    next branch's width, cross-attending over that branch's patch tokens, projected back.

    Args:
        dim, num_heads, mlp_ratio: per branch.
        depth: ViT blocks per branch, then the cross-attention blocks per fusion (0 means one, as
            the authors' checkpoints hold it: a bare block, not a sequence of one).
        drop_path: rates; branch blocks ``i`` take ``drop_path[i]``, the fusion the last.
    """

    def __init__(
        self,
        dim: tuple[int, ...],
        depth: tuple[int, ...],
        num_heads: tuple[int, ...],
        mlp_ratio: tuple[float, ...],
        qkv_bias: bool = False,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: list[float] | None = None,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = LayerNorm,
    ) -> None:
        super().__init__()
        n = self.num_branches = len(dim)
        rates = drop_path if drop_path is not None else [0.0] * (max(depth[:-1]) + depth[-1])
        common: dict[str, Any] = dict(
            qkv_bias=qkv_bias, proj_drop=proj_drop, attn_drop=attn_drop, norm_layer=norm_layer
        )
        self.blocks = nn.ModuleList(
            [
                nn.Sequential(
                    *[
                        Block(dim[d], num_heads[d], mlp_ratio=mlp_ratio[d], drop_path=rates[i], **common)
                        for i in range(depth[d])
                    ]
                )
                for d in range(n)
                if depth[d] > 0
            ]
        )
        # to the next branch's width and back, around its fusion
        self.projs = nn.ModuleList(
            [
                nn.Sequential(norm_layer(dim[d]), act_layer(), nn.Linear(dim[d], dim[(d + 1) % n]))
                for d in range(n)
            ]
        )
        fusion: list[nn.Module] = []
        for d in range(n):
            other = (d + 1) % n
            blocks = [
                CrossAttentionBlock(dim[other], num_heads[other], drop_path=rates[-1], **common)
                for _ in range(max(depth[-1], 1))
            ]
            fusion.append(blocks[0] if depth[-1] == 0 else nn.Sequential(*blocks))
        self.fusion = nn.ModuleList(fusion)
        self.revert_projs = nn.ModuleList(
            [
                nn.Sequential(norm_layer(dim[(d + 1) % n]), act_layer(), nn.Linear(dim[(d + 1) % n], dim[d]))
                for d in range(n)
            ]
        )

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        outs_b = [block(x[i]) for i, block in enumerate(self.blocks)]
        cls_proj = [proj(outs_b[i][:, 0:1]) for i, proj in enumerate(self.projs)]
        outs = []
        for i, (fusion, revert) in enumerate(zip(self.fusion, self.revert_projs)):
            other = outs_b[(i + 1) % self.num_branches]
            cls = revert(fusion(torch.cat((cls_proj[i], other[:, 1:]), dim=1))[:, 0:1])
            outs.append(torch.cat((cls, outs_b[i][:, 1:]), dim=1))
        return outs


@register_notrace_function
def scale_image(x: torch.Tensor, ss: tuple[int, int], crop_scale: bool = False) -> torch.Tensor:
    """The image at a branch's size ``ss``: centre-cropped (``crop_scale``, where it fits) or
    resized bicubically; unchanged at that size. (A leaf for FX: its branches read the shape.)"""
    height, width = x.shape[-2:]
    if height != ss[0] or width != ss[1]:
        if crop_scale and ss[0] <= height and ss[1] <= width:
            # NOTE: int() for TorchScript, whose round() returns a float
            top = int(round((height - ss[0]) / 2.0))  # noqa: RUF046
            left = int(round((width - ss[1]) / 2.0))  # noqa: RUF046
            x = x[:, :, top : top + ss[0], left : left + ss[1]]
        else:
            x = F.interpolate(x, size=ss, mode="bicubic", align_corners=False)
    return x


torch.fx.wrap("scale_image")  # one graph node under a plain symbolic trace: it branches on the input's size


class CrossVit(VisionModel):
    """Two branches (small / large patches, each with a class token and position embedding) through
    a sequence of :class:`MultiScaleBlock`, a final norm per branch, then the head: each branch's
    class token (or mean patch token) through its own classifier, the logits averaged.

    ``forward_features`` returns the two branches' normed tokens ``(B, 1 + N_b, C_b)`` as a list,
    as timm's. The feature levels are each branch's patch tokens after each multi-scale block, as
    NCHW maps, ordered branch-major (level ``b * len(depth) + i`` is branch ``b`` after block
    ``i``), so that their reductions do not decrease.

    Args:
        img_size: input size (fixed: the position embeddings are not resampled).
        img_scale: per branch, its image size over ``img_size`` (the image is resized to it).
        patch_size, embed_dim, num_heads: per branch (two branches).
        mlp_ratio: per branch (the last entry is unused, as the authors').
        depth: per multi-scale block, ViT blocks per branch then cross-attention blocks.
        multi_conv: the three-conv patch embeddings of the "dagger" models.
        crop_scale: centre-crop rather than resize where a branch's size is smaller.
        in_chans, num_classes: input channels, classes (0: no classifier).
        global_pool: ``'token'`` (class tokens) or ``'avg'`` (mean of the patch tokens).
        drop_rate, pos_drop_rate, proj_drop_rate, attn_drop_rate, drop_path_rate: head,
            embedding, projection, attention dropout and stochastic depth.
        norm_layer: the blocks' and final norms (a class or a name; LayerNorm, eps 1e-6).
    """

    classifier_name = "head.0"
    head_names = ("head_drop", "head")
    output_fmt = "NLC"
    features_are_list = True
    # NOTE: the levels' modules (``blocks.i``) are timm's labels: a multi-scale block outputs both
    # branches' tokens with their class tokens; the levels are read through forward_intermediates
    feature_modules = False

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read string annotations
        global_pool: str  # type: ignore[assignment]  # a pool type, not a pooling module
        head: nn.ModuleList
        cls_token_0: nn.Parameter
        cls_token_1: nn.Parameter
        pos_embed_0: nn.Parameter
        pos_embed_1: nn.Parameter

    def __init__(
        self,
        img_size: int = 224,
        img_scale: float | tuple[float, ...] = (1.0, 1.0),
        patch_size: tuple[int, ...] = (8, 16),
        in_chans: int = 3,
        num_classes: int = 1000,
        embed_dim: tuple[int, ...] = (192, 384),
        depth: tuple[tuple[int, ...], ...] = ((1, 3, 1), (1, 3, 1), (1, 3, 1)),
        num_heads: tuple[int, ...] = (6, 12),
        mlp_ratio: tuple[float, ...] = (2.0, 2.0, 4.0),
        multi_conv: bool = False,
        crop_scale: bool = False,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_layer: str | LayerFn = LayerNorm,
        global_pool: str = "token",
    ) -> None:
        super().__init__()
        check_pool(global_pool, _POOLS, model="CrossViT")
        check_num_classes(num_classes)
        # NOTE: two branches: the forward names each branch's class token and position embedding
        # (TorchScript cannot look parameters up by a computed name), as timm's does
        scales = tuple(img_scale) if isinstance(img_scale, (tuple, list)) else (img_scale, img_scale)
        branch_args: dict[str, tuple[float, ...]] = dict(
            patch_size=tuple(patch_size),
            embed_dim=tuple(embed_dim),
            num_heads=tuple(num_heads),
            img_scale=scales,
        )
        for what, values in branch_args.items():
            if len(values) != 2:
                raise ValueError(f"CrossViT has two branches: {what}={values!r} needs two values")
        for cfg in depth:
            if len(cfg) != 3:
                raise ValueError(
                    f"depth={depth!r}: each multi-scale block needs (branch 0 blocks, branch 1 blocks, "
                    f"cross-attention blocks), got {cfg!r}"
                )
        norm_fn = get_norm_layer(norm_layer)
        if norm_fn is None:
            raise ValueError(f"norm_layer={norm_layer!r}: CrossViT's blocks need a norm layer")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.global_pool = global_pool  # type: ignore[assignment]
        self.drop_rate = drop_rate
        self.num_branches = 2
        self.embed_dim = tuple(embed_dim)
        self.num_features = self.head_hidden_size = sum(embed_dim)
        self.img_size = to_2tuple(img_size)
        self.img_size_scaled: list[tuple[int, int]] = [
            (int(self.img_size[0] * s), int(self.img_size[1] * s)) for s in scales
        ]
        self.crop_scale = crop_scale
        self.grid_sizes: list[tuple[int, int]] = [
            (size[0] // p, size[1] // p) for size, p in zip(self.img_size_scaled, patch_size)
        ]

        for i, (grid, dim) in enumerate(zip(self.grid_sizes, embed_dim)):
            setattr(self, f"pos_embed_{i}", nn.Parameter(torch.zeros(1, 1 + grid[0] * grid[1], dim)))
            setattr(self, f"cls_token_{i}", nn.Parameter(torch.zeros(1, 1, dim)))
        self.patch_embed = nn.ModuleList(
            [
                MultiConvPatchEmbed(size, p, in_chans, dim)
                if multi_conv
                else PatchEmbed(size, p, in_chans, dim)
                for size, p, dim in zip(self.img_size_scaled, patch_size, embed_dim)
            ]
        )
        self.pos_drop = nn.Dropout(p=pos_drop_rate)

        # one rate per branch block and fusion depth, counted over the blocks (as the authors')
        rates = cast(
            "list[float]", calculate_drop_path_rates(drop_path_rate, sum(sum(cfg[-2:]) for cfg in depth))
        )
        blocks, start = [], 0
        for cfg in depth:
            n = max(cfg[:-1]) + cfg[-1]
            blocks.append(
                MultiScaleBlock(
                    tuple(embed_dim),
                    tuple(cfg),
                    tuple(num_heads),
                    tuple(mlp_ratio),
                    qkv_bias=qkv_bias,
                    proj_drop=proj_drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=rates[start : start + n],
                    norm_layer=norm_fn,
                )
            )
            start += n
        self.blocks = nn.ModuleList(blocks)
        self.num_feature_blocks = len(depth)
        self.feature_info = [
            dict(num_chs=embed_dim[b], reduction=round(patch_size[b] / scales[b]), module=f"blocks.{i}")
            for b in range(2)
            for i in range(len(depth))
        ]
        self.norm = nn.ModuleList([norm_fn(dim) for dim in embed_dim])
        self.head_drop = nn.Dropout(drop_rate)
        self.head = self._heads(num_classes)
        self._initialize()

    def _heads(self, num_classes: int) -> nn.ModuleList:
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else None
        dtype = ref.dtype if ref is not None else None
        return nn.ModuleList(
            [
                nn.Linear(dim, num_classes, device=device, dtype=dtype) if num_classes > 0 else nn.Identity()
                for dim in self.embed_dim
            ]
        )

    def init_weights(self) -> None:
        """Truncated-normal (std 0.02) class tokens, position embeddings and linears (zero biases),
        unit LayerNorms; convs keep PyTorch's init, as the authors'."""
        for i in range(self.num_branches):
            trunc_normal_(getattr(self, f"pos_embed_{i}"), std=0.02)
            trunc_normal_(getattr(self, f"cls_token_{i}"), std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def no_weight_decay(self) -> set[str]:
        """The class tokens and position embeddings."""
        return {f"{p}_{i}" for p in ("cls_token", "pos_embed") for i in range(self.num_branches)}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """The embeddings first, one group per multi-scale block, the final norms with the last."""
        return dict(
            stem=r"^(?:cls_token|pos_embed|patch_embed)",
            blocks=[(r"^blocks\.(\d+)", None), (r"^norm", (99999,))],
        )

    # --- head ----------------------------------------------------------------------------------
    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Fresh per-branch classifiers of ``num_classes`` outputs (0 removes them);
        ``global_pool``: ``'token'`` or ``'avg'``."""
        check_num_classes(num_classes)
        if global_pool is not None:
            self.global_pool = check_pool(global_pool, _POOLS, model="CrossViT")  # type: ignore[assignment]
        self.head = self._heads(num_classes).train(self.training)
        self.num_classes = num_classes

    def forward_head(self, x: list[torch.Tensor], pre_logits: bool = False) -> torch.Tensor:  # type: ignore[override]
        """Per branch: class token (or mean patch token), dropout, its classifier; the logits
        averaged. ``pre_logits`` (or no classes): the pooled branches concatenated,
        ``(B, sum(embed_dim))``."""
        if self.global_pool == "avg":
            pooled = [self.head_drop(t[:, 1:].mean(dim=1)) for t in x]
        else:
            pooled = [self.head_drop(t[:, 0]) for t in x]
        if pre_logits or self.num_classes == 0:
            return torch.cat(pooled, dim=1)
        return torch.stack([head(pooled[i]) for i, head in enumerate(self.head)], dim=0).mean(dim=0)

    # --- trunk ---------------------------------------------------------------------------------
    def _embed(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The image -> per branch: resized, patch tokens, class token first, position embedding."""
        xs: list[torch.Tensor] = []
        for i, embed in enumerate(self.patch_embed):
            tokens = embed(scale_image(x, self.img_size_scaled[i], self.crop_scale))
            cls_token = self.cls_token_0 if i == 0 else self.cls_token_1
            pos_embed = self.pos_embed_0 if i == 0 else self.pos_embed_1
            tokens = torch.cat((cls_token.expand(tokens.shape[0], -1, -1), tokens), dim=1)
            xs.append(self.pos_drop(tokens + pos_embed))
        return xs

    def forward_features(self, x: torch.Tensor) -> list[torch.Tensor]:  # type: ignore[override]
        """``(B, C, H, W)`` -> per branch its normed tokens ``(B, 1 + N_b, C_b)``, class token first."""
        xs = self._embed(x)
        ckpt = self._checkpointing()
        for block in self.blocks:
            # NOTE: inline: TorchScript cannot pass a module to a method
            if ckpt and not torch.jit.is_scripting():
                xs = checkpoint(block, xs, use_reentrant=False)
            else:
                xs = block(xs)
        return [norm(xs[i]) for i, norm in enumerate(self.norm)]

    # NOTE: the return is the logits tensor; annotations stay real objects in this module (no
    # postponed annotations), as FX's generated code needs for the list-typed methods
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

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
        """Each branch's patch tokens after each multi-scale block (class token dropped), ordered
        branch-major (see the class); ``norm``: through that branch's final norm.

        Args:
            output_fmt: ``'NCHW'`` (a ``(B, C, H/p, W/p)`` map) or ``'NLC'`` (the tokens).

        Returns:
            ``(forward_features' list, levels)``, or only the levels. An early stop ends after
            the last block holding a requested level (the list then holds that block's output,
            normed).
        """
        if output_fmt not in ("NCHW", "NLC"):
            raise ValueError(f"output_fmt={output_fmt!r} is not supported; use 'NCHW' or 'NLC'")
        num_blocks = self.num_feature_blocks
        take, _ = feature_take_indices(self.num_branches * num_blocks, indices)
        last = max(i % num_blocks for i in take)
        stop = last + 1 if stop_early or intermediates_only else len(self.blocks)
        found: list[list[torch.Tensor]] = [[] for _ in range(self.num_branches)]
        xs = self._embed(x)
        ckpt = self._checkpointing()
        for i, block in enumerate(self.blocks):
            if i >= stop:
                break
            xs = checkpoint(block, xs, use_reentrant=False) if ckpt else block(xs)
            for b, branch_norm in enumerate(self.norm):
                if b * num_blocks + i in take:
                    found[b].append((branch_norm(xs[b]) if norm else xs[b])[:, 1:])
        levels: list[torch.Tensor] = []
        for b, maps in enumerate(found):
            if output_fmt == "NCHW":
                h, w = self.grid_sizes[b]
                maps = [t.reshape(t.shape[0], h, w, -1).permute(0, 3, 1, 2).contiguous() for t in maps]
            levels.extend(maps)
        if intermediates_only:
            return levels
        return [norm_b(xs[b]) for b, norm_b in enumerate(self.norm)], levels

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """Drop the multi-scale blocks after the last holding one of ``indices`` (both branches
        run through every kept block: their fusion joins them), the final norms with
        ``prune_norm``, the classifiers with ``prune_head``. Returns the kept indices.

        A block's fusion into a branch no kept level reads stays, unused (as timm's)."""
        num_blocks = self.num_feature_blocks
        take, _ = feature_take_indices(self.num_branches * num_blocks, indices)
        self.blocks = self.blocks[: max(i % num_blocks for i in take) + 1]
        if prune_norm:
            self.norm = nn.ModuleList([nn.Identity() for _ in range(self.num_branches)])
        if prune_head:
            self.reset_classifier(0)
        return take


# --- checkpoint remap -----------------------------------------------------------------------------
def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """The authors' release -> our keys: their class tokens and position embeddings are
    parameter lists (``cls_token.0``, ``pos_embed.1``), ours one parameter per branch
    (``cls_token_0``, ``pos_embed_1``); everything else is named alike."""
    out: dict[str, Any] = {}
    for key, value in state_dict.items():
        head, _, rest = key.partition(".")
        if head in ("cls_token", "pos_embed") and rest.isdigit():
            key = f"{head}_{rest}"
        out[key] = value
    return out


# --- variants -------------------------------------------------------------------------------------
CrossVitArgs = model_args_type(CrossVit)

_240 = dict(img_scale=(1.0, 224 / 240), patch_size=(12, 16))
_408 = dict(img_scale=(1.0, 384 / 408), patch_size=(12, 16))


def _blocks(depth: int) -> tuple[tuple[int, int, int], ...]:
    """Three multi-scale blocks of one small-branch block, ``depth`` large-branch blocks and one
    (bare) cross-attention block per fusion."""
    return ((1, depth, 0),) * 3


_TINY = dict(embed_dim=(96, 192), depth=_blocks(4), num_heads=(3, 3), mlp_ratio=(4.0, 4.0, 1.0))
_SMALL = dict(embed_dim=(192, 384), depth=_blocks(4), num_heads=(6, 6), mlp_ratio=(4.0, 4.0, 1.0))
_BASE = dict(embed_dim=(384, 768), depth=_blocks(4), num_heads=(12, 12), mlp_ratio=(4.0, 4.0, 1.0))
_9 = dict(embed_dim=(128, 256), depth=_blocks(3), num_heads=(4, 4), mlp_ratio=(3.0, 3.0, 1.0))
_15 = dict(embed_dim=(192, 384), depth=_blocks(5), num_heads=(6, 6), mlp_ratio=(3.0, 3.0, 1.0))
_18 = dict(embed_dim=(224, 448), depth=_blocks(6), num_heads=(7, 7), mlp_ratio=(3.0, 3.0, 1.0))

VARIANTS = {
    "crossvit_tiny_240": CrossVitArgs(**_240, **_TINY),
    "crossvit_small_240": CrossVitArgs(**_240, **_SMALL),
    "crossvit_base_240": CrossVitArgs(**_240, **_BASE),
    "crossvit_9_240": CrossVitArgs(**_240, **_9),
    "crossvit_15_240": CrossVitArgs(**_240, **_15),
    "crossvit_18_240": CrossVitArgs(**_240, **_18),
    "crossvit_9_dagger_240": CrossVitArgs(**_240, **_9, multi_conv=True),
    "crossvit_15_dagger_240": CrossVitArgs(**_240, **_15, multi_conv=True),
    "crossvit_15_dagger_408": CrossVitArgs(**_408, **_15, multi_conv=True),
    "crossvit_18_dagger_240": CrossVitArgs(**_240, **_18, multi_conv=True),
    "crossvit_18_dagger_408": CrossVitArgs(**_408, **_18, multi_conv=True),
}

# --- weights --------------------------------------------------------------------------------------
_DAGGER = dict(first_conv=("patch_embed.0.proj.0", "patch_embed.1.proj.0"))
WEIGHTS: dict[str, dict[str, Any]] = {
    "crossvit_15_240.in1k": weight(),
    "crossvit_15_dagger_240.in1k": weight(_DAGGER),
    "crossvit_15_dagger_408.in1k": weight(_DAGGER, size=408, crop=1.0),
    "crossvit_18_240.in1k": weight(),
    "crossvit_18_dagger_240.in1k": weight(_DAGGER),
    "crossvit_18_dagger_408.in1k": weight(_DAGGER, size=408, crop=1.0),
    "crossvit_9_240.in1k": weight(),
    "crossvit_9_dagger_240.in1k": weight(_DAGGER),
    "crossvit_base_240.in1k": weight(),
    "crossvit_small_240.in1k": weight(),
    "crossvit_tiny_240.in1k": weight(),
}

default_cfgs = register_family(
    __name__,
    model_cls=CrossVit,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        num_classes=1000,
        input_size=(3, 240, 240),
        pool_size=None,
        crop_pct=0.875,
        mean=IMAGENET_DEFAULT_MEAN,
        std=IMAGENET_DEFAULT_STD,
        fixed_input_size=True,
        first_conv=("patch_embed.0.proj", "patch_embed.1.proj"),
        classifier=("head.0", "head.1"),
        license="apache-2.0",
    ),
    # the last block's output of each branch: the levels the head reads (three blocks in every variant)
    feature_cfg=dict(out_indices=(2, 5), feature_cls="getter"),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. crossvit_tiny_240
    return family_entrypoint(__name__, name)
