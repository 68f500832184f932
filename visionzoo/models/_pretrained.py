"""timm.models._pretrained at timm's path: the pretrained config record.

Aliases of visionzoo's own definitions (never copies); a timm name not listed here raises an
``AttributeError`` saying it is not ported yet.
"""

from __future__ import annotations

from .._timm_paths import module_getattr
from ..pretrained import PretrainedCfg

__getattr__ = module_getattr(__name__)

__all__ = ["PretrainedCfg"]
