"""timm.models._input at timm's path: a model's current input contract and rebuild arguments.

Aliases of visionzoo's own definitions (never copies); a timm name not listed here raises an
``AttributeError`` saying it is not ported yet.
"""

from __future__ import annotations

from .._timm_paths import module_getattr
from ..model_input import (
    get_model_args,
    get_model_input_config,
    get_model_traits,
    get_pretrained_grid_size,
    update_model_args,
    update_model_input_size,
)

__getattr__ = module_getattr(__name__)

__all__ = [
    "get_model_args",
    "get_model_input_config",
    "get_model_traits",
    "get_pretrained_grid_size",
    "update_model_args",
    "update_model_input_size",
]
