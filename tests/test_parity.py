"""Parity with timm: every registered architecture timm also has, in two depths.

Structural (every name, in CI): both models built on the meta device (no memory, no init, no
forward): state-dict keys, shapes and dtypes, feature levels, widths, the parameter
groups of the group matcher; and every pretrained cfg field, the tags' order and the default tag.

Numeric (each family's sample in CI, see sampling.py; every name with ``VISIONZOO_PARITY=all``, which
``make parity`` sets): timm's model gets random weights and BN statistics (so zero-initialised
residual branches count), ours loads them with strict=True, and logits, unpooled features and
features_only outputs must agree to 1e-4 relative.
"""

from __future__ import annotations

import dataclasses
import os

import pytest
import torch
from helpers import as_nchw, input_side, parameter_groups, unmatched_parameters
from sampling import create, family_of, sampled_kwargs
from timm_oracle import rel_err, timm, timm_model, timm_on_meta

import visionzoo
from visionzoo.builder import load_state_dict_into

pytestmark = pytest.mark.parity

TIMM_NAMES = set(timm.list_models())
NAMES = [n for n in visionzoo.list_models() if n in TIMM_NAMES]
TOL = 1e-4
# the numeric tests hold two models (ours and timm's, fp32) per worker: larger ones skip unless
# VISIONZOO_PARITY_MAX_PARAMS raises the cap (the catalog reaches 2.7 B parameters, 22 GB a pair)
MAX_PARAMS = float(os.environ.get("VISIONZOO_PARITY_MAX_PARAMS", 400e6))


def _skip_if_too_large(name: str) -> None:
    params = sum(p.numel() for p in visionzoo.create_model(name, device="meta").parameters())
    if params > MAX_PARAMS:
        pytest.skip(
            f"{params / 1e6:.0f} M parameters: over VISIONZOO_PARITY_MAX_PARAMS ({MAX_PARAMS / 1e6:.0f} M)"
        )


def _input(model: torch.nn.Module) -> torch.Tensor:
    cfg = model.pretrained_cfg
    size = input_side(model, 64)
    chans = 3 if cfg is None else cfg.input_size[0]
    return torch.randn(2, chans, size, size, generator=torch.Generator().manual_seed(1))


def _levels(model: torch.nn.Module) -> list[tuple[int, int, str]]:
    return [(f["num_chs"], f["reduction"], f["module"]) for f in model.feature_info]


@pytest.mark.parametrize("name", NAMES)
def test_structure_matches_timm(name: str) -> None:
    ours = visionzoo.create_model(name, device="meta")
    theirs = timm_on_meta(name)
    mine, ref = ours.state_dict(), theirs.state_dict()
    # the same keys (a checkpoint loads with strict=True); their order is not part of that contract
    assert sorted(mine) == sorted(ref), "state-dict keys differ"
    for key, t in ref.items():
        assert (mine[key].shape, mine[key].dtype) == (t.shape, t.dtype), key
    assert _levels(ours) == _levels(theirs)
    assert (ours.num_features, ours.num_classes) == (theirs.num_features, theirs.num_classes)
    assert ours.head_hidden_size == getattr(theirs, "head_hidden_size", theirs.num_features)
    classifiers = visionzoo.adapt.as_names(theirs.pretrained_cfg["classifier"])
    if classifiers or ours.has_classifier:  # a headless encoder's cfg may name none (Qwen3 ViT's)
        assert ours.get_classifier(name_only=True) in classifiers
    # layer-wise LR decay groups the trunk as timm does (the fine groups; the coarse ones are
    # unions of them, test_contract.py). What timm's matcher leaves to the head group we may group
    # with the last block (densenet's final norm): ours cover at least as much. Where timm's model
    # has no matcher (MetaFormer) there is nothing to compare; test_contract.py checks ours.
    if not hasattr(theirs, "group_matcher"):
        return
    mine_matcher, ref_matcher = ours.group_matcher(), theirs.group_matcher()
    headless = set(unmatched_parameters(theirs, ref_matcher))
    assert set(unmatched_parameters(ours, mine_matcher)) <= headless

    def trunk(groups: list[list[str]]) -> list[list[str]]:
        return [kept for g in groups if (kept := [n for n in g if n not in headless])]

    assert trunk(parameter_groups(ours, mine_matcher)) == trunk(parameter_groups(theirs, ref_matcher))


def _record(record_property, name: str) -> None:
    """Tag the report with the family, for the summary table of ``make parity`` (conftest.py)."""
    record_property("parity_family", family_of(name))
    record_property("parity_arch", name)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.sampled(parity=True)
def test_outputs_match_timm(name: str, record_property) -> None:
    _skip_if_too_large(name)
    _record(record_property, name)
    theirs = timm_model(name, **sampled_kwargs(name, parity=True))
    ours = create(name, parity=True, device="meta")
    load_state_dict_into(ours, theirs.state_dict(), strict=True)
    ours.eval()
    x = _input(ours)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < TOL
        assert rel_err(ours.forward_features(x), theirs.forward_features(x)) < TOL
    assert ours.num_features == theirs.num_features
    assert [(f["num_chs"], f["reduction"]) for f in ours.feature_info] == [
        (f["num_chs"], f["reduction"]) for f in theirs.feature_info
    ]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.sampled(parity=True)
def test_features_only_match_timm(name: str, record_property) -> None:
    _skip_if_too_large(name)
    _record(record_property, name)
    theirs = timm_model(name, **sampled_kwargs(name, parity=True), features_only=True)
    ours = create(name, parity=True, features_only=True, device="meta")
    load_state_dict_into(ours, theirs.state_dict(), strict=True)
    ours.eval()
    x = _input(create(name, parity=True, device="meta"))
    with torch.no_grad():
        a, b = ours(x), theirs(x)
    assert len(a) == len(b)
    for fa, fb in zip(a, b):  # (timm's Swin / MambaOut levels are channels-last: its output_fmt)
        fa, fb = as_nchw(fa, ours), as_nchw(fb, theirs)
        assert fa.shape == fb.shape
        assert rel_err(fa, fb) < TOL
    assert ours.feature_info.channels() == theirs.feature_info.channels()
    assert ours.feature_info.reduction() == theirs.feature_info.reduction()


def _timm_cfgs(arch: str) -> dict[str, timm.models.PretrainedCfg]:
    from timm.models._registry import _model_pretrained_cfgs, _model_with_tags

    return {n: _model_pretrained_cfgs[n] for n in _model_with_tags[arch]}


TIMM_CFG_FIELDS = [f.name for f in dataclasses.fields(timm.models.PretrainedCfg)]


def _tupled(value):
    """A timm cfg value as our configs hold it: a few timm cfgs write a size as a list
    (NesT's ``pool_size``), which ours store as a tuple, the type timm declares."""
    return tuple(value) if isinstance(value, list) else value


@pytest.mark.parametrize("name", NAMES)
def test_pretrained_cfgs_equal_timm(name: str) -> None:
    theirs = _timm_cfgs(name)
    ours = visionzoo.get_arch_pretrained_cfgs(name)
    assert list(ours) == list(theirs), "tags and their priority order differ"
    for tag_name, cfg in ours.items():
        # every field timm defines, unset ones included (None where timm leaves it unset) ...
        mine = {k: getattr(cfg, k) for k in TIMM_CFG_FIELDS}
        ref = {k: _tupled(getattr(theirs[tag_name], k)) for k in TIMM_CFG_FIELDS}
        assert mine == ref, tag_name
        # ... and the dict view (model.pretrained_cfg, config.json) shows the keys timm's does
        view = {k: v for k, v in cfg.to_dict().items() if k in ref}
        assert view == {k: _tupled(v) for k, v in theirs[tag_name].to_dict().items()}, tag_name
    assert visionzoo.get_pretrained_cfg(name).name == next(iter(theirs))
    assert visionzoo.is_model_pretrained(name) == timm.is_model_pretrained(name)


def test_every_timm_name_in_built_families_is_registered() -> None:
    for module in visionzoo.list_modules():
        missing = set(timm.list_models(module=module)) - set(visionzoo.list_models(module=module))
        assert not missing, f"{module}: {sorted(missing)}"
        theirs = timm.models.get_deprecated_models(module)
        assert visionzoo.get_deprecated_models(module) == theirs
