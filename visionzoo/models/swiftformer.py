"""SwiftFormer: conv encoders, then in each stage's last block an efficient additive attention
(one global query summary scaled onto the keys: linear in the number of positions), with a
distillation head; for real-time mobile inference.

Paper: `SwiftFormer: Efficient Additive Attention for Transformer-based Real-time Mobile Vision
Applications` - https://arxiv.org/abs/2303.15446

Weights: the authors' distilled ImageNet-1k models (Apache-2.0). Module names follow timm's
``SwiftFormer``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import DropPath, to_2tuple, trunc_normal_
from ..layers.activations import LayerType
from ..layers.classifier import check_num_classes, check_pool
from ..layers.create_act import get_act_layer
from ..model import DistilledHeads, Trunk, VisionModel
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "Block",
    "ConvEncoder",
    "EfficientAdditiveAttention",
    "Embedding",
    "LayerScale2d",
    "LocalRepresentation",
    "Mlp",
    "Stage",
    "SwiftFormer",
    "checkpoint_filter_fn",
    "default_cfgs",
]


class LayerScale2d(nn.Module):
    """Per-channel scale of a map, the scale stored ``(dim, 1, 1)`` (SwiftFormer's layout)."""

    def __init__(self, dim: int, init_values: float = 1e-5, inplace: bool = False) -> None:
        super().__init__()
        self.inplace = inplace
        self.gamma = nn.Parameter(init_values * torch.ones(dim, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul_(self.gamma) if self.inplace else x * self.gamma


class Embedding(nn.Module):
    """Strided conv + norm between stages."""

    def __init__(
        self,
        in_chans: int = 3,
        embed_dim: int = 768,
        patch_size: int = 16,
        stride: int = 16,
        padding: int = 0,
        norm_layer: type[nn.Module] | None = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        self.proj = nn.Conv2d(
            in_chans, embed_dim, to_2tuple(patch_size), to_2tuple(stride), to_2tuple(padding)
        )
        self.norm = norm_layer(embed_dim) if norm_layer else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.proj(x))


class ConvEncoder(nn.Module):
    """Residual depthwise conv + norm, then a 1x1 MLP, layer-scaled (ConvNeXt-like)."""

    def __init__(
        self,
        dim: int,
        hidden_dim: int = 64,
        kernel_size: int = 3,
        drop_path: float = 0.0,
        act_layer: type[nn.Module] = nn.GELU,
        norm_layer: type[nn.Module] = nn.BatchNorm2d,
        use_layer_scale: bool = True,
    ) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = norm_layer(dim)
        self.pwconv1 = nn.Conv2d(dim, hidden_dim, 1)
        self.act = act_layer()
        self.pwconv2 = nn.Conv2d(hidden_dim, dim, 1)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.layer_scale = LayerScale2d(dim, 1) if use_layer_scale else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pwconv2(self.act(self.pwconv1(self.norm(self.dwconv(x)))))
        return x + self.drop_path(self.layer_scale(y))


class Mlp(nn.Module):
    """Norm, then a 1x1-conv MLP."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int | None = None,
        out_features: int | None = None,
        act_layer: type[nn.Module] = nn.GELU,
        norm_layer: type[nn.Module] = nn.BatchNorm2d,
        drop: float = 0.0,
    ) -> None:
        super().__init__()
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        self.norm1 = norm_layer(in_features)
        self.fc1 = nn.Conv2d(in_features, hidden_features, 1)
        self.act = act_layer()
        self.fc2 = nn.Conv2d(hidden_features, out_features, 1)
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.act(self.fc1(self.norm1(x))))
        return self.drop(self.fc2(x))


class EfficientAdditiveAttention(nn.Module):
    """Additive attention: each position's normalised query scores against a learned vector
    ``w_g``; the scores (normalised over positions) pool the queries into one global query,
    which scales every normalised key; then a projection, plus the queries."""

    def __init__(self, in_dims: int = 512, token_dim: int = 256, num_heads: int = 1) -> None:
        super().__init__()
        self.scale_factor = token_dim**-0.5
        self.to_query = nn.Linear(in_dims, token_dim * num_heads)
        self.to_key = nn.Linear(in_dims, token_dim * num_heads)
        self.w_g = nn.Parameter(torch.randn(token_dim * num_heads, 1))
        self.proj = nn.Linear(token_dim * num_heads, token_dim * num_heads)
        self.final = nn.Linear(token_dim * num_heads, token_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        x = x.flatten(2).permute(0, 2, 1)
        query = F.normalize(self.to_query(x), dim=-1)
        key = F.normalize(self.to_key(x), dim=-1)
        scores = F.normalize(query @ self.w_g * self.scale_factor, dim=1)  # (B, N, 1) over positions
        global_query = torch.sum(scores * query, dim=1, keepdim=True)
        out = self.proj(global_query * key) + query
        return self.final(out).permute(0, 2, 1).reshape(b, -1, h, w)


class LocalRepresentation(nn.Module):
    """Residual depthwise conv + norm and two 1x1 convs, layer-scaled."""

    def __init__(
        self,
        dim: int,
        kernel_size: int = 3,
        drop_path: float = 0.0,
        use_layer_scale: bool = True,
        act_layer: type[nn.Module] = nn.GELU,
        norm_layer: type[nn.Module] = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = norm_layer(dim)
        self.pwconv1 = nn.Conv2d(dim, dim, kernel_size=1)
        self.act = act_layer()
        self.pwconv2 = nn.Conv2d(dim, dim, kernel_size=1)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.layer_scale = LayerScale2d(dim, 1) if use_layer_scale else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.pwconv2(self.act(self.pwconv1(self.norm(self.dwconv(x)))))
        return x + self.drop_path(self.layer_scale(y))


class Block(nn.Module):
    """Local representation, then additive attention and an MLP, each a layer-scaled residual."""

    def __init__(
        self,
        dim: int,
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.0,
        drop_path: float = 0.0,
        act_layer: type[nn.Module] = nn.GELU,
        norm_layer: type[nn.Module] = nn.BatchNorm2d,
        use_layer_scale: bool = True,
        layer_scale_init_value: float = 1e-5,
    ) -> None:
        super().__init__()
        self.local_representation = LocalRepresentation(
            dim, use_layer_scale=use_layer_scale, act_layer=act_layer, norm_layer=norm_layer
        )
        self.attn = EfficientAdditiveAttention(in_dims=dim, token_dim=dim)
        self.linear = Mlp(
            dim, int(dim * mlp_ratio), act_layer=act_layer, norm_layer=norm_layer, drop=drop_rate
        )
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.layer_scale_1 = LayerScale2d(dim, layer_scale_init_value) if use_layer_scale else nn.Identity()
        self.layer_scale_2 = LayerScale2d(dim, layer_scale_init_value) if use_layer_scale else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.local_representation(x)
        x = x + self.drop_path(self.layer_scale_1(self.attn(x)))
        return x + self.drop_path(self.layer_scale_2(self.linear(x)))


class Stage(nn.Module):
    """Optional downsampling, conv encoders, and a :class:`Block` last. Drop path rises linearly
    over all blocks of the network (``index``: this stage among ``layers``)."""

    def __init__(
        self,
        dim: int,
        index: int,
        layers: Sequence[int],
        mlp_ratio: float = 4.0,
        act_layer: type[nn.Module] = nn.GELU,
        norm_layer: type[nn.Module] = nn.BatchNorm2d,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        use_layer_scale: bool = True,
        layer_scale_init_value: float = 1e-5,
        downsample: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.downsample = downsample if downsample is not None else nn.Identity()
        blocks: list[nn.Module] = []
        depth, before = layers[index], sum(layers[:index])
        for i in range(depth):
            rate = drop_path_rate * (i + before) / (sum(layers) - 1)
            if i == depth - 1:
                blocks.append(
                    Block(
                        dim,
                        mlp_ratio=mlp_ratio,
                        drop_rate=drop_rate,
                        drop_path=rate,
                        act_layer=act_layer,
                        norm_layer=norm_layer,
                        use_layer_scale=use_layer_scale,
                        layer_scale_init_value=layer_scale_init_value,
                    )
                )
            else:
                blocks.append(
                    ConvEncoder(
                        dim,
                        hidden_dim=int(mlp_ratio * dim),
                        kernel_size=3,
                        drop_path=rate,
                        act_layer=act_layer,
                        norm_layer=norm_layer,
                        use_layer_scale=use_layer_scale,
                    )
                )
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class SwiftFormer(DistilledHeads, VisionModel):
    """Conv stem (stride 4), four stages (:class:`Stage`), a final BatchNorm, mean-pooled into a
    class head and a distillation head whose logits are averaged; with
    ``set_distilled_training()`` a training forward returns both. ``img_size`` is accepted and
    unused (as timm's)."""

    trunk = Trunk(stem=("stem",), stages=("stages.*",), post=("norm",), prune_post=("norm",), norm_last=True)
    classifier_name = "head"
    head_names = ("head_drop", "head", "head_dist")

    def __init__(
        self,
        layers: Sequence[int] = (3, 3, 6, 4),
        embed_dims: Sequence[int] = (48, 56, 112, 220),
        mlp_ratios: int = 4,
        downsamples: Sequence[bool] = (False, True, True, True),
        act_layer: LayerType = nn.GELU,
        down_patch_size: int = 3,
        down_stride: int = 2,
        down_pad: int = 1,
        num_classes: int = 1000,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        use_layer_scale: bool = True,
        layer_scale_init_value: float = 1e-5,
        global_pool: str = "avg",
        output_stride: int = 32,
        in_chans: int = 3,
        img_size: int | tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        if output_stride != 32:
            raise ValueError(f"SwiftFormer has output_stride 32 only, got {output_stride}")
        check_pool(global_pool, ("", "avg"), model="SwiftFormer")
        check_num_classes(num_classes)
        act = cast("type[nn.Module]", get_act_layer(act_layer))
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.global_pool = global_pool  # type: ignore[assignment]  # a pool type, not a module
        self.drop_rate = drop_rate
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, embed_dims[0] // 2, 3, 2, 1),
            nn.BatchNorm2d(embed_dims[0] // 2),
            nn.ReLU(),
            nn.Conv2d(embed_dims[0] // 2, embed_dims[0], 3, 2, 1),
            nn.BatchNorm2d(embed_dims[0]),
            nn.ReLU(),
        )
        prev = embed_dims[0]
        stages = []
        self.feature_info = []
        for i in range(len(layers)):
            down = (
                Embedding(
                    prev, embed_dims[i], patch_size=down_patch_size, stride=down_stride, padding=down_pad
                )
                if downsamples[i]
                else None
            )
            stages.append(
                Stage(
                    embed_dims[i],
                    i,
                    layers,
                    mlp_ratio=mlp_ratios,
                    act_layer=act,
                    drop_rate=proj_drop_rate,
                    drop_path_rate=drop_path_rate,
                    use_layer_scale=use_layer_scale,
                    layer_scale_init_value=layer_scale_init_value,
                    downsample=down,
                )
            )
            prev = embed_dims[i]
            self.feature_info.append(
                dict(num_chs=embed_dims[i], reduction=2 ** (i + 2), module=f"stages.{i}")
            )
        self.stages = nn.Sequential(*stages)
        self.num_features = self.head_hidden_size = embed_dims[-1]
        self.norm = nn.BatchNorm2d(embed_dims[-1])
        self.head_drop = nn.Dropout(drop_rate)
        self.head = self._new_linear(num_classes)
        self.head_dist: nn.Module | None = self._new_linear(num_classes)
        self.distilled_training = False
        self._initialize()

    def _new_linear(self, num_classes: int) -> nn.Module:
        return nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def init_weights(self) -> None:
        """Truncated-normal (0.02) linear and conv weights, zero biases."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                trunc_normal_(m.weight, std=0.02)
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
                (r"^norm", (99999,)),
            ],
        )

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Fresh heads of ``num_classes`` outputs (0 removes them); ``global_pool`` ``'avg'`` or ``''``."""
        check_num_classes(num_classes)
        if global_pool is not None:
            check_pool(global_pool, ("", "avg"), model="SwiftFormer")
            self.global_pool = global_pool  # type: ignore[assignment]
        self._replace_heads(num_classes, self._new_linear)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.global_pool == "avg":
            x = x.mean(dim=(2, 3))
        x = self.head_drop(x)
        if pre_logits:
            return x
        head_dist = self.head_dist
        if head_dist is None:
            return self.head(x)
        return self._distilled_logits(self.head(x), head_dist(x))


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """The authors' checkpoints (under ``model`` or not): ``patch_embed`` for the stem, one
    ``network`` list (even entries a stage's blocks, odd ones the next stage's downsampling),
    layer scales as bare parameters, ``attn.Proj`` and ``dist_head``."""
    state_dict = state_dict.get("model", state_dict)
    if "stem.0.weight" in state_dict:
        return state_dict
    out = {}
    for key, value in state_dict.items():
        key = key.replace("patch_embed.", "stem.").replace("dist_head.", "head_dist.")
        key = key.replace("attn.Proj.", "attn.proj.")
        key = key.replace(".layer_scale_1", ".layer_scale_1.gamma").replace(
            ".layer_scale_2", ".layer_scale_2.gamma"
        )
        key = re.sub(r"\.layer_scale(?=$|\.)", ".layer_scale.gamma", key)
        m = re.match(r"^network\.(\d+)\.(.*)", key)
        if m:
            n, rest = int(m.group(1)), m.group(2)
            key = f"stages.{n // 2}.blocks.{rest}" if n % 2 == 0 else f"stages.{n // 2 + 1}.downsample.{rest}"
        out[key] = value
    return out


SwiftFormerArgs = model_args_type(SwiftFormer)

VARIANTS = {
    "swiftformer_xs": SwiftFormerArgs(layers=(3, 3, 6, 4), embed_dims=(48, 56, 112, 220)),
    "swiftformer_s": SwiftFormerArgs(layers=(3, 3, 9, 6), embed_dims=(48, 64, 168, 224)),
    "swiftformer_l1": SwiftFormerArgs(layers=(4, 3, 10, 5), embed_dims=(48, 96, 192, 384)),
    "swiftformer_l3": SwiftFormerArgs(layers=(4, 4, 12, 6), embed_dims=(64, 128, 320, 512)),
}

WEIGHTS = {f"swiftformer_{s}.dist_in1k": weight(default=True) for s in ("xs", "s", "l1", "l3")}

default_cfgs = register_family(
    __name__,
    model_cls=SwiftFormer,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=None,
        fixed_input_size=True,
        crop_pct=0.95,
        interpolation="bicubic",
        first_conv="stem.0",
        classifier=("head", "head_dist"),
        license="apache-2.0",
        paper_ids="arXiv:2303.15446",
        paper_name="SwiftFormer: Efficient Additive Attention for Transformer-based Real-time Mobile Vision "
        "Applications",
        origin_url="https://github.com/Amshaker/SwiftFormer",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. swiftformer_xs
    return family_entrypoint(__name__, name)
