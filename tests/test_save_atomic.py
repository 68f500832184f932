"""save_pretrained is atomic as a folder and safe under concurrency, with real processes: a saver
frozen (SIGSTOP) or killed (SIGKILL) at any point leaves the complete old or new save; concurrent
savers (threads and processes) into one folder do not fail and leave one complete save; the next
save removes what a killed saver left. The one file writer under it all (visionzoo.fileio) keeps
the old file and leaves no temporary when a write fails half-way."""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import torch

import visionzoo
from visionzoo import fileio, hub, save

pytestmark = pytest.mark.reliability

ARCH = "test_resnet"


def _save_repeatedly(models: list[torch.nn.Module], folder: Path, times: int) -> None:
    """Save ``models`` into ``folder`` in turn, ``times`` saves in all (0: until killed)."""
    i = 0
    while times == 0 or i < times:
        visionzoo.save_pretrained(models[i % len(models)], folder)
        i += 1


def _fork(models: list[torch.nn.Module], folder: Path, times: int) -> Any:
    """A saver process, forked so that it starts at once (a fresh interpreter takes seconds)."""
    import multiprocessing

    proc = multiprocessing.get_context("fork").Process(target=_save_repeatedly, args=(models, folder, times))
    proc.start()
    return proc


def _models_and_refs(tmp_path: Path, classes: tuple[int, ...]) -> tuple[list[torch.nn.Module], list[Path]]:
    models = [visionzoo.create_model(ARCH, num_classes=n) for n in classes]
    refs = [visionzoo.save_pretrained(m, tmp_path / f"ref{m.num_classes}") for m in models]
    return models, refs


def _assert_complete(folder: Path, refs: list[Path]) -> None:
    """``folder`` loads, and is exactly one of the reference saves (config and weights agree)."""
    model = visionzoo.create_model(f"local-dir:{folder}", pretrained=True)
    state = model.state_dict()
    for ref in refs:
        expected = hub.load_state_dict(ref)
        if expected.keys() == state.keys() and all(torch.equal(v, expected[k]) for k, v in state.items()):
            assert (folder / "config.json").read_bytes() == (ref / "config.json").read_bytes()
            return
    raise AssertionError(f"{folder} is none of the saves {[r.name for r in refs]}")


def _temporaries(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if save._SAVE_MARK in p.name) + sorted(
        p.name for p in folder.iterdir() if p.name.startswith(".")
    )


def test_frozen_or_killed_saver_leaves_the_old_or_the_new_save(tmp_path: Path) -> None:
    """A process saving two different models in turn is frozen with SIGSTOP at random moments
    (the disk then is what a kill at that moment leaves): the folder always loads as one complete
    save. Then it is killed with SIGKILL in the middle of a save: the folder still loads, and the
    next save removes the dead saver's temporary folder (with the safetensors library's temp)."""
    folder = tmp_path / "saved"
    models, refs = _models_and_refs(tmp_path, (3, 5))
    proc = _fork(models, folder, 0)
    try:
        while not (folder / "config.json").exists():
            time.sleep(0.01)
        rng = random.Random(0)
        for _ in range(12):
            time.sleep(rng.uniform(0, 0.05))
            os.kill(proc.pid, signal.SIGSTOP)
            try:
                _assert_complete(folder, refs)
            finally:
                os.kill(proc.pid, signal.SIGCONT)
        for _ in range(2000):  # kill while a save is in progress
            os.kill(proc.pid, signal.SIGSTOP)
            if any(save._SAVE_MARK in p.name for p in tmp_path.iterdir()):
                break
            os.kill(proc.pid, signal.SIGCONT)
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(timeout=30)
    finally:
        if proc.is_alive():
            proc.kill()
            proc.join()
    left = [p.name for p in tmp_path.iterdir() if save._SAVE_MARK in p.name]
    assert left, "the saver was not caught in the middle of a save"
    _assert_complete(folder, refs)
    model = visionzoo.create_model(ARCH, num_classes=7)
    visionzoo.save_pretrained(model, folder)
    assert _temporaries(folder) == []
    assert visionzoo.create_model(f"local-dir:{folder}", pretrained=True).num_classes == 7


def test_concurrent_processes_save_into_one_folder(tmp_path: Path) -> None:
    """Three processes (like DDP ranks, forked so they start at once) save 4 times each into one
    folder: none fails, and the folder ends as one complete save, with no temporaries left."""

    folder = tmp_path / "saved"
    models, refs = _models_and_refs(tmp_path, (3, 5, 6))
    procs = [_fork([m], folder, 4) for m in models]
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    _assert_complete(folder, refs)
    assert _temporaries(folder) == []


def test_concurrent_threads_save_into_one_folder(tmp_path: Path) -> None:
    folder = tmp_path / "saved"
    models, refs = _models_and_refs(tmp_path, (3, 5, 6, 7))
    errors: list[BaseException] = []

    def save(model: torch.nn.Module) -> None:
        try:
            for _ in range(3):
                visionzoo.save_pretrained(model, folder)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=save, args=(m,)) for m in models]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    _assert_complete(folder, refs)
    assert _temporaries(folder) == []


def test_next_save_cleans_leftovers_and_keeps_other_files(tmp_path: Path) -> None:
    """Temporaries of dead savers go (ours, an older visionzoo's ``.NAME.tmp`` files, the
    safetensors library's ``.tmpXXXXXX``); a live saver's and the user's own files stay."""
    folder = tmp_path / "saved"
    folder.mkdir()
    host = save._host()
    dead = tmp_path / f".saved{save._SAVE_MARK}{host}-{2**22 + 7}-abc"  # above Linux's largest pid
    live = tmp_path / f".saved{save._SAVE_MARK}{host}-{os.getpid()}-abc"
    for d in (dead, live):
        d.mkdir()
        (d / ".tmpAb12Cd").write_bytes(b"half a safetensors file")
    for name in (".tmpXy34Zw", ".model.safetensors.tmp", ".config.json.tmp"):
        (folder / name).write_bytes(b"junk")
    (folder / "README.md").write_text("my notes")
    (folder / "extra").mkdir()
    (folder / "extra" / "labels.txt").write_text("a\nb\n")
    visionzoo.save_pretrained(visionzoo.create_model(ARCH), folder)
    assert not dead.exists() and live.exists()
    assert sorted(p.name for p in folder.iterdir()) == [
        "README.md",
        "config.json",
        "extra",
        "model.safetensors",
    ]
    assert (folder / "extra" / "labels.txt").read_text() == "a\nb\n"


def test_save_into_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The folder is replaced by a new one; the working directory follows it."""
    folder = tmp_path / "here"
    folder.mkdir()
    monkeypatch.chdir(folder)
    visionzoo.save_pretrained(visionzoo.create_model(ARCH), ".")
    visionzoo.save_pretrained(visionzoo.create_model(ARCH, num_classes=4), ".")
    assert sorted(os.listdir(".")) == ["config.json", "model.safetensors"]
    assert visionzoo.create_model("local-dir:.", pretrained=True).num_classes == 4


def test_save_onto_a_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "saved").write_text("not a folder")
    with pytest.raises(NotADirectoryError, match="saved: it is a file"):
        visionzoo.save_pretrained(visionzoo.create_model(ARCH), tmp_path / "saved")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["saved"]


# --- the one atomic file writer -------------------------------------------------------------------
class _Stop(Exception):
    pass


@pytest.mark.parametrize("interrupt", [_Stop, KeyboardInterrupt])
def test_a_write_that_fails_half_way_keeps_the_old_file(
    tmp_path: Path, interrupt: type[BaseException]
) -> None:
    """An exception (or Ctrl-C) inside the writer, after it has written part of the new file:
    the old file is intact and no temporary is left; a first write leaves no file at all."""
    target = tmp_path / "results.csv"

    def half(tmp: Path) -> None:
        tmp.write_text("new,half")
        raise interrupt

    with pytest.raises(interrupt):
        fileio.atomic_write(target, half)
    assert list(tmp_path.iterdir()) == []
    fileio.atomic_write_text(target, "old,complete\n")
    with pytest.raises(interrupt):
        fileio.atomic_write(target, half)
    assert target.read_text() == "old,complete\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]


def test_atomic_writes_from_threads_never_share_a_temporary(tmp_path: Path) -> None:
    """Eight threads replace one file 20 times each: every read sees one whole version, and the
    file gets the permissions a plain write gives (not a temporary file's owner-only ones)."""
    target = tmp_path / "f.txt"
    versions = {f"{i}:" + str(i) * 5000 for i in range(8)}
    torn: list[str] = []
    errors: list[BaseException] = []

    def writer(text: str) -> None:
        try:
            for _ in range(20):
                fileio.atomic_write_text(target, text)
                got = target.read_text()
                if got not in versions:
                    torn.append(got[:20])
        except Exception as e:  # a thread's exception would only be printed
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(v,)) for v in versions]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and torn == [] and target.read_text() in versions
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    assert target.stat().st_mode == plain.stat().st_mode
