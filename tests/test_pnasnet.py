"""PNASNet specifics the registry-wide suites do not reach.

The factorized reduction against its formula (even pixels, and odd pixels shifted in, at even and
odd sizes); the cell trunk written out for TorchScript against the walk, pruned at every level;
the pruned model's levels and state dict against timm's; the symmetric padding timm's class
defaults to.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import assert_pruned_like_timm, materialize_random, paired_classes, rel_err, timm_model
from torch import nn

import visionzoo
from visionzoo.builder import load_state_dict_into
from visionzoo.layers import Conv2dSame, MaxPool2dSame, create_pool2d
from visionzoo.models import pnasnet

pytestmark = pytest.mark.family

NAME = "pnasnet5large"


def _x(size: int = 48) -> torch.Tensor:
    return torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(7))


def _bn(t: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    return F.batch_norm(t, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)


@pytest.mark.parametrize("size", [8, 7])
def test_factorized_reduction_follows_its_formula(size: int) -> None:
    """ReLU; a 1x1 conv of the even pixels and one of the odd pixels (zero past the edge),
    concatenated and normalised: half the resolution, rounded up."""
    module = materialize_random(pnasnet.FactorizedReduction(6, 8)).eval()
    x = torch.randn(2, 6, size, size)
    with torch.no_grad():
        got = module(x)
        r = F.relu(x)
        half = (size + 1) // 2
        odd = F.pad(r[..., 1::2, 1::2], (0, half - size // 2, 0, half - size // 2))
        even = F.conv2d(r[..., ::2, ::2], module.path_1.conv.weight)
        want = _bn(torch.cat([even, F.conv2d(odd, module.path_2.conv.weight)], 1), module.final_path_bn)
    assert got.shape == (2, 8, half, half)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def timms() -> nn.Module:
    """timm's model with random weights: one build of the 86M-parameter model for the module."""
    return timm_model(NAME).eval()


@pytest.mark.parametrize("level", [0, 1, 2, 3, 4])
def test_pruned_at_every_level_as_timm(timms: nn.Module, level: int) -> None:
    """The walk and the trunk written out for TorchScript agree, and both equal timm's pruned
    model (its output and its level); the state dict loses what timm's does."""
    theirs = copy.deepcopy(timms)
    ours = visionzoo.create_model(NAME, device="meta")
    load_state_dict_into(ours, theirs.state_dict(), strict=True)
    ours.eval()
    assert_pruned_like_timm(ours, theirs, level, _x())
    with torch.no_grad():  # (after pruning, the trunk written out for TorchScript ends where the walk does)
        assert torch.equal(ours._forward_script(_x()), ours.forward_features(_x()))


def test_symmetric_padding_as_timms_class_default() -> None:
    """``pad_type=''`` (timm's class default; the registered model uses TF's 'same'), at an odd
    size, where TF's padding would differ."""
    from timm.models.pnasnet import PNASNet5Large as Theirs

    ours, theirs = paired_classes(pnasnet.PNASNet5Large, Theirs, pad_type="")
    x = _x(45)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
    dynamic = (Conv2dSame, MaxPool2dSame)  # TF's 'same' at stride 2: padded per input size
    assert not any(isinstance(m, dynamic) for m in ours.modules())
    assert any(isinstance(m, dynamic) for m in visionzoo.create_model(NAME, device="meta").modules())


@pytest.mark.parametrize("pool_type", ["max", "avg"])
@pytest.mark.parametrize("padding", ["", "same", "valid", 1])
@pytest.mark.parametrize("stride", [1, 2])
def test_create_pool2d_as_timms(pool_type: str, padding: str | int, stride: int) -> None:
    """layers.create_pool2d (which these cells build their pools with) against timm's: the pool
    class and its output at an odd size, where TF's 'same' padding is uneven."""
    from timm.layers import create_pool2d as theirs

    kwargs = dict(count_include_pad=False) if pool_type == "avg" else {}
    a = create_pool2d(pool_type, 3, stride, padding=padding, **kwargs)
    b = theirs(pool_type, 3, stride, padding=padding, **kwargs)
    assert type(a).__name__ == type(b).__name__
    x = torch.randn(1, 2, 9, 9)
    assert torch.equal(a(x), b(x))
