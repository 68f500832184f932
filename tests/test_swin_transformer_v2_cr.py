"""Swin V2-CR's own parts: the per-pair log offsets and cosine attention against direct formulas,
the old-layout remap, and the options and resizes no registered name sets (compared with timm)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from timm.models import swin_transformer_v2_cr as timm_cr
from timm_oracle import assert_pair_matches, paired_classes, rel_err

from visionzoo.models.swin_transformer import SwinTransformerStage
from visionzoo.models.swin_transformer_v2_cr import (
    SwinTransformerV2Cr,
    WindowMultiHeadAttention,
    checkpoint_filter_fn,
    pair_log_offsets,
)

pytestmark = pytest.mark.family

# the sampled tests build V2-CR at 64 px (windows of 2, still shifted) with two blocks a stage
SAMPLED_KWARGS: dict[str, Any] = {"img_size": 64, "depths": (2, 2, 2, 2)}

_TINY: dict[str, Any] = dict(embed_dim=16, depths=(2, 2), num_heads=(1, 2), img_size=32, window_size=4)


def _x(h: int = 32, w: int = 32) -> torch.Tensor:
    return torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(0))


def test_pair_log_offsets_are_the_natural_log_of_each_offset():
    h, w = 2, 3
    got = pair_log_offsets((h, w))
    n = h * w
    for i in range(n):
        for j in range(n):
            for axis, d in enumerate((i // w - j // w, i % w - j % w)):
                assert got[i * n + j, axis].item() == pytest.approx(math.copysign(math.log(1 + abs(d)), d))


def test_cosine_attention_is_the_written_out_formula():
    torch.manual_seed(0)
    attn = WindowMultiHeadAttention(8, 2, window_size=(2, 2)).eval()
    with torch.no_grad():
        for p in attn.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    x = torch.randn(3, 4, 8)
    mask = torch.zeros(3, 4, 4)
    mask[1, 0, 3] = -100.0
    q, k, v = attn.qkv(x).reshape(3, 4, 3, 2, 4).permute(2, 0, 3, 1, 4)
    cos = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
    bias = torch.empty(2, 4, 4)
    for i in range(4):
        for j in range(4):
            dy, dx = i // 2 - j // 2, i % 2 - j % 2
            off = torch.tensor(
                [math.copysign(math.log1p(abs(dy)), dy), math.copysign(math.log1p(abs(dx)), dx)]
            )
            bias[:, i, j] = attn.meta_mlp(off)
    scale = attn.logit_scale.clamp(max=math.log(100)).exp().view(1, 2, 1, 1)
    logits = cos * scale + bias + mask[:, None]
    want = attn.proj((logits.softmax(-1) @ v).transpose(1, 2).reshape(3, 4, 8))
    with torch.no_grad():
        assert rel_err(attn(x, mask), want) < 1e-5
        attn.fused_attn = False
        assert rel_err(attn(x, mask), want) < 1e-5


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(_TINY, always_partition=True, init_values=None),
        dict(_TINY, depths=(3, 2), extra_norm_period=2, extra_norm_stage=True),
        dict(_TINY, window_size=((4, 3), (2, 2)), img_size=(32, 48)),
        dict(_TINY, img_size=40, window_size=3),  # padded windows in both stages
        dict(_TINY, window_size=None, window_ratio=(4, 2), global_pool="max", num_classes=7, mlp_ratio=2.0),
    ],
)
def test_options_match_timm(kwargs):
    ours, theirs = paired_classes(SwinTransformerV2Cr, timm_cr.SwinTransformerV2Cr, **kwargs)
    size = kwargs["img_size"]
    h, w = (size, size) if isinstance(size, int) else size
    assert_pair_matches(ours, theirs, _x(h, w))


def test_training_mode_draws_dropout_as_timm():
    """The bias MLP's dropout is drawn per token pair and attention dropout over the full map."""
    kwargs = dict(_TINY, attn_drop_rate=0.2, proj_drop_rate=0.1, drop_path_rate=0.2)
    ours, theirs = paired_classes(SwinTransformerV2Cr, timm_cr.SwinTransformerV2Cr, **kwargs)
    ours.train()
    theirs.train()
    with torch.no_grad():
        torch.manual_seed(3)
        a = ours(_x())
        torch.manual_seed(3)
        b = theirs(_x())
        assert rel_err(a, b) < 1e-4
        torch.manual_seed(4)
        assert rel_err(ours(_x()), b) > 1e-3  # the draws matter


def test_dynamic_img_size_builds_masks_per_input():
    ours, theirs = paired_classes(
        SwinTransformerV2Cr, timm_cr.SwinTransformerV2Cr, **_TINY, dynamic_img_size=True
    )
    for h, w in ((32, 32), (40, 56)):
        with torch.no_grad():
            assert rel_err(ours(_x(h, w)), theirs(_x(h, w))) < 1e-4


@pytest.mark.parametrize(
    "resize", [dict(img_size=48), dict(window_ratio=4), dict(img_size=(48, 64), window_size=3)]
)
def test_set_input_size_matches_timm(resize):
    ours, theirs = paired_classes(SwinTransformerV2Cr, timm_cr.SwinTransformerV2Cr, **_TINY)
    ours.set_input_size(**resize)
    theirs.set_input_size(**resize)
    size = resize.get("img_size", 32)
    h, w = (size, size) if isinstance(size, int) else size
    assert_pair_matches(ours, theirs, _x(h, w))


def test_old_layout_loads():
    """A bare ``head`` and temperatures ``tau`` (``logit_scale = ln(1 / tau)``)."""
    ours, theirs = paired_classes(SwinTransformerV2Cr, timm_cr.SwinTransformerV2Cr, **_TINY)
    with torch.no_grad():
        for name, p in theirs.named_parameters():
            if name.endswith("logit_scale"):
                p.copy_(torch.rand_like(p) + 1.0)
    old: dict[str, Any] = {}
    for k, v in theirs.state_dict().items():
        if k.endswith("logit_scale"):
            k, v = k.replace("logit_scale", "tau"), torch.exp(-v)
        old[k.replace("head.fc.", "head.")] = v
    mine = checkpoint_filter_fn({"state_dict": old}, ours)
    ref = timm_cr.checkpoint_filter_fn({"state_dict": old}, theirs)
    assert mine.keys() == ref.keys()
    fresh = SwinTransformerV2Cr(**_TINY).eval()
    fresh.load_state_dict(mine)
    with torch.no_grad():
        assert rel_err(fresh(_x()), theirs.eval()(_x())) < 1e-4
    # timm's own layout passes through untouched
    assert checkpoint_filter_fn(theirs.state_dict(), ours).keys() == theirs.state_dict().keys()


def test_init_modes():
    model = SwinTransformerV2Cr(**_TINY, init_values=0.5)
    block = model.stages[1].blocks[1]
    assert torch.equal(block.norm1.weight, torch.full_like(block.norm1.weight, 0.5))
    assert isinstance(block.norm3, torch.nn.LayerNorm) and isinstance(
        model.stages[0].blocks[1].norm3, torch.nn.Identity
    )
    swin = SwinTransformerV2Cr(**_TINY, weight_init="swin")
    assert not swin.head.fc.weight.any() and swin.head.fc.weight.shape == (1000, 32)
    assert not swin.stages[0].blocks[0].norm1.weight.any()
    with pytest.raises(ValueError, match="weight_init"):
        SwinTransformerV2Cr(**_TINY, weight_init="jaxx")
    with pytest.raises(ValueError, match="map format"):
        SwinTransformerStage(
            dim=8, out_dim=8, input_resolution=(4, 4), depth=1, downsample=False, output_fmt="NLC"
        )
