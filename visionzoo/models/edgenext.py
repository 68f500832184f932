"""EdgeNeXt: a ConvNeXt-style convnet whose last block per stage is a split depthwise-transpose
attention block (multi-scale depthwise convs over channel groups, then cross-covariance
attention across channels).

Papers:
* `EdgeNeXt: Efficiently Amalgamated CNN-Transformer Architecture for Mobile Vision Applications`
  - https://arxiv.org/abs/2206.10589
* `Solving ImageNet: a Unified Scheme for Training any Backbone to Top Results` (USI weights) -
  https://arxiv.org/abs/2204.03475

Weights: the authors' ImageNet models (MIT) and timm's ``edgenext_small_rw``. Module names
follow timm's ``EdgeNeXt``; the authors' layout is remapped by :func:`checkpoint_filter_fn`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, cast

import torch
from torch import nn

from ..layers import (
    DropPath,
    LayerNorm2d,
    Mlp,
    calculate_drop_path_rates,
    create_conv2d,
    get_act_layer,
    trunc_normal_tf_,
)
from ..layers.activations import LayerType
from ..layers.classifier import check_num_classes
from ..layers.pos_embed_fourier import PositionalEncodingFourier
from ..layers.xca import XCA
from ..model import NormHeadModel, Trunk
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "ConvBlock",
    "EdgeNeXt",
    "EdgeNeXtStage",
    "SplitTransposeBlock",
    "checkpoint_filter_fn",
    "default_cfgs",
]

_LN_CL = partial(nn.LayerNorm, eps=1e-6)  # channels-last norm of the blocks
_LN_2D = partial(LayerNorm2d, eps=1e-6)  # channels-first norm of the stem, downsamples and head


def _scale(dim: int, init: float, dd: dict[str, Any]) -> nn.Parameter | None:
    """A per-channel layer scale starting at ``init`` (none for ``init <= 0``)."""
    return nn.Parameter(torch.full((dim,), init, **dd)) if init > 0 else None


class ConvBlock(nn.Module):
    """ConvNeXt block: depthwise kxk conv (strided and widening where it downsamples, the
    shortcut then taken after it), channels-last norm, MLP, layer scale, residual."""

    def __init__(
        self,
        dim: int,
        dim_out: int | None = None,
        kernel_size: int = 7,
        stride: int = 1,
        conv_bias: bool = True,
        expand_ratio: float = 4,
        ls_init_value: float = 1e-6,
        norm_layer: Callable[..., nn.Module] = _LN_CL,
        act_layer: Callable[..., nn.Module] = nn.GELU,
        drop_path: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = dict(device=device, dtype=dtype)
        dim_out = dim_out or dim
        self.shortcut_after_dw = stride > 1 or dim != dim_out
        self.conv_dw = create_conv2d(
            dim, dim_out, kernel_size, stride=stride, depthwise=True, bias=conv_bias, **dd
        )
        self.norm = norm_layer(dim_out, **dd)
        self.mlp = Mlp(dim_out, int(expand_ratio * dim_out), act_layer=act_layer, **dd)
        self.gamma = _scale(dim_out, ls_init_value, dd)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.conv_dw(x)
        if self.shortcut_after_dw:
            shortcut = x
        x = self.mlp(self.norm(x.permute(0, 2, 3, 1)))
        if self.gamma is not None:
            x = self.gamma * x
        return shortcut + self.drop_path(x.permute(0, 3, 1, 2))


class SplitTransposeBlock(nn.Module):
    """Split depthwise-transpose attention: the channels split into ``num_scales`` groups, each
    but the last through a depthwise 3x3 conv (after adding the previous group's output, a
    Res2Net-style hierarchy); then an optional Fourier position encoding, cross-covariance
    attention and an MLP, each residual with a layer scale."""

    def __init__(
        self,
        dim: int,
        num_scales: int = 1,
        num_heads: int = 8,
        expand_ratio: float = 4,
        use_pos_emb: bool = True,
        conv_bias: bool = True,
        qkv_bias: bool = True,
        ls_init_value: float = 1e-6,
        norm_layer: Callable[..., nn.Module] = _LN_CL,
        act_layer: Callable[..., nn.Module] = nn.GELU,
        drop_path: float = 0.0,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = dict(device=device, dtype=dtype)
        width = max(math.ceil(dim / num_scales), dim // num_scales)
        self.width = width
        self.num_scales = max(1, num_scales - 1)
        self.convs = nn.ModuleList(
            create_conv2d(width, width, 3, depthwise=True, bias=conv_bias, **dd)
            for _ in range(self.num_scales)
        )
        self.pos_embd = PositionalEncodingFourier(dim=dim, **dd) if use_pos_emb else None
        self.norm_xca = norm_layer(dim, **dd)
        self.gamma_xca = _scale(dim, ls_init_value, dd)
        self.xca = XCA(
            dim, num_heads=num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=proj_drop, **dd
        )
        self.norm = norm_layer(dim, eps=1e-6, **dd)
        self.mlp = Mlp(dim, int(expand_ratio * dim), act_layer=act_layer, **dd)
        self.gamma = _scale(dim, ls_init_value, dd)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        # NOTE: chunk, not split by width: the last group takes what the others leave
        groups = x.chunk(len(self.convs) + 1, dim=1)
        outs = []
        sp = groups[0]
        for i, conv in enumerate(self.convs):
            if i > 0:
                sp = sp + groups[i]
            sp = conv(sp)
            outs.append(sp)
        outs.append(groups[-1])
        x = torch.cat(outs, 1)

        b, c, h, w = x.shape
        x = x.reshape(b, c, h * w).permute(0, 2, 1)
        if self.pos_embd is not None:
            x = x + self.pos_embd(b, h, w).reshape(b, -1, x.shape[1]).permute(0, 2, 1)
        attn = self.xca(self.norm_xca(x))
        if self.gamma_xca is not None:
            attn = self.gamma_xca * attn
        x = (x + self.drop_path(attn)).reshape(b, h, w, c)
        x = self.mlp(self.norm(x))
        if self.gamma is not None:
            x = self.gamma * x
        return shortcut + self.drop_path(x.permute(0, 3, 1, 2))


class EdgeNeXtStage(nn.Module):
    """Downsample (norm + 2x2 stride-2 conv, unless the first block strides), conv blocks, then
    ``num_global_blocks`` split-transpose attention blocks."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        stride: int = 2,
        depth: int = 2,
        num_global_blocks: int = 1,
        num_heads: int = 4,
        scales: int = 2,
        kernel_size: int = 7,
        expand_ratio: float = 4,
        use_pos_emb: bool = False,
        downsample_block: bool = False,
        conv_bias: bool = True,
        ls_init_value: float = 1.0,
        drop_path_rates: Sequence[float] | None = None,
        norm_layer: Callable[..., nn.Module] = LayerNorm2d,
        norm_layer_cl: Callable[..., nn.Module] = _LN_CL,
        act_layer: Callable[..., nn.Module] = nn.GELU,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = dict(device=device, dtype=dtype)
        rates = list(drop_path_rates) if drop_path_rates is not None else [0.0] * depth
        self.downsample: nn.Module
        if downsample_block or stride == 1:
            self.downsample = nn.Identity()
        else:
            self.downsample = nn.Sequential(
                norm_layer(in_chs, **dd), nn.Conv2d(in_chs, out_chs, 2, stride=2, bias=conv_bias, **dd)
            )
            in_chs = out_chs
        blocks: list[nn.Module] = []
        for i in range(depth):
            if i < depth - num_global_blocks:
                block: nn.Module = ConvBlock(
                    in_chs,
                    out_chs,
                    kernel_size,
                    stride=stride if downsample_block and i == 0 else 1,
                    conv_bias=conv_bias,
                    expand_ratio=expand_ratio,
                    ls_init_value=ls_init_value,
                    norm_layer=norm_layer_cl,
                    act_layer=act_layer,
                    drop_path=rates[i],
                    **dd,
                )
            else:
                block = SplitTransposeBlock(
                    in_chs,
                    num_scales=scales,
                    num_heads=num_heads,
                    expand_ratio=expand_ratio,
                    use_pos_emb=use_pos_emb,
                    conv_bias=conv_bias,
                    ls_init_value=ls_init_value,
                    norm_layer=norm_layer_cl,
                    act_layer=act_layer,
                    drop_path=rates[i],
                    **dd,
                )
            blocks.append(block)
            in_chs = out_chs
        self.blocks = nn.Sequential(*blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


class EdgeNeXt(NormHeadModel):
    """Patch (or overlapping) stem at stride 4, four stages of conv blocks ending in split
    depthwise-transpose attention blocks, and a pool -> norm -> fc head (or norm first).

    Args:
        in_chans: input channels.
        num_classes: classifier outputs (0 for none).
        global_pool: pooling type.
        dims, depths: width and block count per stage.
        global_block_counts: attention blocks at the end of each stage.
        kernel_sizes: depthwise kernel of the conv blocks per stage.
        heads: attention heads per stage.
        d2_scales: channel groups of the split-transpose blocks per stage.
        use_pos_emb: a Fourier position encoding in the stage's attention blocks.
        ls_init_value: initial layer scale (<= 0: none).
        head_init_scale: scale of the classifier's initial weights.
        expand_ratio: MLP expansion.
        downsample_block: downsample with the first conv block's strided depthwise conv.
        conv_bias: biases on the convs.
        stem_type: ``"patch"`` (4x4 stride 4) or ``"overlap"`` (9x9 stride 4).
        head_norm_first: norm before pooling (``norm_pre``) instead of in the head.
        act_layer: activation.
        drop_path_rate, drop_rate: stochastic depth, rising over the blocks; dropout before the fc.
    """

    trunk = Trunk(
        stem=("stem",),
        stages=("stages.*",),
        post=("norm_pre",),  # NOTE: head_norm_first's norm belongs to the last stage
        blocks=("downsample", "blocks.*"),
        checkpoint="block",
        norm_last=True,
    )

    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        global_pool: str = "avg",
        dims: tuple[int, ...] = (24, 48, 88, 168),
        depths: tuple[int, ...] = (3, 3, 9, 3),
        global_block_counts: tuple[int, ...] = (0, 1, 1, 1),
        kernel_sizes: tuple[int, ...] = (3, 5, 7, 9),
        heads: tuple[int, ...] = (8, 8, 8, 8),
        d2_scales: tuple[int, ...] = (2, 2, 3, 4),
        use_pos_emb: tuple[bool, ...] = (False, True, False, False),
        ls_init_value: float = 1e-6,
        head_init_scale: float = 1.0,
        expand_ratio: float = 4,
        downsample_block: bool = False,
        conv_bias: bool = True,
        stem_type: str = "patch",
        head_norm_first: bool = False,
        act_layer: LayerType = nn.GELU,
        drop_path_rate: float = 0.0,
        drop_rate: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = dict(device=device, dtype=dtype)
        if stem_type not in ("patch", "overlap"):
            raise ValueError(f"stem_type must be 'patch' or 'overlap', got {stem_type!r}")
        check_num_classes(num_classes)
        act = get_act_layer(act_layer)
        if act is None:
            raise ValueError("EdgeNeXt needs an act_layer")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.head_init_scale = head_init_scale
        n = len(dims)
        kernel, pad = (4, 0) if stem_type == "patch" else (9, 9 // 2)
        self.stem = nn.Sequential(
            nn.Conv2d(in_chans, dims[0], kernel, stride=4, padding=pad, bias=conv_bias, **dd),
            _LN_2D(dims[0], **dd),
        )
        rates = cast(
            list[list[float]], calculate_drop_path_rates(drop_path_rate, list(depths), stagewise=True)
        )
        stages: list[nn.Module] = []
        self.feature_info = []
        in_chs, reduction = dims[0], 4
        for i in range(n):
            stride = 2 if i > 0 else 1
            reduction *= stride
            stages.append(
                EdgeNeXtStage(
                    in_chs,
                    dims[i],
                    stride=stride,
                    depth=depths[i],
                    num_global_blocks=global_block_counts[i],
                    num_heads=heads[i],
                    drop_path_rates=rates[i],
                    scales=d2_scales[i],
                    expand_ratio=expand_ratio,
                    kernel_size=kernel_sizes[i],
                    use_pos_emb=use_pos_emb[i],
                    ls_init_value=ls_init_value,
                    downsample_block=downsample_block,
                    conv_bias=conv_bias,
                    norm_layer=_LN_2D,
                    norm_layer_cl=_LN_CL,
                    act_layer=act,
                    **dd,
                )
            )
            in_chs = dims[i]
            self.feature_info.append(dict(num_chs=in_chs, reduction=reduction, module=f"stages.{i}"))
        self.stages = nn.Sequential(*stages)
        self.num_features = dims[-1]
        self._init_norm_head(
            num_classes,
            global_pool=global_pool,
            drop_rate=drop_rate,
            norm_layer=_LN_2D,
            norm_first=head_norm_first,
            **dd,
        )
        self._initialize()

    def init_weights(self) -> None:
        """Truncated-normal (TF-style, std 0.02) convs and linears, zero biases; the classifier's
        scaled by ``head_init_scale``."""
        for name, m in self.named_modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                trunc_normal_tf_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
                if isinstance(m, nn.Linear) and name.startswith("head."):
                    with torch.no_grad():
                        m.weight.mul_(self.head_init_scale)
                        if m.bias is not None:
                            m.bias.mul_(self.head_init_scale)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [
                (r"^stages\.(\d+)\.downsample", (0,)),
                (r"^stages\.(\d+)\.blocks\.(\d+)", None),
                (r"^norm_pre", (99999,)),
            ],
        )


# --- checkpoint remap -----------------------------------------------------------------------------
_RENAMES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^downsample_layers\.0\."), "stem."),
    (re.compile(r"^stages\.(\d+)\.(\d+)\."), r"stages.\1.blocks.\2."),
    (re.compile(r"^downsample_layers\.(\d+)\.(\d+)"), r"stages.\1.downsample.\2"),
    (re.compile(r"dwconv"), "conv_dw"),
    (re.compile(r"pwconv"), "mlp.fc"),
    (re.compile(r"^head\."), "head.fc."),
    (re.compile(r"^norm\."), "head.norm."),
)


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, torch.Tensor]:
    """The authors' training checkpoints -> ours: the weights under ``model_ema`` / ``model`` /
    ``state_dict``, ``downsample_layers`` split into the stem and the stages' downsamples,
    ``dwconv`` / ``pwconv1/2`` renamed, the head's norm and fc under ``head``; a 2-d tensor
    outside the head (a layer scale stored ``(1, C)``...) takes our shape."""
    if "head.norm.weight" in state_dict or "norm_pre.weight" in state_dict:
        return state_dict
    for key in ("model_ema", "model", "state_dict"):
        if key in state_dict:
            state_dict = state_dict[key]
            break
    ours = model.state_dict()
    out: dict[str, torch.Tensor] = {}
    for key, value in state_dict.items():
        for pattern, repl in _RENAMES:
            key = pattern.sub(repl, key)
        if value.ndim == 2 and "head" not in key:
            value = value.reshape(ours[key].shape)
        out[key] = value
    return out


# --- variants -------------------------------------------------------------------------------------
EdgeNeXtArgs = model_args_type(EdgeNeXt)

VARIANTS = {
    "edgenext_xx_small": EdgeNeXtArgs(depths=(2, 2, 6, 2), dims=(24, 48, 88, 168), heads=(4, 4, 4, 4)),
    "edgenext_x_small": EdgeNeXtArgs(depths=(3, 3, 9, 3), dims=(32, 64, 100, 192), heads=(4, 4, 4, 4)),
    "edgenext_small": EdgeNeXtArgs(depths=(3, 3, 9, 3), dims=(48, 96, 160, 304)),
    "edgenext_base": EdgeNeXtArgs(depths=(3, 3, 9, 3), dims=(80, 160, 288, 584)),
    "edgenext_small_rw": EdgeNeXtArgs(
        depths=(3, 3, 9, 3),
        dims=(48, 96, 192, 384),
        downsample_block=True,
        conv_bias=False,
        stem_type="overlap",
    ),
}

# --- weights --------------------------------------------------------------------------------------
_T288 = dict(test_input_size=(3, 288, 288), test_crop_pct=1.0)
_T320 = dict(test_input_size=(3, 320, 320), test_crop_pct=1.0)
WEIGHTS: dict[str, dict[str, Any]] = {
    "edgenext_xx_small.in1k": weight(_T288, default=True),
    "edgenext_x_small.in1k": weight(_T288, default=True),
    "edgenext_small.usi_in1k": weight(_T320, default=True, crop=0.95),
    "edgenext_base.usi_in1k": weight(_T320, default=True, crop=0.95),
    "edgenext_base.in21k_ft_in1k": weight(_T320, crop=0.95),
    "edgenext_small_rw.sw_in1k": weight(_T320, default=True),
}

default_cfgs = register_family(
    __name__,
    model_cls=EdgeNeXt,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        input_size=(3, 256, 256),
        pool_size=(8, 8),
        crop_pct=0.9,
        interpolation="bicubic",
        first_conv="stem.0",
        classifier="head.fc",
        license="mit",
    ),
    feature_cfg=dict(out_indices=(0, 1, 2, 3), flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. edgenext_small
    return family_entrypoint(__name__, name)
