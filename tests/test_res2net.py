"""Res2Net's own block, Bottle2neck, against a direct computation of the paper's hierarchy of
scales; its one-scale case against ResNet's bottleneck; options outside the family sample against
timm. (The registered names' structure, configs and outputs: test_parity.py.)
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from helpers import bn_eval
from timm_oracle import materialize_random, paired, rel_err
from torch import nn

from visionzoo.models.res2net import Bottle2neck
from visionzoo.models.resnet import Bottleneck

pytestmark = pytest.mark.family

# what the shared compile / export suites build Res2Net with (sampling.family_kwargs): the same
# blocks, one per stage
SHARED_KWARGS: dict[str, Any] = {"layers": (1, 1, 1, 1)}


def _conv(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    return F.conv2d(x, conv.weight, None, conv.stride, conv.padding, conv.dilation, conv.groups)


def _mean3x3(x: torch.Tensor, stride: int) -> torch.Tensor:
    """A 3x3 mean over a zero-padded map (the pad counts), as a depthwise conv of ones / 9."""
    c = x.shape[1]
    return F.conv2d(x, torch.full((c, 1, 3, 3), 1 / 9), None, stride, 1, 1, c)


def _direct(block: Bottle2neck, x: torch.Tensor, *, stride: int, shortcut: torch.Tensor) -> torch.Tensor:
    """The paper's hierarchy: split into ``scale`` slices; y_0 = K_0(s_0), y_i = K_i(s_i + y_(i-1))
    (in a strided block y_i = K_i(s_i)); the last slice passes through (pooled when strided)."""
    h = F.relu(bn_eval(_conv(x, block.conv1), block.bn1))
    slices = h.split(block.width, 1)
    outs: list[torch.Tensor] = []
    for i, (conv, bn) in enumerate(zip(block.convs, block.bns)):
        s = slices[i] if i == 0 or stride > 1 else slices[i] + outs[-1]
        outs.append(F.relu(bn_eval(_conv(s, conv), bn)))
    outs.append(_mean3x3(slices[-1], stride) if stride > 1 else slices[-1])
    y = bn_eval(_conv(torch.cat(outs, 1), block.conv3), block.bn3)
    return F.relu(y + shortcut)


def _random_block(*args: Any, **kwargs: Any) -> nn.Module:
    return materialize_random(Bottle2neck(*args, **kwargs)).eval()


def test_bottle2neck_chains_its_scales() -> None:
    block = _random_block(32, 8, base_width=32, scale=3)  # 3 slices of 4 channels, 32 in and out
    x = torch.randn(2, 32, 9, 9, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert rel_err(block(x.clone()), _direct(block, x, stride=1, shortcut=x)) < 1e-5


def test_strided_bottle2neck_keeps_its_scales_apart_and_pools_the_last() -> None:
    down = nn.Sequential(nn.Conv2d(16, 32, 1, stride=2, bias=False), nn.BatchNorm2d(32))
    block = _random_block(16, 8, 2, down, base_width=32, scale=4)
    x = torch.randn(2, 16, 9, 9, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = _direct(block, x, stride=2, shortcut=block.downsample(x))
        assert rel_err(block(x), expected) < 1e-5


def test_one_scale_is_resnets_bottleneck() -> None:
    # scale=1: one 3x3 conv over all channels and nothing passed through, i.e. a ResNet bottleneck
    r2 = _random_block(32, 8, base_width=64, scale=1)
    plain = Bottleneck(32, 8).eval()
    names = {"convs.0.weight": "conv2.weight"} | {f"bns.0.{k}": f"bn2.{k}" for k in r2.bns[0].state_dict()}
    plain.load_state_dict({names.get(k, k): v for k, v in r2.state_dict().items()})
    x = torch.randn(2, 32, 8, 8, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        assert rel_err(r2(x.clone()), plain(x.clone())) < 1e-6


def test_unsupported_block_options_are_refused() -> None:
    with pytest.raises(ValueError, match="neither block_reduce_first nor aa_layer"):
        Bottle2neck(32, 8, aa_layer=nn.AvgPool2d)


# options no registered name sets, at an odd input size (ceil-mode and padded pools)
OPTIONS = {
    "res2net50d": dict(layers=(1, 1, 1, 1), output_stride=16),  # dilated last stage
    "res2next50": dict(layers=(1, 2, 1, 1), output_stride=8, global_pool="avgmax", num_classes=5),
}


@pytest.mark.parametrize("name", list(OPTIONS))
def test_options_outside_the_sample_match_timm(name: str) -> None:
    ours, theirs = paired(name, **OPTIONS[name])
    x = torch.randn(2, 3, 67, 67, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
