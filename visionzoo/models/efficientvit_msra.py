"""EfficientViT (MSRA): memory-efficient vision transformers whose attention heads each see a split
of the channels and feed the next head (cascaded group attention), inside local windows, between
depthwise convs and BN-ReLU feed-forward layers.

Paper: `EfficientViT: Memory Efficient Vision Transformer with Cascaded Group Attention` -
https://arxiv.org/abs/2305.07027

Weights: the authors' ImageNet-1k models (M0..M5; MIT). Module names follow timm's
``EfficientVitMsra``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from ..layers import to_2tuple, trunc_normal_
from ..layers.attention_bias import BiasedAttention, resize_rel_pos_bias_table_levit
from ..layers.classifier import check_num_classes
from ..layers.norm_linear import NormLinear
from ..layers.pool import SelectAdaptivePool2d
from ..layers.squeeze_excite import SqueezeExcite
from ..layers.window import pad_to_windows, window_partition, window_unpartition
from ..model import Trunk, VisionModel
from ..model_input import update_model_input_size
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "CascadedGroupAttention",
    "ConvMlp",
    "ConvNorm",
    "EfficientVitBlock",
    "EfficientVitMsra",
    "EfficientVitStage",
    "LocalWindowAttention",
    "PatchEmbedding",
    "PatchMerging",
    "ResidualDrop",
    "checkpoint_filter_fn",
    "default_cfgs",
]


class ConvNorm(nn.Sequential):
    """Conv (no bias) + BatchNorm2d; ``bn_weight_init`` 0 starts a residual branch at zero."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        ks: int = 1,
        stride: int = 1,
        pad: int = 0,
        dilation: int = 1,
        groups: int = 1,
        bn_weight_init: float = 1,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_chs, out_chs, ks, stride, pad, dilation, groups, bias=False)
        self.bn = nn.BatchNorm2d(out_chs)
        self.bn_weight_init = bn_weight_init
        nn.init.constant_(self.bn.weight, bn_weight_init)


class ResidualDrop(nn.Module):
    """``x + m(x)``; in training, each sample's branch is dropped with probability ``drop``."""

    def __init__(self, m: nn.Module, drop: float = 0.0) -> None:
        super().__init__()
        self.m = m
        self.drop = drop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.drop > 0:
            keep = torch.rand(x.size(0), 1, 1, 1, device=x.device).ge_(self.drop).div(1 - self.drop)
            return x + self.m(x) * keep.detach()
        return x + self.m(x)


class ConvMlp(nn.Module):
    """1x1 ConvNorm to ``h``, ReLU, 1x1 ConvNorm back (zero-initialised norm)."""

    def __init__(self, ed: int, h: int) -> None:
        super().__init__()
        self.pw1 = ConvNorm(ed, h)
        self.act = nn.ReLU()
        self.pw2 = ConvNorm(h, ed, bn_weight_init=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pw2(self.act(self.pw1(x)))


class PatchMerging(nn.Module):
    """Stride-2 inverted bottleneck (x4, depthwise 3x3, squeeze-excite) from ``dim`` to ``out_dim``."""

    def __init__(self, dim: int, out_dim: int) -> None:
        super().__init__()
        hid_dim = int(dim * 4)
        self.conv1 = ConvNorm(dim, hid_dim, 1, 1, 0)
        self.act = nn.ReLU()
        self.conv2 = ConvNorm(hid_dim, hid_dim, 3, 2, 1, groups=hid_dim)
        self.se = SqueezeExcite(hid_dim, 0.25)
        self.conv3 = ConvNorm(hid_dim, out_dim, 1, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.se(self.act(self.conv2(self.act(self.conv1(x))))))


class CascadedGroupAttention(BiasedAttention):
    """Attention on a ``resolution`` x ``resolution`` window where head ``i`` takes the ``i``-th
    channel split plus head ``i - 1``'s output (so later heads refine earlier ones), its queries
    through a depthwise ``kernels[i]`` conv; offset biases per head (LeViT's).

    Args:
        dim: channels (split evenly over the heads).
        key_dim: query / key width per head.
        num_heads: heads.
        attn_ratio: value width over ``key_dim``.
        resolution: window side.
        kernels: the query convs' kernel sizes, one per head.
    """

    def __init__(
        self,
        dim: int,
        key_dim: int,
        num_heads: int = 8,
        attn_ratio: float = 4,
        resolution: int = 14,
        kernels: Sequence[int] = (5, 5, 5, 5),
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = key_dim**-0.5
        self.key_dim = key_dim
        self.val_dim = int(attn_ratio * key_dim)
        self.attn_ratio = attn_ratio
        self.qkvs = nn.ModuleList(
            ConvNorm(dim // num_heads, self.key_dim * 2 + self.val_dim) for _ in range(num_heads)
        )
        self.dws = nn.ModuleList(
            ConvNorm(key_dim, key_dim, kernels[i], 1, kernels[i] // 2, groups=key_dim)
            for i in range(num_heads)
        )
        self.proj = nn.Sequential(nn.ReLU(), ConvNorm(self.val_dim * num_heads, dim, bn_weight_init=0))
        self._init_bias(num_heads, (resolution, resolution), 1, {"device": None, "dtype": None})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        feats_in = x.chunk(len(self.qkvs), dim=1)
        feats_out = []
        feat = feats_in[0]
        attn_bias = self.get_attention_biases(x.device)
        for i, (qkv, dws) in enumerate(zip(self.qkvs, self.dws)):
            if i > 0:  # the cascade: each head adds the previous head's output to its split
                feat = feat + feats_in[i]
            q, k, v = qkv(feat).view(b, -1, h, w).split([self.key_dim, self.key_dim, self.val_dim], dim=1)
            q, k, v = dws(q).flatten(2), k.flatten(2), v.flatten(2)
            attn = ((q * self.scale).transpose(-2, -1) @ k + attn_bias[i]).softmax(dim=-1)
            feat = (v @ attn.transpose(-2, -1)).view(b, self.val_dim, h, w)
            feats_out.append(feat)
        return self.proj(torch.cat(feats_out, 1))


class LocalWindowAttention(nn.Module):
    """:class:`CascadedGroupAttention` in non-overlapping windows of ``window_resolution`` (or the
    whole map, where it is smaller); the map is zero-padded to whole windows and cropped back."""

    def __init__(
        self,
        dim: int,
        key_dim: int,
        num_heads: int = 8,
        attn_ratio: float = 4,
        resolution: int = 14,
        window_resolution: int = 7,
        kernels: Sequence[int] = (5, 5, 5, 5),
    ) -> None:
        super().__init__()
        if window_resolution <= 0:
            raise ValueError(f"window_resolution must be > 0, got {window_resolution}")
        self.dim = dim
        self.num_heads = num_heads
        self.resolution = resolution
        self.window_resolution = window_resolution
        self.attn = CascadedGroupAttention(
            dim,
            key_dim,
            num_heads,
            attn_ratio=attn_ratio,
            resolution=min(window_resolution, resolution),
            kernels=kernels,
        )

    def set_input_size(self, resolution: int) -> None:
        """Another input side: the window follows where it was clipped to the map."""
        self.resolution = resolution
        ws = min(self.window_resolution, resolution)
        self.attn.set_bias_resolution((ws, ws))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # NOTE: always windowed (one window where the map is the window's size: the same result),
        # so that FX traces it without branching on the input size
        h, w = x.shape[-2:]
        ws = (self.attn.resolution[0], self.attn.resolution[1])
        x, hw = pad_to_windows(x.permute(0, 2, 3, 1), ws)
        x = self.attn(window_partition(x, ws).permute(0, 3, 1, 2))
        x = window_unpartition(x.permute(0, 2, 3, 1), ws, hw)
        return x[:, :h, :w].permute(0, 3, 1, 2).contiguous()


class EfficientVitBlock(nn.Module):
    """Depthwise conv, FFN, windowed attention, depthwise conv, FFN: each a residual."""

    def __init__(
        self,
        dim: int,
        key_dim: int,
        num_heads: int = 8,
        attn_ratio: float = 4,
        resolution: int = 14,
        window_resolution: int = 7,
        kernels: Sequence[int] = (5, 5, 5, 5),
    ) -> None:
        super().__init__()
        self.dw0 = ResidualDrop(ConvNorm(dim, dim, 3, 1, 1, groups=dim, bn_weight_init=0.0))
        self.ffn0 = ResidualDrop(ConvMlp(dim, int(dim * 2)))
        self.mixer = ResidualDrop(
            LocalWindowAttention(
                dim,
                key_dim,
                num_heads,
                attn_ratio=attn_ratio,
                resolution=resolution,
                window_resolution=window_resolution,
                kernels=kernels,
            )
        )
        self.dw1 = ResidualDrop(ConvNorm(dim, dim, 3, 1, 1, groups=dim, bn_weight_init=0.0))
        self.ffn1 = ResidualDrop(ConvMlp(dim, int(dim * 2)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ffn1(self.dw1(self.mixer(self.ffn0(self.dw0(x)))))


def _local_residuals(dim: int) -> nn.Sequential:
    return nn.Sequential(
        ResidualDrop(ConvNorm(dim, dim, 3, 1, 1, groups=dim)), ResidualDrop(ConvMlp(dim, int(dim * 2)))
    )


class EfficientVitStage(nn.Module):
    """An optional ``subsample`` (a residual conv + FFN, :class:`PatchMerging`, another residual
    conv + FFN), then ``depth`` blocks at the stage's ``resolution``."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        key_dim: int,
        downsample: tuple[str, int] = ("", 1),
        num_heads: int = 8,
        attn_ratio: float = 4,
        resolution: int = 14,
        window_resolution: int = 7,
        kernels: Sequence[int] = (5, 5, 5, 5),
        depth: int = 1,
    ) -> None:
        super().__init__()
        self.downsample: nn.Module
        if downsample[0] == "subsample":
            self.stride = downsample[1]
            self.downsample = nn.Sequential(
                OrderedDict(
                    [
                        ("res1", _local_residuals(in_dim)),
                        ("patchmerge", PatchMerging(in_dim, out_dim)),
                        ("res2", _local_residuals(out_dim)),
                    ]
                )
            )
        else:
            if in_dim != out_dim:
                raise ValueError(f"a stage without subsampling keeps its width: {in_dim} -> {out_dim}")
            self.stride = 1
            self.downsample = nn.Identity()
        self.resolution = (resolution - 1) // self.stride + 1
        self.blocks = nn.Sequential(
            *(
                EfficientVitBlock(
                    out_dim, key_dim, num_heads, attn_ratio, self.resolution, window_resolution, kernels
                )
                for _ in range(depth)
            )
        )

    def set_input_size(self, resolution: int) -> None:
        """``resolution``: the side of the stage's input (before subsampling)."""
        self.resolution = (resolution - 1) // self.stride + 1
        block: Any
        for block in self.blocks:
            block.mixer.m.set_input_size(self.resolution)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class PatchEmbedding(nn.Sequential):
    """Four stride-2 3x3 ConvNorms (ReLU between), widths ``dim / 8`` .. ``dim``: 16 px patches."""

    def __init__(self, in_chans: int, dim: int) -> None:
        super().__init__()
        self.add_module("conv1", ConvNorm(in_chans, dim // 8, 3, 2, 1))
        self.add_module("relu1", nn.ReLU())
        self.add_module("conv2", ConvNorm(dim // 8, dim // 4, 3, 2, 1))
        self.add_module("relu2", nn.ReLU())
        self.add_module("conv3", ConvNorm(dim // 4, dim // 2, 3, 2, 1))
        self.add_module("relu3", nn.ReLU())
        self.add_module("conv4", ConvNorm(dim // 2, dim, 3, 2, 1))
        self.patch_size = 16


class EfficientVitMsra(VisionModel):
    """Patch embedding (16 px), three stages of :class:`EfficientVitBlock` (the later two
    subsampling first), pool, :class:`NormLinear` classifier.

    Args:
        img_size: input size; its smaller side sets the attention windows' sizes (a window is
            clipped to a smaller map).
        embed_dim: stage widths.
        key_dim: query / key width per head, per stage.
        depth: blocks per stage.
        num_heads: heads per stage (value widths follow: ``embed_dim / (key_dim * heads)``).
        window_size: attention window side per stage.
        kernels: the query convs' kernels, one per head.
        down_ops: per stage, ``("subsample", stride)`` or ``("", 1)``.
    """

    trunk = Trunk(stem=("patch_embed",), stages=("stages.*",))
    classifier_name = "head.linear"

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        in_chans: int = 3,
        num_classes: int = 1000,
        embed_dim: Sequence[int] = (64, 128, 192),
        key_dim: Sequence[int] = (16, 16, 16),
        depth: Sequence[int] = (1, 2, 3),
        num_heads: Sequence[int] = (4, 4, 4),
        window_size: Sequence[int] = (7, 7, 7),
        kernels: Sequence[int] = (5, 5, 5, 5),
        down_ops: Sequence[tuple[str, int]] = (("", 1), ("subsample", 2), ("subsample", 2)),
        global_pool: str = "avg",
        drop_rate: float = 0.0,
    ) -> None:
        super().__init__()
        check_num_classes(num_classes)
        if not global_pool and num_classes:
            raise ValueError("a classifier needs pooled features: global_pool='' takes num_classes=0")
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.patch_embed = PatchEmbedding(in_chans, embed_dim[0])
        stride = self.patch_embed.patch_size
        self.img_size = min(to_2tuple(img_size))  # the smaller side sets the windows
        resolution = self.img_size // stride
        self.feature_info = []
        stages = []
        prev = embed_dim[0]
        for i, (ed, kd, d, nh, ws, do) in enumerate(
            zip(embed_dim, key_dim, depth, num_heads, window_size, down_ops)
        ):
            stage = EfficientVitStage(
                prev,
                ed,
                kd,
                downsample=do,
                num_heads=nh,
                attn_ratio=ed / (kd * nh),
                resolution=resolution,
                window_resolution=ws,
                kernels=kernels,
                depth=d,
            )
            prev, resolution = ed, stage.resolution
            if do[0] == "subsample" and i != 0:
                stride *= do[1]
            stages.append(stage)
            self.feature_info.append(dict(num_chs=ed, reduction=stride, module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.num_features = embed_dim[-1]
        self.num_classes = num_classes
        self.global_pool = SelectAdaptivePool2d(pool_type=global_pool, flatten=bool(global_pool))
        self.head_hidden_size = self.num_features * self.global_pool.feat_mult()
        self.head: nn.Module = self._new_head(num_classes)
        self._initialize()

    def _new_head(self, num_classes: int) -> nn.Module:
        if num_classes > 0:
            return NormLinear(self.head_hidden_size, num_classes, drop=self.drop_rate)
        return nn.Identity()

    def init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, ConvNorm):
                nn.init.constant_(m.bn.weight, m.bn_weight_init)
            elif isinstance(m, NormLinear):
                trunc_normal_(m.linear.weight, std=m.std)
            elif isinstance(m, BiasedAttention):
                nn.init.zeros_(m.attention_biases)

    def set_input_size(self, img_size: int | tuple[int, int] | None = None) -> None:
        """Another input size: windows clipped to a stage's map follow it (their offset biases
        resampled)."""
        if img_size is not None:
            self.img_size = min(to_2tuple(img_size))
        resolution = self.img_size // self.patch_embed.patch_size
        stage: Any
        for stage in self.stages:
            stage.set_input_size(resolution)
            resolution = stage.resolution
        if img_size is not None:
            update_model_input_size(self, to_2tuple(img_size))

    def no_weight_decay(self) -> set[str]:
        return {k for k in self.state_dict() if "attention_biases" in k}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^patch_embed",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [(r"^stages\.(\d+).downsample", (0,)), (r"^stages\.(\d+)\.\w+\.(\d+)", None)],
        )

    def _classifier(self) -> nn.Module:
        return self.head.linear if isinstance(self.head, NormLinear) else self.head

    def get_classifier(self, name_only: bool = False) -> nn.Module | str:
        """The final linear layer (its path with ``name_only``; an identity without classes)."""
        if name_only:
            return self.classifier_name if isinstance(self.head, NormLinear) else "head"
        return self._classifier()

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A fresh classifier of ``num_classes`` outputs (0 removes it); ``global_pool`` a new
        pooling (``''`` only without a classifier)."""
        check_num_classes(num_classes)
        pool_type = self.global_pool.pool_type if global_pool is None else global_pool
        if not pool_type and num_classes:
            raise ValueError("a classifier needs pooled features: global_pool='' takes num_classes=0")
        if global_pool is not None:
            self.global_pool = SelectAdaptivePool2d(pool_type=global_pool, flatten=bool(global_pool))
            self.global_pool.train(self.training)
        self.head_hidden_size = self.num_features * self.global_pool.feat_mult()
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else torch.device("cpu")
        with torch.device(device):
            head = self._new_head(num_classes)
        if ref is not None:
            head.to(dtype=ref.dtype)
        self.head = head.train(self.training)
        self.num_classes = num_classes

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.global_pool(x)
        return x if pre_logits else self.head(x)


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """Fit a checkpoint to the model's windows: the offset bias tables of windows of another size
    (a model built for another input) are resampled; the computed bias indices are dropped."""
    target = model.state_dict()
    out = {}
    for key, value in state_dict.items():
        if key.endswith("attention_bias_idxs"):
            continue
        if key.endswith("attention_biases") and key in target and value.shape != target[key].shape:
            value = resize_rel_pos_bias_table_levit(value.T, target[key].shape[::-1]).T.contiguous()
        out[key] = value
    return out


EfficientVitMsraArgs = model_args_type(EfficientVitMsra)

VARIANTS = {
    "efficientvit_m0": EfficientVitMsraArgs(embed_dim=(64, 128, 192), num_heads=(4, 4, 4)),
    "efficientvit_m1": EfficientVitMsraArgs(
        embed_dim=(128, 144, 192), num_heads=(2, 3, 3), kernels=(7, 5, 3, 3)
    ),
    "efficientvit_m2": EfficientVitMsraArgs(
        embed_dim=(128, 192, 224), num_heads=(4, 3, 2), kernels=(7, 5, 3, 3)
    ),
    "efficientvit_m3": EfficientVitMsraArgs(embed_dim=(128, 240, 320), num_heads=(4, 3, 4)),
    "efficientvit_m4": EfficientVitMsraArgs(
        embed_dim=(128, 256, 384), num_heads=(4, 4, 4), kernels=(7, 5, 3, 3)
    ),
    "efficientvit_m5": EfficientVitMsraArgs(
        embed_dim=(192, 288, 384), depth=(1, 3, 4), num_heads=(3, 3, 4), kernels=(7, 5, 3, 3)
    ),
}

WEIGHTS = {f"efficientvit_m{i}.r224_in1k": weight(default=True) for i in range(6)}

default_cfgs = register_family(
    __name__,
    model_cls=EfficientVitMsra,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        first_conv="patch_embed.conv1.conv",
        classifier="head.linear",
        fixed_input_size=True,
        pool_size=(4, 4),
        license="mit",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. efficientvit_m0
    return family_entrypoint(__name__, name)
