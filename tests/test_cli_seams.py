"""The CLI at its seams: one dataset-spec parser, exit codes by error type, validation order,
checkpoint and weight checks, data folders with links or empty classes, ONNX with a dynamic
batch, and ``info`` of a local checkpoint. Real files, real processes; nothing mocked."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
import torch
from imagedata import make_image_folder

import visionzoo
from visionzoo.cli import main
from visionzoo.data import (
    DatasetError,
    DatasetSpec,
    EpochSampler,
    MissingSplitError,
    TransformDataset,
    open_dataset,
    parse_dataset_spec,
)
from visionzoo.integrity import NonFiniteWeightsWarning, StateDictMismatchError

pytestmark = pytest.mark.cli

MODEL = "test_resnet"


def run_cli(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str, command: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"visionzoo {command}: error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A save_pretrained folder of a 2-class test model, labelled."""
    torch.manual_seed(0)
    model = visionzoo.create_model(MODEL, num_classes=2)
    model.pretrained_cfg = model.pretrained_cfg.replace(
        num_classes=2, label_names=("blue", "red"), input_size=(3, 32, 32)
    )
    folder = tmp_path_factory.mktemp("saved") / "ck"
    visionzoo.save_pretrained(model, folder)
    return folder


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_image_folder(tmp_path_factory.mktemp("imgs"), per_class=1, splits=("",))
    return next(root.rglob("*.png"))


# --- one dataset-spec record ------------------------------------------------------------------------
def test_dataset_spec_is_parsed_once_into_one_record(tmp_path: Path) -> None:
    assert parse_dataset_spec("digits") == DatasetSpec("digits", "digits", None)
    assert parse_dataset_spec("digits:test") == DatasetSpec("digits", "digits", "test")
    assert parse_dataset_spec("hf:org/ds:val") == DatasetSpec("hf", "org/ds", "val")
    folder = parse_dataset_spec(str(tmp_path))
    assert folder.kind == "folder" and folder.path == tmp_path and folder.split is None
    assert str(parse_dataset_spec("hf:org/ds").with_split("val")) == "hf:org/ds:val"
    assert parse_dataset_spec("digits").with_split("test") == DatasetSpec("digits", "digits", "test")
    assert folder.with_split("val") is folder  # a folder picks its split sub-folder when opened
    spec = parse_dataset_spec("digits:val")
    assert parse_dataset_spec(spec) is spec, "a parsed record passes through"
    for bad, match in (("", "must be a folder"), ("hf:", "needs a dataset name"), ("digits:x", "split")):
        with pytest.raises(DatasetError, match=match):
            parse_dataset_spec(bad)
    # a missing split is its own type, so callers fall back on the type, not on message text
    root = make_image_folder(tmp_path / "d", per_class=1)
    with pytest.raises(MissingSplitError):
        open_dataset(parse_dataset_spec(str(root)), split="test")


# --- exit codes by type ------------------------------------------------------------------------------
@pytest.mark.slow  # a fresh interpreter (the broken model must not stay registered)
def test_a_library_bug_shows_its_traceback_and_says_it_is_a_bug(tmp_path: Path) -> None:
    """A ValueError from inside the library (here a model entrypoint) is not the user's mistake:
    exit 1, the traceback, and a last line asking for a report."""
    script = textwrap.dedent(
        """
        import sys
        import visionzoo
        from visionzoo.cli import main

        @visionzoo.register_model
        def broken_net(pretrained=False, **kwargs):
            raise ValueError("an internal slip")

        sys.exit(main(["info", "broken_net"]))
        """
    )
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path
    )
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" in proc.stderr and "ValueError: an internal slip" in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert (
        last.startswith("visionzoo info: internal error (ValueError)") and "bug" in last and "report" in last
    )


def test_check_what_was_typed_before_asking_for_what_was_not(
    image: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "predict", image, "--model", "resnet18x")
    assert code == 2 and out == ""
    assert "unknown model 'resnet18x'" in one_error_line(err, "predict")
    code, _, err = run_cli(capsys, "validate", "digits", "--model", "resnet18x")
    assert code == 2 and "unknown model 'resnet18x'" in one_error_line(err, "validate")
    # a known name without weights still gets the weights request
    code, _, err = run_cli(capsys, "predict", image, "--model", MODEL)
    assert code == 2 and "needs trained weights" in one_error_line(err, "predict")


def test_bad_option_values_are_bad_input(
    image: Path, saved: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Values the library refuses with ValueError are the user's: one line, exit 2."""
    for argv, message in (
        (["info", MODEL, "--img-size", "-1"], "--img-size must be > 0"),
        (["predict", image, "--checkpoint", saved, "--crop-pct", "0"], "--crop-pct must be > 0"),
        (["train", "digits", "--model", MODEL, "--interpolation", "foo"], "unknown interpolation 'foo'"),
    ):
        code, _, err = run_cli(capsys, *argv)
        assert code == 2, err
        assert message in one_error_line(err, str(argv[0]))


def test_checkpoint_folder_naming_another_architecture_exits_2(
    saved: Path, image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "mislabelled"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes((saved / "model.safetensors").read_bytes())
    config = json.loads((saved / "config.json").read_text())
    config["architecture"] = "resnet10t"
    (folder / "config.json").write_text(json.dumps(config))
    code, out, err = run_cli(capsys, "predict", image, "--checkpoint", folder)
    assert code == 2 and out == ""
    assert "does not fit" in one_error_line(err, "predict")
    with pytest.raises(StateDictMismatchError):
        visionzoo.create_model(f"local-dir:{folder}", pretrained=True)


def test_non_finite_weights_warn_at_load_and_are_refused_by_predict_and_validate(
    saved: Path, image: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = visionzoo.create_model(f"local-dir:{saved}", pretrained=True)
    with torch.no_grad():
        model.fc.weight[0, 0] = float("nan")
        model.fc.bias[1] = float("inf")
    folder = tmp_path / "nan"
    visionzoo.save_pretrained(model, folder)
    with pytest.warns(NonFiniteWeightsWarning, match=r"NaN/Inf.*fc\.weight, fc\.bias|fc\.bias, fc\.weight"):
        visionzoo.create_model(f"local-dir:{folder}", pretrained=True)
    code, out, err = run_cli(capsys, "predict", image, "--checkpoint", folder)
    assert code == 2 and out == "" and "nan" not in out
    line = one_error_line(err, "predict")
    assert "NaN/Inf" in line and "fc.weight" in line and "fc.bias" in line
    data = make_image_folder(tmp_path / "data", per_class=1, splits=("",))
    code, _, err = run_cli(capsys, "validate", data, "--checkpoint", folder)
    assert code == 2 and "NaN/Inf" in one_error_line(err, "validate")
    # finite weights load without the warning
    with warnings.catch_warnings():
        warnings.simplefilter("error", NonFiniteWeightsWarning)
        visionzoo.create_model(f"local-dir:{saved}", pretrained=True)


# --- data folders: links and empty classes -------------------------------------------------------------
def test_links_are_followed_once_per_real_folder(tmp_path: Path) -> None:
    root = make_image_folder(tmp_path / "d", per_class=3, splits=("",))
    (root / "blue" / "self").symlink_to(root / "blue", target_is_directory=True)  # a loop
    (root / "blue" / "again").symlink_to(root / "blue", target_is_directory=True)  # two: 2^depth paths
    (root / "red" / "up").symlink_to(root, target_is_directory=True)  # back to the top
    extra = make_image_folder(tmp_path / "outside", per_class=2, splits=("",))
    (root / "red" / "more").symlink_to(extra / "red", target_is_directory=True)  # a real extra folder
    source = open_dataset(str(root))
    assert source.classes == ["blue", "red"]
    assert sorted(source.targets) == [0, 0, 0, 1, 1, 1, 1, 1], "links to seen folders add nothing"
    assert len({os.path.realpath(p) for p in source.paths}) == len(source.paths)


def test_a_class_folder_linked_to_another_is_not_counted_twice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    root = make_image_folder(tmp_path / "d", per_class=2, splits=("",))
    (root / "teal").symlink_to(root / "blue", target_is_directory=True)
    with caplog.at_level(logging.WARNING, logger="visionzoo.data.datasets"):
        source = open_dataset(str(root))
    assert source.classes == ["blue", "red"] and len(source) == 4
    assert "teal" in caplog.text


def test_an_empty_class_folder_is_left_out_with_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_image_folder(tmp_path / "d", per_class=2, splits=("",))
    (root / "green").mkdir()
    (root / "green" / "notes.txt").write_text("not an image")
    with caplog.at_level(logging.WARNING, logger="visionzoo.data.datasets"):
        source = open_dataset(str(root))
    assert source.classes == ["blue", "red"] and len(source) == 4
    records = [r for r in caplog.records if "green" in r.getMessage()]
    assert len(records) == 1 and "left out" in records[0].getMessage()
    # a validation folder indexed by a model's classes may lack some of them: kept, not refused
    val = open_dataset(str(root), classes=["blue", "green", "red"])
    assert val.classes == ["blue", "green", "red"] and sorted(set(val.targets)) == [0, 2]


def test_epoch_sampler_fixes_order_and_augmentation_per_epoch() -> None:
    from torchvision.transforms import v2

    class Noise:
        def __call__(self, img: object) -> torch.Tensor:
            return torch.rand(2)

    from visionzoo.data import ImageSource

    class Blank(ImageSource):
        def load(self, index: int, mode: str = "RGB") -> object:
            return v2.functional.to_pil_image(torch.zeros(3, 2, 2))

    ds = TransformDataset(Blank(name="b", classes=["a"], targets=[0] * 6), Noise())
    sampler = EpochSampler(6, seed=3)
    first = [ds[item][0] for item in sampler]
    torch.rand(5)  # whatever the process drew meanwhile
    again = [ds[item][0] for item in sampler]
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    sampler.set_epoch(1)  # another epoch: another order and other augmentations
    assert [i for i, _ in sampler] != [i for i, _ in EpochSampler(6, seed=3)]
    assert not any(
        torch.equal(a, b)
        for a, b in zip(sorted(first, key=sum), sorted((ds[it][0] for it in sampler), key=sum))
    )
    shards = [list(EpochSampler(5, seed=0, rank=r, world_size=2)) for r in range(2)]
    assert len(shards[0]) == len(shards[1]) == 3
    assert {i for s in shards for i, _ in s} == set(range(5))


# --- export and info -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_onnx_export_has_a_dynamic_batch_by_default(
    saved: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    out = tmp_path / "m.onnx"
    code, stdout, err = run_cli(
        capsys, "export", "--checkpoint", saved, "--format", "onnx", "--output", out, "--json"
    )
    assert code == 0, err
    summary = json.loads(stdout)
    assert summary["input_shape"][0] == "batch" and summary["checked_batches"] == [1, 3]
    model = visionzoo.create_model(f"local-dir:{saved}", pretrained=True).eval()
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    for n in (1, 4):
        x = torch.randn(n, 3, 32, 32)
        got = torch.from_numpy(session.run(None, {session.get_inputs()[0].name: x.numpy()})[0])
        with torch.no_grad():
            torch.testing.assert_close(got, model(x), atol=1e-4, rtol=1e-4)
    # --batch-size fixes it
    fixed = tmp_path / "fixed.onnx"
    code, stdout, err = run_cli(
        capsys,
        "export",
        "--checkpoint",
        saved,
        "--format",
        "onnx",
        "--output",
        fixed,
        "--batch-size",
        "2",
        "--json",
    )
    assert code == 0, err
    assert json.loads(stdout)["input_shape"][0] == 2
    shape = ort.InferenceSession(str(fixed), providers=["CPUExecutionProvider"]).get_inputs()[0].shape
    assert shape[0] == 2


def test_info_of_a_local_checkpoint_shows_its_own_config_first(
    saved: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "info", f"local-dir:{saved}")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[1].strip().startswith("checkpoint") and str(saved) in lines[1]
    assert "2 classes: blue, red" in out and "32x32" in lines[4]
    published = [ln for ln in lines if "weights" in ln and ln.endswith(":")]
    assert published and all(
        "published weights of test_resnet (not this checkpoint)" in ln for ln in published
    )
    code, out, _ = run_cli(capsys, "info", f"local-dir:{saved}", "--json")
    info = json.loads(out)
    assert info["checkpoint"]["label_names"] == ["blue", "red"] and info["checkpoint"]["num_classes"] == 2
    code, out, _ = run_cli(capsys, "info", MODEL)
    assert "\nweights:" in out and "not this checkpoint" not in out
