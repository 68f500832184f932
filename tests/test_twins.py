"""Twins' own parts: locally-grouped attention (windows over a padded grid) and the PEG against
their formulas, and the options no registered name sets (compared with timm)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from timm.models import twins as timm_twins
from timm_oracle import assert_pair_matches, paired_classes, rel_err

from visionzoo.models.twins import LocallyGroupedAttn, PosConv, Twins

pytestmark = pytest.mark.family

# the sampled tests: 64 px and two blocks a stage (SVT's local and global attention both kept)
SAMPLED_KWARGS: dict[str, Any] = {"img_size": 64, "depths": (2, 2, 2, 2)}

TINY = dict(
    img_size=64, embed_dims=(16, 32, 32, 64), num_heads=(1, 2, 2, 4), depths=(2, 1, 2, 1), num_classes=5
)


@pytest.mark.parametrize("fused", [True, False])
def test_locally_grouped_attention_attends_within_padded_windows(fused):
    torch.manual_seed(0)
    attn = LocallyGroupedAttn(4, 2, ws=2, fused_attn=fused).eval()
    h, w = 3, 5  # padded to 4 x 6: six 2 x 2 windows
    x = torch.randn(1, h * w, 4)
    grid = F.pad(x.view(1, h, w, 4), (0, 0, 0, 1, 0, 1))[0]  # (4, 6, C), zeros at the bottom / right
    out = torch.zeros(4, 6, 4)
    for r in range(0, 4, 2):
        for c in range(0, 6, 2):
            tokens = grid[r : r + 2, c : c + 2].reshape(4, 4)
            q, k, v = F.linear(tokens, attn.qkv.weight, attn.qkv.bias).reshape(4, 3, 2, 2).permute(1, 2, 0, 3)
            y = torch.softmax(q @ k.transpose(-2, -1) / 2**0.5, dim=-1) @ v  # (heads, 4, 2)
            out[r : r + 2, c : c + 2] = y.transpose(0, 1).reshape(2, 2, 4)
    expected = F.linear(out[:h, :w].reshape(1, h * w, 4), attn.proj.weight, attn.proj.bias)
    with torch.no_grad():
        assert rel_err(attn(x, (h, w)), expected) < 1e-5


def test_peg_adds_a_depthwise_conv_of_the_grid():
    torch.manual_seed(1)
    peg = PosConv(6, 6)
    x = torch.randn(2, 12, 6)
    grid = x.transpose(1, 2).reshape(2, 6, 3, 4)
    conv = peg.proj[0]
    expected = (F.conv2d(grid, conv.weight, conv.bias, padding=1, groups=6) + grid).flatten(2).transpose(1, 2)
    with torch.no_grad():
        assert rel_err(peg(x, (3, 4)), expected) < 1e-5


def test_window_of_one_is_refused():
    with pytest.raises(ValueError, match="ws=1"):
        LocallyGroupedAttn(8, 2, ws=1)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(sr_ratios=(4, 2, 1, 1)),  # PCPVT: global attention everywhere
        dict(wss=(3, 3, 2, 2), sr_ratios=(4, 2, 2, 1), mlp_ratios=(2.0, 2.0, 3.0, 3.0)),  # windows pad
        dict(global_pool="", wss=(4, 4, 4, 4), sr_ratios=(8, 4, 2, 1)),
        dict(img_size=48, patch_size=2, depths=(1, 1, 1), embed_dims=(8, 16, 24), num_heads=(1, 2, 3),
             mlp_ratios=(4.0, 4.0, 4.0), sr_ratios=(2, 2, 1), wss=(5, 5, 5)),
    ],
)  # fmt: skip
def test_options_match_timm(kwargs):
    args = {**TINY, **kwargs}
    ours, theirs = paired_classes(Twins, timm_twins.Twins, **args)
    assert_pair_matches(ours, theirs, torch.randn(2, 3, args["img_size"], args["img_size"]))


def test_pool_other_than_mean_is_refused():
    with pytest.raises(ValueError, match="global_pool"):
        Twins(**{**TINY, "global_pool": "max"})
