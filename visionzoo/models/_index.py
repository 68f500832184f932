"""Writes the built-in families' index: which family module defines each model name and deprecated
alias, and which module defines each family's model class.

The index is data, ``visionzoo/_data/model_index.json``, that the registry reads without importing
this package: ``visionzoo/models/__init__.py`` re-exports the factory, which imports the registry,
so an index the registry imported from here would close an import cycle. The family modules are
found, not listed: every public module of ``visionzoo.models`` that registers names. After adding a
family or renaming names, run ``python -m visionzoo.models._index`` (a test checks that the file
equals what the families register).
"""

from __future__ import annotations

import importlib
import json
import pkgutil
from pathlib import Path

from .. import registry
from .._timm_paths import DEPRECATED

__all__ = ["INDEX_PATH", "MODULE_OF", "family_modules", "render"]

INDEX_PATH = Path(__file__).resolve().parents[1] / "_data" / registry.INDEX_FILE

# name or alias -> family module, as the registry reads it (kept for scripts that used it)
MODULE_OF = registry.builtin_index().module_of


def family_modules() -> list[str]:
    """The public modules of ``visionzoo.models`` (candidates; those that register are families),
    less timm's deprecated paths (``layers``, ``helpers``...: they only warn and re-export)."""
    folder = Path(__file__).parent
    shims = {path.removeprefix("models.") for path in DEPRECATED}
    names = (m.name for m in pkgutil.iter_modules([str(folder)]))
    return sorted(n for n in names if not n.startswith("_") and n not in shims)


def render() -> str:
    """The index's text, from what each family registers now (imports every family)."""
    names: dict[str, list[str]] = {}
    classes: dict[str, str] = {}
    for module in family_modules():
        importlib.import_module(f"{__package__}.{module}")
        archs = registry.list_models(module=module)
        if not archs:
            continue
        names[module] = sorted({*archs, *registry.get_deprecated_models(module)})
        for arch in archs:
            recipe = registry.get_recipe(arch)
            if recipe is None:
                continue
            cls = recipe.model_cls
            where = classes.setdefault(cls.__name__, cls.__module__)
            if where != cls.__module__:
                raise ValueError(
                    f"two model classes are named {cls.__name__!r} ({where}, {cls.__module__}); "
                    "visionzoo.models.<ClassName> needs one"
                )
    return json.dumps({"names": names, "classes": dict(sorted(classes.items()))}, indent=1) + "\n"


if __name__ == "__main__":
    INDEX_PATH.write_text(render())
    print(f"wrote {INDEX_PATH}")
