"""EfficientFormerV2 specifics the registry-wide suites do not reach: options no registered name
sets (no distillation head, no layer scale, other input sizes for the attention grids, norm
epsilon, drop path), the distilled head and pruning, against timm."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm_oracle import assert_pair_matches, assert_pruned_like_timm, paired, rel_err

import visionzoo

pytestmark = pytest.mark.family


def _x(h: int = 96, w: int | None = None, seed: int = 3) -> torch.Tensor:
    return torch.randn(2, 3, h, w or h, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    "kwargs, size",
    [
        (dict(img_size=96, distillation=False, num_classes=7), (96, 96)),
        (dict(img_size=(96, 128), layer_scale_init_value=None, norm_eps=1e-3), (96, 128)),
        (dict(img_size=128, act_layer="relu"), (128, 128)),
    ],
)
def test_options_match_timm(kwargs: dict[str, Any], size: tuple[int, int]) -> None:
    ours, theirs = paired("efficientformerv2_s0", **kwargs)
    assert_pair_matches(ours, theirs, _x(*size))
    assert (ours.head_dist is None) == (theirs.head_dist is None)


def test_drop_path_rates_like_timm() -> None:
    ours, theirs = paired("efficientformerv2_s0", img_size=64, drop_path_rate=0.2)
    rates = [m.drop_prob for m in ours.modules() if hasattr(m, "drop_prob")]
    assert rates and rates == [m.drop_prob for m in theirs.modules() if hasattr(m, "drop_prob")]


def test_distilled_training_returns_both_heads() -> None:
    model = visionzoo.create_model("efficientformerv2_s0", img_size=64, num_classes=5)
    model.set_distilled_training(True)
    logits, dist = model.train()(_x(64))
    assert logits.shape == dist.shape == (2, 5)
    model.eval()
    with torch.no_grad():
        pooled = model.forward_features(_x(64)).mean((2, 3))
        want = (model.head(pooled) + model.head_dist(pooled)) / 2
        assert rel_err(model(_x(64)), want) < 1e-6


@pytest.mark.parametrize("level", [1, 3])
def test_pruned_like_timm(level: int) -> None:
    ours, theirs = paired("efficientformerv2_s0", img_size=64)
    assert_pruned_like_timm(ours, theirs, level, _x(64))
