"""Swin Transformer's own parts: the original checkpoint layout, resizing (at creation from a
checkpoint, and ``set_input_size``), and the options no registered name sets (compared with
timm)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm.models import swin_transformer as timm_swin
from timm_oracle import assert_pair_matches, paired_classes, rel_err

from visionzoo.layers.pos_embed_rel import resize_rel_pos_bias_table
from visionzoo.models.swin_transformer import SwinTransformer, checkpoint_filter_fn, stage_window_sizes

pytestmark = pytest.mark.family

# the sampled tests build Swin at 64 px: stage 1 (16x16) still cuts padded, shifted 7x7 windows
SAMPLED_KWARGS: dict[str, Any] = {"img_size": 64}

_TINY: dict[str, Any] = dict(embed_dim=16, depths=(2, 2), num_heads=(1, 2), window_size=4, img_size=32)
_NAME = "swin_tiny_patch4_window7_224"


def _x(h: int = 32, w: int = 32) -> torch.Tensor:
    return torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(0))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(_TINY, always_partition=True),
        dict(_TINY, head_dim=8, mlp_ratio=(2.0, 3.0)),
        dict(_TINY, window_size=((4, 3), (2, 2)), img_size=(32, 48)),
        dict(_TINY, img_size=40, window_size=3),  # grids 10 / 5: padded windows in both stages
        dict(_TINY, global_pool="max", num_classes=7),
    ],
)
def test_options_match_timm(kwargs):
    ours, theirs = paired_classes(SwinTransformer, timm_swin.SwinTransformer, **kwargs)
    size = kwargs["img_size"]
    h, w = (size, size) if isinstance(size, int) else size
    assert_pair_matches(ours, theirs, _x(h, w))


def test_dynamic_img_size_builds_masks_per_input():
    ours, theirs = paired_classes(SwinTransformer, timm_swin.SwinTransformer, **_TINY, dynamic_img_size=True)
    for h, w in ((32, 32), (40, 56), (24, 64)):
        x = _x(h, w)
        with torch.no_grad():
            assert rel_err(ours(x), theirs(x)) < 1e-4


def test_window_size_spec():
    assert stage_window_sizes(7, 3) == ((7, 7),) * 3
    assert stage_window_sizes((7, 5), 4) == ((7, 5),) * 4  # two ints: one (h, w), not two stages
    assert stage_window_sizes((7, 7, 14, 7), 4)[2] == (14, 14)
    with pytest.raises(ValueError, match="one per stage"):
        stage_window_sizes((7, 7, 7), 4)


@pytest.mark.parametrize(
    "resize",
    [
        dict(img_size=48),
        dict(img_size=(48, 64), window_size=3),
        dict(window_ratio=4),
        dict(img_size=64, patch_size=8),
        dict(img_size=48, always_partition=True),
    ],
)
def test_set_input_size_matches_timm(resize):
    ours, theirs = paired_classes(SwinTransformer, timm_swin.SwinTransformer, **_TINY)
    ours.set_input_size(**resize)
    theirs.set_input_size(**resize)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    for k, v in theirs.state_dict().items():
        assert rel_err(ours.state_dict()[k], v) < 1e-6, k
    size = resize.get("img_size", 32)
    h, w = (size, size) if isinstance(size, int) else size
    assert_pair_matches(ours, theirs, _x(h, w))


def test_set_input_size_at_the_same_size_changes_nothing():
    model = SwinTransformer(**_TINY).eval()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.set_input_size(img_size=32)
    assert all(torch.equal(v, before[k]) for k, v in model.state_dict().items())


def test_checkpoint_at_a_new_window_is_resampled(tmp_path):
    """A checkpoint loaded into a model built at another size / window equals building at that
    size and resampling each bias table by hand (and timm's model built the same way)."""
    import timm

    import visionzoo

    src = SwinTransformer(**_TINY)
    path = tmp_path / "swin.pth"
    torch.save(src.state_dict(), path)
    new = dict(_TINY, img_size=48, window_size=6)
    ours = visionzoo.create_model(_NAME, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), **new)
    by_hand = SwinTransformer(**new)
    state = {}
    for k, v in src.state_dict().items():
        if k.endswith("relative_position_bias_table"):
            target = by_hand.get_parameter(k)
            v = resize_rel_pos_bias_table(v, new_window_size=(6, 6), new_bias_shape=tuple(target.shape))
            assert v.shape == target.shape != src.get_parameter(k).shape
        state[k] = v
    by_hand.load_state_dict(state)
    theirs = timm.create_model(_NAME, pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), **new)
    x = _x(48, 48)
    with torch.no_grad():
        got = ours.eval()(x)
        assert rel_err(got, by_hand.eval()(x)) < 1e-6
        assert rel_err(got, theirs.eval()(x)) < 1e-4


def _original_layout(state: dict[str, torch.Tensor], num_stages: int) -> dict[str, Any]:
    """Microsoft's layout: stage i+1's merging stored at the end of stage i, a bare ``head``,
    index and mask buffers saved."""
    out: dict[str, Any] = {}
    for k, v in state.items():
        for i in range(1, num_stages):
            k = k.replace(f"layers.{i}.downsample", f"layers.{i - 1}.downsample")
        out[k.replace("head.fc.", "head.")] = v
    out["layers.0.blocks.0.attn.relative_position_index"] = torch.zeros(16, 16, dtype=torch.long)
    out["layers.0.blocks.1.attn_mask"] = torch.zeros(4, 16, 16)
    return {"model": out}


def test_original_layout_loads():
    ours, theirs = paired_classes(SwinTransformer, timm_swin.SwinTransformer, **_TINY)
    original = _original_layout(theirs.state_dict(), 2)
    assert "layers.0.downsample.reduction.weight" in original["model"]
    mine = checkpoint_filter_fn(original, ours)
    assert mine.keys() == timm_swin.checkpoint_filter_fn(original, theirs).keys() == ours.state_dict().keys()
    fresh = SwinTransformer(**_TINY).eval()
    fresh.load_state_dict(mine)
    assert rel_err(fresh(_x()), theirs(_x())) < 1e-4


def test_weight_init_modes_and_skip():
    torch.manual_seed(0)
    jax = SwinTransformer(**_TINY, weight_init="jax")
    assert torch.count_nonzero(jax.head.fc.weight) == 0
    skip = SwinTransformer(**_TINY, weight_init="skip")
    assert skip.weight_init_mode == "reset"
    with pytest.raises(ValueError, match="weight_init"):
        SwinTransformer(**_TINY, weight_init="bogus")


def test_prune_then_resize_keeps_the_kept_stages():
    kwargs = dict(_TINY, depths=(2, 2, 2), num_heads=(1, 2, 4), img_size=64)
    ours, theirs = paired_classes(SwinTransformer, timm_swin.SwinTransformer, **kwargs)
    assert ours.prune_intermediate_layers([1]) == theirs.prune_intermediate_layers([1])
    ours.set_input_size(img_size=96)
    theirs.set_input_size(img_size=96)
    x = _x(96, 96)
    with torch.no_grad():
        assert rel_err(ours.forward_features(x), theirs.forward_features(x)) < 1e-4
