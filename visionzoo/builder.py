"""build_model_with_cfg: instantiate -> prune -> load pretrained weights -> wrap as features.

With ``pretrained=True`` the model is built on the ``meta`` device and the checkpoint's tensors
are assigned to it, so no time goes into initialising weights that are about to be overwritten.
Only what the checkpoint does not cover (a new classifier, non-persistent buffers) is
materialised and initialised afterwards.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import torch
from torch import nn

from . import hub
from .adapt import FilterFn, adapt_state_dict
from .features import (
    FeatureDictNet,
    FeatureGetterNet,
    FeatureGraphNet,
    FeatureHookNet,
    FeatureListNet,
    normalize_out_indices,
)
from .integrity import StateDictMismatchError, warn_non_finite
from .layers.classifier import check_num_classes
from .layers.config import set_layer_config
from .model import model_in_chans
from .pretrained import PretrainedCfg, as_pretrained_cfg, cfg_as_built
from .prune import adapt_model_from_file
from .variants import Recipe, Resolved

__all__ = [
    "IncompatibleKeys",
    "build_model",
    "load_checkpoint",
    "load_pretrained",
    "load_state_dict_into",
    "materialize_random",
    "resume_checkpoint",
]

_FEATURE_CLASSES: dict[str, type[nn.Module]] = {
    "list": FeatureListNet,
    "dict": FeatureDictNet,
    "hook": FeatureHookNet,
    "fx": FeatureGraphNet,
    "getter": FeatureGetterNet,
}


_SIZE_KWARGS = ("img_size", "image_size", "input_size", "size")


def _merge_args(variant: str, base: Any, overrides: dict[str, Any]) -> dict[str, Any]:
    """The variant's constructor kwargs with ``overrides`` applied; unknown names raise TypeError."""
    if base is None:
        return overrides
    names = [f.name for f in dataclasses.fields(base)]
    unknown = [k for k in overrides if k not in names]
    if unknown:
        hints = []
        for k in unknown:
            close = difflib.get_close_matches(k, names, n=1)
            hints.append(f"{k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        size_hint = (
            f"; {variant} takes images of any size (the input size is the data's: see "
            "resolve_model_data_config), so it has no size argument"
            if any(k in _SIZE_KWARGS for k in unknown)
            else ""
        )
        raise TypeError(
            f"{variant}: unexpected keyword argument{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(hints)}{size_hint}; {variant} accepts: {', '.join(sorted(names))}"
        )
    merged = dataclasses.replace(base, **overrides)
    return {n: getattr(merged, n) for n in names}


def _built_img_size(model: nn.Module, cfg: PretrainedCfg, img_size: Any) -> tuple[int, int] | None:
    """The ``img_size`` a token model was built at (its patch embedding's; its position
    embedding is laid out for it), else the constructor's ``img_size`` where the config says the
    model takes one size only (BoTNet's attention over a fixed grid), or None for a model that
    takes any size."""
    embed = next((m for m in model.modules() if hasattr(m, "patch_size") and hasattr(m, "img_size")), None)
    size = getattr(embed, "img_size", None)
    if size is None and cfg.fixed_input_size and img_size is not None:
        size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
    return None if size is None else (int(size[0]), int(size[1]))


def _features_cfg(cfg: PretrainedCfg) -> PretrainedCfg:
    return dataclasses.replace(cfg, num_classes=0, classifier=None)


# --- loading --------------------------------------------------------------------------------------
def _materialize(model: nn.Module, device: torch.device) -> None:
    """Give real storage to whatever is still on ``meta`` and initialise it.

    Only whole modules are initialised: a module with some tensors loaded and others not would
    have its loaded ones reset, so that is an error.
    """
    for name, module in model.named_modules():
        own = list(module.named_parameters(recurse=False)) + list(module.named_buffers(recurse=False))
        meta = [n for n, t in own if t.is_meta]
        if not meta:
            continue
        persistent = {n for n, _ in own} - module._non_persistent_buffers_set
        loaded = persistent - set(meta)
        fill = getattr(module, "init_non_persistent_buffers", None)
        if loaded and callable(fill) and set(meta) <= module._non_persistent_buffers_set:
            # computed buffers beside loaded weights (an index table): the module refills them
            for n in meta:
                module._buffers[n] = torch.empty_like(module._buffers[n], device=device)  # type: ignore[arg-type]
            fill()
            continue
        if loaded:
            raise RuntimeError(
                f"module {name or type(module).__name__!r} was only partly loaded: "
                f"{sorted(loaded)} came from the checkpoint but {sorted(meta)} did not"
            )
        module.to_empty(device=device, recurse=False)
        init = getattr(module, "reset_parameters", None) or getattr(
            module, "init_non_persistent_buffers", None
        )
        if callable(init):
            init()


def materialize_random(model: nn.Module, *, seed: int = 0) -> nn.Module:
    """Give a meta-device model real, random but well-scaled weights and BN statistics.

    Cheaper than each module's own initialisation and the same for every family (timm's models
    too): weights ~ N(0, 1/fan_in), norm scales in [0.2, 1), biases and running means small,
    running variances in [0.5, 1.5); integer tensors are zeroed and non-persistent buffers
    (blur filters, index tables) recomputed by their modules. For measuring and testing, not
    training. Returns ``model`` in eval mode."""
    model.to_empty(device="cpu")
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in list(model.named_parameters()) + list(model.named_buffers()):
            if not t.is_floating_point():
                t.zero_()
                continue
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "running_var":
                t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
            elif leaf in ("running_mean", "bias"):
                t.copy_(torch.randn(t.shape, generator=gen) * 0.1)
            elif t.ndim <= 1:  # norm scales
                t.copy_(torch.rand(t.shape, generator=gen) * 0.8 + 0.2)
            else:
                fan_in = math.prod(t.shape[1:])
                t.copy_(torch.randn(t.shape, generator=gen) / math.sqrt(fan_in))
    for m in model.modules():  # non-persistent buffers (e.g. blur filters) are recomputed
        has_buffers = any(True for _ in m.buffers(recurse=False))
        has_params = any(True for _ in m.parameters(recurse=False))
        reset, refill = getattr(m, "reset_parameters", None), getattr(m, "init_non_persistent_buffers", None)
        if has_buffers and not has_params and callable(reset):
            reset()
        elif callable(refill):  # computed beside weights (an index table)
            refill()
    return model.eval()


def load_state_dict_into(
    model: nn.Module,
    state_dict: Mapping[str, torch.Tensor],
    *,
    strict: bool = True,
    allow_missing: set[str] | frozenset[str] = frozenset(),
    source: str = "checkpoint",
) -> None:
    """Load with checks that name what does not fit (missing, unexpected, wrong shape).

    Parameters still on the ``meta`` device take the checkpoint tensors directly (no copy).
    """
    expected = model.state_dict()
    state_dict = dict(state_dict)
    for key in expected:  # checkpoints from before BatchNorm counted its batches lack this counter
        if key.endswith(".num_batches_tracked") and key not in state_dict:
            state_dict[key] = torch.zeros((), dtype=torch.long)
    missing = sorted(set(expected) - set(state_dict) - set(allow_missing))
    unexpected = sorted(set(state_dict) - set(expected))
    wrong = [
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected
        if k in state_dict and tuple(state_dict[k].shape) != tuple(expected[k].shape)
    ]
    problems = []
    if wrong:
        problems.append(f"{len(wrong)} shape mismatch(es): " + "; ".join(wrong[:10]))
    if strict and missing:
        problems.append(f"missing keys ({len(missing)}): {', '.join(missing[:20])}")
    if strict and unexpected:
        problems.append(f"unexpected keys ({len(unexpected)}): {', '.join(unexpected[:20])}")
    if problems:
        more = " (a checkpoint for another architecture or variant?)" if missing or unexpected else ""
        raise StateDictMismatchError(
            f"{source} does not fit {type(model).__name__}{more}: " + " | ".join(problems)
        )
    warn_non_finite(state_dict, source=source)
    fitted = {}
    for k, v in state_dict.items():
        if k not in expected:
            continue
        target = expected[k]
        if v.dtype != target.dtype and target.is_floating_point():
            v = v.to(target.dtype)
        fitted[k] = v
    on_meta = any(t.is_meta for t in expected.values())
    if on_meta and _loads_plainly(model):
        _assign(model, fitted)
    else:
        model.load_state_dict(fitted, strict=False, assign=on_meta)
    if on_meta:
        _materialize(model, torch.device("cpu"))


# torch's own loaders that only put tensors in place (BatchNorm's also fills in a missing
# num_batches_tracked, which load_state_dict_into has done)
_PLAIN_LOADERS = (nn.Module._load_from_state_dict, nn.BatchNorm2d._load_from_state_dict)


def _loads_plainly(model: nn.Module) -> bool:
    """Whether loading ``model`` only puts tensors in place: no module has load hooks, its own
    ``_load_from_state_dict`` or extra state, so :func:`_assign` does what
    ``load_state_dict(assign=True)`` would, without its walk of every module over every key."""
    return all(
        not m._load_state_dict_pre_hooks
        and not m._load_state_dict_post_hooks
        and type(m)._load_from_state_dict in _PLAIN_LOADERS
        and type(m).set_extra_state is nn.Module.set_extra_state
        for m in model.modules()
    )


def _assign(model: nn.Module, state_dict: Mapping[str, torch.Tensor]) -> None:
    """``load_state_dict(state_dict, assign=True)`` for a model :func:`_loads_plainly` (keys and
    shapes checked by the caller): each tensor becomes the parameter or buffer of its name, a
    parameter keeping its ``requires_grad``."""
    modules = dict(model.named_modules(remove_duplicate=False))  # a shared module loads under each name
    with torch.no_grad():
        for key, value in state_dict.items():
            prefix, _, name = key.rpartition(".")
            module = modules[prefix]
            old = module._parameters.get(name)
            if old is not None:
                value = value if isinstance(value, nn.Parameter) else nn.Parameter(value)
                value.requires_grad_(old.requires_grad)
            setattr(module, name, value)


def load_pretrained(
    model: nn.Module,
    pretrained_cfg: PretrainedCfg | Mapping[str, Any] | None = None,
    *,
    num_classes: int | None = None,
    in_chans: int | None = None,
    filter_fn: FilterFn | None = None,
    strict: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    mmap: bool = False,
) -> None:
    """Load the weights ``pretrained_cfg`` (default: ``model.pretrained_cfg``) points at.

    The first conv is adapted to ``in_chans`` and the classifier to ``num_classes`` (both default
    to the model's own), then everything else loads strictly. The model owns its weights' memory
    unless ``mmap=True`` (zero-copy from a local file; see ``hub.load_checkpoint_file``).
    """
    cfg: PretrainedCfg | None = (
        as_pretrained_cfg(pretrained_cfg)
        if pretrained_cfg is not None
        else getattr(model, "pretrained_cfg", None)
    )
    if cfg is None:
        raise ValueError("no pretrained_cfg given and the model has none; pass pretrained_cfg=...")
    if num_classes is None:
        num_classes = int(getattr(model, "num_classes", cfg.num_classes))
    if in_chans is None:
        in_chans = model_in_chans(model)
    state_dict = hub.load_state_dict_for_cfg(cfg, cache_dir)
    state_dict, reinit = adapt_state_dict(
        state_dict, model, cfg, num_classes=num_classes, in_chans=in_chans, filter_fn=filter_fn
    )
    load_state_dict_into(
        model, state_dict, strict=strict, allow_missing=reinit, source=f"weights for {cfg.name}"
    )


class IncompatibleKeys(NamedTuple):
    """What :func:`load_checkpoint` returns, as ``model.load_state_dict`` (timm's return value)."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def load_checkpoint(
    model: nn.Module,
    checkpoint_path: str | os.PathLike[str],
    use_ema: bool = True,
    device: str | torch.device = "cpu",
    strict: bool = True,
    remap: bool = False,
    filter_fn: FilterFn | None = None,
    weights_only: bool = True,
    *,
    mmap: bool = False,
) -> IncompatibleKeys:
    """Load a local checkpoint (plain state dict or training checkpoint) into ``model`` (timm's
    call and defaults).

    Args:
        model: the model to load into.
        checkpoint_path: a safetensors or PyTorch file, or a saved-model folder.
        use_ema: a training checkpoint's EMA weights where it has them, as timm does.
        device: where the checkpoint's tensors are read to.
        strict: refuse missing and unexpected keys (shape mismatches are refused either way).
        remap: match the checkpoint's tensors to the model's by order, not by name (timm's
            ``remap_state_dict``); the element counts must agree.
        filter_fn: ``filter_fn(state_dict, model)`` -> the state dict to load (not with ``remap``).
        weights_only: accepted for timm's signature; files are always read weights-only.
        mmap: a model on ``meta`` shares memory with the file (see ``hub.load_checkpoint_file``).

    Returns:
        The missing and unexpected keys (empty lists when ``strict``).
    """
    state_dict = hub.load_state_dict(checkpoint_path, use_ema, device, weights_only, mmap=mmap)
    if remap:
        state_dict = _remap_by_order(state_dict, model, source=str(checkpoint_path))
    elif filter_fn is not None:
        state_dict = filter_fn(state_dict, model)
    expected = set(model.state_dict())
    missing = sorted(k for k in expected - set(state_dict) if not k.endswith(".num_batches_tracked"))
    unexpected = sorted(set(state_dict) - expected)
    load_state_dict_into(model, state_dict, strict=strict, source=str(checkpoint_path))
    return IncompatibleKeys(missing, unexpected)


def _remap_by_order(
    state_dict: Mapping[str, torch.Tensor], model: nn.Module, *, source: str
) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors under the model's names, paired in order (both must have been
    registered in the same order), reshaped where only the shape differs."""
    expected = model.state_dict()
    if len(expected) != len(state_dict):
        raise StateDictMismatchError(
            f"remap=True pairs tensors by order, but {source} has {len(state_dict)} and "
            f"{type(model).__name__} {len(expected)}"
        )
    out = {}
    for (key, want), (other, got) in zip(expected.items(), state_dict.items(), strict=True):
        if want.numel() != got.numel():
            raise StateDictMismatchError(
                f"remap=True: {other} {tuple(got.shape)} cannot fill {key} {tuple(want.shape)} of "
                f"{type(model).__name__} (the tensors are not in the same order?)"
            )
        out[key] = got.reshape(want.shape)
    return out


def resume_checkpoint(
    model: nn.Module,
    checkpoint_path: str | os.PathLike[str],
    optimizer: torch.optim.Optimizer | None = None,
    loss_scaler: Any = None,
    log_info: bool = True,
    weights_only: bool = True,
) -> int | None:
    """Restore a training checkpoint in the layout timm's ``train.py`` writes (timm's call).

    Loads the model weights and, when given, the optimizer's and the loss scaler's state (under
    ``loss_scaler.state_dict_key``). The file is read with ``torch.load(weights_only=True)``: it
    never runs code; the run's ``args`` (an ``argparse.Namespace``) is allowed, as for
    ``load_checkpoint``; unsafe, missing and damaged files are refused as there. ``log_info`` and
    ``weights_only`` are accepted for timm's signature: nothing is logged, and files are read
    weights-only either way.

    Returns:
        The epoch to resume at (the checkpoint's ``epoch``, +1 for ``version`` >= 2 files, as
        timm's saver writes them), or None for a plain state dict.

    Raises:
        WeightsNotFoundError: no file at ``checkpoint_path`` (also a ``FileNotFoundError``).
        WeightsError: a damaged or unsafe file, or one that holds no checkpoint dict.
    """
    path = Path(checkpoint_path)
    ckpt = hub.read_checkpoint(path)  # hub's checks: weights-only, damaged and unsafe files refused
    if not isinstance(ckpt, dict):
        raise hub.WeightsError(f"{path} holds a {type(ckpt).__name__}, not a checkpoint")
    if "state_dict" not in ckpt:
        model.load_state_dict(hub.clean_state_dict(ckpt))
        return None
    model.load_state_dict(hub.clean_state_dict(ckpt["state_dict"]))
    if optimizer is not None and "optimizer" in ckpt:
        optimizer.load_state_dict(ckpt["optimizer"])
    key = getattr(loss_scaler, "state_dict_key", None)
    if loss_scaler is not None and key in ckpt:
        loss_scaler.load_state_dict(ckpt[key])
    epoch = ckpt.get("epoch")
    if epoch is None:
        return None
    return int(epoch) + (1 if ckpt.get("version", 1) > 1 else 0)


# --- the builder ----------------------------------------------------------------------------------
def _feature_wrapper(feature_cls: Any) -> type[nn.Module]:
    if isinstance(feature_cls, str):
        key = "hook" if "hook" in feature_cls.lower() else feature_cls.lower()
        if key not in _FEATURE_CLASSES:
            raise ValueError(
                f"unknown feature_cls {feature_cls!r}; valid: {', '.join(_FEATURE_CLASSES)} or a class"
            )
        return _FEATURE_CLASSES[key]
    if isinstance(feature_cls, type) and issubclass(feature_cls, nn.Module):
        return feature_cls
    raise TypeError(f"feature_cls must be 'list', 'dict', 'hook' or an nn.Module class, got {feature_cls!r}")


def _check_common_kwargs(variant: str, kwargs: Mapping[str, Any]) -> None:
    nc = kwargs.get("num_classes")
    if nc is not None:
        check_num_classes(nc, where=variant)
    ic = kwargs.get("in_chans")
    if ic is not None and (isinstance(ic, bool) or not isinstance(ic, int) or ic < 1):
        raise ValueError(f"{variant}: in_chans must be an int >= 1, got {ic!r}")
    for name in ("drop_rate", "drop_path_rate"):
        rate = kwargs.get(name)
        if rate is not None and (not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0):
            raise ValueError(f"{variant}: {name} must be a float in [0, 1), got {rate!r}")


def build_model(
    resolved: Resolved,
    pretrained: bool = False,
    *,
    pretrained_strict: bool = True,
    cache_dir: str | os.PathLike[str] | None = None,
    checkpoint_path: str | os.PathLike[str] | None = None,
    features_only: bool = False,
    out_indices: Any = None,
    feature_cls: Any = None,
    feature_cfg: Mapping[str, Any] | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    scriptable: bool | None = None,
    exportable: bool | None = None,
    no_jit: bool | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Build a resolved name: instantiate, prune, load weights, wrap features.

    Args:
        resolved: the name resolved by :func:`visionzoo.registry.resolve` (or a hand-made
            record, as ``build_model_with_cfg`` makes): its recipe (class, variant args, family
            defaults) and config (weights source, input size, head).
        pretrained: load the config's weights (the resolver has checked that it names some).
        pretrained_strict: load the (adapted) checkpoint strictly.
        cache_dir: download cache for Hub and URL weights.
        checkpoint_path: a local checkpoint loaded after (and instead of) pretrained weights.
        features_only: return a backbone giving feature maps instead of logits.
        out_indices: feature levels of the backbone (tuple, or int for the last n).
        feature_cls: backbone wrapper: ``'list'`` (default), ``'dict'``, ``'hook'``, ``'fx'``,
            ``'getter'`` or a class.
        feature_cfg: wrapper options over the family's (timm's ``feature_cfg``: ``feature_cls``,
            ``out_indices``, ``flatten_sequential``...); ``out_indices`` / ``feature_cls`` given
            as arguments win.
        device, dtype: where and in what precision the model ends up.
        scriptable, exportable, no_jit: timm's layer switches, set (when not None) while the
            model is built (``set_layer_config``).
        **kwargs: constructor arguments (``num_classes``, ``in_chans``, ``drop_rate``...) over
            the variant's; unknown names raise ``TypeError`` naming the valid ones.

    Returns:
        The model; its ``pretrained_cfg`` describes it as built (``in_chans`` channels included).
    """
    if resolved.recipe is None:
        raise ValueError(f"{resolved.name} has no build recipe (a bare @register_model entrypoint)")
    with set_layer_config(scriptable=scriptable, exportable=exportable, no_jit=no_jit):
        return _build(
            resolved.recipe,
            resolved.pretrained_cfg,
            pretrained,
            pretrained_strict=pretrained_strict,
            cache_dir=cache_dir,
            checkpoint_path=checkpoint_path,
            features_only=features_only,
            out_indices=out_indices,
            feature_cls=feature_cls,
            feature_cfg=feature_cfg,
            device=device,
            dtype=dtype,
            **kwargs,
        )


def _build(
    recipe: Recipe,
    cfg: PretrainedCfg,
    pretrained: bool,
    *,
    pretrained_strict: bool,
    cache_dir: str | os.PathLike[str] | None,
    checkpoint_path: str | os.PathLike[str] | None,
    features_only: bool,
    out_indices: Any,
    feature_cls: Any,
    feature_cfg: Mapping[str, Any] | None,
    device: str | torch.device | None,
    dtype: torch.dtype | None,
    **kwargs: Any,
) -> nn.Module:
    variant = recipe.name
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    _check_common_kwargs(variant, kwargs)
    if not features_only:  # timm's models reject them too; silently ignoring them would hide a bug
        for name, value in (
            ("out_indices", out_indices),
            ("feature_cls", feature_cls),
            ("feature_cfg", feature_cfg),
        ):
            if value is not None:
                raise TypeError(
                    f"{variant}: {name}={value!r} applies only with features_only=True; for a "
                    "classifier's intermediate features use model.forward_intermediates(x, indices=...)"
                )
    if checkpoint_path is not None and not isinstance(checkpoint_path, (str, os.PathLike)):
        raise TypeError(f"checkpoint_path must be a file path (str or Path), got {checkpoint_path!r}")
    if recipe.args is not None:
        # like timm, the config's class count and input channels are the defaults
        accepted = {f.name for f in dataclasses.fields(recipe.args)}
        if "num_classes" in accepted:
            kwargs.setdefault("num_classes", 0 if features_only else cfg.num_classes)
        if "in_chans" in accepted:
            kwargs.setdefault("in_chans", cfg.input_size[0])
        if "img_size" in accepted and cfg.fixed_input_size:  # as timm: the weights' size is the default
            kwargs.setdefault("img_size", tuple(cfg.input_size[-2:]))
    for key, value in recipe.tag_args.get(cfg.tag or "", {}).items():  # what the tag's weights need
        kwargs.setdefault(key, value)
    if pretrained:  # what the published weights were trained with; the caller's value wins
        for key, value in recipe.pretrained_args.items():
            kwargs.setdefault(key, value)
    ctor_kwargs = _merge_args(variant, recipe.args, kwargs)
    if features_only:
        for name in getattr(recipe.model_cls, "features_only_excludes", ()):
            if ctor_kwargs.get(name):
                raise ValueError(
                    f"{variant}: features_only=True cannot be combined with {name}={ctor_kwargs[name]!r} "
                    "(a feature backbone has no classifier); drop one of them"
                )
    # weights about to be overwritten are built on meta; otherwise on `device`, or wherever the
    # caller's own `with torch.device(...)` puts new tensors (meta for an empty model, as in timm)
    use_meta = pretrained or checkpoint_path is not None
    where = torch.device("meta") if use_meta else (torch.device(device) if device is not None else None)
    with where if where is not None else contextlib.nullcontext():
        model = recipe.model_cls(**ctor_kwargs)
    setattr(model, "pretrained_cfg", cfg)  # noqa: B010 (also for models not derived from VisionModel)
    if recipe.pruned:
        model = adapt_model_from_file(model, variant)
    if pretrained:
        load_pretrained(
            model,
            cfg,
            num_classes=getattr(model, "num_classes", cfg.num_classes),
            in_chans=ctor_kwargs.get("in_chans", cfg.input_size[0]),
            filter_fn=recipe.filter_fn,
            strict=pretrained_strict,
            cache_dir=cache_dir,
        )
    if checkpoint_path is not None:
        load_checkpoint(model, checkpoint_path, filter_fn=recipe.filter_fn)
    # the config describes the model as built, once: its channels (a 1-channel model's says 1
    # channel everywhere, mean/std included) and a token model's input size; everything
    # downstream (data config, saving, model_input_size) reads it
    in_chans = ctor_kwargs.get("in_chans", getattr(model, "in_chans", None))
    cfg = cfg_as_built(
        cfg,
        in_chans=in_chans if isinstance(in_chans, int) else cfg.input_size[0],
        img_size=_built_img_size(model, cfg, ctor_kwargs.get("img_size")),
    )
    setattr(model, "pretrained_cfg", cfg)  # noqa: B010
    if device is not None or dtype is not None:
        model.to(device=device, dtype=dtype)
    if features_only:
        if feature_cfg is not None and not isinstance(feature_cfg, Mapping):
            raise TypeError(f"{variant}: feature_cfg must be a dict of wrapper options, got {feature_cfg!r}")
        wrapper_cfg = {**recipe.feature_cfg, **(feature_cfg or {})}
        model = _wrap_features(model, variant, cfg, wrapper_cfg, out_indices, feature_cls)
    return model


def _wrap_features(
    model: nn.Module,
    variant: str,
    cfg: PretrainedCfg,
    feature_cfg: dict[str, Any],
    out_indices: Any,
    feature_cls: Any,
) -> nn.Module:
    info = getattr(model, "feature_info", None)
    if not info:
        raise ValueError(f"{variant} does not support features_only (it has no feature_info)")
    wrapper = _feature_wrapper(feature_cls or feature_cfg.pop("feature_cls", "list"))
    feature_cfg.pop("feature_cls", None)
    if not issubclass(wrapper, (FeatureDictNet, FeatureHookNet)):
        feature_cfg.pop("flatten_sequential", None)
    if not issubclass(wrapper, FeatureHookNet):
        feature_cfg.pop("no_rewrite", None)
    # the family's default levels give way to the caller's, and are never passed on twice
    default_indices = feature_cfg.pop("out_indices", tuple(range(len(info))))
    indices = normalize_out_indices(default_indices if out_indices is None else out_indices, len(info))
    features = wrapper(model, indices, **feature_cfg)
    features_cfg = _features_cfg(cfg)
    setattr(features, "pretrained_cfg", features_cfg)  # noqa: B010
    setattr(features, "default_cfg", features_cfg)  # noqa: B010
    if hasattr(model, "in_chans"):  # the backbone still takes the model's input (timm's contract)
        setattr(features, "in_chans", model.in_chans)  # noqa: B010
    return features
