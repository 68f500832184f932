"""ResNet-V2: pre-activation ResNets, and Big Transfer (BiT) with weight-standardised convs and group norm.

Papers:
* `Identity Mappings in Deep Residual Networks` - https://arxiv.org/abs/1603.05027
* `Big Transfer (BiT): General Visual Representation Learning` - https://arxiv.org/abs/1912.11370
* `Knowledge distillation: A good teacher is patient and consistent` - https://arxiv.org/abs/2106.05237
* `An Image is Worth 16x16 Words` (the non-pre-activation backbone of the ViT hybrids) -
  https://arxiv.org/abs/2010.11929

Weights: the ``goog_*`` tags are Google's BiT checkpoints (Apache-2.0), re-hosted by timm as
state dicts; their original big_vision ``.npz`` files load through :func:`load_bit_npz`. The
``ra4_*`` / ``a1h`` / ``ah`` tags were trained in timm (Apache-2.0). Module names follow timm's
ResNetV2, so timm checkpoints load unchanged.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, cast

import torch
from torch import nn

from ..adapt import adapt_input_conv
from ..layers import (
    AvgPool2dSame,
    BatchNormAct2d,
    ClassifierHead,
    DropPath,
    EvoNorm2dS0,
    FilterResponseNormTlu2d,
    GroupNormAct,
    LayerType,
    MaxPool2dSame,
    StdConv2d,
    act_or_identity,
    create_conv2d,
    get_norm_act_layer,
    make_divisible,
)
from ..model import Trunk, VisionModel
from ..pretrained import NO_WEIGHTS, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "VARIANTS",
    "WEIGHTS",
    "Bottleneck",
    "PreActBasic",
    "PreActBottleneck",
    "ResNetStage",
    "ResNetV2",
    "ResNetV2Args",
    "bit_npz_to_state_dict",
    "checkpoint_filter_fn",
    "create_resnetv2_stem",
    "default_cfgs",
    "is_stem_deep",
    "load_bit_npz",
    "resnetv2_stem",
]

STEM_TYPES = ("", "fixed", "same", "deep", "deep_fixed", "deep_same", "tiered")
ConvLayer = Callable[..., nn.Module]
NormLayer = Callable[..., nn.Module]


# --- blocks ---------------------------------------------------------------------------------------
class DownsampleConv(nn.Module):
    """Projection shortcut: strided 1x1 conv (then a norm without activation, unless pre-activation)."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        stride: int = 1,
        dilation: int = 1,
        preact: bool = True,
        conv_layer: ConvLayer,
        norm_layer: NormLayer,
    ) -> None:
        super().__init__()
        self.conv = conv_layer(in_chs, out_chs, 1, stride=stride)
        self.norm = nn.Identity() if preact else norm_layer(out_chs, apply_act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(x))


class DownsampleAvg(nn.Module):
    """Projection shortcut of the 'd' variants: 2x2 average pool, then a 1x1 conv."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        stride: int = 1,
        dilation: int = 1,
        preact: bool = True,
        conv_layer: ConvLayer,
        norm_layer: NormLayer,
    ) -> None:
        super().__init__()
        avg_stride = stride if dilation == 1 else 1
        if stride > 1 or dilation > 1:
            # a dilated stage keeps the resolution: pool with stride 1 and 'same' padding
            pool_cls = AvgPool2dSame if avg_stride == 1 and dilation > 1 else nn.AvgPool2d
            self.pool: nn.Module = pool_cls(2, avg_stride, ceil_mode=True, count_include_pad=False)
        else:
            self.pool = nn.Identity()
        self.conv = conv_layer(in_chs, out_chs, 1, stride=1)
        self.norm = nn.Identity() if preact else norm_layer(out_chs, apply_act=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(self.pool(x)))


ProjLayer = type[DownsampleConv] | type[DownsampleAvg]


class PreActBasic(nn.Module):
    """Pre-activation basic block: norm-act, 3x3 conv, norm-act, 3x3 conv, plus the shortcut.

    The shortcut projection (when the shape changes) reads the pre-activated input.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        bottle_ratio: float = 1.0,
        stride: int = 1,
        dilation: int = 1,
        first_dilation: int | None = None,
        groups: int = 1,
        act_layer: LayerType = nn.ReLU,
        conv_layer: ConvLayer = StdConv2d,
        norm_layer: NormLayer = GroupNormAct,
        proj_layer: ProjLayer | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        first_dilation = first_dilation or dilation
        mid_chs = make_divisible(out_chs * bottle_ratio)
        reshaped = stride != 1 or first_dilation != dilation or in_chs != out_chs
        self.downsample = (
            proj_layer(
                in_chs,
                out_chs,
                stride=stride,
                dilation=dilation,
                preact=True,
                conv_layer=conv_layer,
                norm_layer=norm_layer,
            )
            if proj_layer is not None and reshaped
            else None
        )
        self.norm1 = norm_layer(in_chs)
        self.conv1 = conv_layer(in_chs, mid_chs, 3, stride=stride, dilation=first_dilation, groups=groups)
        self.norm2 = norm_layer(mid_chs)
        self.conv2 = conv_layer(mid_chs, out_chs, 3, dilation=dilation, groups=groups)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()

    def zero_init_last(self) -> None:
        weight = getattr(self.conv2, "weight", None)
        if isinstance(weight, torch.Tensor):
            nn.init.zeros_(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_preact = self.norm1(x)
        shortcut = x if self.downsample is None else self.downsample(x_preact)
        x = self.conv2(self.norm2(self.conv1(x_preact)))
        return self.drop_path(x) + shortcut


class PreActBottleneck(nn.Module):
    """Pre-activation bottleneck: (norm-act, conv) x3 with 1x1 / 3x3 / 1x1 kernels.

    The stride sits on the 3x3 conv; the shortcut projection reads the pre-activated input.
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        bottle_ratio: float = 0.25,
        stride: int = 1,
        dilation: int = 1,
        first_dilation: int | None = None,
        groups: int = 1,
        act_layer: LayerType = nn.ReLU,
        conv_layer: ConvLayer = StdConv2d,
        norm_layer: NormLayer = GroupNormAct,
        proj_layer: ProjLayer | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        first_dilation = first_dilation or dilation
        mid_chs = make_divisible(out_chs * bottle_ratio)
        self.downsample = (
            proj_layer(
                in_chs,
                out_chs,
                stride=stride,
                dilation=dilation,
                preact=True,
                conv_layer=conv_layer,
                norm_layer=norm_layer,
            )
            if proj_layer is not None
            else None
        )
        self.norm1 = norm_layer(in_chs)
        self.conv1 = conv_layer(in_chs, mid_chs, 1)
        self.norm2 = norm_layer(mid_chs)
        self.conv2 = conv_layer(mid_chs, mid_chs, 3, stride=stride, dilation=first_dilation, groups=groups)
        self.norm3 = norm_layer(mid_chs)
        self.conv3 = conv_layer(mid_chs, out_chs, 1)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()

    def zero_init_last(self) -> None:
        weight = getattr(self.conv3, "weight", None)
        if isinstance(weight, torch.Tensor):
            nn.init.zeros_(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_preact = self.norm1(x)
        shortcut = x if self.downsample is None else self.downsample(x_preact)
        x = self.conv1(x_preact)
        x = self.conv2(self.norm2(x))
        x = self.conv3(self.norm3(x))
        return self.drop_path(x) + shortcut


class Bottleneck(nn.Module):
    """Post-activation bottleneck (ResNet v1.5 order) with this family's conv / norm layers: the
    backbone of the ViT hybrids."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        bottle_ratio: float = 0.25,
        stride: int = 1,
        dilation: int = 1,
        first_dilation: int | None = None,
        groups: int = 1,
        act_layer: LayerType = nn.ReLU,
        conv_layer: ConvLayer = StdConv2d,
        norm_layer: NormLayer = GroupNormAct,
        proj_layer: ProjLayer | None = None,
        drop_path_rate: float = 0.0,
    ) -> None:
        super().__init__()
        first_dilation = first_dilation or dilation
        mid_chs = make_divisible(out_chs * bottle_ratio)
        self.downsample = (
            proj_layer(
                in_chs,
                out_chs,
                stride=stride,
                dilation=dilation,
                preact=False,
                conv_layer=conv_layer,
                norm_layer=norm_layer,
            )
            if proj_layer is not None
            else None
        )
        self.conv1 = conv_layer(in_chs, mid_chs, 1)
        self.norm1 = norm_layer(mid_chs)
        self.conv2 = conv_layer(mid_chs, mid_chs, 3, stride=stride, dilation=first_dilation, groups=groups)
        self.norm2 = norm_layer(mid_chs)
        self.conv3 = conv_layer(mid_chs, out_chs, 1)
        self.norm3 = norm_layer(out_chs, apply_act=False)
        self.drop_path = DropPath(drop_path_rate) if drop_path_rate > 0 else nn.Identity()
        self.act3 = act_or_identity(act_layer, inplace=True)

    def zero_init_last(self) -> None:
        weight = getattr(self.norm3, "weight", None)
        if isinstance(weight, torch.Tensor):
            nn.init.zeros_(weight)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        x = self.norm1(self.conv1(x))
        x = self.norm2(self.conv2(x))
        x = self.norm3(self.conv3(x))
        return self.act3(self.drop_path(x) + shortcut)


BlockType = type[PreActBasic] | type[PreActBottleneck] | type[Bottleneck]


class ResNetStage(nn.Module):
    """``depth`` blocks; the first one changes resolution / width through its shortcut projection."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        *,
        stride: int,
        dilation: int,
        depth: int,
        block_fn: BlockType,
        bottle_ratio: float = 0.25,
        groups: int = 1,
        avg_down: bool = False,
        block_dpr: Sequence[float] | None = None,
        act_layer: LayerType = nn.ReLU,
        conv_layer: ConvLayer = StdConv2d,
        norm_layer: NormLayer = GroupNormAct,
    ) -> None:
        super().__init__()
        first_dilation = 1 if dilation in (1, 2) else 2
        proj_layer: ProjLayer | None = DownsampleAvg if avg_down else DownsampleConv
        self.blocks = nn.Sequential()
        for i in range(depth):
            self.blocks.add_module(
                str(i),
                block_fn(
                    in_chs if i == 0 else out_chs,
                    out_chs,
                    stride=stride if i == 0 else 1,
                    dilation=dilation,
                    first_dilation=first_dilation,
                    bottle_ratio=bottle_ratio,
                    groups=groups,
                    proj_layer=proj_layer,
                    drop_path_rate=block_dpr[i] if block_dpr else 0.0,
                    act_layer=act_layer,
                    conv_layer=conv_layer,
                    norm_layer=norm_layer,
                ),
            )
            first_dilation, proj_layer = dilation, None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(x)


def is_stem_deep(stem_type: str) -> bool:
    """Whether ``stem_type`` is a 3x3 conv stack (``deep*``, ``tiered``) rather than one 7x7 conv."""
    return "deep" in stem_type or "tiered" in stem_type


def resnetv2_stem(
    in_chs: int,
    out_chs: int = 64,
    *,
    stem_type: str = "",
    preact: bool = True,
    conv_layer: ConvLayer = StdConv2d,
    norm_layer: NormLayer = GroupNormAct,
) -> nn.Sequential:
    """The stride-4 stem: a 7x7 stride-2 conv (or a deep 3x3 stack), then a stride-2 max pool.

    Args:
        in_chs, out_chs: input channels, stem output channels.
        stem_type: ``''`` / ``'deep'`` / ``'tiered'`` (deep widths ``(3c/8, c/2)``) for the conv part,
            with the pooling padded symmetrically, ``'fixed'`` (one zero pixel each side, BiT's
            approximation of TF 'SAME') or ``'same'`` (TF 'SAME' from the input size, the hybrids').
        preact: no norm after the convs (the first block normalises its input).
    """
    if stem_type not in STEM_TYPES:
        raise ValueError(f"unknown stem_type {stem_type!r}; valid: {STEM_TYPES}")
    stem: OrderedDict[str, nn.Module] = OrderedDict()
    if is_stem_deep(stem_type):
        widths = (3 * out_chs // 8, out_chs // 2) if "tiered" in stem_type else (out_chs // 2, out_chs // 2)
        stem["conv1"] = conv_layer(in_chs, widths[0], kernel_size=3, stride=2)
        stem["norm1"] = norm_layer(widths[0])
        stem["conv2"] = conv_layer(widths[0], widths[1], kernel_size=3, stride=1)
        stem["norm2"] = norm_layer(widths[1])
        stem["conv3"] = conv_layer(widths[1], out_chs, kernel_size=3, stride=1)
        if not preact:
            stem["norm3"] = norm_layer(out_chs)
    else:
        stem["conv"] = conv_layer(in_chs, out_chs, kernel_size=7, stride=2)
        if not preact:
            stem["norm"] = norm_layer(out_chs)
    if "fixed" in stem_type:
        stem["pad"] = nn.ConstantPad2d(1, 0.0)
        stem["pool"] = nn.MaxPool2d(kernel_size=3, stride=2, padding=0)
    elif "same" in stem_type:
        stem["pool"] = MaxPool2dSame(kernel_size=3, stride=2)
    else:
        stem["pool"] = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
    return nn.Sequential(stem)


def create_resnetv2_stem(
    in_chs: int,
    out_chs: int = 64,
    stem_type: str = "",
    preact: bool = True,
    conv_layer: ConvLayer = StdConv2d,
    norm_layer: NormLayer = GroupNormAct,
) -> nn.Sequential:
    """timm's name and positional order for :func:`resnetv2_stem`."""
    return resnetv2_stem(
        in_chs, out_chs, stem_type=stem_type, preact=preact, conv_layer=conv_layer, norm_layer=norm_layer
    )


# --- model ----------------------------------------------------------------------------------------
class ResNetV2(VisionModel):
    """Pre-activation (v2) ResNet; with ``preact=False`` the post-activation backbone of the hybrids.

    Args:
        layers: blocks per stage.
        channels: output channels per stage (before ``width_factor``).
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
        output_stride: 32, 16 or 8 (later stages dilate instead of striding).
        width_factor: multiplies the stem and stage widths (BiT's ``x1``..``x4``).
        stem_chs: stem width (before ``width_factor``).
        stem_type: see :func:`resnetv2_stem`.
        avg_down: average-pool shortcut projections ('d' variants).
        preact: pre-activation blocks and a final norm; False for post-activation bottlenecks.
        basic: basic (two 3x3) blocks instead of bottlenecks (pre-activation only).
        bottle_ratio: block inner width as a fraction of its output width.
        act_layer, norm_layer: activation and norm (fused into one norm-act module; EvoNorm and
            FRN bring their own non-linearity).
        conv_layer: conv factory ``(in_chs, out_chs, kernel_size, stride=, dilation=, groups=)``;
            ``StdConv2d`` for BiT, ``create_conv2d`` for the batch-norm variants.
        drop_rate: dropout before the classifier.
        drop_path_rate: stochastic depth, rising linearly over the blocks.
        zero_init_last: zero the last layer of each residual branch at init.
    """

    # the stem level is read before the stem's pool; the final norm belongs to the last stage
    trunk = Trunk(
        stem=("stem.*",),
        stages=("stages.*",),
        post=("norm",),
        blocks=("blocks.*",),
        checkpoint="block",
        norm_last=True,
    )
    classifier_name = "head.fc"

    def __init__(
        self,
        layers: Sequence[int] = (3, 4, 6, 3),
        channels: Sequence[int] = (256, 512, 1024, 2048),
        *,
        num_classes: int = 1000,
        in_chans: int = 3,
        global_pool: str = "avg",
        output_stride: int = 32,
        width_factor: int = 1,
        stem_chs: int = 64,
        stem_type: str = "",
        avg_down: bool = False,
        preact: bool = True,
        basic: bool = False,
        bottle_ratio: float = 0.25,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = GroupNormAct,
        conv_layer: ConvLayer = StdConv2d,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        zero_init_last: bool = False,
    ) -> None:
        super().__init__()
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")
        if len(layers) > len(channels) or not all(isinstance(d, int) and d >= 1 for d in layers):
            raise ValueError(
                f"layers must be ints >= 1, at most one per channels entry; got {layers!r} for {channels!r}"
            )
        if basic and not preact:
            raise ValueError("basic blocks exist only with preact=True")
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        norm = get_norm_act_layer(norm_layer, act_layer=act_layer)
        if norm is None:
            raise ValueError(f"ResNetV2 needs a norm_layer, got {norm_layer!r}")

        stem_width = make_divisible(stem_chs * width_factor)
        self.stem = resnetv2_stem(
            in_chans, stem_width, stem_type=stem_type, preact=preact, conv_layer=conv_layer, norm_layer=norm
        )
        # the stem feature is taken before its pooling: the last conv (pre-act) or norm
        deep = is_stem_deep(stem_type)
        stem_feat = ("conv3" if deep else "conv") if preact else ("norm3" if deep else "norm")
        self.feature_info = [dict(num_chs=stem_width, reduction=2, module=f"stem.{stem_feat}")]

        block_fn: BlockType = (PreActBasic if basic else PreActBottleneck) if preact else Bottleneck
        total = sum(layers)
        rates = [drop_path_rate * i / (total - 1) if total > 1 else 0.0 for i in range(total)]
        prev_chs, curr_stride, dilation, start = stem_width, 4, 1, 0
        self.stages = nn.Sequential()
        for i, depth in enumerate(layers):
            out_chs = make_divisible(channels[i] * width_factor)
            stride = 1 if i == 0 else 2
            if curr_stride >= output_stride:
                dilation *= stride
                stride = 1
            self.stages.add_module(
                str(i),
                ResNetStage(
                    prev_chs,
                    out_chs,
                    stride=stride,
                    dilation=dilation,
                    depth=depth,
                    block_fn=block_fn,
                    bottle_ratio=bottle_ratio,
                    avg_down=avg_down,
                    block_dpr=rates[start : start + depth],
                    act_layer=act_layer,
                    conv_layer=conv_layer,
                    norm_layer=norm,
                ),
            )
            prev_chs, start = out_chs, start + depth
            curr_stride *= stride
            self.feature_info.append(dict(num_chs=prev_chs, reduction=curr_stride, module=f"stages.{i}"))

        self.num_features = prev_chs
        self.norm = norm(prev_chs) if preact else nn.Identity()
        self.num_classes = num_classes
        self.head = ClassifierHead(
            prev_chs, num_classes, pool_type=global_pool, drop_rate=drop_rate, use_conv=True
        )
        self.head_hidden_size = self.head.num_features
        self._initialize(zero_init_last=zero_init_last)

    def init_weights(self, zero_init_last: bool = True) -> None:
        """He-normal (fan-out) convs, unit norms, a small-normal classifier; optionally zero the last
        layer of each residual branch so every block starts as the identity."""
        for name, m in self.named_modules():
            if isinstance(m, nn.Linear) or (name == "head.fc" and isinstance(m, nn.Conv2d)):
                nn.init.normal_(m.weight, mean=0.0, std=0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm)):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif zero_init_last and isinstance(m, (PreActBasic, PreActBottleneck, Bottleneck)):
                m.zero_init_last()

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^stem",
            blocks=r"^stages\.(\d+)"
            if coarse
            else [(r"^stages\.(\d+)\.blocks\.(\d+)", None), (r"^norm", (99999,))],
        )

    def load_pretrained(self, checkpoint_path: str | os.PathLike[str], prefix: str = "resnet/") -> None:
        """Load an original BiT ``.npz`` checkpoint (see :func:`load_bit_npz`)."""
        load_bit_npz(self, checkpoint_path, prefix=prefix)


# --- BiT .npz checkpoints -------------------------------------------------------------------------
def _hwio_to_oihw(value: Any) -> torch.Tensor:
    t = value if isinstance(value, torch.Tensor) else torch.from_numpy(value.copy())
    return t.permute(3, 2, 0, 1).contiguous() if t.ndim == 4 else t


def bit_npz_to_state_dict(
    weights: Mapping[str, Any], model: ResNetV2, *, prefix: str = "resnet/"
) -> dict[str, torch.Tensor]:
    """Map BiT / big_vision ``.npz`` arrays to this model's state-dict keys.

    Layout: ``{prefix}root_block/standardized_conv2d/kernel`` (stem), ``{prefix}block{s}/unit{u:02d}/
    {a,b,c}/{standardized_conv2d/kernel, group_norm/gamma, group_norm/beta}`` (unit ``a`` holds the
    ``proj`` shortcut), ``{prefix}group_norm/*`` (final norm) and ``{prefix}head/conv2d/*``. Kernels
    are HWIO, ours OIHW. The head is mapped when the checkpoint has one and the model a conv head.

    Raises:
        KeyError: naming the first array the model needs that the checkpoint lacks.
    """

    def get(name: str) -> torch.Tensor:
        key = prefix + name
        if key not in weights:
            raise KeyError(f"BiT checkpoint has no array {key!r} (needed by {type(model).__name__})")
        return _hwio_to_oihw(weights[key])

    sd: dict[str, torch.Tensor] = {
        "stem.conv.weight": get("root_block/standardized_conv2d/kernel"),
        "norm.weight": get("group_norm/gamma"),
        "norm.bias": get("group_norm/beta"),
    }
    if isinstance(getattr(model.head, "fc", None), nn.Conv2d) and prefix + "head/conv2d/kernel" in weights:
        sd["head.fc.weight"] = get("head/conv2d/kernel")
        sd["head.fc.bias"] = get("head/conv2d/bias")
    for s, stage in enumerate(model.stages):
        for u, block in enumerate(cast(ResNetStage, stage).blocks):
            unit = f"block{s + 1}/unit{u + 1:02d}/"
            for i, part in enumerate("abc", start=1):
                sd[f"stages.{s}.blocks.{u}.conv{i}.weight"] = get(f"{unit}{part}/standardized_conv2d/kernel")
                sd[f"stages.{s}.blocks.{u}.norm{i}.weight"] = get(f"{unit}{part}/group_norm/gamma")
                sd[f"stages.{s}.blocks.{u}.norm{i}.bias"] = get(f"{unit}{part}/group_norm/beta")
            if block.downsample is not None:
                sd[f"stages.{s}.blocks.{u}.downsample.conv.weight"] = get(
                    f"{unit}a/proj/standardized_conv2d/kernel"
                )
    return sd


def checkpoint_filter_fn(state_dict: dict[str, Any], model: nn.Module) -> dict[str, Any]:
    """Checkpoints in Google's BiT ``.npz`` layout (arrays under ``resnet/...`` paths, as the hub
    reads an ``.npz``) become this model's state dict; timm's layout passes through unchanged."""
    if "resnet/root_block/standardized_conv2d/kernel" in state_dict and isinstance(model, ResNetV2):
        return bit_npz_to_state_dict(state_dict, model)
    return state_dict


def load_bit_npz(
    model: ResNetV2, checkpoint_path: str | os.PathLike[str], *, prefix: str = "resnet/"
) -> None:
    """Load an original BiT ``.npz`` into a pre-activation bottleneck ``model`` (no pickle is read).

    The stem conv is adapted to the model's ``in_chans``; a head of another class count keeps the
    model's own initialisation. Every other parameter must come from the file.

    Raises:
        ValueError: the file is not an ``.npz`` archive in the BiT layout.
        KeyError: an array the model needs is missing.
    """
    import numpy as np

    path = os.fspath(checkpoint_path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise
    except (OSError, ValueError, EOFError) as e:
        raise ValueError(f"{path!r} is not a readable .npz archive: {e}") from e
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(f"{path!r} holds a single array, not a BiT .npz archive of named arrays")
    with archive:
        anchor = prefix + "root_block/standardized_conv2d/kernel"
        if anchor not in archive.files:
            raise ValueError(f"{path!r} is not a BiT checkpoint: no {anchor!r} array (prefix={prefix!r})")
        try:
            arrays = {k: archive[k] for k in archive.files}
        except ValueError as e:  # e.g. object arrays, which would need pickle
            raise ValueError(f"{path!r} holds an array that cannot be read without pickle: {e}") from e
        sd = bit_npz_to_state_dict(arrays, model, prefix=prefix)
    stem = sd["stem.conv.weight"]
    sd["stem.conv.weight"] = adapt_input_conv(model.in_chans, stem, base_chans=stem.shape[1])
    own = model.state_dict()
    if "head.fc.weight" in sd and sd["head.fc.weight"].shape != own["head.fc.weight"].shape:
        del sd["head.fc.weight"], sd["head.fc.bias"]  # another class count: keep the model's head
    missing = sorted(set(own) - set(sd) - {"head.fc.weight", "head.fc.bias"})
    if missing:
        raise KeyError(f"BiT checkpoint {path!r} does not cover {missing[:5]} (model layout differs)")
    for key, value in sd.items():
        if own[key].shape != value.shape:
            raise ValueError(f"{key}: checkpoint shape {tuple(value.shape)} != model {tuple(own[key].shape)}")
    model.load_state_dict(sd, strict=False)


# --- variants -------------------------------------------------------------------------------------
ResNetV2Args = model_args_type(ResNetV2)
_BIT = dict(stem_type="fixed", conv_layer=partial(StdConv2d, eps=1e-8))
_BN = dict(conv_layer=create_conv2d, norm_layer=BatchNormAct2d)
_BASIC = dict(_BN, channels=(64, 128, 256, 512), basic=True, bottle_ratio=1.0)
_D = dict(stem_type="deep", avg_down=True)
_R18, _R34, _R50, _R101, _R152 = (2, 2, 2, 2), (3, 4, 6, 3), (3, 4, 6, 3), (3, 4, 23, 3), (3, 8, 36, 3)


def _v(layers: tuple[int, ...], *parts: dict[str, Any], **fields: Any) -> Any:
    merged: dict[str, Any] = {}
    for part in (*parts, fields):
        merged.update(part)
    return ResNetV2Args(layers=layers, **merged)


VARIANTS: dict[str, Any] = {
    "resnetv2_50x1_bit": _v(_R50, _BIT, width_factor=1),
    "resnetv2_50x3_bit": _v(_R50, _BIT, width_factor=3),
    "resnetv2_101x1_bit": _v(_R101, _BIT, width_factor=1),
    "resnetv2_101x3_bit": _v(_R101, _BIT, width_factor=3),
    "resnetv2_152x2_bit": _v(_R152, _BIT, width_factor=2),
    "resnetv2_152x4_bit": _v(_R152, _BIT, width_factor=4),
    "resnetv2_18": _v(_R18, _BASIC),
    "resnetv2_18d": _v(_R18, _BASIC, _D),
    "resnetv2_34": _v(_R34, _BASIC),
    "resnetv2_34d": _v(_R34, _BASIC, _D),
    "resnetv2_50": _v(_R50, _BN),
    "resnetv2_50d": _v(_R50, _BN, _D),
    "resnetv2_50t": _v(_R50, _BN, stem_type="tiered", avg_down=True),
    "resnetv2_101": _v(_R101, _BN),
    "resnetv2_101d": _v(_R101, _BN, _D),
    "resnetv2_152": _v(_R152, _BN),
    "resnetv2_152d": _v(_R152, _BN, _D),
    "resnetv2_50d_gn": _v(_R50, _D, conv_layer=create_conv2d, norm_layer=GroupNormAct),
    "resnetv2_50d_evos": _v(_R50, _D, conv_layer=create_conv2d, norm_layer=EvoNorm2dS0),
    "resnetv2_50d_frn": _v(_R50, _D, conv_layer=create_conv2d, norm_layer=FilterResponseNormTlu2d),
}

# --- weights --------------------------------------------------------------------------------------
# Fields that differ from CFG_DEFAULTS (over the core base: hub id "timm/arch.tag").
CFG_DEFAULTS = dict(
    interpolation="bilinear",
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
    pool_size=(7, 7),
    first_conv="stem.conv",
    classifier="head.fc",
    license="apache-2.0",
)
_NPZ = dict(custom_load=True)  # Google's originals are .npz files (load_bit_npz)
_IN21K = dict(_NPZ, num_classes=21843)
_IN21K_FT = dict(_NPZ, input_size=(3, 448, 448), pool_size=(14, 14), crop_pct=1.0)
_RA4 = dict(interpolation="bicubic", crop_pct=0.9, test_input_size=(3, 288, 288), test_crop_pct=1.0)
_A1H = dict(interpolation="bicubic", crop_pct=0.95, test_input_size=(3, 288, 288), test_crop_pct=1.0)
_DEEP = dict(first_conv="stem.conv1")
_UNTRAINED = dict(NO_WEIGHTS, interpolation="bicubic")

WEIGHTS: dict[str, dict[str, Any]] = {
    "resnetv2_50x1_bit.goog_distilled_in1k": weight(_NPZ, default=True, interpolation="bicubic"),
    "resnetv2_152x2_bit.goog_teacher_in21k_ft_in1k": weight(_NPZ, default=True, interpolation="bicubic"),
    "resnetv2_152x2_bit.goog_teacher_in21k_ft_in1k_384": weight(
        _NPZ, input_size=(3, 384, 384), pool_size=(12, 12), crop_pct=1.0, interpolation="bicubic"
    ),
    "resnetv2_50x1_bit.goog_in21k_ft_in1k": weight(_IN21K_FT),
    "resnetv2_50x3_bit.goog_in21k_ft_in1k": weight(_IN21K_FT, default=True),
    "resnetv2_101x1_bit.goog_in21k_ft_in1k": weight(_IN21K_FT, default=True),
    "resnetv2_101x3_bit.goog_in21k_ft_in1k": weight(_IN21K_FT, default=True),
    "resnetv2_152x2_bit.goog_in21k_ft_in1k": weight(_IN21K_FT),
    "resnetv2_152x4_bit.goog_in21k_ft_in1k": weight(
        _IN21K_FT, default=True, input_size=(3, 480, 480), pool_size=(15, 15)
    ),
    "resnetv2_50x1_bit.goog_in21k": weight(_IN21K),
    "resnetv2_50x3_bit.goog_in21k": weight(_IN21K),
    "resnetv2_101x1_bit.goog_in21k": weight(_IN21K),
    "resnetv2_101x3_bit.goog_in21k": weight(_IN21K),
    "resnetv2_152x2_bit.goog_in21k": weight(_IN21K),
    "resnetv2_152x4_bit.goog_in21k": weight(_IN21K),
    "resnetv2_18.ra4_e3600_r224_in1k": weight(_RA4),
    "resnetv2_18d.ra4_e3600_r224_in1k": weight(_RA4, _DEEP),
    "resnetv2_34.ra4_e3600_r224_in1k": weight(_RA4),
    "resnetv2_34d.ra4_e3600_r224_in1k": weight(_RA4, _DEEP, default=True),
    "resnetv2_34d.ra4_e3600_r384_in1k": weight(
        _DEEP,
        interpolation="bicubic",
        crop_pct=1.0,
        input_size=(3, 384, 384),
        pool_size=(12, 12),
        test_input_size=(3, 448, 448),
    ),
    "resnetv2_50.a1h_in1k": weight(_A1H),
    "resnetv2_50d.untrained": weight(_UNTRAINED, _DEEP),
    "resnetv2_50t.untrained": weight(_UNTRAINED, _DEEP),
    "resnetv2_101.a1h_in1k": weight(_A1H),
    "resnetv2_101d.untrained": weight(_UNTRAINED, _DEEP),
    "resnetv2_152.untrained": weight(_UNTRAINED),
    "resnetv2_152d.untrained": weight(_UNTRAINED, _DEEP),
    "resnetv2_50d_gn.ah_in1k": weight(_A1H, _DEEP),
    "resnetv2_50d_evos.ah_in1k": weight(_A1H, _DEEP),
    "resnetv2_50d_frn.untrained": weight(_UNTRAINED, _DEEP),
}

DEPRECATED: dict[str, str | None] = {
    "resnetv2_50x1_bitm": "resnetv2_50x1_bit.goog_in21k_ft_in1k",
    "resnetv2_50x3_bitm": "resnetv2_50x3_bit.goog_in21k_ft_in1k",
    "resnetv2_101x1_bitm": "resnetv2_101x1_bit.goog_in21k_ft_in1k",
    "resnetv2_101x3_bitm": "resnetv2_101x3_bit.goog_in21k_ft_in1k",
    "resnetv2_152x2_bitm": "resnetv2_152x2_bit.goog_in21k_ft_in1k",
    "resnetv2_152x4_bitm": "resnetv2_152x4_bit.goog_in21k_ft_in1k",
    "resnetv2_50x1_bitm_in21k": "resnetv2_50x1_bit.goog_in21k",
    "resnetv2_50x3_bitm_in21k": "resnetv2_50x3_bit.goog_in21k",
    "resnetv2_101x1_bitm_in21k": "resnetv2_101x1_bit.goog_in21k",
    "resnetv2_101x3_bitm_in21k": "resnetv2_101x3_bit.goog_in21k",
    "resnetv2_152x2_bitm_in21k": "resnetv2_152x2_bit.goog_in21k",
    "resnetv2_152x4_bitm_in21k": "resnetv2_152x4_bit.goog_in21k",
    "resnetv2_50x1_bit_distilled": "resnetv2_50x1_bit.goog_distilled_in1k",
    "resnetv2_152x2_bit_teacher": "resnetv2_152x2_bit.goog_teacher_in21k_ft_in1k",
    "resnetv2_152x2_bit_teacher_384": "resnetv2_152x2_bit.goog_teacher_in21k_ft_in1k_384",
}

default_cfgs = register_family(
    __name__,
    model_cls=ResNetV2,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=CFG_DEFAULTS,
    feature_cfg=dict(flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
    deprecated=DEPRECATED,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. resnetv2_50x1_bit
    return family_entrypoint(__name__, name)
