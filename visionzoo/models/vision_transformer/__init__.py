"""Vision Transformer (ViT) and its descendants: DeiT III, AugReg, CLIP / OpenCLIP / SigLIP image
towers, DINOv2, MAE, FlexiViT, register-token ViTs.

Papers:
* `An Image is Worth 16x16 Words: Transformers for Image Recognition at Scale` - https://arxiv.org/abs/2010.11929
* `How to train your ViT? Data, Augmentation, and Regularization in Vision Transformers` - https://arxiv.org/abs/2106.10270
* `FlexiViT: One Model for All Patch Sizes` - https://arxiv.org/abs/2212.08013
* `Vision Transformers Need Registers` - https://arxiv.org/abs/2309.16588
* `DINOv2: Learning Robust Visual Features without Supervision` - https://arxiv.org/abs/2304.07193
* `Masked Autoencoders Are Scalable Vision Learners` - https://arxiv.org/abs/2111.06377
* `Learning Transferable Visual Models From Natural Language Supervision` - https://arxiv.org/abs/2103.00020
* `Sigmoid Loss for Language Image Pre-Training` - https://arxiv.org/abs/2303.15343

Weights: each tag's ``license`` field gives its terms. Module names follow timm's
``vision_transformer``, so timm checkpoints load unchanged.
"""

from __future__ import annotations

from ...registry import Entrypoint, family_entrypoint, register_family
from .model import (
    Block,
    DiffParallelScalingBlock,
    ParallelScalingBlock,
    ParallelThingsBlock,
    ResPostBlock,
    VisionTransformer,
    get_init_weights_vit,
    global_pool_nlc,
    init_weights_reset_parameters,
    init_weights_vit_jax,
    init_weights_vit_moco,
    init_weights_vit_timm,
    resize_pos_embed,
)
from .remap import checkpoint_filter_fn
from .variants import VARIANTS, VisionTransformerArgs
from .weights import CFG_DEFAULTS, DEPRECATED, WEIGHTS

__all__ = [
    "VARIANTS",
    "WEIGHTS",
    "Block",
    "DiffParallelScalingBlock",
    "ParallelScalingBlock",
    "ParallelThingsBlock",
    "ResPostBlock",
    "VisionTransformer",
    "VisionTransformerArgs",
    "checkpoint_filter_fn",
    "default_cfgs",
    "get_init_weights_vit",
    "global_pool_nlc",
    "init_weights_reset_parameters",
    "init_weights_vit_jax",
    "init_weights_vit_moco",
    "init_weights_vit_timm",
    "resize_pos_embed",
]

# features_only: timm's getter backbone over forward_intermediates, the last 3 blocks by default
FEATURE_CFG = dict(out_indices=3, feature_cls="getter")

default_cfgs = register_family(
    __name__,
    model_cls=VisionTransformer,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=CFG_DEFAULTS,
    feature_cfg=FEATURE_CFG,
    filter_fn=checkpoint_filter_fn,
    deprecated=DEPRECATED,
)


def __getattr__(name: str) -> Entrypoint:  # the variants' entrypoints, e.g. vit_base_patch16_224
    return family_entrypoint(__name__, name)
