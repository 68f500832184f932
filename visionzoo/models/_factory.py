"""timm.models._factory at timm's path: ``create_model`` and model-name parsing.

Aliases of visionzoo's own definitions (never copies); a timm name not listed here raises an
``AttributeError`` saying it is not ported yet.
"""

from __future__ import annotations

from .._timm_paths import module_getattr
from ..factory import create_model, parse_model_name, resolve_model_input_args, safe_model_name

__getattr__ = module_getattr(__name__)

__all__ = ["create_model", "parse_model_name", "resolve_model_input_args", "safe_model_name"]
