"""Pruned models: layers resized to the shipped shape specs."""

from __future__ import annotations

from importlib import resources

import pytest
import torch
from torch import nn

import visionzoo
from visionzoo.prune import adapt_model_from_string, parse_prune_spec

pytestmark = pytest.mark.contract


@pytest.mark.parametrize("name", ["ecaresnet50d_pruned", "ecaresnet101d_pruned"])
def test_pruned_shapes_follow_the_spec(name: str) -> None:
    spec = parse_prune_spec(resources.files("visionzoo._data").joinpath(f"{name}.txt").read_text())
    model = visionzoo.create_model(name).eval()
    state = model.state_dict()
    extra = {k for k in spec if k not in state}
    assert all(k.endswith("_M.weight") for k in extra), extra  # the spec's own bookkeeping rows
    for key, shape in spec.items():
        if key not in extra:
            assert list(state[key].shape) == shape, key
    assert model.num_features == spec["fc.weight"][1]
    with torch.no_grad():
        feats = model.forward_intermediates(torch.randn(1, 3, 64, 64), intermediates_only=True)
    assert [f.shape[1] for f in feats] == [i["num_chs"] for i in model.feature_info]
    unpruned = sum(p.numel() for p in visionzoo.create_model(name.removesuffix("_pruned")).parameters())
    assert sum(p.numel() for p in model.parameters()) < 0.8 * unpruned


def test_pruned_model_keeps_in_chans_and_num_classes() -> None:
    model = visionzoo.create_model("ecaresnet50d_pruned", in_chans=1, num_classes=3).eval()
    assert model.conv1[0].in_channels == 1
    with torch.no_grad():
        assert model(torch.randn(2, 1, 64, 64)).shape == (2, 3)


def test_adapt_model_from_string_on_a_small_net() -> None:
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.Conv2d(8, 8, 3, groups=8), nn.Conv2d(8, 4, 1)
    )
    spec = "0.weight:[5, 3, 3, 3]***1.weight:[5]***2.weight:[5, 1, 3, 3]***3.weight:[4, 5, 1, 1]"
    adapt_model_from_string(net, spec)
    assert net[0].out_channels == 5 and net[1].num_features == 5 and net[2].groups == 5
    assert net(torch.randn(1, 3, 9, 9)).shape == (1, 4, 5, 5)


def test_bad_specs() -> None:
    with pytest.raises(ValueError, match="malformed pruning spec entry"):
        parse_prune_spec("conv.weight=[1, 2]")
    with pytest.raises(KeyError, match=r"no shape for 1\.weight"):
        adapt_model_from_string(
            nn.Sequential(nn.Conv2d(3, 4, 1), nn.Conv2d(4, 4, 1)), "0.weight:[2, 3, 1, 1]"
        )
    with pytest.raises(FileNotFoundError, match="no pruning spec for 'resnet50'"):
        visionzoo.adapt_model_from_file(visionzoo.create_model("resnet50"), "resnet50")
