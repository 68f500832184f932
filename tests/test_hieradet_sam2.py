"""HieraDet (SAM 2) specifics the registry-wide suites do not reach: the window partition layers
against direct indexing, a windowed / pooled block against a direct computation, options no
registered name sets against timm, SAM 2's checkpoint layout."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import assert_pair_matches, paired, paired_classes, rel_err, timm

from visionzoo.layers import pad_to_windows, window_partition, window_unpartition
from visionzoo.models import hieradet_sam2 as hd

pytestmark = pytest.mark.family

# the smallest name is 27 M parameters at 224 px at least: fewer blocks, every block kind kept
# (windowed, global, query-pooled)
SAMPLED_KWARGS: dict[str, Any] = {"stages": (1, 1, 2, 1), "global_att_blocks": (3,)}
SHARED_KWARGS: dict[str, Any] = dict(SAMPLED_KWARGS)

TINY = dict(embed_dim=16, num_heads=1, stages=(1, 1, 2, 1), global_att_blocks=(3,), window_spec=(4, 2, 2, 2))


def _x(size: int = 64) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(5))


def test_window_partition_is_direct_indexing() -> None:
    x = torch.randn(2, 6, 9, 4)
    windows = window_partition(x, (3, 3))
    assert windows.shape == (2 * 2 * 3, 3, 3, 4)
    for b in range(2):
        for i in range(2):
            for j in range(3):  # window (i, j) of image b, row-major
                assert torch.equal(windows[b * 6 + i * 3 + j], x[b, 3 * i : 3 * i + 3, 3 * j : 3 * j + 3])
    assert torch.equal(window_unpartition(windows, (3, 3), (6, 9)), x)


def test_pad_to_windows_pads_bottom_right_with_zeros() -> None:
    x = torch.randn(1, 5, 7, 2)
    padded, hw = pad_to_windows(x, (4, 4))
    assert hw == (8, 8) and padded.shape == (1, 8, 8, 2)
    assert torch.equal(padded[:, :5, :7], x) and not padded[:, 5:].any() and not padded[:, :, 7:].any()
    same, hw = pad_to_windows(x, (5, 7))
    assert torch.equal(same, x) and hw == (5, 7)


def test_pooled_windowed_block_is_its_formula() -> None:
    """A stage's first block: shortcut = maxpool(proj(norm1 x)); per 4x4 window (padded from 6x6),
    attention with 2x2-pooled queries; the pooled windows stitched and cropped to 3x3."""
    torch.manual_seed(0)
    block = hd.MultiScaleBlock(8, 16, 2, q_stride=(2, 2), window_size=4).eval()
    x = torch.randn(1, 6, 6, 8)
    with torch.no_grad():
        xn = block.norm1(x)
        shortcut = F.max_pool2d(block.proj(xn).permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
        padded = F.pad(xn, (0, 0, 0, 2, 0, 2))  # 8x8: four 4x4 windows
        out = torch.zeros(1, 4, 4, 16)
        for i in range(2):
            for j in range(2):
                win = padded[:, 4 * i : 4 * i + 4, 4 * j : 4 * j + 4]
                q, k, v = block.attn.qkv(win).reshape(1, 16, 3, 2, 8).unbind(2)  # (1, tokens, heads, 8)
                q = F.max_pool2d(q.reshape(1, 4, 4, 16).permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
                q = q.reshape(1, 4, 2, 8)
                heads = []
                for h in range(2):
                    a = (q[:, :, h] @ k[:, :, h].transpose(1, 2) / 8**0.5).softmax(-1)
                    heads.append(a @ v[:, :, h])
                out[:, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2] = block.attn.proj(torch.cat(heads, -1)).reshape(
                    1, 2, 2, 16
                )
        y = shortcut + out[:, :3, :3]
        expected = y + block.mlp(block.norm2(y))
        assert rel_err(block(x), expected) < 1e-5


@pytest.mark.parametrize(
    "kwargs",
    [dict(patch_size=8), dict(q_pool=1, global_pool="max"), dict(weight_init="jax", init_values=0.1)],
)
def test_options_match_timm(kwargs: dict[str, Any]) -> None:
    ours, theirs = paired_classes(hd.HieraDet, timm.models.hieradet_sam2.HieraDet, **TINY, **kwargs)
    assert_pair_matches(ours, theirs, _x())


def test_pruned_and_reset_like_timm() -> None:
    ours, theirs = paired_classes(hd.HieraDet, timm.models.hieradet_sam2.HieraDet, **TINY, num_classes=5)
    for model in (ours, theirs):
        model.prune_intermediate_layers([1])
    assert list(ours.state_dict()) == list(theirs.state_dict())
    with torch.no_grad():
        assert rel_err(ours(_x()), theirs(_x())) < 1e-5  # the pooled level-1 map, no norm


def _to_sam2_layout(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm keys -> the SAM 2 trunk's MLP naming, written out by hand."""
    return {
        k.replace("mlp.fc1.", "mlp.layers.0.").replace("mlp.fc2.", "mlp.layers.1."): v for k, v in sd.items()
    }


def test_sam2_checkpoint_remaps_as_timm() -> None:
    ours, theirs = paired("sam2_hiera_tiny", **SAMPLED_KWARGS)
    original = {"model": _to_sam2_layout(theirs.state_dict())}
    assert any("mlp.layers.1." in k for k in original["model"])
    mine = hd.checkpoint_filter_fn(dict(original), ours)
    ref = timm.models.hieradet_sam2.checkpoint_filter_fn(dict(original), theirs)
    assert list(mine) == list(ref)
    ours.load_state_dict(mine, strict=True)
    assert all(torch.equal(mine[k], ref[k]) for k in ref)
