"""timm.layers.conv2d_same at timm's path: 'SAME'-padded convolution.

Aliases of visionzoo's own definitions (never copies); a timm name not listed here raises an
``AttributeError`` saying it is not ported yet.
"""

from __future__ import annotations

from .._timm_paths import module_getattr
from .conv_bn_act import Conv2dSame

__getattr__ = module_getattr(__name__)

__all__ = ["Conv2dSame"]
