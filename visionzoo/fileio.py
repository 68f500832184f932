"""Atomic file writes, one way for the whole library.

A reader, a crash or a power cut sees the old file or the complete new one, never a part: the new
content is written under a temporary name in the same folder (``.NAME.tmp-RANDOM-PID``), flushed
to disk, renamed over ``NAME`` in one step, and the folder entry is flushed too. Any failure (an
exception in the writer, ``KeyboardInterrupt``) removes the temporary and leaves an existing file
as it was. The writer's pid ends the temporary's name, so a killed writer's leftovers can be told
from a running one's (``visionzoo train`` cleans its run folder by that).

Used by downloads (:mod:`visionzoo.hub`), engine artefacts (:mod:`visionzoo.engines`), the CLI's
result files and, through :func:`fsync_path` and :func:`commit`, the folder writer of
:mod:`visionzoo.save`.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

__all__ = [
    "atomic_write",
    "atomic_write_text",
    "commit",
    "fsync_path",
]


def fsync_path(path: str | os.PathLike[str]) -> None:
    """Flush a file, or a folder's entries, to disk (folders: POSIX only; elsewhere a no-op)."""
    if os.name != "posix" and os.path.isdir(path):
        return  # Windows cannot open a folder to flush it
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit(tmp: Path, dest: Path, *, sync_folder: bool = True) -> None:
    """Make the written file ``tmp`` durable and rename it over ``dest`` in one step; with
    ``sync_folder`` the rename itself is flushed too (a caller renaming several files into one
    folder flushes it once, at the end)."""
    fsync_path(tmp)
    os.replace(tmp, dest)
    if sync_folder:
        fsync_path(dest.parent)


def _reserve(path: Path) -> Path:
    """A new empty file beside ``path`` under a temporary name, created exclusively (two writers,
    threads included, never share one) with the permissions a plain ``open`` gives."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}-{os.getpid()}")
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name for {path}")  # pragma: no cover


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], None]) -> Path:
    """Replace ``path`` with what ``write(tmp)`` writes to the path it is given, atomically.

    ``write`` may raise to abandon the write (after checking what it wrote, say): the temporary
    goes and ``path`` is untouched. The folder must exist. Returns ``path``.
    """
    path = Path(path)
    tmp = _reserve(path)
    try:
        write(tmp)
        commit(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike[str], text: str) -> Path:
    """:func:`atomic_write` of ``text`` as UTF-8."""

    def write(tmp: Path) -> None:
        tmp.write_text(text, encoding="utf-8")

    return atomic_write(path, write)
