"""MambaOut specifics the registry-wide suites do not reach: the gated conv block against a
direct computation, the two heads' options and resets against timm, the original checkpoint
layout."""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import assert_pair_matches, paired, timm

from visionzoo.models import mambaout as mo

pytestmark = pytest.mark.family


def _x(size: int = 64) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(8))


def test_gated_conv_block_formula() -> None:
    block = mo.GatedConvBlock(8, expansion_ratio=1.5, kernel_size=3, conv_ratio=0.5).eval()
    x = torch.randn(1, 5, 5, 8, generator=torch.Generator().manual_seed(0))  # channels-last
    with torch.no_grad():
        h = block.fc1(F.layer_norm(x, (8,), block.norm.weight, block.norm.bias, 1e-6))
        g, value = h[..., :12], h[..., 12:]  # hidden 12: the gate, then the value
        c = value[..., 8:].permute(0, 3, 1, 2)  # its last conv_ratio * dim = 4 channels
        c = F.conv2d(c, block.conv.weight, block.conv.bias, padding=1, groups=4).permute(0, 2, 3, 1)
        expected = block.fc2(F.gelu(g) * torch.cat((value[..., :8], c), dim=-1)) + x
        torch.testing.assert_close(block(x), expected)


@pytest.mark.parametrize(
    ("name", "kwargs"), [("test_mambaout", dict(global_pool="max")), ("mambaout_femto", dict(global_pool=""))]
)
def test_head_options_match_timm(name: str, kwargs: dict) -> None:
    ours, theirs = paired(name, **kwargs)
    x = _x()
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-4, atol=1e-4)
        _, a = ours.forward_intermediates(x)
        _, b = theirs.forward_intermediates(x)
    assert all(torch.allclose(p, q, rtol=1e-4, atol=1e-5) for p, q in zip(a, b))


@pytest.mark.parametrize("name", ["test_mambaout", "mambaout_femto"])
def test_reset_other_matches_timm(name: str) -> None:
    ours, theirs = paired(name)
    for model in (ours, theirs):
        model.reset_classifier(4, reset_other=True)
    ours.head.fc.load_state_dict(theirs.head.fc.state_dict())
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    assert_pair_matches(ours, theirs, _x())


def _to_original_layout(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm keys -> the yuweihao/MambaOut release layout, written out by hand."""
    out = {}
    for k, v in sd.items():
        k = re.sub(r"^stem\.", "downsample_layers.0.", k)
        k = re.sub(r"^stages\.(\d+)\.downsample\.", r"downsample_layers.\1.", k)
        k = re.sub(r"^stages\.(\d+)\.blocks\.(\d+)\.", r"stages.\1.\2.", k)
        k = re.sub(r"^head\.norm\.", "norm.", k)
        k = re.sub(r"^head\.pre_logits\.fc\.", "head.fc1.", k)
        k = re.sub(r"^head\.pre_logits\.norm\.", "head.norm.", k)
        k = re.sub(r"^head\.fc\.", "head.fc2.", k)
        out[k] = v
    return out


def test_original_checkpoint_remaps_as_timm() -> None:
    ours, theirs = paired("mambaout_femto")
    original = {"model": _to_original_layout(theirs.state_dict())}
    mine = mo.checkpoint_filter_fn(dict(original), ours)
    ref = timm.models.mambaout.checkpoint_filter_fn(dict(original), theirs)
    assert list(mine) == list(ref)
    ours.load_state_dict(mine, strict=True)
    for key in ref:
        assert torch.equal(mine[key], ref[key])
