"""InceptionNeXt specifics the registry-wide suites do not reach: the Inception depthwise mixer
against a direct computation; output stride and the MLP head's resets against timm."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import assert_pair_matches, paired

from visionzoo.models import inception_next as inx

pytestmark = pytest.mark.family


def _x(size: int = 64) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(6))


def test_inception_dwconv_branches() -> None:
    mixer = inx.InceptionDWConv2d(16, square_kernel_size=3, band_kernel_size=5, branch_ratio=0.25)
    x = torch.randn(1, 16, 7, 7, generator=torch.Generator().manual_seed(0))
    out = mixer(x)
    # 16 channels: 4 passed through, then 4 each through the 3x3, the 1x5 and the 5x1 kernel
    torch.testing.assert_close(out[:, :4], x[:, :4])
    with torch.no_grad():
        hw = F.conv2d(x[:, 4:8], mixer.dwconv_hw.weight, mixer.dwconv_hw.bias, padding=1, groups=4)
        w = F.conv2d(x[:, 8:12], mixer.dwconv_w.weight, mixer.dwconv_w.bias, padding=(0, 2), groups=4)
        h = F.conv2d(x[:, 12:], mixer.dwconv_h.weight, mixer.dwconv_h.bias, padding=(2, 0), groups=4)
        torch.testing.assert_close(out[:, 4:], torch.cat((hw, w, h), dim=1))
    assert mixer.dwconv_w.weight.shape[-2:] == (1, 5) and mixer.dwconv_h.weight.shape[-2:] == (5, 1)


@pytest.mark.parametrize("output_stride", [16, 8])
def test_output_stride_matches_timm(output_stride: int) -> None:
    ours, theirs = paired("inception_next_atto", output_stride=output_stride)
    assert_pair_matches(ours, theirs, _x())


@pytest.mark.parametrize(("pool", "reset_other"), [("max", False), ("catavgmax", True)])
def test_head_reset_matches_timm(pool: str, reset_other: bool) -> None:
    ours, theirs = paired("inception_next_atto")
    for model in (ours, theirs):
        model.reset_classifier(5, pool, reset_other=reset_other)
    ours.head.fc2.load_state_dict(theirs.head.fc2.state_dict())
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    assert_pair_matches(ours, theirs, _x())


def test_head_refuses_widening_pool_with_its_mlp() -> None:
    ours, _ = paired("inception_next_atto")
    with pytest.raises(ValueError, match="reset_other"):
        ours.reset_classifier(5, "catavgmax")
