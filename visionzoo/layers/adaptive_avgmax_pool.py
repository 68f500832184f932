"""timm.layers.adaptive_avgmax_pool at timm's path: global pooling.

Aliases of visionzoo's own definitions (never copies); a timm name not listed here raises an
``AttributeError`` saying it is not ported yet.
"""

from __future__ import annotations

from .._timm_paths import module_getattr
from .pool import (
    AdaptiveAvgMaxPool2d,
    AdaptiveCatAvgMaxPool2d,
    SelectAdaptivePool2d,
    adaptive_avgmax_pool2d,
    adaptive_catavgmax_pool2d,
    adaptive_pool_feat_mult,
    select_adaptive_pool2d,
)

__getattr__ = module_getattr(__name__)

__all__ = [
    "AdaptiveAvgMaxPool2d",
    "AdaptiveCatAvgMaxPool2d",
    "SelectAdaptivePool2d",
    "adaptive_avgmax_pool2d",
    "adaptive_catavgmax_pool2d",
    "adaptive_pool_feat_mult",
    "select_adaptive_pool2d",
]
