"""CPUBone specifics the registry-wide suites do not reach (its convolutional attention is tested
in test_strided_conv_attn.py): the original checkpoint layout with the conv
biases folded into the norms, and options no registered name sets against timm."""

from __future__ import annotations

import pytest
import torch
from timm_oracle import materialize_random, paired_classes, rel_err

from visionzoo.models.cpubone import ConvLayer, CPUBone, checkpoint_filter_fn

pytestmark = pytest.mark.family

TINY = dict(width_list=(8, 16, 24, 64, 128), depth_list=(1, 1, 1, 1, 2), head_widths=(32, 48), num_classes=10)


def _x(size: int = 64, chans: int = 3, seed: int = 3) -> torch.Tensor:
    return torch.randn(2, chans, size, size, generator=torch.Generator().manual_seed(seed))


def test_two_by_two_conv_pads_top_left_at_stride_one() -> None:
    layer = ConvLayer(1, 1, 2, 1, norm_layer=None, act_layer=None)
    weight = layer.conv[1].weight
    x = _x(5, 1)
    with torch.no_grad():
        padded = torch.zeros(2, 1, 6, 6)
        padded[:, :, 1:, 1:] = x
        # output (i, j) sees input rows i-1..i and columns j-1..j
        expected = sum(
            weight[0, 0, a, b] * padded[:, :, a : a + 5, b : b + 5] for a in range(2) for b in range(2)
        )
        assert rel_err(layer(x), expected) < 1e-6


def _legacy(key: str) -> str:
    """Our key in the original repository's layout (``backbone``, ``op_list``, wrapped convs)."""
    for ours, theirs in (
        (".conv_proj.conv.", ".conv_proj.0."),
        (".conv_proj.norm.", ".conv_proj.1."),
        (".pwise.", ".pwise.0."),
        ("head.in_conv.", "head.op_list.0."),
        ("head.pre_classifier.", "head.op_list.2."),
        ("head.classifier.", "head.op_list.3."),
    ):
        key = key.replace(ours, theirs)
    parts = key.split(".")
    if parts[0] == "stem":
        return ".".join(["backbone.input_stem.op_list", *parts[1:]])
    if parts[0] == "stages":
        return ".".join(["backbone.stages", parts[1], "op_list", *parts[2:]])
    return key


def test_original_checkpoint_remap_folds_conv_biases_into_the_norms() -> None:
    model = materialize_random(CPUBone(**TINY, local_mbconv_norm="all").to("meta"))
    ours = model.state_dict()
    legacy = {_legacy(k): v for k, v in ours.items()}
    assert "backbone.stages.2.op_list.1.total.1.main.depth_conv.norm.running_mean" in legacy
    # the original's normed local convs keep a bias, absorbed here by the norm's running mean
    normed = [
        k for k in ours if k.endswith((".inverted_conv.norm.running_mean", ".depth_conv.norm.running_mean"))
    ]
    assert normed
    gen = torch.Generator().manual_seed(0)
    for key in normed:
        bias = torch.randn(ours[key].shape, generator=gen)
        conv = _legacy(key.replace(".norm.running_mean", ".conv.bias"))
        legacy[conv] = bias
        legacy[_legacy(key)] = ours[key] + bias
    remapped = checkpoint_filter_fn(legacy, model)
    assert remapped.keys() == ours.keys()
    for key in ours:
        assert torch.allclose(remapped[key], ours[key], atol=1e-6), key
    assert checkpoint_filter_fn(ours, model) is ours  # already in our layout


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(attn_upsample="transpose", fused_conv=True, small_kernels=False),
        dict(attn_upsample="transpose", local_mbconv_norm="depth_proj", expand_groups=2),
        dict(fused_downsample=True, small_kernels=True, attn_upsample="nearest", local_mbconv_norm="all"),
        dict(global_pool="", drop_path_rate=0.2, stem_expand_ratio=3, downsample_expand_ratios=(2, 3, 4, 5)),
    ],
)
def test_options_match_timm(kwargs: dict) -> None:
    from timm.models.cpubone import CPUBone as TimmCPUBone

    ours, theirs = paired_classes(CPUBone, TimmCPUBone, **TINY, **kwargs)
    x = _x(80)  # stage 3 attends over 5x5 maps: odd sides
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
        for a, b in zip(ours.forward_intermediates(x)[1], theirs.forward_intermediates(x)[1]):
            assert rel_err(a, b) < 1e-4
    assert [m.drop_prob for m in ours.modules() if hasattr(m, "drop_prob")] == [
        m.drop_prob for m in theirs.modules() if hasattr(m, "drop_prob")
    ]


def test_bad_options_are_refused() -> None:
    with pytest.raises(ValueError, match="global_pool"):
        CPUBone(**TINY, global_pool="max")
    with pytest.raises(ValueError, match="local_mbconv_norm"):
        CPUBone(**TINY, local_mbconv_norm="none")
    with pytest.raises(ValueError, match="attn_upsample"):
        CPUBone(**TINY, attn_upsample="bilinear")
    model = CPUBone(**TINY)
    with pytest.raises(ValueError, match="global_pool"):
        model.reset_classifier(5, "max")
