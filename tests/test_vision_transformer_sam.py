"""The SAM encoder's own parts: the original SAM checkpoint layout, the options no registered name
sets, other input sizes and a pruned neck (compared with timm). The decomposed bias it adds is
checked against a direct computation in tests/test_rel_pos_decomposed.py."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm.models import vision_transformer_sam as timm_sam

from tests.timm_oracle import assert_pair_matches, paired, paired_classes, rel_err
from visionzoo.models.vision_transformer_sam import VisionTransformerSAM, checkpoint_filter_fn

pytestmark = pytest.mark.family

# The smallest SAM is ViT-B at 1024 px: the shared sampled tests build it at 64 px with
# four blocks, windowed (a 3-window on a 4x4 grid: padded) and global in turn (four: the
# default out_indices=3 and the prune cuts need them).
SAMPLED_KWARGS: dict[str, Any] = {"img_size": 64, "depth": 4, "global_attn_indexes": (1, 3), "window_size": 3}

_TINY = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=4, num_classes=5, use_rel_pos=True)


def test_original_sam_checkpoint_layout_loads():
    model = VisionTransformerSAM(**_TINY)
    sd = model.state_dict()
    original = {f"image_encoder.{k.replace('mlp.fc', 'mlp.lin')}": torch.randn_like(v) for k, v in sd.items()}
    original["prompt_encoder.pe_layer.positional_encoding_gaussian_matrix"] = torch.zeros(2, 128)
    original["mask_decoder.iou_token.weight"] = torch.zeros(1, 256)
    remapped = checkpoint_filter_fn(original, model)
    assert sorted(remapped) == sorted(sd)
    model.load_state_dict(remapped, strict=True)
    theirs = timm_sam.checkpoint_filter_fn(original, model)
    assert set(theirs) == set(remapped) and all(torch.equal(remapped[k], v) for k, v in theirs.items())
    assert checkpoint_filter_fn(sd, model) == sd  # timm's layout passes


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(window_size=3, global_attn_indexes=(1,), init_values=0.1, qk_norm=True, pre_norm=True),
        dict(window_size=0, neck_chans=None, head_hidden_size=16, global_pool="max"),
        dict(window_size=2, use_abs_pos=False, use_rel_pos=False, neck_chans=8),
        dict(window_size=2, global_attn_indexes=(1,), use_rel_pos=False, use_rope=True),
        dict(
            window_size=2,
            global_attn_indexes=(0,),
            use_rel_pos=False,
            use_rope=True,
            ref_feat_shape=((8, 8), (4, 4)),
        ),
    ],
)
def test_options_match_timm(kwargs):
    ours, theirs = paired_classes(VisionTransformerSAM, timm_sam.VisionTransformerSAM, **{**_TINY, **kwargs})
    assert_pair_matches(ours, theirs, torch.randn(2, 3, 32, 32))


def test_other_input_sizes_resample_the_position_embedding_like_timm():
    ours, theirs = paired(
        "samvit_base_patch16", img_size=64, **{k: v for k, v in SAMPLED_KWARGS.items() if k != "img_size"}
    )
    x = torch.randn(1, 3, 48, 80)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
        ours.blocks[0].attn.fused_attn = False
        assert rel_err(ours(x), theirs(x)) < 1e-4


def test_prune_norm_narrows_the_features_like_timm():
    ours, theirs = paired_classes(
        VisionTransformerSAM, timm_sam.VisionTransformerSAM, **{**_TINY, "neck_chans": 8}
    )
    assert ours.prune_intermediate_layers([0], prune_norm=True) == theirs.prune_intermediate_layers(
        [0], prune_norm=True
    )
    assert ours.feature_info == theirs.feature_info and ours.num_features == theirs.num_features == 32
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-5
