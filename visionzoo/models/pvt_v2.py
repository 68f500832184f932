"""PVT v2: a four-stage pyramid of transformer blocks with spatial-reduction attention, overlapping
(strided conv) patch embeddings and a depthwise conv inside each MLP.

Paper: `PVT v2: Improved Baselines with Pyramid Vision Transformer` - https://arxiv.org/abs/2106.13797

Weights: the authors' ImageNet-1k trainings (https://github.com/whai362/PVT), apache-2.0. Module
names follow timm's ``pvt_v2``; the original release layout (``patch_embed1..4``, ``block1..4``,
``norm1..4``, ``dwconv.dwconv``) through :func:`checkpoint_filter_fn`.

Tokens stay ``(B, H * W, C)`` inside a stage (the blocks need the grid for the reduction and the
MLP's conv); every stage ends with its own norm and hands a ``(B, C, H, W)`` map to the next stage's
patch embedding, so each stage's output is a feature level.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..layers import DropPath, LayerNorm, calculate_drop_path_rates, to_ntuple, trunc_normal_
from ..layers.spatial_reduction_attn import SpatialReductionAttention
from ..model import Trunk, VisionModel
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "VARIANTS",
    "WEIGHTS",
    "Block",
    "MlpWithDepthwiseConv",
    "OverlapPatchEmbed",
    "PyramidVisionTransformerStage",
    "PyramidVisionTransformerV2",
    "checkpoint_filter_fn",
    "default_cfgs",
]

LayerFn = Callable[..., nn.Module]


class MlpWithDepthwiseConv(nn.Module):
    """``fc1 -> [relu] -> 3x3 depthwise conv on the grid -> act -> fc2``: the conv gives the tokens
    the position information a position embedding would (the ReLU only in the linear variant)."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int | None = None,
        out_features: int | None = None,
        *,
        act_layer: LayerFn = nn.GELU,
        drop: float = 0.0,
        extra_relu: bool = False,
    ) -> None:
        super().__init__()
        hidden = hidden_features or in_features
        self.fc1 = nn.Linear(in_features, hidden)
        self.relu = nn.ReLU() if extra_relu else nn.Identity()
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.act = act_layer()
        self.fc2 = nn.Linear(hidden, out_features or in_features)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor, feat_size: tuple[int, int]) -> torch.Tensor:
        x = self.fc1(x)
        b, _, c = x.shape
        x = self.relu(x.transpose(1, 2).reshape(b, c, feat_size[0], feat_size[1]))
        x = self.act(self.dwconv(x).flatten(2).transpose(1, 2))
        return self.drop(self.fc2(self.drop(x)))


class Block(nn.Module):
    """Pre-norm residual block: spatial-reduction attention, then the depthwise-conv MLP."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        *,
        mlp_ratio: float = 4.0,
        sr_ratio: int = 1,
        linear_attn: bool = False,
        qkv_bias: bool = False,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        act_layer: LayerFn = nn.GELU,
        norm_layer: LayerFn = LayerNorm,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = SpatialReductionAttention(
            dim,
            num_heads,
            sr_ratio=sr_ratio,
            linear=linear_attn,
            qkv_bias=qkv_bias,
            attn_drop=attn_drop,
            proj_drop=proj_drop,
        )
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = MlpWithDepthwiseConv(
            dim, int(dim * mlp_ratio), act_layer=act_layer, drop=proj_drop, extra_relu=linear_attn
        )
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor, feat_size: tuple[int, int]) -> torch.Tensor:
        x = x + self.drop_path1(self.attn(self.norm1(x), feat_size))
        return x + self.drop_path2(self.mlp(self.norm2(x), feat_size))


class OverlapPatchEmbed(nn.Module):
    """A strided conv whose kernel overlaps its neighbours (``patch_size > stride``), then a
    LayerNorm: ``(B, C, H, W)`` -> channels-last ``(B, H / stride, W / stride, embed_dim)``."""

    def __init__(
        self, *, patch_size: int = 7, stride: int = 4, in_chans: int = 3, embed_dim: int = 768
    ) -> None:
        super().__init__()
        if patch_size <= stride:
            raise ValueError(f"patch_size={patch_size} must exceed stride={stride} (overlapping patches)")
        self.patch_size = (patch_size, patch_size)
        self.proj = nn.Conv2d(in_chans, embed_dim, patch_size, stride=stride, padding=patch_size // 2)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x).permute(0, 2, 3, 1))


class PyramidVisionTransformerStage(nn.Module):
    """[Overlapping patch embedding] -> blocks on the tokens -> norm, out as ``(B, C, H, W)``.

    Takes the previous stage's ``(B, C, H, W)`` map, or (the first stage, without a downsample)
    the stem's channels-last ``(B, H, W, C)`` map.
    """

    def __init__(
        self,
        dim: int,
        dim_out: int,
        depth: int,
        *,
        downsample: bool = True,
        num_heads: int = 8,
        sr_ratio: int = 1,
        linear_attn: bool = False,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: list[float] | float = 0.0,
        norm_layer: LayerFn = LayerNorm,
    ) -> None:
        super().__init__()
        if not downsample and dim != dim_out:
            raise ValueError(f"a stage without downsample keeps its width: dim={dim} != dim_out={dim_out}")
        self.grad_checkpointing = False
        self.downsample: nn.Module | None = (
            OverlapPatchEmbed(patch_size=3, stride=2, in_chans=dim, embed_dim=dim_out) if downsample else None
        )
        rates = drop_path if isinstance(drop_path, list) else [drop_path] * depth
        self.blocks = nn.ModuleList(
            [
                Block(
                    dim_out,
                    num_heads,
                    mlp_ratio=mlp_ratio,
                    sr_ratio=sr_ratio,
                    linear_attn=linear_attn,
                    qkv_bias=qkv_bias,
                    proj_drop=proj_drop,
                    attn_drop=attn_drop,
                    drop_path=rates[i],
                    norm_layer=norm_layer,
                )
                for i in range(depth)
            ]
        )
        self.norm = norm_layer(dim_out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.downsample is not None:
            x = self.downsample(x)  # (B, C, H, W) -> (B, H, W, C)
        b, h, w, c = x.shape
        feat_size = (h, w)
        x = x.reshape(b, h * w, c)
        for blk in self.blocks:
            if self.grad_checkpointing and not torch.jit.is_scripting() and torch.is_grad_enabled():
                x = checkpoint(blk, x, feat_size, use_reentrant=False)
            else:
                x = blk(x, feat_size)
        x = self.norm(x)
        return x.reshape(b, h, w, -1).permute(0, 3, 1, 2).contiguous()


class PyramidVisionTransformerV2(VisionModel):
    """Overlapping patch embedding (stride 4), then four stages at strides 4, 8, 16, 32, each its
    own feature level; a mean-pooled linear head.

    Args:
        depths: blocks per stage.
        embed_dims: stage widths.
        num_heads, sr_ratios, mlp_ratios: per stage (one value: every stage).
        linear: PVT v2-Li: attention over a pooled 7x7 grid, and a ReLU in the MLPs.
    """

    # NOTE: the stages checkpoint their own blocks (which take the grid size besides the tokens)
    trunk = Trunk(stem=("patch_embed",), stages=("stages.*",), checkpoint="none")
    classifier_name = "head"

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        head: nn.Module

    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        depths: tuple[int, ...] = (3, 4, 6, 3),
        embed_dims: tuple[int, ...] = (64, 128, 256, 512),
        num_heads: int | tuple[int, ...] = (1, 2, 4, 8),
        sr_ratios: int | tuple[int, ...] = (8, 4, 2, 1),
        mlp_ratios: float | tuple[float, ...] = (8.0, 8.0, 4.0, 4.0),
        qkv_bias: bool = True,
        linear: bool = False,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_layer: LayerFn = LayerNorm,
    ) -> None:
        super().__init__()
        stages_n = len(depths)
        if len(embed_dims) != stages_n:
            raise ValueError(f"embed_dims={embed_dims} needs one width per stage ({stages_n})")
        heads, ratios, mlps = (to_ntuple(stages_n)(v) for v in (num_heads, sr_ratios, mlp_ratios))
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.depths = depths
        self.patch_embed = OverlapPatchEmbed(
            patch_size=7, stride=4, in_chans=in_chans, embed_dim=embed_dims[0]
        )
        dpr = cast(list[list[float]], calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True))
        stages, prev = [], embed_dims[0]
        self.feature_info = []
        for i in range(stages_n):
            stages.append(
                PyramidVisionTransformerStage(
                    prev,
                    embed_dims[i],
                    depths[i],
                    downsample=i > 0,
                    num_heads=heads[i],
                    sr_ratio=ratios[i],
                    mlp_ratio=mlps[i],
                    linear_attn=linear,
                    qkv_bias=qkv_bias,
                    proj_drop=proj_drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=dpr[i],
                    norm_layer=norm_layer,
                )
            )
            prev = embed_dims[i]
            self.feature_info.append(dict(num_chs=prev, reduction=4 * 2**i, module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self._init_head(prev, num_classes, global_pool)
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal linears; convs normal with std ``sqrt(2 / fan_out)``; zero biases."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
            elif isinstance(m, nn.Conv2d):
                fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
                nn.init.normal_(m.weight, 0.0, math.sqrt(2.0 / fan_out))
            else:
                continue
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^patch_embed", blocks=r"^stages\.(\d+)")

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pool, dropout, classify (a flat head named ``head``, as timm names it)."""
        x = self.global_pool(x)
        if self.drop_rate:
            x = F.dropout(x, p=float(self.drop_rate), training=self.training)
        return x if pre_logits else self.head(x)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Recompute each block in backward (the stages checkpoint their blocks)."""
        super().set_grad_checkpointing(enable)
        for stage in self.stages:
            cast(PyramidVisionTransformerStage, stage).grad_checkpointing = enable


def checkpoint_filter_fn(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """The authors' layout -> ours: ``patch_embed1`` is the stem, ``patch_embed2..4`` the stages'
    downsamples, ``blockN.i`` / ``normN`` stage ``N - 1``'s blocks / norm, and the MLP's conv sits
    one level up (``dwconv.dwconv`` -> ``dwconv``). A checkpoint in our layout passes unchanged."""
    if "patch_embed.proj.weight" in state_dict:
        return state_dict
    out = {}
    for key, value in state_dict.items():
        key = re.sub(r"^patch_embed1\.", "patch_embed.", key)
        key = re.sub(r"^patch_embed(\d)\.", lambda m: f"stages.{int(m.group(1)) - 1}.downsample.", key)
        key = key.replace("dwconv.dwconv", "dwconv")
        key = re.sub(
            r"^block(\d+)\.(\d+)\.", lambda m: f"stages.{int(m.group(1)) - 1}.blocks.{m.group(2)}.", key
        )
        key = re.sub(r"^norm(\d+)\.", lambda m: f"stages.{int(m.group(1)) - 1}.norm.", key)
        out[key] = value
    return out


PvtV2Args = model_args_type(PyramidVisionTransformerV2)

_WIDE = (64, 128, 320, 512)
_HEADS = (1, 2, 5, 8)
VARIANTS = {
    "pvt_v2_b0": PvtV2Args(depths=(2, 2, 2, 2), embed_dims=(32, 64, 160, 256), num_heads=_HEADS),
    "pvt_v2_b1": PvtV2Args(depths=(2, 2, 2, 2), embed_dims=_WIDE, num_heads=_HEADS),
    "pvt_v2_b2": PvtV2Args(depths=(3, 4, 6, 3), embed_dims=_WIDE, num_heads=_HEADS),
    "pvt_v2_b3": PvtV2Args(depths=(3, 4, 18, 3), embed_dims=_WIDE, num_heads=_HEADS),
    "pvt_v2_b4": PvtV2Args(depths=(3, 8, 27, 3), embed_dims=_WIDE, num_heads=_HEADS),
    "pvt_v2_b5": PvtV2Args(depths=(3, 6, 40, 3), embed_dims=_WIDE, num_heads=_HEADS, mlp_ratios=(4.0,) * 4),
    "pvt_v2_b2_li": PvtV2Args(depths=(3, 4, 6, 3), embed_dims=_WIDE, num_heads=_HEADS, linear=True),
}

WEIGHTS = {f"{name}.in1k": weight() for name in VARIANTS}

default_cfgs = register_family(
    __name__,
    model_cls=PyramidVisionTransformerV2,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        num_classes=1000,
        input_size=(3, 224, 224),
        pool_size=(7, 7),
        crop_pct=0.9,
        interpolation="bicubic",
        mean=IMAGENET_DEFAULT_MEAN,
        std=IMAGENET_DEFAULT_STD,
        first_conv="patch_embed.proj",
        classifier="head",
        fixed_input_size=False,
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:
    return family_entrypoint(__name__, name)
