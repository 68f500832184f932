"""Pruned architectures: resize a model's layers to the shapes in a pruning spec.

A spec lists parameter shapes as ``name:[d0, d1, ...]`` entries joined by ``***`` (the format of
the published pruned models, e.g. `Knapsack Pruning with Inner Distillation`,
https://arxiv.org/abs/2002.08258). Convolutions, batch norms and linear layers are resized in
place, so subclasses (fused norm+act, 'same'-padded convs) keep their type and behaviour.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import torch
from torch import nn

from .adapt import as_names

__all__ = ["adapt_model_from_file", "adapt_model_from_string", "parse_prune_spec"]


def parse_prune_spec(spec: str) -> dict[str, list[int]]:
    """``"a.weight:[4, 3]***b.weight:[4]"`` -> ``{"a.weight": [4, 3], "b.weight": [4]}``."""
    shapes = {}
    for entry in spec.strip().split("***"):
        key, sep, shape = entry.partition(":")
        if not sep or not shape.startswith("[") or not shape.endswith("]"):
            raise ValueError(f"malformed pruning spec entry {entry[:80]!r}; expected 'name:[d0, d1]'")
        dims = shape[1:-1].strip()
        if dims:
            shapes[key.strip()] = [int(d) for d in dims.split(",")]
    return shapes


def _new_param(like: torch.Tensor, *shape: int) -> nn.Parameter:
    return nn.Parameter(torch.empty(shape, device=like.device, dtype=like.dtype))


def _resize_conv(conv: nn.Conv2d, out_chs: int, in_chs: int) -> None:
    if conv.groups > 1:  # depthwise: groups follow the channels
        in_chs = conv.groups = out_chs
    conv.in_channels, conv.out_channels = in_chs, out_chs
    conv.weight = _new_param(conv.weight, out_chs, in_chs // conv.groups, *conv.kernel_size)
    if conv.bias is not None:
        conv.bias = _new_param(conv.bias, out_chs)
    _reset(conv)


def _resize_norm(norm: nn.BatchNorm2d, chs: int) -> None:
    norm.num_features = chs
    ref = norm.weight if norm.weight is not None else norm.running_mean
    if norm.affine:
        norm.weight, norm.bias = _new_param(ref, chs), _new_param(ref, chs)
    if norm.track_running_stats:
        norm.running_mean = torch.empty(chs, device=ref.device, dtype=ref.dtype)
        norm.running_var = torch.empty(chs, device=ref.device, dtype=ref.dtype)
    _reset(norm)


def _resize_linear(fc: nn.Linear, in_features: int) -> None:
    fc.in_features = in_features
    fc.weight = _new_param(fc.weight, fc.out_features, in_features)
    _reset(fc)


def _reset(module: nn.Conv2d | nn.BatchNorm2d | nn.Linear) -> None:
    ref = module.weight if module.weight is not None else module.running_mean
    if ref is None or ref.device.type != "meta":
        module.reset_parameters()


def adapt_model_from_string(model: nn.Module, spec: str) -> nn.Module:
    """Resize ``model``'s layers (in place) to the shapes in ``spec``; returns ``model``.

    First convs (``pretrained_cfg.first_conv``) keep their input channels so ``in_chans`` still
    applies; ``num_features``, ``head_hidden_size`` and ``feature_info`` follow the new widths.
    """
    shapes = parse_prune_spec(spec)
    cfg = getattr(model, "pretrained_cfg", None)
    input_convs = set(as_names(cfg.first_conv if cfg is not None else None))
    pool = getattr(model, "global_pool", None)
    feat_mult = int(pool.feat_mult()) if pool is not None and hasattr(pool, "feat_mult") else 1

    def shape_of(name: str) -> list[int]:
        try:
            return shapes[f"{name}.weight"]
        except KeyError:
            raise KeyError(f"pruning spec has no shape for {name}.weight; spec and model differ") from None

    num_features: int | None = None
    for name, module in list(model.named_modules()):
        if isinstance(module, nn.Conv2d):
            out_chs, in_chs = shape_of(name)[:2]
            _resize_conv(module, out_chs, module.in_channels if name in input_convs else in_chs)
        elif isinstance(module, nn.BatchNorm2d):
            _resize_norm(module, shape_of(name)[0])
        elif isinstance(module, nn.Linear):
            num_features = shape_of(name)[1]
            _resize_linear(module, num_features * feat_mult)
    _adapt_feature_info(model)
    infos = getattr(model, "feature_info", None)
    if num_features is None and infos:
        num_features = int(infos[-1]["num_chs"])
    if num_features is not None and hasattr(model, "num_features"):
        setattr(model, "num_features", num_features)  # noqa: B010
        setattr(model, "head_hidden_size", num_features * feat_mult)  # noqa: B010
    return model


def _out_width(module: nn.Module) -> int | None:
    if isinstance(module, nn.Conv2d):
        return module.out_channels
    if isinstance(module, nn.BatchNorm2d):
        return module.num_features
    if isinstance(module, nn.Linear):
        return module.out_features
    return None


def _adapt_feature_info(model: nn.Module) -> None:
    """Set each feature level's channels to the width of the last sized layer feeding it."""
    infos: list[dict[str, Any]] = getattr(model, "feature_info", None) or []
    before: dict[int, int | None] = {}
    within: dict[int, int] = {}
    current = None
    for name, module in model.named_modules():
        for i, info in enumerate(infos):
            if name == info["module"]:
                before[i] = current
        width = _out_width(module)
        if width is None:
            continue
        current = width
        for i, info in enumerate(infos):
            if name == info["module"] or name.startswith(info["module"] + "."):
                within[i] = width
    for i, info in enumerate(infos):
        width = within.get(i, before.get(i))
        if width is not None:
            info["num_chs"] = width


def adapt_model_from_file(model: nn.Module, variant: str) -> nn.Module:
    """Resize ``model`` to the pruned shapes of ``variant`` shipped with visionzoo."""
    spec_file = resources.files("visionzoo._data").joinpath(f"{variant}.txt")
    if not spec_file.is_file():
        raise FileNotFoundError(f"no pruning spec for {variant!r} (looked for {variant}.txt)")
    return adapt_model_from_string(model, spec_file.read_text())
