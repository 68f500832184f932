"""FasterNet specifics the registry-wide suites do not reach: the partial conv against a direct
computation (both modes), and options no registered name sets (layer scale, no stem norm, the
inference-only slicing mode, drop path) against timm."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import paired, rel_err

from visionzoo.layers import PartialConv2d

pytestmark = pytest.mark.family


def _x(chans: int = 3, size: int = 64, batch: int = 2, seed: int = 3) -> torch.Tensor:
    return torch.randn(batch, chans, size, size, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("mode", ["split_cat", "slicing"])
def test_partial_conv_formula(mode: str) -> None:
    pconv = PartialConv2d(8, n_div=4, mode=mode)  # a 3x3 conv over the first 2 channels
    x = _x(8, 7)
    w = pconv.partial_conv3.weight
    assert w.shape == (2, 2, 3, 3)
    with torch.no_grad():
        y = pconv(x)
        # each output pixel of the first two channels: the 3x3 window sum over zero-padded inputs
        padded = F.pad(x[:, :2], (1, 1, 1, 1))
        direct = torch.zeros(2, 2, 7, 7)
        for dy in range(3):
            for dx in range(3):
                direct += torch.einsum(
                    "oi,bihw->bohw", w[:, :, dy, dx], padded[:, :, dy : dy + 7, dx : dx + 7]
                )
        assert rel_err(y[:, :2], direct) < 1e-5
        assert torch.equal(y[:, 2:], x[:, 2:])  # the untouched channels pass through
    assert not torch.equal(y, x)  # (and the input, the block's shortcut, is left intact)


def test_partial_conv_refuses_bad_args() -> None:
    with pytest.raises(ValueError, match="mode="):
        PartialConv2d(8, mode="inplace")
    with pytest.raises(ValueError, match="n_div"):
        PartialConv2d(4, n_div=5)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(layer_scale_init_value=0.5, patch_norm=False),
        dict(pconv_fw_type="slicing", n_div=2, mlp_ratio=3.0),
        dict(drop_path_rate=0.3, feature_dim=96),
    ],
)
def test_options_match_timm(kwargs: dict) -> None:
    ours, theirs = paired("fasternet_t0", depths=(1, 1, 2, 1), **kwargs)
    x = _x()
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
    assert [m.drop_prob for m in ours.modules() if hasattr(m, "drop_prob")] == [
        m.drop_prob for m in theirs.modules() if hasattr(m, "drop_prob")
    ]
    with pytest.raises(ValueError, match="pooled width"):
        ours.reset_classifier(5, "catavgmax")
