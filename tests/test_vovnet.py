"""VoVNet specifics the registry-wide suites do not reach.

The effective SE and the one-shot aggregation against direct computations; the stem level (read
before the last stem conv) when pruning, against timm; the dilated stages of output_stride 16 / 8
(timm's VovNet takes 32 only) against the strided model.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import materialize_random, paired, rel_err
from torch import nn

import visionzoo
from visionzoo.layers import EffectiveSEModule
from visionzoo.models import vovnet

pytestmark = pytest.mark.family


def _x(size: int = 64, chans: int = 3, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, chans, size, size, generator=torch.Generator().manual_seed(3))


def _random(module: nn.Module) -> nn.Module:
    return materialize_random(module.to("meta"), seed=1)


@torch.no_grad()
def test_effective_se_is_one_full_width_gate() -> None:
    se = _random(EffectiveSEModule(16))
    x = _x(8, 16)
    s = F.conv2d(x.mean((2, 3), keepdim=True), se.fc.weight, se.fc.bias)
    assert rel_err(se(x), x * (s + 3).clamp(0, 6) / 6) < 1e-6
    assert se.fc.weight.shape == (16, 16, 1, 1)  # no reduction


@torch.no_grad()
def test_osa_block_concatenates_its_input_and_every_conv_output_once() -> None:
    block = _random(vovnet.OsaBlock(8, 4, 12, 3, residual=False))
    x = _x(8, 8)
    outs, y = [x], x
    for conv in block.conv_mid:
        y = conv(y)
        outs.append(y)
    assert block.conv_concat.in_channels == 8 + 3 * 4
    assert rel_err(block(x), block.conv_concat(torch.cat(outs, 1))) < 1e-6


@pytest.mark.parametrize(("indices", "prune_head"), [([0], True), ([0], False), ([1, 2], True), (2, False)])
def test_pruning_matches_timm(indices: Any, prune_head: bool) -> None:
    ours, theirs = paired("ese_vovnet19b_slim_dw")
    kw = dict(prune_head=prune_head)
    kept = ours.prune_intermediate_layers(indices, **kw)
    assert kept == theirs.prune_intermediate_layers(indices, **kw)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    with torch.no_grad():
        x = _x()
        assert rel_err(ours(x), theirs(x)) < 1e-4
        ours_i, theirs_i = ours.forward_intermediates(x, kept)[1], theirs.forward_intermediates(x, kept)[1]
        assert len(ours_i) == len(theirs_i)
        assert all(rel_err(a, b) < 1e-4 for a, b in zip(ours_i, theirs_i))


@pytest.mark.parametrize("output_stride", [16, 8])
def test_dilated_stages_keep_the_weights_and_resolution(output_stride: int) -> None:
    ref = visionzoo.create_model("ese_vovnet19b_slim", num_classes=0)
    model = visionzoo.create_model("ese_vovnet19b_slim", num_classes=0, output_stride=output_stride)
    model.load_state_dict(ref.state_dict())  # the same parameters, strict
    pooled = [s.pool is not None for s in model.stages]
    assert pooled == ([False, True, True, False] if output_stride == 16 else [False, True, False, False])
    dilations = [max(m.dilation[0] for m in s.modules() if isinstance(m, nn.Conv2d)) for s in model.stages]
    assert dilations == ([1, 1, 1, 2] if output_stride == 16 else [1, 1, 2, 4])
    with torch.no_grad():
        assert model.forward_features(_x()).shape[-1] == 64 // output_stride


def test_bad_vovnet_args() -> None:
    with pytest.raises(ValueError, match="32, 16 or 8, got 4"):
        visionzoo.create_model("vovnet39a", output_stride=4, device="meta")
    with pytest.raises(ValueError, match="cannot be residual"):
        vovnet.OsaBlock(8, 4, 12, 3, residual=True, depthwise=True)
