"""Swin V2's own parts: the continuous position bias and cosine attention against direct
formulas, and the options and resizes no registered name sets (compared with timm)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from timm.models import swin_transformer_v2 as timm_swin_v2
from timm_oracle import assert_pair_matches, paired_classes, rel_err

from visionzoo.models.swin_transformer import checkpoint_filter_fn
from visionzoo.models.swin_transformer_v2 import SwinTransformerV2, WindowAttentionV2

pytestmark = pytest.mark.family

# the sampled tests build Swin V2 at 64 px: stage 1 (16x16) still cuts shifted 8x8 windows
SAMPLED_KWARGS: dict[str, Any] = {"img_size": 64}

_TINY: dict[str, Any] = dict(embed_dim=16, depths=(2, 2), num_heads=(1, 2), window_size=4, img_size=32)


def _x(h: int = 32, w: int = 32) -> torch.Tensor:
    return torch.randn(2, 3, h, w, generator=torch.Generator().manual_seed(0))


def _randomised(attn: WindowAttentionV2) -> WindowAttentionV2:
    torch.manual_seed(0)
    with torch.no_grad():
        for p in attn.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    return attn.eval()


@pytest.mark.parametrize(("window", "pretrained"), [((2, 3), (0, 0)), ((3, 3), (6, 6)), ((1, 2), (0, 0))])
def test_continuous_bias_is_the_mlp_of_each_log_offset(window, pretrained):
    attn = _randomised(WindowAttentionV2(8, window, 2, pretrained_window_size=pretrained))
    bias = attn._rel_pos_bias()[0]
    h, w = window
    ref = pretrained if pretrained[0] > 0 else window
    n = h * w
    for qi in range(n):
        for ki in range(n):
            d = []
            for delta, size in ((qi // w - ki // w, ref[0]), (qi % w - ki % w, ref[1])):
                t = delta / max(size - 1, 1) * 8
                d.append(math.copysign(math.log2(1 + abs(t)) / 3, t) if t else 0.0)
            want = 16 * torch.sigmoid(attn.cpb_mlp(torch.tensor(d)))
            assert torch.allclose(bias[:, qi, ki], want, atol=1e-5)


def test_cosine_attention_is_the_written_out_formula():
    attn = _randomised(WindowAttentionV2(8, (2, 2), 2))
    x = torch.randn(3, 4, 8)
    mask = torch.zeros(3, 4, 4)
    mask[1, 0, 3] = -100.0
    qkv = F.linear(x, attn.qkv.weight, torch.cat((attn.q_bias, torch.zeros(8), attn.v_bias)))
    q, k, v = qkv.reshape(3, 4, 3, 2, 4).permute(2, 0, 3, 1, 4)
    cos = F.normalize(q, dim=-1) @ F.normalize(k, dim=-1).transpose(-2, -1)
    logits = cos * attn.logit_scale.clamp(max=math.log(100)).exp() + attn._rel_pos_bias() + mask[:, None]
    want = attn.proj((logits.softmax(-1) @ v).transpose(1, 2).reshape(3, 4, 8))
    with torch.no_grad():
        assert rel_err(attn(x, mask), want) < 1e-5
        attn.fused_attn = False
        assert rel_err(attn(x, mask), want) < 1e-5


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(_TINY, always_partition=True, qkv_bias=False),
        dict(_TINY, window_size=((4, 3), (2, 2)), img_size=(32, 48), pretrained_window_sizes=(6, 3)),
        dict(_TINY, img_size=40, window_size=3, act_layer="silu"),  # padded windows in both stages
        dict(_TINY, global_pool="max", num_classes=7, mlp_ratio=2.0),
    ],
)
def test_options_match_timm(kwargs):
    ours, theirs = paired_classes(SwinTransformerV2, timm_swin_v2.SwinTransformerV2, **kwargs)
    size = kwargs["img_size"]
    h, w = (size, size) if isinstance(size, int) else size
    assert_pair_matches(ours, theirs, _x(h, w))


def test_dynamic_img_size_builds_masks_per_input():
    ours, theirs = paired_classes(
        SwinTransformerV2, timm_swin_v2.SwinTransformerV2, **_TINY, dynamic_img_size=True
    )
    for h, w in ((32, 32), (40, 56)):
        with torch.no_grad():
            assert rel_err(ours(_x(h, w)), theirs(_x(h, w))) < 1e-4


@pytest.mark.parametrize(
    "resize", [dict(img_size=48), dict(window_ratio=8), dict(img_size=(48, 64), window_size=3)]
)
def test_set_input_size_matches_timm(resize):
    ours, theirs = paired_classes(SwinTransformerV2, timm_swin_v2.SwinTransformerV2, **_TINY)
    ours.set_input_size(**resize)
    theirs.set_input_size(**resize)
    size = resize.get("img_size", 32)
    h, w = (size, size) if isinstance(size, int) else size
    out = ours(_x(h, w))
    assert not out.isnan().any()
    assert_pair_matches(ours, theirs, _x(h, w))


def test_original_layout_loads():
    ours, theirs = paired_classes(SwinTransformerV2, timm_swin_v2.SwinTransformerV2, **_TINY)
    original: dict[str, Any] = {}
    for k, v in theirs.state_dict().items():
        original[k.replace("layers.1.downsample", "layers.0.downsample").replace("head.fc.", "head.")] = v
    original["layers.0.blocks.0.attn.relative_coords_table"] = torch.zeros(1, 7, 7, 2)
    mine = checkpoint_filter_fn({"model": original}, ours)
    assert mine.keys() == timm_swin_v2.checkpoint_filter_fn({"model": original}, theirs).keys()
    fresh = SwinTransformerV2(**_TINY).eval()
    fresh.load_state_dict(mine)
    assert rel_err(fresh(_x()), theirs(_x())) < 1e-4


def test_init_closes_every_residual_branch():
    model = SwinTransformerV2(**_TINY)
    block = model.layers[1].blocks[1]
    assert not block.norm1.weight.any() and not block.norm2.bias.any()
    assert torch.allclose(block.attn.logit_scale, torch.full_like(block.attn.logit_scale, math.log(10)))
    assert "layers.0.blocks.0.attn.cpb_mlp.0.weight" in model.no_weight_decay()
