"""MobileNet-V5 specifics the registry-wide suites do not reach: the multi-scale fusion's resize
rules against direct computations, the pooled head-conv variant (``use_msfa=False``) and pruning
against timm, and the Gemma checkpoint unwrap."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import assert_pair_matches, paired_classes, rel_err

import visionzoo
from visionzoo.models._efficientnet_builder import decode_arch_def
from visionzoo.models.mobilenetv5 import (
    MobileNetV5,
    MobileNetV5Encoder,
    checkpoint_filter_fn,
    fuse_scales,
    to_resolution,
)

pytestmark = pytest.mark.family

# every block kind of the family (er, uir with start / mid dw convs and pointwise FFNs, mqa with
# strided keys / values and a strided mqa), at a fraction of the width and depth
_TINY_ARCH = [
    ["er_r1_k3_s2_e4_c16"],
    ["uir_r1_a3_k5_s2_e6_c24", "uir_r1_a5_k0_s1_e4_c24"],
    ["uir_r1_a5_k5_s2_e6_c32", "uir_r1_a0_k0_s1_e1_c32", "mqa_r1_k3_h2_s2_d16_c32", "uir_r1_a0_k0_s1_e2_c32"],
    ["uir_r1_a5_k5_s2_e6_c48", "mqa_r1_k3_h2_v2_s1_d16_c48", "uir_r1_a0_k0_s1_e2_c48"],
]
SAMPLED_KWARGS: dict[str, Any] = {"block_args": decode_arch_def(_TINY_ARCH), "stem_size": 16}


def _x(chans: int = 3, size: int = 64, batch: int = 2, seed: int = 3) -> torch.Tensor:
    return torch.randn(batch, chans, size, size, generator=torch.Generator().manual_seed(seed))


def test_fuse_scales_upsamples_to_the_first() -> None:
    a, b = _x(2, 4), _x(3, 2, seed=4)
    out = fuse_scales([a, b], "nearest")
    assert out.shape == (2, 5, 4, 4)
    assert torch.equal(out[:, :2], a)
    assert torch.equal(out[:, 2:, 2 * 1 + 1, 2 * 0], b[:, :, 1, 0])  # nearest: each pixel a 2x2 block


def test_to_resolution_pools_or_resizes() -> None:
    x = _x(3, 8)
    assert to_resolution(x, 8, 8) is x
    pooled = to_resolution(x, 4, 2)
    assert rel_err(pooled[:, :, 1, 1], x[:, :, 2:4, 4:8].mean((2, 3))) < 1e-6
    assert rel_err(to_resolution(x, 3, 3), F.interpolate(x, size=(3, 3), mode="bilinear")) < 1e-6


def _pair(**kwargs: Any):
    from timm.models._efficientnet_builder import decode_arch_def as timm_decode
    from timm.models.mobilenetv5 import MobileNetV5 as TimmMobileNetV5

    base = dict(stem_size=16, num_classes=5, layer_scale_init_value=1e-5, **kwargs)
    return paired_classes(
        MobileNetV5,
        TimmMobileNetV5,
        theirs_kwargs=dict(base, block_args=timm_decode(_TINY_ARCH)),
        block_args=decode_arch_def(_TINY_ARCH),
        **base,
    )


@pytest.mark.parametrize(
    "kwargs",
    [dict(use_msfa=False, num_features=64), dict(msfa_indices=(-3, -1), msfa_output_resolution=2)],
    ids=["head_conv", "msfa_levels"],
)
def test_options_match_timm(kwargs: dict) -> None:
    ours, theirs = _pair(**kwargs)
    assert_pair_matches(ours, theirs, _x())


@pytest.mark.parametrize("use_msfa", [True, False])
def test_pruned_like_timm(use_msfa: bool) -> None:
    ours, theirs = _pair(use_msfa=use_msfa, num_features=64)
    x = _x()
    assert theirs.prune_intermediate_layers([2]) == ours.prune_intermediate_layers([2])
    assert list(ours.state_dict()) == list(theirs.state_dict())
    with torch.no_grad():
        assert rel_err(ours.forward_features(x), theirs.forward_features(x)) < 1e-5
        assert rel_err(ours(x), theirs(x)) < 1e-5


def test_encoder_refuses_a_classifier_by_name() -> None:
    """timm drops ``num_classes`` for the headless encoder; ours refuses it and says what to use."""
    with pytest.raises(
        ValueError, match=r"num_classes=7: .* no classifier.* mobilenetv5_300m \(MobileNetV5\)"
    ):
        visionzoo.create_model("mobilenetv5_300m_enc", num_classes=7, device="meta")
    model = visionzoo.create_model("mobilenetv5_300m_enc", num_classes=0, device="meta")
    assert not model.has_classifier and model.num_classes == 0
    assert not [k for k in model.state_dict() if k.startswith("classifier")]
    model.reset_classifier(0)
    with pytest.raises(ValueError, match="num_classes=2"):
        model.reset_classifier(2)


def test_tiny_encoder_matches_timm() -> None:
    """The encoder class (``pad_type='same'``, as registered) at a fraction of the size: its
    forward is the fused features, as timm's."""
    from timm.models._efficientnet_builder import decode_arch_def as timm_decode
    from timm.models.mobilenetv5 import MobileNetV5Encoder as TimmEncoder

    base: dict[str, Any] = dict(stem_size=16, pad_type="same", layer_scale_init_value=1e-5)
    ours, theirs = paired_classes(
        MobileNetV5Encoder,
        TimmEncoder,
        theirs_kwargs=dict(base, block_args=timm_decode(_TINY_ARCH)),
        block_args=decode_arch_def(_TINY_ARCH),
        **base,
    )
    x = _x()
    with torch.no_grad():
        out = ours(x)
        assert out.shape == (2, 2048, 16, 16)
        assert torch.equal(out, ours.forward_features(x))
        assert rel_err(out, theirs(x)) < 1e-5


def test_gemma_checkpoint_unwrap() -> None:
    sd = {"conv_stem.conv.weight": torch.zeros(1)}
    assert checkpoint_filter_fn(sd, None) is sd
    gemma = {"model.vision_tower.timm_model." + k: v for k, v in sd.items()}
    gemma["model.language_model.embed.weight"] = torch.zeros(2)
    assert checkpoint_filter_fn({"model": gemma}, None).keys() == sd.keys()
