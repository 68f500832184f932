"""HardCoRe-NAS: what is its own on top of MobileNetV3's class and builder (tested there).

Its block strings against the paper's stage widths and strides; the SE its blocks get (hard-sigmoid
gate, ReLU inside, hidden width rounded to a multiple of 8) against a direct computation; the
backbone (timm builds a MobileNetV3Features for it) against timm.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import paired, rel_err

import visionzoo
from visionzoo.models import hardcorenas

pytestmark = pytest.mark.family


def _x(size: int = 64, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("name", sorted(hardcorenas.VARIANTS))
def test_stage_widths_and_strides(name: str) -> None:
    model = visionzoo.create_model(name, device="meta")
    assert len(model.blocks[0]) == 1 and model.conv_stem.out_channels == 32
    widths = [s[-1].conv_pwl.out_channels if hasattr(s[-1], "conv_pwl") else None for s in model.blocks]
    assert widths[1:6] == [24, 40, 80, 112, 192]
    assert [f["reduction"] for f in model.feature_info] == [2, 4, 8, 16, 32]
    assert model.head_hidden_size == 1280 and model.num_features == 960


@torch.no_grad()
def test_se_is_mobilenetv3s() -> None:
    ours, _ = paired("hardcorenas_a")
    se = ours.blocks[1][1].se  # ir_r1_k5_s1_e3_c24_nre_se0.25: 72 expanded channels
    assert se.conv_reduce.out_channels == 24  # 72 * 0.25 = 18, rounded up to a multiple of 8
    x = torch.randn(2, 72, 5, 5)
    s = F.conv2d(F.relu(F.conv2d(x.mean((2, 3), keepdim=True), se.conv_reduce.weight, se.conv_reduce.bias)),
                 se.conv_expand.weight, se.conv_expand.bias)  # fmt: skip
    assert rel_err(se(x), x * F.relu6(s + 3) / 6) < 1e-6


def test_backbone_matches_timm() -> None:
    ours, theirs = paired("hardcorenas_c", features_only=True, out_indices=(1, 2, 4))
    with torch.no_grad():
        a, b = ours(_x()), theirs(_x())
    assert len(a) == len(b) == 3
    assert all(rel_err(u, v) < 1e-4 for u, v in zip(a, b))
