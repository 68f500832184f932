"""Parity with timm on the same weights: every registered architecture timm also has.

timm's model gets random weights and BN statistics (so zero-initialised residual branches
count), ours loads them with strict=True, and logits, unpooled features and features_only
outputs must agree to 1e-4 relative. Pretrained configs must equal timm's field by field.
"""

from __future__ import annotations

import dataclasses

import pytest
import torch
from helpers import input_side
from timm_oracle import rel_err, timm, timm_model

import visionzoo
from visionzoo.builder import load_state_dict_into

TIMM_NAMES = set(timm.list_models())
NAMES = [n for n in visionzoo.list_models() if n in TIMM_NAMES]
TOL = 1e-4


def _input(model_name: str) -> torch.Tensor:
    cfg = visionzoo.get_pretrained_cfg(model_name)
    size = input_side(model_name, 64) if cfg is None or not cfg.fixed_input_size else cfg.input_size[-1]
    chans = 3 if cfg is None else cfg.input_size[0]
    return torch.randn(2, chans, size, size, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("name", NAMES)
def test_outputs_match_timm(name: str) -> None:
    theirs = timm_model(name)
    ours = visionzoo.create_model(name, device="meta")
    load_state_dict_into(ours, theirs.state_dict(), strict=True)
    ours.eval()
    x = _input(name)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < TOL
        assert rel_err(ours.forward_features(x), theirs.forward_features(x)) < TOL
    assert ours.num_features == theirs.num_features
    assert [(f["num_chs"], f["reduction"]) for f in ours.feature_info] == [
        (f["num_chs"], f["reduction"]) for f in theirs.feature_info
    ]


@pytest.mark.parametrize("name", NAMES)
def test_features_only_match_timm(name: str) -> None:
    theirs = timm_model(name, features_only=True)
    ours = visionzoo.create_model(name, features_only=True, device="meta")
    load_state_dict_into(ours, theirs.state_dict(), strict=True)
    ours.eval()
    x = _input(name)
    with torch.no_grad():
        a, b = ours(x), theirs(x)
    assert len(a) == len(b)
    for fa, fb in zip(a, b):
        assert fa.shape == fb.shape
        assert rel_err(fa, fb) < TOL
    assert ours.feature_info.channels() == theirs.feature_info.channels()
    assert ours.feature_info.reduction() == theirs.feature_info.reduction()


def _timm_cfgs(arch: str) -> dict[str, dict]:
    from timm.models._registry import _model_pretrained_cfgs, _model_with_tags

    return {n: _model_pretrained_cfgs[n].to_dict() for n in _model_with_tags[arch]}


@pytest.mark.parametrize("name", NAMES)
def test_pretrained_cfgs_equal_timm(name: str) -> None:
    theirs = _timm_cfgs(name)
    ours = visionzoo.get_arch_pretrained_cfgs(name)
    assert list(ours) == list(theirs), "tags and their priority order differ"
    timm_fields = {f.name for f in dataclasses.fields(timm.models.PretrainedCfg)}
    for tag_name, cfg in ours.items():
        mine = {k: v for k, v in cfg.to_dict().items() if k in timm_fields}
        assert mine == theirs[tag_name], tag_name
    assert visionzoo.get_pretrained_cfg(name).name == next(iter(theirs))
    assert visionzoo.is_model_pretrained(name) == timm.is_model_pretrained(name)


def test_every_timm_name_in_built_families_is_registered() -> None:
    for module in visionzoo.list_modules():
        missing = set(timm.list_models(module=module)) - set(visionzoo.list_models(module=module))
        assert not missing, f"{module}: {sorted(missing)}"
        theirs = timm.models.get_deprecated_models(module)
        assert visionzoo.get_deprecated_models(module) == theirs
