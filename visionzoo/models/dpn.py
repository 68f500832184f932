"""DPN: Dual Path Networks, each block adding to a residual path and appending to a dense one.

Paper: `Dual Path Networks` - https://arxiv.org/abs/1707.01629

Weights: the ``mx_in1k`` tags are the authors' MXNet weights (cypw/DPNs), converted; ``dpn68b.ra_in1k``
was trained in timm. Module names follow timm's DPN (``features.convN_M.*``, a 1x1 conv
``classifier``), so its checkpoints load unchanged.

The two paths travel as one tensor: the first ``num_1x1_c`` channels are the residual path, the
rest the dense path, so every block takes and returns a plain tensor (TorchScript and FX see no
tuples).
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Callable
from functools import partial
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import (
    BatchNormAct2d,
    ConvNormAct,
    LayerType,
    create_classifier,
    create_conv2d,
    get_norm_act_layer,
)
from ..model import Trunk, VisionModel
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, NO_WEIGHTS, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "DPN",
    "IMAGENET_DPN_MEAN",
    "IMAGENET_DPN_STD",
    "BnAct",
    "BnActConv2d",
    "DualPathBlock",
    "default_cfgs",
]

# the MXNet weights' input statistics: pixel means, one scale for all channels
IMAGENET_DPN_MEAN = (124 / 255, 117 / 255, 104 / 255)
IMAGENET_DPN_STD = tuple([1 / (0.0167 * 255)] * 3)

_BN_EPS = 1e-3  # the MXNet models' eps, everywhere


class BnAct(nn.Module):
    """A norm + act under the name ``bn`` (the checkpoints' key)."""

    def __init__(
        self,
        in_chs: int,
        norm_layer: Callable[..., nn.Module] = BatchNormAct2d,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.bn = norm_layer(in_chs, eps=_BN_EPS, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x)


class BnActConv2d(nn.Module):
    """Pre-activation conv: norm + act (``bn``), then ``conv``."""

    def __init__(
        self,
        in_chs: int,
        out_chs: int,
        kernel_size: int,
        stride: int,
        groups: int = 1,
        norm_layer: Callable[..., nn.Module] = BatchNormAct2d,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        dd: dict[str, Any] = dict(device=device, dtype=dtype)
        self.bn = norm_layer(in_chs, eps=_BN_EPS, **dd)
        self.conv = create_conv2d(in_chs, out_chs, kernel_size, stride=stride, groups=groups, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(self.bn(x))


class DualPathBlock(nn.Module):
    """A grouped bottleneck whose output splits in two: ``num_1x1_c`` channels added to the
    residual path, ``inc`` channels appended to the dense path.

    ``block_type``: ``"proj"`` (first block: a 1x1 projection of the input makes both paths),
    ``"down"`` (the same, strided), ``"normal"`` (the input's channels are the paths). With ``b``
    (the DPN-b variants) the last 1x1 is two convs after a shared norm + act, one per path.
    """

    def __init__(
        self,
        in_chs: int,
        num_1x1_a: int,
        num_3x3_b: int,
        num_1x1_c: int,
        inc: int,
        groups: int,
        block_type: str = "normal",
        b: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if block_type not in ("proj", "down", "normal"):
            raise ValueError(f"block_type must be 'proj', 'down' or 'normal', got {block_type!r}")
        dd: dict[str, Any] = dict(device=device, dtype=dtype)
        self.num_1x1_c = num_1x1_c
        self.inc = inc
        self.b = b
        self.key_stride = 2 if block_type == "down" else 1
        self.has_proj = block_type != "normal"

        # NOTE: two names for the projection, by stride: the checkpoints' keys
        self.c1x1_w_s1: nn.Module | None = None
        self.c1x1_w_s2: nn.Module | None = None
        if self.has_proj:
            proj = BnActConv2d(in_chs, num_1x1_c + 2 * inc, kernel_size=1, stride=self.key_stride, **dd)
            if self.key_stride == 2:
                self.c1x1_w_s2 = proj
            else:
                self.c1x1_w_s1 = proj

        self.c1x1_a = BnActConv2d(in_chs, num_1x1_a, kernel_size=1, stride=1, **dd)
        self.c3x3_b = BnActConv2d(
            num_1x1_a, num_3x3_b, kernel_size=3, stride=self.key_stride, groups=groups, **dd
        )
        self.c1x1_c1: nn.Module | None = None
        self.c1x1_c2: nn.Module | None = None
        if b:
            self.c1x1_c: nn.Module = BnAct(num_3x3_b, **dd)
            self.c1x1_c1 = create_conv2d(num_3x3_b, num_1x1_c, kernel_size=1, **dd)
            self.c1x1_c2 = create_conv2d(num_3x3_b, inc, kernel_size=1, **dd)
        else:
            self.c1x1_c = BnActConv2d(num_3x3_b, num_1x1_c + inc, kernel_size=1, stride=1, **dd)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.c1x1_w_s1 is not None:
            paths = self.c1x1_w_s1(x)
        elif self.c1x1_w_s2 is not None:
            paths = self.c1x1_w_s2(x)
        else:
            paths = x
        y = self.c1x1_c(self.c3x3_b(self.c1x1_a(x)))
        if self.c1x1_c1 is not None and self.c1x1_c2 is not None:
            res, dense = self.c1x1_c1(y), self.c1x1_c2(y)
        else:
            res, dense = y[:, : self.num_1x1_c], y[:, self.num_1x1_c :]
        return torch.cat([paths[:, : self.num_1x1_c] + res, paths[:, self.num_1x1_c :], dense], dim=1)


class DPN(VisionModel):
    """Dual Path Network: a stem, four stages of dual path blocks, a final norm + act.

    Args:
        k_sec: blocks per stage.
        inc_sec: dense-path channels each block of a stage appends.
        k_r: bottleneck width of the first stage (later stages scale it with their width).
        groups: groups of the 3x3 convs.
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        output_stride: only 32.
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''`` (no pooling, logits per
            position: the classifier is a 1x1 conv).
        small: the DPN-68 stem (3x3 conv) and residual widths (a quarter of the large ones').
        num_init_features: stem channels.
        b: the DPN-b block (separate 1x1 convs for the two paths).
        drop_rate: dropout before the classifier.
        norm_layer: the norm of the stem and of the final norm + act.
        act_layer: the activation of the stem and of the final norm + act (the blocks' are ReLU,
            as in timm).
        fc_act_layer: no effect, as in timm: the final norm keeps ``act_layer``, already bound to
            ``norm_layer`` when this one is offered.
    """

    trunk = Trunk(
        stages=("features.*",), post=("features.conv5_bn_ac",), norm_last=True, prune_post=("norm",)
    )
    classifier_name = "classifier"
    head_names = ("global_pool", "classifier", "flatten")

    def __init__(
        self,
        k_sec: tuple[int, ...] = (3, 4, 20, 3),
        inc_sec: tuple[int, ...] = (16, 32, 24, 128),
        k_r: int = 96,
        groups: int = 32,
        num_classes: int = 1000,
        in_chans: int = 3,
        output_stride: int = 32,
        global_pool: str = "avg",
        small: bool = False,
        num_init_features: int = 64,
        b: bool = False,
        drop_rate: float = 0.0,
        norm_layer: LayerType = "batchnorm2d",
        act_layer: LayerType = "relu",
        fc_act_layer: LayerType = "elu",
    ) -> None:
        super().__init__()
        if output_stride != 32:
            raise ValueError(f"DPN supports output_stride=32 only, got {output_stride}")
        self.in_chans = in_chans
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.b = b
        norm_act_layer = get_norm_act_layer(norm_layer, act_layer=act_layer)
        assert norm_act_layer is not None
        norm_act = partial(norm_act_layer, eps=_BN_EPS)
        # NOTE: the act bound in norm_act wins over fc_act_layer (timm's get_norm_act_layer rule)
        fc_norm_act_layer = get_norm_act_layer(norm_act, act_layer=fc_act_layer)
        assert fc_norm_act_layer is not None
        fc_norm_act = partial(fc_norm_act_layer, eps=_BN_EPS, inplace=False)
        width_factor = 1 if small else 4

        blocks: OrderedDict[str, nn.Module] = OrderedDict()
        blocks["conv1_1"] = ConvNormAct(
            in_chans, num_init_features, kernel_size=3 if small else 7, stride=2, norm_layer=norm_act
        )
        blocks["conv1_pool"] = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.feature_info = [dict(num_chs=num_init_features, reduction=2, module="features.conv1_1")]

        chs = num_init_features
        for i, (base, depth, inc) in enumerate(zip((64, 128, 256, 512), k_sec, inc_sec)):
            width, r = base * width_factor, k_r * base // 64
            for j in range(1, depth + 1):
                kind = "normal" if j > 1 else ("proj" if i == 0 else "down")
                blocks[f"conv{i + 2}_{j}"] = DualPathBlock(chs, r, r, width, inc, groups, kind, b)
                # a projecting block makes both paths: the residual plus two increments of dense
                chs = width + 3 * inc if j == 1 else chs + inc
            self.feature_info.append(
                dict(num_chs=chs, reduction=4 * 2**i, module=f"features.conv{i + 2}_{depth}")
            )
        blocks["conv5_bn_ac"] = BnAct(chs, norm_layer=fc_norm_act)
        self.features = nn.Sequential(blocks)

        self.num_features = chs
        self._make_head(global_pool)

    def _make_head(self, global_pool: str) -> None:
        """Pool, a 1x1 conv classifier and a flatten (none without pooling: logits per position)."""
        self.global_pool, self.classifier = create_classifier(
            self.num_features, self.num_classes, pool_type=global_pool, use_conv=True
        )
        self.head_hidden_size = self.num_features * self.global_pool.feat_mult()
        self.flatten: nn.Module = nn.Flatten(1) if global_pool else nn.Identity()

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        ref = next(self.parameters(), None)
        device = ref.device if ref is not None and ref.device.type != "meta" else None
        self.num_classes = num_classes
        with torch.device(device or "cpu"):
            self._make_head(self.global_pool.pool_type if global_pool is None else global_pool)
        if ref is not None:
            self.classifier.to(dtype=ref.dtype)
        for module in (self.global_pool, self.classifier, self.flatten):
            module.train(self.training)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.global_pool(x)
        if self.drop_rate > 0.0:
            x = F.dropout(x, p=self.drop_rate, training=self.training)
        if pre_logits:
            return self.flatten(x)
        return self.flatten(self.classifier(x))

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        blocks = r"^features\.conv(\d+)" if coarse else r"^features\.conv(\d+)_(\d+)"
        return dict(stem=r"^features\.conv1", blocks=[(blocks, None), (r"^features\.conv5_bn_ac", (99999,))])


DPNArgs = model_args_type(DPN)

_SMALL = DPNArgs(small=True, num_init_features=10, k_r=128, groups=32, inc_sec=(16, 32, 32, 64))

VARIANTS = {
    "dpn48b": dataclasses.replace(_SMALL, b=True, k_sec=(3, 4, 6, 3), act_layer="silu"),
    "dpn68": dataclasses.replace(_SMALL, k_sec=(3, 4, 12, 3)),
    "dpn68b": dataclasses.replace(_SMALL, b=True, k_sec=(3, 4, 12, 3)),
    "dpn92": DPNArgs(num_init_features=64, k_r=96, groups=32, k_sec=(3, 4, 20, 3), inc_sec=(16, 32, 24, 128)),
    "dpn98": DPNArgs(
        num_init_features=96, k_r=160, groups=40, k_sec=(3, 6, 20, 3), inc_sec=(16, 32, 32, 128)
    ),
    "dpn131": DPNArgs(
        num_init_features=128, k_r=160, groups=40, k_sec=(4, 8, 28, 3), inc_sec=(16, 32, 32, 128)
    ),
    "dpn107": DPNArgs(
        num_init_features=128, k_r=200, groups=50, k_sec=(4, 8, 20, 3), inc_sec=(20, 64, 64, 128)
    ),
}

_IMAGENET_STATS = dict(mean=IMAGENET_DEFAULT_MEAN, std=IMAGENET_DEFAULT_STD)
WEIGHTS = {
    "dpn48b.untrained": weight(_IMAGENET_STATS, NO_WEIGHTS),
    "dpn68.mx_in1k": weight(),
    "dpn68b.ra_in1k": weight(_IMAGENET_STATS, default=True, crop=0.95, test=288, test_crop_pct=1.0),
    "dpn68b.mx_in1k": weight(),
    "dpn92.mx_in1k": weight(),
    "dpn98.mx_in1k": weight(),
    "dpn131.mx_in1k": weight(),
    "dpn107.mx_in1k": weight(),
}

default_cfgs = register_family(
    __name__,
    model_cls=DPN,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        pool_size=(7, 7),
        crop_pct=0.875,
        interpolation="bicubic",
        mean=IMAGENET_DPN_MEAN,
        std=IMAGENET_DPN_STD,
        first_conv="features.conv1_1.conv",
        classifier="classifier",
        license="apache-2.0",
    ),
    feature_cfg=dict(flatten_sequential=True),
)


def __getattr__(name: str) -> Entrypoint:
    return family_entrypoint(__name__, name)
