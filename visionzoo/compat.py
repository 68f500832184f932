"""Names timm code calls that visionzoo's core does not (yet) offer in timm's form.

Downstream projects written against ``timm.models`` (segmentation_models_pytorch's ``tu-``
encoders, training scripts) import these at module load. They are re-exported from
``visionzoo.models``; each is small and built on the core (registry, factory, hub), to be folded
into its home module.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .factory import create_model as _create_model
from .factory import parse_model_name as _parse_model_name
from .hub import WeightsError, clean_state_dict
from .layers.config import set_layer_config
from .registry import get_pretrained_cfg, split_model_name_tag
from .registry import list_models as _list_models

__all__ = [
    "checkpoint_seq",
    "create_model",
    "get_arch_name",
    "get_pretrained_cfg_value",
    "is_model_in_modules",
    "list_models",
    "model_parameters",
    "named_apply",
    "named_modules",
    "parse_model_name",
    "resume_checkpoint",
    "safe_model_name",
]

_SOURCES = ("hf-hub", "local-dir")


def create_model(
    model_name: str,
    pretrained: bool = False,
    *,
    scriptable: bool | None = None,
    exportable: bool | None = None,
    no_jit: bool | None = None,
    **kwargs: Any,
) -> nn.Module:
    """:func:`visionzoo.create_model`, also taking timm's layer switches: the model is built under
    ``set_layer_config(scriptable=..., exportable=..., no_jit=...)``."""
    with set_layer_config(scriptable=scriptable, exportable=exportable, no_jit=no_jit):
        return _create_model(model_name, pretrained, **kwargs)


# --- names --------------------------------------------------------------------------------------
def parse_model_name(model_name: str) -> tuple[str | None, str]:
    """``"hf-hub:org/repo"`` -> ``("hf-hub", "org/repo")``, ``"resnet50"`` -> ``(None, "resnet50")``.

    Raises:
        ValueError: an unknown ``source:`` prefix, nothing after the prefix, or a plain name that
            cannot be a model name (whitespace or a path separator in it).
    """
    source, name = _parse_model_name(model_name)
    if source is None:
        scheme = model_name.split(":", 1)[0] if ":" in model_name else None
        if scheme is not None:
            raise ValueError(
                f"{model_name!r}: unknown source {scheme + ':'!r}; valid: "
                f"{', '.join(s + ':' for s in _SOURCES)} or a plain model name"
            )
        if any(c.isspace() for c in name) or "/" in name or "\\" in name:
            raise ValueError(f"{model_name!r} is not a model name (e.g. 'resnet50' or 'resnet50.a1_in1k')")
    elif not name:
        raise ValueError(f"{model_name!r} names no {source} location after the prefix")
    return source, name


def safe_model_name(model_name: str, remove_source: bool = True) -> str:
    """``model_name`` as a file-name-safe string: every non-alphanumeric character becomes ``_``
    (trailing ones dropped); ``remove_source`` first drops an ``hf-hub:``/``local-dir:`` prefix."""
    if remove_source:
        model_name = parse_model_name(model_name)[1]
    return "".join(c if c.isalnum() else "_" for c in model_name).rstrip("_")


def get_arch_name(model_name: str) -> str:
    """``"resnet50.a1_in1k"`` -> ``"resnet50"``."""
    return split_model_name_tag(model_name)[0]


def list_models(
    filter: str | Iterable[str] = "",
    module: str | Iterable[str] = "",
    pretrained: bool = False,
    exclude_filters: str | Iterable[str] = "",
    name_matches_cfg: bool = False,
    include_tags: bool | None = None,
) -> list[str]:
    """:func:`visionzoo.list_models` in timm's argument order, plus ``name_matches_cfg``: keep only
    names that have a pretrained config registered under them (an architecture, or ``arch.tag``)."""
    names = _list_models(filter, module, pretrained, exclude_filters, include_tags)
    if name_matches_cfg:
        names = [n for n in names if get_pretrained_cfg(n) is not None]
    return names


def is_model_in_modules(model_name: str, module_names: str | Iterable[str]) -> bool:
    """Whether ``model_name``'s architecture is registered by one of the family modules named."""
    modules = [module_names] if isinstance(module_names, str) else list(module_names)
    return get_arch_name(model_name) in _list_models(module=modules)


def get_pretrained_cfg_value(model_name: str, cfg_key: str) -> Any:
    """One field of ``model_name``'s pretrained config (None when the model has no config).

    Raises:
        KeyError: ``cfg_key`` is not a config field (the message lists them).
    """
    cfg = get_pretrained_cfg(model_name)
    if cfg is None:
        return None
    if cfg_key not in cfg:
        raise KeyError(f"{cfg_key!r} is not a pretrained cfg field; valid: {', '.join(cfg)}")
    return cfg[cfg_key]


# --- checkpoints ----------------------------------------------------------------------------------
def resume_checkpoint(
    model: nn.Module,
    checkpoint_path: str | os.PathLike[str],
    optimizer: torch.optim.Optimizer | None = None,
    loss_scaler: Any = None,
    log_info: bool = True,
) -> int | None:
    """Restore a training checkpoint written by timm's ``train.py`` (or ours, in its layout).

    Loads the model weights and, when given, the optimizer's and the loss scaler's state. The file
    is read with ``torch.load(weights_only=True)``: it never runs code.

    Returns:
        The epoch to resume at (the checkpoint's ``epoch``, +1 for ``version`` >= 2 files, as
        timm's saver writes them), or None for a plain state dict.
    """
    path = Path(checkpoint_path)
    if not path.is_file():
        raise WeightsError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # refused globals and damaged files alike: say which file and why
        raise WeightsError(f"cannot resume from {path}: {str(e).splitlines()[0]}") from e
    if not isinstance(ckpt, dict):
        raise WeightsError(f"{path} holds a {type(ckpt).__name__}, not a checkpoint")
    if "state_dict" not in ckpt:
        model.load_state_dict(clean_state_dict(ckpt))
        return None
    model.load_state_dict(clean_state_dict(ckpt["state_dict"]))
    if optimizer is not None and "optimizer" in ckpt:
        optimizer.load_state_dict(ckpt["optimizer"])
    key = getattr(loss_scaler, "state_dict_key", None)
    if loss_scaler is not None and key in ckpt:
        loss_scaler.load_state_dict(ckpt[key])
    epoch = ckpt.get("epoch")
    if epoch is None:
        return None
    return int(epoch) + (1 if ckpt.get("version", 1) > 1 else 0)


# --- module helpers -------------------------------------------------------------------------------
def named_apply(
    fn: Callable[..., Any],
    module: nn.Module,
    name: str = "",
    depth_first: bool = True,
    include_root: bool = False,
) -> nn.Module:
    """Call ``fn(module=m, name=dotted_name)`` on every submodule (children after parents unless
    ``depth_first``, where they come first); returns ``module``."""
    if not depth_first and include_root:
        fn(module=module, name=name)
    for child_name, child in module.named_children():
        dotted = f"{name}.{child_name}" if name else child_name
        named_apply(fn, child, dotted, depth_first=depth_first, include_root=True)
    if depth_first and include_root:
        fn(module=module, name=name)
    return module


def named_modules(
    module: nn.Module, name: str = "", depth_first: bool = True, include_root: bool = False
) -> Iterator[tuple[str, nn.Module]]:
    """``(dotted name, module)`` for every submodule, in :func:`named_apply`'s order."""
    if not depth_first and include_root:
        yield name, module
    for child_name, child in module.named_children():
        dotted = f"{name}.{child_name}" if name else child_name
        yield from named_modules(child, dotted, depth_first=depth_first, include_root=True)
    if depth_first and include_root:
        yield name, module


def model_parameters(model: nn.Module, exclude_head: bool = False) -> Iterator[nn.Parameter]:
    """The model's parameters, without the classifier's (its last weight and bias) with ``exclude_head``."""
    params = list(model.parameters())
    return iter(params[:-2] if exclude_head else params)


def checkpoint_seq(
    functions: nn.Sequential | Iterable[nn.Module],
    x: torch.Tensor,
    every: int = 1,
    flatten: bool = False,
    skip_last: bool = False,
    preserve_rng_state: bool = True,
) -> torch.Tensor:
    """Run ``functions`` in order with activation checkpointing, ``every`` modules per segment.

    Args:
        functions: the modules (an ``nn.Sequential`` or any iterable of modules).
        x: the input.
        every: modules per checkpointed segment.
        flatten: run the children of each module (one level) as the sequence instead.
        skip_last: run the last segment without checkpointing.
        preserve_rng_state: restore the RNG state in recomputation (dropout matches).
    """
    from torch.utils.checkpoint import checkpoint

    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    modules = list(functions)
    if flatten:
        modules = [c for m in modules for c in (m.children() if len(list(m.children())) else [m])]
    segments = [modules[i : i + every] for i in range(0, len(modules), every)]

    def run(segment: list[nn.Module]) -> Callable[[torch.Tensor], torch.Tensor]:
        def forward(t: torch.Tensor) -> torch.Tensor:
            for m in segment:
                t = m(t)
            return t

        return forward

    for i, segment in enumerate(segments):
        if skip_last and i == len(segments) - 1:
            x = run(segment)(x)
        else:
            x = checkpoint(run(segment), x, use_reentrant=False, preserve_rng_state=preserve_rng_state)
    return x
