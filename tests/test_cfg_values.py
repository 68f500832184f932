"""Config look-ups with timm's semantics: ``get_pretrained_cfg_value``, ``cfg.get``, ``cfg[...]``
and attribute access answer for every field timm's ``PretrainedCfg`` defines, set or not (timm's
own model tests ask every family for ``min_input_size``). Where timm returns None for a name that
is no field at all, we raise a KeyError listing the valid ones (a typo should not read as unset).
"""

from __future__ import annotations

import dataclasses

import pytest
from timm_oracle import timm, timm_on_meta

import visionzoo
from visionzoo.pretrained import FIELD_NAMES

pytestmark = pytest.mark.parity

TIMM_FIELDS = [f.name for f in dataclasses.fields(timm.models.PretrainedCfg)]
TIMM_DEFAULTS = {f.name: f.default for f in dataclasses.fields(timm.models.PretrainedCfg)}


def _tupled(value):
    """A timm cfg value as our configs hold it: a few timm cfgs write a size as a list
    (NesT's ``pool_size``), which ours store as a tuple, the type timm declares."""
    return tuple(value) if isinstance(value, list) else value


def _timm_tags(arch: str) -> list[str]:
    from timm.models._registry import _model_with_tags

    return list(_model_with_tags[arch])


def _family_names(module: str) -> list[str]:
    """A few names of one family: the first three architectures timm has too, bare (default tag),
    and every tag of the first."""
    archs = [a for a in visionzoo.list_models(module=module) if timm.is_model(a)][:3]
    return [*archs, *_timm_tags(archs[0])]


def test_field_names_are_timms_then_ours() -> None:
    assert list(FIELD_NAMES[: len(TIMM_FIELDS)]) == TIMM_FIELDS
    assert FIELD_NAMES[len(TIMM_FIELDS) :] == ("top1", "top5", "param_count")


@pytest.mark.parametrize("module", visionzoo.list_modules())
def test_every_timm_field_round_trips(module: str) -> None:
    unset = 0
    for name in _family_names(module):
        cfg = visionzoo.get_pretrained_cfg(name)
        for key in TIMM_FIELDS:
            theirs = _tupled(timm.models.get_pretrained_cfg_value(name, key))
            ours = visionzoo.get_pretrained_cfg_value(name, key)
            assert ours == theirs, (name, key)
            assert getattr(cfg, key) == theirs, (name, key)
            assert cfg.get(key) == theirs, (name, key)
            unset += theirs is None
    assert unset, "no unset field was asked for"


def _a_tag_setting_each_field() -> dict[str, str]:
    """For each timm field, a tag of a built family whose timm config sets it off the default."""
    from timm.models._registry import _model_pretrained_cfgs

    found: dict[str, str] = {}
    for arch in visionzoo.list_models():
        if not timm.is_model(arch):
            continue
        for tag in _timm_tags(arch):
            cfg = _model_pretrained_cfgs[tag]
            for key in TIMM_FIELDS:
                if key not in found and getattr(cfg, key) != TIMM_DEFAULTS[key]:
                    found[key] = tag
    return found


def test_fields_timm_sets_somewhere_answer_its_value() -> None:
    found = _a_tag_setting_each_field()
    # the fields our families' timm configs do set (custom_load, crop_mode, notes, ...) are covered
    assert {"test_input_size", "crop_mode", "custom_load", "notes", "pool_size"} <= set(found)
    for key, tag in found.items():
        theirs = _tupled(timm.models.get_pretrained_cfg_value(tag, key))
        assert theirs != TIMM_DEFAULTS[key]
        assert visionzoo.get_pretrained_cfg_value(tag, key) == theirs, (tag, key)


def test_unset_field_reads_none_and_is_absent_from_the_dict_view() -> None:
    assert timm.models.get_pretrained_cfg_value("resnet50", "min_input_size") is None
    assert visionzoo.get_pretrained_cfg_value("resnet50", "min_input_size") is None
    assert visionzoo.get_pretrained_cfg_value("resnet50", "label_names") is None
    cfg = visionzoo.get_pretrained_cfg("resnet50")
    assert cfg.min_input_size is None and cfg.get("min_input_size") is None
    assert cfg.get("min_input_size", (3, 1, 1)) == (3, 1, 1)
    assert "min_input_size" not in cfg  # as in timm's model.pretrained_cfg dict
    with pytest.raises(KeyError, match="'min_input_size' is not set"):
        cfg["min_input_size"]
    # keys timm keeps even when None stay visible
    assert "pool_size" in visionzoo.get_pretrained_cfg("vit_base_patch16_224")


@pytest.mark.parametrize("name", ["resnet50", "vit_base_patch16_224.augreg2_in21k_ft_in1k"])
def test_model_pretrained_cfg_dict_view_matches_timms(name: str) -> None:
    ours = visionzoo.create_model(name, device="meta").pretrained_cfg
    theirs = timm_on_meta(name).pretrained_cfg
    assert {k: v for k, v in dict(ours).items() if k in TIMM_FIELDS} == theirs
    for key in TIMM_FIELDS:
        assert ours.get(key) == theirs.get(key), key
        assert (key in ours) == (key in theirs), key


def test_a_name_that_is_no_field_is_a_key_error_listing_the_fields() -> None:
    assert timm.models.get_pretrained_cfg_value("resnet50", "min_input_sizes") is None  # hides typos
    with pytest.raises(
        KeyError, match="'min_input_sizes' is not a pretrained cfg field; valid: .*min_input_size"
    ):
        visionzoo.get_pretrained_cfg_value("resnet50", "min_input_sizes")
    with pytest.raises(KeyError, match="'bogus' is not a pretrained cfg field; valid: url, "):
        visionzoo.get_pretrained_cfg("resnet50")["bogus"]
    assert visionzoo.get_pretrained_cfg("resnet50").get("bogus") is None  # Mapping.get, as a dict


@pytest.mark.parametrize("name", ["resnet50.no_such_tag", "no_such_model"])
def test_unknown_name_or_tag_raises_runtime_error_as_timm(name: str) -> None:
    with pytest.raises(RuntimeError):
        timm.models.get_pretrained_cfg_value(name, "crop_pct")
    with pytest.raises(visionzoo.UnknownModelError, match="no_such"):
        visionzoo.get_pretrained_cfg_value(name, "crop_pct")
    assert issubclass(visionzoo.UnknownModelError, RuntimeError)


def test_published_results_answer_too() -> None:
    assert visionzoo.get_pretrained_cfg_value("resnet50.a1_in1k", "top1") == pytest.approx(81.24)
