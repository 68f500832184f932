"""FocalNet specifics the registry-wide suites do not reach: options no registered name sets
against timm (timm's entrypoints fix depths and width, so these build the classes), and the
microsoft/FocalNet checkpoint layout remapped."""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch
from timm_oracle import assert_pair_matches, paired_classes, timm

from visionzoo.models import focalnet as fn

pytestmark = pytest.mark.family

_TINY = dict(depths=(1, 2, 1), embed_dim=8, focal_levels=(2, 3, 1), focal_windows=(3, 3, 5))
_POST = dict(
    use_post_norm=True, use_post_norm_in_modulation=True, use_overlap_down=True, layerscale_value=1e-4
)


def _x() -> torch.Tensor:
    return torch.randn(2, 3, 40, 56, generator=torch.Generator().manual_seed(5))


def _pair(**kwargs: Any) -> tuple[torch.nn.Module, torch.nn.Module]:
    return paired_classes(fn.FocalNet, timm.models.focalnet.FocalNet, **_TINY, num_classes=6, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(head_hidden_size=24, normalize_modulator=True),
        dict(_POST, global_pool="max"),
    ],
)
def test_options_match_timm(kwargs: dict[str, Any]) -> None:
    ours, theirs = _pair(**kwargs)
    assert_pair_matches(ours, theirs, _x())


def test_mlp_head_reset_other_matches_timm() -> None:
    ours, theirs = _pair(head_hidden_size=24)
    for model in (ours, theirs):
        model.reset_classifier(3, reset_other=True)
    ours.head.fc.load_state_dict(theirs.head.fc.state_dict())
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    assert_pair_matches(ours, theirs, _x())


_LINEAR = re.compile(r"(modulation\.(f|proj)|mlp\.fc\d)\.weight$")


def _to_ms_layout(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm keys -> the microsoft/FocalNet layout, written out by hand: the downsample closes the
    previous stage, linear layers are ``nn.Linear``."""
    out = {}
    for k, v in sd.items():
        if _LINEAR.search(k):
            v = v.flatten(1)
        k = re.sub(r"\.ls(\d)\.gamma$", r".gamma_\1", k)
        k = re.sub(r"^stem\.", "patch_embed.", k)
        k = re.sub(r"^layers\.(\d+)\.downsample", lambda m: f"layers.{int(m.group(1)) - 1}.downsample", k)
        k = re.sub(r"norm(\d)_post", r"norm\1", k)
        k = k.replace("modulation.norm.", "modulation.ln.")
        k = re.sub(r"^head\.fc\.", "head.", k)
        out[k] = v
    return out


@pytest.mark.parametrize("kwargs", [{}, _POST])
def test_ms_checkpoint_remaps_as_timm(kwargs: dict[str, Any]) -> None:
    ours, theirs = _pair(**kwargs)
    original = {"model": _to_ms_layout(theirs.state_dict())}
    mine = fn.checkpoint_filter_fn(dict(original), ours)
    ref = timm.models.focalnet.checkpoint_filter_fn(dict(original), theirs)
    assert list(mine) == list(ref)
    assert all(torch.equal(mine[k], ref[k]) for k in ref)
    ours.load_state_dict(mine, strict=True)
    assert_pair_matches(ours, theirs, _x())
