"""What a family declares: variant argument records, the recipe of one architecture, and a name
resolved to both.

A family file imports only this module, :mod:`visionzoo.model` and
:func:`visionzoo.registry.register_family`. The registry turns each variant into a
:class:`Recipe`, and a model name into one :class:`Resolved` (recipe and pretrained config), which
the builder takes: the name is not looked up again below the registry.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from torch import nn

from .adapt import FilterFn
from .pretrained import PretrainedCfg

__all__ = ["Pruned", "Recipe", "Resolved", "WhenPretrained", "as_dataclass", "model_args_type"]

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class Pruned:
    """Marks a variant built with its layers resized to the pruning spec shipped for it."""

    args: Any


@dataclasses.dataclass(frozen=True)
class WhenPretrained:
    """Marks a variant whose published weights were trained with other constructor arguments than
    the architecture's defaults (e.g. a BatchNorm epsilon): ``overrides`` apply only with
    ``pretrained=True``, as timm does, and a value the caller passes still wins."""

    args: Any
    overrides: Mapping[str, Any]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Everything the builder needs for one registered architecture.

    Attributes:
        name: the architecture name (selects the pruning spec of a pruned variant).
        model_cls: the model class.
        args: the variant's constructor arguments (a :func:`model_args_type` record).
        pruned: resize layers to the variant's pruning spec after instantiation.
        feature_cfg: defaults of the ``features_only`` wrapper (``out_indices``, ``feature_cls``,
            ``flatten_sequential``...).
        filter_fn: the family's checkpoint remap, applied to every checkpoint loaded into it.
        pretrained_args: constructor arguments used only with ``pretrained=True``
            (:class:`WhenPretrained`).
        tag_args: ``{tag: constructor arguments}`` that follow the weight tag the name selects
            (a VLM tower's projector width is its source LLM's), defaults the caller's value wins over.
    """

    name: str
    model_cls: Callable[..., nn.Module]
    args: Any = None
    pruned: bool = False
    feature_cfg: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    filter_fn: FilterFn | None = None
    pretrained_args: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    tag_args: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Resolved:
    """A model name resolved once (:func:`visionzoo.registry.resolve`): everything the builder
    and the weight loaders need, so none of them takes a name.

    Attributes:
        arch: the architecture (a deprecated alias resolved to its current name).
        tag: the weight tag the name selected (``""`` for the default).
        recipe: the architecture's build recipe; ``None`` for a bare ``@register_model``
            entrypoint, which builds itself.
        pretrained_cfg: the config the model is built with (tag, ``pretrained_cfg`` and overlay
            applied).
    """

    arch: str
    tag: str
    recipe: Recipe | None
    pretrained_cfg: PretrainedCfg

    @property
    def name(self) -> str:
        """``arch.tag`` (or ``arch`` for the default tag)."""
        return f"{self.arch}.{self.tag}" if self.tag else self.arch


def model_args_type(model_cls: type[nn.Module]) -> type:
    """A frozen dataclass whose fields are ``model_cls.__init__``'s parameters.

    Families declare variants as instances of it; ``dataclasses.replace(variant, **kwargs)``
    then merges user overrides and rejects unknown names, with the constructor signature as the
    single source of truth.
    """
    params = list(inspect.signature(model_cls.__init__).parameters.values())[1:]
    specs: list[Any] = []
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is p.empty:
            specs.append((p.name, Any))
        else:
            if isinstance(p.default, (list, dict, set)):
                raise TypeError(f"{model_cls.__name__}.{p.name} has a mutable default; use a tuple")
            specs.append((p.name, Any, dataclasses.field(default=p.default)))
    cls = dataclasses.make_dataclass(f"{model_cls.__name__}Args", specs, frozen=True, kw_only=True)
    cls.model_cls = model_cls  # type: ignore[attr-defined]
    return cls


def as_dataclass(cls: type[T], value: T | Mapping[str, Any], what: str) -> T:
    """``value`` if it is a ``cls``, else ``cls(**value)`` for a mapping of its fields.

    For nested config records (a stage table, a block list) given as plain dicts, e.g. from a
    ``config.json``; unknown keys raise ``TypeError`` naming them and the valid ones.
    """
    if isinstance(value, cls):
        return value
    if not isinstance(value, Mapping):
        raise TypeError(f"{what} must be a {cls.__name__} or a dict of its fields, got {value!r}")
    valid = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(value) - set(valid))
    if unknown:
        raise TypeError(f"{what} has unknown keys {unknown}; valid keys: {', '.join(valid)}")
    return cls(**value)
