"""Aligned Xception (the DeepLab variant): Xception-41, -65, -71 and their pre-activation ('p') forms.

Papers:
* `Xception: Deep Learning with Depthwise Separable Convolutions` - https://arxiv.org/abs/1610.02357
* `Encoder-Decoder with Atrous Separable Convolution for Semantic Image Segmentation` (the aligned,
  deeper Xception with strided separable convs instead of max-pools) - https://arxiv.org/abs/1802.02611

Weights: Apache-2.0 (``tf_in1k``: ported from TensorFlow DeepLab's model zoo; ``ra3_in1k``: trained
in timm). Module names follow timm's ``xception_aligned``, so timm checkpoints load unchanged.

Every block is three 3x3 depthwise-separable convs with a residual; a strided block does its
downsampling in the last of the three. The feature pyramid is therefore tapped *inside* each
strided block, at the input of that last conv (full resolution, before the stride), which is why
``features_only`` uses forward hooks rather than whole top-level modules.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from ..layers import (
    ClassifierHead,
    ConvNormAct,
    DropPath,
    LayerType,
    act_or_identity,
    create_conv2d,
    get_act_layer,
    get_norm_act_layer,
    get_norm_layer,
)
from ..model import Trunk, VisionModel
from ..pretrained import IMAGENET_INCEPTION_MEAN, IMAGENET_INCEPTION_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import as_dataclass, model_args_type

__all__ = [
    "PreSeparableConv2d",
    "PreXceptionModule",
    "SeparableConv2d",
    "XceptionAligned",
    "XceptionBlockCfg",
    "XceptionModule",
    "default_cfgs",
]

_STEM_CHS = 64  # both stem convs are fixed: in_chans -> 32 -> 64


# --- blocks ---------------------------------------------------------------------------------------
def _three(out_chs: int | Sequence[int]) -> tuple[int, int, int]:
    """One width for all three separable convs, or one width each."""
    if isinstance(out_chs, int) and not isinstance(out_chs, bool):
        return (out_chs, out_chs, out_chs)
    chs = tuple(out_chs) if isinstance(out_chs, Sequence) else ()
    if len(chs) != 3 or not all(isinstance(c, int) and c > 0 for c in chs):
        raise ValueError(f"out_chs must be an int or three positive ints, got {out_chs!r}")
    return chs[0], chs[1], chs[2]


class SeparableConv2d(nn.Module):
    """Depthwise 3x3 -> norm -> act -> pointwise 1x1 -> norm -> act (acts optional)."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        *,
        dilation: int = 1,
        padding: str | int = "",
        act_layer: LayerType | None = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
    ) -> None:
        super().__init__()
        norm = get_norm_layer(norm_layer)
        if norm is None:
            raise ValueError(f"SeparableConv2d needs a norm_layer, got {norm_layer!r}")
        self.conv_dw = create_conv2d(
            in_chs, in_chs, kernel_size, stride=stride, padding=padding, dilation=dilation, depthwise=True
        )
        self.bn_dw = norm(in_chs)
        self.act_dw = act_or_identity(act_layer, inplace=True)
        self.conv_pw = create_conv2d(in_chs, out_chs, 1)
        self.bn_pw = norm(out_chs)
        self.act_pw = act_or_identity(act_layer, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act_dw(self.bn_dw(self.conv_dw(x)))
        return self.act_pw(self.bn_pw(self.conv_pw(x)))


class PreSeparableConv2d(nn.Module):
    """Pre-activation separable conv: (norm + act) -> depthwise 3x3 -> pointwise 1x1."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 3,
        stride: int = 1,
        *,
        dilation: int = 1,
        padding: str | int = "",
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        first_act: bool = True,
    ) -> None:
        super().__init__()
        norm_act = get_norm_act_layer(norm_layer, act_layer)
        # the first conv of a block reads the block's own pre-activation, so it has none here
        self.norm = norm_act(in_chs, inplace=True) if first_act else nn.Identity()  # type: ignore[misc]
        self.conv_dw = create_conv2d(
            in_chs, in_chs, kernel_size, stride=stride, padding=padding, dilation=dilation, depthwise=True
        )
        self.conv_pw = create_conv2d(in_chs, out_chs, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_pw(self.conv_dw(self.norm(x)))


class _TapMixin(nn.Module):
    """Shared by both block kinds: the residual merge and the feature tap before the last conv.

    ``stack`` is the block's sequence of layers; its last entry is the (possibly strided)
    separable conv, and the feature tap is that conv's input.
    """

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        stack: nn.Sequential
        no_skip: bool
        drop_path: nn.Module | None

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _merge(self, branch: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        if self.no_skip:
            return branch
        if self.drop_path is not None:
            branch = self.drop_path(branch)
        return branch + self._shortcut(x)

    def _pre(self, x: torch.Tensor) -> torch.Tensor:
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self._pre(x)
        return self._merge(self.stack(x), x)

    def prune_to_tap(self) -> None:
        """Drop the last conv and the residual: the block then outputs its feature tap."""
        self.stack[-1] = nn.Identity()
        self.no_skip = True


class XceptionModule(_TapMixin):
    """Three separable convs with a residual (post-activation, the original Xception block).

    ``start_with_relu`` puts a ReLU before each separable conv (entry/middle/exit blocks);
    without it the convs carry their own activations (the last exit block).
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int | Sequence[int],
        stride: int = 1,
        *,
        dilation: int = 1,
        pad_type: str | int = "",
        start_with_relu: bool = True,
        no_skip: bool = False,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        drop_path: nn.Module | None = None,
    ) -> None:
        super().__init__()
        widths = _three(out_chs)
        self.in_channels = in_chs
        self.out_channels = widths[-1]
        self.no_skip = no_skip
        self.shortcut: nn.Module | None = None
        if not no_skip and (self.out_channels != in_chs or stride != 1):
            self.shortcut = ConvNormAct(
                in_chs, self.out_channels, 1, stride=stride, norm_layer=norm_layer, apply_act=False
            )
        self.stack = nn.Sequential()
        for i, width in enumerate(widths):
            if start_with_relu:
                # the first ReLU reads the block input, which the shortcut still needs
                self.stack.add_module(f"act{i + 1}", act_or_identity(act_layer, inplace=i > 0))
            conv = SeparableConv2d(
                in_chs,
                width,
                3,
                stride=stride if i == 2 else 1,
                dilation=dilation,
                padding=pad_type,
                act_layer=None if start_with_relu else act_layer,
                norm_layer=norm_layer,
            )
            self.stack.add_module(f"conv{i + 1}", conv)
            in_chs = width
        self.drop_path = drop_path

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.shortcut is None else self.shortcut(x)

    def prune_to_tap(self) -> None:
        super().prune_to_tap()
        self.shortcut = None


class PreXceptionModule(_TapMixin):
    """Pre-activation Xception block: norm + act once on entry, then three pre-act separable convs.

    The residual adds the *normalised* input (through a bare 1x1 conv when the shape changes).
    """

    def __init__(
        self,
        in_chs: int,
        out_chs: int | Sequence[int],
        stride: int = 1,
        *,
        dilation: int = 1,
        pad_type: str | int = "",
        no_skip: bool = False,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        drop_path: nn.Module | None = None,
    ) -> None:
        super().__init__()
        widths = _three(out_chs)
        self.in_channels = in_chs
        self.out_channels = widths[-1]
        self.no_skip = no_skip
        if not no_skip and (self.out_channels != in_chs or stride != 1):
            self.shortcut: nn.Module = create_conv2d(in_chs, self.out_channels, 1, stride=stride)
        else:
            self.shortcut = nn.Identity()
        self.norm = get_norm_act_layer(norm_layer, act_layer)(in_chs, inplace=True)  # type: ignore[misc]
        self.stack = nn.Sequential()
        for i, width in enumerate(widths):
            conv = PreSeparableConv2d(
                in_chs,
                width,
                3,
                stride=stride if i == 2 else 1,
                dilation=dilation,
                padding=pad_type,
                act_layer=act_layer,
                norm_layer=norm_layer,
                first_act=i > 0,
            )
            self.stack.add_module(f"conv{i + 1}", conv)
            in_chs = width
        self.drop_path = drop_path

    def _pre(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)

    def _shortcut(self, x: torch.Tensor) -> torch.Tensor:
        return self.shortcut(x)

    def prune_to_tap(self) -> None:
        super().prune_to_tap()
        self.shortcut = nn.Identity()


def _tap_block(block: nn.Module) -> _TapMixin:
    """``block`` as a block with a feature tap (every entry of ``XceptionAligned.blocks`` is one)."""
    if not isinstance(block, _TapMixin):
        raise TypeError(f"expected an Xception block with a feature tap, got {type(block).__name__}")
    return block


@dataclasses.dataclass(frozen=True)
class XceptionBlockCfg:
    """One block of the network (timm's ``block_cfg`` dict keys, so those dicts work too).

    Args:
        in_chs: input channels (the previous block's last width; 64 for the first block).
        out_chs: width of the three separable convs (one int, or three).
        stride: stride of the last conv (turned into dilation past ``output_stride``).
        no_skip: no residual (the last exit block).
        start_with_relu: ReLU before each conv (post-activation blocks only).
        pad_type: conv padding: ``''`` (symmetric), ``'same'`` (TF) or ``'valid'``.
    """

    in_chs: int
    out_chs: int | tuple[int, int, int]
    stride: int = 1
    no_skip: bool = False
    start_with_relu: bool = True
    pad_type: str = ""


# --- model ----------------------------------------------------------------------------------------
class XceptionAligned(VisionModel):
    """Aligned Xception: a two-conv stem, then a sequence of separable-conv residual blocks.

    Feature levels are tapped inside each strided block (input of its strided conv) plus the last
    block's output, so reductions are 2, 4, 8, 16, 32 with ``output_stride=32``.

    Args:
        block_cfg: the blocks, as :class:`XceptionBlockCfg` or dicts with its fields.
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        output_stride: 32, 16 or 8 (strides past it become dilation).
        preact: pre-activation blocks (the 'p' variants) instead of post-activation ones.
        act_layer, norm_layer: activation and norm layers (a class, factory or name).
        drop_rate: dropout before the classifier.
        drop_path_rate: stochastic depth, rising linearly to this over the blocks.
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
    """

    # levels before the last are read inside their blocks (with hooks); ``act`` ('p' models)
    # follows the last level
    trunk = Trunk(stem=("stem",), stages=("blocks.*",), post=("act",))
    classifier_name = "head.fc"

    def __init__(
        self,
        block_cfg: Sequence[XceptionBlockCfg | Mapping[str, Any]],
        num_classes: int = 1000,
        in_chans: int = 3,
        *,
        output_stride: int = 32,
        preact: bool = False,
        act_layer: LayerType = nn.ReLU,
        norm_layer: LayerType = nn.BatchNorm2d,
        drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        global_pool: str = "avg",
    ) -> None:
        super().__init__()
        if output_stride not in (8, 16, 32):
            raise ValueError(f"output_stride must be 8, 16 or 32, got {output_stride!r}")
        if isinstance(block_cfg, (str, Mapping)) or not isinstance(block_cfg, Sequence) or not block_cfg:
            raise TypeError(f"block_cfg must be a non-empty sequence of block configs, got {block_cfg!r}")
        blocks_cfg = [as_dataclass(XceptionBlockCfg, b, f"block_cfg[{i}]") for i, b in enumerate(block_cfg)]
        self._check_chain(blocks_cfg, preact)
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.preact = preact
        act = get_act_layer(act_layer)  # None (no activation) is allowed
        norm = get_norm_layer(norm_layer)
        if norm is None:
            raise ValueError(f"XceptionAligned needs a norm_layer, got {norm_layer!r}")

        stem_in = ConvNormAct(in_chans, 32, 3, stride=2, act_layer=act, norm_layer=norm)
        if preact:  # the first block's entry norm + act follows directly
            stem_out: nn.Module = create_conv2d(32, _STEM_CHS, 3)
        else:
            stem_out = ConvNormAct(32, _STEM_CHS, 3, act_layer=act, norm_layer=norm)
        self.stem = nn.Sequential(stem_in, stem_out)

        self.feature_info = []
        self.feature_blocks: list[int] = []  # index of the block holding each feature level
        self.blocks = nn.Sequential()
        net_stride, dilation = 2, 1
        last = len(blocks_cfg) - 1
        for i, cfg in enumerate(blocks_cfg):
            dpr = drop_path_rate * i / max(last, 1)
            stride, block_dilation = cfg.stride, dilation
            if stride > 1:
                tap = f"blocks.{i}.stack.conv2" if preact else f"blocks.{i}.stack.act3"
                width = _three(cfg.out_chs)[1]
                self.feature_info.append(dict(num_chs=width, reduction=net_stride, module=tap))
                self.feature_blocks.append(i)
                if net_stride * stride > output_stride:
                    # NOTE: the whole block keeps the dilation it had; later blocks get the new one
                    dilation *= stride
                    stride = 1
                else:
                    net_stride *= stride
            common: dict[str, Any] = dict(
                dilation=block_dilation,
                pad_type=cfg.pad_type,
                no_skip=cfg.no_skip,
                act_layer=act,
                norm_layer=norm,
                drop_path=DropPath(dpr) if dpr > 0 else None,
            )
            if preact:
                block: nn.Module = PreXceptionModule(cfg.in_chs, cfg.out_chs, stride, **common)
            else:
                block = XceptionModule(
                    cfg.in_chs, cfg.out_chs, stride, start_with_relu=cfg.start_with_relu, **common
                )
            self.blocks.add_module(str(i), block)
        num_features = _three(blocks_cfg[-1].out_chs)[-1]
        self.feature_info.append(dict(num_chs=num_features, reduction=net_stride, module=f"blocks.{last}"))
        self.feature_blocks.append(last)
        # not in-place: the last block's output is itself a feature level
        self.act = act_or_identity(act) if preact else nn.Identity()

        self.num_classes = num_classes
        self.num_features = num_features
        self.head = ClassifierHead(num_features, num_classes, pool_type=global_pool, drop_rate=drop_rate)
        self.head_hidden_size = self.head.num_features
        self._initialize()

    @staticmethod
    def _check_chain(blocks: list[XceptionBlockCfg], preact: bool) -> None:
        """Fail at construction, naming the block, rather than with a shape error in forward."""
        prev = _STEM_CHS
        for i, b in enumerate(blocks):
            if isinstance(b.stride, bool) or not isinstance(b.stride, int) or b.stride < 1:
                raise ValueError(f"block_cfg[{i}].stride must be an int >= 1, got {b.stride!r}")
            if b.in_chs != prev:
                raise ValueError(
                    f"block_cfg[{i}].in_chs={b.in_chs} but its input has {prev} channels "
                    f"({'the stem' if i == 0 else f'block {i - 1}'}'s output)"
                )
            if preact and not b.start_with_relu:
                raise ValueError(
                    f"block_cfg[{i}].start_with_relu=False applies only to preact=False models; "
                    "pre-activation blocks always start with their norm + act"
                )
            prev = _three(b.out_chs)[-1]

    def init_weights(self) -> None:
        """PyTorch's default init (as the reference implementation uses): nothing to add."""

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^stem", blocks=r"^blocks\.(\d+)")

    def _prune_trunk(self, max_index: int) -> None:
        """A level before the last is read inside its block: that block ends at its tap."""
        super()._prune_trunk(max_index)
        if max_index < len(self.feature_info) - 1:
            _tap_block(self.blocks[-1]).prune_to_tap()


# --- variants -------------------------------------------------------------------------------------
XceptionAlignedArgs = model_args_type(XceptionAligned)
_B = XceptionBlockCfg
_TF_BN = partial(nn.BatchNorm2d, eps=1e-3, momentum=0.1)  # TensorFlow's batch norm epsilon


def _blocks(entry: tuple[tuple[int, int, int], ...], middle: int, *, preact: bool) -> tuple[_B, ...]:
    """Entry flow ``(in, out, stride)`` blocks, ``middle`` 728-wide blocks, then the exit flow."""
    last = _B(1024, (1536, 1536, 2048), no_skip=True, start_with_relu=preact)
    return (
        *(_B(i, o, s) for i, o, s in entry),
        *(_B(728, 728) for _ in range(middle)),
        _B(728, (728, 1024, 1024), stride=2),
        last,
    )


_ENTRY = ((64, 128, 2), (128, 256, 2), (256, 728, 2))
_ENTRY71 = ((64, 128, 2), (128, 256, 1), (256, 256, 2), (256, 728, 1), (728, 728, 2))

VARIANTS: dict[str, Any] = {
    "xception41": XceptionAlignedArgs(block_cfg=_blocks(_ENTRY, 8, preact=False), norm_layer=_TF_BN),
    "xception65": XceptionAlignedArgs(block_cfg=_blocks(_ENTRY, 16, preact=False), norm_layer=_TF_BN),
    "xception71": XceptionAlignedArgs(block_cfg=_blocks(_ENTRY71, 16, preact=False), norm_layer=_TF_BN),
    "xception41p": XceptionAlignedArgs(block_cfg=_blocks(_ENTRY, 8, preact=True), preact=True),
    "xception65p": XceptionAlignedArgs(
        block_cfg=_blocks(_ENTRY, 16, preact=True), preact=True, norm_layer=_TF_BN
    ),
}

# --- weights --------------------------------------------------------------------------------------
_TF: dict[str, Any] = {}  # ported from TensorFlow DeepLab
_RA3 = dict(crop_pct=0.94)  # trained in timm (RandAugment recipe 3)

WEIGHTS = {
    "xception65.ra3_in1k": weight(_RA3, default=True),
    "xception41.tf_in1k": weight(_TF),
    "xception65.tf_in1k": weight(_TF),
    "xception71.tf_in1k": weight(_TF),
    "xception41p.ra3_in1k": weight(_RA3),
    "xception65p.ra3_in1k": weight(_RA3),
}

default_cfgs = register_family(
    __name__,
    model_cls=XceptionAligned,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        input_size=(3, 299, 299),
        pool_size=(10, 10),
        crop_pct=0.903,
        mean=IMAGENET_INCEPTION_MEAN,
        std=IMAGENET_INCEPTION_STD,
        first_conv="stem.0.conv",
        classifier="head.fc",
        license="apache-2.0",
    ),
    feature_cfg=dict(flatten_sequential=True, feature_cls="hook"),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. xception65
    return family_entrypoint(__name__, name)
