"""LeViT: a vision transformer in a convnet's clothing, for fast inference.

Paper: `LeViT: a Vision Transformer in ConvNet's Clothing for Faster Inference`
- https://arxiv.org/abs/2104.01136

A strided-conv stem, then three stages of attention + MLP blocks at shrinking resolutions; every
linear map is followed by a batch norm (foldable into it), the attention adds a learned bias per
head for each query-key offset, and the stages are joined by attention that subsamples its
queries. One model in two layouts: tokens ``(B, N, C)`` through linear layers (``levit_*``) or
maps ``(B, C, H, W)`` through 1x1 convs (``levit_conv_*``), with the same weights up to their
shapes. The released models have a second, distillation head. Weights: Apache-2.0 (Facebook
Research's LeViT). Keys as timm's ``levit``.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, cast

import torch
from torch import nn

from ..layers import DropPath, get_act_layer, to_2tuple
from ..layers.attention_bias import BiasedAttention, attention_bias_index
from ..layers.classifier import check_pool
from ..layers.norm_linear import NormLinear
from ..model import DistilledHeads, Trunk, VisionModel
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, NO_WEIGHTS, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "Attention",
    "AttentionDownsample",
    "ConvNorm",
    "Downsample",
    "Levit",
    "LevitBlock",
    "LevitDistilled",
    "LevitDownsample",
    "LevitMlp",
    "LevitStage",
    "LinearNorm",
    "NormLinear",
    "Stem8",
    "Stem16",
    "attention_bias_index",
    "checkpoint_filter_fn",
    "default_cfgs",
]

LayerFn = Callable[..., nn.Module]
Size = int | tuple[int, int]


class ConvNorm(nn.Module):
    """Conv (no bias) + BatchNorm2d; ``bn_weight_init`` 0 starts a residual branch at zero."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 1,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
        groups: int = 1,
        bn_weight_init: float = 1,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        self.linear = nn.Conv2d(
            in_chs, out_chs, kernel_size, stride, padding, dilation, groups, bias=False, **dd
        )
        self.bn = nn.BatchNorm2d(out_chs, **dd)
        self.bn_weight_init = bn_weight_init

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.linear(x))


class LinearNorm(nn.Module):
    """Linear (no bias) + a batch norm over the channels of every token of ``(B, N, C)``."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bn_weight_init: float = 1,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        self.linear = nn.Linear(in_features, out_features, bias=False, **dd)
        self.bn = nn.BatchNorm1d(out_features, **dd)
        self.bn_weight_init = bn_weight_init

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.linear(x)
        return self.bn(x.flatten(0, 1)).reshape_as(x)


class _Stem(nn.Sequential):
    """``log2(stride)`` stride-2 3x3 ConvNorms (``conv1``.., activations ``act1``.. between),
    widths doubling up to ``out_chs``."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        act_layer: LayerFn,
        stride: int,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.stride = stride
        steps = stride.bit_length() - 1
        chs = in_chs
        for i in range(steps):
            if i:
                self.add_module(f"act{i}", act_layer())
            width = out_chs // 2 ** (steps - 1 - i)
            self.add_module(
                f"conv{i + 1}", ConvNorm(chs, width, 3, stride=2, padding=1, device=device, dtype=dtype)
            )
            chs = width


class Stem16(_Stem):
    """Four stride-2 convs: patches of 16 px."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        act_layer: LayerFn,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_chs, out_chs, act_layer, 16, device=device, dtype=dtype)


class Stem8(_Stem):
    """Three stride-2 convs: patches of 8 px."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        act_layer: LayerFn,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(in_chs, out_chs, act_layer, 8, device=device, dtype=dtype)


class Downsample(nn.Module):
    """Tokens of a ``resolution`` grid -> every ``stride``-th row and column (or a 3x3 average)."""

    def __init__(
        self,
        stride: int,
        resolution: Size,
        use_pool: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.stride = stride
        self.resolution = to_2tuple(resolution)
        self.pool = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False) if use_pool else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, c = x.shape
        x = x.view(b, self.resolution[0], self.resolution[1], c)
        if self.pool is not None:
            x = self.pool(x.permute(0, 3, 1, 2)).permute(0, 2, 3, 1)
        else:
            x = x[:, :: self.stride, :: self.stride]
        return x.reshape(b, -1, c)


class Attention(BiasedAttention):
    """Multi-head self-attention with offset biases; values ``attn_ratio`` times wider than the
    keys; output through an activation and a zero-initialised norm-linear (``proj``).

    Linear layout: ``(B, N, C)`` tokens; conv layout: ``(B, C, H, W)`` maps."""

    def __init__(
        self,
        dim: int,
        key_dim: int,
        num_heads: int = 8,
        attn_ratio: float = 4.0,
        resolution: Size = 14,
        use_conv: bool = False,
        act_layer: LayerFn = nn.SiLU,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        norm_layer = ConvNorm if use_conv else LinearNorm
        self.use_conv = use_conv
        self.num_heads = num_heads
        self.scale = key_dim**-0.5
        self.key_dim = key_dim
        self.key_attn_dim = key_dim * num_heads
        self.val_dim = int(attn_ratio * key_dim)
        self.val_attn_dim = self.val_dim * num_heads
        # per head: [query (key_dim), key (key_dim), value (val_dim)]
        self.qkv = norm_layer(dim, self.val_attn_dim + self.key_attn_dim * 2, **dd)
        self.proj = nn.Sequential(
            OrderedDict(
                [("act", act_layer()), ("ln", norm_layer(self.val_attn_dim, dim, bn_weight_init=0, **dd))]
            )
        )
        self._init_bias(num_heads, to_2tuple(resolution), 1, dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        split = [self.key_dim, self.key_dim, self.val_dim]
        if self.use_conv:
            b, _, h, w = x.shape
            q, k, v = self.qkv(x).view(b, self.num_heads, -1, h * w).split(split, dim=2)
            attn = (q.transpose(-2, -1) @ k) * self.scale + self.get_attention_biases(x.device)
            x = (v @ attn.softmax(dim=-1).transpose(-2, -1)).view(b, -1, h, w)
        else:
            b, n, _ = x.shape
            q, k, v = self.qkv(x).view(b, n, self.num_heads, -1).split(split, dim=3)
            q, k, v = q.transpose(1, 2), k.permute(0, 2, 3, 1), v.transpose(1, 2)
            attn = q @ k * self.scale + self.get_attention_biases(x.device)
            x = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, n, self.val_attn_dim)
        return self.proj(x)


class AttentionDownsample(BiasedAttention):
    """Attention whose queries are every ``stride``-th position (so the output grid shrinks),
    keys and values every position; widens ``in_dim`` to ``out_dim`` in ``proj``."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        key_dim: int,
        num_heads: int = 8,
        attn_ratio: float = 2.0,
        stride: int = 2,
        resolution: Size = 14,
        use_conv: bool = False,
        use_pool: bool = False,
        act_layer: LayerFn = nn.SiLU,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        res = to_2tuple(resolution)
        self.stride = stride
        self.num_heads = num_heads
        self.key_dim = key_dim
        self.key_attn_dim = key_dim * num_heads
        self.val_dim = int(attn_ratio * key_dim)
        self.val_attn_dim = self.val_dim * num_heads
        self.scale = key_dim**-0.5
        self.use_conv = use_conv
        norm_layer: LayerFn
        if use_conv:
            norm_layer = ConvNorm
            down: nn.Module = nn.AvgPool2d(
                kernel_size=3 if use_pool else 1,
                stride=stride,
                padding=1 if use_pool else 0,
                count_include_pad=False,
            )
        else:
            norm_layer = LinearNorm
            down = Downsample(stride, res, use_pool=use_pool, **dd)
        # per head: [key (key_dim), value (val_dim)]
        self.kv = norm_layer(in_dim, self.val_attn_dim + self.key_attn_dim, **dd)
        self.q = nn.Sequential(
            OrderedDict([("down", down), ("ln", norm_layer(in_dim, self.key_attn_dim, **dd))])
        )
        self.proj = nn.Sequential(
            OrderedDict([("act", act_layer()), ("ln", norm_layer(self.val_attn_dim, out_dim, **dd))])
        )
        self._init_bias(num_heads, res, stride, dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        split = [self.key_dim, self.val_dim]
        if self.use_conv:
            b, _, h, w = x.shape
            hq, wq = (h - 1) // self.stride + 1, (w - 1) // self.stride + 1
            k, v = self.kv(x).view(b, self.num_heads, -1, h * w).split(split, dim=2)
            q = self.q(x).view(b, self.num_heads, self.key_dim, -1)
            attn = (q.transpose(-2, -1) @ k) * self.scale + self.get_attention_biases(x.device)
            x = (v @ attn.softmax(dim=-1).transpose(-2, -1)).reshape(b, self.val_attn_dim, hq, wq)
        else:
            b, n, _ = x.shape
            k, v = self.kv(x).view(b, n, self.num_heads, -1).split(split, dim=3)
            k, v = k.permute(0, 2, 3, 1), v.transpose(1, 2)
            q = self.q(x).view(b, -1, self.num_heads, self.key_dim).transpose(1, 2)
            attn = q @ k * self.scale + self.get_attention_biases(x.device)
            x = (attn.softmax(dim=-1) @ v).transpose(1, 2).reshape(b, -1, self.val_attn_dim)
        return self.proj(x)


class LevitMlp(nn.Module):
    """Norm-linear, activation, dropout, zero-initialised norm-linear (1x1 ConvNorms in the conv
    layout)."""

    def __init__(
        self,
        in_features: int,
        hidden_features: int | None = None,
        out_features: int | None = None,
        use_conv: bool = False,
        act_layer: LayerFn = nn.SiLU,
        drop: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        out_features = out_features or in_features
        hidden_features = hidden_features or in_features
        norm_layer = ConvNorm if use_conv else LinearNorm
        self.ln1 = norm_layer(in_features, hidden_features, **dd)
        self.act = act_layer()
        self.drop = nn.Dropout(drop)
        self.ln2 = norm_layer(hidden_features, out_features, bn_weight_init=0, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.ln2(self.drop(self.act(self.ln1(x))))


class LevitDownsample(nn.Module):
    """Between stages: subsampling attention (no residual: the width changes), then a residual MLP."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        key_dim: int,
        num_heads: int = 8,
        attn_ratio: float = 4.0,
        mlp_ratio: float = 2.0,
        act_layer: LayerFn = nn.SiLU,
        attn_act_layer: LayerFn | None = None,
        resolution: Size = 14,
        use_conv: bool = False,
        use_pool: bool = False,
        drop_path: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        self.attn_downsample = AttentionDownsample(
            in_dim=in_dim,
            out_dim=out_dim,
            key_dim=key_dim,
            num_heads=num_heads,
            attn_ratio=attn_ratio,
            act_layer=attn_act_layer or act_layer,
            resolution=resolution,
            use_conv=use_conv,
            use_pool=use_pool,
            **dd,
        )
        self.mlp = LevitMlp(out_dim, int(out_dim * mlp_ratio), use_conv=use_conv, act_layer=act_layer, **dd)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attn_downsample(x)
        return x + self.drop_path(self.mlp(x))


class LevitBlock(nn.Module):
    """``x + attn(x)``, then ``x + mlp(x)`` (the norms live inside the linear layers)."""

    def __init__(
        self,
        dim: int,
        key_dim: int,
        num_heads: int = 8,
        attn_ratio: float = 4.0,
        mlp_ratio: float = 2.0,
        resolution: Size = 14,
        use_conv: bool = False,
        act_layer: LayerFn = nn.SiLU,
        attn_act_layer: LayerFn | None = None,
        drop_path: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        self.attn = Attention(
            dim=dim,
            key_dim=key_dim,
            num_heads=num_heads,
            attn_ratio=attn_ratio,
            resolution=resolution,
            use_conv=use_conv,
            act_layer=attn_act_layer or act_layer,
            **dd,
        )
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.mlp = LevitMlp(dim, int(dim * mlp_ratio), use_conv=use_conv, act_layer=act_layer, **dd)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path1(self.attn(x))
        return x + self.drop_path2(self.mlp(x))


class LevitStage(nn.Module):
    """An optional subsampling step (``downsample``), then ``depth`` blocks at the new grid."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        key_dim: int,
        depth: int = 4,
        num_heads: int = 8,
        attn_ratio: float = 4.0,
        mlp_ratio: float = 4.0,
        act_layer: LayerFn = nn.SiLU,
        attn_act_layer: LayerFn | None = None,
        resolution: Size = 14,
        downsample: str = "",
        use_conv: bool = False,
        drop_path: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        res = to_2tuple(resolution)
        if downsample:
            self.downsample: nn.Module = LevitDownsample(
                in_dim,
                out_dim,
                key_dim=key_dim,
                num_heads=in_dim // key_dim,
                attn_ratio=4.0,
                mlp_ratio=2.0,
                act_layer=act_layer,
                attn_act_layer=attn_act_layer,
                resolution=res,
                use_conv=use_conv,
                drop_path=drop_path,
                **dd,
            )
            res = ((res[0] - 1) // 2 + 1, (res[1] - 1) // 2 + 1)
        else:
            if in_dim != out_dim:
                raise ValueError(f"a stage without downsampling keeps its width: {in_dim} != {out_dim}")
            self.downsample = nn.Identity()
        self.blocks = nn.Sequential(
            *[
                LevitBlock(
                    out_dim,
                    key_dim,
                    num_heads=num_heads,
                    attn_ratio=attn_ratio,
                    mlp_ratio=mlp_ratio,
                    act_layer=act_layer,
                    attn_act_layer=attn_act_layer,
                    resolution=res,
                    use_conv=use_conv,
                    drop_path=drop_path,
                    **dd,
                )
                for _ in range(depth)
            ]
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class _ToTokens(nn.Module):
    """``(B, C, H, W)`` -> ``(B, H * W, C)``: the linear layout's entry to the stages."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(2).transpose(1, 2)


def _per_stage(value: Any, n: int, what: str) -> tuple[Any, ...]:
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(values) != n:
        raise ValueError(f"{what}={value!r}: give one value or one per stage ({n})")
    return values


class Levit(VisionModel):
    """LeViT: conv stem, then ``len(embed_dim)`` stages (each after the first opens with
    subsampling attention), mean-pooled into a batch-norm + linear head.

    ``use_conv`` picks the layout: ``(B, C, H, W)`` maps through 1x1 convs, else ``(B, N, C)``
    tokens through linear layers (the stages' outputs are tokens; ``forward_intermediates``
    gives maps in both). The attention biases are tables for the grid of ``img_size``, so the
    model takes that input size only. The drop path rate is the same in every block, as timm.
    """

    trunk = Trunk(stem=("stem", "to_tokens"), stages=("stages.*",))
    classifier_name = "head.linear"
    drop_path_schedule = "uniform"
    head_names = ("head", "head_dist")
    # NOTE: output_fmt is set per instance (the layout follows use_conv); TorchScript must not type it
    __jit_ignored_attributes__ = [*VisionModel.__jit_ignored_attributes__, "output_fmt"]

    def __init__(
        self,
        img_size: Size = 224,
        in_chans: int = 3,
        num_classes: int = 1000,
        embed_dim: tuple[int, ...] = (192,),
        key_dim: int = 64,
        depth: tuple[int, ...] = (12,),
        num_heads: int | tuple[int, ...] = (3,),
        attn_ratio: float | tuple[float, ...] = 2.0,
        mlp_ratio: float | tuple[float, ...] = 2.0,
        stem_backbone: nn.Module | None = None,
        stem_stride: int | None = None,
        stem_type: str = "s16",
        down_op: str = "subsample",
        act_layer: str | LayerFn = "hard_swish",
        attn_act_layer: str | LayerFn | None = None,
        use_conv: bool = False,
        global_pool: str = "avg",
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        check_pool(global_pool, ("", "avg"), model="LeViT")
        dd: dict[str, Any] = {"device": device, "dtype": dtype}
        act = cast(LayerFn, get_act_layer(act_layer))
        attn_act = cast(LayerFn, get_act_layer(attn_act_layer or act_layer))
        n = len(embed_dim)
        if len(depth) != n:
            raise ValueError(f"depth={depth!r} needs one value per stage of embed_dim={embed_dim!r}")
        heads = _per_stage(num_heads, n, "num_heads")
        attn_ratios = _per_stage(attn_ratio, n, "attn_ratio")
        mlp_ratios = _per_stage(mlp_ratio, n, "mlp_ratio")
        self.use_conv = use_conv
        self.num_classes = num_classes
        self.in_chans = in_chans
        self.global_pool = global_pool  # type: ignore[assignment]  # a pool type, not a module
        self.num_features = self.head_hidden_size = embed_dim[-1]
        self.embed_dim = embed_dim
        self.drop_rate = drop_rate

        if stem_backbone is not None:
            if stem_stride is None or stem_stride < 2:
                raise ValueError(f"stem_backbone needs its stride as stem_stride >= 2, got {stem_stride!r}")
            self.stem: nn.Module = stem_backbone
            stride = stem_stride
        elif stem_type in ("s16", "s8"):
            self.stem = (Stem16 if stem_type == "s16" else Stem8)(in_chans, embed_dim[0], act_layer=act, **dd)
            stride = 16 if stem_type == "s16" else 8
        else:
            raise ValueError(f"stem_type={stem_type!r}; use 's16' or 's8'")
        self.to_tokens = nn.Identity() if use_conv else _ToTokens()
        # NOTE: the layout of forward_features' output, per instance here: tokens in the linear one
        self.output_fmt = "NCHW" if use_conv else "NLC"  # type: ignore[misc]
        size = to_2tuple(img_size)
        res = (size[0] // stride, size[1] // stride)

        stages, in_dim = [], embed_dim[0]
        feature_info, grids = [], []
        for i in range(n):
            step = 2 if i > 0 else 1
            stages.append(
                LevitStage(
                    in_dim,
                    embed_dim[i],
                    key_dim,
                    depth=depth[i],
                    num_heads=heads[i],
                    attn_ratio=attn_ratios[i],
                    mlp_ratio=mlp_ratios[i],
                    act_layer=act,
                    attn_act_layer=attn_act,
                    resolution=res,
                    use_conv=use_conv,
                    downsample=down_op if step == 2 else "",
                    drop_path=drop_path_rate,
                    **dd,
                )
            )
            stride *= step
            res = ((res[0] - 1) // step + 1, (res[1] - 1) // step + 1)
            feature_info.append(dict(num_chs=embed_dim[i], reduction=stride, module=f"stages.{i}"))
            grids.append(res)
            in_dim = embed_dim[i]
        self.stages = nn.Sequential(*stages)
        self.feature_info = feature_info
        self.feature_grids = grids  # each stage's token grid (the linear layout's maps)
        self.head: nn.Module = self._new_head(num_classes)
        self._initialize()

    def _new_head(self, num_classes: int) -> nn.Module:
        ref = next(self.parameters(), None)
        dd: dict[str, Any] = dict(
            device=ref.device if ref is not None else None, dtype=ref.dtype if ref is not None else None
        )
        if num_classes <= 0:
            return nn.Identity()
        return NormLinear(self.num_features, num_classes, drop=self.drop_rate, **dd)

    def init_weights(self) -> None:
        """Zero offset biases; each norm's scale at its ``bn_weight_init`` (0 at the end of a
        residual branch); truncated-normal (0.02) classifiers; other layers PyTorch's defaults."""
        for m in self.modules():
            if isinstance(m, (ConvNorm, LinearNorm)):
                nn.init.constant_(m.bn.weight, m.bn_weight_init)
            elif isinstance(m, BiasedAttention):
                nn.init.zeros_(m.attention_biases)

    def no_weight_decay(self) -> set[str]:
        """The offset-bias tables."""
        return {k for k in self.state_dict() if "attention_biases" in k}

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [(r"^stages\.(\d+)\.downsample", (0,)), (r"^stages\.(\d+)\.blocks\.(\d+)", None)],
        )

    def _classifier(self) -> nn.Module:
        """The class head's linear layer (the name timm's cfg gives), or the identity."""
        return getattr(self.head, "linear", self.head)

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        if global_pool is not None:
            check_pool(global_pool, ("", "avg"), model="LeViT")
            self.global_pool = global_pool  # type: ignore[assignment]
        self.num_classes = num_classes
        self.head = self._new_head(num_classes)
        self.head.train(self.training)

    def _intermediates(
        self, x: torch.Tensor, take: list[int], *, stop_early: bool, norm: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """The trunk's walk; in the linear layout the stages' tokens become maps."""
        x, found = super()._intermediates(x, take, stop_early=stop_early, norm=norm)
        if not self.use_conv:
            found = [
                y.reshape(y.shape[0], *self.feature_grids[i], -1).permute(0, 3, 1, 2)
                for y, i in zip(found, sorted(take))
            ]
        return x, found

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        if self.global_pool == "avg":
            x = x.mean(dim=(-2, -1)) if self.use_conv else x.mean(dim=1)
        return x

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self._pool(x)
        return x if pre_logits else self.head(x)


class LevitDistilled(DistilledHeads, Levit):
    """LeViT with a second classifier (``head_dist``) on the same pooled features, trained to
    match a teacher (see :class:`~visionzoo.model.DistilledHeads`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.head_dist: nn.Module | None = self._new_head(self.num_classes)
        self.distilled_training = False

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        super().reset_classifier(num_classes, global_pool)
        self._replace_heads(num_classes, self._new_head)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self._pool(x)
        if pre_logits:
            return x
        head_dist = self.head_dist
        if head_dist is None:
            return self.head(x)
        return self._distilled_logits(self.head(x), head_dist(x))


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """The original checkpoints: weights under ``model``, and the offset index tables saved
    (``attention_bias_idxs``: computed here, so dropped)."""
    if "model" in state_dict:
        state_dict = state_dict["model"]
    return {k: v for k, v in state_dict.items() if "attention_bias_idxs" not in k}


LevitArgs = model_args_type(Levit)


def _v(
    dims: tuple[int, int, int],
    key_dim: int,
    heads: tuple[int, int, int],
    depth: tuple[int, int, int] = (4, 4, 4),
    **extra: Any,
) -> Any:
    return LevitArgs(embed_dim=dims, key_dim=key_dim, num_heads=heads, depth=depth, **extra)


_SILU: dict[str, Any] = dict(act_layer="silu")
_ARCHS: dict[str, Any] = {
    "128s": _v((128, 256, 384), 16, (4, 6, 8), depth=(2, 3, 4)),
    "128": _v((128, 256, 384), 16, (4, 8, 12)),
    "192": _v((192, 288, 384), 32, (3, 5, 6)),
    "256": _v((256, 384, 512), 32, (4, 6, 8)),
    "384": _v((384, 512, 768), 32, (6, 9, 12)),
    "384_s8": _v((384, 512, 768), 32, (6, 9, 12), stem_type="s8", **_SILU),  # stride-8 stems
    "512_s8": _v((512, 640, 896), 64, (8, 10, 14), stem_type="s8", **_SILU),
    "512": _v((512, 768, 1024), 64, (8, 12, 16), **_SILU),  # wider
    "256d": _v((256, 384, 512), 32, (4, 6, 8), depth=(4, 8, 6), **_SILU),  # deeper
    "512d": _v((512, 640, 768), 64, (8, 10, 12), depth=(4, 8, 6), **_SILU),
}
_UNDISTILLED = ("512_s8", "512", "256d", "512d")


def _variants(distilled: bool, use_conv: bool) -> dict[str, Any]:
    prefix = "levit_conv_" if use_conv else "levit_"
    return {
        f"{prefix}{k}": dataclasses.replace(a, use_conv=use_conv) if use_conv else a
        for k, a in _ARCHS.items()
        if (k not in _UNDISTILLED) == distilled
    }


_UNTRAINED = dict(NO_WEIGHTS, classifier="head.linear")
WEIGHTS: dict[str, dict[str, Any]] = {
    **{f"levit_{k}.fb_dist_in1k": weight() for k in ("128s", "128", "192", "256", "384")},
    **{
        f"levit_conv_{k}.fb_dist_in1k": weight(pool_size=(4, 4)) for k in ("128s", "128", "192", "256", "384")
    },
    **{f"levit_{k}.untrained": weight(_UNTRAINED) for k in ("384_s8", "512_s8", "512", "256d", "512d")},
    **{f"levit_conv_{k}.untrained": weight(_UNTRAINED) for k in ("384_s8", "512_s8", "512", "256d", "512d")},
}

_CFG_DEFAULTS: dict[str, Any] = dict(
    num_classes=1000,
    input_size=(3, 224, 224),
    pool_size=None,
    crop_pct=0.9,
    interpolation="bicubic",
    fixed_input_size=True,
    mean=IMAGENET_DEFAULT_MEAN,
    std=IMAGENET_DEFAULT_STD,
    first_conv="stem.conv1.linear",
    classifier=("head.linear", "head_dist.linear"),
    license="apache-2.0",
)


def _register(distilled: bool, use_conv: bool) -> dict[str, Any]:
    """One group: the distilled or plain class; the conv layout's backbone taps its stages by
    hooks (timm's flattened module list), the linear one's reads ``forward_intermediates``."""
    variants = _variants(distilled, use_conv)
    feature_cfg: dict[str, Any] = dict(flatten_sequential=True, out_indices=(0, 1, 2))
    if not use_conv:
        feature_cfg["feature_cls"] = "getter"
    return register_family(
        __name__,
        model_cls=LevitDistilled if distilled else Levit,
        variants=variants,
        weights={k: v for k, v in WEIGHTS.items() if k.split(".", 1)[0] in variants},
        cfg_defaults=_CFG_DEFAULTS,
        feature_cfg=feature_cfg,
        filter_fn=checkpoint_filter_fn,
    )


default_cfgs = {
    **_register(distilled=True, use_conv=False),
    **_register(distilled=True, use_conv=True),
    **_register(distilled=False, use_conv=False),
    **_register(distilled=False, use_conv=True),
}


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. levit_128s
    return family_entrypoint(__name__, name)
