"""ViTamin specifics the registry-wide suites do not reach: the GeGLU MLP and the pooled shortcut
against direct formulas, the conv token source's grid, and a dynamic input size (an option no
registered name sets) against timm."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import paired, rel_err
from torch import nn

from visionzoo.models import vitamin

pytestmark = pytest.mark.family

# the sampled tests build ViTamin at 64 px (16 tokens, not 196); every block type is kept
SAMPLED_KWARGS: dict[str, Any] = {"img_size": 64}


def _randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return module.eval()


def test_geglu_mlp_is_the_gated_formula() -> None:
    """n = LN(x) (eps 1e-6, affine); y = W2 (gelu(W0 n + b0) * (W1 n + b1)) + b2."""
    mlp = _randomize(vitamin.GeGluMlp(6, 10))
    x = torch.randn(2, 5, 6)
    with torch.no_grad():
        mu = x.mean(-1, keepdim=True)
        var = x.var(-1, unbiased=False, keepdim=True)
        n = (x - mu) / torch.sqrt(var + 1e-6) * mlp.norm.weight + mlp.norm.bias
        gate = 0.5 * (n @ mlp.w0.weight.T + mlp.w0.bias)
        gate = gate * (1 + torch.erf((n @ mlp.w0.weight.T + mlp.w0.bias) / 2**0.5))
        expected = (gate * (n @ mlp.w1.weight.T + mlp.w1.bias)) @ mlp.w2.weight.T + mlp.w2.bias
        assert torch.allclose(mlp(x), expected, atol=1e-5)


def test_pooled_shortcut_averages_only_real_pixels() -> None:
    """3x3 / stride 2 average with padding not counted: the corner output is the mean of the
    2x2 corner, an inner one the mean of 9 pixels; a width change adds a 1x1 conv."""
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    down = vitamin.PoolDownsample(1, 1)
    y = down(x)
    assert isinstance(down.expand, nn.Identity)
    assert y.shape == (1, 1, 2, 2)
    assert y[0, 0, 0, 0] == x[0, 0, :2, :2].mean()
    assert y[0, 0, 1, 1] == x[0, 0, 1:4, 1:4].mean()
    wide = _randomize(vitamin.PoolDownsample(1, 3))
    with torch.no_grad():
        assert torch.allclose(wide(x), F.conv2d(y, wide.expand.weight, wide.expand.bias))


def test_conv_stages_reduce_by_16_to_the_token_width() -> None:
    stages = vitamin.MbConvStages(2, embed_dim=(8, 16, 24), depths=(1, 2), stem_width=8)
    assert stages(torch.randn(1, 2, 64, 48)).shape == (1, 24, 4, 3)
    assert [len(s) for s in stages.stages] == [1, 2]
    with pytest.raises(ValueError, match="3 widths"):
        vitamin.MbConvStages(embed_dim=(8, 16), depths=(1, 2))  # type: ignore[arg-type]


def test_dynamic_img_size_matches_timm() -> None:
    """Tokens from a non-square input, position embedding resampled to their grid."""
    ours, theirs = paired("vitamin_small_224", img_size=64, depth=2, dynamic_img_size=True)
    x = torch.randn(2, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
        assert rel_err(ours.forward_features(x), theirs.forward_features(x)) < 1e-4
