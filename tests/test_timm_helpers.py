"""timm's checkpoint helpers and model-name parsing, with timm's signatures and semantics.

``load_state_dict`` / ``load_checkpoint`` / ``resume_checkpoint`` (timm's ``_helpers``) and
``load_state_dict_from_path`` (timm's ``_hub``) take timm's arguments in timm's order, with its
defaults (``use_ema=True`` takes the EMA weights where a checkpoint has them), and answer as timm
does on the same files, written here as timm's ``train.py`` writes them (its ``argparse.Namespace``
included; any other global is still refused). ``parse_model_name`` parses names as timm does:
prefixes are case-insensitive, and a path or ``org/repo`` without one is refused with the prefixed
name to write instead.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import timm
import timm.models
import timm.models._helpers
import timm.models._hub
import torch
from safetensors.torch import save_file
from torch import nn

import visionzoo
from visionzoo import builder, hub
from visionzoo.integrity import StateDictMismatchError

pytestmark = pytest.mark.contract

ARCH = "test_resnet"


def _model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return visionzoo.create_model(ARCH, num_classes=3)


def _shifted(state: dict[str, torch.Tensor], by: float) -> dict[str, torch.Tensor]:
    return {k: v + by if v.is_floating_point() else v.clone() for k, v in state.items()}


def _assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    assert sorted(got) == sorted(want)  # a safetensors file keeps no order
    for k, v in want.items():
        torch.testing.assert_close(got[k], v, msg=k)


def _train_checkpoint(path: Path, *, version: int = 2) -> tuple[nn.Module, torch.optim.Optimizer, dict]:
    """A checkpoint laid out as timm's ``CheckpointSaver`` writes it from ``train.py``: model and
    EMA weights, optimizer, the run's ``argparse.Namespace``, epoch, version and metric."""
    model = _model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    opt.step()
    state = model.state_dict()
    ckpt = {
        "epoch": 4,
        "arch": ARCH,
        "state_dict": {f"module.{k}": v for k, v in state.items()},  # saved from DDP
        "optimizer": opt.state_dict(),
        "version": version,
        "args": argparse.Namespace(model=ARCH, lr=0.1, epochs=10),
        "amp_scaler": {"scale": 1024.0},
        "metric": 71.5,
        "state_dict_ema": _shifted(state, 1.0),
    }
    torch.save(ckpt, path)
    return model, opt, ckpt


# --- signatures -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (hub.load_state_dict, timm.models._helpers.load_state_dict),
        (builder.load_checkpoint, timm.models._helpers.load_checkpoint),
        (builder.resume_checkpoint, timm.models._helpers.resume_checkpoint),
        (hub.load_state_dict_from_path, timm.models._hub.load_state_dict_from_path),
        (hub.load_state_dict_from_hf, timm.models._hub.load_state_dict_from_hf),
    ],
    ids=lambda f: f.__qualname__ if callable(f) else None,
)
def test_helpers_take_timms_arguments_in_timms_order(ours: Callable, theirs: Callable) -> None:
    """timm's positional parameters, names and defaults are ours, in order (ours may add
    keyword-only ones after them)."""
    timm_params = list(inspect.signature(theirs).parameters.values())
    our_params = list(inspect.signature(ours).parameters.values())
    assert [(p.name, p.default, p.kind) for p in our_params[: len(timm_params)]] == [
        (p.name, p.default, p.kind) for p in timm_params
    ]
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in our_params[len(timm_params) :])


# --- resume_checkpoint ----------------------------------------------------------------------------
class _Scaler:
    """What timm's ``NativeScaler`` offers ``resume_checkpoint``: a key and ``load_state_dict``."""

    state_dict_key = "amp_scaler"

    def __init__(self) -> None:
        self.loaded: dict | None = None

    def load_state_dict(self, state: dict) -> None:
        self.loaded = state


@pytest.mark.parametrize(("version", "resume_at"), [(2, 5), (1, 4)])
def test_resume_a_timm_train_checkpoint(tmp_path: Path, version: int, resume_at: int) -> None:
    path = tmp_path / "last.pth.tar"
    trained, opt, _ = _train_checkpoint(path, version=version)
    fresh = _model(seed=1)
    fresh_opt = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    scaler = _Scaler()
    epoch = builder.resume_checkpoint(fresh, path, fresh_opt, scaler, False)
    oracle = timm.models.resume_checkpoint(_model(seed=2), str(path), log_info=False)
    assert epoch == oracle == resume_at
    _assert_same(fresh.state_dict(), trained.state_dict())  # the model's weights, not the EMA's
    assert scaler.loaded == {"scale": 1024.0}
    want, got = opt.state_dict(), fresh_opt.state_dict()
    assert got["param_groups"] == want["param_groups"]
    for i, s in want["state"].items():
        torch.testing.assert_close(got["state"][i]["momentum_buffer"], s["momentum_buffer"])


def test_resume_refuses_other_globals_and_missing_files(tmp_path: Path) -> None:
    path = tmp_path / "last.pth.tar"
    _, _, ckpt = _train_checkpoint(path)
    torch.save({**ckpt, "args": nn.Identity()}, path)  # a module, not the run's Namespace
    with pytest.raises(visionzoo.WeightsError, match=r"refusing to load .*torch\.nn\.modules"):
        builder.resume_checkpoint(_model(), path, weights_only=True)
    for resume in (builder.resume_checkpoint, timm.models.resume_checkpoint):
        with pytest.raises(FileNotFoundError):  # timm's exception type, here with a message
            resume(_model(), str(tmp_path / "missing.pth"))
    with pytest.raises(hub.WeightsNotFoundError, match="weights file not found: .*missing.pth"):
        builder.resume_checkpoint(_model(), tmp_path / "missing.pth")


# --- load_state_dict / load_checkpoint ------------------------------------------------------------
@pytest.mark.parametrize("use_ema", [True, False])
def test_load_state_dict_answers_as_timm(tmp_path: Path, use_ema: bool) -> None:
    path = tmp_path / "last.pth.tar"
    trained, _, ckpt = _train_checkpoint(path)
    ours = hub.load_state_dict(path, use_ema)
    _assert_same(ours, timm.models.load_state_dict(str(path), use_ema))
    want = ckpt["state_dict_ema"] if use_ema else trained.state_dict()
    _assert_same(ours, want)
    # the default is timm's: the EMA weights where there are some, else the model's
    _assert_same(hub.load_state_dict(path), ckpt["state_dict_ema"])
    plain = tmp_path / "plain.pth"
    torch.save(trained.state_dict(), plain)
    _assert_same(hub.load_state_dict(plain), trained.state_dict())


def test_load_state_dict_cleans_wrapper_prefixes_and_maps_to_device(tmp_path: Path) -> None:
    state = _model().state_dict()
    # DDP inside torch.compile and the other way round, as timm's clean_state_dict takes them
    wrapped = {
        (f"_orig_mod.module.{k}" if i % 2 else f"module._orig_mod.{k}"): v
        for i, (k, v) in enumerate(state.items())
    }
    save_file(wrapped, tmp_path / "w.safetensors")
    ours = hub.load_state_dict(tmp_path / "w.safetensors", device="meta")
    assert sorted(ours) == sorted(timm.models._helpers.clean_state_dict(wrapped)) == sorted(state)
    assert all(v.is_meta for v in ours.values())


def test_load_checkpoint_returns_the_incompatible_keys_as_timm(tmp_path: Path) -> None:
    state = _model().state_dict()
    dropped = "fc.weight"
    partial = {k: v for k, v in state.items() if k != dropped}
    partial["extra.weight"] = torch.zeros(2)
    path = tmp_path / "partial.pth"
    torch.save(partial, path)
    ours = builder.load_checkpoint(_model(seed=1), path, strict=False)
    theirs = timm.models.load_checkpoint(_model(seed=2), str(path), strict=False)
    assert (ours.missing_keys, ours.unexpected_keys) == (theirs.missing_keys, theirs.unexpected_keys)
    assert (ours.missing_keys, ours.unexpected_keys) == ([dropped], ["extra.weight"])
    with pytest.raises(StateDictMismatchError, match="missing keys .*fc.weight"):
        builder.load_checkpoint(_model(), path)  # strict=True, timm's default


def test_load_checkpoint_of_a_train_checkpoint_takes_the_ema_by_default(tmp_path: Path) -> None:
    path = tmp_path / "last.pth.tar"
    trained, _, ckpt = _train_checkpoint(path)
    ours, theirs = _model(seed=1), _model(seed=2)
    assert builder.load_checkpoint(ours, path) == ([], [])
    timm.models.load_checkpoint(theirs, str(path))
    _assert_same(ours.state_dict(), theirs.state_dict())
    _assert_same(ours.state_dict(), ckpt["state_dict_ema"])
    builder.load_checkpoint(ours, path, use_ema=False, device="cpu", weights_only=False)
    _assert_same(ours.state_dict(), trained.state_dict())


def test_load_checkpoint_remap_pairs_tensors_by_order(tmp_path: Path) -> None:
    state = _model().state_dict()
    renamed = {f"t{i}": v.flatten() if v.ndim == 4 else v for i, v in enumerate(state.values())}
    path = tmp_path / "renamed.pth"
    torch.save(renamed, path)
    ours, theirs = _model(seed=1), _model(seed=2)
    builder.load_checkpoint(ours, path, remap=True)
    timm.models.load_checkpoint(theirs, str(path), remap=True)
    _assert_same(ours.state_dict(), state)
    _assert_same(theirs.state_dict(), state)
    torch.save(dict(list(renamed.items())[:-1]), path)
    with pytest.raises(StateDictMismatchError, match="remap=True pairs tensors by order"):
        builder.load_checkpoint(_model(), path, remap=True)


# --- load_state_dict_from_path --------------------------------------------------------------------
def _write(folder: Path, names: list[str], state: dict[str, torch.Tensor]) -> None:
    folder.mkdir(exist_ok=True)
    for i, name in enumerate(names):
        tensors = _shifted(state, float(i))  # each file told apart by its values
        if name.endswith(".safetensors"):
            save_file(tensors, folder / name)
        else:
            torch.save(tensors, folder / name)


@pytest.mark.parametrize(
    ("names", "picked", "warns"),
    [
        (["pytorch_model.bin", "model.safetensors"], "model.safetensors", False),
        (["a.bin", "b.pth", "z.safetensors"], "z.safetensors", False),
        (["b.pth", "a.pth", "c.bin"], "a.pth", True),
        (["run.pth.tar", "w.bin"], "run.pth.tar", False),
    ],
)
def test_load_state_dict_from_path_prefers_as_timm(
    tmp_path: Path, names: list[str], picked: str, warns: bool
) -> None:
    state = _model().state_dict()
    folder = tmp_path / "w"
    _write(folder, names, state)
    if warns:
        with pytest.warns(
            UserWarning, match=r"several \.pth weights files .*\(a\.pth, b\.pth\); using a\.pth"
        ):
            ours = hub.load_state_dict_from_path(folder)
    else:
        ours = hub.load_state_dict_from_path(folder)
    _assert_same(ours, timm.models._hub.load_state_dict_from_path(folder))
    _assert_same(ours, _shifted(state, float(names.index(picked))))


def test_load_state_dict_from_path_names_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no weights here")
    for load in (hub.load_state_dict_from_path, timm.models._hub.load_state_dict_from_path):
        with pytest.raises(RuntimeError):  # timm's type; ours says what it looked for
            load(tmp_path)
    with pytest.raises(
        hub.WeightsNotFoundError, match=r"no model\.safetensors or pytorch_model\.bin in folder"
    ):
        hub.load_state_dict_from_path(tmp_path)
    with pytest.raises(hub.WeightsNotFoundError, match="is a file, not a folder"):
        hub.load_state_dict_from_path(tmp_path / "notes.txt")


# --- names as timm parses them --------------------------------------------------------------------
@pytest.mark.parametrize(
    "name",
    [
        "resnet50",
        "resnet50.a1_in1k",
        "HF-HUB:timm/resnet18.a1_in1k",
        "Hf_Hub:timm/x",
        "LOCAL-DIR:/a/b",
        "local-dir:C:\\w",
    ],
)
def test_parse_model_name_matches_timm(name: str) -> None:
    assert visionzoo.parse_model_name(name) == timm.models.parse_model_name(name)


@pytest.mark.parametrize(
    ("name", "advice"),
    [
        ("/home/me/run", "a filesystem path; .* use 'local-dir:/home/me/run'"),
        ("./run", "a filesystem path; .* use 'local-dir:./run'"),
        ("C:\\runs\\x", r"a filesystem path; .* use 'local-dir:C:\\runs\\x'"),
        ("\\\\server\\share\\x", r"a filesystem path; .* use 'local-dir:\\\\server\\share\\x'"),
        (
            "timm/resnet50.a1_in1k",
            "use 'hf-hub:timm/resnet50.a1_in1k' for the Hub or 'local-dir:timm/resnet50",
        ),
    ],
)
def test_a_path_or_repo_id_without_prefix_is_refused_with_the_prefix_to_use(name: str, advice: str) -> None:
    with pytest.raises(ValueError):
        timm.models.parse_model_name(name)  # timm refuses them too
    with pytest.raises(ValueError, match=advice):
        visionzoo.parse_model_name(name)
    with pytest.raises(ValueError, match=advice):  # before any registry look-up
        visionzoo.create_model(name)


def test_source_prefixes_are_case_insensitive_in_create_model(tmp_path: Path) -> None:
    saved = _model()
    visionzoo.save_pretrained(saved, tmp_path / "run")
    for prefix in ("local-dir:", "LOCAL-DIR:", "Local-Dir:"):
        model = visionzoo.create_model(f"{prefix}{tmp_path / 'run'}", pretrained=True)
        assert model.pretrained_cfg.source == "local-dir"
        _assert_same(model.state_dict(), saved.state_dict())
    with pytest.raises(ValueError, match="unknown source 'LOCAL-DIRS:'"):
        visionzoo.create_model(f"LOCAL-DIRS:{tmp_path / 'run'}")


def test_a_path_as_model_name_is_one_line_in_the_cli(capsys: pytest.CaptureFixture[str]) -> None:
    """The refusal is the library's user-facing name error, so the CLI prints it without a traceback."""
    from visionzoo.cli import main

    assert main(["info", "./runs/best"]) == 2
    err = capsys.readouterr().err
    assert "use 'local-dir:./runs/best'" in err and "Traceback" not in err


# --- load_state_dict_from_hf ----------------------------------------------------------------------
def _file_bytes(name: str, tensors: dict[str, torch.Tensor]) -> bytes:
    import io

    from safetensors.torch import save

    if name.endswith(".safetensors"):
        return save(tensors)
    buffer = io.BytesIO()
    torch.save(tensors, buffer)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("names", "filename", "picked"),
    [
        (["pytorch_model.bin", "model.safetensors"], None, "model.safetensors"),
        (["pytorch_model.bin", "model.safetensors"], "pytorch_model.bin", "model.safetensors"),
        (["pytorch_model.bin"], None, "pytorch_model.bin"),
        (["w.bin", "w.safetensors", "model.safetensors"], "w.bin", "w.safetensors"),
        (["pytorch_model.bin", "model.safetensors"], "model.safetensors", "model.safetensors"),
        (
            ["open_clip_pytorch_model.bin", "open_clip_model.safetensors"],
            "open_clip_pytorch_model.bin",
            "open_clip_model.safetensors",
        ),
    ],
)
@pytest.mark.parametrize("revision", ["", "@main"])
def test_load_state_dict_from_hf_prefers_safetensors_as_timm(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    no_network: None,
    names: list[str],
    filename: str | None,
    picked: str,
    revision: str,
) -> None:
    """Through the real huggingface_hub client, offline, from a cache laid out as it stores one."""
    import huggingface_hub.constants
    from helpers import lay_out_hub_cache

    state = _model().state_dict()
    files = {name: _file_bytes(name, _shifted(state, float(i))) for i, name in enumerate(names)}
    lay_out_hub_cache(tmp_path, "someone/weights", files)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)  # read at import
    args = {"filename": filename} if filename else {}
    model_id = f"someone/weights{revision}"
    ours = hub.load_state_dict_from_hf(model_id, cache_dir=tmp_path, **args)
    _assert_same(ours, _shifted(state, float(names.index(picked))))
    _assert_same(ours, timm.models._hub.load_state_dict_from_hf(model_id, cache_dir=tmp_path, **args))
    assert (
        importlib.import_module("visionzoo.models._hub").load_state_dict_from_hf
        is hub.load_state_dict_from_hf
    )


def test_load_state_dict_from_hf_says_what_is_missing_or_wrong(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: None
) -> None:
    from helpers import lay_out_hub_cache

    lay_out_hub_cache(tmp_path, "someone/weights", {"config.json": b"{}"})
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(hub.WeightsUnavailable, match=r"of someone/weights is not in the Hugging Face cache"):
        hub.load_state_dict_from_hf("someone/weights", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="'org/repo\\[@revision\\]', got 'weights'"):
        hub.load_state_dict_from_hf("weights", cache_dir=tmp_path)
    with pytest.raises(TypeError, match="weights_only must be a bool, got 'yes'"):
        hub.load_state_dict_from_hf("someone/weights", weights_only="yes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="filename must be a file name in the repo, got None"):
        hub.load_state_dict_from_hf("someone/weights", filename=None)  # type: ignore[arg-type]
