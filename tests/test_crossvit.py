"""CrossViT specifics the registry-wide suites do not reach.

The one-query cross attention and the branch image scaling against direct formulas; options no
registered name sets (average pooling, centre-crop scaling, a fusion of two cross-attention
blocks, no classes) against timm; the authors' checkpoint layout through the remap; and the
arguments that are refused.
"""

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import assert_pair_matches, paired, paired_classes, rel_err, timm
from torch import nn

import visionzoo
from visionzoo.models import crossvit

pytestmark = pytest.mark.family

# the sampled tests build CrossViT at 120 px: branch sizes 120 and 112, multiples of the patch
# sizes 12 and 16 (the dagger embeddings' strided convs need that), 10 x 10 and 7 x 7 tokens
SAMPLED_KWARGS: dict[str, Any] = {"img_size": 120}

# every block type at a fraction of the smallest published size
TINY: dict[str, Any] = dict(
    img_size=48,
    img_scale=(1.0, 0.75),
    patch_size=(12, 12),
    embed_dim=(16, 24),
    depth=((1, 2, 0), (1, 1, 0)),
    num_heads=(2, 2),
    mlp_ratio=(2.0, 2.0, 1.0),
)


def _randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return module.eval()


def test_cross_attention_matches_direct_formula() -> None:
    """Per head: ``softmax(q_0 k^T / sqrt(d)) v`` with the query from the first token only;
    heads concatenated, then ``proj``."""
    dim, heads, n = 12, 3, 5
    attn = _randomize(crossvit.CrossAttention(dim, heads, qkv_bias=True))
    x = torch.randn(2, n, dim)
    d = dim // heads
    with torch.no_grad():
        q, k, v = attn.wq(x[:, :1]), attn.wk(x), attn.wv(x)
        outs = []
        for i in range(heads):
            qi, ki, vi = (t[..., i * d : (i + 1) * d] for t in (q, k, v))
            weights = (qi @ ki.transpose(1, 2) * d**-0.5).softmax(dim=-1)  # (B, 1, N)
            outs.append(weights @ vi)
        expected = attn.proj(torch.cat(outs, dim=-1))
        out = attn(x)
    assert out.shape == (2, 1, dim)
    assert rel_err(out, expected) < 1e-5


def test_cross_attention_block_updates_the_class_token_only() -> None:
    block = _randomize(crossvit.CrossAttentionBlock(8, 2, qkv_bias=True))
    x = torch.randn(2, 4, 8)
    with torch.no_grad():
        expected = x[:, :1] + block.attn(block.norm1(x))
        assert rel_err(block(x), expected) < 1e-6


def test_scale_image_crops_the_centre_or_resizes() -> None:
    x = torch.arange(2 * 3 * 7 * 9, dtype=torch.float32).reshape(2, 3, 7, 9)
    assert crossvit.scale_image(x, (7, 9)) is x
    # (7 - 4) / 2 = 1.5 rounds to 2 (to even), (9 - 5) / 2 = 2
    assert torch.equal(crossvit.scale_image(x, (4, 5), crop_scale=True), x[:, :, 2:6, 2:7])
    resized = F.interpolate(x, size=(4, 5), mode="bicubic", align_corners=False)
    assert torch.equal(crossvit.scale_image(x, (4, 5)), resized)
    # a larger size cannot be cropped: resized even with crop_scale
    bigger = F.interpolate(x, size=(8, 10), mode="bicubic", align_corners=False)
    assert torch.equal(crossvit.scale_image(x, (8, 10), crop_scale=True), bigger)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(global_pool="avg"),
        dict(crop_scale=True),  # branch 1 takes the image's centre 36 x 36
        dict(depth=((1, 1, 2), (2, 1, 1)), patch_size=(8, 12), img_scale=(1.0, 1.0)),  # fusion sequences
        dict(num_classes=0, multi_conv=True),
    ],
)
def test_options_match_timm(kwargs: dict[str, Any]) -> None:
    cfg = {**TINY, **kwargs}
    ours, theirs = paired_classes(crossvit.CrossVit, timm.models.crossvit.CrossVit, **cfg)
    assert_pair_matches(ours, theirs, torch.randn(2, 3, 48, 48))
    assert ours.features_are_list


def test_fusion_depth_zero_is_a_bare_block() -> None:
    """The authors' checkpoints hold one cross-attention block per fusion as the block itself
    (``fusion.0.attn``), a fusion depth of n as a sequence (``fusion.0.0.attn``)."""
    bare = crossvit.CrossVit(**TINY)
    seq = crossvit.CrossVit(**{**TINY, "depth": ((1, 2, 1), (1, 1, 2))})
    assert isinstance(bare.blocks[0].fusion[0], crossvit.CrossAttentionBlock)
    assert [len(b.fusion[1]) for b in seq.blocks] == [1, 2]


def test_authors_checkpoint_loads_through_the_remap(tmp_path) -> None:
    """The authors' files hold the class tokens and position embeddings as parameter lists."""
    ours, theirs = paired("crossvit_tiny_240", **TINY)
    original = {}
    for key, value in theirs.state_dict().items():
        for part in ("cls_token", "pos_embed"):
            if key.startswith(f"{part}_"):
                key = f"{part}.{key.rsplit('_', 1)[1]}"
        original[key] = value
    assert "cls_token.1" in original and "pos_embed.0" in original
    path = tmp_path / "crossvit.pth"
    torch.save(original, path)
    loaded = visionzoo.create_model(
        "crossvit_tiny_240", pretrained=True, **TINY, pretrained_cfg_overlay=dict(file=str(path))
    ).eval()
    x = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        assert rel_err(loaded(x), theirs(x)) < 1e-5
    assert list(crossvit.checkpoint_filter_fn(original, ours)) == list(theirs.state_dict())
    # a checkpoint already in our layout passes unchanged
    assert crossvit.checkpoint_filter_fn(dict(theirs.state_dict()), ours).keys() == theirs.state_dict().keys()


def test_pruned_to_the_first_block_keeps_both_branches() -> None:
    ours, theirs = paired_classes(crossvit.CrossVit, timm.models.crossvit.CrossVit, **TINY)
    # level 0 is branch 0 after block 0; level 2 (branch 1 after block 0) needs only block 0 too
    assert ours.prune_intermediate_layers([0, 2]) == theirs.prune_intermediate_layers([0, 2])
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = torch.randn(2, 3, 48, 48)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-5
        assert ours(x).shape == (2, sum(TINY["embed_dim"]))


def test_refused_arguments_name_the_value() -> None:
    with pytest.raises(ValueError, match="two branches"):
        crossvit.CrossVit(**{**TINY, "patch_size": (8, 12, 16)})
    with pytest.raises(ValueError, match="cross-attention blocks"):
        crossvit.CrossVit(**{**TINY, "depth": ((1, 2),)})
    with pytest.raises(ValueError, match="'max'"):
        crossvit.CrossVit(**TINY, global_pool="max")
    with pytest.raises(ValueError, match="patch_size=8"):
        crossvit.MultiConvPatchEmbed(48, 8, 3, 16)
    model = crossvit.CrossVit(**TINY)
    with pytest.raises(ValueError, match="'catavgmax'"):
        model.reset_classifier(3, "catavgmax")
