"""timm.models._prune at timm's path: pruned-model adaptation.

Aliases of visionzoo's own definitions (never copies); a timm name not listed here raises an
``AttributeError`` saying it is not ported yet.
"""

from __future__ import annotations

from .._timm_paths import module_getattr
from ..prune import adapt_model_from_file, adapt_model_from_string

__getattr__ = module_getattr(__name__)

__all__ = ["adapt_model_from_file", "adapt_model_from_string"]
