"""SHViT specifics the registry-wide suites do not reach: single-head attention over a channel
slice against a direct computation, the authors' ``model``-wrapped checkpoints, and options no
registered name sets, against timm."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm_oracle import assert_pair_matches, assert_pruned_like_timm, materialize_random, paired, rel_err

import visionzoo
from visionzoo.models.shvit import SHSA, checkpoint_filter_fn

pytestmark = pytest.mark.family


def _x(h: int = 64, seed: int = 3) -> torch.Tensor:
    return torch.randn(2, 3, h, h, generator=torch.Generator().manual_seed(seed))


def test_single_head_attention_formula() -> None:
    attn = materialize_random(SHSA(12, qk_dim=4, pdim=5).to("meta")).eval()
    x = torch.randn(2, 12, 3, 3, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        part, rest = x[:, :5], x[:, 5:]
        qkv = attn.qkv(attn.pre_norm(part)).flatten(2)  # (B, 4 + 4 + 5, 9)
        q, k, v = qkv[:, :4], qkv[:, 4:8], qkv[:, 8:]
        logits = torch.einsum("bci,bcj->bij", q, k) / 2  # 4 ** -0.5
        weights = logits.exp() / logits.exp().sum(-1, keepdim=True)
        out = torch.einsum("bij,bcj->bci", weights, v).reshape(2, 5, 3, 3)
        expected = attn.proj(torch.cat([out, rest], 1))  # the untouched channels rejoin
        assert rel_err(attn(x), expected) < 1e-5


def test_model_wrapped_checkpoint() -> None:
    model = visionzoo.create_model("shvit_s1", device="meta")
    sd = {"a": torch.zeros(1)}
    assert checkpoint_filter_fn({"model": sd}, model) is sd
    assert checkpoint_filter_fn(sd, model) is sd


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(types=("s", "i", "s"), num_classes=5, act_layer=torch.nn.GELU),
        dict(global_pool="max", drop_rate=0.2),
    ],
)
def test_options_match_timm(kwargs: dict[str, Any]) -> None:
    ours, theirs = paired("shvit_s1", **kwargs)
    assert_pair_matches(ours, theirs, _x())


def test_pool_that_widens_is_refused() -> None:
    model = visionzoo.create_model("shvit_s1", device="meta")
    with pytest.raises(ValueError, match="pooled width"):
        model.reset_classifier(3, "catavgmax")


@pytest.mark.parametrize("level", [0, 2])
def test_pruned_like_timm(level: int) -> None:
    ours, theirs = paired("shvit_s1")
    assert_pruned_like_timm(ours, theirs, level, _x())
