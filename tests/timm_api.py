"""Writes ``visionzoo/_data/timm_api.json``: timm's module paths and their public names, each with
the visionzoo module that defines the same thing (or null: not offered yet).

timm (the installed oracle, 1.0.31) is read here only, so the package and its tests read the stored
list without timm. The list covers ``timm.models``' private modules (``_builder``, ``_helpers``...),
every ``timm.layers`` file, and which family module of timm defines each ``timm.models`` class and
each model name, so a name of a family not ported yet gets an error naming the family.
Regenerate after adding a family or a helper: ``python tests/timm_api.py``.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "visionzoo" / "_data" / "timm_api.json"
sys.path.insert(0, str(ROOT))

# visionzoo modules that only alias timm's paths are not homes; family modules are homes only of
# their own families' names (a family's private block is not a timm layer)
_NOT_HOMES = ("visionzoo.models.", "visionzoo.cli", "visionzoo.__main__")


def _public(mod: ModuleType) -> list[str]:
    """``__all__`` plus the public classes and functions the module defines (timm leaves some of
    the helpers downstream code imports, like ``_hub.load_state_dict_from_path``, out of it)."""
    names = list(getattr(mod, "__all__", []))
    for name, obj in vars(mod).items():
        defined = getattr(obj, "__module__", None) == mod.__name__
        if not name.startswith("_") and defined and (inspect.isclass(obj) or inspect.isfunction(obj)):
            names.append(name)
    return sorted(set(names))


def _timm_paths() -> dict[str, list[str]]:
    import timm.layers
    import timm.models

    paths = {}
    for m in pkgutil.iter_modules(timm.models.__path__):
        if m.name.startswith("_") and not m.ispkg:
            paths[f"models.{m.name}"] = _public(importlib.import_module(f"timm.models.{m.name}"))
    for m in pkgutil.iter_modules(timm.layers.__path__):
        names = _public(importlib.import_module(f"timm.layers.{m.name}"))
        if names:
            paths[f"layers.{m.name}"] = names
    return paths


def _definers() -> dict[str, list[Any]]:
    """name -> the visionzoo objects of that name, each in the module that defines it."""
    import visionzoo

    found: dict[str, list[Any]] = {}
    for m in pkgutil.walk_packages(visionzoo.__path__, "visionzoo."):
        if m.name.startswith(_NOT_HOMES) and not m.name.startswith("visionzoo.models._efficientnet_"):
            continue
        mod = importlib.import_module(m.name)
        for name, obj in vars(mod).items():
            mine = not name.startswith("_") and getattr(obj, "__module__", None) == m.name
            if mine and not any(o is obj for o in found.get(name, [])):
                found.setdefault(name, []).append(obj)
    return found


def _own_module(path: str) -> ModuleType | None:
    """visionzoo's module at timm's path, when it is one of its own (not an alias module)."""
    try:
        module = importlib.import_module(f"visionzoo.{path}")
    except ImportError:
        return None
    return None if "module_getattr(__name__)" in Path(module.__file__ or "").read_text() else module


def _home(name: str, path: str, definers: dict[str, list[Any]]) -> str | None:
    """The visionzoo module defining timm's ``path.name``: visionzoo's own module at that path
    (constants included), else the package's name, else the one module defining that name."""
    own = _own_module(path)
    if own is not None and name in vars(own):
        module = getattr(vars(own)[name], "__module__", None) or ""
        return module if module.startswith("visionzoo.") else own.__name__  # a constant, a type alias
    import visionzoo.layers
    import visionzoo.models

    obj = getattr(visionzoo.models if path.startswith("models.") else visionzoo.layers, name, None)
    if obj is None:
        objs = definers.get(name, [])
        if len(objs) != 1:
            return None  # absent, or several different things: none is timm's
        obj = objs[0]
    module = getattr(obj, "__module__", None)
    if not module or module.startswith("timm"):
        return None
    return module if getattr(importlib.import_module(module), name, None) is obj else None


def render() -> str:
    import timm
    import timm.models

    definers = _definers()
    paths = {path: {n: _home(n, path, definers) for n in names} for path, names in _timm_paths().items()}
    family_of = {}  # timm.models' classes and model names -> timm's family module
    for name in dir(timm.models):
        module = getattr(getattr(timm.models, name), "__module__", "") or ""
        if inspect.isclass(getattr(timm.models, name)) and module.startswith("timm.models."):
            family = module.rsplit(".", 1)[1]
            if not family.startswith("_"):
                family_of[name] = family
    for family in timm.list_modules():
        for arch in timm.list_models(module=family):
            family_of[arch] = family
    out = {
        "timm_version": timm.__version__,
        "families": sorted(timm.list_modules()),
        "family_of": dict(sorted(family_of.items())),
        "paths": paths,
    }
    return json.dumps(out, indent=1, sort_keys=False) + "\n"


if __name__ == "__main__":
    DATA.write_text(render())
    print(f"wrote {DATA.relative_to(ROOT)}")
