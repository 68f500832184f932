"""The relative position ViT's own parts: the log-offset MLP bias and the bias table (each against
a direct computation), the table checkpoint remap, and the options no registered name sets
(compared with timm)."""

from __future__ import annotations

import math

import pytest
import torch
from timm.models import vision_transformer_relpos as timm_relpos
from timm_oracle import assert_pair_matches, paired, paired_classes, rel_err

from visionzoo.layers import RelPosBias, RelPosMlp, gen_relative_log_coords
from visionzoo.models.vision_transformer_relpos import (
    ResPostRelPosBlock,
    VisionTransformerRelPos,
    checkpoint_filter_fn,
)

pytestmark = pytest.mark.family


def _pairs(h: int, w: int) -> list[tuple[int, int, int, int]]:
    """(query index, key index, dy, dx) for every pair of a grid, row-major tokens."""
    out = []
    for q in range(h * w):
        for k in range(h * w):
            out.append((q, k, q // w - k // w, q % w - k % w))
    return out


@pytest.mark.parametrize("size", [(3, 2), (4, 4)])
def test_log_coords_are_the_formula(size):
    h, w = size
    cr = gen_relative_log_coords(size, mode="cr")
    swin = gen_relative_log_coords(size, mode="swin")
    assert cr.shape == swin.shape == (2 * h - 1, 2 * w - 1, 2)
    for i in range(2 * h - 1):
        for j in range(2 * w - 1):
            for axis, (d, side) in enumerate(((i - (h - 1), h), (j - (w - 1), w))):
                assert math.isclose(cr[i, j, axis], math.copysign(math.log(1 + abs(d)), d), abs_tol=1e-6)
                s = d / (side - 1) * 8
                assert math.isclose(
                    swin[i, j, axis], math.copysign(math.log2(1 + abs(s)) / 3, s), abs_tol=1e-6
                )


@pytest.mark.parametrize("mode", ["cr", "swin"])
def test_mlp_bias_is_the_mlp_of_each_pair_offset(mode):
    torch.manual_seed(0)
    h, w, heads = 3, 2, 4
    rel = RelPosMlp((h, w), num_heads=heads, hidden_dim=8, prefix_tokens=1, mode=mode).eval()
    bias = rel.get_bias()
    assert bias.shape == (1, heads, h * w + 1, h * w + 1)
    assert torch.equal(bias[0, :, 0], torch.zeros(heads, h * w + 1))  # the class token: no bias
    assert torch.equal(bias[0, :, :, 0], torch.zeros(heads, h * w + 1))
    coords = gen_relative_log_coords((h, w), mode=mode)
    for q, k, dy, dx in _pairs(h, w):
        fc1, fc2 = rel.mlp.fc1, rel.mlp.fc2
        hidden = torch.relu(fc1.weight @ coords[dy + h - 1, dx + w - 1] + fc1.bias)
        out = fc2.weight @ hidden + (fc2.bias if fc2.bias is not None else 0)
        expected = 16 * torch.sigmoid(out) if mode == "swin" else out
        assert torch.allclose(bias[0, :, q + 1, k + 1], expected, atol=1e-6)
    assert (rel.mlp.fc2.bias is None) == (mode == "swin")


def test_table_bias_is_the_row_of_each_pair():
    h, w, heads = 2, 3, 2
    rel = RelPosBias((h, w), num_heads=heads)
    bias = rel.get_bias()
    for q, k, dy, dx in _pairs(h, w):
        row = (dy + h - 1) * (2 * w - 1) + dx + w - 1
        assert torch.equal(bias[0, :, q, k], rel.relative_position_bias_table[row])
    with_cls = RelPosBias((h, w), num_heads=heads, prefix_tokens=1)
    n = (2 * h - 1) * (2 * w - 1)
    table, b = with_cls.relative_position_bias_table, with_cls.get_bias()[0]
    assert torch.equal(b[:, 0, 1], table[n]) and torch.equal(b[:, 1, 0], table[n + 1])
    assert torch.equal(b[:, 0, 0], table[n + 2])
    with pytest.raises(ValueError, match="prefix_tokens"):
        RelPosBias((h, w), num_heads=heads, prefix_tokens=2)


def test_layers_match_timm():
    from timm.layers import RelPosBias as TimmBias
    from timm.layers import RelPosMlp as TimmMlp

    for ours, theirs in [
        (RelPosMlp((3, 4), 4, 16, 1, "swin"), TimmMlp((3, 4), 4, 16, 1, "swin")),
        (RelPosMlp((3, 4), 4, 16, 0, "cr"), TimmMlp((3, 4), 4, 16, 0, "cr")),
        (RelPosBias((3, 4), 4, 1), TimmBias((3, 4), 4, 1)),
    ]:
        ours.load_state_dict(theirs.state_dict(), strict=True)
        ours.eval(), theirs.eval()
        assert rel_err(ours.get_bias(), theirs.get_bias()) < 1e-6
        ours.set_window_size((5, 5)), theirs.set_window_size((5, 5))
        assert rel_err(ours.get_bias(), theirs.get_bias()) < 1e-5


def test_table_checkpoint_from_another_grid_is_resampled():
    kwargs = dict(patch_size=8, embed_dim=32, depth=2, num_heads=4, rel_pos_type="bias", num_classes=3)
    source = VisionTransformerRelPos(img_size=48, **kwargs)
    model = VisionTransformerRelPos(img_size=32, **kwargs)
    sd = source.state_dict()
    remapped = checkpoint_filter_fn(sd, model)
    assert remapped["blocks.1.attn.rel_pos.relative_position_bias_table"].shape == (7 * 7, 4)
    model.load_state_dict(remapped, strict=True)
    theirs = timm_relpos.checkpoint_filter_fn(sd, model)
    assert all(rel_err(remapped[k], v) < 1e-6 for k, v in theirs.items() if v.is_floating_point())


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(rel_pos_type="bias", class_token=True, global_pool="token"),
        dict(rel_pos_type="mlp_swin", qk_norm=True, qkv_bias=True),
        dict(rel_pos_type="bias", shared_rel_pos=True, block_fn=ResPostRelPosBlock),
        dict(rel_pos_type="mlp", shared_rel_pos=True, class_token=True),
    ],
)
def test_options_match_timm(kwargs):
    base = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4, num_classes=7)
    theirs_kwargs = {**base, **kwargs}
    if "block_fn" in kwargs:
        theirs_kwargs["block_fn"] = timm_relpos.ResPostRelPosBlock
    ours, theirs = paired_classes(
        VisionTransformerRelPos,
        timm_relpos.VisionTransformerRelPos,
        theirs_kwargs=theirs_kwargs,
        **base,
        **kwargs,
    )
    assert_pair_matches(ours, theirs, torch.randn(2, 3, 32, 32))


def test_unfused_attention_matches_fused():
    ours, _ = paired("test_vit_relpos", img_size=64, depth=2)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        fused = ours(x)
        for block in ours.blocks:
            block.attn.fused_attn = False
        assert rel_err(ours(x), fused) < 1e-5


def test_set_input_size_follows_timm():
    ours, theirs = paired("vit_srelpos_small_patch16_224", img_size=64, depth=2)
    ours.set_input_size((96, 80))
    theirs.set_input_size((96, 80))
    assert_pair_matches(ours, theirs, torch.randn(1, 3, 96, 80))


def test_bad_options_are_refused():
    with pytest.raises(ValueError, match="rel_pos_type"):
        VisionTransformerRelPos(img_size=32, depth=1, embed_dim=16, num_heads=2, rel_pos_type="table")
    with pytest.raises(ValueError, match="class_token"):
        VisionTransformerRelPos(img_size=32, depth=1, embed_dim=16, num_heads=2, global_pool="token")
