"""CSPNeXt specifics the registry-wide suites do not reach.

The SPP bottleneck and the CSP layer against direct computations; the OpenMMLab checkpoint remap;
dilated stages (output_stride) and stochastic depth against timm.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from helpers import random_state_dict, write_safetensors
from timm_oracle import assert_pair_matches, materialize_random, paired, rel_err
from torch import nn

import visionzoo
from visionzoo.models import cspnext

pytestmark = pytest.mark.family


def _x(size: int = 64, chans: int = 3, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, chans, size, size, generator=torch.Generator().manual_seed(3))


def _random(module: nn.Module) -> nn.Module:
    return materialize_random(module.to("meta"), seed=1)


@torch.no_grad()
def test_spp_concatenates_the_map_and_its_pools() -> None:
    spp = _random(cspnext.SPPBottleneck(16, 12))
    x = _x(9, 16)
    y = spp.conv1(x)
    pools = [torch.nn.functional.max_pool2d(y, k, 1, k // 2) for k in (5, 9, 13)]
    assert spp.conv2.in_channels == 8 * 4
    assert rel_err(spp(x), spp.conv2(torch.cat([y, *pools], 1))) < 1e-6


@torch.no_grad()
def test_csp_layer_splits_runs_one_branch_and_fuses() -> None:
    layer = _random(cspnext.CspNextLayer(16, 16, num_blocks=2, channel_attention=True))
    x = _x(8, 16)
    main = layer.main_conv(x)
    for block in layer.blocks:
        main = block.conv2(block.conv1(main)) + main  # residual blocks at equal width
    cat = torch.cat([main, layer.short_conv(x)], 1)
    gate = layer.attention.fc(cat.mean((2, 3), keepdim=True))
    expected = layer.final_conv(cat * torch.nn.functional.hardsigmoid(gate))
    assert rel_err(layer(x), expected) < 1e-5


def test_openmmlab_checkpoint_loads(tmp_path: Path) -> None:
    state = random_state_dict("cspnext_tiny")
    mm = {}
    for k, v in state.items():
        if k.startswith("stages."):
            n, rest = k.removeprefix("stages.").split(".", 1)
            k = f"stage{int(n) + 1}.{rest}"
        mm[f"backbone.{k}"] = v
    assert cspnext.checkpoint_filter_fn({"state_dict": mm}).keys() == state.keys()
    file = write_safetensors(mm, tmp_path / "rtmdet.safetensors")
    model = visionzoo.create_model(
        "cspnext_tiny", pretrained=True, pretrained_cfg_overlay=dict(file=str(file))
    )
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())


@pytest.mark.parametrize("kwargs", [dict(output_stride=8), dict(channel_attention=False, expand_ratio=0.25)])
def test_options_match_timm(kwargs: dict) -> None:
    ours, theirs = paired("cspnext_tiny", **kwargs)
    assert_pair_matches(ours, theirs, _x())


def test_drop_path_skips_the_last_stage() -> None:
    model = visionzoo.create_model("cspnext_s", drop_path_rate=0.2, device="meta")
    rates = [[b.drop_path.drop_prob if hasattr(b.drop_path, "drop_prob") else 0.0 for b in s[-1].blocks]
             for s in model.stages]  # fmt: skip
    assert rates[-1] == [0.0]  # no residuals there
    flat = [r for s in rates[:-1] for r in s]
    assert flat[0] == 0.0 and flat[-1] == pytest.approx(0.2) and flat == sorted(flat)
