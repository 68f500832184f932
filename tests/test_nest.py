"""NesT specifics the registry-wide suites do not reach: block cutting, the channel-major head
merge of its attention, and position embeddings resized for another input size."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from timm_oracle import paired, timm

import visionzoo
from visionzoo.models import nest

pytestmark = pytest.mark.family

# a fixed-size model: at 64 px each level still has its 16 / 4 / 1 blocks
SAMPLED_KWARGS: dict[str, Any] = {"img_size": 64}


def test_blockify_cuts_row_major_blocks() -> None:
    x = torch.arange(2 * 4 * 6 * 3, dtype=torch.float32).reshape(2, 4, 6, 3)
    blocks = nest.blockify(x, 2)  # (B, T=2*3, N=4, C)
    assert blocks.shape == (2, 6, 4, 3)
    for t in range(6):
        r, c = divmod(t, 3)
        torch.testing.assert_close(blocks[:, t], x[:, 2 * r : 2 * r + 2, 2 * c : 2 * c + 2].reshape(2, 4, 3))
    torch.testing.assert_close(nest.deblockify(blocks, 2, (4, 6)), x)


def test_attention_merges_heads_channel_major() -> None:
    torch.manual_seed(0)
    attn = nest.Attention(6, 2, qkv_bias=True, attn_drop=0.0, proj_drop=0.0).eval()
    x = torch.randn(1, 3, 4, 6)  # (B, T, N, C)
    with torch.no_grad():
        q, k, v = (x @ attn.qkv.weight.T + attn.qkv.bias).split(6, dim=-1)
        merged = torch.empty(1, 3, 4, 6)
        for h in range(2):
            sl = slice(3 * h, 3 * h + 3)
            out = torch.softmax(q[..., sl] @ k[..., sl].transpose(-1, -2) / math.sqrt(3), dim=-1) @ v[..., sl]
            merged[..., h::2] = out  # channel c of head h lands at c * heads + h
        torch.testing.assert_close(attn(x), merged @ attn.proj.weight.T + attn.proj.bias)
        attn.fused_attn = False
        torch.testing.assert_close(attn(x), merged @ attn.proj.weight.T + attn.proj.bias)


def test_pos_embed_resize_matches_timm() -> None:
    posemb = torch.randn(1, 16, 196, 8)  # 224 px: 16 blocks of 14 x 14 patches
    new = torch.empty(1, 16, 16, 8)  # 64 px: 16 blocks of 4 x 4
    ours = nest.resize_pos_embed(posemb, new.shape)
    torch.testing.assert_close(ours, timm.models.nest.resize_pos_embed(posemb, new))
    torch.testing.assert_close(nest.resize_pos_embed(posemb, posemb.shape), posemb)  # same size: unchanged


def test_checkpoint_of_another_size_loads() -> None:
    big, _ = paired("nest_tiny")
    small = visionzoo.create_model("nest_tiny", img_size=64)
    sd = nest.checkpoint_filter_fn(big.state_dict(), small)
    small.load_state_dict(sd, strict=True)
    for i in range(3):
        key = f"levels.{i}.pos_embed"
        expected = timm.models.nest.resize_pos_embed(big.state_dict()[key], small.get_parameter(key))
        torch.testing.assert_close(small.get_parameter(key).detach(), expected)
    assert nest.checkpoint_filter_fn(big.state_dict(), big).keys() == big.state_dict().keys()


def test_nlhb_head_bias() -> None:
    model = nest.Nest(img_size=32, embed_dims=8, num_heads=2, depths=1, num_classes=10, weight_init="nlhb")
    torch.testing.assert_close(model.head.bias, torch.full((10,), -math.log(10)))
