"""VGG specifics: the convolutional pre-logits MLP, torchvision's linear-layer checkpoints, the
six feature levels (the first at stride 1) and pruning, which takes the MLP with the head.

The MLP is shrunk (``mlp_ratio``) so the 25088 x 4096 first layer does not dominate the run time.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm_oracle import assert_pair_matches, materialize_random, paired, rel_err
from torch import nn

import visionzoo
from visionzoo.models import vgg

pytestmark = pytest.mark.family

# the sampled tests build VGG with a 512-wide pre-logits conv (at mlp_ratio 1 it is 4096 wide:
# 100 M of VGG-11's 133 M parameters)
SAMPLED_KWARGS: dict[str, Any] = {"mlp_ratio": 0.125}

SMALL = dict(mlp_ratio=1 / 128)  # 32 hidden channels in the pre-logits MLP


def _x(size: int = 64) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(3))


def test_conv_mlp_is_the_two_linear_layers_on_each_window() -> None:
    """On a 7x7 map the MLP is relu(W2 relu(W1 flatten(x) + b1) + b2), as torchvision's linears."""
    torch.manual_seed(0)
    mlp = vgg.ConvMlp(4, 6, kernel_size=7, mlp_ratio=0.5, drop_rate=0.0).eval()
    x = torch.randn(2, 4, 7, 7)
    w1, b1 = mlp.fc1.weight.reshape(3, -1), mlp.fc1.bias
    w2, b2 = mlp.fc2.weight.reshape(6, 3), mlp.fc2.bias
    want = torch.relu(torch.relu(x.flatten(1) @ w1.T + b1) @ w2.T + b2)
    with torch.no_grad():
        got = mlp(x)
    assert got.shape == (2, 6, 1, 1)
    torch.testing.assert_close(got.flatten(1), want)


def test_conv_mlp_resizes_a_small_map_up_to_its_kernel() -> None:
    torch.manual_seed(0)
    mlp = vgg.ConvMlp(2, 4, kernel_size=7, drop_rate=0.0).eval()
    x = torch.randn(1, 2, 2, 9)  # short side below the kernel, long side above
    with torch.no_grad():
        got = mlp(x)
        want = mlp(nn.functional.adaptive_avg_pool2d(x, (7, 9)))
    assert got.shape == (1, 4, 1, 3)
    assert torch.equal(got, want)


@pytest.mark.parametrize("name", ["vgg11", "vgg13_bn"])
def test_vgg_matches_timm_with_a_small_input_and_other_head(name: str) -> None:
    ours, theirs = paired(name, global_pool="max", num_classes=7, **SMALL)
    assert_pair_matches(ours, theirs, _x(48))


def test_feature_levels_are_read_before_each_pool() -> None:
    model = materialize_random(visionzoo.create_model("vgg11_bn", device="meta", **SMALL)).eval()
    assert [f["reduction"] for f in model.feature_info] == [1, 2, 4, 8, 16, 32]
    assert [f["num_chs"] for f in model.feature_info] == [64, 128, 256, 512, 512, 512]
    assert all(isinstance(model.get_submodule(f["module"]), nn.ReLU) for f in model.feature_info[:-1])
    assert isinstance(model.get_submodule(model.feature_info[-1]["module"]), nn.MaxPool2d)
    with torch.no_grad():
        final, levels = model.forward_intermediates(_x())
        # each later level is the earlier one max-pooled then convolved: the pool sits between
        assert [t.shape[-1] for t in levels] == [64, 32, 16, 8, 4, 2]
        assert torch.equal(levels[-1], nn.functional.max_pool2d(levels[-2], 2))
        assert torch.equal(final, levels[-1])
    backbone = visionzoo.create_model("vgg11_bn", features_only=True, device="meta", **SMALL)
    assert backbone.feature_info.channels() == [64, 128, 256, 512, 512, 512]


def test_torchvision_linear_checkpoint_loads() -> None:
    model = materialize_random(visionzoo.create_model("vgg11", device="meta", **SMALL))
    ours = model.state_dict()
    tv = {k: v for k, v in ours.items() if not k.startswith(("pre_logits", "head"))}
    tv["classifier.0.weight"] = ours["pre_logits.fc1.weight"].flatten(1)
    tv["classifier.0.bias"] = ours["pre_logits.fc1.bias"]
    tv["classifier.3.weight"] = ours["pre_logits.fc2.weight"].flatten(1)
    tv["classifier.3.bias"] = ours["pre_logits.fc2.bias"]
    tv["classifier.6.weight"] = ours["head.fc.weight"]
    tv["classifier.6.bias"] = ours["head.fc.bias"]
    remapped = vgg.checkpoint_filter_fn(tv, model)
    assert remapped.keys() == ours.keys()
    assert all(torch.equal(remapped[k], v) for k, v in ours.items())


def test_pruning_drops_the_pre_logits_with_the_head() -> None:
    model = materialize_random(visionzoo.create_model("vgg11", device="meta", **SMALL)).eval()
    with torch.no_grad():
        expected = model.forward_intermediates(_x(), indices=(1, 3), intermediates_only=True)
        assert model.prune_intermediate_layers((1, 3)) == [1, 3]
        got = model.forward_intermediates(_x(), indices=(1, 3), intermediates_only=True)
        assert torch.equal(model(_x()), got[-1])
    assert isinstance(model.pre_logits, nn.Identity)
    assert model.num_features == model.head_hidden_size == 512 and model.num_classes == 0
    for a, b in zip(got, expected):
        assert torch.equal(a, b)
    ours, theirs = paired("vgg11", **SMALL)
    ours.prune_intermediate_layers(5, prune_head=True)
    theirs.prune_intermediate_layers(5, prune_head=True)
    assert ours.head_hidden_size == theirs.head_hidden_size == 512
    with torch.no_grad():
        assert rel_err(ours(_x()), theirs(_x())) < 1e-5


def test_bad_vgg_args() -> None:
    with pytest.raises(ValueError, match="output_stride=32 only"):
        visionzoo.create_model("vgg11", output_stride=16, device="meta")
    with pytest.raises(ValueError, match="cfg must be"):
        vgg.VGG(cfg=(64, "P"))
