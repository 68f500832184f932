"""StarNet specifics the registry-wide suites do not reach: the star block against a direct
computation, and options no registered name sets (drop path, activation) against timm."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import with_trained_norms
from timm_oracle import paired, rel_err
from torch import nn

from visionzoo.models.starnet import Block

pytestmark = pytest.mark.family


def _x(chans: int = 3, size: int = 64, batch: int = 2, seed: int = 3) -> torch.Tensor:
    return torch.randn(batch, chans, size, size, generator=torch.Generator().manual_seed(seed))


def _bn(norm: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    shape = (1, -1, 1, 1)
    y = (x - norm.running_mean.view(shape)) / (norm.running_var.view(shape) + norm.eps).sqrt()
    return y * norm.weight.view(shape) + norm.bias.view(shape)


def test_star_block_formula() -> None:
    block = with_trained_norms(Block(4, mlp_ratio=2), lambda seed: _x(4, 9, 4, seed))
    x = _x(4, 9)

    def conv(seq: nn.Module, t: torch.Tensor) -> torch.Tensor:
        c = seq.conv
        return F.conv2d(t, c.weight, c.bias, padding=c.padding, groups=c.groups)

    with torch.no_grad():
        y = _bn(block.dwconv.bn, conv(block.dwconv, x))
        star = F.relu6(conv(block.f1, y)) * conv(block.f2, y)  # the star: an element-wise product
        expected = x + conv(block.dwconv2, _bn(block.g.bn, conv(block.g, star)))
        assert rel_err(block(x), expected) < 1e-5


@pytest.mark.parametrize("kwargs", [dict(drop_path_rate=0.2), dict(act_layer=nn.GELU, mlp_ratio=2)])
def test_options_match_timm(kwargs: dict) -> None:
    ours, theirs = paired("starnet_s050", **kwargs)
    x = _x()
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
    assert [m.drop_prob for m in ours.modules() if hasattr(m, "drop_prob")] == [
        m.drop_prob for m in theirs.modules() if hasattr(m, "drop_prob")
    ]
