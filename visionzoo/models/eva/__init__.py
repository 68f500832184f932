"""EVA: ViTs with rotary position embeddings (RoPE), SwiGLU MLPs and NormFormer-style norms, and
the ViT families timm builds on the same class.

Papers:
* `EVA: Exploring the Limits of Masked Visual Representation Learning at Scale` - https://arxiv.org/abs/2211.07636
* `EVA-02: A Visual Representation for Neon Genesis` - https://arxiv.org/abs/2303.11331
* `EVA-CLIP: Improved Training Techniques for CLIP at Scale` - https://arxiv.org/abs/2303.15389
* `Perception Encoder: The best visual embeddings are not at the output of the network` - https://arxiv.org/abs/2504.13181
* `Rotary Position Embedding for Vision Transformer` - https://arxiv.org/abs/2403.13298 (Naver RoPE-ViT)
* `DINOv3` - https://arxiv.org/abs/2508.10104 (and Meta's EUPE distillations of it)
* `Vision Pretraining for Dense Spatial Perception` - https://arxiv.org/abs/2607.05247 (LingBot-Vision)
* `Sapiens2` - https://arxiv.org/abs/2604.21681

Weights: EVA / EVA-02 (BAAI, MIT), Perception Encoder (Meta, Apache-2.0), RoPE-ViT (Naver,
Apache-2.0), timm's SBB RoPE ViTs, DINOv3 (DINOv3 license), EUPE (FAIR non-commercial research),
LingBot-Vision (Apache-2.0), Sapiens2 (Sapiens2 license), as timm lists them. Module names follow
timm's ``eva``.
"""

from __future__ import annotations

from ...registry import Entrypoint, family_entrypoint, register_family
from .model import Eva, EvaAttention, EvaBlock, EvaBlockPostNorm
from .remap import checkpoint_filter_fn
from .variants import VARIANTS, EvaArgs
from .weights import CFG_DEFAULTS, WEIGHTS

__all__ = [
    "VARIANTS",
    "WEIGHTS",
    "Eva",
    "EvaArgs",
    "EvaAttention",
    "EvaBlock",
    "EvaBlockPostNorm",
    "checkpoint_filter_fn",
    "default_cfgs",
]

default_cfgs = register_family(
    __name__,
    model_cls=Eva,
    variants=VARIANTS,
    weights=WEIGHTS,
    cfg_defaults=CFG_DEFAULTS,
    feature_cfg=dict(out_indices=3, feature_cls="getter"),
    filter_fn=checkpoint_filter_fn,
)


def __getattr__(name: str) -> Entrypoint:
    return family_entrypoint(__name__, name)
