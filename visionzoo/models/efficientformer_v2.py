"""EfficientFormerV2: a convnet of 4D blocks (depthwise-conv MLPs) whose last two stages add
attention on maps (with LeViT's offset biases and talking heads; strided in stage 3, a
local-global query downsampling into stage 4); sized for mobile latency.

Paper: `Rethinking Vision Transformers for MobileNet Size and Speed` - https://arxiv.org/abs/2212.08059

Weights: Snap Research's distilled ImageNet-1k models (Apache-2.0). Module names follow timm's
``EfficientFormerV2``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, cast

import torch
from torch import nn

from ..layers import DropPath, LayerScale2d, to_2tuple, trunc_normal_
from ..layers.attention_bias import BiasedAttention
from ..layers.classifier import check_num_classes, check_pool
from ..layers.conv_bn_act import ConvNormAct
from ..layers.create_act import get_act_layer
from ..layers.drop import calculate_drop_path_rates
from ..layers.norm import get_norm_layer
from ..model import DistilledHeads, Trunk, VisionModel
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "Attention2d",
    "Attention2dDownsample",
    "ConvMlpWithNorm",
    "ConvNorm",
    "Downsample",
    "EfficientFormerV2",
    "EfficientFormerV2Block",
    "EfficientFormerV2Stage",
    "LocalGlobalQuery",
    "Stem4",
    "default_cfgs",
]

Layer = Callable[..., nn.Module]
_NO_DD: dict[str, Any] = {"device": None, "dtype": None}


class ConvNorm(nn.Module):
    """Conv (with bias) + norm; "same" padding for odd kernels unless given."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int] = 1,
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | None = None,
        groups: int = 1,
        bias: bool = True,
        norm_layer: Layer = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        k, s = to_2tuple(kernel_size), to_2tuple(stride)
        pad = (
            to_2tuple(padding)
            if padding is not None
            else (((s[0] - 1) + (k[0] - 1)) // 2, ((s[1] - 1) + (k[1] - 1)) // 2)
        )
        self.conv = nn.Conv2d(in_channels, out_channels, k, s, pad, groups=groups, bias=bias)
        self.bn = norm_layer(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class Attention2d(BiasedAttention):
    """Attention on a ``(B, C, H, W)`` map of ``resolution`` (after a stride-``stride`` depthwise
    conv, the result upsampled back), with offset biases, talking heads before and after the
    softmax, and a depthwise conv of the values added back (``v_local``)."""

    def __init__(
        self,
        dim: int = 384,
        key_dim: int = 32,
        num_heads: int = 8,
        attn_ratio: float = 4,
        resolution: int | tuple[int, int] = 7,
        act_layer: Layer = nn.GELU,
        stride: int | None = None,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = key_dim**-0.5
        self.key_dim = key_dim
        res = to_2tuple(resolution)
        self.stride_conv: nn.Module | None = None
        self.upsample: nn.Module | None = None
        if stride is not None:
            res = (math.ceil(res[0] / stride), math.ceil(res[1] / stride))
            self.stride_conv = ConvNorm(dim, dim, kernel_size=3, stride=stride, groups=dim)
            self.upsample = nn.Upsample(scale_factor=stride, mode="bilinear")
        self.N = res[0] * res[1]
        self.d = int(attn_ratio * key_dim)
        self.dh = self.d * num_heads
        self.attn_ratio = attn_ratio
        kh = key_dim * num_heads
        self.q = ConvNorm(dim, kh)
        self.k = ConvNorm(dim, kh)
        self.v = ConvNorm(dim, self.dh)
        self.v_local = ConvNorm(self.dh, self.dh, kernel_size=3, groups=self.dh)
        self.talking_head1 = nn.Conv2d(num_heads, num_heads, kernel_size=1)
        self.talking_head2 = nn.Conv2d(num_heads, num_heads, kernel_size=1)
        self.act = act_layer()
        self.proj = ConvNorm(self.dh, dim, 1)
        self._init_bias(num_heads, res, 1, _NO_DD)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        if self.stride_conv is not None:
            x = self.stride_conv(x)
        q = self.q(x).reshape(b, self.num_heads, -1, self.N).permute(0, 1, 3, 2)
        k = self.k(x).reshape(b, self.num_heads, -1, self.N)
        v = self.v(x)
        v_local = self.v_local(v)
        v = v.reshape(b, self.num_heads, -1, self.N).permute(0, 1, 3, 2)
        attn = (q @ k) * self.scale + self.get_attention_biases(x.device)
        attn = self.talking_head2(self.talking_head1(attn).softmax(dim=-1))
        x = (attn @ v).transpose(2, 3).reshape(b, self.dh, self.resolution[0], self.resolution[1]) + v_local
        if self.upsample is not None:
            x = self.upsample(x)
        return self.proj(self.act(x))


class LocalGlobalQuery(nn.Module):
    """Stride-2 queries: a depthwise 3x3 conv plus a 1x1 subsampling, projected."""

    def __init__(self, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(1, 2, 0)
        self.local = nn.Conv2d(in_dim, in_dim, kernel_size=3, stride=2, padding=1, groups=in_dim)
        self.proj = ConvNorm(in_dim, out_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.local(x) + self.pool(x))


class Attention2dDownsample(BiasedAttention):
    """Attention from stride-2 queries (:class:`LocalGlobalQuery`) to every position of a
    ``resolution`` map: the output is half the size, ``out_dim`` wide."""

    def __init__(
        self,
        dim: int = 384,
        key_dim: int = 16,
        num_heads: int = 8,
        attn_ratio: float = 4,
        resolution: int | tuple[int, int] = 7,
        out_dim: int | None = None,
        act_layer: Layer = nn.GELU,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = key_dim**-0.5
        self.key_dim = key_dim
        res = to_2tuple(resolution)
        self.resolution2 = (math.ceil(res[0] / 2), math.ceil(res[1] / 2))
        self.N = res[0] * res[1]
        self.N2 = self.resolution2[0] * self.resolution2[1]
        self.d = int(attn_ratio * key_dim)
        self.dh = self.d * num_heads
        self.attn_ratio = attn_ratio
        self.out_dim = out_dim or dim
        kh = key_dim * num_heads
        self.q = LocalGlobalQuery(dim, kh)
        self.k = ConvNorm(dim, kh, 1)
        self.v = ConvNorm(dim, self.dh, 1)
        self.v_local = ConvNorm(self.dh, self.dh, kernel_size=3, stride=2, groups=self.dh)
        self.act = act_layer()
        self.proj = ConvNorm(self.dh, self.out_dim, 1)
        self._init_bias(num_heads, res, 2, _NO_DD)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        q = self.q(x).reshape(b, self.num_heads, -1, self.N2).permute(0, 1, 3, 2)
        k = self.k(x).reshape(b, self.num_heads, -1, self.N)
        v = self.v(x)
        v_local = self.v_local(v)
        v = v.reshape(b, self.num_heads, -1, self.N).permute(0, 1, 3, 2)
        attn = ((q @ k) * self.scale + self.get_attention_biases(x.device)).softmax(dim=-1)
        x = (attn @ v).transpose(2, 3).reshape(b, self.dh, self.resolution2[0], self.resolution2[1])
        return self.proj(self.act(x + v_local))


class Downsample(nn.Module):
    """Strided conv + norm, plus (``use_attn``) :class:`Attention2dDownsample` of the input."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 2,
        padding: int = 1,
        resolution: int | tuple[int, int] = 7,
        use_attn: bool = False,
        act_layer: Layer = nn.GELU,
        norm_layer: Layer = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        self.conv = ConvNorm(in_chs, out_chs, kernel_size, stride, padding, norm_layer=norm_layer)
        self.attn: nn.Module | None = (
            Attention2dDownsample(in_chs, out_dim=out_chs, resolution=resolution, act_layer=act_layer)
            if use_attn
            else None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv(x)
        if self.attn is not None:
            return self.attn(x) + out
        return out


class ConvMlpWithNorm(nn.Module):
    """1x1 conv-norm-act, an optional depthwise 3x3 conv-norm-act (``mid_conv``), 1x1 conv-norm."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int | None = None,
        out_features: int | None = None,
        act_layer: Layer = nn.GELU,
        norm_layer: Layer = nn.BatchNorm2d,
        drop: float = 0.0,
        mid_conv: bool = False,
    ) -> None:
        super().__init__()
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        self.fc1 = ConvNormAct(
            in_features, hidden_features, 1, bias=True, norm_layer=norm_layer, act_layer=act_layer
        )
        self.mid: nn.Module = (
            ConvNormAct(
                hidden_features,
                hidden_features,
                3,
                groups=hidden_features,
                bias=True,
                norm_layer=norm_layer,
                act_layer=act_layer,
            )
            if mid_conv
            else nn.Identity()
        )
        self.drop1 = nn.Dropout(drop)
        self.fc2 = ConvNorm(hidden_features, out_features, 1, norm_layer=norm_layer)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop2(self.fc2(self.drop1(self.mid(self.fc1(x)))))


class EfficientFormerV2Block(nn.Module):
    """An optional attention residual (:class:`Attention2d`), then a conv-MLP residual; both
    layer-scaled (unless ``layer_scale_init_value`` is None)."""

    def __init__(
        self,
        dim: int,
        mlp_ratio: float = 4.0,
        act_layer: Layer = nn.GELU,
        norm_layer: Layer = nn.BatchNorm2d,
        proj_drop: float = 0.0,
        drop_path: float = 0.0,
        layer_scale_init_value: float | None = 1e-5,
        resolution: int | tuple[int, int] = 7,
        stride: int | None = None,
        use_attn: bool = True,
    ) -> None:
        super().__init__()

        def scale() -> nn.Module:
            if layer_scale_init_value is None:
                return nn.Identity()
            return LayerScale2d(dim, layer_scale_init_value)

        self.token_mixer: nn.Module | None = None
        self.ls1: nn.Module | None = None
        self.drop_path1: nn.Module | None = None
        if use_attn:
            self.token_mixer = Attention2d(dim, resolution=resolution, act_layer=act_layer, stride=stride)
            self.ls1 = scale()
            self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.mlp = ConvMlpWithNorm(
            dim,
            int(dim * mlp_ratio),
            act_layer=act_layer,
            norm_layer=norm_layer,
            drop=proj_drop,
            mid_conv=True,
        )
        self.ls2 = scale()
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.token_mixer is not None and self.ls1 is not None and self.drop_path1 is not None:
            x = x + self.drop_path1(self.ls1(self.token_mixer(x)))
        return x + self.drop_path2(self.ls2(self.mlp(x)))


class Stem4(nn.Sequential):
    """Two stride-2 3x3 conv-norm-acts: ``out_chs / 2``, then ``out_chs``."""

    def __init__(
        self, in_chs: int, out_chs: int, act_layer: Layer = nn.GELU, norm_layer: Layer = nn.BatchNorm2d
    ) -> None:
        super().__init__()
        self.stride = 4
        self.conv1 = ConvNormAct(
            in_chs, out_chs // 2, 3, 2, 1, bias=True, norm_layer=norm_layer, act_layer=act_layer
        )
        self.conv2 = ConvNormAct(
            out_chs // 2, out_chs, 3, 2, 1, bias=True, norm_layer=norm_layer, act_layer=act_layer
        )


class EfficientFormerV2Stage(nn.Module):
    """Optional downsampling (with attention: ``downsample_use_attn``), then ``depth`` blocks, the
    last ``num_vit`` with attention where ``block_use_attn``."""

    def __init__(
        self,
        dim: int,
        dim_out: int,
        depth: int,
        resolution: int | tuple[int, int] = 7,
        downsample: bool = True,
        block_stride: int | None = None,
        downsample_use_attn: bool = False,
        block_use_attn: bool = False,
        num_vit: int = 1,
        mlp_ratio: float | Sequence[float] = 4.0,
        proj_drop: float = 0.0,
        drop_path: Sequence[float] = (),
        layer_scale_init_value: float | None = 1e-5,
        act_layer: Layer = nn.GELU,
        norm_layer: Layer = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        ratios = tuple(mlp_ratio) if isinstance(mlp_ratio, Sequence) else (mlp_ratio,) * depth
        rates = list(drop_path) or [0.0] * depth
        res = to_2tuple(resolution)
        self.downsample: nn.Module
        if downsample:
            self.downsample = Downsample(
                dim,
                dim_out,
                use_attn=downsample_use_attn,
                resolution=res,
                norm_layer=norm_layer,
                act_layer=act_layer,
            )
            dim = dim_out
            res = (math.ceil(res[0] / 2), math.ceil(res[1] / 2))
        else:
            if dim != dim_out:
                raise ValueError(f"a stage without downsampling keeps its width: {dim} -> {dim_out}")
            self.downsample = nn.Identity()
        self.blocks = nn.Sequential(
            *(
                EfficientFormerV2Block(
                    dim,
                    resolution=res,
                    stride=block_stride,
                    mlp_ratio=ratios[i],
                    use_attn=block_use_attn and i >= depth - num_vit,
                    proj_drop=proj_drop,
                    drop_path=rates[i],
                    layer_scale_init_value=layer_scale_init_value,
                    act_layer=act_layer,
                    norm_layer=norm_layer,
                )
                for i in range(depth)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class EfficientFormerV2(DistilledHeads, VisionModel):
    """Stem (stride 4), four stages (attention in the last blocks of stages 3 and 4, and in the
    downsampling into stage 4), a final norm, mean-pooled into a class head and (``distillation``)
    a distillation head whose logits are averaged; ``set_distilled_training()`` returns both in
    training. The attention biases are for the grids of ``img_size``: the model takes that size.
    """

    trunk = Trunk(stem=("stem",), stages=("stages.*",), post=("norm",), prune_post=("norm",), norm_last=True)
    classifier_name = "head"
    head_names = ("head_drop", "head", "head_dist")

    def __init__(
        self,
        depths: Sequence[int] = (2, 2, 6, 4),
        in_chans: int = 3,
        img_size: int | tuple[int, int] = 224,
        global_pool: str = "avg",
        embed_dims: Sequence[int] = (32, 48, 96, 176),
        downsamples: Sequence[bool] | None = None,
        mlp_ratios: float | Sequence[float | Sequence[float]] = 4,
        norm_layer: str | Layer = "batchnorm2d",
        norm_eps: float = 1e-5,
        act_layer: str | Layer = "gelu",
        num_classes: int = 1000,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        layer_scale_init_value: float | None = 1e-5,
        num_vit: int = 0,
        distillation: bool = True,
    ) -> None:
        super().__init__()
        check_pool(global_pool, ("", "avg"), model="EfficientFormer V2")
        check_num_classes(num_classes)
        base_norm = get_norm_layer(norm_layer)
        act = get_act_layer(act_layer)
        if base_norm is None or act is None:
            raise ValueError(
                f"EfficientFormerV2 needs a norm_layer and an act_layer, got {norm_layer!r}, {act_layer!r}"
            )
        norm = partial(base_norm, eps=norm_eps)
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.global_pool = global_pool  # type: ignore[assignment]  # a pool type, not a module
        self.drop_rate = drop_rate
        size = to_2tuple(img_size)
        self.stem = Stem4(in_chans, embed_dims[0], act_layer=act, norm_layer=norm)
        num_stages = len(depths)
        dpr = cast(
            "list[list[float]]", calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        )
        downsamples = tuple(downsamples or (False,) + (True,) * (num_stages - 1))
        ratios = tuple(mlp_ratios) if isinstance(mlp_ratios, Sequence) else (mlp_ratios,) * num_stages
        stages, prev, stride = [], embed_dims[0], 4
        self.feature_info = []
        for i in range(num_stages):
            stages.append(
                EfficientFormerV2Stage(
                    prev,
                    embed_dims[i],
                    depths[i],
                    resolution=(math.ceil(size[0] / stride), math.ceil(size[1] / stride)),
                    downsample=downsamples[i],
                    block_stride=2 if i == 2 else None,
                    downsample_use_attn=i >= 3,
                    block_use_attn=i >= 2,
                    num_vit=num_vit,
                    mlp_ratio=cast("float | Sequence[float]", ratios[i]),
                    proj_drop=proj_drop_rate,
                    drop_path=dpr[i],
                    layer_scale_init_value=layer_scale_init_value,
                    act_layer=act,
                    norm_layer=norm,
                )
            )
            if downsamples[i]:
                stride *= 2
            prev = embed_dims[i]
            self.feature_info.append(dict(num_chs=prev, reduction=stride, module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.num_features = self.head_hidden_size = embed_dims[-1]
        self.norm = norm(embed_dims[-1])
        self.head_drop = nn.Dropout(drop_rate)
        self.dist = distillation
        self.head = self._new_linear(num_classes)
        self.head_dist: nn.Module | None = self._new_linear(num_classes) if distillation else None
        self.distilled_training = False
        self._initialize()

    def _new_linear(self, num_classes: int) -> nn.Module:
        return nn.Linear(self.num_features, num_classes) if num_classes > 0 else nn.Identity()

    def init_weights(self) -> None:
        """Truncated-normal (0.02) linear layers with zero biases; zero offset biases."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, BiasedAttention):
                nn.init.zeros_(m.attention_biases)

    def no_weight_decay(self) -> set[str]:
        return {k for k, _ in self.named_parameters() if "attention_biases" in k}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^stem", blocks=[(r"^stages\.(\d+)", None), (r"^norm", (99999,))])

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Fresh heads of ``num_classes`` outputs (0 removes them); ``global_pool`` ``'avg'`` or ``''``."""
        check_num_classes(num_classes)
        if global_pool is not None:
            check_pool(global_pool, ("", "avg"), model="EfficientFormer V2")
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


EfficientFormerV2Args = model_args_type(EfficientFormerV2)

VARIANTS = {
    "efficientformerv2_s0": EfficientFormerV2Args(
        depths=(2, 2, 6, 4),
        embed_dims=(32, 48, 96, 176),
        num_vit=2,
        mlp_ratios=(4, 4, (4, 3, 3, 3, 4, 4), (4, 3, 3, 4)),
    ),
    "efficientformerv2_s1": EfficientFormerV2Args(
        depths=(3, 3, 9, 6),
        embed_dims=(32, 48, 120, 224),
        num_vit=2,
        mlp_ratios=(4, 4, (4, 4, 3, 3, 3, 3, 4, 4, 4), (4, 4, 3, 3, 4, 4)),
    ),
    "efficientformerv2_s2": EfficientFormerV2Args(
        depths=(4, 4, 12, 8),
        embed_dims=(32, 64, 144, 288),
        num_vit=4,
        drop_path_rate=0.02,
        mlp_ratios=(4, 4, (4, 4, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4), (4, 4, 3, 3, 3, 3, 4, 4)),
    ),
    "efficientformerv2_l": EfficientFormerV2Args(
        depths=(5, 5, 15, 10),
        embed_dims=(40, 80, 192, 384),
        num_vit=6,
        drop_path_rate=0.1,
        mlp_ratios=(4, 4, (4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 4, 4, 4, 4), (4, 4, 4, 3, 3, 3, 3, 4, 4, 4)),
    ),
}

WEIGHTS = {f"efficientformerv2_{s}.snap_dist_in1k": weight(default=True) for s in ("s0", "s1", "s2", "l")}

default_cfgs = register_family(
    __name__,
    model_cls=EfficientFormerV2,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=None,
        fixed_input_size=True,
        crop_pct=0.95,
        interpolation="bicubic",
        classifier=("head", "head_dist"),
        first_conv="stem.conv1.conv",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. efficientformerv2_s0
    return family_entrypoint(__name__, name)
