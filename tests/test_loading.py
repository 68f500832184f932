"""The real weight-loading code, offline: local files, a loopback HTTP server, a laid-out Hub
cache, local-dir round trips (ours and timm's), in_chans / num_classes adaptation, and bad input."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
import torch
from helpers import hashed_name, http_server, lay_out_hub_cache, random_state_dict, write_safetensors
from timm_oracle import timm

import visionzoo
from visionzoo.adapt import adapt_input_conv
from visionzoo.hub import WeightsError

pytestmark = pytest.mark.loading

ARCH = "resnet18"


@pytest.fixture(scope="module")
def weights() -> dict[str, torch.Tensor]:
    return random_state_dict(ARCH)


def _assert_loaded(
    model: torch.nn.Module, state: dict[str, torch.Tensor], skip: tuple[str, ...] = ()
) -> None:
    ours = model.state_dict()
    for key, value in state.items():
        if key.startswith(skip):
            continue
        assert torch.equal(ours[key], value), key


# --- sources --------------------------------------------------------------------------------------
def test_local_safetensors_file(tmp_path: Path, weights: dict) -> None:
    f = write_safetensors(weights, tmp_path / "w.safetensors")
    model = visionzoo.create_model(ARCH, pretrained=True, pretrained_cfg_overlay=dict(file=str(f)))
    _assert_loaded(model, weights)
    assert not any(t.is_meta for t in model.state_dict().values())


def test_local_pth_file_and_training_checkpoint(tmp_path: Path, weights: dict) -> None:
    plain = tmp_path / "plain.pth"
    torch.save(weights, plain)
    model = visionzoo.create_model(ARCH, pretrained=True, pretrained_cfg_overlay=dict(file=str(plain)))
    _assert_loaded(model, weights)

    # a DDP training checkpoint: wrapped in "state_dict", keys prefixed "module.", plus an EMA copy
    ema = {k: v + 1 if v.is_floating_point() else v for k, v in weights.items()}
    ckpt = tmp_path / "train.pth.tar"
    torch.save(
        {
            "epoch": 3,
            "state_dict": {f"module.{k}": v for k, v in weights.items()},
            "state_dict_ema": ema,
            "optimizer": {"lr": 0.1},
        },
        ckpt,
    )
    model = visionzoo.create_model(ARCH, checkpoint_path=ckpt)
    _assert_loaded(model, ema)  # as timm's create_model: the EMA weights where there are some
    fresh = visionzoo.create_model(ARCH)
    visionzoo.load_checkpoint(fresh, ckpt, use_ema=False)
    _assert_loaded(fresh, weights)


def test_url_download_through_loopback_server(tmp_path: Path, weights: dict) -> None:
    src = tmp_path / "src.pth"
    torch.save(weights, src)
    name = hashed_name(src, "resnet18_test")
    cache = tmp_path / "cache"
    with http_server() as (base, routes, hits):
        routes[f"/w/{name}"] = (src.read_bytes(), "ok")
        overlay = dict(url=f"{base}/w/{name}", hf_hub_id=None)
        model = visionzoo.create_model(ARCH, pretrained=True, pretrained_cfg_overlay=overlay, cache_dir=cache)
        _assert_loaded(model, weights)
        assert (cache / name).is_file()
        # second build: served from the cache, no request
        visionzoo.create_model(ARCH, pretrained=True, pretrained_cfg_overlay=overlay, cache_dir=cache)
        assert hits == [f"/w/{name}"]
    assert sorted(p.name for p in cache.iterdir()) == [name]


def test_cut_download_leaves_nothing(tmp_path: Path, weights: dict) -> None:
    src = tmp_path / "src.pth"
    torch.save(weights, src)
    name = hashed_name(src, "cut")
    cache = tmp_path / "cache"
    with http_server() as (base, routes, _):
        routes[f"/{name}"] = (src.read_bytes(), "cut")
        overlay = dict(url=f"{base}/{name}", hf_hub_id=None)
        with pytest.raises(WeightsError, match="download"):
            visionzoo.create_model(ARCH, pretrained=True, pretrained_cfg_overlay=overlay, cache_dir=cache)
    assert list(cache.iterdir()) == []


def test_wrong_bytes_fail_the_hash_check(tmp_path: Path, weights: dict) -> None:
    src = tmp_path / "src.pth"
    torch.save(weights, src)
    name = hashed_name(src, "bad")
    corrupt = bytearray(src.read_bytes())
    corrupt[len(corrupt) // 2] ^= 0xFF
    cache = tmp_path / "cache"
    with http_server() as (base, routes, _):
        routes[f"/{name}"] = (bytes(corrupt), "ok")
        with pytest.raises(WeightsError, match="sha256"):
            visionzoo.create_model(
                ARCH,
                pretrained=True,
                pretrained_cfg_overlay=dict(url=f"{base}/{name}", hf_hub_id=None),
                cache_dir=cache,
            )
    assert list(cache.iterdir()) == []


def test_hub_cache_offline_and_with_sockets_blocked(
    tmp_path: Path, weights: dict, monkeypatch: pytest.MonkeyPatch, no_network: None
) -> None:
    import safetensors.torch

    cache = tmp_path / "hf"
    lay_out_hub_cache(cache, "timm/resnet18.a1_in1k", {"model.safetensors": safetensors.torch.save(weights)})
    # cached: loads with no network call at all, online or offline
    model = visionzoo.create_model("resnet18.a1_in1k", pretrained=True, cache_dir=cache)
    _assert_loaded(model, weights)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = visionzoo.create_model("resnet18.a1_in1k", pretrained=True, cache_dir=cache)
    _assert_loaded(model, weights)
    # offline and not cached: a clear message saying how to provide the file
    with pytest.raises(WeightsError, match=r"offline.*pretrained_cfg_overlay=dict\(file="):
        visionzoo.create_model("resnet18.a2_in1k", pretrained=True, cache_dir=cache)


def test_hf_hub_name_reads_config_and_weights_from_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_network: None
) -> None:
    import safetensors.torch

    state = random_state_dict(ARCH, num_classes=5, in_chans=1)
    config = {
        "architecture": ARCH,
        "num_classes": 5,
        "num_features": 512,
        "model_args": {"in_chans": 1},
        "pretrained_cfg": {"input_size": [1, 96, 96], "crop_pct": 1.0, "mean": [0.5], "std": [0.25]},
    }
    cache = tmp_path / "hf"
    lay_out_hub_cache(
        cache,
        "someone/digits-resnet",
        {"model.safetensors": safetensors.torch.save(state), "config.json": json.dumps(config).encode()},
    )
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model = visionzoo.create_model("hf-hub:someone/digits-resnet", pretrained=True, cache_dir=cache)
    _assert_loaded(model, state)
    assert model.num_classes == 5 and model.conv1.in_channels == 1
    assert model.pretrained_cfg.input_size == (1, 96, 96) and model.pretrained_cfg.mean == (0.5,)
    assert model.pretrained_cfg.hf_hub_id == "someone/digits-resnet"


def test_local_dir_round_trip(tmp_path: Path) -> None:
    model = visionzoo.create_model(ARCH, num_classes=4, in_chans=2).eval()
    visionzoo.save_pretrained(model, tmp_path / "saved")
    assert sorted(p.name for p in (tmp_path / "saved").iterdir()) == ["config.json", "model.safetensors"]
    back = visionzoo.create_model(f"local-dir:{tmp_path / 'saved'}", pretrained=True).eval()
    x = torch.randn(1, 2, 64, 64)
    with torch.no_grad():
        assert torch.equal(back(x), model(x))
    assert back.pretrained_cfg.input_size[0] == 2


def test_local_dir_interoperates_with_timm(tmp_path: Path) -> None:
    from timm.models._hub import save_for_hf

    # timm saves, visionzoo loads
    theirs = timm.create_model(ARCH, num_classes=3).eval()
    save_for_hf(theirs, tmp_path / "timm", safe_serialization=True)
    ours = visionzoo.create_model(f"local-dir:{tmp_path / 'timm'}", pretrained=True).eval()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(ours(x), theirs(x), rtol=1e-5, atol=1e-6)
    # visionzoo saves, timm loads
    visionzoo.save_pretrained(ours, tmp_path / "ours")
    again = timm.create_model(f"local-dir:{tmp_path / 'ours'}", pretrained=True).eval()
    with torch.no_grad():
        assert torch.allclose(again(x), ours(x), rtol=1e-5, atol=1e-6)


# --- adaptation -----------------------------------------------------------------------------------
@pytest.mark.parametrize("in_chans", [1, 2, 4, 8, 25])
def test_in_chans_adaptation_matches_seed_rule_and_timm(tmp_path: Path, weights: dict, in_chans: int) -> None:
    import math

    from timm.models._manipulate import adapt_input_conv as timm_adapt

    w = weights["conv1.weight"]
    if in_chans == 1:
        expected = w.sum(dim=1, keepdim=True)
    else:
        expected = w.repeat(1, math.ceil(in_chans / 3), 1, 1)[:, :in_chans] * (3 / in_chans)
    assert torch.allclose(adapt_input_conv(in_chans, w), expected)
    assert torch.allclose(adapt_input_conv(in_chans, w), timm_adapt(in_chans, w.clone()))

    f = write_safetensors(weights, tmp_path / "w.safetensors")
    model = visionzoo.create_model(
        ARCH, pretrained=True, in_chans=in_chans, pretrained_cfg_overlay=dict(file=str(f))
    )
    assert torch.allclose(model.conv1.weight, expected)
    _assert_loaded(model, weights, skip=("conv1.",))
    with torch.no_grad():
        assert model(torch.randn(1, in_chans, 64, 64)).shape == (1, 1000)


def test_in_chans_from_any_source_channel_count() -> None:
    w = torch.randn(8, 4, 3, 3)  # e.g. an RGB-NIR checkpoint
    assert torch.allclose(adapt_input_conv(1, w, base_chans=4), w.sum(1, keepdim=True))
    six = adapt_input_conv(6, w, base_chans=4)
    assert six.shape == (8, 6, 3, 3)
    assert torch.allclose(six, torch.cat([w, w[:, :2]], 1) * (4 / 6))
    # a space-to-depth stem: four interleaved RGB groups, each adapted alike
    s2d = torch.randn(8, 12, 3, 3)
    gray = adapt_input_conv(1, s2d)
    assert torch.allclose(gray, s2d.reshape(8, 4, 3, 3, 3).sum(2))


def test_adapt_input_conv_takes_timms_arguments() -> None:
    """timm's call, ``adapt_input_conv(in_chans, conv_weight, base_chans=3)``, gives timm's
    result (space-to-depth stems and non-RGB weights included); bad input is refused by name."""
    import inspect

    from timm.models._manipulate import adapt_input_conv as timm_adapt

    assert list(inspect.signature(adapt_input_conv).parameters) == list(
        inspect.signature(timm_adapt).parameters
    )
    w, s2d, nir = torch.randn(8, 3, 3, 3), torch.randn(8, 12, 3, 3), torch.randn(8, 4, 3, 3)
    for args in ((1, s2d), (3, s2d), (1, w), (5, w), (3, w), (1, nir, 4), (7, nir, 4)):
        assert torch.equal(
            adapt_input_conv(*args), timm_adapt(*(a.clone() if torch.is_tensor(a) else a for a in args))
        )
    with pytest.raises(ValueError, match="in_chans must be positive"):
        adapt_input_conv(0, w)
    with pytest.raises(ValueError, match="base_chans must be positive"):
        adapt_input_conv(3, w, base_chans=0)
    # timm's error type for a layout it cannot convert (its loaders catch it)
    with pytest.raises(NotImplementedError, match="Weight format not supported.*no multiple of base_chans=3"):
        adapt_input_conv(1, nir)
    with pytest.raises(NotImplementedError, match="convolution weights"):
        adapt_input_conv(1, torch.randn(8, 3))


def test_deep_stem_first_conv_adapted(tmp_path: Path) -> None:
    state = random_state_dict("resnet18d")
    f = write_safetensors(state, tmp_path / "d.safetensors")
    model = visionzoo.create_model(
        "resnet18d", pretrained=True, in_chans=5, pretrained_cfg_overlay=dict(file=str(f))
    )
    assert model.pretrained_cfg.first_conv == "conv1.0"
    assert torch.allclose(model.conv1[0].weight, adapt_input_conv(5, state["conv1.0.weight"]))


def test_new_num_classes_reinitialises_only_the_classifier(tmp_path: Path, weights: dict) -> None:
    f = write_safetensors(weights, tmp_path / "w.safetensors")
    model = visionzoo.create_model(
        ARCH, pretrained=True, num_classes=10, pretrained_cfg_overlay=dict(file=str(f))
    )
    assert model.fc.weight.shape == (10, 512)
    assert not model.fc.weight.is_meta and model.fc.weight.abs().sum() > 0
    _assert_loaded(model, weights, skip=("fc.",))
    headless = visionzoo.create_model(
        ARCH, pretrained=True, num_classes=0, pretrained_cfg_overlay=dict(file=str(f))
    )
    with torch.no_grad():
        assert headless(torch.randn(1, 3, 64, 64)).shape == (1, 512)


def test_label_offset_drops_the_background_class(tmp_path: Path, weights: dict) -> None:
    state = dict(weights)
    state["fc.weight"] = torch.randn(1001, 512)
    state["fc.bias"] = torch.randn(1001)
    f = write_safetensors(state, tmp_path / "w1001.safetensors")
    overlay = dict(file=str(f), num_classes=1001, label_offset=1)
    model = visionzoo.create_model(ARCH, pretrained=True, num_classes=1000, pretrained_cfg_overlay=overlay)
    assert torch.equal(model.fc.weight, state["fc.weight"][1:])
    assert torch.equal(model.fc.bias, state["fc.bias"][1:])


def test_features_only_with_pretrained(tmp_path: Path, weights: dict) -> None:
    f = write_safetensors(weights, tmp_path / "w.safetensors")
    backbone = visionzoo.create_model(
        ARCH,
        pretrained=True,
        features_only=True,
        out_indices=(2, 4),
        pretrained_cfg_overlay=dict(file=str(f)),
    )
    _assert_loaded(backbone, weights, skip=("fc.",))
    feats = backbone(torch.randn(1, 3, 64, 64))
    assert [t.shape[1] for t in feats] == [128, 512]


@pytest.mark.parametrize("source", ["file", "state_dict"])
def test_pretrained_build_trains_without_touching_its_source(
    tmp_path: Path, weights: dict, source: str
) -> None:
    originals = {k: v.clone() for k, v in weights.items()}
    if source == "file":
        overlay = dict(file=str(write_safetensors(weights, tmp_path / "w.safetensors")))
    else:
        overlay = dict(state_dict=weights)
    model = visionzoo.create_model(ARCH, pretrained=True, num_classes=3, pretrained_cfg_overlay=overlay)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.randn(2, 3, 64, 64)).sum().backward()
    opt.step()
    assert all(p.requires_grad for p in model.parameters())
    assert not torch.equal(model.conv1.weight, originals["conv1.weight"])
    for k, v in originals.items():
        assert torch.equal(weights[k], v), f"loading aliased and then modified {k}"


# --- bad input ------------------------------------------------------------------------------------
class _Payload:
    def __reduce__(self) -> tuple:
        return (os.system, ("touch PWNED_BY_PICKLE",))


def test_pickle_with_code_is_refused_and_never_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    evil = tmp_path / "evil.pth"
    with evil.open("wb") as f:
        pickle.dump({"conv1.weight": _Payload()}, f)
    torch.save({"x": _Payload()}, tmp_path / "evil_zip.pth")
    for path in (evil, tmp_path / "evil_zip.pth"):
        with pytest.raises(WeightsError, match="refusing to load.*arbitrary unpickling"):
            visionzoo.create_model(ARCH, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)))
    assert not (tmp_path / "PWNED_BY_PICKLE").exists()


@pytest.mark.parametrize("damage", ["truncated", "empty", *(f"garbage{seed}" for seed in range(14))])
@pytest.mark.parametrize("fmt", ["safetensors", "pth"])
def test_corrupt_files_give_clear_errors(tmp_path: Path, weights: dict, damage: str, fmt: str) -> None:
    f = tmp_path / f"w.{fmt}"
    if fmt == "safetensors":
        write_safetensors(weights, f)
    else:
        torch.save(weights, f)
    data = f.read_bytes()
    if damage.startswith("garbage"):  # seeded random bytes: each seed breaks the parser differently
        gen = torch.Generator().manual_seed(int(damage.removeprefix("garbage")))
        f.write_bytes(bytes(torch.randint(0, 256, (4096,), generator=gen, dtype=torch.uint8).tolist()))
    else:
        f.write_bytes({"truncated": data[: len(data) // 3], "empty": b""}[damage])
    with pytest.raises(WeightsError, match=f"{f.name}.*(empty|truncated or corrupt|not a valid)"):
        visionzoo.create_model(ARCH, pretrained=True, pretrained_cfg_overlay=dict(file=str(f)))


def test_folder_where_a_file_was_expected(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match=r"no model\.safetensors or pytorch_model\.bin in folder"):
        visionzoo.create_model(ARCH, checkpoint_path=tmp_path)


def test_checkpoint_for_another_architecture_lists_keys(tmp_path: Path) -> None:
    f = write_safetensors(random_state_dict("resnet50"), tmp_path / "r50.safetensors")
    with pytest.raises(RuntimeError, match=r"shape mismatch.*layer1\.0\.conv1\.weight"):
        visionzoo.create_model(ARCH, pretrained=True, pretrained_cfg_overlay=dict(file=str(f)))
    f2 = write_safetensors(random_state_dict("resnet18d"), tmp_path / "r18d.safetensors")
    with pytest.raises(RuntimeError, match=r"missing keys.*conv1\.weight.*unexpected keys.*conv1\.0\.weight"):
        visionzoo.create_model(ARCH, checkpoint_path=f2)


def test_no_weights_for_untrained_config() -> None:
    with pytest.raises(visionzoo.UnknownModelError, match="resnet50t.*no pretrained weights"):
        visionzoo.create_model("resnet50t", pretrained=True)


def test_old_checkpoints_without_num_batches_tracked_load(tmp_path: Path, weights: dict) -> None:
    old = {k: v for k, v in weights.items() if not k.endswith("num_batches_tracked")}
    assert len(old) < len(weights)
    f = write_safetensors(old, tmp_path / "old.safetensors")
    model = visionzoo.create_model(ARCH, pretrained=True, pretrained_cfg_overlay=dict(file=str(f)))
    _assert_loaded(model, old)
    assert int(model.bn1.num_batches_tracked) == 0


def test_partly_loaded_module_is_an_error() -> None:
    from visionzoo.builder import load_state_dict_into

    model = visionzoo.create_model(ARCH, device="meta")
    state = random_state_dict(ARCH)
    del state["bn1.running_var"]
    with pytest.raises(RuntimeError, match=r"bn1\.running_var"):
        load_state_dict_into(model, state)
    with pytest.raises(RuntimeError, match=r"'bn1' was only partly loaded.*running_var"):
        load_state_dict_into(model, state, allow_missing={"bn1.running_var"})


def test_meta_load_assigns_like_torch_and_keeps_modules_own_loading() -> None:
    """A model built on meta takes the checkpoint's tensors themselves (no copy), a frozen
    parameter stays frozen and the model trains; a module with its own loading (a load hook
    here) is loaded by torch's load_state_dict, so its hook runs."""
    from visionzoo.builder import load_state_dict_into

    state = random_state_dict(ARCH)
    model = visionzoo.create_model(ARCH, device="meta")
    model.conv1.weight.requires_grad_(False)
    load_state_dict_into(model, state)
    assert model.fc.weight.data_ptr() == state["fc.weight"].data_ptr()
    assert isinstance(model.fc.weight, torch.nn.Parameter) and model.fc.weight.requires_grad
    assert not model.conv1.weight.requires_grad
    assert not any(t.is_meta for t in (*model.parameters(), *model.buffers()))
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    assert model.fc.weight.grad is not None and model.conv1.weight.grad is None

    model = visionzoo.create_model(ARCH, device="meta")
    seen: list[str] = []
    model.layer1.register_load_state_dict_pre_hook(lambda module, sd, prefix, *_: seen.append(prefix))
    load_state_dict_into(model, state)
    assert seen == ["layer1."]
    _assert_loaded(model, state)


def test_a_linear_first_layer_is_not_adapted_silently() -> None:
    """A linear patch embedding named as first_conv (its weight's input layout is unknown): asking
    for other channels is a clear error naming what to do, not a crash or a random stem."""
    from torch import nn

    from visionzoo.adapt import adapt_state_dict
    from visionzoo.pretrained import PretrainedCfg

    model = nn.Sequential()
    model.add_module("stem", nn.Linear(3 * 4, 8))
    cfg = PretrainedCfg(architecture="linear_stem", input_size=(3, 8, 8), first_conv="stem", num_classes=8)
    state = {"stem.weight": torch.randn(8, 12), "stem.bias": torch.randn(8)}
    with pytest.raises(ValueError, match=r"'stem' of linear_stem is a Linear.*in_chans=3.*pretrained=False"):
        adapt_state_dict(state, model, cfg, num_classes=8, in_chans=13)
    same, _ = adapt_state_dict(state, model, cfg, num_classes=8, in_chans=3)
    assert same["stem.weight"] is state["stem.weight"]
