"""Reliability under faults, with the real code paths: `visionzoo train` killed with SIGKILL and
resumed, checkpoint saves interrupted at each step, unwritable and full output folders (real
tmpfs mounts when running as root), the rest of create_model's bad-input battery, and missing
weights offline. See also test_loading.py (unsafe pickles, cut downloads, corrupt files),
test_registry.py (names, kwargs, threads) and test_properties.py (hypothesis)."""

from __future__ import annotations

import csv
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from helpers import random_state_dict, write_safetensors
from imagedata import make_image_folder
from safetensors.torch import load_file
from torch import nn

import visionzoo
from visionzoo import registry
from visionzoo.cli import main
from visionzoo.cli.train import checkpoint_bytes
from visionzoo.hub import WeightsError

pytestmark = pytest.mark.reliability

MODEL = "test_resnet"
DEAD = 2**22 + 7  # above Linux's largest pid_max: the process of a temporary named -DEAD is gone
OPTIONS = ["--model", MODEL, "--batch-size", "4", "--workers", "0", "--no-progress"]
TRAIN = [*OPTIONS, "--img-size", "32"]


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, "OMP_NUM_THREADS": "1", "TQDM_DISABLE": "1", **extra}


def _command(*argv: object) -> list[str]:
    return [sys.executable, "-m", "visionzoo", *map(str, argv)]


def _run(*argv: object, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_command(*argv), capture_output=True, text=True, env=_env(**env), timeout=300)


def _cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _leftovers(folder: Path) -> list[str]:
    """Temporary files and folders (``.NAME.tmp-PID``, ``.NAME.old-PID``, probes) under ``folder``."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name.startswith("."))


def _assert_same_weights(a: Path, b: Path) -> None:
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys()
    for key in wa:
        assert torch.equal(wa[key], wb[key]), f"{a} and {b} differ at {key}"


def _metrics(run: Path, *, seconds: bool = False) -> list[dict[str, str]]:
    """metrics.csv rows, without the wall-clock column unless ``seconds``."""
    rows = list(csv.DictReader((run / "metrics.csv").read_text().splitlines()))
    return [{k: v for k, v in r.items() if seconds or k != "seconds"} for r in rows]


# --- training survives a kill ---------------------------------------------------------------------
def test_sigkill_mid_epoch_then_resume_ends_with_the_uninterrupted_weights(tmp_path: Path) -> None:
    """A subprocess is killed with SIGKILL half an epoch after its first checkpoint is on disk;
    ``--resume`` finishes the run with bit-identical weights to a run never interrupted, in
    deterministic mode, and leaves no temporary file. About 20 s on 2 CPU cores."""
    data = make_image_folder(tmp_path / "data", per_class=48, size=24)  # 24 steps of 4 per epoch
    args = ["train", data, *OPTIONS, "--img-size", "64", "--epochs", "3", "--lr", "0.05", "--seed", "5"]
    args.append("--deterministic")
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    done = _run(*args, "--output", straight)
    assert done.returncode == 0, done.stderr
    epoch_seconds = float(_metrics(straight, seconds=True)[0]["seconds"])

    log = tmp_path / "killed.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            _command(*args, "--output", killed), stdout=out, stderr=subprocess.STDOUT, env=_env()
        )
        try:
            deadline = time.monotonic() + 240
            while not (killed / "last" / "training_state.pt").is_file():  # the first checkpoint
                assert proc.poll() is None, f"the run ended before its first checkpoint:\n{log.read_text()}"
                assert time.monotonic() < deadline, "no checkpoint within 240 s"
                time.sleep(0.01)
            time.sleep(epoch_seconds / 2)  # half-way through the next epoch
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert "epoch 3/3" not in log.read_text(), "the kill came after the run had finished"

    resumed = _run(*args, "--resume", killed)
    assert resumed.returncode == 0, resumed.stderr
    assert "epoch 3/3" in resumed.stdout and "epoch 1/3" not in resumed.stdout
    for sub in ("last", "best"):
        _assert_same_weights(straight / sub, killed / sub)
    assert _metrics(killed) == _metrics(straight)
    assert torch.load(killed / "last" / "training_state.pt", weights_only=True)["epoch"] == 3
    assert _leftovers(killed) == []


@pytest.fixture(scope="module")
def colours(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_image_folder(tmp_path_factory.mktemp("colours"), per_class=8)


@pytest.fixture(scope="module")
def reference_run(colours: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three uninterrupted epochs (CPU training here is deterministic without --deterministic)."""
    out = tmp_path_factory.mktemp("reference") / "run"
    args = ["train", str(colours), *TRAIN, "--epochs", "3", "--lr", "0.05", "--seed", "0"]
    assert main([*args, "--output", str(out)]) == 0
    return out


def test_resume_repairs_a_save_interrupted_at_any_step(
    colours: Path, reference_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The on-disk states a kill can leave while checkpoints are saved (last/ is written first,
    then best/, then metrics.csv, each folder by temporary name + rename) are all repaired."""
    args = ["train", colours, *TRAIN, "--epochs", "3", "--lr", "0.05", "--seed", "0"]
    run = tmp_path / "run"
    assert _cli(capsys, *args, "--stop-after", "1", "--output", run)[0] == 0
    epoch1 = shutil.copytree(run / "last", tmp_path / "epoch1")

    # killed after last/ of epoch 1 was renamed in, before best/ was written
    shutil.rmtree(run / "best")
    code, _, err = _cli(capsys, *args, "--stop-after", "1", "--resume", run)
    assert code == 0, err
    assert "best/ is behind last/" in err
    # best/ was rebuilt from epoch 1's last/, then epoch 2 ran and replaced it only if better
    # (which epoch wins differs between CPUs' float kernels)
    best_epoch = torch.load(run / "last" / "training_state.pt", weights_only=True)["best"]["epoch"]
    _assert_same_weights(run / "best", epoch1 if best_epoch == 1 else run / "last")

    # killed inside epoch 2's save, between moving the old last/ aside and renaming the new one in,
    # with debris of other interrupted writes and a metrics.csv one epoch behind
    os.replace(run / "last", run / f".last.tmp-{DEAD}")
    os.replace(epoch1, run / f".last.old-{DEAD}")
    (run / f".best.tmp-{DEAD + 1}").mkdir()
    (run / f".best.tmp-{DEAD + 1}" / "config.json").write_text("{")
    (run / f".metrics.csv.tmp-{DEAD + 1}").write_text("epoch\n")
    (run / "metrics.csv").write_text((run / "metrics.csv").read_text().splitlines()[0] + "\n")
    code, out, err = _cli(capsys, *args, "--resume", run)
    assert code == 0, err
    assert "epoch 3/3" in out and "epoch 2/3" not in out, "epoch 2's complete checkpoint was kept"
    for sub in ("last", "best"):
        _assert_same_weights(run / sub, reference_run / sub)
    assert _metrics(run) == _metrics(reference_run)
    assert _leftovers(run) == []


def test_a_new_run_in_a_folder_left_by_a_killed_one(
    colours: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Killed during its very first save: nothing to resume, and a new run there starts clean
    (a temporary whose writer still runs is left alone)."""
    run = tmp_path / "run"
    (run / f".last.tmp-{DEAD}").mkdir(parents=True)
    (run / f".last.tmp-{DEAD}" / "model.safetensors").write_bytes(b"\x00" * 10)
    writer = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (run / f".best.tmp-{writer.pid}").mkdir()
        code, _, err = _cli(capsys, "train", colours, *TRAIN, "--resume", run, "--epochs", "2")
        assert code == 2 and "no training_state.pt" in err
        code, _, err = _cli(capsys, "train", colours, *TRAIN, "--epochs", "1", "--output", run)
        assert code == 0, err
        names = sorted(p.name for p in run.iterdir())
        assert names == [f".best.tmp-{writer.pid}", "best", "last", "metrics.csv"]
    finally:
        writer.kill()
        writer.wait()


def test_checkpoint_size_estimate_bounds_what_a_run_writes(reference_run: Path) -> None:
    model = visionzoo.create_model(MODEL, num_classes=2)
    estimate = checkpoint_bytes(model, opt="sgd", ema=False)
    for sub in ("last", "best"):
        actual = sum(f.stat().st_size for f in (reference_run / sub).iterdir())
        assert actual <= estimate[sub] <= 1.25 * actual, (sub, actual, estimate[sub])
    ema = checkpoint_bytes(model, opt="adamw", ema=True)
    assert ema["last"] > estimate["last"] + 2 * estimate["best"] * 0.9  # EMA copy + second moment


# --- unwritable or full output folders --------------------------------------------------------------
@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[..., Path]]:
    """``mount(name, size_bytes, read_only=False)``: a real tmpfs under tmp_path, unmounted after.
    Needs root (and a container that allows mounts); the test is skipped otherwise."""
    mounted: list[Path] = []

    def mount(name: str, size: int, *, read_only: bool = False) -> Path:
        if os.name != "posix" or os.geteuid() != 0 or shutil.which("mount") is None:
            pytest.skip("mounting a tmpfs (a real small or read-only disk) needs root")
        point = tmp_path / name
        point.mkdir()
        opts = f"size={size}" + (",ro" if read_only else "")
        proc = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(point)], capture_output=True, text=True
        )
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in reversed(mounted):
        subprocess.run(["umount", str(point)], check=False)


def _refused(code: int, out: str, err: str, message: str) -> None:
    """Bad input before training: exit 2, one line on stderr, no epoch printed."""
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("visionzoo train: error: "), err
    assert message in lines[0], lines[0]
    assert out == ""


def test_full_disk_is_refused_before_training(
    colours: Path, tmpfs: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    peak = checkpoint_bytes(visionzoo.create_model(MODEL, num_classes=2), opt="sgd", ema=False)["peak"]
    small = tmpfs("small", peak // 2)
    code, out, err = _cli(capsys, "train", colours, *TRAIN, "--epochs", "2", "--output", small / "run")
    _refused(code, out, err, "not enough free space")
    assert list(small.iterdir()) == [], "nothing written"
    # a disk with the estimated room holds the whole run (the estimate is an upper bound), and a
    # resumed run counts the space its checkpoints already take
    roomy = tmpfs("roomy", peak + (64 << 10))
    code, _, err = _cli(capsys, "train", colours, *TRAIN, "--epochs", "2", "--output", roomy / "run")
    assert code == 0, err
    code, _, err = _cli(capsys, "train", colours, *TRAIN, "--epochs", "3", "--resume", roomy / "run")
    assert code == 0, err
    assert _leftovers(roomy) == []


def test_unwritable_output_is_refused_before_training(
    colours: Path,
    tmp_path: Path,
    tmpfs: Callable[..., Path],
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
) -> None:
    if os.name == "posix" and os.geteuid() == 0:
        locked = tmpfs("locked", 1 << 20, read_only=True)  # root ignores permissions, not a read-only disk
    else:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o555)
        request.addfinalizer(lambda: locked.chmod(0o755))
    code, out, err = _cli(capsys, "train", colours, *TRAIN, "--output", locked / "runs" / "a")
    _refused(code, out, err, "is not writable")
    assert list(locked.iterdir()) == [], "nothing written"


# --- create_model: the rest of the bad-input battery ----------------------------------------------
@pytest.fixture(scope="module")
def weights_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_safetensors(random_state_dict(MODEL), tmp_path_factory.mktemp("w") / "w.safetensors")


@pytest.mark.parametrize("damage", ["truncated", "header only", "empty"])
def test_damaged_checkpoint_path_is_named(weights_file: Path, tmp_path: Path, damage: str) -> None:
    data = weights_file.read_bytes()
    f = tmp_path / f"{damage.replace(' ', '_')}.safetensors"
    f.write_bytes({"truncated": data[: len(data) // 2], "header only": data[:4], "empty": b""}[damage])
    reason = "is empty" if damage == "empty" else "truncated or corrupt"
    with pytest.raises(WeightsError, match=rf"{f.name}.*{reason}"):
        visionzoo.create_model(MODEL, checkpoint_path=f)
    with pytest.raises(WeightsError, match=rf"{f.name}.*{reason}"):  # same through the CLI's loader
        visionzoo.load_checkpoint(visionzoo.create_model(MODEL), f)


def test_checkpoint_path_or_local_dir_in_the_wrong_place(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="weights file not found: .*nope.safetensors"):
        visionzoo.create_model(MODEL, checkpoint_path=tmp_path / "nope.safetensors")
    with pytest.raises(WeightsError, match=r"local-dir:.*missing: not found; pass a folder"):
        visionzoo.create_model(f"local-dir:{tmp_path / 'missing'}", pretrained=True)
    (tmp_path / "file").write_text("x")
    with pytest.raises(WeightsError, match=r"local-dir:.*file: is not a folder"):
        visionzoo.create_model(f"local-dir:{tmp_path / 'file'}", pretrained=True)


class _Plain(nn.Module):
    """A user's model with no feature_info."""

    def __init__(self, num_classes: int = 10, in_chans: int = 3) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.fc = nn.Linear(in_chans, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.mean((2, 3)))


def plain_net(pretrained: bool = False, **kwargs: object) -> nn.Module:
    """Built with the builder, as a family would: features_only is checked there."""
    from visionzoo.factory import build_model_with_cfg

    return build_model_with_cfg(_Plain, "plain_net", pretrained, **kwargs)


def swallowing_net(pretrained: bool = False, **kwargs: object) -> nn.Module:
    """A hand-written entrypoint that drops the kwargs it does not know (features_only too)."""
    return _Plain(num_classes=int(kwargs.get("num_classes", 10)))  # type: ignore[call-overload]


@pytest.fixture
def user_models() -> Iterator[None]:
    fns = (plain_net, swallowing_net)
    for fn in fns:
        visionzoo.register_model(fn)
    try:
        yield
    finally:
        with registry._lock:
            for fn in fns:
                registry._entrypoints.pop(fn.__name__, None)
                module = registry._arch_to_module.pop(fn.__name__, None)
                archs = registry._module_to_archs.get(module, set())
                archs.discard(fn.__name__)
                if not archs:
                    registry._module_to_archs.pop(module, None)


@pytest.mark.parametrize("name", ["plain_net", "swallowing_net"])
def test_features_only_on_a_user_model_without_feature_info(name: str, user_models: None) -> None:
    assert visionzoo.create_model(name, num_classes=4)(torch.randn(1, 3, 8, 8)).shape == (1, 4)
    with pytest.raises(ValueError, match=f"{name} does not support features_only.*feature_info"):
        visionzoo.create_model(name, features_only=True)


# --- offline without a cache: say how to provide the file -----------------------------------------
ADVICE = (r"pretrained_cfg_overlay=dict\(file=", r"local-dir:", r"HF_HUB_OFFLINE")


@pytest.mark.parametrize("source", ["hub", "url"])
def test_offline_without_cache_says_how_to_provide_the_file(
    source: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: None
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    overlay = None if source == "hub" else dict(url="https://example.org/w/r18-0123abcd.pth", hf_hub_id=None)
    with pytest.raises(WeightsError) as info:
        visionzoo.create_model(
            "resnet18.a1_in1k", pretrained=True, pretrained_cfg_overlay=overlay, cache_dir=tmp_path
        )
    message = str(info.value)
    assert (
        "offline" in message and ("model.safetensors" if source == "hub" else "r18-0123abcd.pth") in message
    )
    for advice in ADVICE:
        assert re.search(advice, message), (advice, message)
    assert list(tmp_path.iterdir()) == []


def test_unreachable_url_says_how_to_provide_the_file(tmp_path: Path) -> None:
    with socket.socket() as s:  # a loopback port nobody listens on: connection refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    overlay = dict(url=f"http://127.0.0.1:{port}/r18-0123abcd.pth", hf_hub_id=None)
    with pytest.raises(WeightsError, match="could not download") as info:
        visionzoo.create_model(
            "resnet18", pretrained=True, pretrained_cfg_overlay=overlay, cache_dir=tmp_path
        )
    for advice in ADVICE:
        assert re.search(advice, str(info.value)), advice
    assert list(tmp_path.iterdir()) == []


def test_cli_predict_offline_without_cache_is_one_line_with_advice(tmp_path: Path) -> None:
    image = next(make_image_folder(tmp_path / "imgs", per_class=1, splits=("",)).rglob("*.png"))
    proc = _run(
        "predict",
        image,
        "--model",
        "resnet18",
        "--pretrained",
        HF_HUB_OFFLINE="1",
        HF_HOME=str(tmp_path / "hf"),
        TORCH_HOME=str(tmp_path / "torch"),
        VISIONZOO_CACHE=str(tmp_path / "vz"),
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("visionzoo predict: error: model.safetensors of timm/")
    for advice in (*ADVICE, "--checkpoint"):
        assert re.search(advice, lines[0]), advice
    assert proc.stdout == ""
