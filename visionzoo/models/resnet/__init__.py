"""ResNet, ResNeXt, SE-/ECA-ResNet, Wide ResNet, ResNet-RS, anti-aliased and GroupNorm ResNets.

Papers:
* `Deep Residual Learning for Image Recognition` - https://arxiv.org/abs/1512.03385
* `Bag of Tricks for Image Classification with CNNs` (c/d/s stems) - https://arxiv.org/abs/1812.01187
* `Aggregated Residual Transformations for Deep Neural Networks` - https://arxiv.org/abs/1611.05431
* `Wide Residual Networks` - https://arxiv.org/abs/1605.07146
* `Squeeze-and-Excitation Networks` - https://arxiv.org/abs/1709.01507
* `ECA-Net` - https://arxiv.org/abs/1910.03151
* `Making Convolutional Networks Shift-Invariant Again` - https://arxiv.org/abs/1904.11486
* `Revisiting ResNets: Improved Training and Scaling Strategies` - https://arxiv.org/abs/2103.07579
* `ResNet strikes back: An improved training procedure in timm` - https://arxiv.org/abs/2110.00476
* `Knapsack Pruning with Inner Distillation` - https://arxiv.org/abs/2002.08258

Weights: each tag's ``license`` field gives its terms (Apache-2.0 for timm-trained weights,
BSD-3-Clause for torchvision's, CC-BY-NC-4.0 for Facebook's semi/weakly supervised ones).
Module names follow timm's ResNet, so timm checkpoints load unchanged.
"""

from __future__ import annotations

from ...registry import Entrypoint, family_entrypoint, register_family
from .model import (
    BasicBlock,
    Bottleneck,
    ResNet,
    downsample_avg,
    downsample_conv,
    drop_blocks,
    get_padding,
    make_blocks,
)
from .variants import VARIANTS, ResNetArgs
from .weights import CFG_DEFAULTS, DEPRECATED, WEIGHTS

__all__ = [
    "VARIANTS",
    "WEIGHTS",
    "BasicBlock",
    "Bottleneck",
    "ResNet",
    "ResNetArgs",
    "default_cfgs",
    "downsample_avg",
    "downsample_conv",
    "drop_blocks",
    "get_padding",
    "make_blocks",
]

default_cfgs = register_family(
    __name__,
    model_cls=ResNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=CFG_DEFAULTS,
    deprecated=DEPRECATED,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. resnet50d
    return family_entrypoint(__name__, name)
