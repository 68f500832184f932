"""The model registry: architecture names, their ``arch.tag`` weights and deprecated aliases.

A family registers itself with one :func:`register_family` call: its model class, variant table,
weight table and defaults become one :class:`~visionzoo.variants.Recipe` and one set of
pretrained configs per name. Family modules are imported lazily: a query about one name imports
only the family that defines it, found through the generated index ``_data/model_index.json``
(written by ``python -m visionzoo.models._index``; read as data, so the registry imports nothing
from ``visionzoo.models``); listing everything imports every family. All mutation happens under
one lock.
"""

from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import functools
import importlib
import json
import re
import sys
import threading
import warnings
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any, NamedTuple

from torch import nn

from ._timm_paths import not_ported_model
from .adapt import FilterFn
from .builder import build_model
from .hub import has_weights, overlay_cfg
from .pretrained import (
    FIELD_NAMES,
    WEIGHT_CFG_BASE,
    PretrainedCfg,
    as_pretrained_cfg,
    with_results,
)
from .variants import Pruned, Recipe, Resolved, WhenPretrained

__all__ = [
    "INDEX_FILE",
    "BuiltinIndex",
    "Entrypoint",
    "Resolved",
    "UnknownModelError",
    "builtin_index",
    "family_entrypoint",
    "get_arch_name",
    "get_arch_pretrained_cfgs",
    "get_deprecated_models",
    "get_pretrained_cfg",
    "get_pretrained_cfg_value",
    "get_recipe",
    "is_model",
    "is_model_in_modules",
    "is_model_pretrained",
    "list_models",
    "list_modules",
    "list_pretrained",
    "model_entrypoint",
    "register_deprecations",
    "register_family",
    "register_model",
    "register_pretrained_cfgs",
    "resolve",
    "resolve_model_name",
    "resolve_pretrained_cfg",
    "resolved_entrypoint",
    "split_model_name_tag",
]

Entrypoint = Callable[..., nn.Module]


class UnknownModelError(RuntimeError, ValueError):
    """A model name (or weight tag) that is not registered; the message suggests close names."""


_lock = threading.RLock()
_entrypoints: dict[str, Entrypoint] = {}
_recipes: dict[str, Recipe] = {}
_arch_to_module: dict[str, str] = {}
_module_to_archs: dict[str, set[str]] = {}
_cfgs: dict[str, dict[str, PretrainedCfg]] = {}  # arch -> {tag: cfg}, default tag first
_deprecated: dict[str, str | None] = {}  # alias -> "arch" / "arch.tag" (None: removed)
_module_to_deprecated: dict[str, dict[str, str | None]] = {}
_warned_aliases: set[str] = set()
_builtins_loaded = False
_PACKAGE = "visionzoo.models"


INDEX_FILE = "model_index.json"


class BuiltinIndex(NamedTuple):
    """The generated index of the built-in families (``_data/model_index.json``)."""

    families: tuple[str, ...]  # family modules of visionzoo.models, sorted
    module_of: Mapping[str, str]  # model name or deprecated alias -> family module
    classes: Mapping[str, str]  # model class name -> the module that defines it


@functools.cache
def builtin_index() -> BuiltinIndex:
    """The built-in families' index, read once (as data: no family is imported)."""
    data = json.loads(resources.files("visionzoo._data").joinpath(INDEX_FILE).read_text())
    names: dict[str, list[str]] = data["names"]
    return BuiltinIndex(
        families=tuple(sorted(names)),
        module_of={n: module for module, ns in names.items() for n in ns},
        classes=dict(data["classes"]),
    )


def _load_builtin_models() -> None:
    """Import every built-in family once (each registers itself)."""
    global _builtins_loaded
    if _builtins_loaded:
        return
    with _lock:
        if not _builtins_loaded:
            for module in builtin_index().families:
                importlib.import_module(f"{_PACKAGE}.{module}")
            _builtins_loaded = True


def _load_family_of(name: str) -> None:
    """Import the built-in family that defines ``name`` (an arch or a deprecated alias), if any."""
    arch = split_model_name_tag(name)[0]
    if arch in _entrypoints or arch in _deprecated or _builtins_loaded:
        return
    module = builtin_index().module_of.get(arch)
    if module is not None:
        with _lock:
            importlib.import_module(f"{_PACKAGE}.{module}")


def split_model_name_tag(model_name: str, no_tag: str = "") -> tuple[str, str]:
    """``"resnet50.a1_in1k"`` -> ``("resnet50", "a1_in1k")``; a name with no tag gets ``no_tag``."""
    arch, _, tag = model_name.partition(".")
    return arch, tag or no_tag


def get_arch_name(model_name: str) -> str:
    """``"resnet50.a1_in1k"`` -> ``"resnet50"``."""
    return split_model_name_tag(model_name)[0]


def _module_short_name(module: str) -> str:
    return module.rsplit(".", 1)[-1]


def register_model(fn: Entrypoint) -> Entrypoint:
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
    return fn


def register_pretrained_cfgs(cfgs: Mapping[str, PretrainedCfg | Mapping[str, Any]]) -> None:
    """Register weight configs keyed ``"arch.tag"``.

    Each architecture has one explicit default tag: an entry marked ``default=True``, or its
    only tag. Registering several tags of one architecture with none marked raises
    ``ValueError`` (declaration order never decides what ``pretrained=True`` loads). The other
    tags list in declaration order after the default. ``hf_hub_id="timm/"`` completes to
    ``"timm/arch.tag"``, as on the Hub.
    """
    entries: dict[str, list[tuple[str, PretrainedCfg, bool]]] = {}
    for key, value in cfgs.items():
        arch, tag = split_model_name_tag(key)
        fields = dict(value) if not isinstance(value, PretrainedCfg) else None
        is_default = bool(fields.pop("default", False)) if fields is not None else False
        cfg = as_pretrained_cfg(fields if fields is not None else value)
        hub = cfg.hf_hub_id
        if hub and hub.endswith("/"):
            hub = hub + key
        cfg = dataclasses.replace(cfg, architecture=arch, tag=tag or None, hf_hub_id=hub)
        entries.setdefault(arch, []).append((tag, cfg, is_default))
    with _lock:
        for arch, new in entries.items():
            tags = dict(_cfgs.get(arch, {}))
            defaults = [t for t, _, d in new if d]
            if len(defaults) > 1:
                raise ValueError(f"{arch}: several tags marked default=True: {defaults}")
            for tag, cfg, _ in new:
                if tag in tags:
                    raise ValueError(f"pretrained cfg {arch}.{tag} is already registered")
                tags[tag] = cfg
            if defaults:
                tags = {defaults[0]: tags[defaults[0]], **tags}
            elif len(tags) > 1 and arch not in _cfgs:
                raise ValueError(
                    f"{arch} has several weight tags ({', '.join(tags)}); mark its default with "
                    "default=True in one entry"
                )
            _cfgs[arch] = tags


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


def _resolve_name(model_name: str, *, stacklevel: int) -> tuple[str, str]:
    """The one place a name is looked up: load its family, follow an alias (warning once, at
    ``stacklevel``), check the architecture and tag exist."""
    _load_family_of(model_name)
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
                stacklevel=stacklevel,
            )
        arch, alias_tag = split_model_name_tag(current)
        tag = tag or alias_tag
        _load_family_of(arch)
    if arch not in _entrypoints:
        raise UnknownModelError(_unknown_message(model_name))
    if tag and tag not in _cfgs.get(arch, {}):
        valid = ", ".join(_cfgs.get(arch, {})) or "none"
        raise UnknownModelError(f"unknown pretrained tag {tag!r} for model {arch!r}; valid tags: {valid}")
    return arch, tag


def resolve_model_name(model_name: str) -> tuple[str, str]:
    """Resolve a name (with optional tag, or a deprecated alias) to ``(arch, tag)``.

    Raises :class:`UnknownModelError` naming the model and suggesting close names.
    """
    return _resolve_name(model_name, stacklevel=4)


def resolve(
    model_name: str,
    *,
    pretrained: bool = False,
    pretrained_cfg: str | PretrainedCfg | Mapping[str, Any] | None = None,
    pretrained_cfg_overlay: Mapping[str, Any] | None = None,
) -> Resolved:
    """Resolve a registered name once, to what building it needs: architecture, tag, recipe and
    the pretrained config (``pretrained_cfg`` as in :func:`resolve_pretrained_cfg`, then the
    overlay). ``create_model`` and every family entrypoint call this and nothing else of the
    registry, and hand the record to the builder.

    Raises:
        UnknownModelError: an unknown name or tag (close names suggested), or
            ``pretrained=True`` with a config that names no weights (tags that have some listed).
    """
    arch, tag = _resolve_name(model_name, stacklevel=4)
    cfg = _select_cfg(arch, tag, pretrained_cfg, pretrained_cfg_overlay, registered=True)
    if pretrained:
        _require_weights(cfg)
    return Resolved(arch=arch, tag=tag, recipe=_recipes.get(arch), pretrained_cfg=cfg)


def resolved_entrypoint(resolved: Resolved) -> Entrypoint:
    """The entrypoint of a resolved bare ``@register_model`` name (a family name builds from its
    recipe instead): no second lookup of the name."""
    return _entrypoints[resolved.arch]


def _registered_cfg(arch: str, tag: str, *, registered: bool) -> PretrainedCfg | None:
    tags = _cfgs.get(arch)
    if registered and tag and tag not in (tags or {}):
        valid = ", ".join(tags or {}) or "none"
        raise UnknownModelError(f"unknown pretrained tag {tag!r} for model {arch!r}; valid tags: {valid}")
    if not tags:
        return None
    return with_results(tags[tag] if tag else next(iter(tags.values())))


def _select_cfg(
    arch: str,
    tag: str,
    pretrained_cfg: str | PretrainedCfg | Mapping[str, Any] | None,
    overlay: Mapping[str, Any] | None,
    *,
    registered: bool,
) -> PretrainedCfg:
    """The config ``arch`` (already resolved) is built with; see :func:`resolve_pretrained_cfg`."""
    if isinstance(pretrained_cfg, str):
        cfg = _registered_cfg(arch, pretrained_cfg or tag, registered=registered)
    elif pretrained_cfg is not None:
        cfg = as_pretrained_cfg(pretrained_cfg)
    else:
        cfg = _registered_cfg(arch, tag, registered=registered)
    if cfg is None:
        cfg = PretrainedCfg(architecture=arch)
    if overlay:
        cfg = overlay_cfg(cfg, overlay)
    if not cfg.architecture:
        cfg = dataclasses.replace(cfg, architecture=arch)
    return cfg


def _require_weights(cfg: PretrainedCfg) -> None:
    if has_weights(cfg):
        return
    arch = cfg.architecture or ""
    tags = sorted(
        (f"{arch}.{t}" if t else arch for t, c in _cfgs.get(arch, {}).items() if has_weights(c)),
        key=_natural_key,
    )
    hint = f"; tags with weights: {', '.join(tags)}" if tags else "; this architecture has none"
    raise UnknownModelError(
        f"{cfg.name or arch} has no pretrained weights{hint}. Use pretrained=False, or "
        "pretrained_cfg_overlay=dict(file='path/to/weights') for your own file"
    )


def _known_names() -> set[str]:
    """Every registered name and alias, plus the built-in ones not imported yet."""
    return set(_entrypoints) | set(_deprecated) | set(builtin_index().module_of)


def _unknown_message(model_name: str) -> str:
    arch = split_model_name_tag(model_name)[0]
    why = not_ported_model(arch)  # (the stored timm list is read here only, on this error)
    if why is not None:
        return f"unknown model {model_name!r}: {why}"
    close = difflib.get_close_matches(arch, sorted(_known_names()), n=5, cutoff=0.6)
    hint = f"; did you mean {', '.join(map(repr, close))}?" if close else ""
    return (
        f"unknown model {model_name!r}{hint} "
        "(visionzoo.list_models() lists every name; wildcards work, e.g. list_models('resnet*'))"
    )


def is_model(model_name: str) -> bool:
    """Whether ``model_name`` (tag ignored) is a registered architecture or deprecated alias."""
    _load_family_of(model_name)
    arch = split_model_name_tag(model_name)[0]
    if arch in _deprecated:
        return _deprecated[arch] is not None
    return arch in _entrypoints


def model_entrypoint(model_name: str, module_filter: str | None = None) -> Entrypoint:
    """The function that builds ``model_name`` (tag ignored; aliases resolve to their target)."""
    arch, _ = resolve_model_name(model_name)
    if module_filter and arch not in _module_to_archs.get(module_filter, ()):
        raise UnknownModelError(f"model {model_name!r} is not in module {module_filter!r}")
    return _entrypoints[arch]


def get_recipe(model_name: str) -> Recipe | None:
    """The build recipe of a family-registered architecture (``None`` for a bare entrypoint)."""
    arch, _ = _resolve_name(model_name, stacklevel=4)
    return _recipes.get(arch)


def _as_list(value: str | Iterable[str] | None) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else list(value)


def _natural_key(name: str) -> list[int | str]:
    return [int(s) if s.isdigit() else s for s in re.split(r"(\d+)", name.lower())]


def _expand_tag_filter(pattern: str) -> list[str]:
    """Without a tag part, a filter also matches every tag of the names it matches."""
    return [pattern] if "." in pattern else [pattern, pattern + ".*"]


def _load_modules(modules: list[str]) -> None:
    """Import the named built-in families (all of them when ``modules`` is empty)."""
    if not modules:
        _load_builtin_models()
        return
    for module in modules:
        if module in builtin_index().families:
            with _lock:
                importlib.import_module(f"{_PACKAGE}.{module}")


def list_models(
    filter: str | Iterable[str] = "",
    module: str | Iterable[str] = "",
    pretrained: bool = False,
    exclude_filters: str | Iterable[str] = "",
    name_matches_cfg: bool = False,
    include_tags: bool | None = None,
) -> list[str]:
    """Registered model names, naturally sorted (``resnet2`` before ``resnet10``); timm's
    arguments, in timm's order.

    Args:
        filter: fnmatch pattern(s) to include, e.g. ``"resnet*"`` or ``["*resnext*", "dense*"]``.
        module: limit to family module(s), e.g. ``"resnet"`` (imports only those families).
        pretrained: keep only names that have weights.
        exclude_filters: fnmatch pattern(s) to drop after including.
        name_matches_cfg: keep only names with a pretrained config registered under them (an
            architecture with any config, or an ``arch.tag``).
        include_tags: list ``arch.tag`` names; defaults to ``pretrained``.

    Returns:
        Names; deprecated aliases are not listed (they still work in ``create_model``).
    """
    modules = _as_list(module)
    _load_modules(modules)
    if include_tags is None:
        include_tags = pretrained
    includes, excludes = _as_list(filter), _as_list(exclude_filters)
    with _lock:
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
        if name_matches_cfg:
            names = {n for n in names if _name_has_cfg(n)}
    return sorted(names, key=_natural_key)


def _name_has_cfg(name: str) -> bool:
    arch, tag = split_model_name_tag(name)
    tags = _cfgs.get(arch) or {}
    return bool(tags) and (not tag or tag in tags)


def _name_has_weights(name: str) -> bool:
    arch, tag = split_model_name_tag(name)
    tags = _cfgs.get(arch)
    if not tags:
        return False
    cfg = tags.get(tag) if tag else next(iter(tags.values()))
    return cfg is not None and has_weights(cfg)


def is_model_in_modules(model_name: str, module_names: str | Iterable[str]) -> bool:
    """Whether ``model_name``'s architecture is registered by one of the family modules named."""
    arch = get_arch_name(model_name)
    _load_family_of(arch)  # only the family that defines it, not every module named
    return _arch_to_module.get(arch) in _as_list(module_names)


def list_pretrained(filter: str | Iterable[str] = "", exclude_filters: str | Iterable[str] = "") -> list[str]:
    """Every ``arch.tag`` with weights, naturally sorted."""
    return list_models(filter, pretrained=True, exclude_filters=exclude_filters, include_tags=True)


def list_modules() -> list[str]:
    """Family module names that register models, sorted."""
    _load_builtin_models()
    return sorted(module for module, archs in _module_to_archs.items() if archs)


def is_model_pretrained(model_name: str) -> bool:
    """Whether ``arch`` (its default tag) or ``arch.tag`` has weights."""
    _load_family_of(model_name)
    return _name_has_weights(model_name)


def get_pretrained_cfg(model_name: str, allow_unregistered: bool = True) -> PretrainedCfg | None:
    """The config of ``arch.tag``, or of the default tag for a bare ``arch``.

    An unknown tag raises :class:`UnknownModelError` listing the valid tags. An architecture with
    no configs gives ``None`` (or raises when ``allow_unregistered=False``).
    """
    arch, tag = _resolve_name(model_name, stacklevel=4)
    cfg = _registered_cfg(arch, tag, registered=True)
    if cfg is None and not allow_unregistered:
        raise UnknownModelError(f"model {arch!r} has no pretrained cfg registered")
    return cfg


def get_pretrained_cfg_value(model_name: str, cfg_key: str) -> Any:
    """One field of ``model_name``'s pretrained config, ``None`` where the config leaves it unset
    (as timm: its model tests ask every family for ``min_input_size`` and the like).

    Raises:
        KeyError: ``cfg_key`` is no config field at all (the message lists the valid ones; timm
            gives None, which hides a typo).
        UnknownModelError: an unknown name or tag, or an architecture with no config (a
            ``RuntimeError``, as timm raises).
    """
    if cfg_key not in FIELD_NAMES:
        raise KeyError(f"{cfg_key!r} is not a pretrained cfg field; valid: {', '.join(FIELD_NAMES)}")
    return getattr(get_pretrained_cfg(model_name, allow_unregistered=False), cfg_key)


def get_arch_pretrained_cfgs(model_name: str) -> dict[str, PretrainedCfg]:
    """Every config of an architecture, keyed ``arch.tag``, default first."""
    arch, _ = resolve_model_name(model_name)
    return {f"{arch}.{t}" if t else arch: with_results(c) for t, c in _cfgs.get(arch, {}).items()}


def get_deprecated_models(module: str = "") -> dict[str, str | None]:
    """Deprecated aliases and what they map to (``None``: removed)."""
    _load_modules(_as_list(module))
    return dict(_module_to_deprecated.get(module, {}) if module else _deprecated)


def resolve_pretrained_cfg(
    model_name: str,
    pretrained_cfg: str | PretrainedCfg | Mapping[str, Any] | None = None,
    pretrained_cfg_overlay: Mapping[str, Any] | None = None,
    *,
    pretrained: bool = False,
) -> PretrainedCfg:
    """The config a model is built with: ``pretrained_cfg`` as a tag (looked up), a full config,
    or None for the name's own tag (or the default); then ``pretrained_cfg_overlay`` fields
    replace the config's. An unregistered name (a user's own model) gets a bare config naming
    it. With ``pretrained=True`` a config that names no weights raises
    :class:`UnknownModelError`. (``create_model`` gets this inside :func:`resolve`.)"""
    arch, tag = split_model_name_tag(model_name)
    registered = is_model(arch)
    if registered:
        arch, alias_tag = _resolve_name(arch, stacklevel=4)
        tag = tag or alias_tag
    cfg = _select_cfg(arch, tag, pretrained_cfg, pretrained_cfg_overlay, registered=registered)
    if pretrained:
        _require_weights(cfg)
    return cfg


def _make_entrypoint(name: str, args: Any, module_name: str) -> Entrypoint:
    def entrypoint(
        pretrained: bool = False,
        *,
        pretrained_cfg: str | PretrainedCfg | Mapping[str, Any] | None = None,
        pretrained_cfg_overlay: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> nn.Module:
        # what create_model does for a plain name: resolve once, build the record
        resolved = resolve(
            name,
            pretrained=pretrained,
            pretrained_cfg=pretrained_cfg,
            pretrained_cfg_overlay=pretrained_cfg_overlay,
        )
        return build_model(resolved, pretrained, **kwargs)

    entrypoint.__name__ = entrypoint.__qualname__ = name
    entrypoint.__module__ = module_name
    entrypoint.__doc__ = f"Build ``{name}``: {args!r}. Keyword arguments override these fields."
    return entrypoint


def register_family(
    module_name: str,
    *,
    model_cls: Callable[..., nn.Module],
    variants: Mapping[str, Any],
    weights: Mapping[str, PretrainedCfg | Mapping[str, Any]] | None = None,
    cfg_defaults: Mapping[str, Any] | None = None,
    feature_cfg: Mapping[str, Any] | None = None,
    filter_fn: FilterFn | None = None,
    deprecated: Mapping[str, str | None] | None = None,
    tag_args: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, PretrainedCfg]:
    """Register a family (or a group of its variants that shares defaults) from its tables.

    Args:
        module_name: the family module's ``__name__``.
        model_cls: the model class every variant builds.
        variants: ``{name: args}``, ``args`` a :func:`~visionzoo.variants.model_args_type`
            record (or :class:`~visionzoo.variants.Pruned` / :class:`~visionzoo.variants.WhenPretrained`
            around one).
        weights: ``{"arch.tag": fields}``: only what differs from ``cfg_defaults``; one entry
            per architecture with several tags carries ``default=True``.
        cfg_defaults: fields shared by the family's weight configs, over the core base
            (``url=""``, ``hf_hub_id="timm/"``).
        feature_cfg: defaults of the ``features_only`` wrapper.
        filter_fn: the family's checkpoint remap.
        deprecated: old names, ``{"alias": "arch.tag"}``.
        tag_args: constructor arguments that follow the weight tag, ``{"arch.tag": {arg: value}}``
            (defaults under the caller's kwargs, with or without ``pretrained``).

    Each name becomes an entrypoint ``name(pretrained=False, **kwargs)``, reachable as
    ``visionzoo.models.<family>.<name>`` through :func:`family_entrypoint`.

    Returns:
        ``{arch: default pretrained cfg}`` for the module's ``default_cfgs``.
    """
    base = {**WEIGHT_CFG_BASE, **(cfg_defaults or {})}
    weights = {k: v if isinstance(v, PretrainedCfg) else {**base, **v} for k, v in (weights or {}).items()}
    stray = sorted({split_model_name_tag(k)[0] for k in weights} - set(variants))
    if stray:
        raise ValueError(f"{module_name}: weights for unknown variants {stray}")
    module = _module_short_name(module_name)
    with _lock:
        for name, args in variants.items():
            pretrained_args = dict(args.overrides) if isinstance(args, WhenPretrained) else {}
            args = args.args if isinstance(args, WhenPretrained) else args
            pruned = isinstance(args, Pruned)
            by_tag = {
                split_model_name_tag(k)[1]: dict(v)
                for k, v in (tag_args or {}).items()
                if split_model_name_tag(k)[0] == name
            }
            _recipes[name] = Recipe(
                name=name,
                model_cls=model_cls,
                args=args.args if pruned else args,
                pruned=pruned,
                feature_cfg=dict(feature_cfg or {}),
                filter_fn=filter_fn,
                pretrained_args=pretrained_args,
                tag_args=by_tag,
            )
            try:
                register_model(_make_entrypoint(name, args, module_name))
            except ValueError:
                del _recipes[name]
                raise
        register_pretrained_cfgs(weights)
        if deprecated:
            register_deprecations(module_name, deprecated)
        _install_dir(module_name, module)
        return {arch: next(iter(_cfgs[arch].values())) for arch in variants if arch in _cfgs}


def family_entrypoint(module_name: str, name: str) -> Entrypoint:
    """The entrypoint ``name`` of a family module: a family's module ``__getattr__`` calls this,
    so ``from visionzoo.models.resnet import resnet50`` works and type-checks."""
    archs = _module_to_archs.get(_module_short_name(module_name), set())
    if name in archs:
        return _entrypoints[name]
    raise AttributeError(f"module {module_name!r} has no attribute {name!r}")


def _install_dir(module_name: str, module: str) -> None:
    """Let ``dir(module)`` (and so tab completion) list the family's entrypoints."""
    mod = sys.modules.get(module_name)
    if mod is None or "__dir__" in vars(mod):
        return

    def module_dir() -> list[str]:
        return sorted(set(vars(mod)) | _module_to_archs.get(module, set()))

    mod.__dir__ = module_dir  # type: ignore[method-assign]
