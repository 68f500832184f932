"""SelecSLS specifics the registry-wide suites do not reach.

The block's skip connections against a direct computation; the stage table against the paper's
widths; the levels inside the head convs and the list-passing blocks when pruning and stopping
early, against timm.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm_oracle import materialize_random, paired, rel_err

from visionzoo.models import selecsls

pytestmark = pytest.mark.family


def _x(size: int = 64, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(3))


@torch.no_grad()
def test_first_block_makes_the_skip_the_next_one_reuses() -> None:
    first = materialize_random(selecsls.SelecSlsBlock(8, 0, 8, 8, True, 2).to("meta"), seed=1)
    later = materialize_random(selecsls.SelecSlsBlock(8, 8, 8, 12, False, 1).to("meta"), seed=2)
    x = torch.randn(2, 8, 8, 8)
    out, skip = first([x])
    d1 = first.conv1(x)
    d2 = first.conv3(first.conv2(d1))
    d3 = first.conv5(first.conv4(d2))
    assert rel_err(out, first.conv6(torch.cat([d1, d2, d3], 1))) < 1e-6 and skip is out
    out2, skip2 = later([out, skip])
    e1 = later.conv1(out)
    e2 = later.conv3(later.conv2(e1))
    e3 = later.conv5(later.conv4(e2))
    assert rel_err(out2, later.conv6(torch.cat([e1, e2, e3, skip], 1))) < 1e-6 and skip2 is skip


def test_stage_rows() -> None:
    assert selecsls._stage(128, 128, 288, 3) == [
        (128, 0, 128, 128, True, 2),
        (128, 128, 128, 128, False, 1),
        (128, 128, 128, 288, False, 1),
    ]


@pytest.mark.parametrize(
    ("indices", "prune_head"),
    [([0], True), ([1, 2], False), ([3], True), ([4], False), ([5], False), (6, True)],
)
def test_pruning_matches_timm(indices: Any, prune_head: bool) -> None:
    ours, theirs = paired("selecsls42b")
    kept = ours.prune_intermediate_layers(indices, prune_head=prune_head)
    assert kept == theirs.prune_intermediate_layers(indices, prune_head=prune_head)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    assert ours.num_features == theirs.num_features
    with torch.no_grad():
        x = _x()
        assert rel_err(ours(x), theirs(x)) < 1e-4
        for a, b in zip(ours.forward_intermediates(x, kept)[1], theirs.forward_intermediates(x, kept)[1]):
            assert rel_err(a, b) < 1e-4


@pytest.mark.parametrize("indices", [[0], [2], [1, 4], [5]])
@torch.no_grad()
def test_stop_early_matches_timm(indices: list[int]) -> None:
    ours, theirs = paired("selecsls42b")
    x = _x()
    final, inters = ours.forward_intermediates(x, indices, stop_early=True)
    final_t, inters_t = theirs.forward_intermediates(x, indices, stop_early=True)
    assert rel_err(final, final_t) < 1e-4
    assert len(inters) == len(inters_t) and all(rel_err(a, b) < 1e-4 for a, b in zip(inters, inters_t))
