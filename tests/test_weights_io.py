"""Weights I/O: a loaded model owns its memory, downloads are verified before they are cached,
the pickle allow-list is exact (timm training checkpoints load, code is refused), formats are told
by content, and the table of weight sources drives has_weights, prefixes, overlays and advice.
Saving atomically and concurrently is in test_save_atomic.py."""

from __future__ import annotations

import argparse
import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from helpers import http_server, write_safetensors

import visionzoo
from visionzoo import hub
from visionzoo.hub import WeightsError, WeightsUnavailable
from visionzoo.pretrained import PretrainedCfg

pytestmark = pytest.mark.reliability

ARCH = "test_resnet"
REPO = Path(__file__).resolve().parents[1]


def _random_weights() -> dict[str, torch.Tensor]:
    """Freshly initialised weights with random BatchNorm statistics (distinct per tensor)."""
    model = visionzoo.create_model(ARCH)
    return {
        k: (
            v.clone()
            if k.endswith("num_batches_tracked")
            else torch.rand_like(v, dtype=v.dtype)
            if v.is_floating_point()
            else v.clone()
        )
        for k, v in model.state_dict().items()
    }


@pytest.fixture(scope="module")
def weights() -> dict[str, torch.Tensor]:
    return _random_weights()


def _same(model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(v, weights[k]) for k, v in model.state_dict().items() if k in weights)


# --- 1. a loaded model owns its memory -------------------------------------------------------------
def _load_all(path: Path) -> list[tuple[str, torch.nn.Module]]:
    """The model from every public route that loads a file."""
    out = [
        (
            "create_model(pretrained)",
            visionzoo.create_model(ARCH, pretrained=True, pretrained_cfg_overlay=dict(file=str(path))),
        ),
        ("create_model(checkpoint_path)", visionzoo.create_model(ARCH, checkpoint_path=path)),
    ]
    model = visionzoo.create_model(ARCH, device="meta")
    visionzoo.load_checkpoint(model, path)
    out.append(("load_checkpoint(meta)", model))
    model = visionzoo.create_model(ARCH, device="meta")
    visionzoo.load_pretrained(model, dict(model.pretrained_cfg, file=str(path)))
    out.append(("load_pretrained(meta)", model))
    return out


def _rewrite_files_under_live_models(folder: Path, weights: dict[str, torch.Tensor]) -> None:
    x = torch.randn(1, 3, 32, 32)
    for fmt in ("safetensors", "pth"):
        path = folder / f"w.{fmt}"
        for action in ("save back", "overwrite", "truncate"):
            write_safetensors(weights, path) if fmt == "safetensors" else torch.save(weights, path)
            for route, model in _load_all(path):
                before = model.eval()(x)
                if action == "save back":
                    torch.save(model.state_dict(), path)
                elif action == "overwrite":
                    with path.open("r+b") as f:
                        f.write(b"\xff" * (path.stat().st_size - 64))
                else:
                    os.truncate(path, 16)
                where = (fmt, action, route)
                assert _same(model, weights), where
                assert torch.equal(model(x), before), where
                write_safetensors(weights, path) if fmt == "safetensors" else torch.save(weights, path)


def test_loaded_model_owns_its_memory(tmp_path: Path, weights: dict) -> None:
    """Saving back to the file a model came from, overwriting it in place or truncating it leaves
    the live model unchanged and the process alive (it died with SIGBUS when the weights were
    memory-mapped). In a forked child process, for safetensors and .pth, through create_model
    (pretrained and checkpoint_path), load_checkpoint and load_pretrained."""
    import multiprocessing

    proc = multiprocessing.get_context("fork").Process(
        target=_rewrite_files_under_live_models, args=(tmp_path, weights)
    )
    proc.start()
    proc.join(timeout=120)
    assert proc.exitcode == 0, (
        f"exit code {proc.exitcode} (negative: killed by that signal; 1: a check failed)"
    )


def test_mmap_is_an_explicit_opt_in(tmp_path: Path, weights: dict) -> None:
    """``mmap=True`` is zero-copy: the tensors are the file's bytes (its documented caveat);
    the default is a copy."""
    path = write_safetensors(weights, tmp_path / "w.safetensors")
    mapped = hub.load_state_dict(path, mmap=True)
    owned = hub.load_state_dict(path)
    key = next(k for k, v in weights.items() if v.ndim == 4)
    offset = path.read_bytes().index(weights[key].numpy().tobytes())
    with path.open("r+b") as f:
        f.seek(offset)
        f.write(torch.zeros_like(weights[key]).numpy().tobytes())
    assert torch.equal(mapped[key], torch.zeros_like(weights[key]))
    assert torch.equal(owned[key], weights[key])


@pytest.mark.parametrize("fmt", ["safetensors", "pth"])
def test_owned_load_is_exact_for_every_dtype(tmp_path: Path, fmt: str) -> None:
    tensors = {
        str(d): torch.arange(6).reshape(2, 3).to(d)
        for d in (torch.float32, torch.float16, torch.bfloat16, torch.int64, torch.uint8, torch.bool)
    }
    tensors["scalar"] = torch.tensor(3.5)
    tensors["empty"] = torch.zeros(0, 4)
    path = tmp_path / f"w.{fmt}"
    write_safetensors(tensors, path) if fmt == "safetensors" else torch.save(tensors, path)
    loaded = hub.load_state_dict(path)
    assert loaded.keys() == tensors.keys()
    for k, v in tensors.items():
        assert loaded[k].dtype == v.dtype and torch.equal(loaded[k], v), k


def test_non_finite_scan_names_exactly_the_tensors_with_nan_or_inf() -> None:
    """The scan sums each tensor first (NaN and Inf survive a sum) and looks element by element
    only where the sum is not finite: finite values whose sum overflows (float32 near its
    maximum, float16 past 65504) are not reported; a NaN or an Inf anywhere in any float or
    complex dtype is."""
    from visionzoo.integrity import non_finite_tensors

    def with_value(dtype: torch.dtype, value: complex) -> torch.Tensor:
        t = torch.ones(1000, dtype=dtype)
        t[537] = value
        return t

    state = {
        "huge_f32": torch.full((64,), 3e38),
        "huge_f16": torch.full((64,), 60000.0, dtype=torch.float16),
        "huge_f64": torch.full((64,), 1.7e308, dtype=torch.float64),
        "ints": torch.arange(10),
        "meta": torch.empty(3, device="meta"),
        "nan_f32": with_value(torch.float32, float("nan")),
        "inf_f16": with_value(torch.float16, float("inf")),
        "neg_inf_bf16": with_value(torch.bfloat16, float("-inf")),
        "nan_f64": with_value(torch.float64, float("nan")),
        "nan_c64": with_value(torch.complex64, complex(1.0, float("nan"))),
        "fine_c64": torch.ones(8, dtype=torch.complex64),
    }
    assert non_finite_tensors(state) == ["nan_f32", "inf_f16", "neg_inf_bf16", "nan_f64", "nan_c64"]


# --- 3. downloads are verified before they reach the cache ------------------------------------------
def _valid_bytes(tmp_path: Path, weights: dict, fmt: str) -> bytes:
    path = tmp_path / f"src.{fmt}"
    write_safetensors(weights, path) if fmt == "safetensors" else torch.save(weights, path)
    return path.read_bytes()


@pytest.mark.parametrize("fmt", ["safetensors", "pth"])
@pytest.mark.parametrize("bad", ["nolength-cut", "html"])
def test_bad_download_never_reaches_the_cache_and_a_retry_succeeds(
    tmp_path: Path, weights: dict, fmt: str, bad: str
) -> None:
    """A stream cut without Content-Length, or an HTML login page served with status 200, is
    refused before the rename; the cache holds nothing and a retry against a good server works."""
    data = _valid_bytes(tmp_path, weights, fmt)
    html = b"<!DOCTYPE html><html><body>Please log in</body></html>"
    cache = tmp_path / "cache"
    with http_server() as (base, routes, _):
        routes[f"/w.{fmt}"] = (html, "ok") if bad == "html" else (data, "nolength-cut")
        with pytest.raises(WeightsError, match=f"download of {base}/w.{fmt} is not a usable") as info:
            hub.download_url(f"{base}/w.{fmt}", cache, progress=False)
        if bad == "html":
            assert "HTML page" in str(info.value)
        assert list(cache.iterdir()) == []
        routes[f"/w.{fmt}"] = (data, "nolength")
        model = visionzoo.create_model(
            ARCH, pretrained=True, pretrained_cfg_overlay=dict(url=f"{base}/w.{fmt}"), cache_dir=cache
        )
    assert _same(model, weights)
    assert [p.name for p in cache.iterdir()] == [f"w.{fmt}"]


def test_download_named_safetensors_must_be_safetensors(tmp_path: Path, weights: dict) -> None:
    data = _valid_bytes(tmp_path, weights, "pth")
    with http_server() as (base, routes, _):
        routes["/w.safetensors"] = (data, "ok")
        with pytest.raises(WeightsError, match="named .safetensors but it is a PyTorch zip"):
            hub.download_url(f"{base}/w.safetensors", tmp_path / "cache", progress=False)
    assert list((tmp_path / "cache").iterdir()) == []


@pytest.mark.parametrize("how", ["keyword", "env"])
def test_slow_server_hits_the_overall_deadline(
    tmp_path: Path, weights: dict, how: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that drips a byte every 50 ms never trips the per-read timeout; the overall
    deadline (keyword or VISIONZOO_DOWNLOAD_DEADLINE) ends the download, keeping nothing."""
    kwargs = {}
    if how == "keyword":
        kwargs["deadline"] = 0.5
    else:
        monkeypatch.setenv(hub.DEADLINE_ENV, "0.5")
    with http_server() as (base, routes, _):
        routes["/w.safetensors"] = (_valid_bytes(tmp_path, weights, "safetensors"), "drip")
        with pytest.raises(WeightsError, match="deadline"):
            hub.download_url(f"{base}/w.safetensors", tmp_path / "cache", progress=False, timeout=5, **kwargs)
    assert list((tmp_path / "cache").iterdir()) == []


def test_bad_deadline_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(hub.DEADLINE_ENV, "soon")
    with pytest.raises(ValueError, match="VISIONZOO_DOWNLOAD_DEADLINE='soon'"):
        hub.download_url("http://127.0.0.1:9/w.pth", tmp_path, progress=False)


# --- 4. the security path ---------------------------------------------------------------------------
class _Exec:
    def __reduce__(self) -> tuple:
        return (exec, ("open('PWNED_BY_EXEC', 'w').close()",))


@pytest.mark.parametrize("layout", ["pickle", "torch zip", "legacy torch"])
def test_pickle_calling_builtins_exec_is_refused_as_code(
    tmp_path: Path, layout: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``builtins`` is not allowed wholesale: a pickle calling ``builtins.exec`` is refused as
    code (not called corrupt), and never runs."""
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pth"
    payload = {"conv1.weight": torch.zeros(1), "x": _Exec()}
    if layout == "pickle":
        path.write_bytes(pickle.dumps(payload, protocol=2))
    else:
        torch.save(payload, path, _use_new_zipfile_serialization=layout == "torch zip")
    with pytest.raises(WeightsError, match=r"refusing to load .*builtins\.exec"):
        visionzoo.create_model(ARCH, checkpoint_path=path)
    assert not (tmp_path / "PWNED_BY_EXEC").exists()


def _timm_training_checkpoint(tmp_path: Path, args: argparse.Namespace) -> Path:
    """A checkpoint in the layout timm's train.py writes (``timm.utils.CheckpointSaver``)."""
    model = visionzoo.create_model(ARCH)
    params = list(model.parameters())
    # what torch.optim.SGD(momentum=0.9).state_dict() holds after a step (built directly: importing
    # torch.optim costs seconds)
    optimizer = {
        "state": {i: {"momentum_buffer": torch.randn_like(p)} for i, p in enumerate(params)},
        "param_groups": [
            {
                "lr": 0.1,
                "momentum": 0.9,
                "dampening": 0,
                "weight_decay": 0.0,
                "nesterov": False,
                "maximize": False,
                "foreach": None,
                "differentiable": False,
                "fused": None,
                "params": list(range(len(params))),
            }
        ],
    }
    checkpoint = {
        "epoch": 3,
        "arch": ARCH,
        "optimizer": optimizer,
        "version": 2,
        "args": args,
        "state_dict": model.state_dict(),
        "metric": 41.5,
        "saver": {"checkpoint_files": [], "best_epoch": None, "best_metric": None, "pending": (3, 41.5)},
    }
    path = tmp_path / "last.pth.tar"
    torch.save(checkpoint, path)
    torch.save(model.state_dict(), tmp_path / "expected.pth")
    return path


def test_timm_training_checkpoint_loads(tmp_path: Path) -> None:
    """timm's train.py stores its argparse.Namespace under ``args``: allowed for that load only."""
    args = argparse.Namespace(model=ARCH, lr=0.1, epochs=3, mean=None, aa="rand-m9", betas=[0.9, 0.99])
    path = _timm_training_checkpoint(tmp_path, args)
    expected = torch.load(tmp_path / "expected.pth")
    model = visionzoo.create_model(ARCH, checkpoint_path=path)
    assert _same(model, expected)
    other = visionzoo.create_model(ARCH)
    visionzoo.load_checkpoint(other, path)
    assert _same(other, expected)
    assert argparse.Namespace not in torch.serialization.get_safe_globals()


class _NotPlainData:
    pass


def test_training_checkpoint_with_other_objects_in_args_is_refused(tmp_path: Path) -> None:
    """Exactly the plain-data globals: a Namespace holding another class is still refused."""
    path = _timm_training_checkpoint(tmp_path, argparse.Namespace(model=ARCH, hook=_NotPlainData()))
    with pytest.raises(WeightsError, match=r"refusing to load .*_NotPlainData"):
        visionzoo.create_model(ARCH, checkpoint_path=path)
    assert argparse.Namespace not in torch.serialization.get_safe_globals()


def test_format_is_told_by_content(tmp_path: Path, weights: dict) -> None:
    """A valid safetensors file named .pth loads; a torch zip named .safetensors is refused with
    a message that says what it is."""
    named_pth = write_safetensors(weights, tmp_path / "w.pth")
    assert _same(visionzoo.create_model(ARCH, checkpoint_path=named_pth), weights)
    torch.save(weights, tmp_path / "w.safetensors")
    with pytest.raises(WeightsError, match=r"w\.safetensors is named \.safetensors but holds a PyTorch zip"):
        visionzoo.create_model(ARCH, checkpoint_path=tmp_path / "w.safetensors")


@pytest.mark.parametrize("content", ["null", "[1, 2]", '"resnet18"', '{"architecture": null}'])
def test_config_json_that_is_not_an_object_is_named(tmp_path: Path, weights: dict, content: str) -> None:
    folder = tmp_path / "saved"
    folder.mkdir()
    write_safetensors(weights, folder / "model.safetensors")
    (folder / "config.json").write_text(content)
    with pytest.raises(WeightsError, match=str(folder / "config.json")):
        visionzoo.create_model(f"local-dir:{folder}", pretrained=True)


# --- 5. the table of weight sources -----------------------------------------------------------------
def test_hub_layers_import_one_way() -> None:
    """formats <- download <- sources: a file format knows nothing of downloads, a download
    nothing of the table of sources (read from the source, lazy imports included)."""
    from test_import_cycles import import_graph

    graph = import_graph()
    layers = ["visionzoo.hub.formats", "visionzoo.hub.download", "visionzoo.hub.sources"]
    for i, layer in enumerate(layers):
        assert not graph[layer] & {"visionzoo.hub", *layers[i + 1 :]}, (layer, graph[layer])
    assert set(layers[:2]) <= graph["visionzoo.hub.sources"]


def test_sources_table_names_real_fields_in_priority_order() -> None:
    fields = set(PretrainedCfg.__dataclass_fields__)
    assert [s.name for s in hub.SOURCES] == ["state_dict", "file", "hf-hub", "url"]
    for s in hub.SOURCES:
        assert {s.cfg_field, *s.extra_fields} <= fields
    from visionzoo.pretrained import SOURCE_KEYS

    # the fields a saved config drops (declared beside the config) are the table's
    assert {"source", "state_dict", "file", "hf_hub_id", "hf_hub_filename", "url"} == SOURCE_KEYS
    assert hub.source_fields() == SOURCE_KEYS
    # priority: the first source set is the one used
    cfg = PretrainedCfg(url="http://x/w.pth", hf_hub_id="org/repo", file="w.pth")
    assert hub.selected_source(cfg) is not None and hub.selected_source(cfg).name == "file"


def test_has_weights_prefixes_overlay_and_advice_follow_the_table(
    tmp_path: Path, weights: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adding or removing a source is one entry: has_weights, SOURCE_KEYS, the name prefixes,
    the overlay reset and the offline advice all follow it."""
    folder = tmp_path / "saved"
    model = visionzoo.create_model(ARCH, pretrained=True, pretrained_cfg_overlay=dict(state_dict=weights))
    visionzoo.save_pretrained(model, folder)
    original = hub.SOURCES
    by_name = {s.name: s for s in original}
    # a new source selected by the license field (any field will do) and a name prefix
    extra = hub.WeightSource(
        name="test-dir",
        cfg_field="license",
        fetch=lambda value, cfg, **_: hub.load_state_dict(value),
        prefixes=("test-dir:",),
        config_of=lambda location, cache_dir: Path(location) / "config.json",
        offline_example="'somewhere'",
    )
    # the one table is where it is defined (visionzoo.hub re-exports it for reading)
    monkeypatch.setattr(hub.sources, "SOURCES", (by_name["state_dict"], by_name["hf-hub"], extra))
    assert not hub.has_weights(PretrainedCfg(url="http://x/w.pth"))  # url removed from the table
    assert hub.has_weights(PretrainedCfg(license=str(folder)))
    assert "license" in hub.source_fields() and "url" not in hub.source_fields()
    assert visionzoo.parse_model_name(f"test-dir:{folder}") == ("test-dir", str(folder))
    with pytest.raises(ValueError, match="unknown source 'local-dir:'; valid: hf-hub:, hf_hub:, test-dir:"):
        visionzoo.parse_model_name(f"local-dir:{folder}")  # removed from the table: not a name either
    model = visionzoo.create_model(f"test-dir:{folder}", pretrained=True)
    assert model.pretrained_cfg.license == str(folder) and _same(model, weights)
    # an overlay naming a source replaces the config's others
    cfg = hub.overlay_cfg(PretrainedCfg(hf_hub_id="org/repo", hf_hub_filename="x.bin"), dict(license="y"))
    assert (cfg.hf_hub_id, cfg.hf_hub_filename, cfg.license) == (None, None, "y")
    advice = hub.offline_advice()
    assert "dict(license='somewhere')" in advice and "create_model('test-dir:PATH')" in advice
    assert "local-dir:" not in advice
    monkeypatch.setattr(hub.sources, "SOURCES", original)
    assert "local-dir:" in hub.offline_advice()


def test_overlay_with_a_source_replaces_the_registrys(tmp_path: Path, weights: dict) -> None:
    """An overlaid URL is used although the registry's config names a Hub repo (which would
    otherwise win by priority)."""
    data = _valid_bytes(tmp_path, weights, "safetensors")
    with http_server() as (base, routes, hits):
        routes["/w.safetensors"] = (data, "ok")
        model = visionzoo.create_model(
            "test_resnet.r160_in1k",
            pretrained=True,
            pretrained_cfg_overlay=dict(url=f"{base}/w.safetensors"),
            cache_dir=tmp_path / "cache",
        )
    assert visionzoo.get_pretrained_cfg("test_resnet.r160_in1k").hf_hub_id
    assert model.pretrained_cfg.hf_hub_id is None and hits == ["/w.safetensors"]
    assert _same(model, weights)


def test_offline_raises_weights_unavailable_with_advice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CLI reacts to the type and its ``advice``, not to the message text."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    for overlay in (None, dict(url="https://example.org/w/r18-0123abcd.pth")):
        with pytest.raises(WeightsUnavailable) as info:
            visionzoo.create_model(
                "resnet18.a1_in1k", pretrained=True, pretrained_cfg_overlay=overlay, cache_dir=tmp_path
            )
        assert info.value.advice in str(info.value)
        for source in hub.SOURCES:
            if source.offline_example:
                assert f"dict({source.cfg_field}=" in info.value.advice
                assert all(p in info.value.advice for p in source.prefixes)


def test_docs_list_the_sources_of_the_table() -> None:
    text = (REPO / "docs" / "usage.md").read_text()
    assert hub.sources_markdown() in text, (
        "docs/usage.md: paste hub.sources_markdown() under 'Where weights come from'"
    )


def test_config_json_round_trip_survives_json(tmp_path: Path, weights: dict) -> None:
    """The saved config names no source (those are where the weights were, not what they are)."""
    model = visionzoo.create_model(ARCH, pretrained=True, pretrained_cfg_overlay=dict(state_dict=weights))
    visionzoo.save_pretrained(model, tmp_path / "saved")
    config = json.loads((tmp_path / "saved" / "config.json").read_text())
    assert not set(config["pretrained_cfg"]) & hub.source_fields()


# --- 2 (part). save_pretrained writes stats for the model's channel count ----------------------------
@pytest.mark.parametrize("in_chans", [1, 2, 4])
def test_saved_mean_std_have_in_chans_values(tmp_path: Path, in_chans: int) -> None:
    """The saved config has ``mean``/``std`` of length ``in_chans``: the model's own (its config
    follows ``in_chans``; one channel: the mean of the three, as timm uses them), or, for a
    config that still has three values, timm's rule for a length mismatch (the average,
    ``timm.data.loader.adapt_to_chs``). timm's data pipeline then runs on the model's input."""
    import dataclasses

    import numpy as np
    import timm
    from timm.data import create_transform, resolve_data_config
    from timm.data.loader import adapt_to_chs

    src = visionzoo.get_pretrained_cfg("test_resnet.r160_in1k")
    model = visionzoo.create_model("test_resnet.r160_in1k", in_chans=in_chans, num_classes=4)
    visionzoo.save_pretrained(model, tmp_path / "own")
    cfg = json.loads((tmp_path / "own" / "config.json").read_text())["pretrained_cfg"]
    assert (tuple(cfg["mean"]), tuple(cfg["std"])) == (model.pretrained_cfg.mean, model.pretrained_cfg.std)
    assert len(cfg["mean"]) == len(cfg["std"]) == cfg["input_size"][0] == in_chans
    if in_chans == 1:
        assert tuple(cfg["mean"]) == adapt_to_chs(src.mean, 1) and tuple(cfg["std"]) == adapt_to_chs(
            src.std, 1
        )
    model.pretrained_cfg = dataclasses.replace(model.pretrained_cfg, mean=src.mean, std=src.std)
    visionzoo.save_pretrained(model, tmp_path / "rgb_cfg")
    cfg = json.loads((tmp_path / "rgb_cfg" / "config.json").read_text())["pretrained_cfg"]
    assert tuple(cfg["mean"]) == adapt_to_chs(src.mean, in_chans)
    assert tuple(cfg["std"]) == adapt_to_chs(src.std, in_chans)
    for folder in ("own", "rgb_cfg"):
        ref = timm.create_model(f"local-dir:{tmp_path / folder}", pretrained=True)
        data_cfg = resolve_data_config(model=ref)
        assert len(data_cfg["mean"]) == in_chans and data_cfg["input_size"][0] == in_chans
        normalize = create_transform(**{k: v for k, v in data_cfg.items() if k != "crop_mode"}).transforms[-1]
        image = torch.from_numpy(np.random.rand(in_chans, 40, 40).astype("float32"))
        assert normalize(image).shape == (in_chans, 40, 40)
    ours = visionzoo.create_model(f"local-dir:{tmp_path / 'own'}", pretrained=True)
    assert _same(ours, model.state_dict())
