"""Checks of output paths, made before any work: a run that would fail to write its results
fails first, writing nothing."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from ._errors import CLIError
from ._output import format_bytes

__all__ = [
    "check_dir_creatable",
    "check_free_space",
    "check_writable_dir",
    "check_writable_file",
    "nearest_existing",
]


def check_writable_file(path: Path, *, what: str = "output") -> None:
    """Fail early (before any work) when ``path`` cannot be written."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise CLIError(f"{what} {path} is a folder; give a file name")
    if not parent.is_dir():
        raise CLIError(f"{what} folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise CLIError(f"{what} folder {parent} is not writable")


def nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists (where a new folder would be created)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_dir_creatable(path: Path, *, what: str = "output folder") -> None:
    """Fail early, writing nothing, when ``path`` could not be created or written."""
    base = nearest_existing(path)
    if not base.is_dir():
        raise CLIError(f"{what} {path} is not writable: {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):  # also False on a read-only file system, even for root
        raise CLIError(f"{what} {path} is not writable: no write permission on {base} (or read-only disk)")


def check_free_space(path: Path, needed: int, *, what: str = "output folder", detail: str = "") -> None:
    """Fail early, writing nothing, when the disk holding ``path`` has less than ``needed`` bytes free."""
    base = nearest_existing(path)
    free = shutil.disk_usage(base).free
    if free < needed:
        raise CLIError(
            f"{what} {path}: not enough free space ({format_bytes(free)} free, the run needs about "
            f"{format_bytes(needed)}{detail}); free some space or choose another folder"
        )


def check_writable_dir(path: Path, *, what: str = "output folder") -> None:
    """Create ``path`` if needed and prove it is writable with a probe file."""
    if path.exists() and not path.is_dir():
        raise CLIError(f"{what} {path} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise CLIError(f"{what} {path} is not writable: {e.strerror or e}") from None
