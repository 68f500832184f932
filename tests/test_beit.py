"""BEiT's own parts: the relative position index and bias, the table resampling, Microsoft's
checkpoint layout, and the options no registered name sets (compared with timm)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm.models import beit as timm_beit
from timm_oracle import assert_pair_matches, paired, paired_classes, rel_err

from visionzoo.layers.pos_embed_rel import gen_relative_position_index, resize_rel_pos_bias_table
from visionzoo.models.beit import Attention, Beit, checkpoint_filter_fn

pytestmark = pytest.mark.family

# the sampled tests build BEiT-B at 64 px and 4 blocks (its smallest name is ViT-B sized)
SAMPLED_KWARGS: dict[str, Any] = {"img_size": 64, "depth": 4}


def _rows_by_loops(h: int, w: int) -> torch.Tensor:
    """Each (query, key) pair's table row, one pair at a time; class token rows after the grid's."""
    n = (2 * h - 1) * (2 * w - 1)
    out = torch.empty(h * w + 1, h * w + 1, dtype=torch.long)
    for qi in range(h * w):
        for ki in range(h * w):
            dy = qi // w - ki // w
            dx = qi % w - ki % w
            out[qi + 1, ki + 1] = (dy + h - 1) * (2 * w - 1) + (dx + w - 1)
    out[0, :], out[:, 0], out[0, 0] = n, n + 1, n + 2
    return out


@pytest.mark.parametrize("size", [(2, 3), (4, 4), (3, 1)])
def test_relative_position_index_matches_pairwise_loops(size):
    h, w = size
    expected = _rows_by_loops(h, w)
    assert torch.equal(gen_relative_position_index(size, class_token=True), expected)
    assert torch.equal(gen_relative_position_index(size), expected[1:, 1:])


def test_attention_bias_is_the_table_row_of_each_pair():
    attn = Attention(8, num_heads=2, qkv_bias=True, window_size=(2, 3))
    with torch.no_grad():
        attn.relative_position_bias_table.copy_(torch.randn_like(attn.relative_position_bias_table))
    bias = attn._rel_pos_bias()[0]
    rows = _rows_by_loops(2, 3)
    for head in range(2):
        for q in range(7):
            for k in range(7):
                assert bias[head, q, k] == attn.relative_position_bias_table[rows[q, k], head]


def test_attention_with_bias_is_the_written_out_softmax():
    torch.manual_seed(0)
    attn = Attention(8, num_heads=2, qkv_bias=True, window_size=(2, 2)).eval()
    with torch.no_grad():
        for p in attn.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    x = torch.randn(2, 5, 8)
    q, k, v = (
        torch.nn.functional.linear(x, attn.qkv.weight, torch.cat((attn.q_bias, torch.zeros(8), attn.v_bias)))
        .reshape(2, 5, 3, 2, 4)
        .permute(2, 0, 3, 1, 4)
    )
    logits = q @ k.transpose(-2, -1) / 2.0 + attn._rel_pos_bias()
    expected = attn.proj((logits.softmax(-1) @ v).transpose(1, 2).reshape(2, 5, 8))
    assert rel_err(attn(x), expected) < 1e-5
    attn.fused_attn = False
    assert rel_err(attn(x), expected) < 1e-5


def test_resize_keeps_extra_rows_and_a_constant_table():
    table = torch.cat((torch.full((25, 3), 0.7), torch.randn(3, 3)))  # window 3x3 + class rows
    out = resize_rel_pos_bias_table(table, (5, 4), (9 * 7 + 3, 3))
    assert out.shape == (66, 3)
    assert torch.allclose(out[:-3], torch.full((63, 3), 0.7))
    assert torch.equal(out[-3:], table[-3:])
    assert resize_rel_pos_bias_table(table, (3, 3), (28, 3)) is table


def test_resize_matches_timm():
    from timm.layers import resize_rel_pos_bias_table as timm_resize

    table = torch.randn(7 * 7 + 3, 4)
    for new in [(6, 6), (2, 3)]:
        shape = ((2 * new[0] - 1) * (2 * new[1] - 1) + 3, 4)
        assert rel_err(resize_rel_pos_bias_table(table, new, shape), timm_resize(table, new, shape)) < 1e-5


def test_original_checkpoint_layout_loads():
    model = Beit(
        img_size=32,
        patch_size=16,
        embed_dim=16,
        depth=2,
        num_heads=2,
        use_abs_pos_emb=False,
        use_rel_pos_bias=True,
        init_values=0.1,
        num_classes=5,
    )
    source = Beit(
        img_size=48,
        patch_size=8,
        embed_dim=16,
        depth=2,
        num_heads=2,
        use_abs_pos_emb=False,
        use_rel_pos_bias=True,
        init_values=0.1,
        num_classes=5,
    )
    sd = {k: v for k, v in source.state_dict().items()}
    sd["blocks.0.attn.relative_position_index"] = torch.zeros(37, 37, dtype=torch.long)
    remapped = checkpoint_filter_fn({"model": sd}, model)
    assert "blocks.0.attn.relative_position_index" not in remapped
    assert remapped["patch_embed.proj.weight"].shape == (16, 3, 16, 16)
    assert remapped["blocks.1.attn.relative_position_bias_table"].shape == (3 * 3 + 3, 2)
    model.load_state_dict(remapped, strict=True)
    theirs = timm_beit.checkpoint_filter_fn({"module": sd}, model)
    for k, v in theirs.items():
        assert rel_err(remapped[k], v) < 1e-5, k


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(global_pool="token"),
        dict(use_abs_pos_emb=True, use_rel_pos_bias=False),
        dict(use_abs_pos_emb=True, swiglu_mlp=True, scale_mlp=True, use_fc_norm=False),
    ],
)
def test_options_match_timm(kwargs):
    base = dict(
        img_size=32,
        patch_size=8,
        embed_dim=32,
        depth=2,
        num_heads=4,
        use_rel_pos_bias=True,
        init_values=0.1,
        num_classes=7,
    )
    ours, theirs = paired_classes(Beit, timm_beit.Beit, **{**base, **kwargs})
    assert_pair_matches(ours, theirs, torch.randn(2, 3, 32, 32))


def test_set_input_size_resamples_the_bias_like_timm():
    ours, theirs = paired("beitv2_base_patch16_224", img_size=64, depth=2)
    ours.set_input_size((96, 80))
    theirs.set_input_size((96, 80))
    assert_pair_matches(ours, theirs, torch.randn(1, 3, 96, 80))
