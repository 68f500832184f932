"""timm.layers.create_act at timm's path: activation factories.

Aliases of visionzoo's own definitions (never copies); a timm name not listed here raises an
``AttributeError`` saying it is not ported yet.
"""

from __future__ import annotations

from .._timm_paths import module_getattr
from .activations import create_act_layer, get_act_fn, get_act_layer

__getattr__ = module_getattr(__name__)

__all__ = ["create_act_layer", "get_act_fn", "get_act_layer"]
