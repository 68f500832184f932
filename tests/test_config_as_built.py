"""The config describes the model as built, once: the builder writes the channels, mean/std and a
token model's input size into ``model.pretrained_cfg``; the data config, saving, reloading and
``model_input_size`` read it. One rule fits RGB statistics to N channels
(``pretrained.channel_stats``): timm's (its data loader's ``adapt_to_chs``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from timm_oracle import timm

import visionzoo
from visionzoo.data import resolve_model_data_config
from visionzoo.model import model_in_chans, model_input_size
from visionzoo.pretrained import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, channel_stats

R, G, B = IMAGENET_DEFAULT_MEAN
SR, SG, SB = IMAGENET_DEFAULT_STD
# written out, not computed by the rule under test: 3 channels keep RGB's, any other count takes
# their average (timm's data loader normalises an N-channel model so)
EXPECTED = {n: ((R + G + B) / 3,) * n for n in (1, 2, 4, 6)} | {3: (R, G, B)}
EXPECTED_STD = {n: ((SR + SG + SB) / 3,) * n for n in (1, 2, 4, 6)} | {3: (SR, SG, SB)}


@pytest.mark.parametrize("in_chans", sorted(EXPECTED))
def test_channels_through_create_data_config_save_and_reload(tmp_path: Path, in_chans: int) -> None:
    model = visionzoo.create_model("resnet18", in_chans=in_chans, num_classes=3).eval()
    cfg = model.pretrained_cfg
    assert cfg.input_size == (in_chans, 224, 224)
    assert cfg.mean == pytest.approx(EXPECTED[in_chans]) and len(cfg.mean) == in_chans
    assert cfg.std == pytest.approx(EXPECTED_STD[in_chans]) and len(cfg.std) == in_chans
    assert model_in_chans(model) == in_chans and model_input_size(model) == (in_chans, 224, 224)

    data = resolve_model_data_config(model)
    assert (data["input_size"], data["mean"], data["std"]) == (cfg.input_size, cfg.mean, cfg.std)

    visionzoo.save_pretrained(model, tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["pretrained_cfg"]["input_size"] == [in_chans, 224, 224]
    assert saved["pretrained_cfg"]["mean"] == pytest.approx(EXPECTED[in_chans])
    assert saved["pretrained_cfg"]["std"] == pytest.approx(EXPECTED_STD[in_chans])
    assert saved.get("model_args", {}).get("in_chans", 3) == in_chans

    back = visionzoo.create_model(f"local-dir:{tmp_path}", pretrained=True).eval()
    for key in ("input_size", "mean", "std"):
        assert back.pretrained_cfg[key] == cfg[key], key
    assert back.num_classes == 3
    assert resolve_model_data_config(back) == data
    x = torch.randn(1, in_chans, 64, 64)
    with torch.no_grad():
        assert torch.equal(back(x), model(x))


def test_token_model_at_another_size_through_save_and_reload(tmp_path: Path) -> None:
    """A ViT built at 64 px (its weights' config says 224) says 64 everywhere, and a saved folder
    rebuilds at 64, in visionzoo and in timm (both read ``fixed_input_size`` + ``input_size``)."""
    model = visionzoo.create_model("vit_tiny_patch16_224", img_size=64, in_chans=1).eval()
    cfg = model.pretrained_cfg
    assert (cfg.input_size, cfg.fixed_input_size) == ((1, 64, 64), True)
    assert len(cfg.mean) == 1 and cfg.mean == pytest.approx((0.5,))  # the weights' (.5, .5, .5)
    assert model_input_size(model) == (1, 64, 64)
    assert resolve_model_data_config(model)["input_size"] == (1, 64, 64)
    backbone = visionzoo.create_model("vit_tiny_patch16_224", img_size=(48, 80), features_only=True)
    assert backbone.pretrained_cfg.input_size == (3, 48, 80) and model_input_size(backbone) == (3, 48, 80)

    visionzoo.save_pretrained(model, tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert (
        saved["pretrained_cfg"]["input_size"] == [1, 64, 64] and saved["pretrained_cfg"]["fixed_input_size"]
    )
    assert (
        saved["model_args"]["in_chans"] == 1 and "img_size" not in saved["model_args"]
    )  # the config says it
    x = torch.randn(1, 1, 64, 64)
    back = visionzoo.create_model(f"local-dir:{tmp_path}", pretrained=True).eval()
    theirs = timm.create_model(f"local-dir:{tmp_path}", pretrained=True).eval()
    assert back.pretrained_cfg.input_size == (1, 64, 64)
    with torch.no_grad():
        assert torch.equal(back(x), model(x))
        torch.testing.assert_close(theirs(x), model(x))


def test_a_default_build_keeps_the_registered_config_as_timm_does() -> None:
    """Built as registered, nothing changes: the model's config is the registry's (timm's)."""
    for name in ("resnet18", "vit_tiny_patch16_224"):
        model = visionzoo.create_model(name, device="meta")
        assert model.pretrained_cfg == visionzoo.get_pretrained_cfg(name)
        theirs = timm.create_model(name, pretrained=False).pretrained_cfg
        for key in ("input_size", "mean", "std", "fixed_input_size", "test_input_size", "crop_pct"):
            value = theirs.get(key, False if key == "fixed_input_size" else None)  # timm drops defaults
            assert getattr(model.pretrained_cfg, key) == (
                tuple(value) if isinstance(value, list) else value
            ), key


@pytest.mark.parametrize("in_chans", [1, 2, 3, 4, 6])
def test_the_rule_is_timms(in_chans: int) -> None:
    """Equal to timm's loader rule, on RGB statistics and on a single value."""
    from timm.data.loader import adapt_to_chs

    for values in (IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD, (0.5,), (0.1, 0.9)):
        assert channel_stats(values, in_chans) == tuple(adapt_to_chs(tuple(values), in_chans))


def test_channel_stats_bad_input_names_the_value() -> None:
    assert channel_stats((0.5,), 4) == (0.5,) * 4  # one value repeats (timm's resolve_data_config)
    with pytest.raises(ValueError, match="in_chans must be an int >= 1, got 0"):
        channel_stats(IMAGENET_DEFAULT_MEAN, 0)
    with pytest.raises(ValueError, match="at least one value"):
        channel_stats((), 3)


def test_set_input_size_keeps_the_config_as_built() -> None:
    model = visionzoo.create_model("vit_tiny_patch16_224", device="meta")
    model.set_input_size(img_size=(48, 32))
    assert model.pretrained_cfg.input_size == (3, 48, 32) and model_input_size(model) == (3, 48, 32)
    assert resolve_model_data_config(model)["input_size"] == (3, 48, 32)
