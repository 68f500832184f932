"""Legacy SENet specifics: the squeeze width ``channels // reduction`` (no rounding), the four
block layouts (which conv strides, the inner widths, the basic block's activated second norm),
the stem level read before ``pool0`` and SENet-154's 3x3 stem and shortcuts."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import paired, rel_err
from torch import nn

import visionzoo
from visionzoo.models import senet

pytestmark = pytest.mark.family

# the shared train-mode suites compare two passes: without timm's default dropout (0.2) they draw
# no random masks
SHARED_KWARGS: dict[str, Any] = {"drop_rate": 0.0}


def _x(size: int = 64) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(3))


def _eval(block: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    for m in block.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
    return block.eval()


def _se(se: nn.Module, x: torch.Tensor) -> torch.Tensor:
    s = F.relu(F.conv2d(x.mean((2, 3), keepdim=True), se.fc1.weight, se.fc1.bias))
    return x * torch.sigmoid(F.conv2d(s, se.fc2.weight, se.fc2.bias))


def _bn(bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    return F.batch_norm(x, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)


def test_squeeze_width_is_not_rounded() -> None:
    """64 channels at reduction 16: 4 hidden (the modern SE rounds up to a multiple of 8)."""
    block = senet.SEResNetBlock(64, 64, groups=1, reduction=16)
    assert block.se_module.fc1.out_channels == 4
    block = senet.SEResNeXtBottleneck(64, 64, groups=32, reduction=16)
    assert block.se_module.fc1.out_channels == 256 // 16


def test_basic_block_formula() -> None:
    """relu(se(relu(bn2(conv2(relu(bn1(conv1(x))))))) + shortcut(x))."""
    block = _eval(senet.SEResNetBlock(8, 8, groups=1, reduction=4))
    x = torch.randn(2, 8, 6, 6)
    with torch.no_grad():
        h = F.relu(_bn(block.bn1, F.conv2d(x, block.conv1.weight, padding=1)))
        h = F.relu(_bn(block.bn2, F.conv2d(h, block.conv2.weight, padding=1)))
        want = F.relu(_se(block.se_module, h) + x)
        torch.testing.assert_close(block(x), want)


@pytest.mark.parametrize(
    ("cls", "mid1", "mid2", "strided"),
    [
        (senet.SEResNetBottleneck, 16, 16, "conv1"),  # Caffe's: stride on the first 1x1
        (senet.SEBottleneck, 32, 64, "conv2"),  # SENet-154: 2x then 4x planes
        (senet.SEResNeXtBottleneck, 8, 8, "conv2"),  # floor(16 * 4 / 64) * 8 groups
    ],
)
def test_bottleneck_layouts(cls: type[nn.Module], mid1: int, mid2: int, strided: str) -> None:
    down = nn.Sequential(nn.Conv2d(32, 64, 1, stride=2, bias=False), nn.BatchNorm2d(64))
    block = _eval(cls(32, 16, 8 if cls is not senet.SEResNetBottleneck else 1, 4, 2, down))
    assert (block.conv1.out_channels, block.conv2.out_channels, block.conv3.out_channels) == (mid1, mid2, 64)
    assert getattr(block, strided).stride == (2, 2)
    x = torch.randn(2, 32, 8, 8)
    with torch.no_grad():
        h = F.relu(block.bn1(block.conv1(x)))
        h = F.relu(block.bn2(block.conv2(h)))
        want = F.relu(_se(block.se_module, block.bn3(block.conv3(h))) + down(x))
        got = block(x)
    assert got.shape == (2, 64, 4, 4)
    torch.testing.assert_close(got, want)


def test_stem_level_is_read_before_the_pool_and_pruning_to_it_matches_timm() -> None:
    ours, theirs = paired("legacy_seresnet18")
    with torch.no_grad():
        stem = ours.forward_intermediates(_x(), indices=[0], intermediates_only=True)[0]
        assert stem.shape[-1] == 32 and torch.equal(stem, ours.layer0(_x()))
    for model in (ours, theirs):
        model.prune_intermediate_layers([0])
    assert isinstance(ours.pool0, nn.Identity)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    with torch.no_grad():
        assert rel_err(ours(_x()), theirs(_x())) < 1e-5
        assert rel_err(ours(_x()), stem) < 1e-6


def test_senet154_stem_and_shortcuts() -> None:
    model = visionzoo.create_model("legacy_senet154", device="meta")
    assert [m.kernel_size for m in model.layer0 if isinstance(m, nn.Conv2d)] == [(3, 3)] * 3
    assert model.layer0.conv3.out_channels == 128
    assert model.layer1[0].downsample[0].kernel_size == (1, 1)
    assert all(getattr(model, f"layer{i}")[0].downsample[0].kernel_size == (3, 3) for i in (2, 3, 4))
    assert model.drop_rate == 0.2  # timm's default for every legacy SENet
