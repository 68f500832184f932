"""``timm.models.registry``, timm's deprecated path to ``_registry``.

Importing it warns as timm's does; its names are visionzoo's own objects (``visionzoo._timm_paths``).
"""

from __future__ import annotations

from .._timm_paths import deprecated_path

__all__, __getattr__ = deprecated_path(__name__)
