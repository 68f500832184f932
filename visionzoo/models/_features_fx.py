"""timm.models._features_fx at timm's path: FX feature extraction and the no-trace registry.

Aliases of visionzoo's own definitions (never copies); a timm name not listed here raises an
``AttributeError`` saying it is not ported yet.
"""

from __future__ import annotations

from .._timm_paths import module_getattr
from ..features import FeatureGraphNet
from ..layers._fx import (
    create_feature_extractor,
    get_graph_node_names,
    get_notrace_functions,
    get_notrace_modules,
    is_notrace_function,
    is_notrace_module,
    register_notrace_function,
    register_notrace_module,
)

__getattr__ = module_getattr(__name__)

__all__ = [
    "FeatureGraphNet",
    "create_feature_extractor",
    "get_graph_node_names",
    "get_notrace_functions",
    "get_notrace_modules",
    "is_notrace_function",
    "is_notrace_module",
    "register_notrace_function",
    "register_notrace_module",
]
