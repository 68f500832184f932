"""timm.layers.pool2d_same at timm's path: 'SAME'-padded pooling.

Aliases of visionzoo's own definitions (never copies); a timm name not listed here raises an
``AttributeError`` saying it is not ported yet.
"""

from __future__ import annotations

from .._timm_paths import module_getattr
from .pool import AvgPool2dSame, MaxPool2dSame, create_pool2d

__getattr__ = module_getattr(__name__)

__all__ = ["AvgPool2dSame", "MaxPool2dSame", "create_pool2d"]
