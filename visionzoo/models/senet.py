"""SENet, SE-ResNet and SE-ResNeXt as first published (timm's ``legacy_*`` names).

Paper: `Squeeze-and-Excitation Networks` - https://arxiv.org/abs/1709.01507

Weights: Cadene's pretrained-models ports of the Caffe originals, and a few trained by timm's
author; module names follow those checkpoints (``layer0..4``, ``se_module``, ``last_linear``),
so they load unchanged. The same networks in the modern layout are in the resnet family
(``seresnet50``, ``senet154``...).

The squeeze width is ``channels // reduction`` (no rounding to a divisor), and the Caffe
SE-ResNet bottleneck strides its first 1x1 conv, not its 3x3.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any, ClassVar

import torch
from torch import nn

from ..layers import SEModule
from ..model import Trunk, VisionModel
from ..pretrained import RWIGHTMAN_RELEASES, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = [
    "SEBottleneck",
    "SENet",
    "SEResNeXtBottleneck",
    "SEResNetBlock",
    "SEResNetBottleneck",
    "default_cfgs",
]


def _se(channels: int, reduction: int) -> SEModule:
    """The legacy squeeze-excite: hidden width ``channels // reduction``, ReLU, sigmoid gate."""
    return SEModule(channels, rd_channels=channels // reduction)


def _downsample(in_chs: int, out_chs: int, kernel_size: int, stride: int, padding: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(in_chs, out_chs, kernel_size, stride=stride, padding=padding, bias=False),
        nn.BatchNorm2d(out_chs),
    )


class _SEBottleneckBase(nn.Module):
    """1x1, 3x3 (grouped), 1x1 to ``planes * 4``, squeeze-excite, then the residual add.

    Subclasses give the two inner widths and which conv strides (:meth:`plan`)."""

    expansion: ClassVar[int] = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        groups: int,
        reduction: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        **plan_kwargs: Any,
    ) -> None:
        super().__init__()
        mid1, mid2, stride1 = self.plan(planes, groups, **plan_kwargs)
        out = planes * self.expansion
        self.conv1 = nn.Conv2d(inplanes, mid1, 1, stride=stride if stride1 else 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid1)
        stride2 = 1 if stride1 else stride
        self.conv2 = nn.Conv2d(mid1, mid2, 3, stride=stride2, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(mid2)
        self.conv3 = nn.Conv2d(mid2, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=True)
        self.se_module = _se(out, reduction)
        self.downsample = downsample
        self.stride = stride

    @staticmethod
    def plan(planes: int, groups: int) -> tuple[int, int, bool]:
        """``(width after conv1, width after conv2, whether conv1 takes the stride)``."""
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(self.se_module(out) + shortcut)


class SEBottleneck(_SEBottleneckBase):
    """SENet-154's bottleneck: inner widths ``2 * planes`` then ``4 * planes``."""

    @staticmethod
    def plan(planes: int, groups: int) -> tuple[int, int, bool]:
        return planes * 2, planes * 4, False


class SEResNetBottleneck(_SEBottleneckBase):
    """SE-ResNet's bottleneck (Caffe's): the stride is on the first 1x1 conv."""

    @staticmethod
    def plan(planes: int, groups: int) -> tuple[int, int, bool]:
        return planes, planes, True


class SEResNeXtBottleneck(_SEBottleneckBase):
    """SE-ResNeXt's bottleneck: ``groups`` paths of ``planes * base_width / 64`` channels."""

    def __init__(
        self,
        inplanes: int,
        planes: int,
        groups: int,
        reduction: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
        base_width: int = 4,
    ) -> None:
        super().__init__(inplanes, planes, groups, reduction, stride, downsample, base_width=base_width)

    @staticmethod
    def plan(planes: int, groups: int, base_width: int = 4) -> tuple[int, int, bool]:  # type: ignore[override]
        width = math.floor(planes * (base_width / 64)) * groups
        return width, width, False


class SEResNetBlock(nn.Module):
    """SE-ResNet-18/34's basic block: two 3x3 convs (each norm + ReLU), squeeze-excite, the
    residual add."""

    expansion: ClassVar[int] = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        groups: int,
        reduction: int,
        stride: int = 1,
        downsample: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, padding=1, groups=groups, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.se_module = _se(planes, reduction)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        # NOTE: unlike the bottleneck's last norm, this one is activated before the excite
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.se_module(out) + shortcut)


class SENet(VisionModel):
    """A ResNet stem (``layer0``, one 7x7 or three 3x3 convs) and pool (``pool0``), four stages of
    squeeze-excite blocks, and a linear classifier (``last_linear``).

    Args:
        block: the block class (:class:`SEBottleneck`, :class:`SEResNetBottleneck`,
            :class:`SEResNeXtBottleneck` or :class:`SEResNetBlock`).
        layers: blocks per stage.
        groups: groups of the 3x3 convs.
        reduction: squeeze-excite reduction (hidden width ``channels // reduction``).
        drop_rate: dropout before the classifier.
        in_chans: input channels.
        inplanes: stem channels.
        input_3x3: three 3x3 stem convs (SENet-154) instead of one 7x7.
        downsample_kernel_size: kernel of the strided shortcut convs of stages 2-4.
        downsample_padding: their padding.
        num_classes: classifier outputs (0 for none).
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
    """

    # NOTE: the stem level is read before pool0; layer0 itself is no stage
    trunk = Trunk(stem=("layer0", "pool0"), stages=("layer1", "layer2", "layer3", "layer4"))
    classifier_name = "last_linear"
    head_names = ("global_pool", "last_linear")

    def __init__(
        self,
        block: type[nn.Module],
        layers: tuple[int, ...],
        groups: int,
        reduction: int,
        drop_rate: float = 0.2,
        in_chans: int = 3,
        inplanes: int = 64,
        input_3x3: bool = False,
        downsample_kernel_size: int = 1,
        downsample_padding: int = 0,
        num_classes: int = 1000,
        global_pool: str = "avg",
    ) -> None:
        super().__init__()
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        if input_3x3:
            widths = [(in_chans, 64, 2), (64, 64, 1), (64, inplanes, 1)]
            stem: OrderedDict[str, nn.Module] = OrderedDict()
            for i, (cin, cout, stride) in enumerate(widths, start=1):
                stem[f"conv{i}"] = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
                stem[f"bn{i}"] = nn.BatchNorm2d(cout)
                stem[f"relu{i}"] = nn.ReLU(inplace=True)
        else:
            stem = OrderedDict(
                conv1=nn.Conv2d(in_chans, inplanes, 7, stride=2, padding=3, bias=False),
                bn1=nn.BatchNorm2d(inplanes),
                relu1=nn.ReLU(inplace=True),
            )
        self.layer0 = nn.Sequential(stem)
        self.pool0 = nn.MaxPool2d(3, stride=2, ceil_mode=True)
        self.feature_info = [dict(num_chs=inplanes, reduction=2, module="layer0")]

        expansion: int = block.expansion  # type: ignore[attr-defined]
        chs = inplanes
        for i, (planes, depth) in enumerate(zip((64, 128, 256, 512), layers)):
            stride = 1 if i == 0 else 2
            out = planes * expansion
            downsample = None
            if stride != 1 or chs != out:
                # NOTE: the first stage's shortcut is always a plain 1x1
                k, pad = (1, 0) if i == 0 else (downsample_kernel_size, downsample_padding)
                downsample = _downsample(chs, out, k, stride, pad)
            blocks = [block(chs, planes, groups, reduction, stride, downsample)]
            blocks += [block(out, planes, groups, reduction) for _ in range(1, depth)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*blocks))
            chs = out
            self.feature_info.append(dict(num_chs=chs, reduction=4 * 2**i, module=f"layer{i + 1}"))
        self._init_head(chs, num_classes, global_pool)
        self._initialize()

    def init_weights(self) -> None:
        """Kaiming-normal (fan-out) convs, unit norms; the linear layer keeps PyTorch's default."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^layer0", blocks=r"^layer(\d+)" if coarse else r"^layer(\d+)\.(\d+)")


SENetArgs = model_args_type(SENet)


def _v(block: type[nn.Module], layers: tuple[int, ...], groups: int = 1, **kwargs: Any) -> Any:
    return SENetArgs(block=block, layers=layers, groups=groups, reduction=16, **kwargs)


VARIANTS = {
    "legacy_seresnet18": _v(SEResNetBlock, (2, 2, 2, 2)),
    "legacy_seresnet34": _v(SEResNetBlock, (3, 4, 6, 3)),
    "legacy_seresnet50": _v(SEResNetBottleneck, (3, 4, 6, 3)),
    "legacy_seresnet101": _v(SEResNetBottleneck, (3, 4, 23, 3)),
    "legacy_seresnet152": _v(SEResNetBottleneck, (3, 8, 36, 3)),
    "legacy_senet154": _v(
        SEBottleneck,
        (3, 8, 36, 3),
        groups=64,
        downsample_kernel_size=3,
        downsample_padding=1,
        inplanes=128,
        input_3x3=True,
    ),
    "legacy_seresnext26_32x4d": _v(SEResNeXtBottleneck, (2, 2, 2, 2), groups=32),
    "legacy_seresnext50_32x4d": _v(SEResNeXtBottleneck, (3, 4, 6, 3), groups=32),
    "legacy_seresnext101_32x4d": _v(SEResNeXtBottleneck, (3, 4, 23, 3), groups=32),
}

_OURS = RWIGHTMAN_RELEASES + "v0.1-weights/"
_CADENE = RWIGHTMAN_RELEASES + "v0.1-cadene/"
_BICUBIC = dict(interpolation="bicubic")
WEIGHTS = {
    "legacy_senet154.in1k": weight(url=_OURS + "legacy_senet154-e9eb9fe6.pth"),
    "legacy_seresnet18.in1k": weight(_BICUBIC, url=_OURS + "seresnet18-4bb0ce65.pth"),
    "legacy_seresnet34.in1k": weight(url=_OURS + "seresnet34-a4004e63.pth"),
    "legacy_seresnet50.in1k": weight(url=_CADENE + "se_resnet50-ce0d4300.pth"),
    "legacy_seresnet101.in1k": weight(url=_CADENE + "se_resnet101-7e38fcc6.pth"),
    "legacy_seresnet152.in1k": weight(url=_CADENE + "se_resnet152-d17c99b7.pth"),
    "legacy_seresnext26_32x4d.in1k": weight(_BICUBIC, url=_OURS + "seresnext26_32x4d-65ebdb501.pth"),
    "legacy_seresnext50_32x4d.in1k": weight(url=_OURS + "legacy_se_resnext50_32x4d-f3651bad.pth"),
    "legacy_seresnext101_32x4d.in1k": weight(url=_OURS + "legacy_se_resnext101_32x4d-37725eac.pth"),
}

default_cfgs = register_family(
    __name__,
    model_cls=SENet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        hf_hub_id=None,
        pool_size=(7, 7),
        crop_pct=0.875,
        interpolation="bilinear",
        first_conv="layer0.conv1",
        classifier="last_linear",
        license="apache-2.0",
    ),
)


def __getattr__(name: str) -> Entrypoint:
    return family_entrypoint(__name__, name)
