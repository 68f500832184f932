"""Model families, one module each, imported on first use.

``FAMILIES`` names the built-in family modules; the registry imports one of them when a name it
defines is first asked for (through the generated index in ``_index.py``), and all of them when
everything is listed. ``visionzoo.models.resnet`` and the like import on attribute access.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["FAMILIES"]

# Adding a family: its module name here, then `python -m visionzoo.models._index`.
FAMILIES: tuple[str, ...] = (
    "cspnet",
    "deit",
    "densenet",
    "inception_v3",
    "resnet",
    "resnetv2",
    "vision_transformer",
    "vision_transformer_hybrid",
    "xception_aligned",
)


def __getattr__(name: str) -> ModuleType:
    if name in FAMILIES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(FAMILIES))
