"""RepViT specifics the registry-wide suites do not reach: the re-parameterisation of each fusable
module type (exact on trained-looking norms), of the whole model (our walk, timm's deploy state
dict, optimize_for_inference), the distilled head, and options no registered name sets, against
timm."""

from __future__ import annotations

import pytest
import torch
from helpers import with_trained_norms
from timm_oracle import paired, rel_err
from torch import nn

import visionzoo
from visionzoo.models.repvit import ConvNorm, NormLinear, RepVggDw, RepVitClassifier

pytestmark = pytest.mark.family

# the modules that carry branches or norms a fusion removes
_FUSABLE = (ConvNorm, NormLinear, RepVggDw, RepVitClassifier, nn.BatchNorm1d, nn.BatchNorm2d)


def _x(chans: int = 3, size: int = 64, batch: int = 2, seed: int = 3) -> torch.Tensor:
    return torch.randn(batch, chans, size, size, generator=torch.Generator().manual_seed(seed))


def _vec(chans: int, batch: int = 4, seed: int = 3) -> torch.Tensor:
    return torch.randn(batch, chans, generator=torch.Generator().manual_seed(seed))


FUSABLE = {  # case: (module, input of a seed)
    "convnorm_depthwise_stride2": (lambda: ConvNorm(8, 8, 3, 2, 1, groups=8), lambda s: _x(8, 12, 4, s)),
    "convnorm_pointwise_wider": (lambda: ConvNorm(8, 16, 1), lambda s: _x(8, 12, 4, s)),
    "repvggdw": (lambda: RepVggDw(8, 3), lambda s: _x(8, 12, 4, s)),
    "repvggdw_legacy": (lambda: RepVggDw(8, 3, legacy=True), lambda s: _x(8, 12, 4, s)),
    "repvggdw_k5": (lambda: RepVggDw(8, 5), lambda s: _x(8, 12, 4, s)),
    "normlinear": (lambda: NormLinear(8, 5), lambda s: _vec(8, seed=s)),
    "normlinear_no_bias": (lambda: NormLinear(8, 5, bias=False), lambda s: _vec(8, seed=s)),
    "classifier_distilled": (lambda: RepVitClassifier(8, 5, distillation=True), lambda s: _vec(8, seed=s)),
}


@pytest.mark.parametrize("case", sorted(FUSABLE))
def test_fuse_is_exact(case: str) -> None:
    make, sample = FUSABLE[case]
    module = with_trained_norms(make(), lambda seed: sample(seed) * 2 + 1)
    x = sample(7)
    with torch.no_grad():
        ref = module(x)
        fused = module.fuse()
        out = fused(x)
    assert rel_err(out, ref) < 1e-5
    assert type(fused) in (nn.Conv2d, nn.Linear)  # one layer, no branch or norm left


def test_repvggdw_fuse_is_the_branch_sum() -> None:
    """Independently of the fused conv: the block is norm(dwconv_k(x) + dwconv_1(x) + x)."""
    block = with_trained_norms(RepVggDw(4, 3), lambda seed: _x(4, 8, 4, seed))
    x = _x(4, 8)
    c, bn = block.conv.c, block.conv.bn
    with torch.no_grad():
        k = nn.functional.conv2d(x, c.weight, padding=1, groups=4)
        k = (k - bn.running_mean.view(1, -1, 1, 1)) / (bn.running_var.view(1, -1, 1, 1) + bn.eps).sqrt()
        k = k * bn.weight.view(1, -1, 1, 1) + bn.bias.view(1, -1, 1, 1)
        one = x * block.conv1.weight.view(1, -1, 1, 1) + block.conv1.bias.view(1, -1, 1, 1)
        y = k + one + x
        out = block.bn
        y = (y - out.running_mean.view(1, -1, 1, 1)) / (out.running_var.view(1, -1, 1, 1) + out.eps).sqrt()
        y = y * out.weight.view(1, -1, 1, 1) + out.bias.view(1, -1, 1, 1)
        assert rel_err(block.fuse()(x), y) < 1e-5


@pytest.mark.parametrize("name", ["repvit_m1", "repvit_m0_9"])
def test_reparameterize_model_and_optimize_for_inference(name: str) -> None:
    model = visionzoo.create_model(name, num_classes=10)
    model = with_trained_norms(model, lambda seed: _x(batch=4, seed=seed))
    x = _x()
    with torch.no_grad():
        ref = model(x)
        fused = visionzoo.reparameterize(model)
        assert rel_err(fused(x), ref) < 1e-5
    assert not any(isinstance(m, _FUSABLE) for m in fused.modules())
    assert any(isinstance(m, RepVggDw) for m in model.modules())  # the original is untouched
    fast = visionzoo.optimize_for_inference(model)
    assert not any(isinstance(m, _FUSABLE) for m in fast.modules())
    with torch.no_grad():
        assert rel_err(fast(x), ref) < 1e-4


def test_fused_state_dict_is_timms() -> None:
    from timm.utils.model import reparameterize_model

    ours, theirs = paired("repvit_m0_9")
    ours_fused, theirs_fused = visionzoo.reparameterize(ours), reparameterize_model(theirs)
    theirs_fused.load_state_dict(ours_fused.state_dict(), strict=True)
    x = _x()
    with torch.no_grad():
        assert rel_err(theirs_fused(x), ours(x)) < 1e-5
        assert rel_err(ours_fused(x), theirs(x)) < 1e-5


def test_distilled_training_returns_both_heads() -> None:
    model = visionzoo.create_model("repvit_m1", num_classes=6).train()
    model.set_distilled_training()
    out = model(_x())
    assert isinstance(out, tuple) and [t.shape for t in out] == [(2, 6), (2, 6)]
    model.eval()
    with torch.no_grad():
        pooled = model.forward_head(model.forward_features(_x()), pre_logits=True)
        mean = (model.head.head(pooled) + model.head.head_dist(pooled)) / 2
        assert rel_err(model(_x()), mean) < 1e-6


@pytest.mark.parametrize(
    "kwargs",
    [dict(distillation=False), dict(kernel_size=5, mlp_ratio=3), dict(act_layer=nn.ReLU)],
)
def test_options_match_timm(kwargs: dict) -> None:
    ours, theirs = paired("repvit_m1", **kwargs)
    x = _x()
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())


def test_reset_classifier_distillation_matches_timm() -> None:
    ours, theirs = paired("repvit_m1")
    ours.reset_classifier(7, distillation=False)
    theirs.reset_classifier(7, distillation=False)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    assert ours(_x()).shape == (2, 7)
    with pytest.raises(ValueError, match="global_pool '' or 'avg', got 'max'"):
        ours.reset_classifier(7, global_pool="max")
