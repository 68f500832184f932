"""EfficientViT (MSRA) specifics the registry-wide suites do not reach: the checkpoint remap that
resamples the offset biases of windows of another size, ``set_input_size``, and options no
registered name sets (window sizes, non-square inputs, no pooling), against timm."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm_oracle import assert_pair_matches, assert_pruned_like_timm, paired, rel_err, timm_model

import visionzoo
from visionzoo.builder import load_state_dict_into
from visionzoo.models.efficientvit_msra import checkpoint_filter_fn

pytestmark = pytest.mark.family


def _x(h: int = 224, w: int | None = None, seed: int = 3) -> torch.Tensor:
    return torch.randn(1, 3, h, w or h, generator=torch.Generator().manual_seed(seed))


def test_filter_resamples_biases_for_another_input_size() -> None:
    """A 224 px checkpoint (4 x 4 windows in the last stage) into a 288 px model (5 x 5): the
    biases are resampled as timm's remap does, the computed indices of an old layout dropped."""
    import timm.models.efficientvit_msra as theirs_mod

    source = timm_model("efficientvit_m0").state_dict()
    key = "stages.2.blocks.0.mixer.m.attn.attention_biases"
    assert source[key].shape == (4, 16)
    checkpoint = dict(source, **{key.replace("biases", "bias_idxs"): torch.zeros(16, 16, dtype=torch.long)})
    ours = visionzoo.create_model("efficientvit_m0", img_size=288)
    theirs = timm_model("efficientvit_m0", img_size=288)
    mine, ref = checkpoint_filter_fn(checkpoint, ours), theirs_mod.checkpoint_filter_fn(checkpoint, theirs)
    assert mine.keys() == ref.keys() == source.keys()
    assert mine[key].shape == (4, 25)
    assert all(torch.equal(mine[k], ref[k]) for k in ref)
    assert torch.equal(
        mine["stages.0.blocks.0.mixer.m.attn.attention_biases"],
        source["stages.0.blocks.0.mixer.m.attn.attention_biases"],
    )
    load_state_dict_into(ours, mine, strict=True)
    theirs.load_state_dict(ref, strict=True)
    with torch.no_grad():
        assert rel_err(ours.eval()(_x(288)), theirs.eval()(_x(288))) < 1e-4


def test_set_input_size_like_timm() -> None:
    ours, theirs = paired("efficientvit_m1")
    ours.set_input_size((288, 320))
    theirs.set_input_size((288, 320))
    assert ours.stages[2].blocks[0].mixer.m.attn.attention_biases.shape[-1] == 25
    assert ours.pretrained_cfg["input_size"] == (3, 224, 224)  # the weights' config stays
    with torch.no_grad():
        assert rel_err(ours(_x(288, 320)), theirs(_x(288, 320))) < 1e-4


@pytest.mark.parametrize(
    "kwargs, size",
    [
        (dict(window_size=(4, 5, 3), num_classes=5), (128, 160)),  # windows that pad and crop
        (dict(img_size=(128, 96), drop_rate=0.3), (128, 96)),  # the smaller side sets the windows
    ],
)
def test_options_match_timm(kwargs: dict[str, Any], size: tuple[int, int]) -> None:
    ours, theirs = paired("efficientvit_m0", **kwargs)
    assert_pair_matches(ours, theirs, _x(*size))


def test_no_pool_only_without_classifier() -> None:
    with pytest.raises(ValueError, match="pooled"):
        visionzoo.create_model("efficientvit_m0", global_pool="")
    model = visionzoo.create_model("efficientvit_m0", global_pool="", num_classes=0).eval()
    with torch.no_grad():
        assert model(_x(64)).shape == (1, 192, 1, 1)
    with pytest.raises(ValueError, match="pooled"):
        model.reset_classifier(10)


@pytest.mark.parametrize("level", [0, 1])
def test_pruned_like_timm(level: int) -> None:
    ours, theirs = paired("efficientvit_m0")
    assert_pruned_like_timm(ours, theirs, level, _x(96))
