"""PP-LCNetV2 specifics the registry-wide suites do not reach: the multi-scale depthwise branches
against a direct computation, their folding (exact on trained-looking norms; timm's deploy state
dict; optimize_for_inference), and options no registered name sets against timm."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import with_trained_norms
from timm_oracle import paired, paired_classes, rel_err, timm

import visionzoo
from visionzoo.models.lcnetv2 import LCNetV2, RepDepthwiseSeparable

pytestmark = pytest.mark.family


def _x(chans: int = 3, size: int = 64, batch: int = 2, seed: int = 3) -> torch.Tensor:
    return torch.randn(batch, chans, size, size, generator=torch.Generator().manual_seed(seed))


def _bn(norm: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    shape = (1, -1, 1, 1)
    y = (x - norm.running_mean.view(shape)) / (norm.running_var.view(shape) + norm.eps).sqrt()
    return y * norm.weight.view(shape) + norm.bias.view(shape)


def _block(stride: int) -> RepDepthwiseSeparable:
    block = RepDepthwiseSeparable(6, 8, stride, 5, use_rep=True, use_se=True, split_pw=True)
    return with_trained_norms(block, lambda seed: _x(6, 9, 4, seed) * 2 + 1)


@pytest.mark.parametrize("stride", [1, 2])
def test_depthwise_branches_formula(stride: int) -> None:
    """relu(sum over kernels 5, 3 (and 1 unstrided) of bn(depthwise conv)), then SE and the
    pointwise convs."""
    block = _block(stride)
    assert [b.conv.kernel_size[0] for b in block.dw_conv_list] == ([5, 3, 1] if stride == 1 else [5, 3])
    x = _x(6, 9)
    with torch.no_grad():
        dw = sum(
            _bn(b.bn, F.conv2d(x, b.conv.weight, stride=stride, padding=b.conv.kernel_size[0] // 2, groups=6))
            for b in block.dw_conv_list
        )
        expected = block.pw_conv(block.se(F.relu(dw)))
        assert rel_err(block(x), expected) < 1e-5


@pytest.mark.parametrize("stride", [1, 2])
def test_reparameterize_is_exact(stride: int) -> None:
    block = _block(stride)
    x = _x(6, 9)
    with torch.no_grad():
        before = block(x)
        block.reparameterize()
        assert block.dw_conv_list is None and isinstance(block.dw_conv, torch.nn.Conv2d)
        assert rel_err(block(x), before) < 1e-6


def test_deploy_matches_timm() -> None:
    """Folded, ours has timm's deploy state dict and outputs; ``inference_mode`` builds that form,
    and optimize_for_inference folds as reparameterize does."""
    ours, theirs = paired("lcnetv2_small")
    x = _x()
    fused = visionzoo.reparameterize(ours)
    theirs = timm.utils.reparameterize_model(theirs)
    deploy = theirs.state_dict()
    assert {k: v.shape for k, v in fused.state_dict().items()} == {k: v.shape for k, v in deploy.items()}
    direct = visionzoo.create_model("lcnetv2_small", inference_mode=True).eval()
    direct.load_state_dict(deploy)
    optimized = visionzoo.optimize_for_inference(ours)
    with torch.no_grad():
        ref = theirs(x)
        assert rel_err(fused(x), ref) < 1e-4
        assert rel_err(direct(x), ref) < 1e-4
        assert rel_err(optimized(x), ref) < 1e-4


@pytest.mark.parametrize(
    "kwargs", [dict(head_hidden_size=None, global_pool="max"), dict(act_layer=torch.nn.GELU, drop_rate=0.2)]
)
def test_options_match_timm(kwargs: dict) -> None:
    ours, theirs = paired_classes(
        LCNetV2, timm.models.lcnetv2.LCNetV2, scale=0.5, depths=(1, 1, 2, 1), **kwargs
    )
    x = _x()
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
    assert ours.head_hidden_size == theirs.head_hidden_size
    with pytest.raises(ValueError, match="pooled width"):
        ours.reset_classifier(5, "catavgmax")
