"""A model's current input contract and construction arguments, apart from its checkpoint's config.

``model.pretrained_cfg`` describes the weights' source (the size and channels they were trained
at) and is never changed after building. What the model takes now (channels, nominal image size,
whether that size is fixed, its first conv) is read here from the model itself, so it follows
``set_input_size`` / ``reset_classifier`` without bookkeeping; ``get_model_args`` adds the
arguments ``create_model`` recorded, for rebuilding the model as it is now. Names and semantics
are timm's (``timm.models._input`` offers them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, cast

import torch
from torch import nn

__all__ = [
    "get_model_args",
    "get_model_input_config",
    "get_model_traits",
    "get_pretrained_grid_size",
    "update_model_args",
    "update_model_input_size",
]

# regularisation is training state, not structure: never part of the arguments to rebuild with
_TRAINING_ONLY = ("drop_rate", "drop_path_rate", "drop_block_rate")


def _spatial_size(size: int | Sequence[int]) -> tuple[int, int]:
    hw = (size, size) if isinstance(size, int) else tuple(int(s) for s in size)
    if len(hw) != 2 or any(s <= 0 for s in hw):
        raise ValueError(f"expected a positive image size (H, W), got {size!r}")
    return hw  # type: ignore[return-value]


def _requested_input(
    args: Mapping[str, Any] | None, model_kwargs: Mapping[str, Any] | None = None
) -> tuple[int | None, tuple[int, int] | None]:
    """The channel count and image size a script asks for (``input_size``, ``in_chans`` /
    ``chans``, ``img_size``, and the same in ``model_kwargs``); ``ValueError`` when two disagree."""
    args, model_kwargs = args or {}, model_kwargs or {}
    channels: dict[str, int] = {}
    sizes: dict[str, tuple[int, int]] = {}
    if args.get("input_size") is not None:
        size = tuple(args["input_size"])
        if len(size) != 3:
            raise ValueError(f"input_size must be (C, H, W), got {args['input_size']!r}")
        channels["input_size"], sizes["input_size"] = int(size[0]), _spatial_size(size[1:])
    for key in ("in_chans", "chans"):
        if args.get(key) is not None:
            channels[key] = int(args[key])
    if args.get("img_size") is not None:
        sizes["img_size"] = _spatial_size(args["img_size"])
    if model_kwargs.get("in_chans") is not None:
        channels["model_kwargs.in_chans"] = int(model_kwargs["in_chans"])
    if model_kwargs.get("img_size") is not None:
        sizes["model_kwargs.img_size"] = _spatial_size(model_kwargs["img_size"])
    if len(set(channels.values())) > 1:
        raise ValueError(f"Conflicting input channel counts: {channels}")
    if len(set(sizes.values())) > 1:
        raise ValueError(f"Conflicting input image sizes: {sizes}")
    count = next(iter(channels.values()), None)
    if count is not None and count < 1:
        raise ValueError(f"the input channel count must be positive, got {count}")
    return count, next(iter(sizes.values()), None)


def _cfg(model: nn.Module) -> Mapping[str, Any]:
    cfg = getattr(model, "pretrained_cfg", None)
    if cfg is None:
        return {}
    return cfg if isinstance(cfg, Mapping) else cfg.to_dict()


def get_model_traits(model: nn.Module) -> dict[str, Any]:
    """A fresh dict of what the model takes now: ``img_size`` (its nominal ``(H, W)``, None for a
    model with no size of its own, like a CNN), ``fixed_input_size``, ``first_conv``, and
    ``in_chans`` / ``num_classes`` where the model has them (a feature backbone has no classes)."""
    traits = dict(getattr(model, "_traits", {}))  # a user model may declare its own
    cfg = _cfg(model)
    patch_embed = getattr(model, "patch_embed", None)
    size = getattr(patch_embed, "img_size", None)
    if "img_size" not in traits:
        traits["img_size"] = _spatial_size(size) if size is not None else None
    if "fixed_input_size" not in traits:
        fixed = getattr(patch_embed, "strict_img_size", cfg.get("fixed_input_size", False))
        traits["fixed_input_size"] = bool(fixed and not getattr(model, "dynamic_img_size", False))
    first_conv = traits.get("first_conv", cfg.get("first_conv"))
    traits["first_conv"] = tuple(first_conv) if isinstance(first_conv, list) else first_conv
    traits.update({k: getattr(model, k) for k in ("in_chans", "num_classes") if hasattr(model, k)})
    return traits


def get_model_input_config(model: nn.Module) -> dict[str, Any]:
    """``input_size`` ``(C, H, W)`` the model takes now (its nominal size; a recommendation where
    the size is not fixed), ``fixed_input_size`` and ``first_conv``; the checkpoint's config
    fills what the model does not say."""
    cfg = _cfg(model)
    traits = get_model_traits(model)
    source = tuple(cfg.get("input_size") or (3, 224, 224))
    size = traits.get("img_size") or source[-2:]
    return {
        "input_size": (traits.get("in_chans", source[0]), *size),
        "fixed_input_size": traits.get("fixed_input_size", cfg.get("fixed_input_size", False)),
        "first_conv": traits.get("first_conv", cfg.get("first_conv")),
    }


def _get_global_pool(model: nn.Module) -> str | None:
    """The pooling in use, read from the module that pools (a head's pool wins over a model
    attribute that ``reset_classifier`` may have left at its constructor value)."""
    head = getattr(model, "head", None)
    for pool in (
        getattr(head, "global_pool", None),
        getattr(head, "pool_type", None),
        getattr(model, "global_pool", None),
    ):
        pool = getattr(pool, "pool_type", pool)
        if isinstance(pool, str):
            return pool
    return None


def get_model_args(model: nn.Module, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Arguments that rebuild the model as it is now: those ``create_model`` recorded (dropout and
    drop-path rates left out), ``overrides``, then the current ``in_chans``, ``num_classes``,
    ``global_pool`` and ``img_size``. An override that contradicts the model raises ``ValueError``."""
    args = {
        k: v
        for k, v in getattr(model, "_model_args", {}).items()
        if k not in _TRAINING_ONLY and not k.endswith("_drop_rate")
    }
    args.update(overrides or {})
    traits = get_model_traits(model)
    current: dict[str, Any] = {k: traits[k] for k in ("in_chans", "num_classes") if k in traits}
    pool = _get_global_pool(model)
    if pool is not None:
        current["global_pool"] = pool
    if traits.get("img_size") is not None:
        current["img_size"] = traits["img_size"]
    for key, value in current.items():
        if overrides and key in overrides:
            given = _spatial_size(overrides[key]) if key == "img_size" else overrides[key]
            if given != value:
                raise ValueError(f"Export argument {key}={given} disagrees with the current model ({value})")
        args[key] = value
    return args


def update_model_input_size(
    model: nn.Module, img_size: int | Sequence[int] | None, **model_args: Any
) -> None:
    """Record a resize (and the arguments it changed, e.g. ``patch_size``) in the arguments
    :func:`get_model_args` returns; the checkpoint's config is left as it is."""
    args = dict(getattr(model, "_model_args", {}))
    args.update({k: v for k, v in model_args.items() if v is not None})
    if img_size is not None:
        args["img_size"] = _spatial_size(img_size)
    else:
        args.pop("img_size", None)
    cast(Any, model)._model_args = args  # a plain attribute (nn.Module.__setattr__ is typed Tensor | Module)


def update_model_args(model: nn.Module, **model_args: Any) -> None:
    """Record arguments changed after construction (for :func:`get_model_args`)."""
    cast(Any, model)._model_args = {**getattr(model, "_model_args", {}), **model_args}


def get_pretrained_grid_size(
    model: nn.Module, patch_weight: torch.Tensor | None, num_tokens: int
) -> tuple[int, int] | None:
    """The checkpoint's position grid: its image size (``pretrained_model_args``, else the
    config's ``input_size``) over the patch kernel's size, when that grid holds exactly
    ``num_tokens``; None otherwise (the caller keeps its own fallback)."""
    if patch_weight is None or patch_weight.ndim != 4:
        return None
    size = getattr(model, "pretrained_model_args", {}).get("img_size")
    if size is None:
        size = tuple(_cfg(model).get("input_size") or (3, 224, 224))[-2:]
    hw = _spatial_size(size)
    grid = (hw[0] // int(patch_weight.shape[-2]), hw[1] // int(patch_weight.shape[-1]))
    return grid if grid[0] * grid[1] == num_tokens else None
