"""The core weight-entry helper every family writes its weight table with (pretrained.weight)."""

from __future__ import annotations

import pytest

from visionzoo import hub
from visionzoo.pretrained import NO_WEIGHTS, WEIGHT_CFG_BASE, as_pretrained_cfg, weight

pytestmark = pytest.mark.contract


def test_profiles_merge_left_to_right_then_fields() -> None:
    recipe = dict(interpolation="bicubic", crop_pct=0.95)
    norm = dict(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5), crop_pct=0.9)
    entry = weight(recipe, norm, crop_pct=1.0, url="https://example.invalid/w.pth")
    assert entry == dict(
        interpolation="bicubic",
        crop_pct=1.0,
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        url="https://example.invalid/w.pth",
    )
    assert weight(recipe, norm)["crop_pct"] == 0.9
    assert recipe == dict(interpolation="bicubic", crop_pct=0.95), "a shared profile was changed"


def test_default_marks_the_entry_only_when_asked() -> None:
    assert weight(default=True) == {"default": True}
    assert "default" not in weight(dict(crop_pct=1.0))


def test_size_test_crop_shorthands() -> None:
    entry = weight(size=240, test=288, crop=0.9)
    assert entry == dict(input_size=(3, 240, 240), test_input_size=(3, 288, 288), crop_pct=0.9)
    # the final pool size follows the input only when the family says how much its trunk reduces
    assert weight(size=240, pool_reduction=32)["pool_size"] == (8, 8)
    assert weight(size=300, pool_reduction=32)["pool_size"] == (10, 10)  # ceil, as the feature map
    assert "pool_size" not in weight(test=288, pool_reduction=32)
    # shorthands sit over the profiles, like any field
    assert weight(dict(input_size=(3, 224, 224), pool_size=(7, 7)), size=256, pool_reduction=32) == dict(
        input_size=(3, 256, 256), pool_size=(8, 8)
    )


def test_a_misspelt_field_fails_where_the_table_is_written() -> None:
    with pytest.raises(TypeError, match="'crop_pc'"):
        weight(crop_pc=0.9)
    with pytest.raises(TypeError, match="'test_size'"):
        weight(dict(test_size=288))
    with pytest.raises(TypeError, match="'default'"):  # the default is the keyword, not a field
        weight(dict(default=True))


def test_a_field_given_twice_is_refused() -> None:
    with pytest.raises(TypeError, match="input_size"):
        weight(size=224, input_size=(3, 224, 224))
    with pytest.raises(TypeError, match="crop_pct"):
        weight(crop=0.9, crop_pct=0.95)
    with pytest.raises(TypeError, match="pool_size"):
        weight(size=256, pool_reduction=32, pool_size=(7, 7))


def test_no_weights_means_nothing_to_load() -> None:
    with pytest.raises(TypeError):
        NO_WEIGHTS["hf_hub_id"] = "timm/"  # type: ignore[index]  # shared by every table
    untrained = as_pretrained_cfg({**WEIGHT_CFG_BASE, **weight(NO_WEIGHTS, crop_pct=1.0)})
    assert not hub.has_weights(untrained)
    assert untrained.crop_pct == 1.0
    assert as_pretrained_cfg({**WEIGHT_CFG_BASE, **weight()}).hf_hub_id == "timm/"
