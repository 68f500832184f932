"""NASNet specifics the registry-wide suites do not reach.

NASNet-A at other widths (``num_features``, ``stem_size``: timm's constructor options) against
timm, with feature levels that state the widths built; pruned at every level against timm, and
the trunk written out for TorchScript against the walk.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm_oracle import assert_pruned_like_timm, paired, rel_err

pytestmark = pytest.mark.family

NAME = "nasnetalarge"
# what the shared suites that compile or export every family build NASNet with (sampling.py,
# family_kwargs): the same cells at a sixth of the width (cell widths 16..64, 384 features)
SHARED_KWARGS: dict[str, Any] = {"num_features": 384, "stem_size": 32}


def _x(size: int = 48) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(9))


def test_other_widths_match_timm_and_state_their_levels() -> None:
    ours, theirs = paired(NAME, **SHARED_KWARGS)
    x = _x()
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
        levels = ours.forward_intermediates(x, intermediates_only=True)
        for a, b in zip(levels, theirs.forward_intermediates(x, intermediates_only=True), strict=True):
            assert rel_err(a, b) < 1e-4
    # timm's feature_info keeps the default widths; ours gives those built
    assert [t.shape[1] for t in levels] == [f["num_chs"] for f in ours.feature_info] == [32, 16, 96, 192, 384]
    assert [f["num_chs"] for f in theirs.feature_info] == [96, 168, 1008, 2016, 4032]


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4])
def test_pruned_at_every_level_as_timm(level: int) -> None:
    """The walk and the trunk written out for TorchScript agree, and both equal timm's pruned
    model (its output and its level); the state dict loses what timm's does."""
    ours, theirs = paired(NAME, **SHARED_KWARGS)
    assert_pruned_like_timm(ours, theirs, level, _x())
    with torch.no_grad():  # (after pruning, the trunk written out for TorchScript ends where the walk does)
        assert torch.equal(ours._forward_script(_x()), ours.forward_features(_x()))


def test_a_pruned_level_is_refused_by_name() -> None:
    ours, _ = paired(NAME, **SHARED_KWARGS)
    ours.prune_intermediate_layers((0, 2))
    with pytest.raises(ValueError, match="level 3 was pruned away"):
        ours.forward_intermediates(_x(), indices=[3])
