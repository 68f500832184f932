"""EfficientFormer: a PoolFormer-style convnet (pooling token mixers, conv MLPs) whose last stage
ends in transformer blocks over flattened tokens, with a distillation head; designed for the
latency of MobileNets.

Paper: `EfficientFormer: Vision Transformers at MobileNet Speed` - https://arxiv.org/abs/2206.01191

Weights: Snap Research's distilled ImageNet-1k models (Apache-2.0). Module names follow timm's
``EfficientFormer``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, cast

import torch
from torch import nn

from ..layers import DropPath, LayerScale, LayerScale2d, Mlp, to_2tuple, trunc_normal_
from ..layers.activations import LayerType
from ..layers.attention_bias import BiasedAttention
from ..layers.classifier import check_num_classes, check_pool
from ..layers.create_act import get_act_layer
from ..layers.drop import calculate_drop_path_rates
from ..layers.norm import get_norm_layer
from ..model import DistilledHeads, Trunk, VisionModel
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "Attention",
    "ConvMlpWithNorm",
    "Downsample",
    "EfficientFormer",
    "EfficientFormerStage",
    "Flat",
    "MetaBlock1d",
    "MetaBlock2d",
    "Pooling",
    "Stem4",
    "checkpoint_filter_fn",
    "default_cfgs",
]


class Attention(BiasedAttention):
    """Multi-head self-attention over ``(B, N, C)`` tokens of a ``resolution`` grid, with LeViT's
    offset biases (the index is saved with the weights, as timm's); values ``attn_ratio`` times
    wider than the keys."""

    def __init__(
        self,
        dim: int = 384,
        key_dim: int = 32,
        num_heads: int = 8,
        attn_ratio: float = 4,
        resolution: int = 7,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = key_dim**-0.5
        self.key_dim = key_dim
        self.key_attn_dim = key_dim * num_heads
        self.val_dim = int(attn_ratio * key_dim)
        self.val_attn_dim = self.val_dim * num_heads
        self.attn_ratio = attn_ratio
        self.qkv = nn.Linear(dim, self.key_attn_dim * 2 + self.val_attn_dim)
        self.proj = nn.Linear(self.val_attn_dim, dim)
        self._init_bias(
            num_heads, to_2tuple(resolution), 1, {"device": None, "dtype": None}, persistent_index=True
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, _ = x.shape
        qkv = self.qkv(x).reshape(b, n, self.num_heads, -1).permute(0, 2, 1, 3)
        q, k, v = qkv.split([self.key_dim, self.key_dim, self.val_dim], dim=3)
        attn = (q @ k.transpose(-2, -1)) * self.scale + self.get_attention_biases(x.device)
        x = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, self.val_attn_dim)
        return self.proj(x)


class Stem4(nn.Sequential):
    """Two stride-2 3x3 conv + norm + ReLU: ``out_chs / 2``, then ``out_chs``."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        act_layer: type[nn.Module] = nn.ReLU,
        norm_layer: type[nn.Module] = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        self.stride = 4
        self.add_module("conv1", nn.Conv2d(in_chs, out_chs // 2, kernel_size=3, stride=2, padding=1))
        self.add_module("norm1", norm_layer(out_chs // 2))
        self.add_module("act1", act_layer())
        self.add_module("conv2", nn.Conv2d(out_chs // 2, out_chs, kernel_size=3, stride=2, padding=1))
        self.add_module("norm2", norm_layer(out_chs))
        self.add_module("act2", act_layer())


class Downsample(nn.Module):
    """Strided conv + norm between stages."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 2,
        padding: int | None = None,
        norm_layer: type[nn.Module] = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        padding = kernel_size // 2 if padding is None else padding
        self.conv = nn.Conv2d(in_chs, out_chs, kernel_size=kernel_size, stride=stride, padding=padding)
        self.norm = norm_layer(out_chs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x))


class Flat(nn.Module):
    """``(B, C, H, W)`` -> ``(B, H * W, C)``: where the last stage turns to tokens."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).transpose(1, 2)


class Pooling(nn.Module):
    """PoolFormer's token mixer: a stride-1 average pool minus the input (the residual adds it)."""

    def __init__(self, pool_size: int = 3) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(pool_size, stride=1, padding=pool_size // 2, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x) - x


class ConvMlpWithNorm(nn.Module):
    """1x1 conv MLP with a norm after each conv."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int | None = None,
        out_features: int | None = None,
        act_layer: type[nn.Module] = nn.GELU,
        norm_layer: type[nn.Module] | None = nn.BatchNorm2d,
        drop: float = 0.0,
    ) -> None:
        super().__init__()
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        self.fc1 = nn.Conv2d(in_features, hidden_features, 1)
        self.norm1 = norm_layer(hidden_features) if norm_layer is not None else nn.Identity()
        self.act = act_layer()
        self.fc2 = nn.Conv2d(hidden_features, out_features, 1)
        self.norm2 = norm_layer(out_features) if norm_layer is not None else nn.Identity()
        self.drop = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.drop(self.act(self.norm1(self.fc1(x))))
        return self.drop(self.norm2(self.fc2(x)))


class MetaBlock1d(nn.Module):
    """Pre-norm transformer block on tokens: :class:`Attention` and an MLP, layer-scaled."""

    def __init__(
        self,
        dim: int,
        mlp_ratio: float = 4.0,
        act_layer: type[nn.Module] = nn.GELU,
        norm_layer: type[nn.Module] = nn.LayerNorm,
        proj_drop: float = 0.0,
        drop_path: float = 0.0,
        layer_scale_init_value: float = 1e-5,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.token_mixer = Attention(dim)
        self.ls1 = LayerScale(dim, layer_scale_init_value)
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=act_layer, drop=proj_drop)
        self.ls2 = LayerScale(dim, layer_scale_init_value)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path1(self.ls1(self.token_mixer(self.norm1(x))))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))


class MetaBlock2d(nn.Module):
    """PoolFormer block on maps: :class:`Pooling` and a conv MLP, layer-scaled."""

    def __init__(
        self,
        dim: int,
        pool_size: int = 3,
        mlp_ratio: float = 4.0,
        act_layer: type[nn.Module] = nn.GELU,
        norm_layer: type[nn.Module] = nn.BatchNorm2d,
        proj_drop: float = 0.0,
        drop_path: float = 0.0,
        layer_scale_init_value: float = 1e-5,
    ) -> None:
        super().__init__()
        self.token_mixer = Pooling(pool_size=pool_size)
        self.ls1 = LayerScale2d(dim, layer_scale_init_value)
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.mlp = ConvMlpWithNorm(
            dim, int(dim * mlp_ratio), act_layer=act_layer, norm_layer=norm_layer, drop=proj_drop
        )
        self.ls2 = LayerScale2d(dim, layer_scale_init_value)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path1(self.ls1(self.token_mixer(x)))
        return x + self.drop_path2(self.ls2(self.mlp(x)))


class EfficientFormerStage(nn.Module):
    """Optional downsampling, then ``depth`` blocks: the last ``num_vit`` are transformer blocks on
    tokens, preceded by :class:`Flat`."""

    def __init__(
        self,
        dim: int,
        dim_out: int,
        depth: int,
        downsample: bool = True,
        num_vit: int = 1,
        pool_size: int = 3,
        mlp_ratio: float = 4.0,
        act_layer: type[nn.Module] = nn.GELU,
        norm_layer: type[nn.Module] = nn.BatchNorm2d,
        norm_layer_cl: type[nn.Module] = nn.LayerNorm,
        proj_drop: float = 0.0,
        drop_path: Sequence[float] = (),
        layer_scale_init_value: float = 1e-5,
    ) -> None:
        super().__init__()
        rates = list(drop_path) or [0.0] * depth
        self.downsample: nn.Module
        if downsample:
            self.downsample = Downsample(dim, dim_out, norm_layer=norm_layer)
            dim = dim_out
        else:
            if dim != dim_out:
                raise ValueError(f"a stage without downsampling keeps its width: {dim} -> {dim_out}")
            self.downsample = nn.Identity()
        first_vit = depth - num_vit if num_vit else depth  # index of the first transformer block
        blocks: list[nn.Module] = []
        for i in range(depth):
            if i == max(first_vit, 0) and num_vit:
                blocks.append(Flat())
            if i >= first_vit:
                blocks.append(
                    MetaBlock1d(
                        dim,
                        mlp_ratio=mlp_ratio,
                        act_layer=act_layer,
                        norm_layer=norm_layer_cl,
                        proj_drop=proj_drop,
                        drop_path=rates[i],
                        layer_scale_init_value=layer_scale_init_value,
                    )
                )
            else:
                blocks.append(
                    MetaBlock2d(
                        dim,
                        pool_size=pool_size,
                        mlp_ratio=mlp_ratio,
                        act_layer=act_layer,
                        norm_layer=norm_layer,
                        proj_drop=proj_drop,
                        drop_path=rates[i],
                        layer_scale_init_value=layer_scale_init_value,
                    )
                )
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class EfficientFormer(DistilledHeads, VisionModel):
    """Stem (stride 4), four stages of PoolFormer blocks (the last ending in ``num_vit``
    transformer blocks on tokens), a final LayerNorm, mean-pooled into two classifiers (class and
    distillation) whose logits are averaged; with ``set_distilled_training()`` a training forward
    returns both.

    ``forward_features`` gives ``(B, N, C)`` tokens; ``forward_intermediates`` gives every level as a
    map. The attention biases are for a 7 x 7 grid: the model takes 224 px inputs (``img_size`` is
    accepted and unused, as timm's).
    """

    trunk = Trunk(stem=("stem",), stages=("stages.*",), post=("norm",), prune_post=("norm",), norm_last=True)
    classifier_name = "head"
    head_names = ("head_drop", "head", "head_dist")
    # NOTE: output_fmt is set per instance (tokens, or a map once the last stage is pruned);
    # TorchScript must not type it
    __jit_ignored_attributes__ = [*VisionModel.__jit_ignored_attributes__, "output_fmt"]

    def __init__(
        self,
        depths: Sequence[int] = (3, 2, 6, 4),
        embed_dims: Sequence[int] = (48, 96, 224, 448),
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        downsamples: Sequence[bool] | None = None,
        num_vit: int = 0,
        mlp_ratios: float = 4,
        pool_size: int = 3,
        layer_scale_init_value: float = 1e-5,
        act_layer: LayerType = nn.GELU,
        norm_layer: LayerType = nn.BatchNorm2d,
        norm_layer_cl: LayerType = nn.LayerNorm,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        img_size: int | tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        check_pool(global_pool, ("", "avg"), model="EfficientFormer")
        check_num_classes(num_classes)
        act = cast("type[nn.Module]", get_act_layer(act_layer))
        norm = cast("type[nn.Module]", get_norm_layer(norm_layer))
        norm_cl = cast("type[nn.Module]", get_norm_layer(norm_layer_cl))
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.global_pool = global_pool  # type: ignore[assignment]  # a pool type, not a module
        self.drop_rate = drop_rate
        self.stem = Stem4(in_chans, embed_dims[0], norm_layer=norm)
        self.output_fmt = "NLC"  # type: ignore[misc]  # the last stage ends on tokens
        self.num_stages = len(depths)
        dpr = cast(
            "list[list[float]]", calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        )
        downsamples = tuple(downsamples or (False,) + (True,) * (self.num_stages - 1))
        stages, prev = [], embed_dims[0]
        self.feature_info = []
        for i in range(self.num_stages):
            stages.append(
                EfficientFormerStage(
                    prev,
                    embed_dims[i],
                    depths[i],
                    downsample=downsamples[i],
                    num_vit=num_vit if i == self.num_stages - 1 else 0,
                    pool_size=pool_size,
                    mlp_ratio=mlp_ratios,
                    act_layer=act,
                    norm_layer=norm,
                    norm_layer_cl=norm_cl,
                    proj_drop=proj_drop_rate,
                    drop_path=dpr[i],
                    layer_scale_init_value=layer_scale_init_value,
                )
            )
            prev = embed_dims[i]
            self.feature_info.append(
                dict(num_chs=embed_dims[i], reduction=2 ** (i + 2), module=f"stages.{i}")
            )
        self.stages = nn.Sequential(*stages)
        self.downsamples = downsamples
        self.num_features = self.head_hidden_size = embed_dims[-1]
        self.norm = norm_cl(self.num_features)
        self.head_drop = nn.Dropout(drop_rate)
        self.head = self._new_linear(num_classes)
        self.head_dist: nn.Module | None = self._new_linear(num_classes)
        self.distilled_training = False
        self._initialize()

    def _new_linear(self, num_classes: int) -> nn.Module:
        return nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def init_weights(self) -> None:
        """Truncated-normal (0.02) linear layers with zero biases; others PyTorch's defaults."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def no_weight_decay(self) -> set[str]:
        return {k for k, _ in self.named_parameters() if "attention_biases" in k}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^stem", blocks=[(r"^stages\.(\d+)", None), (r"^norm", (99999,))])

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Fresh class and distillation heads of ``num_classes`` outputs (0 removes them);
        ``global_pool`` ``'avg'`` or ``''``. Once the last stage is pruned the output is a map:
        no pooling nor classifier then."""
        check_num_classes(num_classes)
        if global_pool is not None:
            check_pool(global_pool, ("", "avg"), model="EfficientFormer")
        pool = self.global_pool if global_pool is None else global_pool
        if len(self.stages) != self.num_stages and (num_classes or pool):
            raise ValueError("the last stage is pruned: its map takes no pooling nor classifier")
        self.global_pool = pool  # type: ignore[assignment]
        self._replace_heads(num_classes, self._new_linear)

    def _intermediates(
        self, x: torch.Tensor, take: list[int], *, stop_early: bool, norm: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The trunk's walk; the last stage's tokens become a map."""
        h, w = x.shape[-2:]
        x, found = super()._intermediates(x, take, stop_early=stop_early, norm=norm)
        last = self.num_stages - 1
        if take and max(take) == last and len(self.stages) == self.num_stages:
            for _ in range(2 + sum(self.downsamples)):  # the stem's and the downsamplings' stride-2 convs
                h, w = (h - 1) // 2 + 1, (w - 1) // 2 + 1
            y = found[-1]
            found[-1] = y.reshape(y.shape[0], h, w, -1).permute(0, 3, 1, 2)
        return x, found

    def _prune_trunk(self, max_index: int) -> None:
        """A cut before the last stage leaves its maps: the output is NCHW."""
        super()._prune_trunk(max_index)
        if max_index < self.num_stages - 1:
            self.output_fmt = "NCHW"  # type: ignore[misc]

    def _prune_head(self) -> None:
        """No pooling is left either: the kept stages' output is a map."""
        self.reset_classifier(0, "")

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        if self.global_pool == "avg":
            x = x.mean(dim=1)
        x = self.head_drop(x)
        if pre_logits:
            return x
        head_dist = self.head_dist
        if head_dist is None:
            return self.head(x)
        return self._distilled_logits(self.head(x), head_dist(x))


_PATCH_EMBED = (
    ("patch_embed.0", "stem.conv1"),
    ("patch_embed.1", "stem.norm1"),
    ("patch_embed.3", "stem.conv2"),
    ("patch_embed.4", "stem.norm2"),
)


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """The original checkpoints: the stem as ``patch_embed.N``, the trunk as one ``network`` list
    whose downsamplings (``network.N.proj`` / ``.norm``) open the next stage, ``layer_scale_N``
    parameters and ``dist_head``. Already-converted checkpoints pass through."""
    if "stem.conv1.weight" in state_dict:
        return state_dict
    out = {}
    stage = 0
    for key, value in state_dict.items():
        for old, new in _PATCH_EMBED:
            if key.startswith(old + "."):
                key = new + key[len(old) :]
        if re.match(r"network\.\d+\.proj\.weight", key):
            stage += 1  # a downsampling: what follows is the next stage
        key = re.sub(r"network\.\d+\.(\d+)", rf"stages.{stage}.blocks.\1", key)
        key = re.sub(r"network\.\d+\.proj", f"stages.{stage}.downsample.conv", key)
        key = re.sub(r"network\.\d+\.norm", f"stages.{stage}.downsample.norm", key)
        key = re.sub(r"layer_scale_(\d)", r"ls\1.gamma", key)
        out[key.replace("dist_head", "head_dist")] = value
    return out


EfficientFormerArgs = model_args_type(EfficientFormer)

VARIANTS = {
    "efficientformer_l1": EfficientFormerArgs(depths=(3, 2, 6, 4), embed_dims=(48, 96, 224, 448), num_vit=1),
    "efficientformer_l3": EfficientFormerArgs(
        depths=(4, 4, 12, 6), embed_dims=(64, 128, 320, 512), num_vit=4
    ),
    "efficientformer_l7": EfficientFormerArgs(
        depths=(6, 6, 18, 8), embed_dims=(96, 192, 384, 768), num_vit=8
    ),
}

WEIGHTS = {f"efficientformer_{s}.snap_dist_in1k": weight(default=True) for s in ("l1", "l3", "l7")}

default_cfgs = register_family(
    __name__,
    model_cls=EfficientFormer,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=None,
        fixed_input_size=True,
        crop_pct=0.95,
        interpolation="bicubic",
        first_conv="stem.conv1",
        classifier=("head", "head_dist"),
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=4, feature_cls="getter"),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. efficientformer_l1
    return family_entrypoint(__name__, name)
