"""create_model: parse the name, resolve configs and call the registered entrypoint.

Names:

* ``"resnet50"`` - the architecture with its default weight tag;
* ``"resnet50.a1_in1k"`` - a specific weight tag;
* ``"hf-hub:org/repo[@revision]"`` - a Hub repo in timm's layout (``config.json`` + weights);
* ``"local-dir:PATH"`` - a folder in the same layout, e.g. written by :func:`save_pretrained`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from torch import nn

from . import hub
from .hub import save_pretrained
from .pretrained import PretrainedCfg, as_pretrained_cfg
from .registry import model_entrypoint, resolve_model_name

__all__ = ["create_model", "parse_model_name", "save_pretrained"]


def parse_model_name(model_name: str) -> tuple[str | None, str]:
    """``"hf-hub:org/repo"`` -> ``("hf-hub", "org/repo")``; a plain name has source ``None``."""
    if not isinstance(model_name, str) or not model_name:
        raise TypeError(f"model_name must be a non-empty string, got {model_name!r}")
    return hub.split_source_prefix(model_name)


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
    name, named = model_name, hub.name_source(model_name, cache_dir)
    if named is not None:  # hf-hub:... / local-dir:...: architecture and config from config.json
        arch, cfg_fields, model_args = named
        base = as_pretrained_cfg(cfg_fields) if pretrained_cfg is None else pretrained_cfg
        pretrained_cfg = base
        for key, value in model_args.items():
            kwargs.setdefault(key, value)
        name = arch
    arch, tag = resolve_model_name(name)
    if tag and not pretrained_cfg:
        pretrained_cfg = tag
    entrypoint = model_entrypoint(arch)
    # pass builder options only when set, so simple user entrypoints need not accept them
    options = dict(
        pretrained_cfg=pretrained_cfg,
        pretrained_cfg_overlay=pretrained_cfg_overlay,
        checkpoint_path=checkpoint_path,
        cache_dir=cache_dir,
    )
    kwargs.update({k: v for k, v in options.items() if v is not None})
    model = entrypoint(pretrained=pretrained, **kwargs)
    if kwargs.get("features_only") and not getattr(model, "feature_info", None):
        # a user entrypoint that swallowed features_only would otherwise return a classifier
        raise ValueError(
            f"{arch} does not support features_only: its entrypoint returned a {type(model).__name__} "
            "without feature_info; build it with build_model_with_cfg and set feature_info"
        )
    return model
