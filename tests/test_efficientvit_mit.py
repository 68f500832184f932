"""EfficientViT (MIT) specifics the registry-wide suites do not reach: options no registered name
sets (activation, expansion, norm epsilon, dropout) and the head's reset and pruning against
timm, on tiny builds of both model classes."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm_oracle import assert_pair_matches, assert_pruned_like_timm, paired, paired_classes, rel_err
from torch import nn

from visionzoo.models.efficientvit_mit import EfficientVit, EfficientVitLarge

pytestmark = pytest.mark.family

# one block per stage keeps every block type (stem body, downsampling body, attention block) at a
# fraction of L1's 52 M parameters
SAMPLED_KWARGS: dict[str, Any] = {"depths": (1, 1, 1, 1, 1)}

TINY_B = dict(
    widths=(8, 16, 16, 32, 32), depths=(1, 2, 2, 1, 2), head_dim=8, head_widths=(32, 48), num_classes=10
)
TINY_L = dict(
    widths=(8, 16, 16, 32, 32), depths=(1, 1, 2, 1, 1), head_dim=8, head_widths=(32, 48), num_classes=10
)


def _x(size: int = 64, seed: int = 3) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _timm(cls_name: str) -> type[nn.Module]:
    from timm.models import efficientvit_mit

    return getattr(efficientvit_mit, cls_name)


@pytest.mark.parametrize(
    "cls, kwargs",
    [
        (EfficientVit, dict(TINY_B, act_layer=nn.SiLU, expand_ratio=2)),  # the head keeps Hardswish
        (EfficientVitLarge, dict(TINY_L, norm_eps=1e-3)),
        (EfficientVitLarge, dict(TINY_L, act_layer=nn.Hardswish)),
    ],
)
def test_options_match_timm(cls: type[nn.Module], kwargs: dict[str, Any]) -> None:
    ours, theirs = paired_classes(cls, _timm(cls.__name__), **kwargs)
    assert_pair_matches(ours, theirs, _x(48))


def test_large_head_conv_norm_keeps_default_eps() -> None:
    model = EfficientVitLarge(**TINY_L, norm_eps=1e-3)
    assert model.stem.in_conv.norm.eps == 1e-3 and model.head.classifier[1].eps == 1e-3
    assert model.head.in_conv.norm.eps == 1e-5  # as timm's: the head's conv norm is not the trunk's


def test_dropout_only_in_training() -> None:
    ours, theirs = paired_classes(EfficientVit, _timm("EfficientVit"), **TINY_B, drop_rate=0.5)
    assert ours.head.classifier[3].p == 0.5
    x = _x(32)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-5
        ours.train()
        assert not torch.equal(ours(x), ours(x))


@pytest.mark.parametrize("level", [1, 3])
def test_pruned_like_timm(level: int) -> None:
    ours, theirs = paired_classes(EfficientVit, _timm("EfficientVit"), **TINY_B)
    assert_pruned_like_timm(ours, theirs, level, _x(32))
    # the head's conv and MLP went with it: the pooled features of the last kept level remain
    assert isinstance(ours.head.in_conv, nn.Identity)
    with torch.no_grad():
        assert ours(_x(32)).shape == (2, ours.feature_info[level]["num_chs"])


def test_reset_other_and_pool_like_timm() -> None:
    ours, theirs = paired_classes(EfficientVitLarge, _timm("EfficientVitLarge"), **TINY_L)
    ours.reset_classifier(5, "max", reset_other=True)
    theirs.reset_classifier(5, "max", reset_other=True)
    ours.head.classifier[-1].load_state_dict(theirs.head.classifier[-1].state_dict())
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.head_hidden_size == theirs.head_hidden_size == 32
    with torch.no_grad():
        assert rel_err(ours.eval()(_x(32)), theirs.eval()(_x(32))) < 1e-5


@pytest.mark.parametrize("pool", ["", "catavgmax"])
def test_head_refuses_pools_its_mlp_cannot_take(pool: str) -> None:
    model = EfficientVit(**TINY_B)
    with pytest.raises(ValueError, match="global_pool"):
        model.reset_classifier(3, pool)
    with pytest.raises(ValueError, match="global_pool"):
        EfficientVit(**TINY_B, global_pool=pool)


def test_registered_b0_at_another_resolution() -> None:
    ours, theirs = paired("efficientvit_b0", num_classes=7)
    assert_pair_matches(ours, theirs, _x(80))  # 80 / 32 is not whole: the last maps are 3 x 3
