"""timm.layers.create_norm_act at timm's path: the norm+act factory.

Aliases of visionzoo's own definitions (never copies); a timm name not listed here raises an
``AttributeError`` saying it is not ported yet.
"""

from __future__ import annotations

from .._timm_paths import module_getattr
from .norm_act import get_norm_act_layer

__getattr__ = module_getattr(__name__)

__all__ = ["get_norm_act_layer"]
