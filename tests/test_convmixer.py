"""ConvMixer specifics the registry-wide suites do not reach: one block against a direct
computation, a widening pool and a shallower model against timm."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import assert_pair_matches, materialize_random, paired_classes, timm

import visionzoo
from visionzoo.models.convmixer import ConvMixer

pytestmark = pytest.mark.family

# what the shared suites that compile or export every family build ConvMixer with (sampling.py,
# family_kwargs): four blocks, enough for the getter backbone's last three, instead of 20 or 32
SHARED_KWARGS: dict[str, Any] = {"depth": 4}


def _x(size: int = 64) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(4))


def _bn(x: torch.Tensor, bn: torch.nn.BatchNorm2d) -> torch.Tensor:
    shape = (1, -1, 1, 1)
    scale = bn.weight.view(shape) / torch.sqrt(bn.running_var.view(shape) + bn.eps)
    return (x - bn.running_mean.view(shape)) * scale + bn.bias.view(shape)


def test_block_is_residual_depthwise_then_pointwise() -> None:
    model = materialize_random(visionzoo.create_model("convmixer_768_32", depth=1, device="meta"))
    block = model.blocks[0]
    x = torch.randn(1, 768, 6, 6, generator=torch.Generator().manual_seed(0))
    dw, pw = block[0].fn[0], block[1]
    h = F.conv2d(x, dw.weight, dw.bias, padding=3, groups=768)  # "same" for the 7x7 kernel
    h = _bn(F.relu(h), block[0].fn[2]) + x
    expected = _bn(F.relu(F.conv2d(h, pw.weight, pw.bias)), block[3])
    with torch.no_grad():
        torch.testing.assert_close(block(x), expected)


@pytest.mark.parametrize(("pool", "act"), [("catavgmax", "gelu"), ("max", "relu")])
def test_options_match_timm(pool: str, act: str) -> None:
    # NOTE: timm's entrypoints take no depth / dim overrides; its class does (a small one here)
    shape = dict(dim=32, depth=3, kernel_size=5, patch_size=4, global_pool=pool)
    theirs_act = {"gelu": torch.nn.GELU, "relu": torch.nn.ReLU}[act]
    ours, theirs = paired_classes(
        ConvMixer,
        timm.models.convmixer.ConvMixer,
        **shape,
        act_layer=act,
        theirs_kwargs=dict(shape, act_layer=theirs_act),
    )
    assert ours.head_hidden_size == theirs.head_hidden_size == 32 * (2 if pool == "catavgmax" else 1)
    assert_pair_matches(ours, theirs, _x())
