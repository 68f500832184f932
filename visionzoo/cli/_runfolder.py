"""A training run's folder: atomic checkpoint folders, crash recovery, and the run lock.

``last/`` and ``best/`` are written by the core's atomic folder writer
(:func:`visionzoo.save.write_folder`): filled under a temporary name and swapped in by rename, so
an interrupted save never leaves a half-written checkpoint; :func:`recover_run_folder` finishes or
undoes a swap a kill interrupted. :func:`lock_run_folder` holds an advisory lock (``flock``) on
``RUN/.train.lock`` for the whole run, so a second ``visionzoo train`` into the same folder is
refused; the kernel drops the lock when its process ends however it ends, so a killed run never
leaves the folder locked.
"""

from __future__ import annotations

import contextlib
import filecmp
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..fileio import atomic_write_text, fsync_path
from ..save import recover_folder, save_pretrained, write_folder
from ._errors import CLIError
from ._files import check_writable_dir
from ._output import note, rows_to_csv

__all__ = [
    "ADAPTIVE",
    "LOCK_NAME",
    "STATE_NAME",
    "checkpoint_bytes",
    "lock_run_folder",
    "recover_run_folder",
    "save_checkpoint",
    "sync_derived_files",
    "used_bytes",
]

STATE_NAME = "training_state.pt"
LOCK_NAME = ".train.lock"
ADAPTIVE = ("adam", "adamw", "nadam", "radam")


def save_checkpoint(folder: Path, model: nn.Module, state: dict[str, Any] | None = None) -> None:
    """Write ``folder`` (model.safetensors + config.json [+ training state]) atomically, as
    exactly these files (no file of an older checkpoint stays beside them)."""

    def write(tmp: Path) -> None:
        save_pretrained(model, tmp)
        if state is not None:
            torch.save(state, tmp / STATE_NAME)

    write_folder(folder, write, keep_other_files=False)


def recover_run_folder(run: Path) -> None:
    """Repair what a killed ``visionzoo train`` may leave in a run folder, and remove its temporaries.

    :func:`visionzoo.save.recover_folder` finishes an interrupted swap of ``last/`` or ``best/``
    and removes the temporaries of writers that are gone. A run folder written before train used
    that writer may hold ``.NAME.tmp-PID`` / ``.NAME.old-PID`` instead: a ``.NAME.old-PID`` without
    ``NAME`` means the crash came between moving the previous checkpoint aside and renaming the
    new one in; the new one (``.NAME.tmp-PID``) was complete, so it takes its place. Every other
    such entry whose writer is gone is removed.
    """
    for name in ("last", "best"):
        folder = run / name
        recover_folder(folder)
        if not folder.exists():
            for old in sorted(run.glob(f".{name}.old-*")):
                new = old.with_name(f".{name}.tmp-{old.name.rsplit('-', 1)[-1]}")
                os.replace(new if new.is_dir() else old, folder)
                fsync_path(run)
                break
        for stale in [*run.glob(f".{name}.tmp-*"), *run.glob(f".{name}.old-*")]:
            if not _writer_alive(stale):
                shutil.rmtree(stale, ignore_errors=True)
    for stale in run.glob(".metrics.csv.tmp-*"):
        if not _writer_alive(stale):
            stale.unlink(missing_ok=True)


def _writer_alive(temporary: Path) -> bool:
    """Whether the process named by a ``...-PID`` temporary still runs here (then it is not stale)."""
    pid = temporary.name.rsplit("-", 1)[-1]
    if os.name != "posix" or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: existence check only
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sync_derived_files(output: Path, state: dict[str, Any]) -> None:
    """``best/`` and ``metrics.csv`` are written after ``last/``; a crash in between leaves them one
    epoch behind. Rebuild them from ``last/``, the commit point."""
    last, best = output / "last", output / "best"
    if state["best"]["epoch"] == state["epoch"] and (last / "model.safetensors").is_file():
        names = ("model.safetensors", "config.json")
        same = (best / "model.safetensors").is_file() and all(
            (best / n).is_file() and filecmp.cmp(last / n, best / n, shallow=False) for n in names
        )
        if not same:

            def copy(tmp: Path) -> None:
                for n in names:
                    shutil.copyfile(last / n, tmp / n)

            note(f"best/ is behind last/ (interrupted save); copying epoch {state['epoch']} into {best}")
            write_folder(best, copy, keep_other_files=False)
    atomic_write_text(output / "metrics.csv", rows_to_csv(state["history"]))


def checkpoint_bytes(model: nn.Module, *, opt: str, ema: bool) -> dict[str, int]:
    """Estimated sizes on disk: ``last`` (weights + training state), ``best`` (weights) and
    ``peak`` (during a save a new ``last/`` is written beside the old one and ``best/``)."""
    tensors = model.state_dict().values()
    weights = sum(t.numel() * t.element_size() for t in tensors) + 512 * len(tensors)  # + headers
    params = sum(p.numel() * p.element_size() + 512 for p in model.parameters() if p.requires_grad)
    moments = 2 if opt in ADAPTIVE or opt == "rmsprop" else 1  # optimizer buffers per parameter
    state = weights * (2 if ema else 1) + moments * params
    last, best = weights + state, weights
    margin = (1 << 20) + (last + best) // 20  # configs, metrics.csv, file system blocks
    return {"last": last, "best": best, "peak": 2 * last + best + margin}


def used_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.is_dir() else 0


@contextlib.contextmanager
def lock_run_folder(folder: Path) -> Iterator[None]:
    """Hold the run lock of ``folder`` (created if needed) for the ``with`` block.

    Raises:
        CLIError: another process holds it (a run still going), naming its process id.

    A folder this call created is removed again if it is still empty at the end (a run that
    failed before its first checkpoint leaves nothing behind). On systems without ``fcntl``
    (Windows) no lock is taken.
    """
    created = not folder.exists()
    check_writable_dir(folder)
    try:
        fd = _acquire(folder / LOCK_NAME)
        try:
            yield
        finally:
            if fd is not None:
                # removed while still held: a process that opened it meanwhile sees a stale inode
                # in _acquire and retries on a fresh file
                (folder / LOCK_NAME).unlink(missing_ok=True)
                os.close(fd)
    finally:
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def _acquire(path: Path) -> int | None:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return None
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise CLIError(
                f"{path.parent} is in use by a running `visionzoo train` (pid {holder}); wait for it "
                "to end (then --resume it), or choose another --output"
            ) from None
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            return fd
        os.close(fd)  # the holder removed the file between our open and lock: take a fresh one
