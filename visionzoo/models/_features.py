"""timm.models._features at timm's path: feature extraction wrappers and ``feature_take_indices``.

Aliases of visionzoo's own definitions (never copies); a timm name not listed here raises an
``AttributeError`` saying it is not ported yet.
"""

from __future__ import annotations

from .._timm_paths import module_getattr
from ..features import (
    FeatureDictNet,
    FeatureGetterNet,
    FeatureHookNet,
    FeatureInfo,
    FeatureListNet,
    feature_take_indices,
)

__getattr__ = module_getattr(__name__)

__all__ = [
    "FeatureDictNet",
    "FeatureGetterNet",
    "FeatureHookNet",
    "FeatureInfo",
    "FeatureListNet",
    "feature_take_indices",
]
