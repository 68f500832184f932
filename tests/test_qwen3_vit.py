"""Qwen3 ViT's own parts: the aligned-corner grid embedding resampling, the projector's 2 x 2
token merge, the Qwen VLM checkpoint remap, the tag-dependent projector width, and the options no
registered name sets (compared with timm)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from timm.models import qwen3_vit as timm_qwen
from timm_oracle import paired, paired_classes, rel_err, timm_on_meta

import visionzoo
from visionzoo.models.qwen3_vit import (
    Qwen3VitClassifier,
    Qwen3VitEncoder,
    Qwen3VitPatchMerger,
    checkpoint_filter_fn,
    resample_grid_pos_embed,
)

pytestmark = pytest.mark.family

# the smallest name is ViT-B at 768 px (2,304 tokens): the sampled tests build 3 blocks (the
# features_only default takes the last 3) at 64 px
SAMPLED_KWARGS: dict[str, Any] = {"img_size": 64, "depth": 3}

_TINY = dict(
    img_size=64, patch_size=16, embed_dim=32, depth=2, num_heads=2, mlp_ratio=2.0, pos_embed_grid_size=6
)


def _x(size: int = 64) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))


def test_grid_resample_is_aligned_corner_bilinear_written_out():
    grid, out = 3, (5, 4)
    pos = torch.randn(1, grid * grid, 2, dtype=torch.float64)
    table = pos.reshape(grid, grid, 2)
    expected = torch.empty(out[0], out[1], 2, dtype=torch.float64)
    for i in range(out[0]):
        for j in range(out[1]):
            y, x = i * (grid - 1) / (out[0] - 1), j * (grid - 1) / (out[1] - 1)
            y0, x0 = min(int(y), grid - 2), min(int(x), grid - 2)
            dy, dx = y - y0, x - x0
            expected[i, j] = (
                table[y0, x0] * (1 - dy) * (1 - dx)
                + table[y0 + 1, x0] * dy * (1 - dx)
                + table[y0, x0 + 1] * (1 - dy) * dx
                + table[y0 + 1, x0 + 1] * dy * dx
            )
    got = resample_grid_pos_embed(pos, grid, out)
    assert torch.allclose(got, expected.reshape(1, -1, 2))
    assert resample_grid_pos_embed(pos, grid, (grid, grid)) is pos


def test_merge_concatenates_each_2x2_block_row_major():
    merger = Qwen3VitPatchMerger(3, merge_size=2, norm_layer=torch.nn.LayerNorm)
    x = torch.randn(1, 4, 6, 3)
    got = merger.merge(x)
    assert got.shape == (1, 6, 12)
    for bi in range(2):
        for bj in range(3):
            block = [x[0, 2 * bi + di, 2 * bj + dj] for di in range(2) for dj in range(2)]
            assert torch.equal(got[0, bi * 3 + bj], torch.cat(block))


def _vlm_checkpoint(model: torch.nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    """``model``'s encoder weights in the Qwen VLM layout: Conv3d over two frames, the grid
    embedding as an nn.Embedding, ``linear_fc*`` names, plus tensors the remap must drop."""
    out: dict[str, torch.Tensor] = {}
    for k, v in model.state_dict().items():
        if k.startswith(("head.", "norm.")):
            continue  # a classifier's own
        k = k.removeprefix("encoder.")
        if k == "patch_embed.proj.weight":
            half = torch.randn_like(v)
            v = torch.stack([half, v - half], dim=2)  # the two temporal slices sum to the 2D kernel
        elif k == "pos_embed":
            k, v = "pos_embed.weight", v[0]
        k = k.replace(".fc1.", ".linear_fc1.").replace(".fc2.", ".linear_fc2.")
        out[prefix + k] = v
    out[prefix + "rotary_pos_emb.inv_freq"] = torch.ones(4)
    out[prefix + "deepstack_merger_list.0.linear_fc1.weight"] = torch.ones(2, 2)
    out["model.language_model.embed_tokens.weight"] = torch.ones(3, 3)
    out["lm_head.weight"] = torch.ones(3, 3)
    return out


@pytest.mark.parametrize("prefix", ["model.visual.", "vlm.model.visual."])
def test_vlm_checkpoint_remap_matches_timm(prefix):
    kwargs = dict(_TINY, out_features=24)
    ours, theirs = paired_classes(Qwen3VitEncoder, timm_qwen.Qwen3VitEncoder, **kwargs)
    raw = _vlm_checkpoint(theirs, prefix)
    mine = checkpoint_filter_fn(raw, ours)
    ref = timm_qwen.checkpoint_filter_fn_encoder(raw, theirs)
    assert mine.keys() == ref.keys() == theirs.state_dict().keys()
    assert all(torch.equal(mine[k], ref[k]) for k in ref)
    fresh = Qwen3VitEncoder(**kwargs).eval()
    fresh.load_state_dict(mine, strict=True)
    with torch.no_grad():
        assert rel_err(fresh(_x()), theirs(_x())) < 1e-4


def test_folded_patch_embedding_is_the_conv3d_on_a_repeated_frame():
    model = Qwen3VitEncoder(**_TINY).eval()
    raw = _vlm_checkpoint(model, "model.visual.")
    kernel3d = raw["model.visual.patch_embed.proj.weight"].double()
    bias = raw["model.visual.patch_embed.proj.bias"].double()
    loaded = checkpoint_filter_fn(raw, model)["patch_embed.proj.weight"]
    x = _x().double()
    frames = torch.stack([x, x], dim=2)  # the image path feeds one frame twice
    ref = F.conv3d(frames, kernel3d, bias, stride=(2, 16, 16))[:, :, 0]
    got = F.conv2d(x, loaded, bias, stride=16)
    assert rel_err(got, ref) < 1e-12


def test_classifier_remap_nests_the_encoder_and_keeps_its_head():
    ours, theirs = paired_classes(
        Qwen3VitClassifier,
        timm_qwen.Qwen3VitClassifier,
        **_TINY,
        num_classes=5,
        encoder_pool="merge",
        out_features=8,
    )
    raw = {
        **_vlm_checkpoint(theirs, "model.visual."),
        "head.weight": theirs.head.weight,
        "head.bias": theirs.head.bias,
    }
    mine = checkpoint_filter_fn(raw, ours)
    ref = timm_qwen.checkpoint_filter_fn_classifier(raw, theirs)
    assert mine.keys() == ref.keys() == theirs.state_dict().keys()
    assert all(torch.equal(mine[k], ref[k]) for k in ref)


@pytest.mark.parametrize(
    ("name", "width"),
    [
        ("qwen3_vit_416m_enc.qwen3_vl_30b_a3b", 2048),
        ("qwen3_vit_416m_merge.qwen3_8_flash_next", 2560),
        ("qwen3_vit_306m_enc", 2048),
        ("qwen3_vit_306m_merge.qwen3_vl_4b", 2560),
    ],
)
def test_projector_width_follows_the_weight_tag_like_timm(name, width):
    ours = visionzoo.create_model(name, device="meta", depth=1)
    theirs = timm_on_meta(name, depth=1)
    merger = ours.merger if isinstance(ours, Qwen3VitEncoder) else ours.encoder.merger
    assert merger.fc2.out_features == width
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in theirs.state_dict().items()
    }
    custom = visionzoo.create_model(name, device="meta", depth=1, out_features=16)
    assert (
        custom.merger if isinstance(custom, Qwen3VitEncoder) else custom.encoder.merger
    ).fc2.out_features == 16


@pytest.mark.parametrize("global_pool", ["avg", ""])
def test_encoder_pools_match_timm(global_pool):
    ours, theirs = paired("qwen3_vit_88m_enc", **_TINY, global_pool=global_pool)
    with torch.no_grad():
        assert rel_err(ours(_x()), theirs(_x())) < 1e-4
        mine = ours.forward_intermediates(_x(), output_fmt="NLC", intermediates_only=True)
        ref = theirs.forward_intermediates(_x(), output_fmt="NLC", intermediates_only=True)
    assert rel_err(mine, ref) < 1e-4


def test_input_off_the_native_grid_and_pruned_classifier_match_timm():
    ours, theirs = paired("qwen3_vit_88m_merge", **_TINY, num_classes=7)
    x = _x(96)  # a 6 x 6 patch grid: the embedding is resampled, not used as is
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
    assert ours.prune_intermediate_layers(1) == theirs.prune_intermediate_layers(1)
    assert (ours.num_features, ours.output_fmt, ours.encoder.merger) == (theirs.num_features, "NHWC", None)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4


def test_encoder_refuses_a_classifier():
    with pytest.raises(ValueError, match="num_classes=3"):
        Qwen3VitEncoder(**_TINY, num_classes=3)
