"""DaViT specifics the registry-wide suites do not reach: options no registered name sets against
timm, and the two checkpoint layouts (dingmyu/davit, Florence-2's vision tower) remapped."""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch
from timm_oracle import assert_pair_matches, paired, paired_classes, timm

from visionzoo.models import davit as dv

pytestmark = pytest.mark.family

# the smallest name has 28 M parameters: one dual block per stage, narrow; every block kind kept
SAMPLED_KWARGS: dict[str, Any] = {
    "depths": (1, 1, 1, 1),
    "embed_dims": (32, 64, 128, 256),
    "num_heads": (1, 2, 4, 8),
}
_TINY = dict(depths=(1, 2, 1), embed_dims=(16, 32, 64), num_heads=(1, 2, 4), window_size=3)


def _x(h: int = 46, w: int = 38) -> torch.Tensor:
    # sides that are not multiples of the stem stride, the windows or the downsample kernels
    return torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(head_norm_first=True, cpe_act=True),
        dict(attn_types=("channel", "spatial"), down_kernel_size=3, global_pool="max"),
        dict(attn_types=("channel",), ffn=False, channel_attn_v2=True, named_blocks=True),
    ],
)
def test_options_match_timm(kwargs: dict[str, Any]) -> None:
    ours, theirs = paired_classes(dv.DaVit, timm.models.davit.DaVit, **_TINY, num_classes=5, **kwargs)
    assert_pair_matches(ours, theirs, _x())


def test_reset_other_matches_timm() -> None:
    ours, theirs = paired("davit_tiny", **SAMPLED_KWARGS)
    for model in (ours, theirs):
        model.reset_classifier(4, reset_other=True)
    ours.head.fc.load_state_dict(theirs.head.fc.state_dict())
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    assert_pair_matches(ours, theirs, _x())


def _to_msft_layout(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm keys -> the dingmyu/davit release layout, written out by hand."""
    out = {}
    for k, v in sd.items():
        k = re.sub(r"^stem\.conv\.", "patch_embeds.0.proj.", k)
        k = re.sub(r"^stem\.", "patch_embeds.0.", k)
        k = re.sub(r"^stages\.(\d+)\.downsample\.conv\.", r"patch_embeds.\1.proj.", k)
        k = re.sub(r"^stages\.(\d+)\.downsample\.", r"patch_embeds.\1.", k)
        k = re.sub(r"^stages\.(\d+)\.blocks\.", r"main_blocks.\1.", k)
        k = k.replace(".cpe1.", ".cpe.0.").replace(".cpe2.", ".cpe.1.")
        k = re.sub(r"^head\.norm\.", "norms.", k)
        k = re.sub(r"^head\.fc\.", "head.", k)
        out[k] = v
    return out


def test_msft_checkpoint_remaps_as_timm() -> None:
    ours, theirs = paired("davit_tiny", **SAMPLED_KWARGS)
    original = {"state_dict": _to_msft_layout(theirs.state_dict())}
    assert not any(k.startswith(("stem", "stages")) for k in original["state_dict"])
    mine = dv.checkpoint_filter_fn(dict(original), ours)
    ref = timm.models.davit.checkpoint_filter_fn(dict(original), theirs)
    assert mine.keys() == ref.keys() == theirs.state_dict().keys()
    ours.load_state_dict(mine, strict=True)
    assert_pair_matches(ours, theirs, _x())


def _to_florence_layout(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm keys -> Florence-2's ``vision_tower.*`` layout, written out by hand; no head."""
    out = {}
    for k, v in sd.items():
        if k.startswith("head."):
            continue
        k = re.sub(r"^stem\.conv\.", "convs.0.proj.", k)
        k = re.sub(r"^stem\.", "convs.0.", k)
        k = re.sub(r"^stages\.(\d+)\.downsample\.conv\.", r"convs.\1.proj.", k)
        k = re.sub(r"^stages\.(\d+)\.downsample\.", r"convs.\1.", k)
        k = re.sub(r"^stages\.(\d+)\.blocks\.", r"blocks.\1.", k)
        wrap = "window_attn" if ".spatial_block." in k else "channel_attn"
        k = k.replace(".norm1.", f".{wrap}.norm.").replace(".attn.", f".{wrap}.fn.")
        k = k.replace(".norm2.", ".ffn.norm.").replace(".mlp.", ".ffn.fn.net.")
        k = re.sub(r"\.cpe([12])\.proj\.", r".conv\1.fn.dw.", k)
        out[f"vision_tower.{k}"] = v
    return out


def test_florence_checkpoint_remaps_as_timm() -> None:
    ours, theirs = paired("davit_base_fl", **SAMPLED_KWARGS, num_classes=0)
    florence = _to_florence_layout(theirs.state_dict())
    florence["language_model.lm_head.weight"] = torch.zeros(2, 2)  # the rest of Florence-2 is dropped
    mine = dv.checkpoint_filter_fn(dict(florence), ours)
    ref = timm.models.davit.checkpoint_filter_fn(dict(florence), theirs)
    # timm loads these non-strictly (no head norm): ours fills in the norm's identity init
    assert set(mine) - set(ref) == {"head.norm.weight", "head.norm.bias"}
    assert all(torch.equal(mine[k], ref[k]) for k in ref)
    ours.load_state_dict(mine, strict=True)
    assert torch.equal(ours.head.norm.weight, torch.ones(256))
    assert torch.equal(ours.head.norm.bias, torch.zeros(256))
    with torch.no_grad():
        torch.testing.assert_close(ours.forward_features(_x()), theirs.forward_features(_x()))


def test_bad_attn_type_is_refused() -> None:
    with pytest.raises(ValueError, match="attn_types"):
        dv.DaVit(**_TINY, attn_types=("spatial", "global"))
