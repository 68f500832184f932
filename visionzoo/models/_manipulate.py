"""timm.models._manipulate at timm's path: module walking, checkpointing and first-conv adaptation.

Aliases of visionzoo's own definitions (never copies); a timm name not listed here raises an
``AttributeError`` saying it is not ported yet.
"""

from __future__ import annotations

from .._timm_paths import module_getattr
from ..adapt import adapt_input_conv
from ..model import checkpoint_seq, model_parameters, named_apply, named_modules

__getattr__ = module_getattr(__name__)

__all__ = ["adapt_input_conv", "checkpoint_seq", "model_parameters", "named_apply", "named_modules"]
