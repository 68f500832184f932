"""PVT v2's own parts: the authors' checkpoint layout remap (a synthetic checkpoint in that
layout), the depthwise-conv MLP against its formula, gradient checkpointing, and the options no
registered name sets (compared with timm)."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from timm.models import pvt_v2 as timm_pvt_v2
from timm_oracle import assert_pair_matches, paired_classes, rel_err

from visionzoo.models.pvt_v2 import MlpWithDepthwiseConv, PyramidVisionTransformerV2, checkpoint_filter_fn

pytestmark = pytest.mark.family

TINY = dict(depths=(1, 2, 1, 1), embed_dims=(16, 32, 32, 64), num_heads=(1, 2, 2, 4), num_classes=7)


def _original_layout(key: str) -> str:
    """Our key -> the authors' release (whai362/PVT) key."""
    key = re.sub(r"^patch_embed\.", "patch_embed1.", key)
    key = re.sub(r"^stages\.(\d)\.downsample\.", lambda m: f"patch_embed{int(m.group(1)) + 1}.", key)
    key = re.sub(r"^stages\.(\d)\.blocks\.", lambda m: f"block{int(m.group(1)) + 1}.", key)
    key = re.sub(r"^stages\.(\d)\.norm\.", lambda m: f"norm{int(m.group(1)) + 1}.", key)
    return key.replace(".mlp.dwconv.", ".mlp.dwconv.dwconv.")


def test_original_checkpoint_layout_loads():
    torch.manual_seed(0)
    ref = PyramidVisionTransformerV2(**TINY).eval()
    original = {_original_layout(k): v for k, v in ref.state_dict().items()}
    assert "block2.1.mlp.dwconv.dwconv.weight" in original and "patch_embed3.proj.weight" in original
    assert "norm4.weight" in original and not any(k.startswith("stages.") for k in original)
    model = PyramidVisionTransformerV2(**TINY).eval()
    model.load_state_dict(checkpoint_filter_fn(original, model), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(model(x), ref(x))
    ours = ref.state_dict()
    assert checkpoint_filter_fn(ours, model) is ours  # our layout passes unchanged


def test_mlp_is_linear_dwconv_linear():
    torch.manual_seed(1)
    mlp = MlpWithDepthwiseConv(4, 6, extra_relu=True).eval()
    x, (h, w) = torch.randn(2, 12, 4), (3, 4)
    hidden = F.linear(x, mlp.fc1.weight, mlp.fc1.bias).transpose(1, 2).reshape(2, 6, h, w).relu()
    hidden = F.conv2d(hidden, mlp.dwconv.weight, mlp.dwconv.bias, padding=1, groups=6)
    expected = F.linear(F.gelu(hidden.flatten(2).transpose(1, 2)), mlp.fc2.weight, mlp.fc2.bias)
    with torch.no_grad():
        assert rel_err(mlp(x, (h, w)), expected) < 1e-5


def test_grad_checkpointing_gives_the_same_gradients():
    torch.manual_seed(2)
    model = PyramidVisionTransformerV2(**TINY)
    x = torch.randn(2, 3, 64, 64)
    model(x).sum().backward()
    plain = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model.set_grad_checkpointing(True)
    assert all(s.grad_checkpointing for s in model.stages)
    model(x).sum().backward()
    for a, p in zip(plain, model.parameters()):
        torch.testing.assert_close(p.grad, a, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(sr_ratios=2, mlp_ratios=3.0, qkv_bias=False),  # one value for every stage
        dict(linear=True, sr_ratios=(4, 2, 1, 1)),
        dict(depths=(1, 1, 1), embed_dims=(16, 32, 48), num_heads=(1, 2, 3), sr_ratios=(4, 2, 1)),
    ],
)
def test_options_match_timm(kwargs):
    ours, theirs = paired_classes(
        PyramidVisionTransformerV2, timm_pvt_v2.PyramidVisionTransformerV2, **{**TINY, **kwargs}
    )
    assert_pair_matches(ours, theirs, torch.randn(2, 3, 64, 48))


def test_bad_widths_are_refused():
    with pytest.raises(ValueError, match="embed_dims"):
        PyramidVisionTransformerV2(depths=(1, 1), embed_dims=(8, 16, 32))
