"""RepGhostNet: GhostNet whose ghost modules add the cheap features to the primary ones (instead of
concatenating them) through an identity + norm branch that re-parameterisation folds into the
cheap depthwise conv.

Paper: `RepGhost: A Hardware-Efficient Ghost Module via Re-parameterization` -
https://arxiv.org/abs/2211.06088

Weights: the authors' ImageNet-1k models (MIT). Module names follow timm's ``RepGhostNet``;
:func:`visionzoo.reparameterize` (timm's ``switch_to_deploy()`` / ``reparameterize()``) and
:func:`visionzoo.optimize_for_inference` fuse each module's branches into ``cheap_operation``.
"""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn

from ..layers.branch_fuse import conv_like, conv_norm_kernel_bias
from ..model import VisionModel
from ..pretrained import weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type
from .ghostnet import _SE_LAYER, GhostNet, _conv_bn, _dw_shortcut

__all__ = ["RepGhostBottleneck", "RepGhostModule", "RepGhostNet", "default_cfgs"]


class RepGhostModule(nn.Module):
    """A conv + norm (+ ReLU), then a depthwise conv + norm added to an identity + norm of its
    input (the ``fusion_*`` branch, with ``reparam``), then ReLU; :meth:`switch_to_deploy` folds
    the branch into a biased ``cheap_operation`` conv."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int = 1,
        dw_size: int = 3,
        stride: int = 1,
        relu: bool = True,
        reparam: bool = True,
    ) -> None:
        super().__init__()
        self.out_chs = out_chs
        self.primary_conv = nn.Sequential(
            *_conv_bn(in_chs, out_chs, kernel_size, stride=stride),
            nn.ReLU(inplace=True) if relu else nn.Identity(),
        )
        # NOTE: timm's layout: the identity "conv" and its norm in two parallel containers
        self.fusion_conv = nn.Sequential(*([nn.Identity()] if reparam else []))
        self.fusion_bn = nn.Sequential(*([nn.BatchNorm2d(out_chs)] if reparam else []))
        self.cheap_operation: nn.Module = nn.Sequential(*_conv_bn(out_chs, out_chs, dw_size, groups=out_chs))
        self.relu = nn.ReLU(inplace=False) if relu else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.primary_conv(x)
        x2 = self.cheap_operation(x1)
        for bn in self.fusion_bn:  # (the fusion "convs" are identities)
            x2 = x2 + bn(self.fusion_conv(x1))
        return self.relu(x2)

    @torch.no_grad()
    def switch_to_deploy(self) -> None:
        """Fold the identity + norm branch and the cheap conv's norm into one biased depthwise
        conv (exact for the eval statistics); the state dict is then timm's deploy one."""
        if len(self.fusion_bn) == 0 or not isinstance(self.cheap_operation, nn.Sequential):
            return
        conv, norm = cast(nn.Conv2d, self.cheap_operation[0]), self.cheap_operation[1]
        kernel, bias = conv_norm_kernel_bias(conv, norm, conv.weight)
        for bn in self.fusion_bn:
            k, b = conv_norm_kernel_bias(None, bn, conv.weight)
            kernel, bias = kernel + k, bias + b
        self.cheap_operation = conv_like(conv, kernel, bias)
        self.fusion_conv = nn.Sequential()
        self.fusion_bn = nn.Sequential()

    def reparameterize(self) -> None:
        """timm's other name for :meth:`switch_to_deploy`."""
        self.switch_to_deploy()

    def fuse_for_inference(self) -> None:
        """The hook :func:`visionzoo.optimize_for_inference` calls."""
        self.switch_to_deploy()


class RepGhostBottleneck(nn.Module):
    """RepGhost expansion (ReLU), a strided depthwise conv + norm where strided, optional SE,
    linear RepGhost projection, residual."""

    def __init__(
        self,
        in_chs: int,
        mid_chs: int,
        out_chs: int,
        dw_kernel_size: int = 3,
        stride: int = 1,
        act_layer: type[nn.Module] = nn.ReLU,
        se_ratio: float = 0.0,
        reparam: bool = True,
    ) -> None:
        super().__init__()
        self.stride = stride
        self.ghost1 = RepGhostModule(in_chs, mid_chs, relu=True, reparam=reparam)
        self.conv_dw: nn.Module | None = None
        self.bn_dw: nn.Module | None = None
        if stride > 1:
            self.conv_dw, self.bn_dw = _conv_bn(
                mid_chs, mid_chs, dw_kernel_size, stride=stride, groups=mid_chs
            )
        self.se = _SE_LAYER(mid_chs, rd_ratio=se_ratio) if se_ratio else None
        self.ghost2 = RepGhostModule(mid_chs, out_chs, relu=False, reparam=reparam)
        shortcut = _dw_shortcut(in_chs, out_chs, dw_kernel_size, stride)
        self.shortcut = nn.Sequential() if isinstance(shortcut, nn.Identity) else shortcut

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.ghost1(x)
        if self.conv_dw is not None and self.bn_dw is not None:
            x = self.bn_dw(self.conv_dw(x))
        if self.se is not None:
            x = self.se(x)
        return self.ghost2(x) + self.shortcut(shortcut)


# per block: kernel, expansion width, output width, SE ratio, stride; one list per stage
_BLOCKS: tuple[tuple[tuple[int, int, int, float, int], ...], ...] = (
    ((3, 8, 16, 0, 1),),
    ((3, 24, 24, 0, 2),),
    ((3, 36, 24, 0, 1),),
    ((5, 36, 40, 0.25, 2),),
    ((5, 60, 40, 0.25, 1),),
    ((3, 120, 80, 0, 2),),
    (
        (3, 100, 80, 0, 1),
        (3, 120, 80, 0, 1),
        (3, 120, 80, 0, 1),
        (3, 240, 112, 0.25, 1),
        (3, 336, 112, 0.25, 1),
    ),
    ((5, 336, 160, 0.25, 2),),
    ((5, 480, 160, 0, 1), (5, 480, 160, 0.25, 1), (5, 480, 160, 0, 1), (5, 480, 160, 0.25, 1)),
)


class RepGhostNet(GhostNet):
    """GhostNet's stem, trunk and head around RepGhost bottlenecks; the final 1x1 ConvBnAct is
    twice the last expansion width."""

    def __init__(
        self,
        cfgs: tuple[tuple[tuple[int, int, int, float, int], ...], ...] = _BLOCKS,
        num_classes: int = 1000,
        width: float = 1.0,
        in_chans: int = 3,
        output_stride: int = 32,
        global_pool: str = "avg",
        drop_rate: float = 0.2,
        reparam: bool = True,
    ) -> None:
        VisionModel.__init__(self)  # (GhostNet's constructor builds GhostNet's blocks)

        def block(
            in_chs: int, mid_chs: int, out_chs: int, k: int, s: int, se_ratio: float, idx: int
        ) -> nn.Module:
            return RepGhostBottleneck(in_chs, mid_chs, out_chs, k, s, se_ratio=se_ratio, reparam=reparam)

        self._build(cfgs, block, num_classes, width, in_chans, output_stride, global_pool, drop_rate, 2)

    def convert_to_deploy(self) -> None:
        """timm's name: fuse every module's branches in place."""
        from ..optimize.reparam import reparameterize

        reparameterize(self, inplace=True)


RepGhostNetArgs = model_args_type(RepGhostNet)

VARIANTS = {
    "repghostnet_050": RepGhostNetArgs(width=0.5),
    "repghostnet_058": RepGhostNetArgs(width=0.58),
    "repghostnet_080": RepGhostNetArgs(width=0.8),
    "repghostnet_100": RepGhostNetArgs(width=1.0),
    "repghostnet_111": RepGhostNetArgs(width=1.11),
    "repghostnet_130": RepGhostNetArgs(width=1.3),
    "repghostnet_150": RepGhostNetArgs(width=1.5),
    "repghostnet_200": RepGhostNetArgs(width=2.0),
}

WEIGHTS: dict[str, dict[str, Any]] = {f"{name}.in1k": weight(default=True) for name in VARIANTS}

default_cfgs = register_family(
    __name__,
    model_cls=RepGhostNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        crop_pct=0.875,
        interpolation="bicubic",
        first_conv="conv_stem",
        classifier="classifier",
        license="mit",
    ),
    feature_cfg=dict(flatten_sequential=True),
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. repghostnet_100
    return family_entrypoint(__name__, name)
