"""Next-ViT's own parts: folding pre-norms into the next linear map (against the formula), the
blocks' reparameterisation (outputs equal before and after), the authors' checkpoint layout (a
synthetic one, renamed by position) and the options no registered name sets (compared with timm)."""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch
from timm.models import nextvit as timm_nextvit
from timm_oracle import assert_pair_matches, paired_classes, rel_err
from torch import nn

import visionzoo
from visionzoo.models.nextvit import NextViT, checkpoint_filter_fn, merge_pre_bn

pytestmark = pytest.mark.family

# the sampled tests: one block a stage where that keeps every block type (the third stage's
# conv-conv-conv-conv-transformer run once)
SAMPLED_KWARGS: dict[str, Any] = {"depths": (1, 1, 5, 1)}

TINY = dict(in_chans=3, depths=(1, 2, 5, 1), num_classes=5)


def _randomize_norms(model: nn.Module) -> None:
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            with torch.no_grad():
                m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.rand(m.num_features, generator=g) - 0.5)


@pytest.mark.parametrize("two_norms", [False, True])
def test_merge_pre_bn_folds_the_affine_maps(two_norms):
    torch.manual_seed(1)
    bn1, bn2, fc = nn.BatchNorm1d(6), nn.BatchNorm1d(6), nn.Linear(6, 4, bias=False)
    _randomize_norms(nn.ModuleList([bn1, bn2]))
    bn1.eval(), bn2.eval()
    x = torch.randn(5, 6)

    def affine(bn: nn.BatchNorm1d, t: torch.Tensor) -> torch.Tensor:
        return (t - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias

    with torch.no_grad():
        y = affine(bn1, x)
        expected = fc(affine(bn2, y) if two_norms else y)
        merge_pre_bn(fc, bn1, bn2 if two_norms else None)
        assert fc.bias is not None  # a bias-free layer gains one
        assert rel_err(fc(x), expected) < 1e-5


def test_reparameterize_keeps_the_outputs():
    torch.manual_seed(2)
    model = NextViT(**TINY)
    _randomize_norms(model)
    model.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
        fused = visionzoo.reparameterize(model)
        after = fused(x)
    blocks = [m for m in fused.modules() if hasattr(m, "is_fused")]
    assert blocks and all(m.is_fused for m in blocks)
    assert rel_err(after, before) < 1e-5


def _original_name(key: str) -> str:
    """Our key -> a name in the authors' style (``features.N``, ``mlp.conv1``): different names,
    the same order."""
    key = re.sub(r"^stages\.(\d+)\.blocks\.(\d+)\.", r"features.\1_\2.", key)
    return (
        key.replace(".mlp.fc1.", ".mlp.conv1.")
        .replace(".mlp.fc2.", ".mlp.conv2.")
        .replace("head.fc.", "proj_head.0.")
    )


def test_original_checkpoint_is_renamed_by_position():
    torch.manual_seed(3)
    ref = NextViT(**TINY)
    _randomize_norms(ref)
    ref.eval()
    original = {_original_name(k): v for k, v in ref.state_dict().items()}
    assert "features.0_0.mlp.conv1.weight" in original and "stages.0.blocks.0.mlp.fc1.weight" not in original
    model = NextViT(**TINY).eval()
    model.load_state_dict(checkpoint_filter_fn(original, model), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), ref(x))
    ours = ref.state_dict()
    assert checkpoint_filter_fn(ours, model) is ours
    with pytest.raises(ValueError, match="tensors"):
        checkpoint_filter_fn(dict(list(original.items())[:-1]), model)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(sr_ratios=(4, 2, 2, 1), mix_block_ratio=0.5, head_dim=16),
        dict(act_layer="gelu", stem_chs=(32, 16, 32), strides=(1, 2, 2, 1), global_pool="max"),
    ],
)
def test_options_match_timm(kwargs):
    ours, theirs = paired_classes(NextViT, timm_nextvit.NextViT, **{**TINY, **kwargs})
    assert_pair_matches(ours, theirs, torch.randn(2, 3, 64, 48))


def test_bad_depths_are_refused():
    with pytest.raises(ValueError, match="multiple of 5"):
        NextViT(depths=(1, 1, 4, 1))
