"""timm's module paths under visionzoo, and the clear error for what is not here yet.

Code written for timm imports from ``timm.models._builder``, ``timm.layers.std_conv``,
``timm.models.swin_transformer``... With ``import visionzoo as timm`` those paths are
``visionzoo.models._builder`` and so on: thin alias modules that re-export visionzoo's own
definitions (one definition, never a copy). ``_data/timm_api.json`` (written from the installed timm
by ``tests/timm_api.py``) lists timm's names per path and the family module of each timm model class
and model name, so a name visionzoo lacks, or a module of a family not ported yet, raises an error
naming it and saying it is not ported yet instead of a bare "no attribute" or "no module".

Nothing here imports visionzoo's other modules or timm; the list is read on the first error only.
"""

from __future__ import annotations

import functools
import importlib
import importlib.abc
import json
import sys
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

__all__ = [
    "DEPRECATED",
    "deprecated_path",
    "install_finder",
    "module_getattr",
    "not_ported",
    "not_ported_model",
    "timm_api",
]

_ROOT = Path(__file__).resolve().parent
_PACKAGES = ("models", "layers")

# timm's deprecated paths (each warns and re-exports the modules named) -> the same here
DEPRECATED: dict[str, tuple[str, ...]] = {
    "models.layers": ("layers",),
    "models.helpers": ("models._builder", "models._helpers", "models._manipulate", "models._prune"),
    "models.registry": ("models._registry",),
    "models.factory": ("models._factory",),
    "models.hub": ("models._hub",),
    "models.features": ("models._features",),
    "models.fx_features": ("models._features_fx",),
}


@functools.cache
def timm_api() -> dict[str, Any]:
    """The stored list: ``paths`` (timm path -> name -> visionzoo home or None), ``families``
    (timm's family modules) and ``family_of`` (timm model class or model name -> family)."""
    data: dict[str, Any] = json.loads((_ROOT / "_data" / "timm_api.json").read_text())
    return data


def _is_ported(family: str) -> bool:
    folder = _ROOT / "models"
    return (folder / f"{family}.py").is_file() or (folder / family / "__init__.py").is_file()


def _family_message(family: str) -> str:
    return (
        f"timm's {family!r} family is not ported to visionzoo yet "
        f"(visionzoo.list_modules() lists the families that are)"
    )


def not_ported_model(arch: str) -> str | None:
    """Why ``arch``, a model name timm 1.0.31 has, is missing here (``None`` for any other name):
    the registry's unknown-name error says this instead of guessing close names."""
    # family_of also maps timm's CamelCase model classes; its model names are all lower case
    family = timm_api()["family_of"].get(arch) if arch == arch.lower() else None
    if family is None:
        return None
    if not _is_ported(family):
        return (
            f"it is a model of timm's {family!r} family, which is not ported to visionzoo yet "
            "(visionzoo.list_modules() lists the families that are)"
        )
    return f"timm's {family!r} family has it, but this model is not ported to visionzoo yet"


def not_ported(module: str, name: str) -> AttributeError:
    """The error for ``module.name`` when the alias module (or ``visionzoo.models``) lacks it."""
    plain = f"module {module!r} has no attribute {name!r}"
    if name.startswith("__"):
        return AttributeError(plain, name=name)
    api = timm_api()
    path = module.removeprefix("visionzoo.")
    family = name if path == "models" and name in api["families"] else api["family_of"].get(name)
    if family is not None and not _is_ported(family):
        return AttributeError(f"{plain}: {_family_message(family)}", name=name)
    if family is not None or name in api["paths"].get(path, {}):
        # (a ported family's name may still be missing: EfficientNetFeatures)
        where = f"models.{family}" if family is not None else path
        return AttributeError(f"{plain}: timm.{where}.{name} is not ported to visionzoo yet", name=name)
    return AttributeError(plain, name=name)


def module_getattr(module: str) -> Callable[[str], Any]:
    """A module-level ``__getattr__`` for an alias module: every miss raises :func:`not_ported`."""

    def __getattr__(name: str) -> Any:
        raise not_ported(module, name)

    return __getattr__


def deprecated_path(module: str) -> tuple[list[str], Callable[[str], Any]]:
    """``__all__`` and ``__getattr__`` for a module at one of timm's deprecated paths
    (``visionzoo.models.layers``...): it warns as timm's does and offers the names of the modules it
    stands for (the same objects), so old code such as ``from timm.models.layers import DropPath``
    runs."""
    path = module.removeprefix("visionzoo.")
    targets = [importlib.import_module(f"visionzoo.{t}") for t in DEPRECATED[path]]
    where = "visionzoo.layers" if path == "models.layers" else "visionzoo.models"
    warnings.warn(
        f"Importing from {module} is deprecated (as timm.{path} is), please import via {where}",
        FutureWarning,
        stacklevel=3,
    )

    def __getattr__(name: str) -> Any:
        if not name.startswith("__"):
            for target in targets:
                try:
                    return getattr(target, name)
                except AttributeError:
                    continue
        paths = timm_api()["paths"]
        listed = [t.__name__ for t in targets if name in paths.get(t.__name__.removeprefix("visionzoo."), {})]
        raise not_ported((listed or [module])[0], name)

    return sorted({n for t in targets for n in t.__all__}), __getattr__


class _NotPortedFinder(importlib.abc.MetaPathFinder):
    """Last on ``sys.meta_path``: asked only for a ``visionzoo.models.X`` / ``visionzoo.layers.X``
    that no file provides. For a timm family or a timm path with nothing here, it raises an
    ``ImportError`` naming it (a plain ``ImportError``, not ``ModuleNotFoundError``, so that
    ``from visionzoo.models import swin_transformer`` shows it too); anything else is left alone."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> None:
        parts = fullname.split(".")
        if len(parts) != 3 or parts[0] != "visionzoo" or parts[1] not in _PACKAGES:
            return None
        api = timm_api()
        sub = f"{parts[1]}.{parts[2]}"
        if parts[1] == "models" and parts[2] in api["families"] and not _is_ported(parts[2]):
            raise ImportError(f"No module named {fullname!r}: {_family_message(parts[2])}", name=fullname)
        offered = [n for n, home in api["paths"].get(sub, {}).items() if home]
        if offered:  # no alias module: it would shadow the package's function of the same name
            raise ImportError(
                f"No module named {fullname!r}: import timm.{sub}'s names from visionzoo.{parts[1]} "
                f"({', '.join(offered)})",
                name=fullname,
            )
        if sub in api["paths"]:
            names = ", ".join(list(api["paths"][sub])[:6])
            raise ImportError(
                f"No module named {fullname!r}: none of timm.{sub}'s names ({names}, ...) is ported "
                f"to visionzoo yet",
                name=fullname,
            )
        return None


def install_finder() -> None:
    """Put the not-ported finder last on ``sys.meta_path`` (once; it costs nothing until asked)."""
    if not any(isinstance(f, _NotPortedFinder) for f in sys.meta_path):
        sys.meta_path.append(_NotPortedFinder())
