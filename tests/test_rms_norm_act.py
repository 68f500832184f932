"""RmsNormAct2d against its direct formula, and its registration as RmsNorm2d's fused form."""

from __future__ import annotations

import torch
from timm_oracle import rel_err
from torch import nn

from visionzoo.layers.norm_act import get_norm_act_layer
from visionzoo.layers.rms_norm import RmsNorm2d
from visionzoo.layers.rms_norm_act import RmsNormAct2d


def test_matches_direct_formula() -> None:
    """y = act(x_c / sqrt(mean_c x^2 + eps) * w_c) per pixel."""
    norm = RmsNormAct2d(5, eps=1e-3, act_layer=nn.GELU)
    x = torch.randn(2, 5, 3, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        norm.weight.copy_(torch.linspace(0.5, 1.5, 5))
        want = torch.empty_like(x)
        for b in range(2):
            for i in range(3):
                for j in range(4):
                    v = x[b, :, i, j]
                    want[b, :, i, j] = v / torch.sqrt((v * v).mean() + 1e-3) * norm.weight
        assert rel_err(norm(x), nn.functional.gelu(want)) < 1e-6
        plain = RmsNormAct2d(5, eps=1e-3, apply_act=False)
        plain.weight.copy_(norm.weight)
        assert rel_err(plain(x), want) < 1e-6


def test_is_rmsnorm2d_fused_form() -> None:
    fused = get_norm_act_layer(RmsNorm2d, nn.SiLU)
    assert fused is not None
    layer = fused(4)
    assert isinstance(layer, RmsNormAct2d) and isinstance(layer.act, nn.SiLU)
    assert list(layer.state_dict()) == ["weight"]
