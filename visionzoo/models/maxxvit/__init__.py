"""CoAtNet, MaxViT, MaxxViT and MaxxViT-V2: conv / attention hybrids with relative position biases.

Papers:
* `MaxViT: Multi-Axis Vision Transformer` - https://arxiv.org/abs/2204.01697
* `CoAtNet: Marrying Convolution and Attention for All Data Sizes` - https://arxiv.org/abs/2106.04803

Weights: Apache-2.0 (each tag's ``license``): timm's own (``_rw``, ``_cc``, ``_pm``, MaxxViT and
CoAtNeXt configs, trained before the official MaxViT code) and the official TensorFlow MaxViT
weights (``_tf``). The plain ``coatnet_N_224`` names follow the CoAtNet paper's sizes (no weights).
A model takes the input size it was built for (its block / grid windows and CoAtNet's whole-map
biases follow ``img_size``); a checkpoint of another size loads with its bias tables resampled
(:func:`checkpoint_filter_fn`). Module names follow timm's ``MaxxVit``.
"""

from __future__ import annotations

from ...registry import Entrypoint, family_entrypoint, register_family
from .model import (
    Attention2d,
    AttentionCl,
    ConvNeXtBlock,
    Downsample2d,
    MaxxVit,
    MaxxVitBlock,
    MaxxVitConvCfg,
    MaxxVitStage,
    MaxxVitTransformerCfg,
    MbConvBlock,
    ParallelMaxxVitBlock,
    ParallelPartitionAttention,
    PartitionAttention2d,
    PartitionAttentionCl,
    Stem,
    TransformerBlock2d,
    checkpoint_filter_fn,
)
from .variants import VARIANTS, MaxxVitArgs
from .weights import CFG_DEFAULTS, WEIGHTS

# NOTE: timm's MaxxVitCfg (widths, depths, block letters, stem, conv / transformer configs, head)
# is here the variant record, whose fields are the constructor's
MaxxVitCfg = MaxxVitArgs

__all__ = [
    "VARIANTS",
    "WEIGHTS",
    "Attention2d",
    "AttentionCl",
    "ConvNeXtBlock",
    "Downsample2d",
    "MaxxVit",
    "MaxxVitArgs",
    "MaxxVitBlock",
    "MaxxVitCfg",
    "MaxxVitConvCfg",
    "MaxxVitStage",
    "MaxxVitTransformerCfg",
    "MbConvBlock",
    "ParallelMaxxVitBlock",
    "ParallelPartitionAttention",
    "PartitionAttention2d",
    "PartitionAttentionCl",
    "Stem",
    "TransformerBlock2d",
    "checkpoint_filter_fn",
    "default_cfgs",
]

default_cfgs = register_family(
    __name__,
    model_cls=MaxxVit,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=CFG_DEFAULTS,
    feature_cfg=dict(flatten_sequential=True),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. maxvit_tiny_tf_224
    return family_entrypoint(__name__, name)
