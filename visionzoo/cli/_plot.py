"""Figures the commands draw (``list --plot``, ``pick --plot``): matplotlib is an optional extra,
imported only when a figure is asked for, and figures are written atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..fileio import atomic_write
from ._errors import CLIError

__all__ = ["pyplot", "save_figure"]


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the file-only Agg backend; bad input (exit 2) naming the extra
    to install where matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise CLIError("--plot needs matplotlib: pip install 'visionzoo[plot]'") from None
    return plt


def save_figure(fig: Any, path: Path) -> None:
    """Write ``fig`` to ``path`` in the format its suffix names (png by default), atomically,
    and close it."""
    plt = pyplot()
    fmt = path.suffix.lstrip(".").lower() or "png"
    try:
        atomic_write(path, lambda p: fig.savefig(p, format=fmt))
    finally:
        plt.close(fig)
