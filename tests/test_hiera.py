"""Hiera specifics the registry-wide suites do not reach: the unrolled token order and mask-unit
attention against direct indexing and per-unit attention, masking, options no registered name
sets against timm, the original release's checkpoint layout."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm_oracle import assert_pair_matches, paired, paired_classes, rel_err, timm

from visionzoo.models import hiera

pytestmark = pytest.mark.family

# the smallest name is 27 M parameters at a fixed 224 px: 64 px (2 x 2 mask units) and one block
# per stage but the third, every block kind kept (mask-unit / global attention, query pooling)
SAMPLED_KWARGS: dict[str, Any] = {"img_size": 64, "stages": (1, 1, 2, 1)}
SHARED_KWARGS: dict[str, Any] = dict(SAMPLED_KWARGS)

TINY = dict(img_size=64, embed_dim=16, num_heads=1, stages=(1, 1, 2, 1))


def _x(size: int = 64) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(4))


def test_unroll_order_is_direct_indexing_and_reroll_inverts_it() -> None:
    """One (2, 2) stride: token (sy, sx, i, j) is grid[2i + sy, 2j + sx]; with two, the max over
    the leading 4 tokens is a 2x2 max-pool (in the order the remaining stride unrolls)."""
    grid = torch.randn(1, 8, 8, 3)
    tokens = grid.reshape(1, 64, 3)
    one = hiera.Unroll((8, 8), (1, 1), [(2, 2)])(tokens)
    for sy in range(2):
        for sx in range(2):
            for i in range(4):
                for j in range(4):
                    k = (sy * 2 + sx) * 16 + i * 4 + j
                    assert torch.equal(one[0, k], grid[0, 2 * i + sy, 2 * j + sx])
    two = hiera.Unroll((8, 8), (1, 1), [(2, 2), (2, 2)])(tokens)
    pooled = two.view(1, 4, 16, 3).amax(dim=1)
    expected = torch.nn.functional.max_pool2d(grid.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
    # (the pooled tokens are the pooled grid unrolled by the remaining stride, checked above)
    assert torch.equal(pooled, hiera.Unroll((4, 4), (1, 1), [(2, 2)])(expected.reshape(1, 16, 3)))
    reroll = hiera.Reroll((8, 8), (1, 1), [(2, 2), (2, 2)], stage_ends=[0, 1, 2], q_pool=2)
    assert torch.equal(reroll(two, 0), grid)


def test_mask_unit_attention_attends_within_each_unit() -> None:
    """Unrolled, token t belongs to mask unit t mod units: the layer equals plain attention run
    on each unit's tokens alone."""
    torch.manual_seed(0)
    attn = hiera.MaskUnitAttention(8, 8, heads=2, window_size=4, use_mask_unit_attn=True).eval()
    x = torch.randn(1, 12, 8)  # 3 units of 4 tokens
    with torch.no_grad():
        out = attn(x)
        for u in range(3):
            idx = torch.arange(u, 12, 3)
            q, k, v = attn.qkv(x[:, idx]).reshape(1, 4, 3, 2, 4).unbind(2)
            heads = [
                (q[:, :, h] @ k[:, :, h].transpose(1, 2) / 2.0).softmax(-1) @ v[:, :, h] for h in range(2)
            ]
            assert rel_err(out[:, idx], attn.proj(torch.cat(heads, -1))) < 1e-5


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(use_expand_proj=False, abs_win_pos_embed=True, global_pos_size=(8, 8), init_values=0.1),
        dict(q_pool=2, mask_unit_attn=(True, False, False, False), global_pool="max"),
        dict(weight_init="jax", dim_mul=1.5, head_mul=1.0, mlp_ratio=2.0),
    ],
)
def test_options_match_timm(kwargs: dict[str, Any]) -> None:
    ours, theirs = paired_classes(hiera.Hiera, timm.models.hiera.Hiera, **TINY, **kwargs)
    assert_pair_matches(ours, theirs, _x())
    with torch.no_grad():  # every block's map, not only the stage ends
        a = ours.forward_intermediates(_x(), coarse=False, output_fmt="NHWC", intermediates_only=True)
        b = theirs.forward_intermediates(_x(), coarse=False, output_fmt="NHWC", intermediates_only=True)
    assert len(a) == 5 and all(rel_err(p, q) < 1e-5 for p, q in zip(a, b))


def test_masked_forward_and_patch_drop_match_timm() -> None:
    ours, theirs = paired_classes(hiera.Hiera, timm.models.hiera.Hiera, **TINY, patch_drop_rate=0.5)
    mask = torch.tensor([[True, False, True, False], [False, True, True, False]])
    with torch.no_grad():
        kept = ours(_x(), mask=mask)
        assert kept.shape == (2, 2, 128)  # two of four units, each one token at the end
        assert rel_err(kept, theirs(_x(), mask=mask)) < 1e-5
        a = ours.forward_intermediates(_x(), mask=mask, intermediates_only=True)
        b = theirs.forward_intermediates(_x(), mask=mask, intermediates_only=True, output_fmt="NHWC")
        assert [t.shape for t in a] == [t.shape for t in b] and all(
            rel_err(p, q) < 1e-5 for p, q in zip(a, b)
        )
        ours.train(), theirs.train()
        torch.manual_seed(3)
        drawn = ours.forward_features(_x())
        torch.manual_seed(3)
        assert drawn.shape == (2, 2, 128) and rel_err(drawn, theirs.forward_features(_x())) < 1e-5


def test_prune_by_block_matches_timm() -> None:
    ours, theirs = paired_classes(hiera.Hiera, timm.models.hiera.Hiera, **TINY)
    assert ours.prune_intermediate_layers([2], coarse=False) == theirs.prune_intermediate_layers(
        [2], coarse=False
    )
    assert list(ours.state_dict()) == list(theirs.state_dict())
    with torch.no_grad():
        assert rel_err(ours(_x()), theirs(_x())) < 1e-5


def _to_original_layout(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm keys -> the facebookresearch/hiera release layout, written out by hand."""
    out = {}
    for k, v in sd.items():
        if k.startswith("head.norm."):
            k = "norm." + k[len("head.norm.") :]
        out[k.replace("head.fc.", "head.projection.")] = v
    return {"model_state": out}


def test_original_checkpoint_remaps_as_timm() -> None:
    ours, theirs = paired("hiera_tiny_224", **SAMPLED_KWARGS)
    original = _to_original_layout(theirs.state_dict())
    assert "head.projection.weight" in original["model_state"] and "norm.weight" in original["model_state"]
    mine = hiera.checkpoint_filter_fn(dict(original), ours)
    ref = timm.models.hiera.checkpoint_filter_fn(dict(original), theirs)
    assert list(mine) == list(ref)
    ours.load_state_dict(mine, strict=True)
    # the MAE encoders' final norm is ``encoder_norm``; abswin's global grid was ``pos_embed_abs``
    other = {"encoder_norm.weight": torch.ones(2), "pos_embed_abs": torch.zeros(1)}
    assert list(hiera.checkpoint_filter_fn(other, ours)) == ["head.norm.weight", "pos_embed"]
