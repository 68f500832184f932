"""RepGhostNet specifics the registry-wide suites do not reach: the RepGhost module against a
direct computation, its re-parameterisation (exact on trained-looking norms; the whole model,
timm's deploy state dict, optimize_for_inference), and the unfused option against timm."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from helpers import with_trained_norms
from timm_oracle import paired, rel_err
from torch import nn

import visionzoo
from visionzoo.models.repghost import RepGhostBottleneck, RepGhostModule

pytestmark = pytest.mark.family

# the shared training tests compare runs of one model: without its default dropout before the
# classifier (RepGhostNet: 0.2), as timm's training settings would otherwise draw different masks
SHARED_KWARGS: dict[str, Any] = {"drop_rate": 0.0}


def _x(chans: int = 3, size: int = 64, batch: int = 2, seed: int = 3) -> torch.Tensor:
    return torch.randn(batch, chans, size, size, generator=torch.Generator().manual_seed(seed))


def _trained(module: nn.Module, chans: int) -> nn.Module:
    return with_trained_norms(module, lambda seed: _x(chans, 12, 4, seed) * 2 + 1)


def _bn(norm: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    shape = (1, -1, 1, 1)
    y = (x - norm.running_mean.view(shape)) / (norm.running_var.view(shape) + norm.eps).sqrt()
    return y * norm.weight.view(shape) + norm.bias.view(shape)


def test_module_adds_cheap_features_to_a_normed_identity() -> None:
    module = _trained(RepGhostModule(6, 8), 6)
    x = _x(6, 8)
    with torch.no_grad():
        x1 = module.primary_conv(x)
        dw = module.cheap_operation[0]
        cheap = _bn(module.cheap_operation[1], nn.functional.conv2d(x1, dw.weight, padding=1, groups=8))
        expected = torch.relu(cheap + _bn(module.fusion_bn[0], x1))
        assert rel_err(module(x), expected) < 1e-5


REPARAM = {
    "module": (lambda: RepGhostModule(6, 8), 6),
    "module_linear_strided": (lambda: RepGhostModule(6, 8, stride=2, relu=False), 6),
    "module_k5": (lambda: RepGhostModule(6, 8, dw_size=5), 6),
    "bottleneck_stride2_se": (lambda: RepGhostBottleneck(8, 16, 12, 5, stride=2, se_ratio=0.25), 8),
}


@pytest.mark.parametrize("case", sorted(REPARAM))
def test_reparameterize_is_exact(case: str) -> None:
    make, chans = REPARAM[case]
    module = _trained(make(), chans)
    x = _x(chans, 12)
    with torch.no_grad():
        ref = module(x)
        for m in list(module.modules()):
            if isinstance(m, RepGhostModule):
                m.reparameterize()
        out = module(x)
    assert rel_err(out, ref) < 1e-5
    ghosts = [m for m in module.modules() if isinstance(m, RepGhostModule)]
    assert all(isinstance(m.cheap_operation, nn.Conv2d) and len(m.fusion_bn) == 0 for m in ghosts)


def _branchy(model: nn.Module) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, RepGhostModule) and len(m.fusion_bn)]


def test_reparameterize_model_optimize_and_timm_deploy_state_dict() -> None:
    from timm.models.repghost import repghost_model_convert

    ours, theirs = paired("repghostnet_050")
    x = _x()
    with torch.no_grad():
        ref = theirs(x)
        fused = visionzoo.reparameterize(ours)
        assert rel_err(fused(x), ref) < 1e-5
        assert _branchy(ours) and not _branchy(fused)  # a copy was fused
        theirs_fused = repghost_model_convert(theirs)
        theirs_fused.load_state_dict(fused.state_dict(), strict=True)
        assert rel_err(theirs_fused(x), ref) < 1e-5
        fast = visionzoo.optimize_for_inference(ours)
        assert not _branchy(fast)
        assert rel_err(fast(x), ref) < 1e-4


def test_unfused_option_matches_timm() -> None:
    ours, theirs = paired("repghostnet_050", reparam=False)
    assert not _branchy(ours)
    with torch.no_grad():
        assert rel_err(ours(_x()), theirs(_x())) < 1e-4
