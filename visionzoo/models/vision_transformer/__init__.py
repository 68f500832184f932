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

from .model import Block, ParallelScalingBlock, ParallelThingsBlock, ResPostBlock, VisionTransformer

__all__ = ["Block", "ParallelScalingBlock", "ParallelThingsBlock", "ResPostBlock", "VisionTransformer"]
