"""An opt-in ``import timm`` alias, so libraries that import timm build their models on visionzoo.

segmentation-models-pytorch's ``tu-`` encoders, Hugging Face transformers' timm wrapper and
open_clip's timm towers write ``import timm`` / ``from timm.layers import ...`` themselves; they
cannot be switched with ``import visionzoo as timm``. ``install_timm_alias()`` adds a
``sys.meta_path`` finder that maps every module name ``timm.X`` to ``visionzoo.X``: the importer
gets visionzoo's own module objects (no copies), so ``timm.create_model is
visionzoo.create_model`` and a library's ``tu-resnet18`` is a visionzoo model.

Limits, by design:

- It must run before anything imports the real timm. Objects already bound to real timm (a
  library's module-level ``import timm``) cannot be redirected, so swapping ``sys.modules``
  afterwards would mix both; ``install_timm_alias`` refuses with ``TimmAlreadyImportedError``.
- A module of a timm family visionzoo has not ported yet (``timm.models.swin_transformer``) imports as a
  placeholder, because libraries list such classes in tables at import time (smp does); using
  any of its names raises ``FamilyNotPortedError`` naming the family. Any other ``timm.X`` path
  that ``visionzoo.X`` does not have raises ``ModuleNotFoundError`` naming both.

>>> from visionzoo import install_timm_alias
>>> install_timm_alias()  # before importing segmentation_models_pytorch
>>> import segmentation_models_pytorch as smp
>>> smp.Unet("tu-resnet18", encoder_weights=None).encoder.model  # a visionzoo FeatureListNet
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NoReturn

from ._timm_paths import timm_api

__all__ = [
    "FamilyNotPortedError",
    "TimmAlreadyImportedError",
    "install_timm_alias",
    "is_timm_alias_installed",
    "timm_alias_scope",
    "uninstall_timm_alias",
]

_ALIAS = "timm"
_TARGET = "visionzoo"
_FAMILY_PARENT = f"{_ALIAS}.models"
_NOTICE = (
    "visionzoo: `import timm` resolves to visionzoo in this process (install_timm_alias); "
    "timm families visionzoo has not ported raise FamilyNotPortedError when used\n"
)
_announced = False


class TimmAlreadyImportedError(RuntimeError):
    """The real timm is imported already, so the alias cannot take its place consistently."""


class FamilyNotPortedError(NotImplementedError):
    """A name from a timm family module that visionzoo has not ported yet was used."""


def _target_name(fullname: str) -> str:
    return _TARGET + fullname[len(_ALIAS) :]


def _is_alias_name(fullname: str) -> bool:
    return fullname == _ALIAS or fullname.startswith(_ALIAS + ".")


class _NotPorted:
    """Stands for ``timm.models.<family>.<name>`` until the family is ported; any use raises."""

    def __init__(self, family: str, name: str) -> None:
        self._family = family
        self._name = name

    def _fail(self) -> NoReturn:
        raise FamilyNotPortedError(
            f"timm.models.{self._family}.{self._name}: the timm family {self._family!r} is not "
            f"ported to visionzoo yet (the timm alias imported it as a placeholder); ported "
            f"families: {', '.join(_ported_families())}"
        )

    def __call__(self, *args: Any, **kwargs: Any) -> NoReturn:
        self._fail()

    def __getattr__(self, attr: str) -> NoReturn:
        if attr.startswith("__"):  # copy/pickle/inspect probe dunders: behave as absent
            raise AttributeError(attr)
        self._fail()

    def __mro_entries__(self, bases: tuple[Any, ...]) -> NoReturn:  # class X(NotPorted): ...
        self._fail()

    def __repr__(self) -> str:
        return f"<timm.models.{self._family}.{self._name}: family not ported to visionzoo>"


def _ported_families() -> tuple[str, ...]:
    from .models import FAMILIES

    return FAMILIES


def _is_unported_family(fullname: str) -> bool:
    """``timm.models.<family>`` for one of timm's family modules (ported ones are found first)."""
    parent, _, child = fullname.rpartition(".")
    return parent == _FAMILY_PARENT and child in timm_api()["families"]


def _placeholder_module(fullname: str) -> types.ModuleType:
    family = fullname.rsplit(".", 1)[1]
    module = types.ModuleType(fullname, f"timm family {family!r}: not ported to visionzoo yet.")

    def __getattr__(name: str) -> _NotPorted:
        if name.startswith("__"):
            raise AttributeError(f"module {fullname!r} has no attribute {name!r}")
        return _NotPorted(family, name)

    module.__getattr__ = __getattr__  # type: ignore[method-assign]
    module.__visionzoo_placeholder__ = True  # type: ignore[attr-defined]
    return module


class _AliasLoader(importlib.abc.Loader):
    """Hands the importer visionzoo's own module (or a family placeholder) for a ``timm`` name."""

    def __init__(self, target: str | None) -> None:
        self.target = target  # None: an unported family's placeholder

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        if self.target is None:
            return _placeholder_module(spec.name)
        if self.target == _TARGET:  # `import timm` also imports timm.models, as timm does
            importlib.import_module(f"{_TARGET}.models")
        # the module already carries __name__/__spec__; the importer keeps them (no override)
        return importlib.import_module(self.target)

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the module is visionzoo's, executed once under its own name."""


class _TimmAliasFinder(importlib.abc.MetaPathFinder):
    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if not _is_alias_name(fullname):
            return None
        name = _target_name(fullname)
        try:
            found = importlib.util.find_spec(name)
        except ImportError:  # visionzoo's own "not ported" refusal (visionzoo._timm_paths)
            if not _is_unported_family(fullname):
                raise
            found = None
        if found is not None:
            is_pkg = found.submodule_search_locations is not None
            return importlib.util.spec_from_loader(fullname, _AliasLoader(name), is_package=is_pkg)
        if _is_unported_family(fullname):
            return importlib.util.spec_from_loader(fullname, _AliasLoader(None))
        raise ModuleNotFoundError(
            f"No module named {fullname!r}: the timm alias maps it to {name!r}, which visionzoo "
            f"does not have",
            name=fullname,
        )


def _finder() -> _TimmAliasFinder | None:
    return next((f for f in sys.meta_path if isinstance(f, _TimmAliasFinder)), None)


def _is_ours(module: object) -> bool:
    name = getattr(module, "__name__", "")
    return getattr(module, "__visionzoo_placeholder__", False) or (
        isinstance(name, str) and (name == _TARGET or name.startswith(_TARGET + "."))
    )


def is_timm_alias_installed() -> bool:
    """Whether ``import timm`` resolves to visionzoo in this process."""
    return _finder() is not None


def install_timm_alias() -> None:
    """Make ``import timm`` and every ``timm.X`` import resolve to ``visionzoo.X``.

    Call it before anything imports timm. A second call is a no-op; the stderr notice is printed
    once per process.

    Raises:
        TimmAlreadyImportedError: the real timm is in ``sys.modules`` already.
    """
    global _announced
    if _finder() is not None:
        return
    real = sorted(n for n, m in sys.modules.items() if _is_alias_name(n) and not _is_ours(m))
    if real:
        where = getattr(sys.modules.get(real[0]), "__file__", None) or "?"
        raise TimmAlreadyImportedError(
            f"the real timm is already imported ({real[0]!r} from {where}, {len(real)} modules); "
            f"call install_timm_alias() before anything imports timm (before importing "
            f"segmentation_models_pytorch, transformers or open_clip): objects already bound to "
            f"real timm cannot be redirected"
        )
    sys.meta_path.insert(0, _TimmAliasFinder())
    if not _announced:
        _announced = True
        sys.stderr.write(_NOTICE)


def uninstall_timm_alias() -> None:
    """Undo ``install_timm_alias``: a later ``import timm`` finds the real timm again.

    Removes the finder and the ``timm.*`` entries it added to ``sys.modules`` (and placeholder
    attributes the importer set on ``visionzoo.models``). Modules that bound ``timm`` meanwhile
    keep visionzoo's objects. A no-op when the alias is not installed.
    """
    finder = _finder()
    if finder is None:
        return
    sys.meta_path.remove(finder)
    for name in [n for n, m in sys.modules.items() if _is_alias_name(n) and _is_ours(m)]:
        module = sys.modules.pop(name)
        parent_name, _, child = name.rpartition(".")
        parent = sys.modules.get(_target_name(parent_name))
        if getattr(module, "__visionzoo_placeholder__", False) and getattr(parent, child, None) is module:
            delattr(parent, child)


@contextmanager
def timm_alias_scope() -> Iterator[None]:
    """``install_timm_alias()`` for a block; restores the previous state on exit."""
    was_installed = is_timm_alias_installed()
    install_timm_alias()
    try:
        yield
    finally:
        if not was_installed:
            uninstall_timm_alias()
