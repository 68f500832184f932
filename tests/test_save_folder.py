"""The core's atomic folder writer (visionzoo.save.write_folder) as `visionzoo train` uses it for
its ``last/`` and ``best/`` checkpoints: a folder that holds exactly what was written, the usual
permissions, an interrupted swap finished on recovery, and the run folder recovered with the
core's temporary names. Real files only; see test_save_atomic.py for kills and concurrency."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import visionzoo
from visionzoo import save
from visionzoo.cli._runfolder import STATE_NAME, recover_run_folder, save_checkpoint

pytestmark = pytest.mark.reliability

DEAD = 2**22 + 7  # above Linux's largest pid_max: a temporary named with it has no live writer


def _writer(text: str) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        (tmp / "weights.bin").write_text(text)

    return write


def _temp(folder: Path, pid: int, suffix: str = "") -> Path:
    """A temporary sibling named as write_folder names them, for a writer with process id ``pid``."""
    return folder.with_name(f".{folder.name}{save._SAVE_MARK}{save._host()}-{pid}-abc{suffix}")


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_without_keep_other_files_the_folder_holds_only_what_was_written(tmp_path: Path) -> None:
    folder = tmp_path / "last"
    folder.mkdir()
    (folder / STATE_NAME).write_text("an older checkpoint's state")
    (folder / "notes").mkdir()
    save.write_folder(folder, _writer("new"), keep_other_files=False)
    assert sorted(os.listdir(folder)) == ["weights.bin"]
    save.write_folder(folder, _writer("newer"))  # the default keeps other files
    (folder / "README.md").write_text("mine")
    save.write_folder(folder, _writer("newest"))
    assert sorted(os.listdir(folder)) == ["README.md", "weights.bin"]
    assert (folder / "weights.bin").read_text() == "newest"


def test_file_by_file_fallback_honours_keep_other_files(tmp_path: Path) -> None:
    folder = tmp_path / "last"
    folder.mkdir()
    (folder / STATE_NAME).write_text("old")
    (folder / "sub").mkdir()
    with pytest.warns(RuntimeWarning, match="file by file"):
        save._write_in_place(folder, _writer("new"), "a test", keep_other_files=False)
    assert sorted(os.listdir(folder)) == ["weights.bin"]


def test_written_folder_has_the_usual_permissions(tmp_path: Path, umask_022: None) -> None:
    """Not tempfile.mkdtemp's owner-only 0o700: others may read a saved model or checkpoint."""
    folder = save.write_folder(tmp_path / "saved", _writer("w"))
    assert folder.stat().st_mode & 0o777 == 0o755
    visionzoo.save_pretrained(visionzoo.create_model("test_resnet"), folder)  # nested writers too
    assert folder.stat().st_mode & 0o777 == 0o755


def test_recovery_finishes_a_swap_killed_between_its_two_renames(tmp_path: Path) -> None:
    """Without an atomic exchange a writer moves the old folder aside (``TMP.old``) only once its
    new one (``TMP``) is complete: the new one goes in. Without it, the old one comes back."""
    folder = tmp_path / "saved"
    new, old = _temp(folder, DEAD), _temp(folder, DEAD, ".old")
    for path, text in ((new, "new"), (old, "old")):
        path.mkdir()
        _writer(text)(path)
    save.recover_folder(folder)
    assert (folder / "weights.bin").read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["saved"]

    os.rename(folder, old)
    save.recover_folder(folder)
    assert (folder / "weights.bin").read_text() == "new"
    assert sorted(os.listdir(tmp_path)) == ["saved"]


def test_checkpoint_is_exactly_its_files_and_the_run_folder_recovers(tmp_path: Path) -> None:
    """train's save_checkpoint goes through write_folder: an older checkpoint's extra file does
    not stay in last/, and recover_run_folder finishes a swap killed half-way, removes a dead
    writer's temporaries (the nested one of save_pretrained included) and leaves a live one's."""
    run = tmp_path / "run"
    model = visionzoo.create_model("test_resnet", num_classes=2)
    (run / "last").mkdir(parents=True)
    (run / "last" / "stale.bin").write_bytes(b"from an older checkpoint")
    save_checkpoint(run / "last", model, {"epoch": 1})
    assert sorted(os.listdir(run / "last")) == ["config.json", "model.safetensors", STATE_NAME]
    assert sorted(os.listdir(run)) == ["last"]

    save_checkpoint(run / "previous", model)
    os.rename(run / "last", _temp(run / "last", DEAD))  # the complete new checkpoint
    os.rename(run / "previous", _temp(run / "last", DEAD, ".old"))  # the previous one, moved aside
    nested = run / f".{_temp(run / 'last', DEAD).name}{save._SAVE_MARK}{save._host()}-{DEAD}-xyz"
    nested.mkdir()
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        live = _temp(run / "best", writer.pid)
        live.mkdir()
        recover_run_folder(run)
        assert sorted(os.listdir(run)) == sorted([live.name, "last"])
    finally:
        writer.kill()
        writer.wait()
    assert torch.load(run / "last" / STATE_NAME, weights_only=True) == {"epoch": 1}
    weights = load_file(run / "last" / "model.safetensors")
    assert all(torch.equal(weights[k], v) for k, v in model.state_dict().items())
