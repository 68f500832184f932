"""A model's current input contract and rebuild arguments (timm's ``timm.models._input``,
``resolve_model_input_args``, ``resolve_input_data_config``, ``save_for_hf``).

Checked against timm where both describe the same model, and against what the model itself
says (its patch embedding, its head) as it is resized and reset, and by rebuilding an export.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

import visionzoo
from visionzoo.data import resolve_input_data_config
from visionzoo.layers import DropPath
from visionzoo.models import (
    get_model_args,
    get_model_input_config,
    get_model_traits,
    resolve_model_input_args,
)
from visionzoo.models._hub import save_for_hf

timm = pytest.importorskip("timm")
TINY = {"embed_dim": 32, "depth": 1, "num_heads": 4}


def _vit(lib=visionzoo, **kwargs):
    return lib.create_model("vit_tiny_patch16_224", img_size=(32, 48), **TINY, **kwargs)


def test_traits_match_timm_and_follow_resize_and_reset() -> None:
    ours, theirs = _vit(in_chans=4, num_classes=7), _vit(timm, in_chans=4, num_classes=7)
    expected = {"img_size": (32, 48), "fixed_input_size": True, "first_conv": "patch_embed.proj"}
    expected.update(in_chans=4, num_classes=7)
    assert get_model_traits(ours) == timm.models.get_model_traits(theirs) == expected
    copy = get_model_traits(ours)
    copy["img_size"] = (1, 1)  # a copy: the model is not changed through it
    ours.set_input_size(img_size=(48, 64), patch_size=8)
    ours.reset_classifier(5)
    assert get_model_traits(ours) == dict(expected, img_size=(48, 64), num_classes=5)
    assert get_model_input_config(ours) == {
        "input_size": (4, 48, 64),
        "fixed_input_size": True,
        "first_conv": "patch_embed.proj",
    }
    args = get_model_args(ours)
    assert (args["img_size"], args["patch_size"], args["num_classes"], args["in_chans"]) == (
        (48, 64),
        8,
        5,
        4,
    )
    dynamic = _vit(dynamic_img_size=True)
    assert get_model_input_config(dynamic)["fixed_input_size"] is False


def test_cnn_and_feature_backbone_traits() -> None:
    with torch.device("meta"):
        cnn = visionzoo.create_model("resnet18", in_chans=4)
        features = visionzoo.create_model("resnet18", in_chans=4, features_only=True)
    assert get_model_traits(cnn)["img_size"] is None  # a CNN takes any size: preprocessing decides
    assert get_model_input_config(cnn)["input_size"] == (4, 224, 224)
    assert features.in_chans == 4
    traits = get_model_traits(features)
    assert traits["first_conv"] == "conv1" and traits["in_chans"] == 4 and "num_classes" not in traits


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [
        ({"in_chans": 4, "input_size": (3, 32, 32)}, {}),
        ({"in_chans": 4}, {"in_chans": 3}),
        ({"img_size": 32, "input_size": (3, 48, 48)}, {}),
    ],
)
def test_conflicting_requests_are_refused_as_timm(args: dict, kwargs: dict) -> None:
    for fn in (resolve_model_input_args, timm.models.resolve_model_input_args):
        with pytest.raises(ValueError, match="Conflicting input"):
            fn("vit_tiny_patch16_224", args, **kwargs)


def test_script_args_size_is_structure_only_for_fixed_size_models() -> None:
    vit = resolve_model_input_args("vit_tiny_patch16_224", {"in_chans": 4, "img_size": 32}, **TINY)
    assert (vit["model_name"], vit["in_chans"], vit["img_size"]) == ("vit_tiny_patch16_224", 4, (32, 32))
    assert vit["pretrained_cfg"]["input_size"] == (3, 224, 224)  # the source's, untouched
    cnn = resolve_model_input_args("resnet18", {"input_size": (4, 96, 64)})
    assert "img_size" not in cnn and cnn["in_chans"] == 4
    model = visionzoo.create_model(**vit)
    assert model.patch_embed.img_size == (32, 32) and model.in_chans == 4


@pytest.mark.parametrize("args", [{"in_chans": 4}, {"img_size": 64}, {"mean": (0.5, 0.5)}])
def test_data_config_refuses_what_the_model_cannot_take(args: dict) -> None:
    with pytest.raises(ValueError):
        resolve_input_data_config(_vit(), args)


def test_data_config_for_flexible_and_fixed_models() -> None:
    fixed = _vit(in_chans=4)
    cfg = resolve_input_data_config(fixed, {"mean": (0.25,), "std": (0.5,)})
    assert cfg["input_size"] == (4, 32, 48) and cfg["mean"] == (0.25,) * 4 and cfg["std"] == (0.5,) * 4
    flexible = _vit(dynamic_img_size=True)
    assert resolve_input_data_config(flexible, {"img_size": 64})["input_size"] == (3, 64, 64)
    with torch.device("meta"):
        cnn = visionzoo.create_model("resnet18", in_chans=4)
    assert resolve_input_data_config(cnn, {"input_size": (4, 96, 64)})["input_size"] == (4, 96, 64)


def test_rebuild_args_leave_out_training_rates_and_refuse_contradictions() -> None:
    model = visionzoo.create_model("test_resnet", num_classes=7, drop_rate=0.2, drop_path_rate=0.1)
    args = get_model_args(model)
    assert args["num_classes"] == 7 and not {"drop_rate", "drop_path_rate"} & args.keys()
    with pytest.raises(ValueError, match="disagrees with the current model"):
        get_model_args(model, {"num_classes": 3})


def test_export_rebuilds_the_resized_model(tmp_path: Path) -> None:
    model = visionzoo.create_model(
        "vit_tiny_patch16_224", img_size=64, num_classes=5, drop_rate=0.1, **TINY
    ).eval()
    model.set_input_size(img_size=(96, 96))
    save_for_hf(model, tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["model_args"]["img_size"] == [96, 96] and "drop_rate" not in config["model_args"]
    assert (tmp_path / "pytorch_model.bin").is_file()  # timm's default: not safetensors
    restored = visionzoo.create_model("local-dir:" + str(tmp_path), pretrained=True).eval()
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(restored(x), model(x), rtol=0, atol=0)
    assert not any(m.drop_prob for m in restored.modules() if isinstance(m, DropPath))
    # timm reads the export the same way
    theirs = timm.create_model("local-dir:" + str(tmp_path), pretrained=True).eval()
    with torch.no_grad():
        torch.testing.assert_close(theirs(x), model(x), rtol=1e-5, atol=1e-5)


def test_export_needs_serialisable_args(tmp_path: Path) -> None:
    model = _vit(norm_layer=torch.nn.LayerNorm)
    with pytest.raises(ValueError, match="'norm_layer' is not serializable"):
        save_for_hf(model, tmp_path)
    save_for_hf(model, tmp_path, model_args={"norm_layer": "layernorm"}, safe_serialization=True)
    assert isinstance(
        visionzoo.create_model("local-dir:" + str(tmp_path), pretrained=True).norm, torch.nn.LayerNorm
    )


def test_export_data_config_replaces_test_time_recommendations(tmp_path: Path) -> None:
    overlay = {
        "input_size": (3, 224, 224),
        "test_input_size": (3, 288, 288),
        "crop_pct": 0.95,
        "test_crop_pct": 1.0,
    }
    model = visionzoo.create_model("test_resnet", pretrained_cfg_overlay=overlay)
    save_for_hf(model, tmp_path, data_config={"input_size": (3, 384, 384), "crop_pct": 0.9})
    restored = visionzoo.create_model("local-dir:" + str(tmp_path))
    for use_test_size in (True, False):
        cfg = resolve_input_data_config(restored, use_test_size=use_test_size)
        assert (cfg["input_size"], cfg["crop_pct"]) == ((3, 384, 384), 0.9)


def test_matching_stem_loads_with_a_warning_on_stale_channels(caplog: pytest.LogCaptureFixture) -> None:
    from visionzoo.models._builder import load_pretrained

    source, target = (
        torch.nn.Sequential(torch.nn.Conv2d(4, 2, 3)),
        torch.nn.Sequential(torch.nn.Conv2d(4, 2, 3)),
    )
    cfg = {"input_size": (3, 32, 32), "first_conv": "0", "state_dict": source.state_dict()}
    with caplog.at_level(logging.WARNING):
        load_pretrained(target, cfg, in_chans=4)
    torch.testing.assert_close(target[0].weight, source[0].weight, rtol=0, atol=0)
    assert "already match" in caplog.text
