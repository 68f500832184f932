"""``visionzoo train`` runs: the run lock between real processes, resume bit-identical with loader
workers, and resume restoring every setting of the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from imagedata import make_image_folder
from safetensors.torch import load_file

from visionzoo.cli import main

pytestmark = pytest.mark.cli

MODEL = "test_resnet"
TINY = ["--model", MODEL, "--img-size", "32", "--batch-size", "4", "--no-progress"]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def start(*argv: object) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "visionzoo", *map(str, argv)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def wait_for(path: Path, proc: subprocess.Popen[str], *, limit: float = 300) -> None:
    """Poll until ``path`` exists (a correctness wait with a generous limit, not a speed check)."""
    deadline = time.monotonic() + limit
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the run ended early: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{path} did not appear")
        time.sleep(0.2)


def same_weights(a: Path, b: Path) -> None:
    x, y = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert x.keys() == y.keys()
    for k in x:
        torch.testing.assert_close(x[k], y[k], rtol=0, atol=0, msg=k)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_image_folder(tmp_path_factory.mktemp("colours"), per_class=6)


@pytest.mark.slow
def test_a_second_run_into_one_output_is_refused_and_a_killed_run_leaves_no_lock(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The first run is a real process; the second is this one (flock works between processes)."""
    out = tmp_path / "run"
    first = start("train", data, *TINY, "--workers", "0", "--epochs", "10000", "--output", out)
    try:
        wait_for(out / "last" / "training_state.pt", first)  # running, with a checkpoint to resume
        for extra in ([], ["--resume", out]):  # a new run, or a resume of the running one
            code, stdout, err = run_cli(capsys, "train", data, *TINY, "--output", out, *extra)
            lines = err.strip().splitlines()
            assert code == 2 and stdout == "", err
            assert len(lines) == 1 and "in use by a running `visionzoo train`" in lines[0], err
            assert f"pid {first.pid}" in lines[0]
        assert first.poll() is None, "the first run is untouched"
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    # the kernel dropped the killed run's lock: --resume continues it
    done = torch.load(out / "last" / "training_state.pt", weights_only=True)["epoch"]
    code, stdout, err = run_cli(capsys, "train", "--resume", out, "--epochs", done + 1, "--workers", "0")
    assert code == 0, err
    assert f"epoch {done + 1}/{done + 1}" in stdout
    assert not (out / ".train.lock").exists()


@pytest.mark.slow
def test_resume_with_loader_workers_ends_bit_identical(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    straight, split = tmp_path / "straight", tmp_path / "split"
    common = ["train", data, *TINY, "--epochs", "2", "--hflip", "0.5", "--reprob", "0.5"]
    assert run_cli(capsys, *common, "--workers", "2", "--output", straight)[0] == 0
    code, out, err = run_cli(capsys, *common, "--workers", "2", "--stop-after", "1", "--output", split)
    assert code == 0 and "continue with --resume" in out, err
    code, out, err = run_cli(capsys, "train", "--resume", split, "--workers", "2")
    assert code == 0, err
    assert "epoch 2/2" in out and "epoch 1/2" not in out
    same_weights(straight / "last", split / "last")
    # the same order and augmentations whatever the worker count
    other = tmp_path / "no-workers"
    assert run_cli(capsys, *common, "--workers", "0", "--output", other)[0] == 0
    same_weights(straight / "last", other / "last")


def test_resume_restores_every_setting_and_refuses_conflicts(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    settings = [
        "--model", MODEL, "--img-size", "40", "--batch-size", "3", "--lr", "0.02", "--sched", "step",
        "--decay-epochs", "1", "--hflip", "0", "--workers", "0", "--no-progress", "--seed", "7",
    ]  # fmt: skip
    code, _, err = run_cli(
        capsys, "train", data, *settings, "--epochs", "2", "--stop-after", "1", "--output", out
    )
    assert code == 0, err
    # conflicting flags are refused in one line naming them, before anything is written
    before = sorted(p.name for p in out.rglob("*"))
    for flag, value in (("--img-size", "64"), ("--batch-size", "8"), ("--lr", "0.1"), ("--sched", "cosine")):
        code, _, err = run_cli(capsys, "train", "--resume", out, flag, value)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and f"{flag} {value} conflicts with the run's" in lines[0], err
    other = make_image_folder(tmp_path / "other", per_class=2)
    code, _, err = run_cli(capsys, "train", other, "--resume", out)
    assert code == 2 and "DATA" in err and "conflicts" in err
    assert sorted(p.name for p in out.rglob("*")) == before
    # without DATA and flags: the run's data and settings; more --epochs is allowed
    code, stdout, err = run_cli(capsys, "train", "--resume", out, "--epochs", "3", "--img-size", "40")
    assert code == 0, err
    assert "input 3x40x40" in err and "batch 3 x 1" in err and "lr 0.02" in err, err
    assert "epoch 3/3" in stdout
    state = torch.load(out / "last" / "training_state.pt", weights_only=True)
    assert state["settings"]["img_size"] == 40 and state["settings"]["batch_size"] == 3
    assert state["settings"]["data"] == str(data) and state["settings"]["epochs"] == 3
    lrs = [row["lr"] for row in state["history"]]
    assert lrs == pytest.approx([0.002, 0.0002, 0.00002]), "the step schedule went on"
    config = json.loads((out / "best" / "config.json").read_text())
    assert config["pretrained_cfg"]["input_size"] == [3, 40, 40]
