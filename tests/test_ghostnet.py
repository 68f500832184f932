"""GhostNet specifics the registry-wide suites do not reach: the ghost module and V2's attention
gate against direct computations, the re-parameterisation of the V3 module and bottleneck (exact
on trained-looking norms; timm's deploy state dict; optimize_for_inference), and the original
V3 checkpoint names."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from helpers import with_trained_norms
from timm_oracle import paired, rel_err, timm
from torch import nn

import visionzoo
from visionzoo.models import ghostnet
from visionzoo.models.ghostnet import GhostBottleneckV3, GhostModule, GhostModuleV2, GhostModuleV3

pytestmark = pytest.mark.family

# the shared training tests compare runs of one model: without its default dropout before the
# classifier (GhostNet: 0.2), as timm's training settings would otherwise draw different masks
SHARED_KWARGS: dict[str, Any] = {"drop_rate": 0.0}


def _x(chans: int = 3, size: int = 64, batch: int = 2, seed: int = 3) -> torch.Tensor:
    return torch.randn(batch, chans, size, size, generator=torch.Generator().manual_seed(seed))


def _trained(module: nn.Module, chans: int) -> nn.Module:
    return with_trained_norms(module, lambda seed: _x(chans, 12, 4, seed) * 2 + 1)


def test_ghost_module_is_half_conv_half_cheap_conv() -> None:
    module = _trained(GhostModule(6, 9), 6)  # 5 primary channels, 5 cheap ones, cut to 9
    x = _x(6, 8)
    with torch.no_grad():
        primary = module.primary_conv(x)
        assert primary.shape[1] == 5
        out = module(x)
        assert out.shape[1] == 9
        assert torch.equal(out[:, :5], primary)
        assert torch.equal(out[:, 5:], module.cheap_operation(primary)[:, :4])


def test_v2_attention_gate_is_nearest_upsampled_sigmoid() -> None:
    module = _trained(GhostModuleV2(6, 8), 6)
    x = _x(6, 8)
    with torch.no_grad():
        attn = torch.sigmoid(module.short_conv(F.avg_pool2d(x, 2)))  # 4x4 map for an 8x8 input
        gate = attn.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
        assert rel_err(module(x), GhostModule.forward(module, x) * gate) < 1e-6


REPARAM = {
    "module_v3": (lambda: GhostModuleV3(8, 16), 8),
    "module_v3_shortcut": (lambda: GhostModuleV3(8, 12, mode="shortcut"), 8),
    "module_v3_linear": (lambda: GhostModuleV3(8, 16, act_layer=nn.Identity), 8),
    "bottleneck_v3_stride2": (lambda: GhostBottleneckV3(8, 16, 12, 3, stride=2), 8),
    "bottleneck_v3_stride2_k5_se": (lambda: GhostBottleneckV3(8, 16, 12, 5, stride=2, se_ratio=0.25), 8),
    "bottleneck_v3_stride1": (lambda: GhostBottleneckV3(8, 16, 8, 3, stride=1), 8),
}


def _branches(module: nn.Module) -> list[nn.Module]:
    """The V3 modules still holding training branches (with parameters)."""
    names = ("primary_rpr_conv", "cheap_rpr_conv", "dw_rpr_conv", "dw_rpr_scale")
    return [
        m
        for m in module.modules()
        if isinstance(m, (GhostModuleV3, GhostBottleneckV3))
        and any(
            isinstance(b, nn.Module) and any(True for _ in b.parameters())
            for b in map(m.__dict__["_modules"].get, names)
        )
    ]


@pytest.mark.parametrize("case", sorted(REPARAM))
def test_reparameterize_is_exact(case: str) -> None:
    make, chans = REPARAM[case]
    module = _trained(make(), chans)
    x = _x(chans, 12)
    with torch.no_grad():
        ref = module(x)
        for m in list(module.modules()):
            if hasattr(m, "reparameterize"):
                m.reparameterize()
        out = module(x)
    assert rel_err(out, ref) < 1e-5
    assert not _branches(module)  # no branch left


def test_reparameterize_model_optimize_and_timm_deploy_state_dict() -> None:
    from timm.utils.model import reparameterize_model

    ours, theirs = paired("ghostnetv3_050")
    x = _x()
    with torch.no_grad():
        ref = theirs(x)
        fused = visionzoo.reparameterize(ours)
        assert rel_err(fused(x), ref) < 1e-5
        assert _branches(ours) and not _branches(fused)  # a copy was fused
        theirs_fused = reparameterize_model(theirs)
        theirs_fused.load_state_dict(fused.state_dict(), strict=True)
        assert rel_err(theirs_fused(x), ref) < 1e-5
        fast = visionzoo.optimize_for_inference(ours)
        assert not _branches(fast)
        assert rel_err(fast(x), ref) < 1e-4


def test_original_v3_checkpoint_names() -> None:
    model = visionzoo.create_model("ghostnetv3_050", device="meta")
    keys = [k for k in model.state_dict() if ".bn1." in k and (".ghost" in k or ".dw_rpr_" in k)]
    assert keys
    original = {k.replace("bn1.", "bn."): torch.zeros(1) for k in keys}
    original["total_ops"] = torch.zeros(1)
    ours = ghostnet.checkpoint_filter_fn({"state_dict": original}, model)
    theirs = timm.models.ghostnet.checkpoint_filter_fn({"state_dict": original}, model)
    assert sorted(ours) == sorted(theirs) == sorted(keys)


@pytest.mark.parametrize(
    ("name", "kwargs"), [("ghostnetv2_100", dict(global_pool="max")), ("ghostnet_050", {})]
)
def test_options_match_timm(name: str, kwargs: dict) -> None:
    ours, theirs = paired(name, **kwargs)
    x = _x()
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
    with pytest.raises(ValueError, match="pooled width"):
        ours.reset_classifier(5, "catavgmax")
