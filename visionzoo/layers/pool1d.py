"""timm.layers.pool1d at timm's path: token pooling.

Aliases of visionzoo's own definitions (never copies); a timm name not listed here raises an
``AttributeError`` saying it is not ported yet.
"""

from __future__ import annotations

from .._timm_paths import module_getattr
from .token_pool import global_pool_nlc

__getattr__ = module_getattr(__name__)

__all__ = ["global_pool_nlc"]
