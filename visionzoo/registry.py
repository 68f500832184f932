"""The model registry: architecture names, their ``arch.tag`` weights and deprecated aliases.

Families register themselves when :mod:`visionzoo.models` is imported. That import happens on
the first registry query, not at ``import visionzoo``, so importing the package stays cheap.
All mutation happens under one lock, so registering and querying from several threads is safe.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import re
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .pretrained import PretrainedCfg, as_pretrained_cfg, with_results

__all__ = [
    "UnknownModelError",
    "get_arch_pretrained_cfgs",
    "get_deprecated_models",
    "get_pretrained_cfg",
    "is_model",
    "is_model_pretrained",
    "list_models",
    "list_modules",
    "list_pretrained",
    "model_entrypoint",
    "register_deprecations",
    "register_family",
    "register_model",
    "register_pretrained_cfgs",
    "resolve_model_name",
    "split_model_name_tag",
]


class UnknownModelError(RuntimeError, ValueError):
    """A model name (or weight tag) that is not registered; the message suggests close names."""


_lock = threading.RLock()
_entrypoints: dict[str, Callable[..., Any]] = {}
_arch_to_module: dict[str, str] = {}
_module_to_archs: dict[str, set[str]] = {}
_cfgs: dict[str, dict[str, PretrainedCfg]] = {}  # arch -> {tag: cfg}, default tag first
_deprecated: dict[str, str | None] = {}  # alias -> "arch" / "arch.tag" (None: removed)
_module_to_deprecated: dict[str, dict[str, str | None]] = {}
_warned_aliases: set[str] = set()
_builtins_loaded = False


def _load_builtin_models() -> None:
    """Import the built-in families once (they register themselves)."""
    global _builtins_loaded
    if _builtins_loaded:
        return
    with _lock:
        if not _builtins_loaded:
            import visionzoo.models  # noqa: F401  (registers every family)

            _builtins_loaded = True


def split_model_name_tag(model_name: str, no_tag: str = "") -> tuple[str, str]:
    """``"resnet50.a1_in1k"`` -> ``("resnet50", "a1_in1k")``; a name with no tag gets ``no_tag``."""
    arch, _, tag = model_name.partition(".")
    return arch, tag or no_tag


def _module_short_name(module: str) -> str:
    return module.rsplit(".", 1)[-1]


def register_model(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Register an entrypoint ``fn(pretrained=False, **kwargs)`` under ``fn.__name__``.

    Use as a decorator. Registering a name twice raises ``ValueError``: silently replacing a
    model would change what ``create_model`` builds depending on import order.
    """
    name = fn.__name__
    module = _module_short_name(fn.__module__)
    with _lock:
        if name in _entrypoints or name in _deprecated:
            where = _arch_to_module.get(name, "?")
            raise ValueError(
                f"model name {name!r} is already registered (by module {where!r}); "
                "pick another name for the new entrypoint"
            )
        _entrypoints[name] = fn
        _arch_to_module[name] = module
        _module_to_archs.setdefault(module, set()).add(name)
        mod = sys.modules.get(fn.__module__)
        if mod is not None:
            exported = getattr(mod, "__all__", None)
            if isinstance(exported, list) and name not in exported:
                exported.append(name)
    return fn


def register_pretrained_cfgs(cfgs: Mapping[str, PretrainedCfg | Mapping[str, Any]]) -> None:
    """Register weight configs keyed ``"arch.tag"``, in priority order.

    The default tag of an architecture is its first tag that has weights (or its first tag when
    none has). ``hf_hub_id="timm/"`` completes to ``"timm/arch.tag"``, as on the Hub.
    """
    with _lock:
        for key, value in cfgs.items():
            arch, tag = split_model_name_tag(key)
            cfg = as_pretrained_cfg(value)
            hub = cfg.hf_hub_id
            if hub and hub.endswith("/"):
                hub = hub + key
            cfg = dataclasses.replace(cfg, architecture=arch, tag=tag or None, hf_hub_id=hub)
            tags = _cfgs.setdefault(arch, {})
            if tag in tags:
                raise ValueError(f"pretrained cfg {key!r} is already registered")
            has_default_weights = bool(tags) and next(iter(tags.values())).has_weights
            if cfg.has_weights and not has_default_weights:
                tags = {tag: cfg, **tags}  # first tag with weights becomes the default
                _cfgs[arch] = tags
            else:
                tags[tag] = cfg


def register_deprecations(module_name: str, aliases: Mapping[str, str | None]) -> None:
    """Register old names that still work: ``{"old_name": "arch.tag"}``; ``None`` means removed.

    ``create_model`` and ``is_model`` accept an alias, warn once per alias, and build the current
    name with the alias's tag.
    """
    module = _module_short_name(module_name)
    with _lock:
        for alias, current in aliases.items():
            if alias in _entrypoints or alias in _deprecated:
                raise ValueError(f"deprecated alias {alias!r} clashes with a registered name")
            _deprecated[alias] = current
            _module_to_deprecated.setdefault(module, {})[alias] = current


def resolve_model_name(model_name: str) -> tuple[str, str]:
    """Resolve a name (with optional tag, or a deprecated alias) to ``(arch, tag)``.

    Raises :class:`UnknownModelError` naming the model and suggesting close names.
    """
    _load_builtin_models()
    arch, tag = split_model_name_tag(model_name)
    if arch in _deprecated:
        current = _deprecated[arch]
        if current is None:
            raise UnknownModelError(f"model {arch!r} has been removed and has no replacement")
        if arch not in _warned_aliases:
            _warned_aliases.add(arch)
            warnings.warn(
                f"model name {arch!r} is deprecated; use {current!r} instead",
                DeprecationWarning,
                stacklevel=3,
            )
        arch, alias_tag = split_model_name_tag(current)
        tag = tag or alias_tag
    if arch not in _entrypoints:
        raise UnknownModelError(_unknown_message(model_name))
    if tag and tag not in _cfgs.get(arch, {}):
        valid = ", ".join(_cfgs.get(arch, {})) or "none"
        raise UnknownModelError(f"unknown pretrained tag {tag!r} for model {arch!r}; valid tags: {valid}")
    return arch, tag


def _unknown_message(model_name: str) -> str:
    names = list(_entrypoints) + list(_deprecated)
    arch = split_model_name_tag(model_name)[0]
    close = difflib.get_close_matches(arch, names, n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    return (
        f"unknown model {model_name!r}{hint} "
        "(visionzoo.list_models() lists every name; wildcards work, e.g. list_models('resnet*'))"
    )


def is_model(model_name: str) -> bool:
    """Whether ``model_name`` (tag ignored) is a registered architecture or deprecated alias."""
    _load_builtin_models()
    arch = split_model_name_tag(model_name)[0]
    if arch in _deprecated:
        return _deprecated[arch] is not None
    return arch in _entrypoints


def model_entrypoint(model_name: str, module_filter: str | None = None) -> Callable[..., Any]:
    """The function that builds ``model_name`` (tag ignored; aliases resolve to their target)."""
    arch, _ = resolve_model_name(model_name)
    if module_filter and arch not in _module_to_archs.get(module_filter, ()):
        raise UnknownModelError(f"model {model_name!r} is not in module {module_filter!r}")
    return _entrypoints[arch]


def _as_list(value: str | Iterable[str] | None) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


def _natural_key(name: str) -> list[int | str]:
    return [int(s) if s.isdigit() else s for s in re.split(r"(\d+)", name.lower())]


def _expand_tag_filter(pattern: str) -> list[str]:
    """Without a tag part, a filter also matches every tag of the names it matches."""
    return [pattern] if "." in pattern else [pattern, pattern + ".*"]


def list_models(
    filter: str | Iterable[str] = "",
    module: str | Iterable[str] = "",
    pretrained: bool = False,
    exclude_filters: str | Iterable[str] = "",
    include_tags: bool | None = None,
) -> list[str]:
    """Registered model names, naturally sorted (``resnet2`` before ``resnet10``).

    Args:
        filter: fnmatch pattern(s) to include, e.g. ``"resnet*"`` or ``["*resnext*", "dense*"]``.
        module: limit to family module(s), e.g. ``"resnet"``.
        pretrained: keep only names that have weights.
        exclude_filters: fnmatch pattern(s) to drop after including.
        include_tags: list ``arch.tag`` names; defaults to ``pretrained``.

    Returns:
        Names; deprecated aliases are not listed (they still work in ``create_model``).
    """
    _load_builtin_models()
    if include_tags is None:
        include_tags = pretrained
    includes, excludes = _as_list(filter), _as_list(exclude_filters)
    with _lock:
        modules = _as_list(module)
        if modules:
            archs = set().union(*(_module_to_archs.get(m, set()) for m in modules))
        else:
            archs = set(_entrypoints)
        if include_tags:
            names: set[str] = set()
            for arch in archs:
                tags = list(_cfgs.get(arch) or [""])
                names.update(f"{arch}.{t}" if t else arch for t in tags)
            includes = [p for f in includes for p in _expand_tag_filter(f)]
            excludes = [p for f in excludes for p in _expand_tag_filter(f)]
        else:
            names = archs
        if includes:
            names = {n for n in names if any(fnmatch.fnmatchcase(n, p) for p in includes)}
        if excludes:
            names = {n for n in names if not any(fnmatch.fnmatchcase(n, p) for p in excludes)}
        if pretrained:
            names = {n for n in names if _name_has_weights(n)}
    return sorted(names, key=_natural_key)


def _name_has_weights(name: str) -> bool:
    arch, tag = split_model_name_tag(name)
    tags = _cfgs.get(arch)
    if not tags:
        return False
    cfg = tags.get(tag) if tag else next(iter(tags.values()))
    return cfg is not None and cfg.has_weights


def list_pretrained(filter: str | Iterable[str] = "", exclude_filters: str | Iterable[str] = "") -> list[str]:
    """Every ``arch.tag`` with weights, naturally sorted."""
    return list_models(filter, pretrained=True, exclude_filters=exclude_filters, include_tags=True)


def list_modules() -> list[str]:
    """Family module names that register models, sorted."""
    _load_builtin_models()
    return sorted(_module_to_archs)


def is_model_pretrained(model_name: str) -> bool:
    """Whether ``arch`` (its default tag) or ``arch.tag`` has weights."""
    _load_builtin_models()
    return _name_has_weights(model_name)


def get_pretrained_cfg(model_name: str, allow_unregistered: bool = True) -> PretrainedCfg | None:
    """The config of ``arch.tag``, or of the default tag for a bare ``arch``.

    An unknown tag raises :class:`UnknownModelError` listing the valid tags. An architecture with
    no configs gives ``None`` (or raises when ``allow_unregistered=False``).
    """
    arch, tag = resolve_model_name(model_name)
    tags = _cfgs.get(arch)
    if not tags:
        if allow_unregistered:
            return None
        raise UnknownModelError(f"model {arch!r} has no pretrained cfg registered")
    cfg = tags[tag] if tag else next(iter(tags.values()))
    return with_results(cfg)


def get_arch_pretrained_cfgs(model_name: str) -> dict[str, PretrainedCfg]:
    """Every config of an architecture, keyed ``arch.tag``, default first."""
    arch, _ = resolve_model_name(model_name)
    return {f"{arch}.{t}" if t else arch: with_results(c) for t, c in _cfgs.get(arch, {}).items()}


def get_deprecated_models(module: str = "") -> dict[str, str | None]:
    """Deprecated aliases and what they map to (``None``: removed)."""
    _load_builtin_models()
    return dict(_module_to_deprecated.get(module, {}) if module else _deprecated)


def _make_entrypoint(name: str, args: Any, build: Callable[..., Any], module_name: str) -> Callable[..., Any]:
    def entrypoint(pretrained: bool = False, **kwargs: Any) -> Any:
        return build(name, pretrained, model_args=args, **kwargs)

    entrypoint.__name__ = entrypoint.__qualname__ = name
    entrypoint.__module__ = module_name
    entrypoint.__doc__ = f"Build ``{name}``: {args!r}. Keyword arguments override these fields."
    return entrypoint


def register_family(
    module_name: str,
    variants: Mapping[str, Any],
    build: Callable[..., Any],
    *,
    weights: Mapping[str, PretrainedCfg | Mapping[str, Any]] | None = None,
    deprecated: Mapping[str, str | None] | None = None,
) -> dict[str, PretrainedCfg]:
    """Turn a family's variant table into registered entrypoints.

    Each variant ``name`` gets a function ``name(pretrained=False, **kwargs)`` that calls
    ``build(name, pretrained, model_args=variant, **kwargs)``; it is set as an attribute of the
    family module, so ``from visionzoo.models.resnet import resnet50`` works.

    Returns:
        ``{arch: default pretrained cfg}`` for the module's ``default_cfgs``.
    """
    mod = sys.modules[module_name]
    weights = dict(weights or {})
    stray = sorted({split_model_name_tag(k)[0] for k in weights} - set(variants))
    if stray:
        raise ValueError(f"{module_name}: weights for unknown variants {stray}")
    with _lock:
        for name, args in variants.items():
            fn = _make_entrypoint(name, args, build, module_name)
            register_model(fn)
            setattr(mod, name, fn)
        register_pretrained_cfgs(weights)
        if deprecated:
            register_deprecations(module_name, deprecated)
        return {arch: next(iter(_cfgs[arch].values())) for arch in variants if arch in _cfgs}
