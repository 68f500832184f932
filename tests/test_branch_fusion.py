"""visionzoo.layers.branch_fusion against the branches it fuses, run as modules (eval mode)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from visionzoo.layers.branch_fusion import branch_kernel_bias, conv_like, norm_scale_shift


def _trained_bn(chs: int, *, affine: bool = True, seed: int = 0) -> nn.BatchNorm2d:
    torch.manual_seed(seed)
    bn = nn.BatchNorm2d(chs, affine=affine, eps=1e-3).eval()
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    if affine:
        with torch.no_grad():
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-1, 1)
    return bn


@pytest.mark.parametrize("affine", [True, False])
def test_norm_scale_shift_is_the_eval_norm(affine: bool) -> None:
    bn = _trained_bn(6, affine=affine)
    x = torch.randn(2, 6, 3, 3)
    scale, shift = norm_scale_shift(bn)
    torch.testing.assert_close(x * scale.view(1, -1, 1, 1) + shift.view(1, -1, 1, 1), bn(x))


@pytest.mark.parametrize("groups", [1, 2, 4])
def test_branches_summed_into_one_conv_equal_the_branches(groups: int) -> None:
    """A 3x3 conv + norm, a 1x1 conv + norm (centred in the 3x3) and an identity norm (grouped:
    each output channel reads its own input channel) as one conv equal their sum."""
    torch.manual_seed(0)
    chs = 8
    conv3 = nn.Conv2d(chs, chs, 3, padding=1, groups=groups, bias=False)
    conv1 = nn.Conv2d(chs, chs, 1, groups=groups, bias=True)
    bn3, bn1, bn_id = (_trained_bn(chs, seed=s) for s in (1, 2, 3))
    kernel = torch.zeros_like(conv3.weight, dtype=torch.float64)
    bias = torch.zeros(chs, dtype=torch.float64)
    for conv, norm in [(conv3, bn3), (conv1, bn1), (None, bn_id)]:
        k, b = branch_kernel_bias(conv, norm, conv3.weight)
        assert k.dtype == torch.float64 and k.shape == conv3.weight.shape
        kernel, bias = kernel + k, bias + b
    fused = conv_like(conv3.eval(), kernel, bias)
    assert fused.weight.dtype == torch.float32 and not fused.training
    x = torch.randn(2, chs, 7, 7)
    with torch.no_grad():
        want = bn3(conv3(x)) + bn1(conv1(x)) + bn_id(x)
        torch.testing.assert_close(fused(x), want, rtol=1e-5, atol=1e-5)


def test_a_conv_whose_norm_was_folded_is_its_own_kernel() -> None:
    conv = nn.Conv2d(4, 4, 3, bias=True)
    k, b = branch_kernel_bias(conv, nn.Identity(), conv.weight)
    assert torch.equal(k, conv.weight.double()) and torch.equal(b, conv.bias.double())
