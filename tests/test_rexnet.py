"""ReXNet specifics the registry-wide suites do not reach.

The width rule against the paper's published widths; the partial residual of the linear
bottleneck against a direct computation; pruning (the final conv goes with the head) and
dilation against timm.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm_oracle import assert_pair_matches, materialize_random, paired, rel_err

from visionzoo.models import rexnet

pytestmark = pytest.mark.family

# the shared training tests compare runs of one model: without its default dropout before the
# classifier (ReXNet: 0.2), which would draw different masks each run
SHARED_KWARGS: dict[str, Any] = {"drop_rate": 0.0}


def _x(size: int = 64, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(3))


def test_widths_grow_linearly_from_initial_chs() -> None:
    cfg = rexnet.block_cfg(se_ratio=1 / 12)
    widths = [c[0] for c in cfg]
    # ReXNet-1.0x: 16 blocks from 16 channels, each 180 / 16 = 11.25 wider, rounded
    assert widths == [round(16 + 11.25 * i) for i in range(16)]
    assert [c[2] for c in cfg] == [1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1, 1, 1, 1]
    assert [c[1] for c in cfg] == [1] + [6] * 15
    assert [c[3] for c in cfg] == [0.0] * 3 + [1 / 12] * 13
    # rounded variant: every width a multiple of 8
    assert all(c[0] % 8 == 0 for c in rexnet.block_cfg(width_mult=1.3, ch_div=8))


@torch.no_grad()
def test_partial_residual_adds_to_the_first_channels_only() -> None:
    block = materialize_random(rexnet.LinearBottleneck(8, 12, 1, exp_ratio=1.0).to("meta"), seed=2)
    assert block.use_shortcut
    x = torch.randn(2, 8, 6, 6)
    inner = block.conv_pwl(block.act_dw(block.conv_dw(x)))
    out = block(x)
    assert rel_err(out[:, :8], inner[:, :8] + x) < 1e-6
    assert rel_err(out[:, 8:], inner[:, 8:]) < 1e-6
    # a narrowing or strided block has no shortcut
    assert not rexnet.LinearBottleneck(12, 8, 1).use_shortcut
    assert not rexnet.LinearBottleneck(8, 12, 2).use_shortcut


@pytest.mark.parametrize(
    ("indices", "prune_head", "prune_norm"),
    [(5, True, False), (5, False, False), (5, False, True), (2, False, False), ([1, 3], True, False)],
)
def test_pruning_matches_timm(indices: Any, prune_head: bool, prune_norm: bool) -> None:
    ours, theirs = paired("rexnetr_100")
    kw = dict(prune_head=prune_head, prune_norm=prune_norm)
    assert ours.prune_intermediate_layers(indices, **kw) == theirs.prune_intermediate_layers(indices, **kw)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    assert ours.num_features == theirs.num_features
    with torch.no_grad():
        x = _x()
        assert rel_err(ours(x), theirs(x)) < 1e-4
        for a, b in zip(ours.forward_intermediates(x)[1], theirs.forward_intermediates(x)[1]):
            assert rel_err(a, b) < 1e-4


@pytest.mark.parametrize("kwargs", [dict(output_stride=8), dict(depth_mult=0.5, se_ratio=0.25)])
def test_options_match_timm(kwargs: dict) -> None:
    ours, theirs = paired("rexnet_100", **kwargs)
    assert_pair_matches(ours, theirs, _x())


def test_bad_output_stride() -> None:
    with pytest.raises(ValueError, match="32, 16 or 8"):
        rexnet.RexNet(output_stride=4)
