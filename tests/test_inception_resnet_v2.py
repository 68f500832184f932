"""Inception-ResNet-v2 specifics: the scaled residual sum of the Inception blocks (the last one
unactivated), timm's layer-decay groups (a function in timm, regexes here) and the deprecated
``ens_adv_inception_resnet_v2`` name."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from helpers import parameter_groups
from timm_oracle import timm_on_meta

import visionzoo
from visionzoo.models import inception_resnet_v2 as irv2
from visionzoo.models import inception_v3

pytestmark = pytest.mark.family


def _block(cls: type, chs: int, **kwargs: object) -> torch.nn.Module:
    torch.manual_seed(0)
    return cls(conv_block=inception_v3.basic_conv_block(), **kwargs).eval()


@pytest.mark.parametrize(
    ("cls", "chs", "kwargs", "relu"),
    [
        (irv2.Block35, 320, dict(scale=0.17), True),
        (irv2.Block17, 1088, dict(scale=0.1), True),
        (irv2.Block8, 2080, dict(scale=0.2), True),
        (irv2.Block8, 2080, dict(no_relu=True), False),
    ],
)
def test_residual_block_is_the_scaled_projection_added_to_the_input(
    cls: type, chs: int, kwargs: dict, relu: bool
) -> None:
    block = _block(cls, chs, **kwargs)
    x = torch.randn(1, chs, 4, 4)
    branches = [m for n, m in block.named_children() if n.startswith("branch")]
    with torch.no_grad():
        mixed = torch.cat([b(x) for b in branches], 1)
        out = F.conv2d(mixed, block.conv2d.weight, block.conv2d.bias) * block.scale + x
        want = F.relu(out) if relu else out
        torch.testing.assert_close(block(x), want)
    assert block.scale == kwargs.get("scale", 1.0)


def test_layer_decay_groups_are_timms() -> None:
    ours = visionzoo.create_model("inception_resnet_v2", device="meta")
    theirs = timm_on_meta("inception_resnet_v2")
    groups = parameter_groups(ours, ours.group_matcher())
    assert groups[:-1] == parameter_groups(theirs, theirs.group_matcher())[:-1]
    assert len(groups) == 2 + 1 + 10 + 1 + 20 + 1 + 9 + 1 + 1  # stem x2, blocks, tail, head
    assert groups[-2][0].startswith("block8.") and groups[-2][-1].startswith("conv2d_7b.")


def test_deprecated_name_gives_the_adversarial_weights_cfg() -> None:
    model = visionzoo.create_model("ens_adv_inception_resnet_v2", device="meta")
    assert model.pretrained_cfg.tag == "tf_ens_adv_in1k"
    assert visionzoo.models.get_deprecated_models("inception_resnet_v2") == {
        "ens_adv_inception_resnet_v2": "inception_resnet_v2.tf_ens_adv_in1k"
    }
