"""The ``visionzoo`` command, driven through its real entry points on data the tests write."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from imagedata import COLOURS, add_awkward_files, make_image_folder
from safetensors.torch import load_file

import visionzoo
from visionzoo.cli import main

pytestmark = pytest.mark.cli

MODEL = "test_resnet"
SIZE = "32"
TRAIN = ["--model", MODEL, "--img-size", SIZE, "--batch-size", "4", "--workers", "0", "--no-progress"]
SUBCOMMANDS = ("list", "info", "predict", "validate", "train", "benchmark", "export")


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def run_process(*argv: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "visionzoo", *map(str, argv)],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_image_folder(tmp_path_factory.mktemp("colours"), per_class=8)
    add_awkward_files(root / "train" / "red", COLOURS["red"])
    return root


@pytest.fixture(scope="module")
def run_dir(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One short training run shared by the predict / validate / export tests."""
    out = tmp_path_factory.mktemp("runs") / "colours"
    code = main(["train", str(data), *TRAIN, "--epochs", "3", "--lr", "0.05", "--output", str(out)])
    assert code == 0
    return out


# --- help and entry points ------------------------------------------------------------------------
@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_explains_itself(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: visionzoo {command}")
    assert "--verbose" in out and len(out.splitlines()) > 8


def test_console_script_and_module_entry_points(tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("visionzoo")
    assert script.is_file(), "the console script is installed with the package"
    listed = subprocess.run(
        [str(script), "list", "test_*", "--json"], capture_output=True, text=True, timeout=300
    )
    assert listed.returncode == 0, listed.stderr
    assert MODEL in [row["name"] for row in json.loads(listed.stdout)]
    # bad input through `python -m visionzoo`: one line, exit code 2, no traceback, nothing written
    out = tmp_path / "never"
    proc = run_process("train", tmp_path / "no-such-folder", "--model", MODEL, "--output", out)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"visionzoo train: error: data folder not found: {tmp_path / 'no-such-folder'}"
    ]
    assert "Traceback" not in proc.stderr and not out.exists()


# --- list / info ----------------------------------------------------------------------------------
def test_list_sorts_and_prints_json_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "list", "resnet1*", "resnet5*", "--sort", "top1", "--json")
    assert code == 0
    rows = json.loads(out)
    top1 = [r["top1"] for r in rows if r["top1"] is not None]
    assert top1 == sorted(top1, reverse=True) and len(top1) >= 5
    expected = visionzoo.get_pretrained_cfg(rows[0]["name"])
    assert rows[0]["top1"] == expected.top1
    code, out, _ = run_cli(capsys, "list", "resnet1*", "--pretrained", "--sort", "params")
    lines = out.splitlines()
    assert code == 0 and lines[0].split()[:3] == ["model", "params", "(M)"]
    assert {ln.split()[0] for ln in lines[2:]} == set(visionzoo.list_pretrained("resnet1*"))
    params = [float(ln.split()[1]) for ln in lines[2:]]
    assert params == sorted(params)


def test_list_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    path = tmp_path / "top1.png"
    code, _, err = run_cli(capsys, "list", "resnet*", "--pretrained", "--plot", path)
    assert code == 0 and "wrote" in err
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in tmp_path.iterdir()] == ["top1.png"]  # no temporary left


def _published_gmacs(name: str, size: int) -> float | None:
    table = Path(__file__).resolve().parents[2] / "shared/data/timm-results"
    path = table / "benchmark-infer-fp32-nchw-pt240-cpu-i9_10940x-dynamo.csv"
    if not path.is_file():
        return None
    for row in csv.DictReader(path.read_text().splitlines()):
        if row["model"] == name and int(row["infer_img_size"]) == size:
            return float(row["infer_gmacs"])
    return None


@pytest.mark.parametrize(
    ("name", "size"), [("resnet18", 224), ("resnet10t", 176), ("vit_small_patch16_224", 224)]
)
def test_info_reports_macs_features_and_weights(
    name: str, size: int, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "info", name, "--img-size", size, "--json")
    assert code == 0
    info = json.loads(out)
    model = visionzoo.create_model(name)
    assert info["params_m"] == pytest.approx(sum(p.numel() for p in model.parameters()) / 1e6, abs=1e-3)
    published = _published_gmacs(name, size)
    if published is not None:  # timm's benchmark table, measured with another counter
        assert info["gmacs"] == pytest.approx(published, rel=0.02)
    assert [(f["num_chs"], f["reduction"]) for f in info["features"]] == [
        (f["num_chs"], f["reduction"]) for f in model.feature_info
    ]
    assert {w["name"] for w in info["weights"]} == set(visionzoo.list_pretrained(f"{name}.*"))
    code, out, _ = run_cli(capsys, "info", name)
    assert code == 0 and "feature pyramid" in out and "GMACs" in out


# --- train / resume -------------------------------------------------------------------------------
def test_train_writes_loadable_checkpoints(run_dir: Path, data: Path) -> None:
    for sub in ("best", "last"):
        model = visionzoo.create_model(f"local-dir:{run_dir / sub}", pretrained=True)
        assert model.num_classes == 2
        assert model.pretrained_cfg.label_names == ("blue", "red")
        assert tuple(model.pretrained_cfg.input_size) == (3, 32, 32)
    assert (run_dir / "last" / "training_state.pt").is_file()
    assert not (run_dir / "best" / "training_state.pt").exists()
    rows = list(csv.DictReader((run_dir / "metrics.csv").read_text().splitlines()))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    best = max(rows, key=lambda r: float(r["val_top1"]))
    assert float(best["val_top1"]) == 100.0, "two colour classes are learnt in three epochs"
    assert not [p for p in run_dir.iterdir() if p.name.startswith(".")], "no temporary folders left"


def test_resume_continues_exactly(data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    straight, split = tmp_path / "straight", tmp_path / "split"
    common = ["train", data, *TRAIN, "--ema", "--ema-decay", "0.9", "--warmup-epochs", "0.5"]
    assert run_cli(capsys, *common, "--epochs", "2", "--output", straight)[0] == 0
    code, out, _ = run_cli(capsys, *common, "--epochs", "2", "--stop-after", "1", "--output", split)
    assert code == 0 and "continue with --resume" in out
    code, out, err = run_cli(capsys, *common, "--epochs", "2", "--resume", split)
    assert code == 0, err
    assert "epoch 2/2" in out and "epoch 1/2" not in out
    for sub in ("last", "best"):
        a = load_file(straight / sub / "model.safetensors")
        b = load_file(split / sub / "model.safetensors")
        assert a.keys() == b.keys()
        for k in a:
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)
    state = torch.load(split / "last" / "training_state.pt", weights_only=True)
    assert state["epoch"] == 2 and len(state["history"]) == 2
    # an output folder that holds a run is not overwritten by a fresh one
    code, _, err = run_cli(capsys, *common, "--epochs", "1", "--output", split)
    assert code == 2 and "already holds a training run" in err


def test_train_on_grayscale_in_memory_digits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("sklearn")
    out = tmp_path / "digits"
    code, _, err = run_cli(
        capsys, "train", "digits", *TRAIN, "--epochs", "1", "--batch-size", "64", "--output", out
    )
    assert code == 0, err
    assert "1 channel(s)" in err and "10 classes" in err
    model = visionzoo.create_model(f"local-dir:{out / 'last'}", pretrained=True)
    assert model.conv1[0].in_channels == 1 and model.num_classes == 10


def test_train_options_together(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Augmentation, mixup, AMP, EMA, channels-last, checkpointing and a step schedule in one
    short run on a folder without a val split (a seeded hold-out is used)."""
    data = make_image_folder(tmp_path / "flat", per_class=6, splits=("",))
    out = tmp_path / "run"
    code, _, err = run_cli(
        capsys, "train", data, *TRAIN, "--epochs", "2", "--amp", "--mixup", "0.4", "--cutmix", "1.0",
        "--aa", "rand-m9-n2", "--reprob", "0.25", "--channels-last", "--grad-checkpointing",
        "--sched", "step",
        "--decay-epochs", "1", "--opt", "adamw", "--lr", "0.01", "--ema", "--val-split", "0.25",
        "--drop-path", "0.1", "--output", out,
    )  # fmt: skip
    assert code == 0, err
    assert "held out: 3 images" in err
    rows = list(csv.DictReader((out / "metrics.csv").read_text().splitlines()))
    assert [float(r["lr"]) for r in rows] == pytest.approx([0.001, 0.0001])
    assert all(
        r["ema_val_top1"] != "" and r["train_top1"] == "" for r in rows
    )  # no train accuracy under mixup
    model = visionzoo.create_model(f"local-dir:{out / 'best'}", pretrained=True)
    assert model.num_classes == 2


def test_train_compiled(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--compile trains through torch.compile (aot_eager: the same graph capture as inductor,
    without its code generation); checkpoints hold the plain model's keys."""
    data = make_image_folder(tmp_path / "flat", per_class=4, splits=("",))
    out = tmp_path / "run"
    code, _, err = run_cli(
        capsys, "train", data, *TRAIN, "--epochs", "1", "--compile", "aot_eager", "--channels-last",
        "--grad-checkpointing", "--output", out,
    )  # fmt: skip
    assert code == 0, err
    assert "torch.compile (backend aot_eager)" in err
    keys = load_file(out / "last" / "model.safetensors").keys()
    assert keys == visionzoo.create_model(MODEL, num_classes=2).state_dict().keys()


def test_divergence_fails_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = make_image_folder(tmp_path / "flat", per_class=4, splits=("",))
    out = tmp_path / "run"
    code, _, err = run_cli(capsys, "train", data, *TRAIN, "--epochs", "1", "--lr", "1e8", "--output", out)
    assert code == 1 and "training diverged in epoch 1" in err and "lower --lr" in err
    assert not out.exists(), "no checkpoint of a diverged model, no empty run folder"


# --- predict / validate ---------------------------------------------------------------------------
def test_validate_agrees_with_predict(
    run_dir: Path, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results_json, results_csv = tmp_path / "r.json", tmp_path / "r.csv"
    code, out, err = run_cli(
        capsys, "validate", data, "--checkpoint", run_dir / "best", "--results", results_json, "--json"
    )
    assert code == 0, err
    record = json.loads(out)
    assert json.loads(results_json.read_text()) == record
    assert record["images"] == 16 and record["model"] == MODEL
    code, _, _ = run_cli(
        capsys, "validate", data, "--checkpoint", run_dir, "--results", results_csv, "--no-optimize"
    )
    row = next(csv.DictReader(results_csv.read_text().splitlines()))
    assert float(row["top1"]) == pytest.approx(record["top1"], abs=1e-6)
    code, out, err = run_cli(
        capsys, "validate", data, "--checkpoint", run_dir / "best", "--compile", "--json"
    )
    assert code == 0, err
    compiled = json.loads(out)
    assert compiled["top1"] == record["top1"] and compiled["loss"] == pytest.approx(record["loss"], rel=1e-4)
    # predict's top-1 labels on the same files give the same accuracy
    code, out, _ = run_cli(
        capsys, "predict", data / "val", "--checkpoint", run_dir / "best", "--json", "--topk", "2"
    )
    predictions = json.loads(out)["predictions"]
    correct = sum(Path(p["file"]).parent.name == p["topk"][0]["label"] for p in predictions)
    assert 100.0 * correct / len(predictions) == pytest.approx(record["top1"], abs=1e-6)
    assert all(p["topk"][0]["prob"] >= p["topk"][1]["prob"] for p in predictions)


def test_predict_skips_broken_files_and_converts_modes(
    run_dir: Path, data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = data / "train" / "red"
    code, out, err = run_cli(
        capsys, "predict", folder, "--checkpoint", run_dir / "best", "--topk", "1", "--json"
    )
    assert code == 0
    result = json.loads(out)
    files = {Path(p["file"]).name for p in result["predictions"]}
    assert {"gray.png", "rgba.png", "cmyk.jpg", "sixteen.png"} <= files
    assert sorted(Path(s["file"]).name for s in result["skipped"]) == [
        "corrupt.jpg",
        "notes.txt",
        "truncated.png",
    ]
    assert "skipped 3 file(s)" in err
    code, out, _ = run_cli(capsys, "predict", folder / "0.png", "--checkpoint", run_dir / "best", "-k", "1")
    assert code == 0 and out.split()[1] in ("red", "blue") and out.strip().endswith("%")


def test_predict_imagenet_labels(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A 1000-class model names ImageNet classes (weights from a file saved here, not a download)."""
    model = visionzoo.create_model(MODEL)
    visionzoo.save_pretrained(model, tmp_path / "in1k")
    make_image_folder(tmp_path / "imgs", per_class=1, splits=("",))
    code, out, _ = run_cli(capsys, "predict", tmp_path / "imgs", "--checkpoint", tmp_path / "in1k", "--json")
    assert code == 0
    labels = set(visionzoo.data.model_label_names(model))
    top = json.loads(out)["predictions"][0]["topk"]
    assert len(top) == 5 and all(t["label"] in labels for t in top)


# --- benchmark / export ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", [[], ["--train"], ["--no-optimize", "--channels-last"]])
def test_benchmark(mode: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(
        capsys,
        "benchmark",
        "--model",
        MODEL,
        "--img-size",
        SIZE,
        "--batch-size",
        "4",
        "--steps",
        "2",
        "--warmup",
        "1",
        "--json",
        *mode,
    )
    assert code == 0, err
    r = json.loads(out)
    assert r["mode"] == ("train" if "--train" in mode else "inference")
    assert r["img_per_sec"] == pytest.approx(4 * 1000 / r["ms_per_step"], rel=0.01)
    assert r["achieved_gflops"] == pytest.approx(r["gflop_per_step"] * 1000 / r["ms_per_step"], rel=0.02)
    assert r["peak_memory_mb"] > 0 and r["gflop_per_step"] > 0


def test_flop_counts_include_the_cpus_fused_attention() -> None:
    """torch's flop counter has no formula for the CPU's fused attention kernel: counted, its
    forward equals the matmuls of the decomposed (MATH) attention, and its backward is five
    matmuls of that size (flash attention recomputes the scores)."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    from visionzoo.cli.benchmark import count_flops

    model = visionzoo.create_model("test_vit", img_size=64)
    x = torch.randn(2, 3, 64, 64)

    def uncounted(train: bool) -> int:
        model.train(train)
        with FlopCounterMode(display=False) as counter:
            if train:
                model(x).sum().backward()
            else:
                with torch.inference_mode():
                    model(x)
        model.zero_grad(set_to_none=True)
        return counter.get_total_flops()

    with sdpa_kernel(SDPBackend.MATH):
        decomposed = count_flops(model.eval(), x)
    forward = count_flops(model.eval(), x)
    attention = forward - uncounted(False)
    assert forward == decomposed and attention > 0
    assert count_flops(model.train(), x, train=True) - uncounted(True) == 3.5 * attention


@pytest.mark.parametrize("fmt", ["exported-program", "onnx"])
def test_export_runs_like_eager(
    fmt: str, run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if fmt == "onnx":
        pytest.importorskip("onnxscript")
    out = tmp_path / ("m.onnx" if fmt == "onnx" else "m.pt2")
    code, stdout, err = run_cli(
        capsys,
        "export",
        "--checkpoint",
        run_dir / "best",
        "--format",
        fmt,
        "--output",
        out,
        "--dynamic-batch",
        "--json",
    )
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["output"] == str(out) and out.is_file()
    model = visionzoo.create_model(f"local-dir:{run_dir / 'best'}", pretrained=True).eval()
    x = torch.randn(5, 3, 32, 32)
    with torch.no_grad():
        expected = model(x)
    if fmt == "onnx":
        ort = pytest.importorskip("onnxruntime")
        session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        got = torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])
    else:
        got = torch.export.load(str(out)).module()(x)
    torch.testing.assert_close(got, expected, atol=1e-4, rtol=1e-4)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


# --- bad input ------------------------------------------------------------------------------------
def _bad_inputs(data: Path, run_dir: Path, tmp: Path) -> dict[str, tuple[list[object], str, Path | None]]:
    (tmp / "empty").mkdir(exist_ok=True)
    (tmp / "a-file").write_text("x")
    return {
        "missing data": (["validate", tmp / "nope", "--checkpoint", run_dir], "data folder not found", None),
        "empty data": (
            ["train", tmp / "empty", *TRAIN, "--output", tmp / "o1"],
            "no class sub-folders",
            tmp / "o1",
        ),
        "unknown model": (
            ["train", data, "--model", "resnet9000", "--output", tmp / "o2"],
            "unknown model",
            tmp / "o2",
        ),
        "other architecture": (
            ["predict", data / "val", "--model", "resnet10t", "--checkpoint", run_dir / "best"],
            "not 'resnet10t'",
            None,
        ),
        "resume other architecture": (
            ["train", data, "--model", "resnet10t", "--resume", run_dir, "--epochs", "9"],
            "another architecture",
            None,
        ),
        "unknown compile backend": (
            ["train", data, *TRAIN, "--compile", "turbo", "--output", tmp / "o3"],
            "'turbo' is not a torch.compile backend; valid: ",
            tmp / "o3",
        ),
        "unwritable output": (
            ["train", data, *TRAIN, "--output", tmp / "a-file" / "run"],
            "is not writable",
            tmp / "a-file" / "run",
        ),
        "results in missing folder": (
            ["validate", data, "--checkpoint", run_dir, "--results", tmp / "nowhere" / "r.json"],
            "does not exist",
            tmp / "nowhere",
        ),
        "weights file of another model": (
            [
                "validate",
                data,
                "--model",
                "resnet10t",
                "--checkpoint",
                run_dir / "best" / "model.safetensors",
            ],
            "does not fit",
            None,
        ),
        "random weights": (["predict", data / "val", "--model", MODEL], "needs trained weights", None),
        "no images": (["predict", tmp / "empty", "--checkpoint", run_dir], "no images found", None),
    }


CASES = [
    "missing data",
    "empty data",
    "unknown model",
    "other architecture",
    "resume other architecture",
    "unwritable output",
    "results in missing folder",
    "weights file of another model",
    "random weights",
    "no images",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_one_line_and_exit_2(
    case: str, data: Path, run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv, message, must_not_exist = _bad_inputs(data, run_dir, tmp_path)[case]
    before = sorted(p.name for p in run_dir.rglob("*"))
    code, out, err = run_cli(capsys, *argv)
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"visionzoo {argv[0]}: error: "), err
    assert message in lines[0]
    assert "Traceback" not in err and out == ""
    if must_not_exist is not None:
        assert not must_not_exist.exists()
    assert sorted(p.name for p in run_dir.rglob("*")) == before, "the run folder is left untouched"


def test_verbose_shows_the_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, "info", "resnet9000", "--verbose")
    assert code == 2 and "Traceback" in err and "unknown model 'resnet9000'" in err
