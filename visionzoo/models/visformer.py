"""Visformer: a three-stage transformer on ``(B, C, H, W)`` maps: 1x1-conv attention and MLPs,
batch norm, a conv stem and strided patch embeddings between stages, and a first stage of
grouped-conv MLPs without attention.

Paper: `Visformer: The Vision-friendly Transformer` - https://arxiv.org/abs/2104.12533

Weights: the authors' ImageNet-1k trainings (https://github.com/danczs/Visformer), apache-2.0 as
timm lists them. Module names follow timm's ``visformer``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..features import feature_take_indices
from ..layers import (
    DropPath,
    LayerNorm2d,
    PatchEmbed,
    calculate_drop_path_rates,
    to_2tuple,
    trunc_normal_,
)
from ..model import VisionModel, checkpoint_seq
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["VARIANTS", "WEIGHTS", "Attention", "Block", "SpatialMlp", "Visformer", "default_cfgs"]

LayerFn = Callable[..., nn.Module]


class SpatialMlp(nn.Module):
    """1x1 conv -> act -> (grouped 3x3 conv -> act) -> 1x1 conv. With the 3x3 conv
    (``spatial_conv``) the hidden width is the model's choice, not ``hidden_features``: twice the
    input (``group >= 2``) or 5/6 of it."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int | None = None,
        out_features: int | None = None,
        act_layer: LayerFn = nn.GELU,
        drop: float = 0.0,
        group: int = 8,
        spatial_conv: bool = False,
    ) -> None:
        super().__init__()
        out_features = out_features or in_features
        hidden = hidden_features or in_features
        if spatial_conv:
            hidden = in_features * 5 // 6 if group < 2 else in_features * 2
        self.in_features, self.out_features, self.hidden_features = in_features, out_features, hidden
        self.group = group
        self.spatial_conv = spatial_conv
        self.conv1 = nn.Conv2d(in_features, hidden, 1, bias=False)
        self.act1 = act_layer()
        self.drop1 = nn.Dropout(drop)
        self.conv2: nn.Module | None = (
            nn.Conv2d(hidden, hidden, 3, padding=1, groups=group, bias=False) if spatial_conv else None
        )
        self.act2: nn.Module | None = act_layer() if spatial_conv else None
        self.conv3 = nn.Conv2d(hidden, out_features, 1, bias=False)
        self.drop3 = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop1(self.act1(self.conv1(x)))
        if self.conv2 is not None and self.act2 is not None:
            x = self.act2(self.conv2(x))
        return self.drop3(self.conv3(x))


class Attention(nn.Module):
    """Self-attention over the pixels of a ``(B, C, H, W)`` map, with 1x1 convs for qkv and the
    output; heads of ``dim // num_heads * head_dim_ratio`` channels."""

    def __init__(
        self,
        dim: int,
        num_heads: int = 8,
        head_dim_ratio: float = 1.0,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = round(dim // num_heads * head_dim_ratio)
        self.scale = self.head_dim**-0.5
        self.fused_attn = True
        inner = self.head_dim * num_heads
        self.qkv = nn.Conv2d(dim, inner * 3, 1, bias=False)
        self.attn_drop = nn.Dropout(attn_drop)
        self.proj = nn.Conv2d(inner, dim, 1, bias=False)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        qkv = self.qkv(x).reshape(b, 3, self.num_heads, self.head_dim, -1).permute(1, 0, 2, 4, 3)
        q, k, v = qkv.unbind(0)  # (B, heads, H * W, head_dim) each
        if self.fused_attn:
            x = F.scaled_dot_product_attention(
                q.contiguous(),
                k.contiguous(),
                v.contiguous(),
                dropout_p=self.attn_drop.p if self.training else 0.0,
            )
        else:
            attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
            x = self.attn_drop(attn) @ v
        return self.proj_drop(self.proj(x.permute(0, 1, 3, 2).reshape(b, -1, h, w)))


class Block(nn.Module):
    """``x + attn(norm1(x))`` (unless ``attn_disabled``), then ``x + mlp(norm2(x))``."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        head_dim_ratio: float = 1.0,
        mlp_ratio: float = 4.0,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = LayerNorm2d,
        group: int = 8,
        attn_disabled: bool = False,
        spatial_conv: bool = False,
    ) -> None:
        super().__init__()
        self.spatial_conv = spatial_conv
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm1: nn.Module | None = None if attn_disabled else norm_layer(dim)
        self.attn: nn.Module | None = (
            None
            if attn_disabled
            else Attention(
                dim,
                num_heads=num_heads,
                head_dim_ratio=head_dim_ratio,
                attn_drop=attn_drop,
                proj_drop=proj_drop,
            )
        )
        self.norm2 = norm_layer(dim)
        self.mlp = SpatialMlp(
            dim,
            int(dim * mlp_ratio),
            act_layer=act_layer,
            drop=proj_drop,
            group=group,
            spatial_conv=spatial_conv,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.attn is not None and self.norm1 is not None:
            x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class Visformer(VisionModel):
    """Stem, then three stages, each a patch embedding (a strided conv), a position embedding
    added to the map, and blocks; a final norm and a pooled classifier.

    Args:
        init_channels: stem width (a 7x7 stride-2 conv); None: no stem, the first patch
            embedding takes the image.
        depth: blocks per stage, or a total split in thirds.
        attn_stage / spatial_conv: one ``'0'`` / ``'1'`` per stage: blocks with attention, MLPs
            with a grouped 3x3 conv.
        vit_stem: one patch embedding of ``patch_size`` and one stage width (``embed_dim``).
        conv_init: Kaiming (fan-out) convs instead of truncated normal.
        embed_norm: norm after each patch embedding.
    """

    classifier_name = "head"

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        stage2: nn.Sequential  # set through setattr in __init__ (as head, by _init_head)
        head: nn.Module
        stage3: nn.Sequential

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        num_classes: int = 1000,
        init_channels: int | None = 32,
        embed_dim: int = 384,
        depth: int | tuple[int, int, int] = 12,
        num_heads: int = 6,
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.0,
        pos_drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_layer: LayerFn = LayerNorm2d,
        attn_stage: str = "111",
        use_pos_embed: bool = True,
        spatial_conv: str = "111",
        vit_stem: bool = False,
        group: int = 8,
        global_pool: str = "avg",
        conv_init: bool = False,
        embed_norm: LayerFn | None = None,
    ) -> None:
        super().__init__()
        for name, flags in (("attn_stage", attn_stage), ("spatial_conv", spatial_conv)):
            if len(flags) != 3 or set(flags) - {"0", "1"}:
                raise ValueError(f"{name}={flags!r}: one '0' or '1' per stage, e.g. '011'")
        size = to_2tuple(img_size)
        self.in_chans = in_chans
        self.embed_dim = embed_dim
        self.init_channels = init_channels
        # NOTE: the model's own input size (the builder reads the first module with img_size and
        # patch_size: this one, not the patch embedding behind the stem)
        self.img_size, self.patch_size = size, patch_size
        self.vit_stem = vit_stem
        self.conv_init = conv_init
        self.use_pos_embed = use_pos_embed
        self.drop_rate = drop_rate
        if isinstance(depth, int):
            third = depth // 3
            depths = (third, depth - 2 * third, third)
        else:
            depths = (depth[0], depth[1], depth[2])
        self.stage_num1, self.stage_num2, self.stage_num3 = depths
        dpr = cast(list[float], calculate_drop_path_rates(drop_path_rate, sum(depths)))

        def embed(patch: int, chs_in: int, chs_out: int) -> PatchEmbed:
            return PatchEmbed(
                img_size=grid,
                patch_size=patch,
                in_chans=chs_in,
                embed_dim=chs_out,
                norm_layer=embed_norm,
                flatten=False,
            )

        def pos(chs: int) -> nn.Parameter | None:
            return nn.Parameter(torch.zeros(1, chs, grid[0], grid[1])) if use_pos_embed else None

        def stage(i: int, dim: int, head_dim_ratio: float) -> nn.Sequential:
            start = sum(depths[:i])
            return nn.Sequential(
                *[
                    Block(
                        dim=dim,
                        num_heads=num_heads,
                        head_dim_ratio=head_dim_ratio,
                        mlp_ratio=mlp_ratio,
                        proj_drop=proj_drop_rate,
                        attn_drop=attn_drop_rate,
                        drop_path=dpr[start + j],
                        norm_layer=norm_layer,
                        group=group,
                        attn_disabled=attn_stage[i] == "0",
                        spatial_conv=spatial_conv[i] == "1",
                    )
                    for j in range(depths[i])
                ]
            )

        # stage 1: the stem (or none) and the first patch embedding. NOTE: the stage widths are
        # embed_dim / 2, embed_dim, 2 * embed_dim whatever the stem, as in timm; with vit_stem a
        # working config leaves stages 1 and 3 empty
        grid: tuple[int, int] = size
        if vit_stem or init_channels is None:
            patch = patch_size if vit_stem else patch_size // 2
            chs = embed_dim if vit_stem else embed_dim // 2
            self.stem: nn.Module | None = None
            self.patch_embed1 = embed(patch, in_chans, chs)
            reduction = patch
        else:
            chs = embed_dim // 2
            self.stem = nn.Sequential(
                nn.Conv2d(in_chans, init_channels, 7, stride=2, padding=3, bias=False),
                nn.BatchNorm2d(init_channels),
                nn.ReLU(inplace=True),
            )
            grid = (grid[0] // 2, grid[1] // 2)
            patch = patch_size // 4
            self.patch_embed1 = embed(patch, init_channels, chs)
            reduction = 2 * patch
        grid = (grid[0] // patch, grid[1] // patch)
        self.pos_embed1 = pos(chs)
        self.pos_drop = nn.Dropout(p=pos_drop_rate)
        self.stage1 = stage(0, embed_dim // 2, 0.5)
        self.feature_info = [dict(num_chs=chs, reduction=reduction, module="stage1")]

        # stages 2 and 3: a stride patch_size / 8 embedding each (none with vit_stem)
        self.patch_embed2: nn.Module | None = None
        self.pos_embed2: nn.Parameter | None = None
        self.patch_embed3: nn.Module | None = None
        self.pos_embed3: nn.Parameter | None = None
        for i, width in ((2, embed_dim), (3, embed_dim * 2)):
            if not vit_stem:
                step = patch_size // 8
                setattr(self, f"patch_embed{i}", embed(step, chs, width))
                grid = (grid[0] // step, grid[1] // step)
                reduction *= step
                setattr(self, f"pos_embed{i}", pos(width))
                chs = width
            setattr(self, f"stage{i}", stage(i - 1, width, 1.0))
            self.feature_info.append(dict(num_chs=chs, reduction=reduction, module=f"stage{i}"))
        self.norm = norm_layer(chs)
        self._init_head(chs, num_classes, global_pool)
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal position embeddings and linears; convs Kaiming (``conv_init``) or
        truncated normal."""
        for p in (self.pos_embed1, self.pos_embed2, self.pos_embed3):
            if p is not None:
                trunc_normal_(p, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
            elif isinstance(m, nn.Conv2d):
                if self.conv_init:
                    nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                else:
                    trunc_normal_(m.weight, std=0.02)
            else:
                continue
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^patch_embed1|pos_embed1|stem",
            blocks=[
                (r"^stage(\d+)\.(\d+)", None),
                (r"^(?:patch_embed|pos_embed)(\d+)", (0,)),
                (r"^norm", (99999,)),
            ],
        )

    def no_weight_decay(self) -> set[str]:
        return set()

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(B, num_features, H / 16, W / 16)`` after the final norm."""
        if not torch.jit.is_scripting():
            return self._intermediates(x, [], stop_early=False)[0]
        # NOTE: TorchScript cannot pass modules around; the same walk written out
        if self.stem is not None:
            x = self.stem(x)
        x = self.patch_embed1(x)
        if self.pos_embed1 is not None:
            x = self.pos_drop(x + self.pos_embed1)
        x = self.stage1(x)
        if self.patch_embed2 is not None:
            x = self.patch_embed2(x)
        if self.pos_embed2 is not None:
            x = self.pos_drop(x + self.pos_embed2)
        x = self.stage2(x)
        if self.patch_embed3 is not None:
            x = self.patch_embed3(x)
        if self.pos_embed3 is not None:
            x = self.pos_drop(x + self.pos_embed3)
        x = self.stage3(x)
        return self.norm(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool, dropout, classify (a flat head named ``head``, as timm names it)."""
        x = self.global_pool(x)
        if self.drop_rate:
            x = F.dropout(x, p=float(self.drop_rate), training=self.training)
        return x if pre_logits else self.head(x)

    def _intermediates(
        self, x: torch.Tensor, take: list[int], *, stop_early: bool, norm: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The three stages' outputs; ``norm`` applies the final norm to the last."""
        stages = [
            (self.patch_embed1, self.pos_embed1, self.stage1),
            (self.patch_embed2, self.pos_embed2, self.stage2),
            (self.patch_embed3, self.pos_embed3, self.stage3),
        ]
        if stop_early:
            stages = stages[: max(take) + 1]
        if self.stem is not None:
            x = self.stem(x)
        found = []
        for i, (patch_embed, pos_embed, stage) in enumerate(stages):
            if patch_embed is not None:
                x = patch_embed(x)
            if pos_embed is not None:
                x = self.pos_drop(x + pos_embed)
            x = checkpoint_seq(stage, x) if self._checkpointing() else stage(x)
            if i in take:
                found.append(self.norm(x) if norm and i == 2 else x)
        if len(stages) == 3:
            x = self.norm(x)
        return x, found

    def prune_intermediate_layers(
        self,
        indices: int | list[int] | tuple[int, ...] = 1,
        prune_norm: bool = False,
        prune_head: bool = True,
    ) -> list[int]:
        """Drop the stages after the last of ``indices`` (their embeddings too); the final norm
        with ``prune_norm`` or a cut, and the head with ``prune_head`` or a cut."""
        take, max_index = feature_take_indices(3, indices)
        for n in range(max_index + 2, 4):
            setattr(self, f"patch_embed{n}", None)
            setattr(self, f"pos_embed{n}", None)
            setattr(self, f"stage{n}", nn.Sequential())
        cut = max_index < 2
        if prune_norm or cut:
            self.norm = nn.Identity()
        if cut:
            self.num_features = self.head_hidden_size = self.feature_info[max_index]["num_chs"]
        if prune_head or cut:
            self.reset_classifier(0, "")
        return take


VisformerArgs = model_args_type(Visformer)

_COMMON = dict(
    depth=(7, 4, 4),
    mlp_ratio=4.0,
    group=8,
    attn_stage="011",
    spatial_conv="100",
    norm_layer=nn.BatchNorm2d,
    conv_init=True,
    embed_norm=nn.BatchNorm2d,
)
VARIANTS: dict[str, Any] = {
    "visformer_tiny": VisformerArgs(init_channels=16, embed_dim=192, num_heads=3, **_COMMON),
    "visformer_small": VisformerArgs(init_channels=32, embed_dim=384, num_heads=6, **_COMMON),
}

WEIGHTS: dict[str, dict[str, Any]] = {
    "visformer_tiny.in1k": weight(),
    "visformer_small.in1k": weight(),
}

default_cfgs = register_family(
    __name__,
    model_cls=Visformer,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        num_classes=1000,
        input_size=(3, 224, 224),
        pool_size=(7, 7),
        crop_pct=0.9,
        interpolation="bicubic",
        fixed_input_size=True,
        mean=IMAGENET_DEFAULT_MEAN,
        std=IMAGENET_DEFAULT_STD,
        first_conv="stem.0",
        classifier="head",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2), feature_cls="getter"),
)


def __getattr__(name: str) -> Entrypoint:
    return family_entrypoint(__name__, name)
