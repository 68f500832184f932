"""create_model: parse the name, resolve configs and call the registered entrypoint.

Names:

* ``"resnet50"`` - the architecture with its default weight tag;
* ``"resnet50.a1_in1k"`` - a specific weight tag;
* ``"hf-hub:org/repo[@revision]"`` - a Hub repo in timm's layout (``config.json`` + weights);
* ``"local-dir:PATH"`` - a folder in the same layout, e.g. written by :func:`save_pretrained`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any, cast

from torch import nn

from . import hub, registry
from .adapt import FilterFn
from .builder import build_model
from .hub import save_pretrained
from .layers.config import set_layer_config
from .pretrained import PretrainedCfg, as_pretrained_cfg
from .variants import Pruned, Recipe, Resolved

__all__ = [
    "build_model_with_cfg",
    "create_model",
    "parse_model_name",
    "resolve_model_input_args",
    "safe_model_name",
    "save_pretrained",
]


# a source prefix has 2+ characters, so that a Windows drive (``C:\\x``) is not one (timm's rule)
_SCHEME = re.compile(r"[a-zA-Z][a-zA-Z0-9+.\-_]+")


def parse_model_name(model_name: str) -> tuple[str | None, str]:
    """``"hf-hub:org/repo"`` -> ``("hf-hub", "org/repo")``, ``"resnet50"`` -> ``(None, "resnet50")``.

    As timm parses names: source prefixes are case-insensitive (``HF-HUB:``, the old ``hf_hub:``),
    and a name without one that looks like a Hub repo id or a path is refused rather than
    guessed at, with the prefixed name to use instead.

    Raises:
        TypeError: ``model_name`` is not a non-empty string.
        UnknownModelError: (a ``ValueError``, timm's type, and the CLI's one-line error) a
            ``source:`` prefix no weight source has, nothing after a known prefix, a path or
            ``org/repo`` without a prefix, or whitespace in a plain name.
    """
    if not isinstance(model_name, str) or not model_name:
        raise TypeError(f"model_name must be a non-empty string, got {model_name!r}")
    source, location = hub.split_source_prefix(model_name)
    if source is not None:
        if not location:
            raise registry.UnknownModelError(f"{model_name!r} names no {source} location after the prefix")
        return source, location
    scheme, sep, _ = model_name.partition(":")
    if sep and _SCHEME.fullmatch(scheme):  # no model name has a colon: a prefix the table lacks
        valid = ", ".join(prefix for s in hub.sources.SOURCES for prefix in s.prefixes)
        raise registry.UnknownModelError(
            f"{model_name!r}: unknown source {scheme + ':'!r}; valid: {valid} or a plain model name"
        )
    if any(c in model_name for c in "/\\:"):
        raise registry.UnknownModelError(_path_like_message(model_name))
    if any(c.isspace() for c in model_name):
        raise registry.UnknownModelError(
            f"{model_name!r} is not a model name (e.g. 'resnet50' or 'resnet50.a1_in1k')"
        )
    return None, model_name


def _path_like_message(model_name: str) -> str:
    """What to write instead of a name that is a path (``/x``, ``./x``, ``C:\\x``, ``\\\\server\\x``) or
    an ``org/repo`` id: a registry name of the same basename would be other weights."""
    drive = len(model_name) > 1 and model_name[1] == ":" and model_name[0].isalpha()
    if model_name.startswith(("/", "\\", ".", "~")) or drive:
        return (
            f"{model_name!r} is not a model name but a filesystem path; for a folder saved by "
            f"save_pretrained use 'local-dir:{model_name}' (a Hub repo id would be 'hf-hub:{model_name}')"
        )
    return (
        f"{model_name!r} is not a model name: it has no source prefix but looks like a Hugging Face "
        f"Hub repo id or a relative folder; use 'hf-hub:{model_name}' for the Hub or "
        f"'local-dir:{model_name}' for a folder"
    )


def safe_model_name(model_name: str, remove_source: bool = True) -> str:
    """``model_name`` as a file-name-safe string (run folders, exported files): every
    non-alphanumeric character becomes ``_``, trailing ones are dropped; ``remove_source`` first
    drops a ``hf-hub:`` / ``local-dir:`` prefix (see :func:`parse_model_name`)."""
    if remove_source:
        model_name = parse_model_name(model_name)[1]
    return "".join(c if c.isalnum() else "_" for c in model_name).rstrip("_")


def create_model(
    model_name: str,
    pretrained: bool = False,
    *,
    pretrained_cfg: str | PretrainedCfg | Mapping[str, Any] | None = None,
    pretrained_cfg_overlay: Mapping[str, Any] | None = None,
    checkpoint_path: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    scriptable: bool | None = None,
    exportable: bool | None = None,
    no_jit: bool | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a model by name.

    The name is resolved once (:func:`visionzoo.registry.resolve`), to the architecture's build
    recipe and one :class:`PretrainedCfg`, and that record goes to the builder.

    Args:
        model_name: ``arch``, ``arch.tag``, ``hf-hub:org/repo[@rev]`` or ``local-dir:PATH``.
        pretrained: load weights (the tag's, or the repo's / folder's).
        pretrained_cfg: a tag, or a full config (record or dict) to use instead of the registry's.
        pretrained_cfg_overlay: fields replacing the config's, e.g. ``dict(file="w.safetensors")``.
        checkpoint_path: a local checkpoint to load after building (a training checkpoint's EMA
            weights where it has them, as timm).
        cache_dir: download cache for Hub / URL weights.
        scriptable, exportable, no_jit: timm's layer switches, set (when not None) while the
            model is built, as ``set_layer_config`` does; every visionzoo layer scripts and
            exports either way.
        **kwargs: model arguments: ``num_classes``, ``in_chans``, ``global_pool``, ``drop_rate``,
            ``drop_path_rate``, ``output_stride``, ``features_only``, ``out_indices``,
            ``feature_cls``, ``feature_cfg``, ``device``, ``dtype`` and each family's own. ``None`` values are
            ignored (the model's default applies).

    Returns:
        The model, in eval mode if ``pretrained`` else train mode (as ``nn.Module`` builds it).

    Example:
        >>> m = create_model("resnet34", in_chans=1)
        >>> m(torch.randn(1, 1, 224, 224)).shape  # doctest: +SKIP
        torch.Size([1, 1000])
    """
    parse_model_name(model_name)  # a path or an unknown prefix fails here, naming what to write
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    name, pretrained_cfg, kwargs, source_args = _resolve_source(model_name, pretrained_cfg, kwargs, cache_dir)
    model = _create(
        name,
        pretrained,
        pretrained_cfg,
        pretrained_cfg_overlay,
        checkpoint_path,
        cache_dir,
        scriptable,
        exportable,
        no_jit,
        kwargs,
    )
    # what rebuilds this model (get_model_args), and the saved source's own arguments
    recorded = {k: v for k, v in kwargs.items() if k not in ("device", "dtype")}
    # plain attributes, not the Tensor | Module that nn.Module.__setattr__ is typed for
    cast(Any, model)._model_args = {**getattr(model, "_model_args", {}), **recorded}
    cast(Any, model).pretrained_model_args = source_args
    return model


def _resolve_source(
    model_name: str,
    pretrained_cfg: str | PretrainedCfg | Mapping[str, Any] | None,
    kwargs: dict[str, Any],
    cache_dir: str | os.PathLike[str] | None,
) -> tuple[str, str | PretrainedCfg | Mapping[str, Any] | None, dict[str, Any], dict[str, Any]]:
    """``(arch name, config, kwargs, source args)``: a ``hf-hub:`` / ``local-dir:`` name gives the
    architecture, config and saved model arguments of its ``config.json`` (the saved arguments are
    defaults under the caller's); any other name is returned as it is."""
    named = hub.name_source(model_name, cache_dir)
    if named is None:
        return model_name, pretrained_cfg, kwargs, {}
    arch, cfg_fields, model_args = named
    if pretrained_cfg is None:
        pretrained_cfg = as_pretrained_cfg(cfg_fields)
    return arch, pretrained_cfg, {**model_args, **kwargs}, dict(model_args)


def _create(
    name: str,
    pretrained: bool,
    pretrained_cfg: str | PretrainedCfg | Mapping[str, Any] | None,
    pretrained_cfg_overlay: Mapping[str, Any] | None,
    checkpoint_path: str | os.PathLike[str] | None,
    cache_dir: str | os.PathLike[str] | None,
    scriptable: bool | None,
    exportable: bool | None,
    no_jit: bool | None,
    kwargs: dict[str, Any],
) -> nn.Module:
    resolved = registry.resolve(
        name,
        pretrained=pretrained,
        pretrained_cfg=pretrained_cfg,
        pretrained_cfg_overlay=pretrained_cfg_overlay,
    )
    if resolved.recipe is not None:
        return build_model(
            resolved,
            pretrained,
            checkpoint_path=checkpoint_path,
            cache_dir=cache_dir,
            scriptable=scriptable,
            exportable=exportable,
            no_jit=no_jit,
            **kwargs,
        )
    # a bare @register_model entrypoint: it gets the resolved config when the caller chose one, and
    # builder options only when set, so simple user entrypoints need not accept them
    chosen = pretrained_cfg is not None or pretrained_cfg_overlay or resolved.tag
    options = dict(
        pretrained_cfg=resolved.pretrained_cfg if chosen else None,
        checkpoint_path=checkpoint_path,
        cache_dir=cache_dir,
    )
    options = {k: v for k, v in options.items() if v is not None}
    with set_layer_config(scriptable=scriptable, exportable=exportable, no_jit=no_jit):
        model = registry.resolved_entrypoint(resolved)(pretrained=pretrained, **{**kwargs, **options})
    if kwargs.get("features_only") and not getattr(model, "feature_info", None):
        # a user entrypoint that swallowed features_only would otherwise return a classifier
        raise ValueError(
            f"{resolved.arch} does not support features_only: its entrypoint returned a "
            f"{type(model).__name__} without feature_info; build it with build_model_with_cfg and set "
            "feature_info"
        )
    return model


def resolve_model_input_args(
    model_name: str, args: Mapping[str, Any] | None = None, **model_kwargs: Any
) -> dict[str, Any]:
    """``create_model`` keyword arguments for a script's input request (timm's).

    ``args`` holds what the script was asked for: ``input_size`` ``(C, H, W)``, ``in_chans`` /
    ``chans``, ``img_size``; two that disagree raise ``ValueError``. The channel count becomes
    ``in_chans``; the size becomes ``img_size`` only for a model whose size is structure (a
    fixed-size config, or ``img_size`` already among ``model_kwargs``), else it is preprocessing
    only. A ``hf-hub:`` / ``local-dir:`` name's saved arguments are defaults. The returned
    ``pretrained_cfg`` is the source's config (a dict), unchanged by the request.
    """
    from .model_input import _requested_input, _spatial_size

    args = args or {}
    model_kwargs = {k: v for k, v in model_kwargs.items() if v is not None}
    channels, size = _requested_input(args, {"in_chans": model_kwargs.get("in_chans")})
    explicit_size = model_kwargs.get("img_size")
    pretrained_cfg = model_kwargs.pop("pretrained_cfg", None)
    overlay = model_kwargs.pop("pretrained_cfg_overlay", None)
    name, pretrained_cfg, model_kwargs, _ = _resolve_source(
        model_name, pretrained_cfg, model_kwargs, model_kwargs.get("cache_dir")
    )
    cfg = registry.resolve_pretrained_cfg(name, pretrained_cfg, overlay).to_dict()
    if channels is not None:
        model_kwargs["in_chans"] = channels
    fixed = (
        cfg.get("fixed_input_size", False)
        and not model_kwargs.get("dynamic_img_size", False)
        and not model_kwargs.get("use_naflex", False)
        and model_kwargs.get("strict_img_size", True)
    )
    if size is not None:
        if fixed and explicit_size is not None and _spatial_size(explicit_size) != size:
            raise ValueError(
                f"Conflicting input image sizes: requested {size}, model_kwargs.img_size={explicit_size}"
            )
        if explicit_size is None and (cfg.get("fixed_input_size", False) or "img_size" in model_kwargs):
            model_kwargs["img_size"] = size
    return {"model_name": registry.split_model_name_tag(name)[0], "pretrained_cfg": cfg, **model_kwargs}


def build_model_with_cfg(
    model_cls: Callable[..., nn.Module],
    variant: str,
    pretrained: bool = False,
    *,
    model_args: Any = None,
    pretrained_cfg: str | PretrainedCfg | Mapping[str, Any] | None = None,
    pretrained_cfg_overlay: Mapping[str, Any] | None = None,
    feature_cfg: Mapping[str, Any] | None = None,
    pretrained_filter_fn: FilterFn | None = None,
    pruned: bool = False,
    **kwargs: Any,
) -> nn.Module:
    """timm's builder call, for your own models: instantiate, prune, load weights, wrap features.

    Registered families never call this (``create_model`` hands their recipe to the builder);
    it is for a hand-written ``@register_model`` entrypoint of a model class of yours.

    Args:
        model_cls: the model class.
        variant: its name (selects the registered config and pruning spec).
        pretrained: load the config's weights.
        model_args: constructor args as a ``model_args_type`` record (user kwargs override it),
            or None to pass ``kwargs`` straight through.
        pretrained_cfg: a tag, a config record/dict, or None for the registered default.
        pretrained_cfg_overlay: config fields to replace, e.g. ``dict(file="w.safetensors")``.
        feature_cfg: ``features_only`` wrapper defaults.
        pretrained_filter_fn: checkpoint remap.
        pruned: resize layers to the variant's pruning spec.
        **kwargs: constructor arguments and the builder's options (``features_only``,
            ``out_indices``, ``feature_cls``, ``checkpoint_path``, ``cache_dir``, ``device``,
            ``dtype``, ``pretrained_strict``).
    """
    if isinstance(model_args, Pruned):
        pruned, model_args = True, model_args.args
    cfg = registry.resolve_pretrained_cfg(
        variant, pretrained_cfg, pretrained_cfg_overlay, pretrained=pretrained
    )
    arch, tag = registry.split_model_name_tag(variant)
    recipe = Recipe(
        name=arch,
        model_cls=model_cls,
        args=model_args,
        pruned=pruned,
        feature_cfg=dict(feature_cfg or {}),
        filter_fn=pretrained_filter_fn,
    )
    return build_model(Resolved(arch=arch, tag=tag, recipe=recipe, pretrained_cfg=cfg), pretrained, **kwargs)
