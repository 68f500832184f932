"""Inception-ResNet-v2: Inception blocks whose concatenated branches, projected back by a 1x1
conv and scaled down, are added to the block's input.

Papers:
* `Inception-v4, Inception-ResNet and the Impact of Residual Connections on Learning`
  - https://arxiv.org/abs/1602.07261
* `Ensemble Adversarial Training: Attacks and Defenses` (``tf_ens_adv_in1k``)
  - https://arxiv.org/abs/1705.07204

Weights: Google's TensorFlow releases, as converted by Cadene's pretrained-models. Module names
follow timm's (``conv2d_1a``, ``repeat_1``, ``classif``...), so its checkpoints load unchanged.
The conv-norm-act block is Inception-v3's (unpadded by default, norm eps 1e-3).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import torch
from torch import nn

from ..layers import LayerType
from ..model import VisionModel
from ..pretrained import IMAGENET_INCEPTION_MEAN, IMAGENET_INCEPTION_STD, weight
from ..registry import Entrypoint, family_entrypoint, register_family
from ..variants import model_args_type
from .inception_v3 import MIN_INPUT_SIZE, ConvBlock, basic_conv_block
from .inception_v4 import COL3, COL7, ROW3, ROW7

__all__ = [
    "Block8",
    "Block17",
    "Block35",
    "InceptionResnetV2",
    "Mixed_5b",
    "Mixed_6a",
    "Mixed_7a",
    "default_cfgs",
]


class Mixed_5b(nn.Module):
    """35x35 grid entry, 192 -> 320: 1x1, 5x5, double 3x3 and average-pool branches."""

    def __init__(self, conv_block: ConvBlock | None = None) -> None:
        super().__init__()
        conv_block = conv_block or basic_conv_block()
        self.branch0 = conv_block(192, 96, 1)
        self.branch1 = nn.Sequential(conv_block(192, 48, 1), conv_block(48, 64, 5, padding=2))
        self.branch2 = nn.Sequential(
            conv_block(192, 64, 1), conv_block(64, 96, 3, padding=1), conv_block(96, 96, 3, padding=1)
        )
        self.branch3 = nn.Sequential(
            nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False), conv_block(192, 64, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)), 1)


class Block35(nn.Module):
    """35x35 residual block (320 channels): 1x1, 3x3 and double 3x3 branches."""

    def __init__(self, scale: float = 1.0, conv_block: ConvBlock | None = None) -> None:
        super().__init__()
        block = conv_block or basic_conv_block()
        self.scale = scale
        self.branch0 = block(320, 32, 1)
        self.branch1 = nn.Sequential(block(320, 32, 1), block(32, 32, 3, padding=1))
        self.branch2 = nn.Sequential(
            block(320, 32, 1), block(32, 48, 3, padding=1), block(48, 64, 3, padding=1)
        )
        self.conv2d = nn.Conv2d(128, 320, 1)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2d(torch.cat((self.branch0(x), self.branch1(x), self.branch2(x)), 1))
        return self.act(out * self.scale + x)


class Mixed_6a(nn.Module):
    """35 -> 17, 320 -> 1088: strided 3x3, strided double 3x3, max pool."""

    def __init__(self, conv_block: ConvBlock | None = None) -> None:
        super().__init__()
        conv_block = conv_block or basic_conv_block()
        self.branch0 = conv_block(320, 384, 3, stride=2)
        self.branch1 = nn.Sequential(
            conv_block(320, 256, 1), conv_block(256, 256, 3, padding=1), conv_block(256, 384, 3, stride=2)
        )
        self.branch2 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x)), 1)


class Block17(nn.Module):
    """17x17 residual block (1088 channels): 1x1 and factorised 7x7 branches."""

    def __init__(self, scale: float = 1.0, conv_block: ConvBlock | None = None) -> None:
        super().__init__()
        block = conv_block or basic_conv_block()
        self.scale = scale
        self.branch0 = block(1088, 192, 1)
        self.branch1 = nn.Sequential(block(1088, 128, 1), block(128, 160, **ROW7), block(160, 192, **COL7))
        self.conv2d = nn.Conv2d(384, 1088, 1)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2d(torch.cat((self.branch0(x), self.branch1(x)), 1))
        return self.act(out * self.scale + x)


class Mixed_7a(nn.Module):
    """17 -> 8, 1088 -> 2080: three strided 3x3 branches and a max pool."""

    def __init__(self, conv_block: ConvBlock | None = None) -> None:
        super().__init__()
        conv_block = conv_block or basic_conv_block()
        self.branch0 = nn.Sequential(conv_block(1088, 256, 1), conv_block(256, 384, 3, stride=2))
        self.branch1 = nn.Sequential(conv_block(1088, 256, 1), conv_block(256, 288, 3, stride=2))
        self.branch2 = nn.Sequential(
            conv_block(1088, 256, 1), conv_block(256, 288, 3, padding=1), conv_block(288, 320, 3, stride=2)
        )
        self.branch3 = nn.MaxPool2d(3, stride=2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)), 1)


class Block8(nn.Module):
    """8x8 residual block (2080 channels): 1x1 and factorised 3x3 branches; the last one of the
    network (``no_relu``) leaves the sum unactivated."""

    def __init__(
        self, scale: float = 1.0, no_relu: bool = False, conv_block: ConvBlock | None = None
    ) -> None:
        super().__init__()
        block = conv_block or basic_conv_block()
        self.scale = scale
        self.branch0 = block(2080, 192, 1)
        self.branch1 = nn.Sequential(block(2080, 192, 1), block(192, 224, **ROW3), block(224, 256, **COL3))
        self.conv2d = nn.Conv2d(448, 2080, 1)
        self.relu = None if no_relu else nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2d(torch.cat((self.branch0(x), self.branch1(x)), 1)) * self.scale + x
        if self.relu is not None:
            out = self.relu(out)
        return out


class InceptionResnetV2(VisionModel):
    """Inception-ResNet-v2: an Inception stem, 10 x Block35, reduction, 20 x Block17, reduction,
    9 x Block8 and a last unactivated one, a 1x1 conv to 1536 channels.

    Args:
        num_classes: classifier outputs (0 for none).
        in_chans: input channels.
        drop_rate: dropout before the classifier.
        output_stride: only 32.
        global_pool: ``avg``, ``max``, ``avgmax``, ``catavgmax`` or ``''``.
        norm_layer: norm of every conv block.
        norm_eps: its epsilon (1e-3, as the TensorFlow original).
        act_layer: activation of every conv block.
    """

    classifier_name = "classif"
    head_names = ("global_pool", "classif")
    # NOTE: the smallest input its unpadded convs take (as Inception-v3's), which timm's config
    # does not state; smaller inputs are refused by name
    min_input_size: ClassVar[tuple[int, int, int]] = (3, MIN_INPUT_SIZE, MIN_INPUT_SIZE)

    def __init__(
        self,
        num_classes: int = 1000,
        in_chans: int = 3,
        drop_rate: float = 0.0,
        output_stride: int = 32,
        global_pool: str = "avg",
        norm_layer: LayerType = "batchnorm2d",
        norm_eps: float = 1e-3,
        act_layer: LayerType = "relu",
    ) -> None:
        super().__init__()
        if output_stride != 32:
            raise ValueError(f"InceptionResnetV2 supports output_stride=32 only, got {output_stride}")
        self.in_chans = in_chans
        self.drop_rate = drop_rate
        block = basic_conv_block(norm_layer, norm_eps, act_layer)
        # NOTE: registered in forward order: the trunk is the children up to the head
        self.conv2d_1a = block(in_chans, 32, 3, stride=2)
        self.conv2d_2a = block(32, 32, 3)
        self.conv2d_2b = block(32, 64, 3, padding=1)
        self.maxpool_3a = nn.MaxPool2d(3, stride=2)
        self.conv2d_3b = block(64, 80, 1)
        self.conv2d_4a = block(80, 192, 3)
        self.maxpool_5a = nn.MaxPool2d(3, stride=2)
        self.mixed_5b = Mixed_5b(block)
        self.repeat = nn.Sequential(*(Block35(scale=0.17, conv_block=block) for _ in range(10)))
        self.mixed_6a = Mixed_6a(block)
        self.repeat_1 = nn.Sequential(*(Block17(scale=0.10, conv_block=block) for _ in range(20)))
        self.mixed_7a = Mixed_7a(block)
        self.repeat_2 = nn.Sequential(*(Block8(scale=0.20, conv_block=block) for _ in range(9)))
        self.block8 = Block8(no_relu=True, conv_block=block)
        self.conv2d_7b = block(2080, 1536, 1)
        levels = ((64, 2, "conv2d_2b"), (192, 4, "conv2d_4a"), (320, 8, "repeat"), (1088, 16, "repeat_1"))
        self.feature_info = [dict(num_chs=c, reduction=r, module=m) for c, r, m in levels]
        self.feature_info.append(dict(num_chs=1536, reduction=32, module="conv2d_7b"))
        self._init_head(1536, num_classes, global_pool)

    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """Stem convs 1-2, then 3-4, then each mixed block and each repeated block its own group,
        the last block and conv together (timm's groups; timm has no coarse ones)."""
        units = []
        for name in ("mixed_5b", "repeat", "mixed_6a", "repeat_1", "mixed_7a", "repeat_2"):
            module = getattr(self, name)
            if isinstance(module, nn.Sequential):
                units += [f"{name}.{i}" for i in range(len(module))]
            else:
                units.append(name)
        blocks: list[tuple[str, tuple[int, ...]]] = [(r"^conv2d_[34]", (0,))]
        blocks += [(rf"^{re.escape(unit)}\.", (i + 1,)) for i, unit in enumerate(units)]
        blocks.append((r"^(?:block8|conv2d_7)", (len(units) + 1,)))
        return dict(stem=r"^conv2d_[12]", blocks=blocks)


InceptionResnetV2Args = model_args_type(InceptionResnetV2)

VARIANTS = {"inception_resnet_v2": InceptionResnetV2Args()}

WEIGHTS = {
    "inception_resnet_v2.tf_in1k": weight(default=True),
    "inception_resnet_v2.tf_ens_adv_in1k": weight(),
}

default_cfgs = register_family(
    __name__,
    model_cls=InceptionResnetV2,
    variants=VARIANTS,
    weights=WEIGHTS,
    # NOTE: timm's entries name no url at all (None, not the usual "")
    cfg_defaults=dict(
        url=None,
        input_size=(3, 299, 299),
        pool_size=(8, 8),
        crop_pct=0.8975,
        interpolation="bicubic",
        mean=IMAGENET_INCEPTION_MEAN,
        std=IMAGENET_INCEPTION_STD,
        first_conv="conv2d_1a.conv",
        classifier="classif",
        license="apache-2.0",
    ),
    deprecated={"ens_adv_inception_resnet_v2": "inception_resnet_v2.tf_ens_adv_in1k"},
)


def __getattr__(name: str) -> Entrypoint:
    return family_entrypoint(__name__, name)
