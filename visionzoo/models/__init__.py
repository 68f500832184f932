"""Model families, one module each, imported on first use.

``FAMILIES`` names the built-in family modules, as the registry's generated index lists them
(``python -m visionzoo.models._index`` finds them: adding a family adds no line here); the
registry imports one of them when a name it defines is first asked for, and all of them when
everything is listed. ``visionzoo.models.resnet`` and the like import on attribute access.

It also offers ``timm.models``' public names that apply to these families (``create_model``,
``get_pretrained_cfg_value``, ``FeatureGraphNet``, every family's model class such as ``ResNet``
or ``EfficientNet``, every model's entrypoint such as ``resnet50``...), so code written against
timm imports them from here; a family class or entrypoint loads its module on first use.

timm's private module paths (``visionzoo.models._builder``, ``_helpers``, ``_manipulate``...) are
alias modules here; a family of timm not ported yet (``visionzoo.models.swin_transformer``, as an
attribute or an import, or its classes such as ``SwinTransformer``) raises an error naming the
family (``visionzoo._timm_paths``).
"""

from __future__ import annotations

import importlib
from typing import Any

from .._timm_paths import install_finder, not_ported, timm_api
from ..builder import load_checkpoint, load_pretrained, resume_checkpoint
from ..factory import (
    build_model_with_cfg,
    create_model,
    parse_model_name,
    resolve_model_input_args,
    safe_model_name,
)
from ..features import FeatureDictNet, FeatureGraphNet, FeatureHookNet, FeatureInfo, FeatureListNet
from ..hub import clean_state_dict, load_state_dict
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
from ..model import checkpoint_seq, model_parameters, named_apply, named_modules
from ..model_input import get_model_args, get_model_input_config, get_model_traits
from ..pretrained import PretrainedCfg
from ..prune import adapt_model_from_string
from ..registry import (
    builtin_index,
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
    resolve_pretrained_cfg,
    split_model_name_tag,
)

FAMILIES: tuple[str, ...] = builtin_index().families

# family classes, as timm.models exports them: class name -> the module defining it. Every
# family's model class comes from the index; timm.models also exports resnet's two blocks.
_FAMILY_CLASSES: dict[str, str] = {
    **builtin_index().classes,
    "BasicBlock": f"{__name__}.resnet",
    "Bottleneck": f"{__name__}.resnet",
}

install_finder()  # `import visionzoo.models.swin_transformer` names the family, not just "no module"


def __getattr__(name: str) -> Any:
    if name in FAMILIES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _FAMILY_CLASSES:
        return getattr(importlib.import_module(_FAMILY_CLASSES[name]), name)
    family = builtin_index().module_of.get(name)
    if family is not None:  # a model name: its entrypoint (timm.models.resnet50), from its family
        module = importlib.import_module(f"{__name__}.{family}")
        if hasattr(module, name):
            return getattr(module, name)
        raise AttributeError(
            f"module {__name__!r} has no attribute {name!r}: it is a deprecated model name with no "
            f"entrypoint of its own; create_model({name!r}) builds the model it now stands for",
            name=name,
        )
    family = timm_api()["family_of"].get(name)  # timm.models.EfficientNetFeatures: from its family
    if family in FAMILIES and hasattr(module := importlib.import_module(f"{__name__}.{family}"), name):
        return getattr(module, name)
    raise not_ported(__name__, name)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(FAMILIES) | set(_FAMILY_CLASSES))


__all__ = [
    "FAMILIES",
    "FeatureDictNet",
    "FeatureGraphNet",
    "FeatureHookNet",
    "FeatureInfo",
    "FeatureListNet",
    "PretrainedCfg",
    "adapt_model_from_string",
    "build_model_with_cfg",
    "checkpoint_seq",
    "clean_state_dict",
    "create_feature_extractor",
    "create_model",
    "get_arch_name",
    "get_arch_pretrained_cfgs",
    "get_deprecated_models",
    "get_graph_node_names",
    "get_model_args",
    "get_model_input_config",
    "get_model_traits",
    "get_notrace_functions",
    "get_notrace_modules",
    "get_pretrained_cfg",
    "get_pretrained_cfg_value",
    "is_model",
    "is_model_in_modules",
    "is_model_pretrained",
    "is_notrace_function",
    "is_notrace_module",
    "list_models",
    "list_modules",
    "list_pretrained",
    "load_checkpoint",
    "load_pretrained",
    "load_state_dict",
    "model_entrypoint",
    "model_parameters",
    "named_apply",
    "named_modules",
    "parse_model_name",
    "register_model",
    "register_notrace_function",
    "register_notrace_module",
    "resolve_model_input_args",
    "resolve_pretrained_cfg",
    "resume_checkpoint",
    "safe_model_name",
    "split_model_name_tag",
    *_FAMILY_CLASSES,
]
