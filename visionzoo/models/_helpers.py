"""timm.models._helpers at timm's path: checkpoint loading and resuming.

Aliases of visionzoo's own definitions (never copies); a timm name not listed here raises an
``AttributeError`` saying it is not ported yet.
"""

from __future__ import annotations

from .._timm_paths import module_getattr
from ..builder import load_checkpoint, resume_checkpoint
from ..hub.formats import clean_state_dict, load_state_dict

__getattr__ = module_getattr(__name__)

__all__ = ["clean_state_dict", "load_checkpoint", "load_state_dict", "resume_checkpoint"]
