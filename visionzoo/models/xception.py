"""Xception as first published (timm's ``legacy_xception``): separable convs without inner norms,
residual blocks with max-pool downsampling.

Paper: `Xception: Deep Learning with Depthwise Separable Convolutions`
- https://arxiv.org/abs/1610.02357

Weights: the Keras release, as converted by Cadene's pretrained-models (``tf_in1k``). Module names
follow that checkpoint (``blockN.rep``, ``conv1`` / ``pointwise``), so it loads unchanged. The
aligned Xception (``xception41`` ...) is :mod:`~visionzoo.models.xception_aligned`; its separable
conv holds norms and acts under other names, so the two share no module.

Feature levels 1-3 are read inside the next block, at the ReLU that starts it (block1's, block2's
and block11's activated outputs); a cut at such a level leaves that block as its ReLU alone.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from ..model import Trunk, VisionModel
from ..pretrained import IMAGENET_INCEPTION_MEAN, IMAGENET_INCEPTION_STD, RWIGHTMAN_RELEASES, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type

__all__ = ["Block", "SeparableConv2d", "Xception", "default_cfgs"]


class SeparableConv2d(nn.Module):
    """A depthwise conv (``conv1``) then a pointwise 1x1 (``pointwise``), no bias, no norm."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 1,
        stride: int = 1,
        padding: int = 0,
        dilation: int = 1,
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(
            in_channels, in_channels, kernel_size, stride, padding, dilation, groups=in_channels, bias=False
        )
        self.pointwise = nn.Conv2d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.conv1(x))


class Block(nn.Module):
    """``reps`` x (ReLU, separable 3x3, BN), a strided max pool if ``strides`` > 1, plus the input
    (through a strided 1x1 conv + BN where the shape changes).

    Args:
        start_with_relu: begin with the ReLU (the first block reads the stem's activated output).
        grow_first: the first conv widens to ``out_channels`` (else the last one does).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        reps: int,
        strides: int = 1,
        start_with_relu: bool = True,
        grow_first: bool = True,
    ) -> None:
        super().__init__()
        self.residual = True
        self.skip: nn.Module | None = None
        self.skipbn: nn.Module | None = None
        if out_channels != in_channels or strides != 1:
            self.skip = nn.Conv2d(in_channels, out_channels, 1, stride=strides, bias=False)
            self.skipbn = nn.BatchNorm2d(out_channels)
        widths = (
            [in_channels] + [out_channels] * reps if grow_first else [in_channels] * reps + [out_channels]
        )
        rep: list[nn.Module] = []
        for i in range(reps):
            # NOTE: the opening ReLU must not overwrite the input, which the residual adds back
            rep.append(nn.ReLU(inplace=i > 0))
            rep.append(SeparableConv2d(widths[i], widths[i + 1], 3, stride=1, padding=1))
            rep.append(nn.BatchNorm2d(widths[i + 1]))
        if not start_with_relu:
            rep = rep[1:]
        if strides != 1:
            rep.append(nn.MaxPool2d(3, strides, 1))
        self.rep = nn.Sequential(*rep)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.rep(x)
        if self.skip is not None and self.skipbn is not None:
            return out + self.skipbn(self.skip(x))
        if self.residual:
            return out + x
        return out

    def prune_to_tap(self) -> None:
        """Keep only the opening ReLU (the previous level's tap): the block then outputs it."""
        self.rep = self.rep[:1]
        self.skip = self.skipbn = None
        self.residual = False


class Xception(VisionModel):
    """Xception: a two-conv stem, 12 blocks (3 entry, 8 middle, 1 exit) and two separable convs.

    Args:
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        drop_rate: dropout before the classifier.
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
    """

    # NOTE: the stem's two unpadded 3x3 convs (the first strided) need 7 px; timm's config does
    # not state it, so the model does (smaller inputs are refused by name)
    min_input_size: ClassVar[tuple[int, int, int]] = (3, 7, 7)
    _TAIL = ("conv3", "bn3", "act3", "conv4", "bn4", "act4")
    # NOTE: the tail is units, not post: the last level is read at act4
    trunk = Trunk(stem=("conv1", "bn1", "act1", "conv2", "bn2", "act2"), stages=("block*", *_TAIL))

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 3,
        drop_rate: float = 0.0,
        global_pool: str = "avg",
    ) -> None:
        super().__init__()
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        self.conv1 = nn.Conv2d(in_chans, 32, 3, 2, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(32)
        self.act1 = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(32, 64, 3, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.act2 = nn.ReLU(inplace=True)
        # (in, out, reps, stride) and the two exceptions: block1 starts unactivated, block12 widens last
        plan = [
            (64, 128, 2, 2),
            (128, 256, 2, 2),
            (256, 728, 2, 2),
            *[(728, 728, 3, 1)] * 8,
            (728, 1024, 2, 2),
        ]
        for i, (cin, cout, reps, stride) in enumerate(plan, start=1):
            block = Block(cin, cout, reps, stride, start_with_relu=i > 1, grow_first=i < len(plan))
            self.add_module(f"block{i}", block)
        self.conv3 = SeparableConv2d(1024, 1536, 3, 1, 1)
        self.bn3 = nn.BatchNorm2d(1536)
        self.act3 = nn.ReLU(inplace=True)
        self.conv4 = SeparableConv2d(1536, 2048, 3, 1, 1)
        self.bn4 = nn.BatchNorm2d(2048)
        self.act4 = nn.ReLU(inplace=True)
        self.feature_info = [
            dict(num_chs=64, reduction=2, module="act2"),
            dict(num_chs=128, reduction=4, module="block2.rep.0"),
            dict(num_chs=256, reduction=8, module="block3.rep.0"),
            dict(num_chs=728, reduction=16, module="block12.rep.0"),
            dict(num_chs=2048, reduction=32, module="act4"),
        ]
        self._init_head(2048, num_classes, global_pool)
        self._initialize()

    def init_weights(self) -> None:
        """Kaiming-normal (fan-out) convs, unit norms; the classifier keeps PyTorch's default."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        # NOTE: timm's regexes as they are: the alternations are unanchored on their right side
        return dict(stem=r"^conv[12]|bn[12]", blocks=[(r"^block(\d+)", None), (r"^conv[34]|bn[34]", (99,))])

    def _prune_trunk(self, max_index: int) -> None:
        """A level read inside the next block: that block keeps only its tap, the opening ReLU."""
        super()._prune_trunk(max_index)
        tap = self.feature_info[max_index]["module"]
        if tap.startswith("block"):
            block = self.get_submodule(tap.split(".")[0])
            if isinstance(block, Block):
                block.prune_to_tap()


XceptionArgs = model_args_type(Xception)

VARIANTS = {"legacy_xception": XceptionArgs()}

WEIGHTS = {
    "legacy_xception.tf_in1k": weight(url=RWIGHTMAN_RELEASES + "v0.1-cadene/xception-43020ad28.pth"),
}

default_cfgs = register_family(
    __name__,
    model_cls=Xception,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=dict(
        hf_hub_id=None,
        input_size=(3, 299, 299),
        pool_size=(10, 10),
        crop_pct=0.8975,
        interpolation="bicubic",
        mean=IMAGENET_INCEPTION_MEAN,
        std=IMAGENET_INCEPTION_STD,
        first_conv="conv1",
        classifier="fc",
        license="apache-2.0",
    ),
    feature_cfg=dict(feature_cls="hook"),
    deprecated={"xception": "legacy_xception"},
)


def __getattr__(name: str) -> Entrypoint:
    return family_entrypoint(__name__, name)
