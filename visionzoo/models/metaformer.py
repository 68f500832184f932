"""MetaFormer: one block (norm -> token mixer -> residual, norm -> MLP -> residual) with the token
mixer as the variable: pooling (PoolFormer v1/v2), separable convolution (ConvFormer), separable
convolution then attention (CAFormer).

Papers:
* `MetaFormer Is Actually What You Need for Vision` - https://arxiv.org/abs/2111.11418
* `MetaFormer Baselines for Vision` - https://arxiv.org/abs/2210.13452

Weights: Apache-2.0 (sail-sg/metaformer, sail-sg/poolformer), as republished by timm. Module
names follow timm's MetaFormer, so its checkpoints load unchanged; the original sail-sg layouts
(``network.*`` / ``downsample_layers.*``) through :func:`checkpoint_filter_fn`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any, cast

import torch
from torch import nn

from ..layers import (
    Attention,
    DropPath,
    GroupNorm1,
    LayerNorm,
    LayerNorm2d,
    LayerType,
    Mlp,
    SelectAdaptivePool2d,
    calculate_drop_path_rates,
    get_act_layer,
)
from ..layers.classifier import check_num_classes
from ..model import Trunk, VisionModel
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "MetaFormer",
    "MetaFormerBlock",
    "MetaFormerStage",
    "Pooling",
    "SepConv",
    "StarReLU",
    "checkpoint_filter_fn",
]


# --- activations ----------------------------------------------------------------------------------
class StarReLU(nn.Module):
    """``scale * relu(x) ** 2 + bias`` with a learnt scalar scale and bias."""

    def __init__(
        self,
        scale_value: float = 1.0,
        bias_value: float = 0.0,
        scale_learnable: bool = True,
        bias_learnable: bool = True,
        mode: str | None = None,
        inplace: bool = False,
    ) -> None:
        super().__init__()
        self.inplace = inplace
        self.relu = nn.ReLU(inplace=inplace)
        self.scale = nn.Parameter(torch.full((1,), float(scale_value)), requires_grad=scale_learnable)
        self.bias = nn.Parameter(torch.full((1,), float(bias_value)), requires_grad=bias_learnable)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale * self.relu(x) ** 2 + self.bias


class SquaredReLU(nn.Module):
    """``relu(x) ** 2`` (https://arxiv.org/abs/2109.08668): the MLP head's activation."""

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.relu = nn.ReLU(inplace=inplace)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.square(self.relu(x))


# --- token mixers ---------------------------------------------------------------------------------
class Pooling(nn.Module):
    """PoolFormer's mixer: a stride-1 average pool (padding not counted) minus its input, so the
    block's residual adds only the neighbourhood's difference."""

    def __init__(self, pool_size: int = 3, **kwargs: Any) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(pool_size, stride=1, padding=pool_size // 2, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x) - x


class SepConv(nn.Module):
    """ConvFormer's mixer: MobileNetV2's inverted separable conv (1x1 expand -> act -> depthwise
    kxk -> act -> 1x1 project)."""

    def __init__(
        self,
        dim: int,
        expansion_ratio: float = 2,
        act1_layer: LayerType = StarReLU,
        act2_layer: LayerType = nn.Identity,
        bias: bool = False,
        kernel_size: int = 7,
        padding: int = 3,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        mid = int(expansion_ratio * dim)
        self.pwconv1 = nn.Conv2d(dim, mid, 1, bias=bias)
        self.act1 = _act(act1_layer)
        self.dwconv = nn.Conv2d(mid, mid, kernel_size, padding=padding, groups=mid, bias=bias)
        self.act2 = _act(act2_layer)
        self.pwconv2 = nn.Conv2d(mid, dim, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pwconv2(self.act2(self.dwconv(self.act1(self.pwconv1(x)))))


def _act(layer: LayerType) -> nn.Module:
    resolved = get_act_layer(layer)
    return nn.Identity() if resolved is None else resolved()


def _attention(
    dim: int, *, head_dim: int = 32, num_heads: int | None = None, proj_drop: float = 0.0, **_: Any
):
    """CAFormer's mixer: multi-head self-attention over the flattened map, ``head_dim`` wide heads
    (``dim // head_dim`` of them, at least one), no biases."""
    heads = num_heads or max(dim // head_dim, 1)
    return Attention(dim, heads, attn_head_dim=head_dim, qkv_bias=False, proj_bias=False, proj_drop=proj_drop)


# name -> (factory(dim, **mixer options), whether it runs on (B, C, H, W) maps)
_MIXERS: dict[str, tuple[Callable[..., nn.Module], bool]] = {
    "identity": (lambda dim, **_: nn.Identity(), True),
    "pooling": (lambda dim, pool_size=3, **_: Pooling(pool_size), True),
    "sepconv": (
        lambda dim, expansion_ratio=2, kernel_size=7, padding=3, **_: SepConv(
            dim, expansion_ratio, kernel_size=kernel_size, padding=padding
        ),
        True,
    ),
    "attention": (_attention, False),
}


# --- norms ----------------------------------------------------------------------------------------
def _no_bias(norm: nn.Module) -> nn.Module:
    # NOTE: the original MetaFormer norms have a weight and no bias (no ``bias`` key), eps 1e-6
    cast(Any, norm).bias = None  # nn.Module.__setattr__ is typed Tensor | Module; None unregisters
    return norm


_NORMS: dict[str, Callable[[int], nn.Module]] = {
    "groupnorm1": GroupNorm1,
    "groupnorm1_nobias": lambda c: _no_bias(GroupNorm1(c, eps=1e-6)),
    "layernorm2d": LayerNorm2d,
    "layernorm2d_nobias": lambda c: _no_bias(LayerNorm2d(c, eps=1e-6)),
    "layernorm_nobias": lambda c: _no_bias(LayerNorm(c, eps=1e-6)),
}


def _norm(name: str | None) -> Callable[[int], nn.Module]:
    if name is None:
        return lambda c: nn.Identity()
    if name not in _NORMS:
        raise ValueError(f"norm {name!r} is not one of {sorted(_NORMS)}")
    return _NORMS[name]


# --- blocks ---------------------------------------------------------------------------------------
class Stem(nn.Module):
    """7x7 stride-4 conv (padding 2), then a norm (or none)."""

    def __init__(self, in_channels: int, out_channels: int, norm_layer: str | None = None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 7, stride=4, padding=2)
        self.norm = _norm(norm_layer)(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x))


class Downsampling(nn.Module):
    """A norm (or none), then a strided conv."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        norm_layer: str | None = None,
    ) -> None:
        super().__init__()
        self.norm = _norm(norm_layer)(in_channels)
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.norm(x))


class Scale(nn.Module):
    """Per-channel learnt scale (layer scale on a branch, res scale on a shortcut)."""

    def __init__(
        self, dim: int, init_value: float = 1.0, trainable: bool = True, use_nchw: bool = True
    ) -> None:
        super().__init__()
        self.shape = (dim, 1, 1) if use_nchw else (dim,)
        self.scale = nn.Parameter(torch.full((dim,), float(init_value)), requires_grad=trainable)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale.view(self.shape)


def _scale(dim: int, init: float | None, nchw: bool) -> nn.Module:
    return nn.Identity() if init is None else Scale(dim, init, use_nchw=nchw)


class MetaFormerBlock(nn.Module):
    """``res_scale(x) + layer_scale(mixer(norm(x)))``, then the same with the MLP. On ``(B, C,
    H, W)`` maps (1x1-conv MLP) or, for attention, on ``(B, N, C)`` tokens."""

    def __init__(
        self,
        dim: int,
        *,
        token_mixer: str = "pooling",
        mixer_kwargs: dict[str, Any] | None = None,
        mlp_act: LayerType = StarReLU,
        mlp_bias: bool = False,
        norm_layer: Callable[[int], nn.Module] = LayerNorm2d,
        proj_drop: float = 0.0,
        drop_path: float = 0.0,
        layer_scale_init_value: float | None = None,
        res_scale_init_value: float | None = None,
    ) -> None:
        super().__init__()
        mixer, nchw = _MIXERS[token_mixer]
        self.norm1 = norm_layer(dim)
        self.token_mixer = mixer(dim, proj_drop=proj_drop, **(mixer_kwargs or {}))
        self.drop_path1 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.layer_scale1 = _scale(dim, layer_scale_init_value, nchw)
        self.res_scale1 = _scale(dim, res_scale_init_value, nchw)
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, 4 * dim, act_layer=mlp_act, bias=mlp_bias, drop=proj_drop, use_conv=nchw)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.layer_scale2 = _scale(dim, layer_scale_init_value, nchw)
        self.res_scale2 = _scale(dim, res_scale_init_value, nchw)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.res_scale1(x) + self.layer_scale1(self.drop_path1(self.token_mixer(self.norm1(x))))
        return self.res_scale2(x) + self.layer_scale2(self.drop_path2(self.mlp(self.norm2(x))))


class MetaFormerStage(nn.Module):
    """A 3x3 stride-2 conv downsample (norm first) where the width changes, then the blocks; an
    attention stage runs its blocks on the flattened tokens."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        depth: int,
        token_mixer: str,
        downsample_norm: str | None,
        drop_path_rates: Sequence[float],
        **block_kwargs: Any,
    ) -> None:
        super().__init__()
        self.use_nchw = _MIXERS[token_mixer][1]
        self.downsample: nn.Module = nn.Identity()
        if in_chs != out_chs:
            self.downsample = Downsampling(
                in_chs, out_chs, 3, stride=2, padding=1, norm_layer=downsample_norm
            )
        self.blocks = nn.Sequential(
            *(
                MetaFormerBlock(
                    out_chs, token_mixer=token_mixer, drop_path=drop_path_rates[i], **block_kwargs
                )
                for i in range(depth)
            )
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.downsample(x)
        if self.use_nchw:
            return self.blocks(x)
        b, c, h, w = x.shape
        x = self.blocks(x.flatten(2).transpose(1, 2))
        return x.transpose(1, 2).reshape(b, c, h, w)


class MetaFormerHead(nn.Module):
    """Pool -> norm (LayerNorm2d on the 1x1 map) -> flatten -> dropout -> classifier, the
    classifier a linear layer or an MLP (``fc1 -> squared ReLU -> LayerNorm -> fc2``)."""

    def __init__(self, num_features: int, num_classes: int, *, global_pool: str, drop_rate: float, mlp: bool):
        super().__init__()
        self.num_features = num_features
        self.mlp = mlp
        self.global_pool = SelectAdaptivePool2d(pool_type=global_pool)
        self.norm: nn.Module = LayerNorm2d(num_features)
        self.flatten: nn.Module = nn.Flatten(1) if global_pool else nn.Identity()
        self.drop = nn.Dropout(drop_rate)
        self.fc = self._classifier(num_classes)

    def _classifier(self, num_classes: int) -> nn.Module:
        if num_classes <= 0:
            return nn.Identity()
        if self.mlp:
            return Mlp(
                self.num_features,
                4 * self.num_features,
                num_classes,
                act_layer=SquaredReLU,
                norm_layer=LayerNorm,
            )
        return nn.Linear(self.num_features, num_classes)

    def reset(self, num_classes: int, global_pool: str | None = None, reset_other: bool = False) -> None:
        if global_pool is not None:
            pool = SelectAdaptivePool2d(pool_type=global_pool)
            if pool.feat_mult() != 1:
                raise ValueError(
                    f"global_pool={global_pool!r} changes the pooled width; MetaFormer's head needs 1x"
                )
            self.global_pool = pool
            self.flatten = nn.Flatten(1) if global_pool else nn.Identity()
        if reset_other:
            self.norm = nn.Identity()
        self.fc = self._classifier(num_classes)

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.drop(self.flatten(self.norm(self.global_pool(x))))
        return x if pre_logits else self.fc(x)


# --- model ----------------------------------------------------------------------------------------
class MetaFormer(VisionModel):
    """MetaFormer: a 7x7 stride-4 conv stem, then four stages of MetaFormer blocks.

    Args:
        depths: blocks per stage.
        dims: channels per stage.
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        global_pool: ``avg``, ``max``, ``avgmax`` or ``''`` (widening pools are refused).
        token_mixers: ``pooling``, ``sepconv``, ``attention`` or ``identity``; one or one per stage.
        mlp_act: the block MLPs' activation (StarReLU by default, GELU for PoolFormer v1).
        mlp_bias: biases in the block MLPs.
        drop_path_rate: stochastic depth, rising linearly to this over the blocks.
        proj_drop_rate: dropout in the mixers' projections and the MLPs.
        drop_rate: dropout before the classifier.
        layer_scale_init_values: layer-scale init, one or one per stage (None: no layer scale).
        res_scale_init_values: shortcut-scale init, one or one per stage (None: no res scale).
        downsample_norm: norm before the stem's and downsamples' convs (None: none).
        norm_layers: block norm, one or one per stage: ``groupnorm1``, ``groupnorm1_nobias``,
            ``layernorm2d``, ``layernorm2d_nobias``, ``layernorm_nobias`` (attention stages).
        use_mlp_head: an MLP classifier instead of a linear one.
        pool_size: the pooling mixer's window.
        head_dim: the attention mixer's head width.
        expansion_ratio, kernel_size: the separable-conv mixer's expansion and depthwise kernel.
    """

    trunk = Trunk(stem=("stem",), stages=("stages.*",))
    classifier_name = "head.fc"

    def __init__(
        self,
        depths: Sequence[int] = (2, 2, 6, 2),
        dims: Sequence[int] = (64, 128, 320, 512),
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "avg",
        token_mixers: str | Sequence[str] = "pooling",
        mlp_act: LayerType = StarReLU,
        mlp_bias: bool = False,
        drop_path_rate: float = 0.0,
        proj_drop_rate: float = 0.0,
        drop_rate: float = 0.0,
        layer_scale_init_values: float | Sequence[float | None] | None = None,
        res_scale_init_values: float | Sequence[float | None] | None = (None, None, 1.0, 1.0),
        downsample_norm: str | None = "layernorm2d_nobias",
        norm_layers: str | Sequence[str] = "layernorm2d_nobias",
        use_mlp_head: bool = True,
        pool_size: int = 3,
        head_dim: int = 32,
        expansion_ratio: float = 2,
        kernel_size: int = 7,
    ) -> None:
        super().__init__()
        n = len(depths)

        def per_stage(value: Any) -> list[Any]:
            out = list(value) if isinstance(value, (list, tuple)) else [value] * n
            if len(out) != n:
                raise ValueError(f"expected one value or {n} (one per stage), got {value!r}")
            return out

        mixers, norms = per_stage(token_mixers), per_stage(norm_layers)
        for m in mixers:
            if m not in _MIXERS:
                raise ValueError(f"token mixer {m!r} is not one of {sorted(_MIXERS)}")
        ls_inits, rs_inits = per_stage(layer_scale_init_values), per_stage(res_scale_init_values)
        mixer_kwargs = dict(
            pool_size=pool_size,
            head_dim=head_dim,
            expansion_ratio=expansion_ratio,
            kernel_size=kernel_size,
            padding=kernel_size // 2,
        )
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.stem = Stem(in_chans, dims[0], norm_layer=downsample_norm)
        rates = cast(
            list[list[float]], calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        )
        stages, prev = [], dims[0]
        self.feature_info = []
        for i in range(n):
            stages.append(
                MetaFormerStage(
                    prev,
                    dims[i],
                    depth=depths[i],
                    token_mixer=mixers[i],
                    downsample_norm=downsample_norm,
                    drop_path_rates=rates[i],
                    mixer_kwargs=mixer_kwargs,
                    mlp_act=mlp_act,
                    mlp_bias=mlp_bias,
                    norm_layer=_norm(norms[i]),
                    proj_drop=proj_drop_rate,
                    layer_scale_init_value=ls_inits[i],
                    res_scale_init_value=rs_inits[i],
                )
            )
            prev = dims[i]
            self.feature_info.append(dict(num_chs=prev, reduction=2 ** (i + 2), module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.num_features = self.head_hidden_size = prev
        check_num_classes(num_classes)
        self.head = MetaFormerHead(
            prev, num_classes, global_pool=global_pool, drop_rate=drop_rate, mlp=use_mlp_head
        )
        if self.head.global_pool.feat_mult() != 1:
            raise ValueError(
                f"global_pool={global_pool!r} changes the pooled width; MetaFormer's head needs 1x"
            )
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal (std 0.02) convs and linears, zero biases."""
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        # NOTE: timm's MetaFormer has none; this is the stage/block split of its siblings (ConvNeXt)
        return dict(
            stem=r"^stem",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [(r"^stages\.(\d+)\.downsample", (0,)), (r"^stages\.(\d+)\.blocks\.(\d+)", None)],
        )

    def reset_classifier(
        self, num_classes: int, global_pool: str | None = None, reset_other: bool = False
    ) -> None:
        """New classifier of ``num_classes`` outputs (0 removes it); ``reset_other`` also drops the
        head's norm."""
        check_num_classes(num_classes)
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else torch.device("cpu")
        with torch.device(device):
            self.head.num_features = self.num_features
            self.head.reset(num_classes, global_pool, reset_other=reset_other)
        if ref is not None:
            self.head.to(dtype=ref.dtype)
        self.head.train(self.training)
        self.num_classes = num_classes

    def get_classifier(self, name_only: bool = False) -> nn.Module | str:
        """The classifier: the MLP head's last layer (what the pretrained configs name; timm's
        module is the whole MLP), else the linear layer."""
        name = "head.fc.fc2" if isinstance(self.head.fc, Mlp) else "head.fc"
        return name if name_only else self.get_submodule(name)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        return self.head(x, pre_logits=pre_logits)

    def _prune_head(self) -> None:
        """The head's norm goes too: it was sized for the final features."""
        self.reset_classifier(0, "", reset_other=True)


# --- checkpoint remap -----------------------------------------------------------------------------
# the sail-sg PoolFormer v1 layout: network.{0,2,4,6} stages, network.{1,3,5} downsamples
_V1_RENAMES = (
    (re.compile(r"layer_scale_(\d+)"), r"layer_scale\1.scale"),
    (re.compile(r"^network\.1\."), "downsample_layers.1."),
    (re.compile(r"^network\.3\."), "downsample_layers.2."),
    (re.compile(r"^network\.5\."), "downsample_layers.3."),
    (re.compile(r"^network\.(2|4|6)\."), lambda m: f"network.{int(m.group(1)) // 2}."),
    (re.compile(r"^network\."), "stages."),
)
_RENAMES = (
    (re.compile(r"^downsample_layers\.(\d+)"), r"stages.\1.downsample"),
    (re.compile(r"downsample\.proj"), "downsample.conv"),
    (re.compile(r"patch_embed\.proj"), "patch_embed.conv"),
    (re.compile(r"^stages\.(\d+)\.(\d+)\."), r"stages.\1.blocks.\2."),
    (re.compile(r"^stages\.0\.downsample"), "stem"),
    (re.compile(r"^patch_embed"), "stem"),
    (re.compile(r"(post_norm|pre_norm)"), "norm"),
    (re.compile(r"^head\."), "head.fc."),
    (re.compile(r"^norm\."), "head.norm."),
)


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """The sail-sg layouts -> ours (timm's).

    * MetaFormer baselines: ``downsample_layers.i`` (``.0`` the stem) with ``proj`` convs,
      ``stages.i.j`` blocks, ``norm`` / ``head`` the head's norm and classifier;
    * PoolFormer v1: ``patch_embed``, ``network.{0,2,4,6}`` stages and ``network.{1,3,5}``
      downsamples, ``layer_scale_1/2`` tensors.
    Tensors whose shape differs only in layout (a scale stored ``(C, 1, 1)``) are reshaped.
    """
    if "stem.conv.weight" in state_dict:
        return state_dict
    v1 = "network.0.0.mlp.fc1.weight" in state_dict
    ours = model.state_dict()
    out = {}
    for key, value in state_dict.items():
        for pattern, repl in (_V1_RENAMES if v1 else ()) + _RENAMES:
            key = pattern.sub(repl, key)
        if key in ours and value.shape != ours[key].shape and value.numel() == ours[key].numel():
            value = value.reshape(ours[key].shape)
        out[key] = value
    return out


# --- variants -------------------------------------------------------------------------------------
MetaFormerArgs = model_args_type(MetaFormer)
_S12, _S24, _S36, _M48 = (2, 2, 6, 2), (4, 4, 12, 4), (6, 6, 18, 6), (8, 8, 24, 8)
_S18, _X36 = (3, 3, 9, 3), (3, 12, 18, 3)
_DS, _DM = (64, 128, 320, 512), (96, 192, 384, 768)
_DM36, _DB = (96, 192, 384, 576), (128, 256, 512, 768)
_POOL_V1 = dict(
    downsample_norm=None,
    mlp_act="gelu",
    mlp_bias=True,
    norm_layers="groupnorm1",
    res_scale_init_values=None,
    use_mlp_head=False,
)
_POOL_V2 = dict(norm_layers="groupnorm1_nobias", use_mlp_head=False)
_CONV = dict(token_mixers="sepconv")
_CA = dict(
    token_mixers=("sepconv", "sepconv", "attention", "attention"),
    norm_layers=("layernorm2d_nobias",) * 2 + ("layernorm_nobias",) * 2,
)

VARIANTS: dict[str, Any] = {
    "poolformer_s12": MetaFormerArgs(depths=_S12, dims=_DS, layer_scale_init_values=1e-5, **_POOL_V1),
    "poolformer_s24": MetaFormerArgs(depths=_S24, dims=_DS, layer_scale_init_values=1e-5, **_POOL_V1),
    "poolformer_s36": MetaFormerArgs(depths=_S36, dims=_DS, layer_scale_init_values=1e-6, **_POOL_V1),
    "poolformer_m36": MetaFormerArgs(depths=_S36, dims=_DM, layer_scale_init_values=1e-6, **_POOL_V1),
    "poolformer_m48": MetaFormerArgs(depths=_M48, dims=_DM, layer_scale_init_values=1e-6, **_POOL_V1),
    "poolformerv2_s12": MetaFormerArgs(depths=_S12, dims=_DS, **_POOL_V2),
    "poolformerv2_s24": MetaFormerArgs(depths=_S24, dims=_DS, **_POOL_V2),
    "poolformerv2_s36": MetaFormerArgs(depths=_S36, dims=_DS, **_POOL_V2),
    "poolformerv2_m36": MetaFormerArgs(depths=_S36, dims=_DM, **_POOL_V2),
    "poolformerv2_m48": MetaFormerArgs(depths=_M48, dims=_DM, **_POOL_V2),
    "convformer_s18": MetaFormerArgs(depths=_S18, dims=_DS, **_CONV),
    "convformer_s36": MetaFormerArgs(depths=_X36, dims=_DS, **_CONV),
    "convformer_m36": MetaFormerArgs(depths=_X36, dims=_DM36, **_CONV),
    "convformer_b36": MetaFormerArgs(depths=_X36, dims=_DB, **_CONV),
    "caformer_s18": MetaFormerArgs(depths=_S18, dims=_DS, **_CA),
    "caformer_s36": MetaFormerArgs(depths=_X36, dims=_DS, **_CA),
    "caformer_m36": MetaFormerArgs(depths=_X36, dims=_DM36, **_CA),
    "caformer_b36": MetaFormerArgs(depths=_X36, dims=_DB, **_CA),
}


# --- weights --------------------------------------------------------------------------------------
_MLP_HEAD = dict(classifier="head.fc.fc2")
_R384 = dict(input_size=(3, 384, 384), pool_size=(12, 12))


def _sail_tags(arch: str) -> dict[str, dict[str, Any]]:
    """ConvFormer's and CAFormer's five releases: in1k, in22k fine-tuned, in22k, at 224 and 384."""
    return {
        f"{arch}.sail_in1k": weight(_MLP_HEAD, default=True),
        f"{arch}.sail_in1k_384": weight(_MLP_HEAD, _R384),
        f"{arch}.sail_in22k_ft_in1k": weight(_MLP_HEAD),
        f"{arch}.sail_in22k_ft_in1k_384": weight(_MLP_HEAD, _R384),
        f"{arch}.sail_in22k": weight(_MLP_HEAD, num_classes=21841),
    }


WEIGHTS: dict[str, dict[str, Any]] = {
    **{f"poolformer_{s}.sail_in1k": weight(crop=0.9) for s in ("s12", "s24", "s36")},
    **{f"poolformer_{s}.sail_in1k": weight(crop=0.95) for s in ("m36", "m48")},
    **{f"poolformerv2_{s}.sail_in1k": weight() for s in ("s12", "s24", "s36", "m36", "m48")},
    **_sail_tags("convformer_s18"),
    **_sail_tags("convformer_s36"),
    **_sail_tags("convformer_m36"),
    **_sail_tags("convformer_b36"),
    **_sail_tags("caformer_s18"),
    **_sail_tags("caformer_s36"),
    **_sail_tags("caformer_m36"),
    **_sail_tags("caformer_b36"),
}

default_cfgs = register_family(
    __name__,
    model_cls=MetaFormer,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        crop_pct=1.0,
        interpolation="bicubic",
        classifier="head.fc",
        first_conv="stem.conv",
        license="apache-2.0",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. caformer_s18
    return family_entrypoint(__name__, name)
