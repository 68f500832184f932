"""PiT specifics the registry-wide suites do not reach.

NAVER's checkpoint layout (pooling layers apart from the stages) remapped; the pooling step
against a direct computation; the distilled heads in distilled training; options no registered
name sets and pruning, against timm.
"""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import assert_pair_matches, assert_pruned_like_timm, paired, rel_err

import visionzoo
from visionzoo.models import pit

pytestmark = pytest.mark.family

NAME, DIST = "pit_ti_224", "pit_ti_distilled_224"
TINY = dict(img_size=64, depth=(1, 1, 1))


def _x(size: int = 64, chans: int = 3) -> torch.Tensor:
    return torch.randn(2, chans, size, size, generator=torch.Generator().manual_seed(3))


def test_naver_checkpoint_layout_is_remapped() -> None:
    """Their ``pools.{i}`` belong to stage ``i + 1`` here; every other key is kept."""
    model = visionzoo.create_model(NAME, **TINY)
    sd = model.state_dict()
    stage_pool = re.compile(r"transformers\.(\d+)\.pool\.")
    theirs = {stage_pool.sub(lambda m: f"pools.{int(m.group(1)) - 1}.", k): v for k, v in sd.items()}
    assert any(k.startswith("pools.1.") for k in theirs) and not any(".pool." in k for k in theirs)
    remapped = pit.checkpoint_filter_fn(theirs, model)
    assert remapped.keys() == sd.keys()
    model.load_state_dict(remapped, strict=True)


def test_pooling_is_a_depthwise_strided_conv_and_a_token_linear() -> None:
    """out = conv(x; groups=in, k=s+1, stride s, pad s//2), tokens' = W t + b, written out."""
    pool = pit.Pooling(4, 8, stride=2).eval()
    x, t = torch.randn(2, 4, 7, 7), torch.randn(2, 1, 4)
    with torch.no_grad():
        out, tok = pool(x, t)
        # each input channel c feeds output channels 2c, 2c + 1
        w = pool.conv.weight  # (8, 1, 3, 3)
        xp = F.pad(x, (1, 1, 1, 1))
        expected = torch.empty(2, 8, 4, 4)
        for o in range(8):
            for i in range(4):
                for j in range(4):
                    patch = xp[:, o // 2, 2 * i : 2 * i + 3, 2 * j : 2 * j + 3]
                    expected[:, o, i, j] = (patch * w[o, 0]).sum((-2, -1)) + pool.conv.bias[o]
        assert rel_err(out, expected) < 1e-5
        assert rel_err(tok, t @ pool.fc.weight.T + pool.fc.bias) < 1e-5


def test_distilled_training_returns_both_heads() -> None:
    model = visionzoo.create_model(DIST, num_classes=5, **TINY)
    model.set_distilled_training(True)
    model.train()
    logits, dist = model(_x())
    assert logits.shape == dist.shape == (2, 5)
    model.eval()
    with torch.no_grad():
        feats = model.forward_features(_x())
        assert torch.allclose(model(_x()), (model.head(feats[:, 0]) + model.head_dist(feats[:, 1])) / 2)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        (NAME, dict(global_pool="")),
        (DIST, dict(in_chans=1)),
        (NAME, dict(base_dims=(16, 16), depth=(1, 2), heads=(2, 4))),
    ],
)
def test_options_match_timm(name: str, kwargs: dict) -> None:
    ours, theirs = paired(name, img_size=64, **kwargs)
    assert_pair_matches(ours, theirs, _x(chans=kwargs.get("in_chans", 3)))


@pytest.mark.parametrize(("name", "level"), [(NAME, 1), (DIST, 0), (DIST, 2)])
def test_pruned_like_timm(name: str, level: int) -> None:
    ours, theirs = paired(name, **TINY)
    assert_pruned_like_timm(ours, theirs, level, _x())
    assert ours.head_dist is None


def test_pool_types() -> None:
    with pytest.raises(ValueError, match="token"):
        visionzoo.create_model(NAME, global_pool="avg", device="meta")
    with pytest.raises(ValueError, match="distilled"):
        visionzoo.create_model(DIST, global_pool="", device="meta")
    model = visionzoo.create_model(DIST, device="meta")
    with pytest.raises(ValueError, match="distilled"):
        model.reset_classifier(3, "")
