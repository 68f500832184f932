"""EfficientFormer specifics the registry-wide suites do not reach: the original checkpoint layout
(one ``network`` list, ``patch_embed``, ``layer_scale_N``, ``dist_head``) against timm's remap, the
distilled head, pruning, and options no registered name sets, on a tiny build against timm."""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch
from timm_oracle import assert_pair_matches, assert_pruned_like_timm, paired_classes, rel_err

from visionzoo.models.efficientformer import EfficientFormer, checkpoint_filter_fn

pytestmark = pytest.mark.family

# the attention biases are for the 7 x 7 grid of 224 px inputs whatever img_size says (timm's
# model accepts and ignores it): the sampled tests take the size the model can run
SAMPLED_KWARGS: dict[str, Any] = {"img_size": 224}

# the attention biases fix the last grid at 7 x 7: 224 px, four stages
TINY: dict[str, Any] = dict(depths=(1, 1, 2, 3), embed_dims=(8, 16, 16, 32), num_vit=2, num_classes=10)


def _x(seed: int = 3) -> torch.Tensor:
    return torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(seed))


def _timm_cls() -> type[torch.nn.Module]:
    from timm.models.efficientformer import EfficientFormer as TimmEfficientFormer

    return TimmEfficientFormer


def _original_layout(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm's keys written back as the authors': stage ``s`` at ``network.2s``, its downsampling
    at ``network.2s-1``."""
    out = {}
    for key, value in state_dict.items():
        for new, old in (("stem.conv1", "0"), ("stem.norm1", "1"), ("stem.conv2", "3"), ("stem.norm2", "4")):
            key = key.replace(new + ".", f"patch_embed.{old}.")
        key = re.sub(r"stages\.(\d+)\.blocks\.", lambda m: f"network.{2 * int(m[1])}.", key)
        key = re.sub(r"stages\.(\d+)\.downsample\.conv", lambda m: f"network.{2 * int(m[1]) - 1}.proj", key)
        key = re.sub(r"stages\.(\d+)\.downsample\.norm", lambda m: f"network.{2 * int(m[1]) - 1}.norm", key)
        key = re.sub(r"ls(\d)\.gamma", r"layer_scale_\1", key)
        out[key.replace("head_dist", "dist_head")] = value
    return out


def test_original_checkpoint_remap() -> None:
    from timm.models.efficientformer import checkpoint_filter_fn as timm_filter

    ours, theirs = paired_classes(EfficientFormer, _timm_cls(), **TINY)
    original = _original_layout(theirs.state_dict())
    assert "network.5.proj.weight" in original and "dist_head.weight" in original
    remapped = checkpoint_filter_fn(original, ours)
    assert list(remapped) == list(timm_filter(original, theirs)) == list(theirs.state_dict())
    fresh = EfficientFormer(**TINY)
    fresh.load_state_dict(remapped, strict=True)
    with torch.no_grad():
        assert rel_err(fresh.eval()(_x()), theirs(_x())) < 1e-5
    assert checkpoint_filter_fn(theirs.state_dict(), ours) is not None  # converted: passes through
    assert list(checkpoint_filter_fn(theirs.state_dict(), ours)) == list(theirs.state_dict())


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(TINY, num_vit=4),  # more transformer blocks than the stage has: all of them, Flat first
        dict(TINY, num_vit=1, pool_size=5, mlp_ratios=2),
        dict(TINY, global_pool="", num_classes=0),
    ],
)
def test_options_match_timm(kwargs: dict[str, Any]) -> None:
    ours, theirs = paired_classes(EfficientFormer, _timm_cls(), **kwargs)
    with torch.no_grad():
        assert rel_err(ours(_x()), theirs(_x())) < 1e-5
    assert_pair_matches(ours, theirs, _x())


def test_drop_path_rates_like_timm() -> None:
    ours, theirs = paired_classes(EfficientFormer, _timm_cls(), **TINY, drop_path_rate=0.3)
    rates = [m.drop_prob for m in ours.modules() if hasattr(m, "drop_prob")]
    assert rates == [m.drop_prob for m in theirs.modules() if hasattr(m, "drop_prob")] and rates


def test_distilled_training_returns_both_heads() -> None:
    model = EfficientFormer(**TINY)
    x = _x()[:1].expand(2, -1, -1, -1)
    model.set_distilled_training(True)
    model.train()
    logits, dist = model(x)
    assert logits.shape == dist.shape == (2, 10)
    model.eval()
    with torch.no_grad():
        both = model.forward_head(model.forward_features(x))
        pooled = model.forward_features(x).mean(1)
        torch.testing.assert_close(both, (model.head(pooled) + model.head_dist(pooled)) / 2)


@pytest.mark.parametrize("level", [1, 3])
def test_pruned_like_timm(level: int) -> None:
    ours, theirs = paired_classes(EfficientFormer, _timm_cls(), **TINY)
    assert_pruned_like_timm(ours, theirs, level, _x())
    if level < 3:
        with pytest.raises(ValueError, match="pruned"):
            ours.reset_classifier(5)
