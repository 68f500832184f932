"""timm.models._builder at timm's path: model building: ``build_model_with_cfg`` and pretrained loading.

Aliases of visionzoo's own definitions (never copies); a timm name not listed here raises an
``AttributeError`` saying it is not ported yet.
"""

from __future__ import annotations

from .._timm_paths import module_getattr
from ..builder import load_pretrained
from ..factory import build_model_with_cfg
from ..registry import resolve_pretrained_cfg

__getattr__ = module_getattr(__name__)

__all__ = ["build_model_with_cfg", "load_pretrained", "resolve_pretrained_cfg"]
