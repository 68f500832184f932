"""visionzoo: PyTorch image models with timm-compatible weights, configs and API.

>>> import visionzoo
>>> visionzoo.list_models("resnet5*")[:3]
['resnet50', 'resnet50_gn', 'resnet50c']
>>> model = visionzoo.create_model("resnet50", num_classes=10)
"""

from typing import TYPE_CHECKING, Any

from .builder import load_checkpoint, load_pretrained
from .factory import build_model_with_cfg, create_model, parse_model_name, save_pretrained
from .features import FeatureDictNet, FeatureHookNet, FeatureInfo, FeatureListNet
from .hub import WeightsError, WeightsUnavailable
from .layers.config import is_exportable, is_scriptable, set_exportable, set_scriptable
from .model import VisionModel
from .optimize import optimize_for_inference, reparameterize
from .pretrained import PretrainedCfg
from .prune import adapt_model_from_file
from .registry import (
    UnknownModelError,
    get_arch_pretrained_cfgs,
    get_deprecated_models,
    get_pretrained_cfg,
    get_pretrained_cfg_value,
    is_model,
    is_model_pretrained,
    list_models,
    list_modules,
    list_pretrained,
    model_entrypoint,
    register_family,
    register_model,
    resolve_pretrained_cfg,
    split_model_name_tag,
)

__version__ = "0.1.0"

# opt-in, so loaded only when asked for: `import visionzoo` never touches `import timm`
_TIMM_ALIAS_NAMES = ("install_timm_alias", "uninstall_timm_alias")
if TYPE_CHECKING:
    from .timm_alias import install_timm_alias, uninstall_timm_alias


def __getattr__(name: str) -> Any:
    if name in _TIMM_ALIAS_NAMES:
        from . import timm_alias

        return getattr(timm_alias, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "FeatureDictNet",
    "FeatureHookNet",
    "FeatureInfo",
    "FeatureListNet",
    "PretrainedCfg",
    "UnknownModelError",
    "VisionModel",
    "WeightsError",
    "WeightsUnavailable",
    "adapt_model_from_file",
    "build_model_with_cfg",
    "create_model",
    "get_arch_pretrained_cfgs",
    "get_deprecated_models",
    "get_pretrained_cfg",
    "get_pretrained_cfg_value",
    "install_timm_alias",
    "is_exportable",
    "is_model",
    "is_model_pretrained",
    "is_scriptable",
    "list_models",
    "list_modules",
    "list_pretrained",
    "load_checkpoint",
    "load_pretrained",
    "model_entrypoint",
    "optimize_for_inference",
    "parse_model_name",
    "register_family",
    "register_model",
    "reparameterize",
    "resolve_pretrained_cfg",
    "save_pretrained",
    "set_exportable",
    "set_scriptable",
    "split_model_name_tag",
    "uninstall_timm_alias",
]
