"""Data config: the input size, resize/crop and normalisation a model expects.

Precedence for every field: an explicit argument, then the model's pretrained config, then the
ImageNet defaults. A model's config describes it as built (the builder writes its channels,
mean/std and a token model's input size there), so this reads it rather than inspecting the model.
The result is a plain dict that :func:`~visionzoo.data.create_transform` takes as keyword
arguments (``create_transform(**cfg)``), as with timm.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from ..model import model_in_chans
from ..pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, PretrainedCfg, channel_stats

__all__ = [
    "CROP_MODES",
    "DEFAULT_CROP_MODE",
    "DEFAULT_CROP_PCT",
    "INTERPOLATIONS",
    "fit_channels",
    "resolve_data_config",
    "resolve_input_data_config",
    "resolve_model_data_config",
]

_logger = logging.getLogger(__name__)

DEFAULT_CROP_PCT = 0.875
DEFAULT_CROP_MODE = "center"
CROP_MODES = ("center", "squash", "border")
INTERPOLATIONS = ("nearest", "bilinear", "bicubic", "lanczos", "box", "hamming")


def _as_dict(args: Mapping[str, Any] | argparse.Namespace | None) -> dict[str, Any]:
    if args is None:
        return {}
    if isinstance(args, argparse.Namespace):
        return vars(args)
    if isinstance(args, Mapping):
        return dict(args)
    raise TypeError(f"args must be a mapping or argparse.Namespace, got {type(args).__name__}")


def _cfg_get(cfg: Mapping[str, Any], key: str) -> Any:
    return cfg.get(key) if cfg else None


def fit_channels(values: Sequence[float], in_chans: int) -> tuple[float, ...]:
    """Fit a per-channel mean/std to ``in_chans`` channels: the rule of
    :func:`visionzoo.pretrained.channel_stats` (the one the builder writes into a model's config)."""
    return channel_stats(values, in_chans)


def resolve_data_config(
    args: Mapping[str, Any] | argparse.Namespace | None = None,
    pretrained_cfg: PretrainedCfg | Mapping[str, Any] | None = None,
    model: nn.Module | None = None,
    use_test_size: bool = False,
) -> dict[str, Any]:
    """Resolve ``input_size``, ``interpolation``, ``mean``, ``std``, ``crop_pct``, ``crop_mode``.

    Args:
        args: explicit values; recognised keys ``input_size`` (C, H, W), ``img_size`` (int),
            ``in_chans`` (or ``chans``), ``interpolation``, ``mean``, ``std``, ``crop_pct``,
            ``crop_mode``. ``None`` values are ignored.
        pretrained_cfg: the config to fall back on (default: ``model.pretrained_cfg``).
        model: a model built by ``create_model``.
        use_test_size: prefer the config's ``test_input_size`` / ``test_crop_pct``.

    Returns:
        A dict with the six keys above, ready for ``create_transform(**cfg)``.
    """
    if args is None and pretrained_cfg is None and model is None:
        raise ValueError("resolve_data_config needs at least one of args, pretrained_cfg or model")
    explicit = _as_dict(args)
    if not pretrained_cfg and model is not None:
        pretrained_cfg = getattr(model, "pretrained_cfg", None)
    cfg: Mapping[str, Any] = pretrained_cfg or {}

    in_chans = explicit.get("in_chans") if explicit.get("in_chans") is not None else explicit.get("chans")
    if explicit.get("input_size") is not None:
        input_size = tuple(int(v) for v in explicit["input_size"])
        if len(input_size) != 3:
            raise ValueError(f"input_size must be (channels, height, width), got {explicit['input_size']!r}")
    elif explicit.get("img_size") is not None:
        size = explicit["img_size"]
        if isinstance(size, Sequence):
            if len(size) != 2:
                raise ValueError(f"img_size must be an int or (height, width), got {size!r}")
            hw = (int(size[0]), int(size[1]))
        else:
            hw = (int(size), int(size))
        input_size = (int(in_chans or _model_in_chans(model, cfg)), *hw)
    else:
        base = _cfg_get(cfg, "test_input_size") if use_test_size else None
        base = base or _cfg_get(cfg, "input_size") or (3, 224, 224)
        input_size = (int(in_chans) if in_chans is not None else _model_in_chans(model, cfg), *base[1:])
    if any(v < 1 for v in input_size):
        raise ValueError(f"input_size must be positive, got {input_size}")
    chans = input_size[0]

    interpolation = explicit.get("interpolation") or _cfg_get(cfg, "interpolation") or "bicubic"
    if interpolation not in INTERPOLATIONS:
        raise ValueError(f"unknown interpolation {interpolation!r}; valid: {', '.join(INTERPOLATIONS)}")

    out: dict[str, Any] = {"input_size": input_size, "interpolation": interpolation}
    for key, default in (("mean", IMAGENET_DEFAULT_MEAN), ("std", IMAGENET_DEFAULT_STD)):
        value = explicit.get(key)
        if value is not None:
            value = tuple(float(v) for v in value)
            if len(value) not in (1, chans):
                raise ValueError(f"{key} needs 1 or {chans} values (one per channel), got {value}")
        else:
            value = _cfg_get(cfg, key) or default
        out[key] = fit_channels(value, chans)

    crop_pct = explicit.get("crop_pct")
    if not crop_pct:
        crop_pct = (_cfg_get(cfg, "test_crop_pct") if use_test_size else None) or _cfg_get(cfg, "crop_pct")
    crop_pct = float(crop_pct or DEFAULT_CROP_PCT)
    if not 0.0 < crop_pct <= 4.0:
        raise ValueError(f"crop_pct must be in (0, 4], got {crop_pct}")
    out["crop_pct"] = crop_pct

    crop_mode = explicit.get("crop_mode") or _cfg_get(cfg, "crop_mode") or DEFAULT_CROP_MODE
    if crop_mode not in CROP_MODES:
        raise ValueError(f"unknown crop_mode {crop_mode!r}; valid: {', '.join(CROP_MODES)}")
    out["crop_mode"] = crop_mode
    return out


def _model_in_chans(model: nn.Module | None, cfg: Mapping[str, Any]) -> int:
    """The model's input channels (the contract's ``in_chans``), else the config's."""
    if model is not None:
        return model_in_chans(model)
    size = _cfg_get(cfg, "input_size")
    return int(size[0]) if size else 3


def resolve_model_data_config(
    model: nn.Module,
    args: Mapping[str, Any] | argparse.Namespace | None = None,
    pretrained_cfg: PretrainedCfg | Mapping[str, Any] | None = None,
    use_test_size: bool = False,
) -> dict[str, Any]:
    """:func:`resolve_data_config` with the model first (the common call)."""
    return resolve_data_config(args, pretrained_cfg=pretrained_cfg, model=model, use_test_size=use_test_size)


def resolve_input_data_config(
    model: nn.Module,
    args: Mapping[str, Any] | argparse.Namespace | None = None,
    pretrained_cfg: PretrainedCfg | Mapping[str, Any] | None = None,
    use_test_size: bool = False,
    verbose: bool = False,
) -> dict[str, Any]:
    """:func:`resolve_data_config` checked against what the model takes now (timm's).

    The model's channels, and its size where the size is fixed (``get_model_input_config``),
    win; an explicit request for other ones raises ``ValueError`` instead of producing inputs
    the model rejects later. A flexible model takes the requested size, else the config's
    (``test_input_size`` with ``use_test_size``). An explicit ``mean`` / ``std`` needs one value
    or one per channel.
    """
    from ..model_input import _requested_input, get_model_input_config

    explicit = _as_dict(args)
    cfg: Mapping[str, Any] = pretrained_cfg or getattr(model, "pretrained_cfg", None) or {}
    current = get_model_input_config(model)
    requested = dict(explicit.get("model_kwargs") or {})
    size_asked = explicit.get("img_size") is not None or explicit.get("input_size") is not None
    if size_asked and not current["fixed_input_size"]:
        requested.pop("img_size", None)  # a data size request overrides the model's nominal one
    channels, size = _requested_input(explicit, requested)
    model_chans, *model_hw = current["input_size"]
    if channels is not None and channels != model_chans:
        raise ValueError(f"Requested {channels} input channels, but the model accepts {model_chans}")
    if current["fixed_input_size"]:
        if size is not None and size != tuple(model_hw):
            raise ValueError(f"Requested image size {size}, but the model requires {tuple(model_hw)}")
        size = tuple(model_hw)
    elif size is None:
        recommended = _cfg_get(cfg, "test_input_size") if use_test_size else None
        size = tuple((recommended or _cfg_get(cfg, "input_size") or current["input_size"])[-2:])
    resolved = {**explicit, "input_size": (model_chans, *size), "in_chans": model_chans}
    for key, default in (("mean", IMAGENET_DEFAULT_MEAN), ("std", IMAGENET_DEFAULT_STD)):
        value = explicit.get(key)
        if value is None:
            value = _cfg_get(cfg, key) or default
            value = (value,) if isinstance(value, (int, float)) else tuple(value)
            if len(value) not in (1, model_chans):  # a source of other channels: its average
                _logger.warning("pretrained %s does not fit %d channels; using its mean", key, model_chans)
                value = (sum(value) / len(value),)
        value = (value,) if isinstance(value, (int, float)) else tuple(value)
        if len(value) not in (1, model_chans):
            raise ValueError(f"{key} must have one value or {model_chans} values, got {len(value)}")
        resolved[key] = value
    out = resolve_data_config(resolved, pretrained_cfg=cfg, model=model, use_test_size=use_test_size)
    if verbose:
        _logger.info("data config: %s", out)
    return out
