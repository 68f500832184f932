"""Inception-v4: a pure Inception network (no residuals) on a 299 px input.

Paper: `Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning`
- https://arxiv.org/abs/1602.07261

Weights: Google's TensorFlow release (``tf_in1k``), as converted by Cadene's pretrained-models.
Module names follow timm's (``features.N``, ``last_linear``), so its checkpoint loads unchanged.
The conv-norm-act block is Inception-v3's (unpadded by default, norm eps 1e-3).
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import nn

from ..layers import LayerType
from ..model import Trunk, VisionModel
from ..pretrained import IMAGENET_INCEPTION_MEAN, IMAGENET_INCEPTION_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type
from .inception_v3 import MIN_INPUT_SIZE, ConvBlock, basic_conv_block

__all__ = [
    "COL3",
    "COL7",
    "ROW3",
    "ROW7",
    "InceptionA",
    "InceptionB",
    "InceptionC",
    "InceptionV4",
    "Mixed3a",
    "Mixed4a",
    "Mixed5a",
    "ReductionA",
    "ReductionB",
    "default_cfgs",
]

# factorised kernels: a 1xk row and a kx1 column, padded to keep the size
ROW3: dict[str, Any] = dict(kernel_size=(1, 3), padding=(0, 1))
COL3: dict[str, Any] = dict(kernel_size=(3, 1), padding=(1, 0))
ROW7: dict[str, Any] = dict(kernel_size=(1, 7), padding=(0, 3))
COL7: dict[str, Any] = dict(kernel_size=(7, 1), padding=(3, 0))


def _avg_pool_conv(block: ConvBlock, in_chs: int, out_chs: int) -> nn.Sequential:
    """The pool branch: a 3x3 average (padding not counted), then a 1x1."""
    return nn.Sequential(
        nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False), block(in_chs, out_chs, 1)
    )


class Mixed3a(nn.Module):
    """Stem, 147 -> 73: a max pool and a strided conv side by side (64 -> 160 channels)."""

    def __init__(self, conv_block: ConvBlock) -> None:
        super().__init__()
        self.maxpool = nn.MaxPool2d(3, stride=2)
        self.conv = conv_block(64, 96, 3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.maxpool(x), self.conv(x)), 1)


class Mixed4a(nn.Module):
    """Stem: two unpadded 3x3 branches, one with a factorised 7x7 before it (160 -> 192)."""

    def __init__(self, conv_block: ConvBlock) -> None:
        super().__init__()
        self.branch0 = nn.Sequential(conv_block(160, 64, 1), conv_block(64, 96, 3))
        self.branch1 = nn.Sequential(
            conv_block(160, 64, 1),
            conv_block(64, 64, **ROW7),
            conv_block(64, 64, **COL7),
            conv_block(64, 96, 3),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.branch0(x), self.branch1(x)), 1)


class Mixed5a(nn.Module):
    """Stem, 71 -> 35: a strided conv and a max pool side by side (192 -> 384)."""

    def __init__(self, conv_block: ConvBlock) -> None:
        super().__init__()
        self.conv = conv_block(192, 192, 3, stride=2)
        self.maxpool = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.conv(x), self.maxpool(x)), 1)


class InceptionA(nn.Module):
    """35x35 grid, 384 channels: 1x1, 3x3, double 3x3 and pool branches of 96."""

    def __init__(self, conv_block: ConvBlock) -> None:
        super().__init__()
        self.branch0 = conv_block(384, 96, 1)
        self.branch1 = nn.Sequential(conv_block(384, 64, 1), conv_block(64, 96, 3, padding=1))
        self.branch2 = nn.Sequential(
            conv_block(384, 64, 1), conv_block(64, 96, 3, padding=1), conv_block(96, 96, 3, padding=1)
        )
        self.branch3 = _avg_pool_conv(conv_block, 384, 96)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)), 1)


class ReductionA(nn.Module):
    """35 -> 17, 384 -> 1024: strided 3x3, strided double 3x3, max pool."""

    def __init__(self, conv_block: ConvBlock) -> None:
        super().__init__()
        self.branch0 = conv_block(384, 384, 3, stride=2)
        self.branch1 = nn.Sequential(
            conv_block(384, 192, 1), conv_block(192, 224, 3, padding=1), conv_block(224, 256, 3, stride=2)
        )
        self.branch2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x)), 1)


class InceptionB(nn.Module):
    """17x17 grid, 1024 channels: 7x7 and double 7x7 convs factorised into rows and columns."""

    def __init__(self, conv_block: ConvBlock) -> None:
        super().__init__()
        self.branch0 = conv_block(1024, 384, 1)
        self.branch1 = nn.Sequential(
            conv_block(1024, 192, 1), conv_block(192, 224, **ROW7), conv_block(224, 256, **COL7)
        )
        self.branch2 = nn.Sequential(
            conv_block(1024, 192, 1),
            conv_block(192, 192, **COL7),
            conv_block(192, 224, **ROW7),
            conv_block(224, 224, **COL7),
            conv_block(224, 256, **ROW7),
        )
        self.branch3 = _avg_pool_conv(conv_block, 1024, 128)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)), 1)


class ReductionB(nn.Module):
    """17 -> 8, 1024 -> 1536: strided 3x3 after a 1x1, strided 3x3 after a 7x7, max pool."""

    def __init__(self, conv_block: ConvBlock) -> None:
        super().__init__()
        self.branch0 = nn.Sequential(conv_block(1024, 192, 1), conv_block(192, 192, 3, stride=2))
        self.branch1 = nn.Sequential(
            conv_block(1024, 256, 1),
            conv_block(256, 256, **ROW7),
            conv_block(256, 320, **COL7),
            conv_block(320, 320, 3, stride=2),
        )
        self.branch2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x)), 1)


class InceptionC(nn.Module):
    """8x8 grid, 1536 channels: two branches end in a 1x3 and a 3x1 side by side."""

    def __init__(self, conv_block: ConvBlock) -> None:
        super().__init__()
        self.branch0 = conv_block(1536, 256, 1)
        self.branch1_0 = conv_block(1536, 384, 1)
        self.branch1_1a = conv_block(384, 256, **ROW3)
        self.branch1_1b = conv_block(384, 256, **COL3)
        self.branch2_0 = conv_block(1536, 384, 1)
        self.branch2_1 = conv_block(384, 448, **COL3)
        self.branch2_2 = conv_block(448, 512, **ROW3)
        self.branch2_3a = conv_block(512, 256, **ROW3)
        self.branch2_3b = conv_block(512, 256, **COL3)
        self.branch3 = _avg_pool_conv(conv_block, 1536, 256)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x1 = self.branch1_0(x)
        x2 = self.branch2_2(self.branch2_1(self.branch2_0(x)))
        return torch.cat(
            (
                self.branch0(x),
                self.branch1_1a(x1),
                self.branch1_1b(x1),
                self.branch2_3a(x2),
                self.branch2_3b(x2),
                self.branch3(x),
            ),
            1,
        )


class InceptionV4(VisionModel):
    """Inception-v4: stem convs, the three mixed stem blocks, 4 x A, reduction, 7 x B, reduction,
    3 x C, all in one ``features`` sequence.

    Args:
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        output_stride: only 32.
        drop_rate: dropout before the classifier.
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
        norm_layer: norm of every conv block.
        norm_eps: its epsilon (1e-3, as the TensorFlow original).
        act_layer: activation of every conv block.
    """

    trunk = Trunk(stages=("features.*",))
    classifier_name = "last_linear"
    head_names = ("global_pool", "last_linear")
    # NOTE: the smallest input its unpadded convs take (as Inception-v3's), which timm's config
    # does not state; smaller inputs are refused by name
    min_input_size: ClassVar[tuple[int, int, int]] = (3, MIN_INPUT_SIZE, MIN_INPUT_SIZE)

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 3,
        output_stride: int = 32,
        drop_rate: float = 0.0,
        global_pool: str = "avg",
        norm_layer: LayerType = "batchnorm2d",
        norm_eps: float = 1e-3,
        act_layer: LayerType = "relu",
    ) -> None:
        super().__init__()
        if output_stride != 32:
            raise ValueError(f"InceptionV4 supports output_stride=32 only, got {output_stride}")
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        block = basic_conv_block(norm_layer, norm_eps, act_layer)
        self.features = nn.Sequential(
            block(in_chans, 32, 3, stride=2),
            block(32, 32, 3),
            block(32, 64, 3, padding=1),
            Mixed3a(block),
            Mixed4a(block),
            Mixed5a(block),
            *(InceptionA(block) for _ in range(4)),
            ReductionA(block),
            *(InceptionB(block) for _ in range(7)),
            ReductionB(block),
            *(InceptionC(block) for _ in range(3)),
        )
        levels = ((64, 2, 2), (160, 4, 3), (384, 8, 9), (1024, 16, 17), (1536, 32, 21))
        self.feature_info = [dict(num_chs=c, reduction=r, module=f"features.{i}") for c, r, i in levels]
        self._init_head(1536, num_classes, global_pool)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        return dict(stem=r"^features\.[012]\.", blocks=r"^features\.(\d+)")


InceptionV4Args = model_args_type(InceptionV4)

VARIANTS = {"inception_v4": InceptionV4Args()}

WEIGHTS = {"inception_v4.tf_in1k": weight()}

default_cfgs = register_family(
    __name__,
    model_cls=InceptionV4,
    variants=VARIANTS,
    weights=WEIGHTS,
    # NOTE: timm's entry names no url at all (None, not the usual "")
    cfg_defaults=dict(
        url=None,
        input_size=(3, 299, 299),
        pool_size=(8, 8),
        crop_pct=0.875,
        interpolation="bicubic",
        mean=IMAGENET_INCEPTION_MEAN,
        std=IMAGENET_INCEPTION_STD,
        first_conv="features.0.conv",
        classifier="last_linear",
        license="apache-2.0",
    ),
    feature_cfg=dict(flatten_sequential=True),
)


def __getattr__(name: str) -> Entrypoint:
    return family_entrypoint(__name__, name)
