"""SwiftFormer specifics the registry-wide suites do not reach: the additive attention against a
direct computation, the authors' checkpoint layout against timm's remap, and options no
registered name sets, against timm."""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch
from timm_oracle import assert_pair_matches, assert_pruned_like_timm, paired, rel_err, timm_model

import visionzoo
from visionzoo.models.swiftformer import EfficientAdditiveAttention, checkpoint_filter_fn

pytestmark = pytest.mark.family


def _x(h: int = 64, seed: int = 3) -> torch.Tensor:
    return torch.randn(2, 3, h, h, generator=torch.Generator().manual_seed(seed))


def test_additive_attention_formula() -> None:
    torch.manual_seed(0)
    attn = EfficientAdditiveAttention(in_dims=8, token_dim=8).eval()
    x = torch.randn(2, 8, 3, 4)
    with torch.no_grad():
        t = x.flatten(2).transpose(1, 2)  # (B, 12, 8)
        q = attn.to_query(t)
        q = q / q.norm(dim=-1, keepdim=True)
        k = attn.to_key(t)
        k = k / k.norm(dim=-1, keepdim=True)
        score = (q @ attn.w_g)[..., 0] / 8**0.5  # (B, 12)
        score = score / score.norm(dim=1, keepdim=True)  # normalised over the positions
        g = (score[..., None] * q).sum(1, keepdim=True)  # one global query per image
        out = attn.final(attn.proj(g * k) + q).transpose(1, 2).reshape(2, 8, 3, 4)
        assert rel_err(attn(x), out) < 1e-5


def _original_layout(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm's keys as the authors': stage s at ``network.2s``, its downsampling at ``network.2s-1``."""
    out = {}
    for key, value in state_dict.items():
        key = key.replace("stem.", "patch_embed.").replace("head_dist.", "dist_head.")
        key = key.replace("attn.proj.", "attn.Proj.").replace(".gamma", "")
        key = re.sub(r"stages\.(\d+)\.blocks\.", lambda m: f"network.{2 * int(m[1])}.", key)
        key = re.sub(r"stages\.(\d+)\.downsample\.", lambda m: f"network.{2 * int(m[1]) - 1}.", key)
        out[key] = value
    return {"model": out}


def test_original_checkpoint_remap() -> None:
    from timm.models.swiftformer import checkpoint_filter_fn as timm_filter

    theirs = timm_model("swiftformer_xs")
    original = _original_layout(theirs.state_dict())
    assert "network.1.proj.weight" in original["model"] and "network.0.0.layer_scale" in original["model"]
    ours = visionzoo.create_model("swiftformer_xs")
    remapped = checkpoint_filter_fn(original, ours)
    assert list(remapped) == list(timm_filter(original, theirs)) == list(theirs.state_dict())
    ours.load_state_dict(remapped, strict=True)
    with torch.no_grad():
        assert rel_err(ours.eval()(_x()), theirs.eval()(_x())) < 1e-5


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(use_layer_scale=False, mlp_ratios=2, num_classes=5),
        dict(act_layer=torch.nn.ReLU, down_patch_size=5, down_pad=2, global_pool=""),
    ],
)
def test_options_match_timm(kwargs: dict[str, Any]) -> None:
    ours, theirs = paired("swiftformer_xs", **kwargs)
    if kwargs.get("global_pool") == "":
        with torch.no_grad():
            assert rel_err(ours.forward_features(_x()), theirs.forward_features(_x())) < 1e-4
        return
    assert_pair_matches(ours, theirs, _x())


def test_drop_path_rates_like_timm() -> None:
    ours, theirs = paired("swiftformer_xs", drop_path_rate=0.2)
    rates = [m.drop_prob for m in ours.modules() if hasattr(m, "drop_prob")]
    assert rates and rates == [m.drop_prob for m in theirs.modules() if hasattr(m, "drop_prob")]


def test_distilled_training_returns_both_heads() -> None:
    model = visionzoo.create_model("swiftformer_xs", num_classes=5)
    model.set_distilled_training(True)
    logits, dist = model.train()(_x())
    assert logits.shape == dist.shape == (2, 5)


@pytest.mark.parametrize("level", [1, 3])
def test_pruned_like_timm(level: int) -> None:
    ours, theirs = paired("swiftformer_xs")
    assert_pruned_like_timm(ours, theirs, level, _x())
