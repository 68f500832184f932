"""Bring-your-own-blocks networks: GENet, RepVGG, MobileOne, the '*ts' / 'q' ResNets, RegNetZ
(timm's sizing) and CLIP's ResNets.

Papers:
* `Neural Architecture Design for GPU-Efficient Networks` (GENet) - https://arxiv.org/abs/2006.14090
* `RepVGG: Making VGG-style ConvNets Great Again` - https://arxiv.org/abs/2101.03697
* `MobileOne: An Improved One millisecond Mobile Backbone` - https://arxiv.org/abs/2206.04040
* `Fast and Accurate Model Scaling` (RegNetZ) - https://arxiv.org/abs/2103.06877
* `Evolving Normalization-Activation Layers` - https://arxiv.org/abs/2004.02967
* `Learning Transferable Visual Models From Natural Language Supervision` (CLIP) -
  https://arxiv.org/abs/2103.00020

Weights: each tag's ``license`` field gives its terms (Apache-2.0 for GENet and timm-trained
weights, MIT for RepVGG and CLIP, Apple's MobileOne license). RepVGG and MobileOne blocks fold
their branches into one conv with :func:`visionzoo.reparameterize` (or
``optimize_for_inference``). Module names follow timm's ByobNet, so its checkpoints load unchanged.
"""

from __future__ import annotations

from ...registry import Entrypoint, family_entrypoint, register_family
from .model import (
    BasicBlock,
    BottleneckBlock,
    ByoBlockCfg,
    ByobNet,
    ByoModelCfg,
    DarkBlock,
    EdgeBlock,
    LayerFn,
    MobileOneBlock,
    RepVggBlock,
    SelfAttnBlock,
    Stem,
    checkpoint_filter_fn,
    create_block,
    create_byob_stages,
    create_byob_stem,
    get_layer_fns,
    interleave_blocks,
    num_groups,
    register_block,
)
from .variants import VARIANTS, ByobNetArgs
from .weights import CFG_DEFAULTS, WEIGHTS

__all__ = [
    "VARIANTS",
    "WEIGHTS",
    "BasicBlock",
    "BottleneckBlock",
    "ByoBlockCfg",
    "ByoModelCfg",
    "ByobNet",
    "ByobNetArgs",
    "DarkBlock",
    "EdgeBlock",
    "LayerFn",
    "MobileOneBlock",
    "RepVggBlock",
    "SelfAttnBlock",
    "Stem",
    "checkpoint_filter_fn",
    "create_block",
    "create_byob_stages",
    "create_byob_stem",
    "default_cfgs",
    "get_layer_fns",
    "interleave_blocks",
    "num_groups",
    "register_block",
]

default_cfgs = register_family(
    __name__,
    model_cls=ByobNet,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=CFG_DEFAULTS,
    feature_cfg=dict(flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. repvgg_a0
    return family_entrypoint(__name__, name)
