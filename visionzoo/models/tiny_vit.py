"""TinyViT: small hierarchical vision transformers distilled from large ones during pretraining. A
conv stem, a first stage of MBConv blocks, then three stages of windowed attention (with a learned
bias per query-key offset) + a depthwise conv + an MLP, joined by conv patch merging.

Paper: `TinyViT: Fast Pretraining Distillation for Small Vision Transformers` -
https://arxiv.org/abs/2207.10666

Weights: Microsoft's releases (https://github.com/microsoft/Cream/tree/main/TinyViT), apache-2.0:
ImageNet-1k, ImageNet-22k distilled, and those fine-tuned on ImageNet-1k (224, 384, 512 px).
Module names follow timm's ``tiny_vit``; the original checkpoints (weights under ``model``, the
saved offset-index tables, another window size) through :func:`checkpoint_filter_fn`.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import torch
from torch import nn

from ..layers import DropPath, LayerNorm2d, NormMlpClassifierHead, calculate_drop_path_rates, trunc_normal_
from ..layers.attention_bias import BiasedAttention, resize_offset_bias_table
from ..layers.branch_fusion import branch_kernel_bias, conv_like
from ..layers.window import pad_to_windows, window_partition, window_unpartition
from ..model import NormHeadModel, Trunk
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "VARIANTS",
    "WEIGHTS",
    "Attention",
    "ConvLayer",
    "ConvNorm",
    "MBConv",
    "NormMlp",
    "PatchEmbed",
    "PatchMerging",
    "TinyVit",
    "TinyVitBlock",
    "TinyVitStage",
    "checkpoint_filter_fn",
    "default_cfgs",
]

LayerFn = Callable[..., nn.Module]


class ConvNorm(nn.Sequential):
    """Conv (no bias) + BatchNorm2d (``conv``, ``bn``); ``bn_weight_init`` 0 starts a residual
    branch at zero."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        ks: int = 1,
        stride: int = 1,
        pad: int = 0,
        dilation: int = 1,
        groups: int = 1,
        bn_weight_init: float = 1.0,
    ) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_chs, out_chs, ks, stride, pad, dilation, groups, bias=False)
        self.bn = nn.BatchNorm2d(out_chs)
        self.bn_weight_init = bn_weight_init

    def reset_parameters(self) -> None:
        nn.init.constant_(self.bn.weight, self.bn_weight_init)
        nn.init.zeros_(self.bn.bias)

    @torch.no_grad()
    def fuse(self) -> nn.Conv2d:
        """The inference form: one biased conv with the eval norm folded in (``reparameterize``)."""
        kernel, bias = branch_kernel_bias(self.conv, self.bn, self.conv.weight)
        return conv_like(self.conv, kernel, bias)


class PatchEmbed(nn.Module):
    """Two stride-2 3x3 conv-norms with an activation between: the stride-4 stem."""

    def __init__(self, in_chs: int, out_chs: int, act_layer: LayerFn) -> None:
        super().__init__()
        self.stride = 4
        self.conv1 = ConvNorm(in_chs, out_chs // 2, 3, 2, 1)
        self.act = act_layer()
        self.conv2 = ConvNorm(out_chs // 2, out_chs, 3, 2, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.act(self.conv1(x)))


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand, 3x3 depthwise, 1x1 project (zero-init norm), added to the
    input, then the activation."""

    def __init__(
        self, in_chs: int, out_chs: int, expand_ratio: float, act_layer: LayerFn, drop_path: float
    ) -> None:
        super().__init__()
        mid = int(in_chs * expand_ratio)
        self.conv1 = ConvNorm(in_chs, mid)
        self.act1 = act_layer()
        self.conv2 = ConvNorm(mid, mid, ks=3, stride=1, pad=1, groups=mid)
        self.act2 = act_layer()
        self.conv3 = ConvNorm(mid, out_chs, bn_weight_init=0.0)
        self.act3 = act_layer()
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv3(self.act2(self.conv2(self.act1(self.conv1(x)))))
        return self.act3(self.drop_path(y) + x)


class PatchMerging(nn.Module):
    """1x1 conv-norm, stride-2 depthwise 3x3 conv-norm, 1x1 conv-norm: halves the map."""

    def __init__(self, dim: int, out_dim: int, act_layer: LayerFn) -> None:
        super().__init__()
        self.conv1 = ConvNorm(dim, out_dim, 1, 1, 0)
        self.act1 = act_layer()
        self.conv2 = ConvNorm(out_dim, out_dim, 3, 2, 1, groups=out_dim)
        self.act2 = act_layer()
        self.conv3 = ConvNorm(out_dim, out_dim, 1, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv3(self.act2(self.conv2(self.act1(self.conv1(x)))))


class ConvLayer(nn.Module):
    """The first stage: MBConv blocks at one width."""

    def __init__(
        self,
        dim: int,
        depth: int,
        act_layer: LayerFn,
        drop_path: float | list[float] = 0.0,
        conv_expand_ratio: float = 4.0,
    ) -> None:
        super().__init__()
        rates = drop_path if isinstance(drop_path, list) else [drop_path] * depth
        self.blocks = nn.Sequential(
            *[MBConv(dim, dim, conv_expand_ratio, act_layer, rates[i]) for i in range(depth)]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


class NormMlp(nn.Module):
    """``norm -> fc1 -> act -> drop -> fc2 -> drop`` (the norm on the input)."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int | None = None,
        out_features: int | None = None,
        norm_layer: LayerFn = nn.LayerNorm,
        act_layer: LayerFn = nn.GELU,
        drop: float = 0.0,
    ) -> None:
        super().__init__()
        hidden = hidden_features or in_features
        self.norm = norm_layer(in_features)
        self.fc1 = nn.Linear(in_features, hidden)
        self.act = act_layer()
        self.drop1 = nn.Dropout(drop)
        self.fc2 = nn.Linear(hidden, out_features or in_features)
        self.drop2 = nn.Dropout(drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop2(self.fc2(self.drop1(self.act(self.fc1(self.norm(x))))))


class Attention(BiasedAttention):
    """Pre-norm multi-head attention over a window's ``resolution`` tokens, with a learned bias per
    head and query-key offset; values ``attn_ratio`` times as wide as the keys."""

    def __init__(
        self,
        dim: int,
        key_dim: int,
        num_heads: int = 8,
        attn_ratio: float = 4.0,
        resolution: tuple[int, int] = (14, 14),
        *,
        fused_attn: bool = True,
    ) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.scale = key_dim**-0.5
        self.key_dim = key_dim
        self.val_dim = int(attn_ratio * key_dim)
        self.out_dim = self.val_dim * num_heads
        self.fused_attn = fused_attn
        self.norm = nn.LayerNorm(dim)
        self.qkv = nn.Linear(dim, num_heads * (self.val_dim + 2 * key_dim))
        self.proj = nn.Linear(self.out_dim, dim)
        self._init_bias(num_heads, resolution, 1, {"device": None, "dtype": None})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias = self.get_attention_biases(x.device)
        b, n, _ = x.shape
        qkv = self.qkv(self.norm(x)).view(b, n, self.num_heads, -1)
        q, k, v = qkv.split([self.key_dim, self.key_dim, self.val_dim], dim=3)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        if self.fused_attn:
            x = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        else:
            attn = (q * self.scale) @ k.transpose(-2, -1) + bias
            x = attn.softmax(dim=-1) @ v
        return self.proj(x.transpose(1, 2).reshape(b, n, self.out_dim))


class TinyVitBlock(nn.Module):
    """Channels-last ``(B, H, W, C)`` block: attention within ``window_size`` windows (the map
    zero-padded to whole windows), a depthwise conv-norm over the map, then a pre-norm MLP."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        window_size: int = 7,
        mlp_ratio: float = 4.0,
        drop: float = 0.0,
        drop_path: float = 0.0,
        local_conv_size: int = 3,
        act_layer: LayerFn = nn.GELU,
    ) -> None:
        super().__init__()
        if window_size < 1:
            raise ValueError(f"window_size={window_size} must be >= 1")
        if dim % num_heads:
            raise ValueError(f"dim={dim} is not divisible by num_heads={num_heads}")
        self.window_size = window_size
        self.attn = Attention(
            dim, dim // num_heads, num_heads, attn_ratio=1, resolution=(window_size, window_size)
        )
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.mlp = NormMlp(dim, int(dim * mlp_ratio), act_layer=act_layer, drop=drop)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.local_conv = ConvNorm(
            dim, dim, ks=local_conv_size, stride=1, pad=local_conv_size // 2, groups=dim
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, h, w, c = x.shape
        window = (self.window_size, self.window_size)
        padded, hw = pad_to_windows(x, window)
        windows = window_partition(padded, window).reshape(-1, self.window_size * self.window_size, c)
        y = self.attn(windows).reshape(-1, self.window_size, self.window_size, c)
        y = window_unpartition(y, window, hw)[:, :h, :w, :]
        x = x + self.drop_path1(y)
        x = self.local_conv(x.permute(0, 3, 1, 2)).reshape(b, c, h * w).transpose(1, 2)
        x = x + self.drop_path2(self.mlp(x))
        return x.reshape(b, h, w, c)


class TinyVitStage(nn.Module):
    """Patch merging (or none), then attention blocks on the channels-last map; ``(B, C, H, W)``
    in and out."""

    def __init__(
        self,
        dim: int,
        out_dim: int,
        depth: int,
        num_heads: int,
        window_size: int,
        mlp_ratio: float = 4.0,
        drop: float = 0.0,
        drop_path: float | list[float] = 0.0,
        downsample: bool = True,
        local_conv_size: int = 3,
        act_layer: LayerFn = nn.GELU,
    ) -> None:
        super().__init__()
        if not downsample and dim != out_dim:
            raise ValueError(f"a stage without downsample keeps its width: dim={dim} != out_dim={out_dim}")
        self.downsample: nn.Module = PatchMerging(dim, out_dim, act_layer) if downsample else nn.Identity()
        rates = drop_path if isinstance(drop_path, list) else [drop_path] * depth
        self.blocks = nn.Sequential(
            *[
                TinyVitBlock(
                    out_dim,
                    num_heads,
                    window_size=window_size,
                    mlp_ratio=mlp_ratio,
                    drop=drop,
                    drop_path=rates[i],
                    local_conv_size=local_conv_size,
                    act_layer=act_layer,
                )
                for i in range(depth)
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        return self.blocks(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class TinyVit(NormHeadModel):
    """Stride-4 conv stem, an MBConv stage, then attention stages at strides 8, 16, 32; a head
    that pools, normalises (LayerNorm over channels) and classifies.

    Args:
        embed_dims, depths, num_heads, window_sizes: per stage (the first stage's heads and
            window are unused: it has no attention).
    """

    trunk = Trunk(stem=("patch_embed",), stages=("stages.*",))

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        head: NormMlpClassifierHead

    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        embed_dims: tuple[int, ...] = (96, 192, 384, 768),
        depths: tuple[int, ...] = (2, 2, 6, 2),
        num_heads: tuple[int, ...] = (3, 6, 12, 24),
        window_sizes: tuple[int, ...] = (7, 7, 14, 7),
        mlp_ratio: float = 4.0,
        drop_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        drop_path_rate: float = 0.1,
        mbconv_expand_ratio: float = 4.0,
        local_conv_size: int = 3,
        act_layer: LayerFn = nn.GELU,
    ) -> None:
        super().__init__()
        n = len(depths)
        for what, values in (
            ("embed_dims", embed_dims),
            ("num_heads", num_heads),
            ("window_sizes", window_sizes),
        ):
            if len(values) != n:
                raise ValueError(f"{what}={values!r} needs one value per stage ({n})")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.depths = depths
        self.patch_embed = PatchEmbed(in_chans, embed_dims[0], act_layer)
        dpr = cast(list[float], calculate_drop_path_rates(drop_path_rate, sum(depths)))
        self.stages = nn.Sequential()
        stride, prev = self.patch_embed.stride, embed_dims[0]
        self.feature_info = []
        for i in range(n):
            rates = dpr[sum(depths[:i]) : sum(depths[: i + 1])]
            if i == 0:
                stage: nn.Module = ConvLayer(
                    prev, depths[0], act_layer, drop_path=rates, conv_expand_ratio=mbconv_expand_ratio
                )
            else:
                stage = TinyVitStage(
                    embed_dims[i - 1],
                    embed_dims[i],
                    depths[i],
                    num_heads[i],
                    window_sizes[i],
                    mlp_ratio=mlp_ratio,
                    drop=proj_drop_rate,
                    drop_path=rates,
                    local_conv_size=local_conv_size,
                    act_layer=act_layer,
                )
                prev = embed_dims[i]
                stride *= 2
            self.stages.append(stage)
            self.feature_info.append(dict(num_chs=prev, reduction=stride, module=f"stages.{i}"))
        self.num_features = prev
        self.head = NormMlpClassifierHead(
            prev,
            num_classes,
            pool_type=global_pool,
            drop_rate=drop_rate,
            norm_layer=partial(LayerNorm2d, eps=1e-5),
        )
        self.head_hidden_size = self.head.num_features
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal linears with zero biases; conv-norms at their ``bn_weight_init``; zero
        offset biases."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, ConvNorm):
                m.reset_parameters()
            elif isinstance(m, Attention):
                nn.init.zeros_(m.attention_biases)

    def no_weight_decay(self) -> set[str]:
        """The offset-bias tables."""
        return {k for k in self.state_dict() if "attention_biases" in k}

    def no_weight_decay_keywords(self) -> set[str]:
        return {"attention_biases"}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^patch_embed",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [(r"^stages\.(\d+).downsample", (0,)), (r"^stages\.(\d+)\.\w+\.(\d+)", None)],
        )

    # --- head ----------------------------------------------------------------------------------


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """The authors' checkpoints: weights under ``model``, the offset-index tables saved (computed
    here, so dropped), and offset-bias tables of another window size (resampled to the model's)."""
    if "model" in state_dict:
        state_dict = state_dict["model"]
    target = model.state_dict()
    out = {}
    for key, value in state_dict.items():
        if key.endswith("attention_bias_idxs"):
            continue
        if "attention_biases" in key and key in target:
            value = resize_offset_bias_table(value, target[key].shape[1])
        out[key] = value
    return out


TinyVitArgs = model_args_type(TinyVit)

_DEPTHS = (2, 2, 6, 2)
_21M = dict(embed_dims=(96, 192, 384, 576), depths=_DEPTHS, num_heads=(3, 6, 12, 18))
VARIANTS = {
    "tiny_vit_5m_224": TinyVitArgs(
        embed_dims=(64, 128, 160, 320), depths=_DEPTHS, num_heads=(2, 4, 5, 10), window_sizes=(7, 7, 14, 7),
        drop_path_rate=0.0,
    ),
    "tiny_vit_11m_224": TinyVitArgs(
        embed_dims=(64, 128, 256, 448), depths=_DEPTHS, num_heads=(2, 4, 8, 14), window_sizes=(7, 7, 14, 7),
        drop_path_rate=0.1,
    ),
    "tiny_vit_21m_224": TinyVitArgs(**_21M, window_sizes=(7, 7, 14, 7), drop_path_rate=0.2),
    "tiny_vit_21m_384": TinyVitArgs(**_21M, window_sizes=(12, 12, 24, 12), drop_path_rate=0.1),
    "tiny_vit_21m_512": TinyVitArgs(**_21M, window_sizes=(16, 16, 32, 16), drop_path_rate=0.1),
}  # fmt: skip

_IN22K = dict(num_classes=21841)
WEIGHTS = {
    "tiny_vit_5m_224.dist_in22k": weight(_IN22K, default=True),
    "tiny_vit_5m_224.dist_in22k_ft_in1k": weight(),
    "tiny_vit_5m_224.in1k": weight(),
    "tiny_vit_11m_224.dist_in22k": weight(_IN22K, default=True),
    "tiny_vit_11m_224.dist_in22k_ft_in1k": weight(),
    "tiny_vit_11m_224.in1k": weight(),
    "tiny_vit_21m_224.dist_in22k": weight(_IN22K, default=True),
    "tiny_vit_21m_224.dist_in22k_ft_in1k": weight(),
    "tiny_vit_21m_224.in1k": weight(),
    "tiny_vit_21m_384.dist_in22k_ft_in1k": weight(size=384, pool_size=(12, 12), crop=1.0),
    "tiny_vit_21m_512.dist_in22k_ft_in1k": weight(size=512, pool_size=(16, 16), crop=1.0, crop_mode="squash"),
}

default_cfgs = register_family(
    __name__,
    model_cls=TinyVit,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        num_classes=1000,
        mean=IMAGENET_DEFAULT_MEAN,
        std=IMAGENET_DEFAULT_STD,
        first_conv="patch_embed.conv1.conv",
        classifier="head.fc",
        pool_size=(7, 7),
        input_size=(3, 224, 224),
        crop_pct=0.95,
        license="apache-2.0",
    ),
    feature_cfg=dict(flatten_sequential=True, out_indices=(0, 1, 2, 3)),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:
    return family_entrypoint(__name__, name)
