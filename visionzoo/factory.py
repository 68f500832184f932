"""create_model: parse the name, resolve configs and call the registered entrypoint.

Names:

* ``"resnet50"`` - the architecture with its default weight tag;
* ``"resnet50.a1_in1k"`` - a specific weight tag;
* ``"hf-hub:org/repo[@revision]"`` - a Hub repo in timm's layout (``config.json`` + weights);
* ``"local-dir:PATH"`` - a folder in the same layout, e.g. written by :func:`save_pretrained`.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from torch import nn

from . import hub
from .adapt import FilterFn
from .builder import build_model
from .model import model_in_chans
from .pretrained import PretrainedCfg, as_pretrained_cfg
from .registry import (
    UnknownModelError,
    get_recipe,
    list_pretrained,
    model_entrypoint,
    resolve_model_name,
    resolve_pretrained_cfg,
    split_model_name_tag,
)
from .variants import Pruned, Recipe

__all__ = ["build_model_with_cfg", "create_model", "parse_model_name", "save_pretrained"]

_PREFIXES = ("hf-hub:", "hf_hub:", "local-dir:")


def parse_model_name(model_name: str) -> tuple[str | None, str]:
    """``"hf-hub:org/repo"`` -> ``("hf-hub", "org/repo")``; a plain name has source ``None``."""
    if not isinstance(model_name, str) or not model_name:
        raise TypeError(f"model_name must be a non-empty string, got {model_name!r}")
    for prefix in _PREFIXES:
        if model_name.startswith(prefix):
            return prefix[:-1].replace("_", "-"), model_name[len(prefix) :]
    return None, model_name


def _config_source(source: str, location: str, cache_dir: Any) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """``(architecture, pretrained cfg fields, model_args)`` from a saved ``config.json``."""
    if source == "local-dir":
        location = str(Path(location).expanduser())
        if not Path(location).is_dir():  # else it would be taken for a Hub id
            what = "is not a folder" if Path(location).exists() else "not found"
            raise hub.WeightsError(
                f"local-dir:{location}: {what}; pass a folder holding config.json and model.safetensors "
                "(written by save_pretrained or `visionzoo train`)"
            )
    config = hub.load_config_json(location, cache_dir)
    if "pretrained_cfg" in config:
        cfg_fields = dict(config["pretrained_cfg"])
    else:  # older single-dict layout
        cfg_fields = {k: v for k, v in config.items() if k not in ("architecture", "num_features")}
        if "labels" in cfg_fields:
            cfg_fields["label_names"] = cfg_fields.pop("labels")
    try:
        arch = config["architecture"]
    except KeyError:
        raise hub.WeightsError(f"config.json of {location} names no 'architecture'") from None
    for key in ("num_classes", "label_names", "label_descriptions"):
        if key in config:
            cfg_fields[key] = config[key]
    known = set(PretrainedCfg.__dataclass_fields__)
    cfg_fields = {k: v for k, v in cfg_fields.items() if k in known}
    if source == "hf-hub":
        cfg_fields.update(hf_hub_id=location, source="hf-hub", url=None, file=None)
    else:
        cfg_fields.update(file=str(location), source="local-dir", url=None, hf_hub_id=None)
    model_args = dict(config.get("model_args") or {})
    if model_args.get("in_chans") is not None:
        size = tuple(cfg_fields.get("input_size") or (3, 224, 224))
        cfg_fields["input_size"] = (model_args["in_chans"], *size[1:])
    return arch, cfg_fields, model_args


def _check_has_weights(cfg: PretrainedCfg) -> None:
    if cfg.has_weights:
        return
    arch = cfg.architecture or ""
    tags = list_pretrained(arch) if arch else []
    hint = f"; tags with weights: {', '.join(tags)}" if tags else "; this architecture has none"
    raise UnknownModelError(
        f"{cfg.name or arch} has no pretrained weights{hint}. Use pretrained=False, or "
        "pretrained_cfg_overlay=dict(file='path/to/weights') for your own file"
    )


def create_model(
    model_name: str,
    pretrained: bool = False,
    *,
    pretrained_cfg: str | PretrainedCfg | Mapping[str, Any] | None = None,
    pretrained_cfg_overlay: Mapping[str, Any] | None = None,
    checkpoint_path: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a model by name.

    The name is resolved once, to the architecture's build recipe and one
    :class:`PretrainedCfg`, and both go to the builder.

    Args:
        model_name: ``arch``, ``arch.tag``, ``hf-hub:org/repo[@rev]`` or ``local-dir:PATH``.
        pretrained: load weights (the tag's, or the repo's / folder's).
        pretrained_cfg: a tag, or a full config (record or dict) to use instead of the registry's.
        pretrained_cfg_overlay: fields replacing the config's, e.g. ``dict(file="w.safetensors")``.
        checkpoint_path: a local checkpoint to load after building (training checkpoints OK).
        cache_dir: download cache for Hub / URL weights.
        **kwargs: model arguments: ``num_classes``, ``in_chans``, ``global_pool``, ``drop_rate``,
            ``drop_path_rate``, ``output_stride``, ``features_only``, ``out_indices``,
            ``feature_cls``, ``device``, ``dtype`` and each family's own. ``None`` values are
            ignored (the model's default applies).

    Returns:
        The model, in eval mode if ``pretrained`` else train mode (as ``nn.Module`` builds it).

    Example:
        >>> m = create_model("resnet34", in_chans=1)
        >>> m(torch.randn(1, 1, 224, 224)).shape  # doctest: +SKIP
        torch.Size([1, 1000])
    """
    source, name = parse_model_name(model_name)
    if source is not None:
        arch, cfg_fields, model_args = _config_source(source, name, cache_dir)
        if pretrained_cfg is None:
            pretrained_cfg = as_pretrained_cfg(cfg_fields)
        for key, value in model_args.items():
            kwargs.setdefault(key, value)
        name = arch
    arch, tag = resolve_model_name(name)
    cfg = resolve_pretrained_cfg(
        f"{arch}.{tag}" if tag else arch,
        pretrained_cfg,
        pretrained_cfg_overlay,
    )
    if pretrained:
        _check_has_weights(cfg)
    recipe = get_recipe(arch)
    if recipe is not None:
        return build_model(
            recipe, cfg, pretrained, checkpoint_path=checkpoint_path, cache_dir=cache_dir, **kwargs
        )
    # a bare @register_model entrypoint: it gets the resolved config when the caller chose one, and
    # builder options only when set, so simple user entrypoints need not accept them
    chosen = pretrained_cfg is not None or pretrained_cfg_overlay or tag
    options = dict(
        pretrained_cfg=cfg if chosen else None, checkpoint_path=checkpoint_path, cache_dir=cache_dir
    )
    kwargs.update({k: v for k, v in options.items() if v is not None})
    model = model_entrypoint(arch)(pretrained=pretrained, **kwargs)
    if kwargs.get("features_only") and not getattr(model, "feature_info", None):
        # a user entrypoint that swallowed features_only would otherwise return a classifier
        raise ValueError(
            f"{arch} does not support features_only: its entrypoint returned a {type(model).__name__} "
            "without feature_info; build it with build_model_with_cfg and set feature_info"
        )
    return model


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
    cfg = resolve_pretrained_cfg(variant, pretrained_cfg, pretrained_cfg_overlay)
    if pretrained:
        _check_has_weights(cfg)
    recipe = Recipe(
        name=split_model_name_tag(variant)[0],
        model_cls=model_cls,
        args=model_args,
        pruned=pruned,
        feature_cfg=dict(feature_cfg or {}),
        filter_fn=pretrained_filter_fn,
    )
    return build_model(recipe, cfg, pretrained, **kwargs)


def save_pretrained(
    model: nn.Module, save_directory: str | os.PathLike[str], *, model_args: Mapping[str, Any] | None = None
) -> Path:
    """Write ``config.json`` and ``model.safetensors`` in the layout of timm's Hub repos.

    The folder loads back with ``create_model("local-dir:PATH", pretrained=True)`` (in timm too),
    and can be uploaded to the Hub as is. Files are written to temporary names and renamed, so
    an interrupted save leaves no half-written file under the final name.
    """
    from safetensors.torch import save_file

    cfg = getattr(model, "pretrained_cfg", None)
    if cfg is None or not cfg.architecture:
        raise ValueError("save_pretrained needs a model built by create_model (it has no pretrained_cfg)")
    folder = Path(save_directory)
    folder.mkdir(parents=True, exist_ok=True)
    cfg_dict = cfg.to_dict(remove_source=True)
    for key in ("top1", "top5", "param_count", "label_offset"):
        cfg_dict.pop(key, None)
    num_classes = int(getattr(model, "num_classes", cfg.num_classes))
    if num_classes != cfg.num_classes:
        for key in ("label_names", "label_descriptions"):
            cfg_dict.pop(key, None)
    cfg_dict["num_classes"] = num_classes
    in_chans = model_in_chans(model)
    # a fixed-size token model built at another size than its weights' records its own
    patch_embed = getattr(model, "patch_embed", None)
    img_size = (
        getattr(patch_embed, "img_size", None) if getattr(patch_embed, "strict_img_size", False) else None
    )
    cfg_dict["input_size"] = (in_chans, *(img_size or cfg.input_size[1:]))
    config: dict[str, Any] = {
        "architecture": cfg_dict.pop("architecture"),
        "num_classes": num_classes,
        "num_features": int(getattr(model, "num_features", 0)),
    }
    pool = getattr(model, "global_pool", None) or getattr(getattr(model, "head", None), "global_pool", None)
    pool_type = pool if isinstance(pool, str) else getattr(pool, "pool_type", "")  # token models: a str
    if pool_type:
        config["global_pool"] = pool_type
    args = dict(model_args or {})
    if in_chans != 3:
        args.setdefault("in_chans", in_chans)
    if img_size is not None and tuple(img_size) != tuple(cfg.input_size[1:]):
        args.setdefault("img_size", tuple(img_size))
    if isinstance(pool, str) and hasattr(model, "fc_norm"):  # a token model's pooling is structure
        args.setdefault("global_pool", pool)
        args.setdefault("fc_norm", not isinstance(getattr(model, "fc_norm"), nn.Identity))  # noqa: B009
    if args:
        config["model_args"] = args
    config["pretrained_cfg"] = cfg_dict
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    _atomic_write(
        folder / hub.SAFE_WEIGHTS_NAME, lambda p: save_file(tensors, str(p), metadata={"format": "pt"})
    )
    _atomic_write(
        folder / hub.CONFIG_NAME, lambda p: p.write_text(json.dumps(config, indent=2, default=list))
    )
    return folder


def _atomic_write(path: Path, write: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
