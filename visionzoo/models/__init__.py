"""Model families, one module each. Importing this package registers them all."""

from . import cspnet, densenet, inception_v3, resnet, xception_aligned

# --- timm.models' public names, for code written against timm ------------------------------------
# Core functions only; the family classes load their module on first use (``__getattr__``).

# family classes, as timm.models exports them: class name -> family module
_FAMILY_CLASSES = {
    "BasicBlock": "resnet",
    "Bottleneck": "resnet",
    "ResNet": "resnet",
    "CspNet": "cspnet",
    "DenseNet": "densenet",
    "InceptionV3": "inception_v3",
    "XceptionAligned": "xception_aligned",
}

from importlib import import_module  # noqa: E402
from typing import Any  # noqa: E402

from ..builder import build_model_with_cfg, load_checkpoint, load_pretrained, resolve_pretrained_cfg  # noqa: E402
from ..compat import (  # noqa: E402
    checkpoint_seq,
    create_model,
    get_arch_name,
    get_pretrained_cfg_value,
    is_model_in_modules,
    list_models,
    model_parameters,
    named_apply,
    named_modules,
    parse_model_name,
    resume_checkpoint,
    safe_model_name,
)
from ..features import FeatureDictNet, FeatureGraphNet, FeatureHookNet, FeatureInfo, FeatureListNet  # noqa: E402
from ..hub import clean_state_dict, load_state_dict  # noqa: E402
from ..layers._fx import (  # noqa: E402
    create_feature_extractor,
    get_graph_node_names,
    get_notrace_functions,
    get_notrace_modules,
    is_notrace_function,
    is_notrace_module,
    register_notrace_function,
    register_notrace_module,
)
from ..pretrained import PretrainedCfg  # noqa: E402
from ..prune import adapt_model_from_string  # noqa: E402
from ..registry import (  # noqa: E402
    get_arch_pretrained_cfgs,
    get_deprecated_models,
    get_pretrained_cfg,
    is_model,
    is_model_pretrained,
    list_modules,
    list_pretrained,
    model_entrypoint,
    register_model,
    split_model_name_tag,
)


def __getattr__(name: str) -> Any:
    """Load a family class (``visionzoo.models.ResNet``) without importing every family up front."""
    family = _FAMILY_CLASSES.get(name)
    if family is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{family}"), name)


__all__ = [
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
    "cspnet",
    "densenet",
    "get_arch_name",
    "get_arch_pretrained_cfgs",
    "get_deprecated_models",
    "get_graph_node_names",
    "get_notrace_functions",
    "get_notrace_modules",
    "get_pretrained_cfg",
    "get_pretrained_cfg_value",
    "inception_v3",
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
    "resnet",
    "resolve_pretrained_cfg",
    "resume_checkpoint",
    "safe_model_name",
    "split_model_name_tag",
    "xception_aligned",
    *_FAMILY_CLASSES,
]
