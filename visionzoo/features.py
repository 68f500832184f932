"""Feature extraction: describe a model's feature pyramid and turn any model into a backbone.

Every model lists its taps in ``feature_info`` (channels, reduction, module name). From that:

* :class:`FeatureListNet` / :class:`FeatureDictNet` re-run the model's top-level modules in order,
  stop after the last tap and return the tapped outputs (the default for ``features_only=True``);
* :class:`FeatureHookNet` taps with forward hooks, for taps nested inside blocks;
* :class:`FeatureGraphNet` cuts the model's FX graph after the last tap (``feature_cls='fx'``);
* :class:`FeatureGetterNet` calls ``forward_intermediates`` (token models);
* :class:`Trunk` declares a model's stem, stages and post modules; :func:`walk_trunk` walks
  them once for ``forward_features`` and ``forward_intermediates``, :func:`prune_trunk` cuts them.

Module names inside the wrappers follow timm's (``stages.0`` flattened to ``stages_0``), so a
timm ``features_only`` checkpoint loads into ours unchanged.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import torch
from torch import nn
from torch.utils.checkpoint import checkpoint

__all__ = [
    "FeatureDictNet",
    "FeatureGetterNet",
    "FeatureGraphNet",
    "FeatureHookNet",
    "FeatureInfo",
    "FeatureListNet",
    "Trunk",
    "feature_take_indices",
    "normalize_out_indices",
    "prune_post",
    "prune_trunk",
    "trunk_modules",
    "trunk_units",
    "walk_trunk",
]


def normalize_out_indices(out_indices: Any, num_features: int) -> tuple[int, ...]:
    """Absolute, validated feature indices.

    ``out_indices`` is a tuple of ints (negative counts from the end) or an int ``n`` meaning
    the last ``n`` features. Raises ``TypeError`` for other types, ``IndexError`` naming the valid
    range for an index out of it, ``ValueError`` for duplicates.
    """
    valid = f"valid indices are 0..{num_features - 1} (or -{num_features}..-1)"
    if isinstance(out_indices, bool) or not isinstance(out_indices, (int, Sequence)):
        raise TypeError(
            f"out_indices must be an int (last n features) or a tuple of ints, got {out_indices!r}"
        )
    if isinstance(out_indices, int):
        if not 0 < out_indices <= num_features:
            raise IndexError(
                f"out_indices={out_indices} asks for the last {out_indices} features, "
                f"but the model has {num_features}; use 1..{num_features}"
            )
        return tuple(range(num_features - out_indices, num_features))
    if isinstance(out_indices, str) or not out_indices:
        raise TypeError(f"out_indices must be a non-empty tuple of ints, got {out_indices!r}")
    result = []
    for i in out_indices:
        if isinstance(i, bool) or not isinstance(i, int):
            raise TypeError(f"out_indices entries must be ints, got {i!r} in {out_indices!r}")
        idx = num_features + i if i < 0 else i
        if not 0 <= idx < num_features:
            raise IndexError(f"feature index {i} in out_indices={out_indices!r} is out of range; {valid}")
        result.append(idx)
    if len(set(result)) != len(result):
        raise ValueError(f"out_indices={out_indices!r} names the same feature twice")
    return tuple(result)


def feature_take_indices(
    num_features: int, indices: int | Sequence[int] | None = None
) -> tuple[list[int], int]:
    """``(absolute indices, max index)`` for ``forward_intermediates``; ``None`` takes all."""
    take = normalize_out_indices(num_features if indices is None else indices, num_features)
    return list(take), max(take)


class FeatureInfo:
    """A model's feature pyramid and the subset (``out_indices``) a backbone returns."""

    def __init__(self, feature_info: Iterable[dict[str, Any]], out_indices: Any = None) -> None:
        info = [dict(fi) for fi in feature_info]
        prev = 1
        for i, fi in enumerate(info):
            if fi.get("num_chs", 0) <= 0 or fi.get("reduction", 0) < prev or "module" not in fi:
                raise ValueError(f"feature_info[{i}] is malformed: {fi!r}")
            prev = fi["reduction"]
            fi.setdefault("index", i)
        self.info = info
        self.out_indices = normalize_out_indices(len(info) if out_indices is None else out_indices, len(info))

    def from_other(self, out_indices: Any) -> FeatureInfo:
        return FeatureInfo(copy.deepcopy(self.info), out_indices)

    def get(self, key: str, idx: int | Sequence[int] | None = None) -> Any:
        """Value of ``key`` per output index (``idx=None``), or at module index/indices ``idx``."""
        if idx is None:
            return [self.info[i][key] for i in self.out_indices]
        if isinstance(idx, int):
            return self.info[idx][key]
        return [self.info[i][key] for i in idx]

    def get_dicts(self, keys: Sequence[str] | None = None, idx: int | Sequence[int] | None = None) -> Any:
        def pick(i: int) -> dict[str, Any]:
            return dict(self.info[i]) if keys is None else {k: self.info[i][k] for k in keys}

        if idx is None:
            return [pick(i) for i in self.out_indices]
        if isinstance(idx, int):
            return pick(idx)
        return [pick(i) for i in idx]

    def channels(self, idx: int | Sequence[int] | None = None) -> Any:
        return self.get("num_chs", idx)

    def reduction(self, idx: int | Sequence[int] | None = None) -> Any:
        return self.get("reduction", idx)

    def module_name(self, idx: int | Sequence[int] | None = None) -> Any:
        return self.get("module", idx)

    def __getitem__(self, item: int) -> dict[str, Any]:
        return self.info[item]

    def __len__(self) -> int:
        return len(self.info)

    def __repr__(self) -> str:
        return f"FeatureInfo(out_indices={self.out_indices}, info={self.get_dicts()})"


def _info_list(model: nn.Module) -> list[dict[str, Any]]:
    info = getattr(model, "feature_info", None)
    if isinstance(info, FeatureInfo):
        return info.info
    if isinstance(info, (list, tuple)) and info:
        return list(info)
    raise TypeError(f"{type(model).__name__} has no feature_info; it cannot be a feature backbone")


def trunk_modules(
    model: nn.Module, *, flatten_sequential: bool = False, exclude: Iterable[str] = ()
) -> list[tuple[str, str, nn.Module]]:
    """``(flat_name, dotted_name, module)`` for the model's children in registration order.

    With ``flatten_sequential`` a top-level ``nn.Sequential`` contributes its children, named
    ``parent_child`` (timm's naming, kept for checkpoint compatibility).
    """
    skip = set(exclude)
    out: list[tuple[str, str, nn.Module]] = []
    for name, child in model.named_children():
        if name in skip:
            continue
        if flatten_sequential and isinstance(child, nn.Sequential):
            out.extend((f"{name}_{n}", f"{name}.{n}", m) for n, m in child.named_children())
        else:
            out.append((name, name, child))
    return out


def _owner(dotted: str, tap: str) -> bool:
    return tap == dotted or tap.startswith(dotted + ".")


def _first_output(x: Any) -> torch.Tensor:
    return x[0] if isinstance(x, (tuple, list)) else x


_MAP_FMTS = ("NCHW", "NHWC")


def _tap_fmt(model: nn.Module, output_fmt: str) -> str:
    """The layout ``model``'s tapped modules give (its ``output_fmt``: NHWC for Swin and
    MambaOut, which run channels-last), with the backbone's ``output_fmt`` checked against it."""
    source = str(getattr(model, "output_fmt", "NCHW"))
    if source in _MAP_FMTS and output_fmt not in _MAP_FMTS:
        raise ValueError(f"output_fmt={output_fmt!r} is not a map layout; valid: 'NCHW', 'NHWC'")
    return source


def _permutation(source: str, target: str) -> list[int]:
    """The dims that take a ``source`` map to ``target`` (NHWC <-> NCHW); none otherwise."""
    if source == target or source not in _MAP_FMTS or target not in _MAP_FMTS:
        return []
    return [0, 3, 1, 2] if source == "NHWC" else [0, 2, 3, 1]


def _as_fmt(x: Any, source: str, target: str) -> Any:
    """A tapped level in the backbone's layout: NHWC and NCHW maps are permuted into each other;
    anything else (tokens) is returned as it is."""
    dims = _permutation(source, target)
    if not dims or not isinstance(x, torch.Tensor) or x.ndim != 4:
        return x
    return x.permute(dims)


class _Taps:
    """Where features are read: ``(key, module path, hook type)`` for each tap.

    Hooks are attached only for the duration of one pass (``with taps.attached(owner) as out``)
    and modules are looked up by path then, so a backbone carries no live hooks: copies and
    pickles of it tap their own modules, and a tapped module replaced after construction (e.g.
    by ``optimize_for_inference``) is tapped in its new form.
    """

    def __init__(
        self,
        root: nn.Module,
        taps: Sequence[dict[str, Any]],
        keys: Sequence[Any],
        owner: nn.Module | None = None,
    ) -> None:
        modules = dict(root.named_modules())
        paths = {id(m): n for n, m in (owner or root).named_modules()}
        self.points: list[tuple[Any, str, str]] = []
        for tap, key in zip(taps, keys):
            name = tap["module"]
            if name not in modules or id(modules[name]) not in paths:
                raise KeyError(f"feature tap {name!r} is not a module of {type(root).__name__}")
            self.points.append((key, paths[id(modules[name])], tap.get("hook_type", "forward")))

    @contextmanager
    def attached(self, owner: nn.Module) -> Iterator[OrderedDict[Any, torch.Tensor]]:
        """Hooks on every tap of ``owner`` while the block runs; the yielded dict then holds the
        outputs in tap order."""
        found: dict[Any, torch.Tensor] = {}
        handles = []
        for key, path, kind in self.points:
            module = owner.get_submodule(path)
            if kind == "forward_pre":
                handles.append(module.register_forward_pre_hook(partial(_record_input, found, key)))
            else:
                handles.append(module.register_forward_hook(partial(_record_output, found, key)))
        out: OrderedDict[Any, torch.Tensor] = OrderedDict()
        try:
            yield out
        finally:
            for h in handles:
                h.remove()
            out.update((key, found[key]) for key, _, _ in self.points if key in found)


def _record_output(found: dict[Any, torch.Tensor], key: Any, _m: nn.Module, _i: Any, output: Any) -> None:
    found[key] = _first_output(output)


def _record_input(found: dict[Any, torch.Tensor], key: Any, _m: nn.Module, inputs: Any) -> None:
    found[key] = _first_output(inputs)


def _run(module: nn.Module, x: Any, use_checkpoint: bool) -> Any:
    # Parameter-free children (activations, pools) are not checkpointed: they save little, and an
    # in-place one (ReLU(inplace=True)) overwrites the input its recomputation would need.
    if use_checkpoint and torch.is_grad_enabled() and any(True for _ in module.parameters()):
        return checkpoint(module, x, use_reentrant=False)
    return module(x)


@dataclass(frozen=True)
class Trunk:
    """A model's trunk as data: what runs, in order, for the contract's one walk.

    Names are module paths; ``"name.*"`` stands for the children of ``name`` (an
    ``nn.Sequential``), ``"name*"`` for the top-level children ``name1``, ``name2``... Each is a
    unit of the walk: a feature tap that is a unit is read off directly, one nested inside a unit
    with a hook, and an early stop or a pruning cut ends after the unit holding the last tap.

    Attributes:
        stem: the first units (never checkpointed).
        stages: the units after the stem. Empty with an empty ``stem``: every top-level child
            that is not in the model's ``head_names`` or ``post``.
        post: run only once every unit ran: a final norm / conv of the final output, not of a
            feature level.
        blocks: what runs in order inside a stage, for per-block checkpointing: ``"*"`` its
            children, ``"blocks.*"`` those of its ``blocks``, a plain name that module.
        checkpoint: the recompute unit with gradient checkpointing: ``"block"``, ``"stage"``, or
            ``"none"`` (the family checkpoints inside its own blocks).
        prune_post: what removes ``post`` (besides cutting stages): ``"norm"`` (``prune_norm``),
            ``"head"`` (``prune_head``, for a post that widens the features for the head). A
            post without parameters (an activation) goes only with a cut, as in timm.
        norm_last: ``forward_intermediates(norm=True)`` applies ``post`` to the last stage's
            map (timm's final norm, which belongs to the last stage).
    """

    stem: tuple[str, ...] = ()
    stages: tuple[str, ...] = ()
    post: tuple[str, ...] = ()
    blocks: tuple[str, ...] = ("*",)
    checkpoint: str = "stage"
    prune_post: tuple[str, ...] = ("norm",)
    norm_last: bool = False

    def __post_init__(self) -> None:
        if self.checkpoint not in ("block", "stage", "none"):
            raise ValueError(f"Trunk.checkpoint must be 'block', 'stage' or 'none', got {self.checkpoint!r}")
        bad = [p for p in self.prune_post if p not in ("norm", "head")]
        if bad:
            raise ValueError(f"Trunk.prune_post entries must be 'norm' or 'head', got {bad!r}")


def _expand(model: nn.Module, spec: str) -> list[tuple[str, nn.Module]]:
    if spec.endswith(".*"):
        parent = spec[:-2]
        return [(f"{parent}.{n}", m) for n, m in model.get_submodule(parent).named_children()]
    if spec.endswith("*"):  # NOTE: string tests, not a regex: torch.compile traces them
        stem = spec[:-1]
        return [(n, m) for n, m in model.named_children() if n.startswith(stem) and n[len(stem) :].isdigit()]
    return [(spec, model.get_submodule(spec))]


def trunk_units(model: nn.Module, trunk: Trunk) -> tuple[list[tuple[str, nn.Module]], int]:
    """``([(path, module) per unit], number of stem units)`` of ``model`` as it is now (pruned
    or not)."""
    if not trunk.stem and not trunk.stages:
        skip = set(getattr(model, "head_names", ())) | set(trunk.post)
        return [(n, m) for n, m in model.named_children() if n not in skip], 0
    stem = [unit for spec in trunk.stem for unit in _expand(model, spec)]
    # a post module may sit at the end of a stages container (DPN's final norm in ``features``)
    stages = [unit for spec in trunk.stages for unit in _expand(model, spec) if unit[0] not in trunk.post]
    return stem + stages, len(stem)


def _stage_blocks(stage: nn.Module, trunk: Trunk) -> list[nn.Module]:
    out: list[nn.Module] = []
    for spec in trunk.blocks:
        if spec == "*":
            out.extend(stage.children())
        elif spec.endswith(".*"):
            out.extend(stage.get_submodule(spec[:-2]).children())
        else:
            out.append(stage.get_submodule(spec))
    return out


def _owner_unit(paths: Sequence[str], tap: str, model: nn.Module) -> int:
    for i, path in enumerate(paths):
        if _owner(path, tap):
            return i
    raise ValueError(
        f"feature tap {tap!r} is in no unit of {type(model).__name__}'s trunk (pruned away by "
        "prune_intermediate_layers?); ask for the levels it kept"
    )


def _run_units(
    units: Sequence[tuple[str, nn.Module]],
    x: torch.Tensor,
    trunk: Trunk,
    first_checkpointed: int,
    direct: set[str],
    found: dict[str, torch.Tensor],
) -> torch.Tensor:
    for i, (path, module) in enumerate(units):
        if i < first_checkpointed:
            x = module(x)
        elif trunk.checkpoint == "block":
            for block in _stage_blocks(module, trunk) or [module]:
                x = _run(block, x, True)
        else:
            x = _run(module, x, True)
        if path in direct:  # a unit returning a list (SelecSLS's [x, skip]) is read as hooks read it
            found[path] = _first_output(x)
    return x


def walk_trunk(
    model: nn.Module,
    trunk: Trunk,
    x: torch.Tensor,
    taps: Sequence[dict[str, Any]] = (),
    *,
    stop_early: bool = False,
    checkpointing: bool = False,
    norm: bool = False,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Run ``model``'s trunk once: stem, stages, then ``post`` if every unit ran.

    Args:
        taps: ``feature_info`` entries to collect, in forward order.
        stop_early: end after the unit holding the last tap (``post`` is then skipped unless
            that unit is the last).
        checkpointing: recompute each stage (or block, per ``trunk.checkpoint``) in backward.
        norm: with ``trunk.norm_last``, apply ``post`` to a tap of the last unit.

    Returns:
        ``(output, [tapped maps in ``taps`` order])``.
    """
    units, num_stem = trunk_units(model, trunk)
    paths = [p for p, _ in units]
    end = len(units) - 1
    if taps:
        owners = [_owner_unit(paths, t["module"], model) for t in taps]
        end = owners[-1] if stop_early else end
    direct = {t["module"] for t in taps if t.get("hook_type") is None and t["module"] in paths}
    nested = [t for t in taps if t["module"] not in direct]
    found: dict[str, torch.Tensor] = {}
    ckpt = checkpointing and trunk.checkpoint != "none"
    if nested:
        with _Taps(model, nested, [t["module"] for t in nested]).attached(model) as hooked:
            x = _run_units(units[: end + 1], x, trunk, num_stem if ckpt else len(units), direct, found)
        found.update(hooked)
    else:  # no context manager on the plain forward pass (torch.compile traces it whole)
        x = _run_units(units[: end + 1], x, trunk, num_stem if ckpt else len(units), direct, found)
    complete = end == len(units) - 1
    if complete:
        for name in trunk.post:
            post = model.get_submodule(name)
            x = post(x)
            if norm and trunk.norm_last and paths and paths[-1] in found:
                found[paths[-1]] = post(found[paths[-1]])
    missing = [t["module"] for t in taps if t["module"] not in found]
    if missing:
        raise RuntimeError(f"feature taps {missing} were not reached in {type(model).__name__}")
    return x, [found[t["module"]] for t in taps]


def prune_trunk(model: nn.Module, trunk: Trunk, last_tap: str) -> None:
    """Drop the units after the one holding ``last_tap``: a ``"name.*"`` container is sliced,
    another unit becomes an empty ``nn.Sequential`` / ``nn.Identity`` (no parameters, no keys)."""
    units, _ = trunk_units(model, trunk)
    paths = [p for p, _ in units]
    owner = _owner_unit(paths, last_tap, model)
    specs = [s for s in (*trunk.stem, *trunk.stages) if s.endswith(".*")]
    for path, module in units[owner + 1 :]:
        if not any(path.startswith(s[:-1]) for s in specs):
            _set(model, path, nn.Sequential() if isinstance(module, nn.Sequential) else nn.Identity())
    for spec in specs:
        parent = spec[:-2]
        if not any(p.startswith(spec[:-1]) for p in paths[owner + 1 :]):
            continue
        container = model.get_submodule(parent)
        if not isinstance(container, nn.Sequential):
            raise TypeError(f"Trunk unit {spec!r} needs {parent!r} to be an nn.Sequential to cut it")
        cut = container[: sum(1 for p in paths[: owner + 1] if p.startswith(spec[:-1]))]
        for name, module in container.named_children():
            if f"{parent}.{name}" in trunk.post:  # a nested post module goes in prune_post
                cut.add_module(name, module)
        _set(model, parent, cut)


def prune_post(
    model: nn.Module, trunk: Trunk, *, truncated: bool, prune_norm: bool, prune_head: bool
) -> bool:
    """Replace ``trunk.post`` with ``nn.Identity`` after a cut, or as ``prune_post`` says.
    Returns whether a post module with parameters went (the features may be narrower now)."""
    removed = False
    asked = {"norm": prune_norm, "head": prune_head}
    wanted = any(asked[p] for p in trunk.prune_post)
    for name in trunk.post:
        post = model.get_submodule(name)
        has_params = any(True for _ in post.parameters())
        if truncated or (wanted and has_params):
            _set(model, name, nn.Identity())
            removed = removed or has_params
    return removed


def _set(model: nn.Module, path: str, module: nn.Module) -> None:
    parent, _, name = path.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, name, module)


class FeatureDictNet(nn.ModuleDict):
    """Backbone returning ``{index or out_map name: tensor}``, built from the model's children.

    The model's top-level modules (flattened one level with ``flatten_sequential``) are re-run in
    order up to the last tapped one; everything after it, the head included, is dropped.
    """

    def __init__(
        self,
        model: nn.Module,
        out_indices: Any = (0, 1, 2, 3, 4),
        out_map: Sequence[Any] | None = None,
        *,
        output_fmt: str = "NCHW",
        feature_concat: bool = False,
        flatten_sequential: bool = False,
    ) -> None:
        super().__init__()
        self.feature_info = FeatureInfo(_info_list(model), out_indices)
        self.tap_fmt = _tap_fmt(model, output_fmt)
        self.output_fmt = output_fmt
        self.concat = feature_concat
        self.grad_checkpointing = False
        names = self.feature_info.module_name()
        keys = list(out_map) if out_map is not None else list(self.feature_info.out_indices)
        wanted = {n: str(k) for n, k in zip(names, keys)}
        self.return_layers: dict[str, str] = {}
        layers = OrderedDict()
        for flat, dotted, module in trunk_modules(model, flatten_sequential=flatten_sequential):
            layers[flat] = module
            if dotted in wanted:
                self.return_layers[flat] = wanted.pop(dotted)
            if not wanted:
                break
        if wanted:
            raise ValueError(
                f"feature modules {sorted(wanted)} are not top-level modules of "
                f"{type(model).__name__}; use feature_cls='hook' for nested taps"
            )
        self.update(layers)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    def _collect(self, x: torch.Tensor) -> OrderedDict[str, torch.Tensor]:
        out = OrderedDict()
        last = len(self) - 1
        for i, (name, module) in enumerate(self.items()):
            skip = i in (0, last) or getattr(module, "inplace", False) is True
            x = _run(module, x, self.grad_checkpointing and not skip)
            if name in self.return_layers:
                key = self.return_layers[name]
                level = torch.cat(x, 1) if self.concat and isinstance(x, (tuple, list)) else _first_output(x)
                out[key] = _as_fmt(level, self.tap_fmt, self.output_fmt)
        return out

    def forward(self, x: torch.Tensor) -> Any:
        return self._collect(x)


class FeatureListNet(FeatureDictNet):
    """Backbone returning a list of feature maps, one per ``out_indices`` entry (the default)."""

    def __init__(
        self,
        model: nn.Module,
        out_indices: Any = (0, 1, 2, 3, 4),
        *,
        output_fmt: str = "NCHW",
        feature_concat: bool = False,
        flatten_sequential: bool = False,
    ) -> None:
        super().__init__(
            model,
            out_indices,
            output_fmt=output_fmt,
            feature_concat=feature_concat,
            flatten_sequential=flatten_sequential,
        )

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:  # type: ignore[override]
        return list(self._collect(x).values())


class FeatureHookNet(nn.ModuleDict):
    """Backbone that reads features with forward hooks, for taps nested inside blocks.

    With ``no_rewrite`` (the default unless ``flatten_sequential``) the whole model is kept as
    ``body`` with its classifier removed; otherwise the trunk is rebuilt as in
    :class:`FeatureListNet` up to the module holding the last tap.
    """

    def __init__(
        self,
        model: nn.Module,
        out_indices: Any = (0, 1, 2, 3, 4),
        out_map: Sequence[Any] | None = None,
        *,
        return_dict: bool = False,
        output_fmt: str = "NCHW",
        no_rewrite: bool | None = None,
        flatten_sequential: bool = False,
        default_hook_type: str = "forward",
    ) -> None:
        super().__init__()
        self.feature_info = FeatureInfo(_info_list(model), out_indices)
        self.return_dict = return_dict
        self.tap_fmt = _tap_fmt(model, output_fmt)
        self.output_fmt = output_fmt
        self.grad_checkpointing = False
        if no_rewrite is None:
            no_rewrite = not flatten_sequential
        taps = [
            {"module": d["module"], "hook_type": d.get("hook_type", default_hook_type)}
            for d in self.feature_info.get_dicts()
        ]
        layers = OrderedDict()
        if no_rewrite:
            if flatten_sequential:
                raise ValueError("no_rewrite=True cannot be combined with flatten_sequential=True")
            reset = getattr(model, "reset_classifier", None)
            if callable(reset):
                reset(0)
            layers["body"] = model
        else:
            remaining = {t["module"] for t in taps}
            for flat, dotted, module in trunk_modules(model, flatten_sequential=flatten_sequential):
                layers[flat] = module
                remaining = {t for t in remaining if not _owner(dotted, t)}
                if not remaining:
                    break
            if remaining:
                raise ValueError(
                    f"feature modules {sorted(remaining)} are not in the rebuilt trunk; with "
                    "flatten_sequential=True a tap cannot name a whole flattened Sequential"
                )
        self.update(layers)
        keys = list(out_map) if out_map is not None else [t["module"] for t in taps]
        self._taps = _Taps(model, taps, keys, owner=self)

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable

    def forward(self, x: torch.Tensor) -> Any:
        last = len(self) - 1
        with self._taps.attached(self) as out:
            for i, module in enumerate(self.values()):
                skip = i in (0, last) or getattr(module, "inplace", False) is True
                x = _run(module, x, self.grad_checkpointing and not skip)
        for key, level in out.items():
            out[key] = _as_fmt(level, self.tap_fmt, self.output_fmt)
        return out if self.return_dict else list(out.values())


class FeatureGraphNet(nn.Module):
    """Backbone cut from the model's FX graph (``feature_cls='fx'``): the model is traced once
    and every node after the last tap is dropped, so no hooks run and nothing is re-walked.

    The taps are ``feature_info``'s module names, read as torchvision's
    ``create_feature_extractor`` reads them: the output of that module.
    """

    def __init__(
        self,
        model: nn.Module,
        out_indices: Any = (0, 1, 2, 3, 4),
        out_map: Sequence[Any] | None = None,
        *,
        output_fmt: str = "NCHW",
        return_dict: bool = False,
    ) -> None:
        super().__init__()
        from .layers._fx import create_feature_extractor

        self.feature_info = FeatureInfo(_info_list(model), out_indices)
        # a model whose levels are labels is traced through forward_intermediates: NCHW maps
        modules = getattr(model, "feature_modules", True)
        tap_fmt = _tap_fmt(model, output_fmt)
        self.tap_fmt = tap_fmt if modules else "NCHW"
        self.output_fmt = output_fmt
        # the permutation from the taps' layout to the backbone's (none: the same, or tokens);
        # NOTE: never an empty list, whose element type TorchScript cannot infer
        dims = _permutation(self.tap_fmt, output_fmt)
        self.permutes = bool(dims)
        self.permute_dims = dims or [0, 1, 2, 3]
        self.return_dict = return_dict
        names = self.feature_info.module_name()
        keys = list(out_map) if out_map is not None else [str(i) for i in self.feature_info.out_indices]
        if len(keys) != len(names):
            raise ValueError(f"out_map has {len(keys)} entries for {len(names)} feature levels")
        if modules:
            self.graph_module = create_feature_extractor(model, {n: str(k) for n, k in zip(names, keys)})
        else:  # the levels are labels, not modules: trace the model's own walk to them
            from .layers._fx import trace_module

            self.graph_module = trace_module(_Intermediates(model, self.feature_info.out_indices, keys))

    def forward(self, x: torch.Tensor) -> Any:
        out = self.graph_module(x)
        if self.permutes:  # (TorchScript: no helper over Any, a fixed permutation)
            out = {k: v.permute(self.permute_dims) if v.dim() == 4 else v for k, v in out.items()}
        return out if self.return_dict else list(out.values())


class _Intermediates(nn.Module):
    """``{key: level}`` by ``model.forward_intermediates``: what :class:`FeatureGraphNet` traces
    for a model whose ``feature_info`` names no modules."""

    def __init__(self, model: nn.Module, indices: Sequence[int], keys: Sequence[Any]) -> None:
        super().__init__()
        self.model = model
        self.indices = list(indices)
        self.keys = [str(k) for k in keys]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        levels = self.model.forward_intermediates(x, indices=self.indices, intermediates_only=True)  # type: ignore[operator]
        order = sorted(self.indices)  # forward_intermediates gives them in forward order
        return {k: levels[order.index(i)] for k, i in zip(self.keys, self.indices)}


class FeatureGetterNet(nn.ModuleDict):
    """Backbone over ``model.forward_intermediates`` (token models, whose features are not the
    outputs of top-level modules). The model is kept whole as ``model``, pruned after the last
    requested level (timm's ``feature_cls='getter'``, same state-dict keys).

    Args:
        model: a model with ``forward_intermediates`` and ``prune_intermediate_layers``.
        out_indices: levels to return (tuple, or int for the last n).
        out_map: keys for the dict output (default: the indices).
        return_dict: return ``{key: tensor}`` instead of a list.
        output_fmt: ``'NCHW'`` maps or ``'NLC'`` tokens.
        norm: apply the model's final norm to each level (else that norm is pruned).
        prune: drop the blocks after the last level and the head.
    """

    def __init__(
        self,
        model: nn.Module,
        out_indices: Any = 4,
        out_map: Sequence[Any] | None = None,
        *,
        return_dict: bool = False,
        output_fmt: str = "NCHW",
        norm: bool = False,
        prune: bool = True,
    ) -> None:
        super().__init__()
        num = len(_info_list(model))
        indices = list(normalize_out_indices(out_indices, num))
        if prune:
            indices = list(model.prune_intermediate_layers(indices, prune_norm=not norm))  # type: ignore[operator]
        self.feature_info = FeatureInfo(_info_list(model), indices)
        self.model = model
        self.out_indices = indices
        self.out_map = list(out_map) if out_map is not None else None
        self.return_dict = return_dict
        self.output_fmt = output_fmt
        self.norm = norm

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.model.set_grad_checkpointing(enable)  # type: ignore[operator]

    def forward(self, x: torch.Tensor) -> Any:
        features = self.model.forward_intermediates(  # type: ignore[operator]
            x, indices=self.out_indices, norm=self.norm, output_fmt=self.output_fmt, intermediates_only=True
        )
        if not self.return_dict:
            return features
        keys = self.out_map or [str(i) for i in self.out_indices]
        return OrderedDict(zip(keys, features))
