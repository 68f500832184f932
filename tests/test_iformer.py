"""iFormer specifics the registry-wide suites do not reach: single-head modulation attention
against a direct computation, folding (conv + BN, RepCPE, distilled heads) against the unfolded
model, a stage made only of attention groups against timm, and the original repository's
checkpoint layout."""

from __future__ import annotations

import re

import pytest
import torch
from timm_oracle import paired, rel_err
from torch import nn

import visionzoo
from visionzoo.builder import load_state_dict_into
from visionzoo.layers import set_fused_attn
from visionzoo.models import iformer

pytestmark = pytest.mark.family

TINY = dict(
    dims=(8, 16, 24, 32), depths=(1, 1, 4, 3), attn_groups=(0, 0, 1, 1), attn_head_dim_reduction=(0, 0, 2, 4)
)


def _randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    """Random weights and batch-norm statistics (positive variances), eval mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in [*module.named_parameters(), *module.named_buffers()]:
            if t.dtype.is_floating_point:
                v = torch.randn(t.shape, generator=g) * 0.3
                t.copy_(v.abs() + 0.5 if name.endswith("running_var") else v)
    return module.eval()


def _x(size: int = 64) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(1))


def _bn(conv_norm: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A 1x1 ConvNorm by hand: W x, then (y - mean) / sqrt(var + eps) * gamma + beta."""
    c, bn = conv_norm.c, conv_norm.bn
    y = torch.einsum("oi,bihw->bohw", c.weight[:, :, 0, 0], x)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return (y - bn.running_mean[:, None, None]) * scale[:, None, None] + bn.bias[:, None, None]


@pytest.mark.parametrize("fused", [True, False])
def test_shma_is_one_gated_attention_head(fused: bool) -> None:
    """v, g = sigmoid(BN(W x)); a = softmax(q^T k / sqrt(d)) over all pixels; out = P((v a^T) * g)."""
    attn = _randomize(iformer.SHMA(8, ratio=1, head_dim_reduction_ratio=2, fused_attn=fused))
    x = torch.randn(2, 8, 3, 4)
    with torch.no_grad():
        v, g = torch.sigmoid(_bn(attn.v_gate, x)).chunk(2, dim=1)
        q, k = _bn(attn.q, x).flatten(2), _bn(attn.k, x).flatten(2)  # (B, 4, 12)
        a = torch.softmax(q.transpose(1, 2) @ k / 2.0, dim=-1)  # d = 4
        mixed = (v.flatten(2) @ a.transpose(1, 2)).reshape(2, 8, 3, 4)
        assert torch.allclose(attn(x), _bn(attn.proj, mixed * g), atol=1e-5)


@pytest.mark.parametrize("distillation", [False, True])
def test_fusion_keeps_outputs(distillation: bool) -> None:
    """Conv + BN pairs, RepCPE's residual and the (averaged) heads fold into plain layers."""
    model = _randomize(visionzoo.create_model("iformer_t", **TINY, distillation=distillation, num_classes=5))
    x = _x()
    with torch.no_grad():
        ref = model(x)
        fused = visionzoo.reparameterize(model)
        assert rel_err(fused(x), ref) < 1e-5
    kinds = {type(m) for m in fused.modules()}
    assert not kinds & {iformer.RepCPE, nn.BatchNorm2d, nn.BatchNorm1d}
    assert isinstance(fused.get_classifier(), nn.Linear)


def test_explicit_attention_equals_fused() -> None:
    model = _randomize(visionzoo.create_model("iformer_t", **TINY))
    x = _x()
    with torch.no_grad():
        ref = model(x)
        set_fused_attn(model, False)
        assert rel_err(model(x), ref) < 1e-5


def test_attention_only_stages_and_layer_scale_match_timm() -> None:
    """Stages whose depth is all attention groups (no conv block), with layer scale: no
    registered name builds them."""
    kwargs = dict(TINY, depths=(1, 1, 3, 6), attn_groups=(0, 0, 1, 2), layer_scale_init_value=0.1)
    ours, theirs = paired("iformer_t", **kwargs)
    assert not any(isinstance(b, iformer.ConvBlock) for b in ours.stages[3].blocks)
    with torch.no_grad():
        assert rel_err(ours(_x()), theirs(_x())) < 1e-4


def test_rejects_too_shallow_attention_stages() -> None:
    with pytest.raises(ValueError, match="three blocks"):
        visionzoo.create_model("iformer_t", **dict(TINY, depths=(1, 1, 2, 3)), device="meta")


# --- the original repository's layout ------------------------------------------------------------
_TO_ORIGINAL = (
    (r"^stem\.conv1\.", "downsample_layers.0.0."),
    (r"^stem\.conv2\.", "downsample_layers.0.2.conv_exp_bn1."),
    (r"^stem\.conv3\.", "downsample_layers.0.2.conv_pwl_bn2."),
    (r"^stages\.2\.downsample\.", "downsample_layers.2."),  # one stage without the ``.0`` level
    (r"^stages\.(\d+)\.downsample\.", r"downsample_layers.\1.0."),
    (r"^stages\.(3)\.blocks\.(\d+)\.", r"stages.\1.\2."),  # one stage without ``.block``
    (r"^stages\.(\d+)\.blocks\.(\d+)\.", r"stages.\1.\2.block."),
    (r"^head\.head_dist\.", "classifier.classifier_dist."),
    (r"^head\.head\.", "classifier.classifier."),
)


def _to_original(key: str) -> str:
    for pattern, repl in _TO_ORIGINAL:
        key, n = re.subn(pattern, repl, key)
        if n:
            break
    key = key.replace(".module.", ".m.")
    if ".mixer." in key:  # attention blocks' mixers are token+channel mixers in the original
        key = key.replace(".mixer.", ".token_channel_mixer." if ".q." in key else ".channel_mixer.")
    return key


def test_original_checkpoint_layout_loads() -> None:
    model = _randomize(visionzoo.create_model("iformer_t", **TINY, distillation=True))
    sd = model.state_dict()
    original = {"model": {_to_original(k): v for k, v in sd.items()}, "epoch": 3}
    assert not set(original["model"]) & set(sd)
    remapped = iformer.checkpoint_filter_fn(original, model)
    assert remapped.keys() == sd.keys()
    fresh = visionzoo.create_model("iformer_t", **TINY, distillation=True, device="meta")
    load_state_dict_into(fresh, remapped, strict=True)
    with torch.no_grad():
        assert torch.equal(fresh.eval()(_x()), model(_x()))
    assert iformer.checkpoint_filter_fn(sd, model).keys() == sd.keys()  # ours pass unchanged
