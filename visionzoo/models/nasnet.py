"""NASNet-A Large.

Paper: `Learning Transferable Architectures for Scalable Image Recognition` -
https://arxiv.org/abs/1707.07012

Weights: TensorFlow's (``tf_in1k``), ported by Cadene's pretrained-models; module names follow
timm's ``NASNetALarge``, so its checkpoints load unchanged.

A trunk of cells, each taking the outputs of the two layers before it (the cell after a reduction
cell takes the reduction's output and the same older input the reduction took): the cell trunk of
:mod:`.pnasnet`, with NASNet's two cell wirings. A normal cell keeps the resolution and passes its
older input through into the concatenation; a reduction cell halves the resolution.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import ConvNormAct, create_pool2d
from ..pretrained import RWIGHTMAN_RELEASES, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type
from .pnasnet import _BN, CELLNET_FEATURES, TF_CELLNET_CFG, ActConvBn, BranchSeparables, CellNet, Factorized

__all__ = [
    "CellStem0",
    "CellStem1",
    "FirstCell",
    "NASNetALarge",
    "NormalCell",
    "ReductionCell0",
    "ReductionCell1",
    "default_cfgs",
]


def _avg_pool(stride: int, padding: str) -> nn.Module:
    return create_pool2d("avg", 3, stride=stride, count_include_pad=False, padding=padding)


def _max_pool(padding: str) -> nn.Module:
    return create_pool2d("max", 3, stride=2, padding=padding)


# --- the two wirings ------------------------------------------------------------------------------
class _ReducingCell(nn.Module):
    """Four sums concatenated, at half the resolution of ``a`` (the newer input, projected) and
    ``b`` (the older one)."""

    def _add_branches(self, chs: int, in_b: int, pad: str, *, stem_cell: bool = False) -> None:
        sep = BranchSeparables
        self.comb_iter_0_left = sep(chs, chs, 5, 2, padding=pad)
        self.comb_iter_0_right = sep(in_b, chs, 7, 2, stem_cell=stem_cell, padding=pad)
        self.comb_iter_1_left = _max_pool(pad)
        self.comb_iter_1_right = sep(in_b, chs, 7, 2, stem_cell=stem_cell, padding=pad)
        self.comb_iter_2_left = _avg_pool(2, pad)
        self.comb_iter_2_right = sep(in_b, chs, 5, 2, stem_cell=stem_cell, padding=pad)
        self.comb_iter_3_right = _avg_pool(1, pad)
        self.comb_iter_4_left = sep(chs, chs, 3, 1, padding=pad)
        self.comb_iter_4_right = _max_pool(pad)

    def combine(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        c0 = self.comb_iter_0_left(a) + self.comb_iter_0_right(b)
        c1 = self.comb_iter_1_left(a) + self.comb_iter_1_right(b)
        c2 = self.comb_iter_2_left(a) + self.comb_iter_2_right(b)
        c3 = self.comb_iter_3_right(c0) + c1
        c4 = self.comb_iter_4_left(c0) + self.comb_iter_4_right(a)
        return torch.cat([c1, c2, c3, c4], 1)


class _NormalCell(nn.Module):
    """The older input ``b`` and five sums, concatenated, at the inputs' resolution."""

    def _add_branches(self, chs_a: int, chs_b: int, pad: str) -> None:
        self.comb_iter_0_left = BranchSeparables(chs_a, chs_a, 5, 1, padding=pad)
        self.comb_iter_0_right = BranchSeparables(chs_b, chs_b, 3, 1, padding=pad)
        self.comb_iter_1_left = BranchSeparables(chs_b, chs_b, 5, 1, padding=pad)
        self.comb_iter_1_right = BranchSeparables(chs_b, chs_b, 3, 1, padding=pad)
        self.comb_iter_2_left = _avg_pool(1, pad)
        self.comb_iter_3_left = _avg_pool(1, pad)
        self.comb_iter_3_right = _avg_pool(1, pad)
        self.comb_iter_4_left = BranchSeparables(chs_a, chs_a, 3, 1, padding=pad)

    def combine(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        c0 = self.comb_iter_0_left(a) + self.comb_iter_0_right(b)
        c1 = self.comb_iter_1_left(b) + self.comb_iter_1_right(b)
        c2 = self.comb_iter_2_left(a) + b
        c3 = self.comb_iter_3_left(b) + self.comb_iter_3_right(b)
        c4 = self.comb_iter_4_left(a) + a
        return torch.cat([b, c0, c1, c2, c3, c4], 1)


# --- cells ----------------------------------------------------------------------------------------
class CellStem0(_ReducingCell):
    """The first cell, on the stem conv's output alone (as both inputs)."""

    def __init__(self, stem_size: int, num_channels: int = 42, pad_type: str = "") -> None:
        super().__init__()
        self.num_channels = num_channels
        self.stem_size = stem_size
        self.conv_1x1 = ActConvBn(stem_size, num_channels, 1)
        self._add_branches(num_channels, stem_size, pad_type, stem_cell=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.combine(self.conv_1x1(x), x)


class CellStem1(_ReducingCell, Factorized):
    """The second cell: the first's output, and the stem conv's halved to match."""

    def __init__(self, stem_size: int, num_channels: int, pad_type: str = "") -> None:
        super().__init__()
        self.num_channels = num_channels
        self.stem_size = stem_size
        self.conv_1x1 = ActConvBn(2 * num_channels, num_channels, 1)
        self._add_factorized(stem_size, num_channels)
        self._add_branches(num_channels, num_channels, pad_type)

    def forward(self, x_conv0: torch.Tensor, x_stem_0: torch.Tensor) -> torch.Tensor:
        return self.combine(self.conv_1x1(x_stem_0), self.factorized_reduce(x_conv0))


class FirstCell(_NormalCell, Factorized):
    """The normal cell after a reduction: its older input, at twice the resolution, is halved."""

    def __init__(
        self, in_chs_left: int, out_chs_left: int, in_chs_right: int, out_chs_right: int, pad_type: str = ""
    ) -> None:
        super().__init__()
        self.conv_1x1 = ActConvBn(in_chs_right, out_chs_right, 1)
        self._add_factorized(in_chs_left, 2 * out_chs_left)
        self._add_branches(out_chs_right, out_chs_right, pad_type)

    def forward(self, x: torch.Tensor, x_prev: torch.Tensor) -> torch.Tensor:
        return self.combine(self.conv_1x1(x), self.factorized_reduce(x_prev))


class _Projected(nn.Module):
    """A cell whose inputs are both projected by 1x1 convs: ``conv_prev_1x1`` the older,
    ``conv_1x1`` the newer."""

    def _add_projections(self, in_left: int, out_left: int, in_right: int, out_right: int, pad: str) -> None:
        self.conv_prev_1x1 = ActConvBn(in_left, out_left, 1, padding=pad)
        self.conv_1x1 = ActConvBn(in_right, out_right, 1, padding=pad)

    def forward(self, x: torch.Tensor, x_prev: torch.Tensor) -> torch.Tensor:
        return self.combine(self.conv_1x1(x), self.conv_prev_1x1(x_prev))  # type: ignore[operator]


class NormalCell(_Projected, _NormalCell):
    """A normal cell."""

    def __init__(
        self, in_chs_left: int, out_chs_left: int, in_chs_right: int, out_chs_right: int, pad_type: str = ""
    ) -> None:
        super().__init__()
        self._add_projections(in_chs_left, out_chs_left, in_chs_right, out_chs_right, pad_type)
        self._add_branches(out_chs_right, out_chs_left, pad_type)


class ReductionCell0(_Projected, _ReducingCell):
    """A reduction cell: the resolution halved."""

    def __init__(
        self, in_chs_left: int, out_chs_left: int, in_chs_right: int, out_chs_right: int, pad_type: str = ""
    ) -> None:
        super().__init__()
        self._add_projections(in_chs_left, out_chs_left, in_chs_right, out_chs_right, pad_type)
        self._add_branches(out_chs_right, out_chs_right, pad_type)


class ReductionCell1(ReductionCell0):
    """The second reduction cell (timm's name; the same cell)."""


# --- model ----------------------------------------------------------------------------------------
class NASNetALarge(CellNet):
    """NASNet-A Large (6 @ 4032): a strided 3x3 stem conv, two stem cells, then three runs of six
    normal cells with a reduction cell between runs.

    Args:
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        stem_size: width of the stem conv.
        channel_multiplier: width ratio between the stem cells and the first run.
        num_features: width of the last run's output (24 times the first run's cell width).
        drop_rate: dropout before the classifier.
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
        pad_type: conv and pool padding, ``'same'`` (TensorFlow's, as the weights were trained)
            or ``''`` (symmetric).
    """

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 3,
        stem_size: int = 96,
        channel_multiplier: int = 2,
        num_features: int = 4032,
        drop_rate: float = 0.0,
        global_pool: str = "avg",
        pad_type: str = "same",
    ) -> None:
        super().__init__()
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.stem_size = stem_size
        self.channel_multiplier = channel_multiplier
        c, p = num_features // 24, pad_type
        self.conv0 = ConvNormAct(in_chans, stem_size, 3, stride=2, padding=0, norm_layer=_BN, apply_act=False)
        self.cell_stem_0 = CellStem0(stem_size, c // channel_multiplier**2, p)
        self.cell_stem_1 = CellStem1(stem_size, c // channel_multiplier, p)
        self.layer_names = ["conv0", "cell_stem_0", "cell_stem_1"]
        in_prev, in_cur = c, 2 * c  # the stem cells' widths
        for run, width in enumerate((c, 2 * c, 4 * c)):
            if run:  # a reduction cell: half the resolution, twice the width
                name = f"reduction_cell_{run - 1}"
                cls = ReductionCell0 if run == 1 else ReductionCell1
                self.add_module(name, cls(in_prev, width, in_cur, width, p))
                self.layer_names.append(name)
                in_cur = 4 * width  # (the next cell takes the reduction's older input too)
            for i in range(6):
                name = f"cell_{6 * run + i}"
                if i == 0:  # its older input is at twice the resolution: halved
                    self.add_module(name, FirstCell(in_prev, width // 2, in_cur, width, p))
                else:
                    self.add_module(name, NormalCell(in_prev, width, in_cur, width, p))
                self.layer_names.append(name)
                in_prev, in_cur = in_cur, 6 * width
        self.act = nn.ReLU(inplace=True)
        # NOTE: the widths built (timm's list states the default widths whatever was asked for)
        self.feature_info = [
            dict(num_chs=stem_size, reduction=2, module="conv0"),
            dict(num_chs=4 * (c // channel_multiplier**2), reduction=4, module="cell_stem_1.conv_1x1.act"),
            dict(num_chs=6 * c, reduction=8, module="reduction_cell_0.conv_1x1.act"),
            dict(num_chs=12 * c, reduction=16, module="reduction_cell_1.conv_1x1.act"),
            dict(num_chs=24 * c, reduction=32, module="act"),
        ]
        taps = ("conv0", "cell_stem_0", "cell_5", "cell_11", "cell_17")
        self.feature_ends = [self.layer_names.index(n) for n in taps]
        self._init_head(num_features, num_classes, global_pool)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(
            stem=r"^conv0|cell_stem_[01]",
            blocks=[(r"^cell_(\d+)", None), (r"^reduction_cell_0", (6,)), (r"^reduction_cell_1", (12,))],
        )

    def _step(
        self, i: int, layer: nn.Module, x: torch.Tensor, x_prev: torch.Tensor, ckpt: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if i < 2:  # the stem conv and first cell take one input
            return self._run(layer, ckpt and i > 0, x), x
        if i == 2:  # the second stem cell: (stem conv, first cell)
            return self._run(layer, ckpt, x_prev, x), x
        if isinstance(layer, ReductionCell0):  # the next cell takes the same older input
            return self._run(layer, ckpt, x, x_prev), x_prev
        return self._run(layer, ckpt, x, x_prev), x

    def _forward_script(self, x: torch.Tensor) -> torch.Tensor:
        # NOTE: a layer after a level may be pruned away (None): the output is then that level
        x_conv0 = self.conv0(x)
        if self.cell_stem_0 is None:
            return x_conv0
        x_stem_0 = self.cell_stem_0(x_conv0)
        if self.cell_stem_1 is None:
            return F.relu(x_stem_0)
        x1 = self.cell_stem_1(x_conv0, x_stem_0)
        x0, x1 = x1, self.cell_0(x1, x_stem_0)
        x0, x1 = x1, self.cell_1(x1, x0)
        x0, x1 = x1, self.cell_2(x1, x0)
        x0, x1 = x1, self.cell_3(x1, x0)
        x0, x1 = x1, self.cell_4(x1, x0)
        x0, x1 = x1, self.cell_5(x1, x0)
        if self.reduction_cell_0 is None:
            return F.relu(x1)
        x1 = self.reduction_cell_0(x1, x0)
        x0, x1 = x1, self.cell_6(x1, x0)
        x0, x1 = x1, self.cell_7(x1, x0)
        x0, x1 = x1, self.cell_8(x1, x0)
        x0, x1 = x1, self.cell_9(x1, x0)
        x0, x1 = x1, self.cell_10(x1, x0)
        x0, x1 = x1, self.cell_11(x1, x0)
        if self.reduction_cell_1 is None:
            return F.relu(x1)
        x1 = self.reduction_cell_1(x1, x0)
        x0, x1 = x1, self.cell_12(x1, x0)
        x0, x1 = x1, self.cell_13(x1, x0)
        x0, x1 = x1, self.cell_14(x1, x0)
        x0, x1 = x1, self.cell_15(x1, x0)
        x0, x1 = x1, self.cell_16(x1, x0)
        x0, x1 = x1, self.cell_17(x1, x0)
        return self.act(x1)


NASNetALargeArgs = model_args_type(NASNetALarge)

VARIANTS: dict[str, Any] = {"nasnetalarge": NASNetALargeArgs(pad_type="same")}

WEIGHTS: dict[str, dict[str, Any]] = {
    "nasnetalarge.tf_in1k": weight(
        default=True, url=RWIGHTMAN_RELEASES + "v0.1-weights/nasnetalarge-dc4a7b8b.pth"
    ),
}

default_cfgs = register_family(
    __name__,
    model_cls=NASNetALarge,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(TF_CELLNET_CFG, first_conv="conv0.conv"),
    feature_cfg=dict(CELLNET_FEATURES),
)


def __getattr__(name: str) -> Entrypoint:  # the variant's entrypoint, nasnetalarge
    return family_entrypoint(__name__, name)
