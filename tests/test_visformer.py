"""Visformer's own parts: the spatial MLP's width rule and the 1x1-conv attention (each against a
direct computation), and the options no registered name sets (compared with timm)."""

from __future__ import annotations

import pytest
import torch
from timm.models import visformer as timm_visformer
from timm_oracle import assert_pair_matches, paired_classes, rel_err

from visionzoo.models.visformer import Attention, SpatialMlp, Visformer

pytestmark = pytest.mark.family


def test_spatial_mlp_width_follows_the_group_not_the_ratio():
    assert SpatialMlp(12, 48).hidden_features == 48
    assert SpatialMlp(12, 48, spatial_conv=True, group=4).hidden_features == 24
    assert SpatialMlp(12, 48, spatial_conv=True, group=1).hidden_features == 10
    mlp = SpatialMlp(12, 48, spatial_conv=True, group=4)
    assert mlp.conv2 is not None and mlp.conv2.groups == 4 and mlp.conv2.kernel_size == (3, 3)


def test_attention_is_softmax_over_pixels():
    torch.manual_seed(0)
    attn = Attention(8, num_heads=2, head_dim_ratio=0.5).eval()  # heads of 2 channels
    x = torch.randn(2, 8, 3, 4)
    qkv = attn.qkv.weight[:, :, 0, 0]  # (3 * heads * head_dim, C)
    tokens = x.flatten(2).transpose(1, 2)  # (B, 12, C)
    q, k, v = (tokens @ qkv.t()).reshape(2, 12, 3, 2, 2).permute(2, 0, 3, 1, 4)
    out = ((q @ k.transpose(-2, -1)) / 2**0.5).softmax(-1) @ v  # (B, heads, 12, 2)
    out = out.permute(0, 1, 3, 2).reshape(2, 4, 3, 4)
    expected = torch.nn.functional.conv2d(out, attn.proj.weight)
    with torch.no_grad():
        assert rel_err(attn(x), expected) < 1e-5
        attn.fused_attn = False
        assert rel_err(attn(x), expected) < 1e-5


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),  # LayerNorm2d, attention and spatial convs in every stage
        dict(init_channels=None, use_pos_embed=False, group=1, spatial_conv="010"),
        dict(depth=(0, 2, 0), vit_stem=True, attn_stage="111", spatial_conv="000"),
        dict(depth=5, attn_stage="001", embed_norm=torch.nn.BatchNorm2d, global_pool="max"),
    ],
)
def test_options_match_timm(kwargs):
    base = dict(img_size=64, embed_dim=32, depth=(1, 1, 1), num_heads=2, num_classes=5)
    ours, theirs = paired_classes(Visformer, timm_visformer.Visformer, **{**base, **kwargs})
    assert_pair_matches(ours, theirs, torch.randn(2, 3, 64, 64))


def test_bad_stage_flags_are_refused():
    with pytest.raises(ValueError, match="attn_stage"):
        Visformer(img_size=64, embed_dim=32, depth=3, num_heads=2, attn_stage="01")
