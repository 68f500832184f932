"""PNASNet-5 Large, and the cell-trunk machinery NASNet shares.

Paper: `Progressive Neural Architecture Search` - https://arxiv.org/abs/1712.00559

Weights: TensorFlow's (``tf_in1k``), ported by Cadene's pretrained-models; module names follow
timm's ``PNASNet5Large``, so its checkpoints load unchanged.

The trunk is not a sequence: every cell takes the outputs of the two layers before it. A cell
sums pairs of branches ("combinations") and concatenates the sums; which branch reads which input
is the cell's wiring, its branches are the table each cell builds. The feature levels are read
where the next cell would read them: after the ReLU that starts its 1x1 conv.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

import torch
import torch.fx
import torch.nn.functional as F
from torch import nn
from torch.utils.checkpoint import checkpoint

from ..layers import ConvNormAct, create_conv2d, create_pool2d
from ..model import VisionModel
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "ActConvBn",
    "BranchSeparables",
    "Cell",
    "CellNet",
    "CellStem0",
    "Factorized",
    "FactorizedReduction",
    "PNASNet5Large",
    "SeparableConv2d",
    "default_cfgs",
]

_BN = partial(nn.BatchNorm2d, eps=0.001)  # TensorFlow's epsilon


# --- branches -------------------------------------------------------------------------------------
class ActConvBn(nn.Module):
    """ReLU, conv, BN: the 1x1 projection each cell starts its inputs with."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, padding: str = ""
    ) -> None:
        super().__init__()
        self.act = nn.ReLU()
        self.conv = create_conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding)
        self.bn = _BN(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(self.act(x)))


class SeparableConv2d(nn.Module):
    """Depthwise then pointwise conv (no norm between)."""

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int, padding: str = ""
    ) -> None:
        super().__init__()
        self.depthwise_conv2d = create_conv2d(
            in_channels, in_channels, kernel_size, stride=stride, padding=padding, groups=in_channels
        )
        self.pointwise_conv2d = create_conv2d(in_channels, out_channels, 1, padding=padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv2d(self.depthwise_conv2d(x))


class BranchSeparables(nn.Module):
    """Two ReLU-separable-BN units; the first strides, and in a stem cell also sets the width."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        stem_cell: bool = False,
        padding: str = "",
    ) -> None:
        super().__init__()
        mid = out_channels if stem_cell else in_channels
        self.act_1 = nn.ReLU()
        self.separable_1 = SeparableConv2d(in_channels, mid, kernel_size, stride, padding)
        self.bn_sep_1 = _BN(mid)
        self.act_2 = nn.ReLU()
        self.separable_2 = SeparableConv2d(mid, out_channels, kernel_size, 1, padding)
        self.bn_sep_2 = _BN(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn_sep_1(self.separable_1(self.act_1(x)))
        return self.bn_sep_2(self.separable_2(self.act_2(x)))


class Factorized(nn.Module):
    """Holds a factorized reduction as ``act``, ``path_1``, ``path_2``, ``final_path_bn`` (a
    stride-2 1x1 projection in two halves: one of the even pixels, one of the odd pixels shifted
    in, concatenated and normalised); NASNet's cells hold these directly."""

    def _add_factorized(self, in_chs: int, out_chs: int) -> None:
        def path(shift: bool) -> nn.Sequential:
            layers: list[tuple[str, nn.Module]] = [("pad", nn.ZeroPad2d((-1, 1, -1, 1)))] if shift else []
            layers.append(("avgpool", nn.AvgPool2d(1, stride=2, count_include_pad=False)))
            layers.append(("conv", nn.Conv2d(in_chs, out_chs // 2, 1, bias=False)))
            return nn.Sequential(OrderedDict(layers))

        self.act = nn.ReLU()
        self.path_1 = path(False)
        self.path_2 = path(True)
        self.final_path_bn = _BN(out_chs)

    def factorized_reduce(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(x)
        return self.final_path_bn(torch.cat([self.path_1(x), self.path_2(x)], 1))


class FactorizedReduction(Factorized):
    """Halves the resolution of a cell's older input (see :class:`Factorized`)."""

    def __init__(self, in_channels: int, out_channels: int, padding: str = "") -> None:
        super().__init__()
        del padding  # (timm's signature: 1x1 convs need none)
        self._add_factorized(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.factorized_reduce(x)


def _max_pool(stride: int, padding: str) -> nn.Module:
    return create_pool2d("max", 3, stride=stride, padding=padding)


# --- cells ----------------------------------------------------------------------------------------
class _PnasCell(nn.Module):
    """The PNASNet wiring: five sums of two branches each, concatenated."""

    if TYPE_CHECKING:  # NOTE: the branches are the subclasses' (for type checkers only)

        def __getattr__(self, name: str) -> Any: ...

    def combine(self, left: torch.Tensor, right: torch.Tensor) -> torch.Tensor:
        c0 = self.comb_iter_0_left(left) + self.comb_iter_0_right(left)
        c1 = self.comb_iter_1_left(right) + self.comb_iter_1_right(right)
        c2 = self.comb_iter_2_left(right) + self.comb_iter_2_right(right)
        c3 = self.comb_iter_3_left(c2) + self.comb_iter_3_right(right)
        c4 = self.comb_iter_4_left(left)
        c4 = c4 + (right if self.comb_iter_4_right is None else self.comb_iter_4_right(right))
        return torch.cat([c0, c1, c2, c3, c4], 1)


class CellStem0(_PnasCell):
    """The first cell: one input (the stem conv's output), halved in resolution."""

    def __init__(
        self, in_chs_left: int, out_chs_left: int, in_chs_right: int, out_chs_right: int, pad_type: str = ""
    ) -> None:
        super().__init__()
        p, r = pad_type, out_chs_right
        self.conv_1x1 = ActConvBn(in_chs_right, r, 1, padding=p)
        self.comb_iter_0_left = BranchSeparables(in_chs_left, out_chs_left, 5, 2, stem_cell=True, padding=p)
        self.comb_iter_0_right = nn.Sequential(
            OrderedDict(
                max_pool=_max_pool(2, p),
                conv=create_conv2d(in_chs_left, out_chs_left, 1, padding=p),
                bn=_BN(out_chs_left),
            )
        )
        self.comb_iter_1_left = BranchSeparables(r, r, 7, 2, padding=p)
        self.comb_iter_1_right = _max_pool(2, p)
        self.comb_iter_2_left = BranchSeparables(r, r, 5, 2, padding=p)
        self.comb_iter_2_right = BranchSeparables(r, r, 3, 2, padding=p)
        self.comb_iter_3_left = BranchSeparables(r, r, 3, padding=p)
        self.comb_iter_3_right = _max_pool(2, p)
        self.comb_iter_4_left = BranchSeparables(in_chs_right, r, 3, 2, stem_cell=True, padding=p)
        self.comb_iter_4_right = ActConvBn(r, r, 1, 2, padding=p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.combine(x, self.conv_1x1(x))


class Cell(_PnasCell):
    """A cell on (older input ``x_left``, newer input ``x_right``); a reduction cell halves the
    resolution, and one after a reduction halves its older input to match."""

    def __init__(
        self,
        in_chs_left: int,
        out_chs_left: int,
        in_chs_right: int,
        out_chs_right: int,
        pad_type: str = "",
        is_reduction: bool = False,
        match_prev_layer_dims: bool = False,
    ) -> None:
        super().__init__()
        s, p, lw, r = 2 if is_reduction else 1, pad_type, out_chs_left, out_chs_right
        self.match_prev_layer_dimensions = match_prev_layer_dims
        self.conv_prev_1x1 = (
            FactorizedReduction(in_chs_left, lw, padding=p)
            if match_prev_layer_dims
            else ActConvBn(in_chs_left, lw, 1, padding=p)
        )
        self.conv_1x1 = ActConvBn(in_chs_right, r, 1, padding=p)
        self.comb_iter_0_left = BranchSeparables(lw, lw, 5, s, padding=p)
        self.comb_iter_0_right = _max_pool(s, p)
        self.comb_iter_1_left = BranchSeparables(r, r, 7, s, padding=p)
        self.comb_iter_1_right = _max_pool(s, p)
        self.comb_iter_2_left = BranchSeparables(r, r, 5, s, padding=p)
        self.comb_iter_2_right = BranchSeparables(r, r, 3, s, padding=p)
        self.comb_iter_3_left = BranchSeparables(r, r, 3)
        self.comb_iter_3_right = _max_pool(s, p)
        self.comb_iter_4_left = BranchSeparables(lw, lw, 3, s, padding=p)
        self.comb_iter_4_right = ActConvBn(r, r, 1, s, padding=p) if is_reduction else None

    def forward(self, x_left: torch.Tensor, x_right: torch.Tensor) -> torch.Tensor:
        return self.combine(self.conv_prev_1x1(x_left), self.conv_1x1(x_right))


# --- the cell trunk, shared with NASNet -----------------------------------------------------------
class CellNet(VisionModel):
    """A stem conv and cells, each cell taking the outputs of the two layers before it.

    Subclasses set ``layer_names`` (the trunk's layers in forward order), ``feature_ends`` (the
    layer each feature level is read after) and :meth:`_step` (which two outputs a cell takes).
    Levels between the stem and the last are the cell outputs after a ReLU (what the next cell's
    1x1 projection reads, where ``feature_info`` hooks them); the last is the final ReLU's.
    Pruning removes the layers after the last kept level (set to None, as timm does).
    """

    classifier_name = "last_linear"
    head_names = ("global_pool", "last_linear")
    # NOTE: the smallest (C, H, W) the trunk takes (its stem conv is unpadded), for callers and
    # the contract tests; timm's configs carry none, and ours equal timm's field by field
    min_input_size: ClassVar[tuple[int, int, int]] = (3, 3, 3)
    if TYPE_CHECKING:  # NOTE: for type checkers only (TorchScript infers the attributes)
        layer_names: list[str]
        feature_ends: list[int]

        def __getattr__(self, name: str) -> Any: ...  # (the cells, registered by name in a loop)

    def _step(
        self, i: int, layer: nn.Module, x: torch.Tensor, x_prev: torch.Tensor, ckpt: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x, x_prev)`` after layer ``i``."""
        raise NotImplementedError

    @staticmethod
    def _run(layer: nn.Module, ckpt: bool, *args: torch.Tensor) -> torch.Tensor:
        return checkpoint(layer, *args, use_reentrant=False) if ckpt else layer(*args)

    def _walk(self, x: torch.Tensor, take: list[int], end: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Layers ``0..end``; the levels ``take`` among them, and the output at ``end``."""
        least = self.min_input_size[-1]
        if not isinstance(x, torch.fx.Proxy) and (x.ndim != 4 or min(x.shape[-2:]) < least):
            # (a symbolic trace has no shape to check)
            raise ValueError(
                f"{type(self).__name__} takes (B, C, H, W) inputs with H, W >= {least}, "
                f"got shape {tuple(x.shape)}"
            )
        ckpt = self._checkpointing()
        last_level = len(self.feature_ends) - 1
        x_prev, out, level = x, [], 0
        for i, name in enumerate(self.layer_names[: end + 1]):
            x, x_prev = self._step(i, getattr(self, name), x, x_prev, ckpt)
            if level <= last_level and i == self.feature_ends[level]:
                if level == last_level:
                    x = self.act(x)
                if level in take:
                    out.append(F.relu(x) if 0 < level < last_level else x)
                level += 1
        if 0 < level - 1 < last_level and end == self.feature_ends[level - 1]:
            x = F.relu(x)  # (ended at a cell's level: the output is that level)
        return x, out

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return self._forward_script(x)
        else:
            return self._walk(x, [], len(self.layer_names) - 1)[0]

    def _forward_script(self, x: torch.Tensor) -> torch.Tensor:
        """The walk written out for TorchScript (which cannot look layers up by name)."""
        raise NotImplementedError

    def _intermediates(
        self, x: torch.Tensor, take: list[int], *, stop_early: bool, norm: bool = False
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        end = len(self.layer_names) - 1
        kept = max(i for i, e in enumerate(self.feature_ends) if e <= end)
        if max(take) > kept:
            raise ValueError(f"feature level {max(take)} was pruned away; this model keeps 0..{kept}")
        if stop_early:
            end = min(end, self.feature_ends[max(take)])
        return self._walk(x, take, end)

    def _prune_trunk(self, max_index: int) -> None:
        kept = self.feature_ends[max_index] + 1
        for name in self.layer_names[kept:]:
            setattr(self, name, None)
        self.layer_names = self.layer_names[:kept]


class PNASNet5Large(CellNet):
    """PNASNet-5 Large: a strided 3x3 stem conv, two stem cells, then three runs of four cells
    (the first of the second and third a reduction cell), 4320 features.

    Args:
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        drop_rate: dropout before the classifier.
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
        pad_type: conv and pool padding, ``''`` (symmetric) or ``'same'`` (TensorFlow's, as the
            weights were trained).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 3,
        drop_rate: float = 0.0,
        global_pool: str = "avg",
        pad_type: str = "",
    ) -> None:
        super().__init__()
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.conv_0 = ConvNormAct(in_chans, 96, 3, stride=2, padding=0, norm_layer=_BN, apply_act=False)
        self.cell_stem_0 = CellStem0(96, 54, 96, 54, pad_type)
        # (older input width, newer input width, cell width, reduction, older input halved)
        cells = [(96, 270, 108, True, True), (270, 540, 216, False, True)]
        cells += [(540, 1080, 216, False, False)] + [(1080, 1080, 216, False, False)] * 2
        cells += [(1080, 1080, 432, True, False), (1080, 2160, 432, False, True)]
        cells += [(2160, 2160, 432, False, False)] * 2
        cells += [(2160, 2160, 864, True, False), (2160, 4320, 864, False, True)]
        cells += [(4320, 4320, 864, False, False)] * 2
        self.layer_names = ["conv_0", "cell_stem_0", "cell_stem_1"] + [f"cell_{i}" for i in range(12)]
        for name, (c_left, c_right, width, reduce, match) in zip(self.layer_names[2:], cells):
            self.add_module(name, Cell(c_left, width, c_right, width, pad_type, reduce, match))
        self.act = nn.ReLU()
        self.feature_info = [
            dict(num_chs=96, reduction=2, module="conv_0"),
            dict(num_chs=270, reduction=4, module="cell_stem_1.conv_1x1.act"),
            dict(num_chs=1080, reduction=8, module="cell_4.conv_1x1.act"),
            dict(num_chs=2160, reduction=16, module="cell_8.conv_1x1.act"),
            dict(num_chs=4320, reduction=32, module="act"),
        ]
        taps = ("conv_0", "cell_stem_0", "cell_3", "cell_7", "cell_11")
        self.feature_ends = [self.layer_names.index(n) for n in taps]
        self._init_head(4320, num_classes, global_pool)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^conv_0|cell_stem_[01]", blocks=r"^cell_(\d+)")

    def _step(
        self, i: int, layer: nn.Module, x: torch.Tensor, x_prev: torch.Tensor, ckpt: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if i < 2:  # the stem conv and first cell take one input
            return self._run(layer, ckpt and i > 0, x), x
        return self._run(layer, ckpt, x_prev, x), x

    def _forward_script(self, x: torch.Tensor) -> torch.Tensor:
        # NOTE: a layer after a level may be pruned away (None): the output is then that level
        x0 = self.conv_0(x)
        if self.cell_stem_0 is None:
            return x0
        x1 = self.cell_stem_0(x0)
        if self.cell_stem_1 is None:
            return F.relu(x1)
        x0, x1 = x1, self.cell_stem_1(x0, x1)
        x0, x1 = x1, self.cell_0(x0, x1)
        x0, x1 = x1, self.cell_1(x0, x1)
        x0, x1 = x1, self.cell_2(x0, x1)
        x0, x1 = x1, self.cell_3(x0, x1)
        if self.cell_4 is None:
            return F.relu(x1)
        x0, x1 = x1, self.cell_4(x0, x1)
        x0, x1 = x1, self.cell_5(x0, x1)
        x0, x1 = x1, self.cell_6(x0, x1)
        x0, x1 = x1, self.cell_7(x0, x1)
        if self.cell_8 is None:
            return F.relu(x1)
        x0, x1 = x1, self.cell_8(x0, x1)
        x0, x1 = x1, self.cell_9(x0, x1)
        x0, x1 = x1, self.cell_10(x0, x1)
        x0, x1 = x1, self.cell_11(x0, x1)
        return self.act(x1)


PNASNet5LargeArgs = model_args_type(PNASNet5Large)

VARIANTS: dict[str, Any] = {"pnasnet5large": PNASNet5LargeArgs(pad_type="same")}

# TensorFlow's recipe, which NASNet's weights share; the levels are read inside cells (hooks)
TF_CELLNET_CFG: dict[str, Any] = dict(
    input_size=(3, 331, 331),
    pool_size=(11, 11),
    crop_pct=0.911,
    interpolation="bicubic",
    mean=(0.5, 0.5, 0.5),
    std=(0.5, 0.5, 0.5),
    classifier="last_linear",
    license="apache-2.0",
)
CELLNET_FEATURES: dict[str, Any] = dict(feature_cls="hook", no_rewrite=True)
# (timm gives no url field: None, where other cfgs have "")
WEIGHTS: dict[str, dict[str, Any]] = {"pnasnet5large.tf_in1k": weight(default=True, url=None)}

default_cfgs = register_family(
    __name__,
    model_cls=PNASNet5Large,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(TF_CELLNET_CFG, first_conv="conv_0.conv"),
    feature_cfg=dict(CELLNET_FEATURES),
)


def __getattr__(name: str) -> Entrypoint:  # the variant's entrypoint, pnasnet5large
    return family_entrypoint(__name__, name)
