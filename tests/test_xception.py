"""Legacy Xception specifics: the norm-free separable conv, the residual block (its widening conv
first or last, its opening ReLU that must leave the input intact), the levels read at the next
block's opening ReLU and the cut that leaves that block as the ReLU alone, the 7 px minimum and
the deprecated ``xception`` name."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import materialize_random, paired, rel_err
from torch import nn

import visionzoo
from visionzoo.models import xception

pytestmark = pytest.mark.family


def _x(size: int = 48) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(3))


def test_separable_conv_is_depthwise_then_pointwise() -> None:
    torch.manual_seed(0)
    conv = xception.SeparableConv2d(4, 6, 3, padding=1)
    x = torch.randn(2, 4, 5, 5)
    want = F.conv2d(F.conv2d(x, conv.conv1.weight, padding=1, groups=4), conv.pointwise.weight)
    with torch.no_grad():
        torch.testing.assert_close(conv(x), want)
    assert not any(isinstance(m, nn.BatchNorm2d) for m in conv.modules())


@pytest.mark.parametrize("grow_first", [True, False])
def test_block_widths_and_residual(grow_first: bool) -> None:
    torch.manual_seed(0)
    block = xception.Block(4, 8, reps=3, strides=2, grow_first=grow_first).eval()
    convs = [m for m in block.rep if isinstance(m, xception.SeparableConv2d)]
    outs = [c.pointwise.out_channels for c in convs]
    assert outs == ([8, 8, 8] if grow_first else [4, 4, 8])
    x = torch.randn(2, 4, 6, 6)
    x_in = x.clone()
    with torch.no_grad():
        h = x
        for conv, bn in zip(convs, [m for m in block.rep if isinstance(m, nn.BatchNorm2d)]):
            h = bn(conv(F.relu(h)))
        want = F.max_pool2d(h, 3, 2, 1) + block.skipbn(block.skip(x))
        got = block(x)
    torch.testing.assert_close(got, want)
    assert torch.equal(x, x_in)  # the opening ReLU is not in place


def test_levels_are_the_activated_block_outputs() -> None:
    model = materialize_random(visionzoo.create_model("legacy_xception", device="meta")).eval()
    with torch.no_grad():
        levels = model.forward_intermediates(_x(), intermediates_only=True)
        h = model.act2(model.bn2(model.conv2(model.act1(model.bn1(model.conv1(_x()))))))
        b1 = model.block1(h)
        b2 = model.block2(b1)
    torch.testing.assert_close(levels[0], h)
    torch.testing.assert_close(levels[1], F.relu(b1))
    torch.testing.assert_close(levels[2], F.relu(b2))


@pytest.mark.parametrize("index", [1, 3])
def test_cut_at_a_level_inside_a_block_matches_timm(index: int) -> None:
    ours, theirs = paired("legacy_xception")
    for model in (ours, theirs):
        model.prune_intermediate_layers([index])
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    block = getattr(ours, ours.feature_info[index]["module"].split(".")[0])
    assert len(block.rep) == 1 and isinstance(block.rep[0], nn.ReLU) and block.skip is None
    with torch.no_grad():
        assert rel_err(ours(_x()), theirs(_x())) < 1e-5
        a = ours.forward_intermediates(_x(), indices=[0, index])
        b = theirs.forward_intermediates(_x(), indices=[0, index])
    assert rel_err(a[0], b[0]) < 1e-5 and all(rel_err(p, q) < 1e-5 for p, q in zip(a[1], b[1]))


def test_smallest_input_and_deprecated_name() -> None:
    model = visionzoo.create_model("xception", device="meta")
    assert model.pretrained_cfg.architecture == "legacy_xception"
    ours, theirs = paired("legacy_xception")
    with torch.no_grad():
        assert rel_err(ours(_x(7)), theirs(_x(7))) < 1e-5
        with pytest.raises(ValueError, match="H >= 7"):
            ours(_x(6))
