"""timm.models._hub at timm's path: Hugging Face Hub and local weight files, and the Hub export.

Aliases of visionzoo's own definitions (never copies); a timm name not listed here raises an
``AttributeError`` saying it is not ported yet.
"""

from __future__ import annotations

from .._timm_paths import module_getattr
from ..hub.download import hf_split, load_state_dict_from_hf
from ..hub.formats import load_state_dict_from_path
from ..save import save_config_for_hf, save_for_hf

__getattr__ = module_getattr(__name__)

__all__ = [
    "hf_split",
    "load_state_dict_from_hf",
    "load_state_dict_from_path",
    "save_config_for_hf",
    "save_for_hf",
]
