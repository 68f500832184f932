"""Inception-v4 specifics: the stem blocks that concatenate a pool with a strided conv, the
8x8 block whose branches end in a 1x3 and a 3x1 side by side, and the 75 px minimum input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import assert_pair_matches, paired

from visionzoo.models import inception_v3, inception_v4

pytestmark = pytest.mark.family


def _x(size: int) -> torch.Tensor:
    return torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(3))


def _block() -> inception_v3.ConvBlock:
    torch.manual_seed(0)
    return inception_v3.basic_conv_block()


@pytest.mark.parametrize("cls", [inception_v4.Mixed3a, inception_v4.Mixed5a])
def test_stem_concatenates_a_max_pool_and_a_strided_conv(cls: type) -> None:
    block = cls(_block()).eval()
    chs = 64 if cls is inception_v4.Mixed3a else 192
    x = torch.randn(2, chs, 9, 9)
    with torch.no_grad():
        got = block(x)
        pooled, conv = F.max_pool2d(x, 3, stride=2), block.conv(x)
    assert got.shape == (2, chs + block.conv.conv.out_channels, 4, 4)
    order = (pooled, conv) if cls is inception_v4.Mixed3a else (conv, pooled)
    torch.testing.assert_close(got, torch.cat(order, 1))


def test_inception_c_splits_two_branches_into_row_and_column() -> None:
    block = inception_v4.InceptionC(_block()).eval()
    x = torch.randn(1, 1536, 3, 3)
    with torch.no_grad():
        got = block(x)
        b1 = block.branch1_0(x)
        b2 = block.branch2_2(block.branch2_1(block.branch2_0(x)))
        pool = F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)
        want = torch.cat(
            [
                block.branch0(x),
                block.branch1_1a(b1),
                block.branch1_1b(b1),
                block.branch2_3a(b2),
                block.branch2_3b(b2),
                block.branch3[1](pool),
            ],
            1,
        )
    assert got.shape == (1, 1536, 3, 3)
    torch.testing.assert_close(got, want)


def test_smallest_input_matches_timm_and_a_smaller_one_is_refused() -> None:
    ours, theirs = paired("inception_v4", num_classes=4)
    assert_pair_matches(ours, theirs, _x(inception_v3.MIN_INPUT_SIZE))
    with pytest.raises(ValueError, match="H >= 75"):
        ours(_x(inception_v3.MIN_INPUT_SIZE - 1))
    with pytest.raises(ValueError, match="W >= 75"):
        ours.forward_intermediates(_x(74))
