"""TNT's own parts: the pixel embedding (against a direct computation), Huawei's original
checkpoint layout, and the options no registered name sets (compared with timm)."""

from __future__ import annotations

import pytest
import torch
from timm.models import tnt as timm_tnt
from timm_oracle import assert_pair_matches, paired_classes, rel_err

from visionzoo.models.tnt import TNT, PixelEmbed, checkpoint_filter_fn

pytestmark = pytest.mark.family

_TINY = dict(img_size=32, patch_size=8, embed_dim=32, inner_dim=8, depth=2, num_heads_outer=4, num_classes=5)


def test_pixel_embed_convolves_each_patch_on_its_own():
    torch.manual_seed(0)
    embed = PixelEmbed(img_size=16, patch_size=8, in_chans=3, in_dim=4, stride=4).eval()
    x = torch.randn(2, 3, 16, 16)
    pos = torch.randn(1, 4, 2, 2)
    got = embed(x, pos)  # (B * 4 patches, 2 * 2 pixels, 4)
    assert got.shape == (8, 4, 4)
    for b in range(2):
        for py in range(2):
            for px in range(2):
                patch = x[b : b + 1, :, py * 8 : py * 8 + 8, px * 8 : px * 8 + 8]
                want = (embed.proj(patch) + pos).flatten(2).transpose(1, 2)[0]
                assert rel_err(got[b * 4 + py * 2 + px], want) < 1e-5


def _original_layout(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Our (timm's) keys in Huawei's release names, the pixel position embedding as tokens."""
    renames = [
        ("patch_pos", "outer_pos"),
        ("pixel_pos", "inner_pos"),
        ("pixel_embed", "patch_embed"),
        ("norm1_proj", "proj_norm1"),
        ("norm2_proj", "proj_norm2"),
        ("norm_in", "inner_norm1"),
        ("attn_in", "inner_attn"),
        ("norm_mlp_in", "inner_norm2"),
        ("mlp_in", "inner_mlp"),
        ("norm_out", "outer_norm1"),
        ("attn_out", "outer_attn"),
        ("norm_mlp", "outer_norm2"),
        (".mlp.", ".outer_mlp."),
    ]
    out = {}
    for k, v in sd.items():
        if k == "pixel_pos":
            v = v.flatten(2).transpose(1, 2)
        for new, old in renames:
            if k.startswith(new) or f".{new}" in k:
                k = k.replace(new, old)
                break
        out[k] = v
    out["outer_tokens"] = torch.zeros(1)
    return out


def test_original_checkpoint_layout_loads():
    source = TNT(**{**_TINY, "img_size": 48})
    model = TNT(**_TINY)
    original = _original_layout(source.state_dict())
    assert "blocks.0.inner_attn.qk.weight" in original and "outer_pos" in original
    remapped = checkpoint_filter_fn(dict(original), model)
    assert remapped["pixel_pos"].shape == (1, 8, 2, 2)
    assert remapped["patch_pos"].shape == (1, 17, 32)  # 6x6 grid resampled to 4x4
    model.load_state_dict(remapped, strict=True)
    theirs = timm_tnt.checkpoint_filter_fn(dict(original), model)
    assert set(theirs) == set(remapped)
    assert all(rel_err(remapped[k], v) < 1e-6 for k, v in theirs.items())
    again = checkpoint_filter_fn(model.state_dict(), model)  # timm's layout passes unchanged
    assert all(torch.equal(again[k], v) for k, v in model.state_dict().items())


@pytest.mark.parametrize(
    "kwargs", [dict(global_pool="avg", qkv_bias=True), dict(legacy=True, first_stride=2, mlp_ratio=2.0)]
)
def test_options_match_timm(kwargs):
    ours, theirs = paired_classes(TNT, timm_tnt.TNT, **{**_TINY, **kwargs})
    assert_pair_matches(ours, theirs, torch.randn(2, 3, 32, 32))


def test_the_input_size_is_checked():
    model = TNT(**_TINY)
    with pytest.raises(AssertionError, match="img_size"):
        model(torch.randn(1, 3, 48, 32))
