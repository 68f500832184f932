"""DLA specifics the registry-wide suites do not reach.

The aggregation root and the Res2Net bottleneck against a direct computation from their weights;
the tree layout (blocks per tree, what each root aggregates); the official checkpoints' unused
projections; the 1x1-conv head's options against timm.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from helpers import random_state_dict, write_safetensors
from timm_oracle import assert_pair_matches, materialize_random, paired, rel_err
from torch import nn

import visionzoo
from visionzoo.models import dla

pytestmark = pytest.mark.family


def _x(size: int = 64, chans: int = 3, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, chans, size, size, generator=torch.Generator().manual_seed(3))


def _bn(x: torch.Tensor, bn: nn.BatchNorm2d) -> torch.Tensor:
    shape = (1, -1, 1, 1)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return (x - bn.running_mean.view(shape)) * scale.view(shape) + bn.bias.view(shape)


def _random(module: nn.Module) -> nn.Module:
    return materialize_random(module.to("meta"), seed=1)


@pytest.mark.parametrize("shortcut", [False, True])
@torch.no_grad()
def test_root_aggregates_its_children(shortcut: bool) -> None:
    root = _random(dla.DlaRoot(24, 8, 1, shortcut))
    children = [_x(8, 8), _x(8, 16)]
    expected = _bn(F.conv2d(torch.cat(children, 1), root.conv.weight), root.bn)
    if shortcut:
        expected = expected + children[0]
    assert rel_err(root(children), expected.relu()) < 1e-5


@pytest.mark.parametrize("stride", [1, 2])
@torch.no_grad()
def test_res2net_bottleneck_is_its_hierarchical_formula(stride: int) -> None:
    block = _random(dla.DlaBottle2neck(32, 32, stride, scale=4, cardinality=1, base_width=16))
    width = block.width
    assert width == 32 * 16 // 64 // 2 and len(block.convs) == 3
    x = _x(8, 32)
    shortcut = _x(8 // stride, 32) if stride > 1 else x
    groups = _bn(F.conv2d(x, block.conv1.weight), block.bn1).relu().split(width, 1)
    outs, prev = [], None
    for i in range(3):
        # y_i = K_i(x_i + y_{i-1}); a strided block convolves each group alone
        inp = groups[i] if prev is None or stride > 1 else groups[i] + prev
        prev = _bn(F.conv2d(inp, block.convs[i].weight, stride=stride, padding=1), block.bns[i]).relu()
        outs.append(prev)
    outs.append(F.avg_pool2d(groups[3], 3, stride, 1) if stride > 1 else groups[3])
    expected = (_bn(F.conv2d(torch.cat(outs, 1), block.conv3.weight), block.bn3) + shortcut).relu()
    assert rel_err(block(x, shortcut if stride > 1 else None), expected) < 1e-5


def _leaf_blocks(tree: nn.Module) -> int:
    if isinstance(tree, dla.DlaTree):
        return _leaf_blocks(tree.tree1) + _leaf_blocks(tree.tree2)
    return 1


def test_tree_depths_and_root_widths_follow_the_definition() -> None:
    model = visionzoo.create_model("dla34", device="meta")
    levels, channels = (1, 1, 1, 2, 2, 1), (16, 32, 64, 128, 256, 512)
    for i in range(2, 6):
        tree = model.get_submodule(f"level{i}")
        assert _leaf_blocks(tree) == 2 ** levels[i]
    # level3 (depth 2, level root): the last root sees its two blocks, the first subtree's
    # output and the downsampled input: 2 * 128 + 128 + 64 channels
    assert model.level3.tree2.root.conv.in_channels == 2 * 128 + 128 + 64
    # level2 (depth 1, no level root): its two blocks only
    assert model.level2.root.conv.in_channels == 2 * channels[2]
    # only leaf trees that change width project the residual
    assert isinstance(model.level3.project, nn.Identity)
    assert isinstance(model.level3.tree1.project, nn.Sequential)
    assert isinstance(model.level3.tree2.project, nn.Identity)


def test_official_checkpoint_projections_are_dropped(tmp_path: Path) -> None:
    state = random_state_dict("dla34")
    # the official checkpoints carry a projection in every tree that changes width
    official = dict(state)
    official["level3.project.0.weight"] = torch.randn(128, 64, 1, 1)
    for name in ("weight", "bias", "running_mean", "running_var"):
        official[f"level3.project.1.{name}"] = torch.randn(128)
    file = write_safetensors(official, tmp_path / "official.safetensors")
    model = visionzoo.create_model("dla34", pretrained=True, pretrained_cfg_overlay=dict(file=str(file)))
    loaded = model.state_dict()
    assert loaded.keys() == state.keys()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("dla46x_c", dict(global_pool="catavgmax", num_classes=7)),
        ("dla60_res2next", dict(global_pool="max", num_classes=0)),
    ],
)
def test_head_options_match_timm(name: str, kwargs: dict) -> None:
    ours, theirs = paired(name, **kwargs)
    assert_pair_matches(ours, theirs, _x())


def test_reset_classifier_to_a_flat_conv_head_matches_timm() -> None:
    ours, theirs = paired("dla34")
    for model in (ours, theirs):
        model.reset_classifier(5, "")
    assert isinstance(ours.fc, nn.Conv2d) and isinstance(ours.flatten, nn.Identity)
    ours.fc.load_state_dict(theirs.fc.state_dict())
    with torch.no_grad():
        out = ours(_x())
        assert out.shape == (2, 5, 2, 2)  # no pooling: a per-position 1x1-conv classifier
        assert rel_err(out, theirs(_x())) < 1e-4


def test_bad_dla_args() -> None:
    with pytest.raises(ValueError, match="32, 16 or 8, got 4"):
        visionzoo.create_model("dla34", output_stride=4, device="meta")
    with pytest.raises(ValueError, match="6 entries"):
        visionzoo.create_model("dla34", levels=(1, 1, 1), device="meta")
