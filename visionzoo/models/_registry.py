"""timm.models._registry at timm's path: the model registry.

Aliases of visionzoo's own definitions (never copies); a timm name not listed here raises an
``AttributeError`` saying it is not ported yet.
"""

from __future__ import annotations

from .._timm_paths import module_getattr
from ..registry import (
    get_arch_name,
    get_arch_pretrained_cfgs,
    get_deprecated_models,
    get_pretrained_cfg,
    get_pretrained_cfg_value,
    is_model,
    is_model_in_modules,
    is_model_pretrained,
    list_models,
    list_modules,
    list_pretrained,
    model_entrypoint,
    register_model,
    split_model_name_tag,
)

__getattr__ = module_getattr(__name__)

__all__ = [
    "get_arch_name",
    "get_arch_pretrained_cfgs",
    "get_deprecated_models",
    "get_pretrained_cfg",
    "get_pretrained_cfg_value",
    "is_model",
    "is_model_in_modules",
    "is_model_pretrained",
    "list_models",
    "list_modules",
    "list_pretrained",
    "model_entrypoint",
    "register_model",
    "split_model_name_tag",
]
