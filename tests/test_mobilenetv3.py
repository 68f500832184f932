"""MobileNetV3 / V4's own parts: parity with timm for the block types and options the family sample
(tests/sampling.py) does not reach, expansion-level features, the checkpoint layouts timm's
builder accepts, and the head that follows the pooling.

The block-string decoder and TF "same" padding it shares with EfficientNet: test_efficientnet.py.
Generic behaviour (the sampled names' outputs, configs, features, pruning...) is the shared suites'.
"""

from __future__ import annotations

import pytest
import torch
from timm_oracle import assert_backbone_checkpoints_match_timm, paired, rel_err
from torch import nn

import visionzoo
from visionzoo.models.mobilenetv3 import MobileNetV3

pytestmark = pytest.mark.family

TOL = 1e-4

# one small model per block type the family sample lacks (mobilenetv3_small_050 and the smallest
# MobileNetV4s are compared by test_parity.py), at odd and even sides
PARITY = [
    "mobilenetv4_conv_small",  # cn + uir (ExtraDW / IR / ConvNeXt-like), head norm
    "mobilenetv4_hybrid_medium",  # multi-query attention with strided keys / values, layer scale
]


@pytest.mark.parametrize("name", PARITY)
def test_outputs_match_timm(name: str) -> None:
    ours, theirs = paired(name)
    x = torch.randn(2, 3, 67, 66)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < TOL


def test_expansion_features_match_timm() -> None:
    """``feature_location='expansion'`` taps the expanded width inside each stage's last block."""
    ours, theirs = paired("mobilenetv3_large_100", features_only=True, feature_location="expansion")
    assert ours.feature_info.channels() == theirs.feature_info.channels()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(ours(x), theirs(x), strict=True):
            assert rel_err(a, b) < TOL


def test_timm_checkpoints_load_into_backbones(tmp_path: object) -> None:
    """A full timm checkpoint builds our features_only model (the head is left out); a file saved
    from timm's features_only model (MobileNetV3Features: no head) loads into ours strictly and
    gives the same features."""
    assert_backbone_checkpoints_match_timm("mobilenetv4_conv_small", tmp_path)


def test_mobilenetv3_head_follows_pooling() -> None:
    """The head conv is sized for the pooled width: keeping the pooling keeps it, a wider
    pooling replaces the head."""
    model = MobileNetV3(visionzoo.models.mobilenetv3._SMALL, num_features=64).eval()
    x = torch.randn(2, 3, 64, 64)
    model.reset_classifier(5)
    assert model.conv_head.in_channels == model.num_features and model(x).shape == (2, 5)
    model.reset_classifier(3, "catavgmax")
    assert isinstance(model.conv_head, nn.Identity) and model.head_hidden_size == 2 * model.num_features
    assert model(x).shape == (2, 3)
    with pytest.raises(ValueError, match="num_classes must be an int >= 0, got -1"):
        model.reset_classifier(-1)


# --- timm's MobileNetV3Features (issue 25) --------------------------------------------------------
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"out_indices": (1, 3), "output_stride": 16},
        {"feature_location": "expansion", "out_indices": (2, 4)},
    ],
    ids=["default", "os16", "expansion"],
)
def test_mobilenetv3_features_class_is_timms(kw: dict[str, object]) -> None:
    """Built from block args as timm's class is: timm's keys, feature info and feature maps."""
    from timm.models._efficientnet_builder import decode_arch_def as timm_decode
    from timm.models.mobilenetv3 import MobileNetV3Features as TimmFeatures

    from visionzoo.models.mobilenetv3 import MobileNetV3Features

    arch = [["ds_r1_k3_s1_e1_c16_nre"], ["ir_r2_k3_s2_e4_c24_nre"], ["ir_r1_k5_s2_e3_c40_se0.25_nre"]]
    arch += [["ir_r2_k3_s2_e6_c80"], ["ir_r1_k3_s2_e6_c112_se0.25"], ["cn_r1_k1_s1_c96"]]
    theirs = TimmFeatures(timm_decode(arch), act_layer=nn.Hardswish, **kw).eval()
    ours = MobileNetV3Features(arch, act_layer=nn.Hardswish, **kw).eval()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    assert ours.feature_info.channels() == theirs.feature_info.channels()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(ours(x), theirs(x), strict=True):
            assert torch.equal(a, b)
