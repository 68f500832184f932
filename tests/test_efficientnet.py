"""EfficientNet's own parts, and those of the builder it shares with MobileNetV3: the block-string
decoder and depth / width scaling, TensorFlow "same" padding against an explicit reference, parity
with timm for the block types and options the family sample (tests/sampling.py) does not reach, and
the checkpoint layouts timm's builders accept.

Generic behaviour (the sampled names' outputs, configs, features, pruning...) is the shared suites'.
"""

from __future__ import annotations

import itertools
import math
from functools import partial
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import (
    assert_backbone_checkpoints_match_timm,
    materialize_random,
    paired,
    paired_classes,
    rel_err,
    timm,
)
from torch import nn

import visionzoo
from visionzoo.layers import Conv2dSame, create_conv2d
from visionzoo.layers.cond_conv2d import CondConv2d
from visionzoo.layers.helpers import same_pad_amount
from visionzoo.layers.mixed_conv2d import MixedConv2d
from visionzoo.models._efficientnet_builder import decode_arch_def, decode_block_str, round_channels
from visionzoo.models.efficientnet import EfficientNet

pytestmark = pytest.mark.family

# what the shared suites that compile or export every family build EfficientNet with (sampling.py,
# family_kwargs): TF's dynamic "same" padding, so that the exporter and compiler meet it
SHARED_KWARGS: dict[str, Any] = {"pad_type": "same"}

TOL = 1e-4


# --- block strings ----------------------------------------------------------------------------
def _ir(**kw: object) -> dict[str, object]:
    base = dict(
        block_type="ir",
        out_chs=24,
        stride=2,
        act_layer=None,
        dw_kernel_size=3,
        exp_kernel_size=1,
        pw_kernel_size=1,
        exp_ratio=6.0,
        se_ratio=0.0,
        noskip=False,
        s2d=False,
    )
    return {**base, **kw}


DECODED = [
    ("ir_r2_k3_s2_e6_c24", _ir(), 2),
    ("ir_r1_k5_s2_e6_c24_se0.25", _ir(dw_kernel_size=5, se_ratio=0.25), 1),
    (  # mixed kernels (MixConv) for the depthwise, grouped expansion / projection, an activation
        "ir_r3_k3.5.7_a1.1_p1.1_s2_e6_c24_nsw",
        _ir(dw_kernel_size=[3, 5, 7], exp_kernel_size=[1, 1], pw_kernel_size=[1, 1], act_layer=nn.SiLU),
        3,
    ),
    ("ir_r1_k3_s2_e6_c24_cc4_gs8", _ir(num_experts=4, group_size=8), 1),
    ("ir_r1_k3_s2_e6_c24_noskip_nre", _ir(noskip=True, act_layer=nn.ReLU), 1),
    ("ir_r1_k3_s2_e6_c24_nr6", _ir(act_layer=nn.ReLU6), 1),
    ("ir_r1_k3_s2_e6_c24_nhs", _ir(act_layer=nn.Hardswish), 1),
    ("ir_r1_k3_s2_e6_c24_nmi", _ir(act_layer=nn.Mish), 1),
    (
        "ds_r1_k3_s1_c16_se0.25_d1",
        dict(
            block_type="ds",
            out_chs=16,
            stride=1,
            act_layer=None,
            dw_kernel_size=3,
            pw_kernel_size=1,
            se_ratio=0.25,
            pw_act=False,
            noskip=False,
            s2d=True,
        ),
        1,
    ),
    (
        "dsa_r2_k5_s2_c64",
        dict(
            block_type="dsa",
            out_chs=64,
            stride=2,
            act_layer=None,
            dw_kernel_size=5,
            pw_kernel_size=1,
            se_ratio=0.0,
            pw_act=True,
            noskip=True,
            s2d=False,
        ),
        2,
    ),
    (
        "er_r1_k3_s1_e4_c24_fc24_noskip",
        dict(
            block_type="er",
            out_chs=24,
            stride=1,
            act_layer=None,
            exp_kernel_size=3,
            pw_kernel_size=1,
            exp_ratio=4.0,
            force_in_chs=24,
            se_ratio=0.0,
            noskip=True,
        ),
        1,
    ),
    (
        "cn_r1_k1_s1_c960_skip",
        dict(block_type="cn", out_chs=960, stride=1, act_layer=None, kernel_size=1, skip=True),
        1,
    ),
    (
        "uir_r2_a3_k0_p5_s1_e4_c160",
        dict(
            block_type="uir",
            out_chs=160,
            stride=1,
            act_layer=None,
            dw_kernel_size_start=3,
            dw_kernel_size_mid=0,
            dw_kernel_size_end=5,
            exp_ratio=4.0,
            se_ratio=0.0,
            noskip=False,
        ),
        2,
    ),
    (
        "mqa_r1_k3_h4_s1_v2_d64_c160",
        dict(
            block_type="mqa",
            out_chs=160,
            stride=1,
            act_layer=None,
            dw_kernel_size=3,
            num_heads=4,
            key_dim=64,
            value_dim=64,
            kv_stride=2,
            noskip=False,
        ),
        1,
    ),
    (
        "mha_r1_k3_h8_s1_d32_c96_noskip",
        dict(
            block_type="mha",
            out_chs=96,
            stride=1,
            act_layer=None,
            dw_kernel_size=3,
            num_heads=8,
            key_dim=32,
            value_dim=32,
            kv_stride=1,
            noskip=True,
        ),
        1,
    ),
]


@pytest.mark.parametrize(("block_str", "expected", "repeats"), DECODED, ids=[d[0] for d in DECODED])
def test_decode_block_str(block_str: str, expected: dict[str, object], repeats: int) -> None:
    assert decode_block_str(block_str) == (expected, repeats)
    assert timm.models._efficientnet_builder._decode_block_str(block_str) == (expected, repeats)


@pytest.mark.parametrize(
    ("block_str", "named"),
    [
        ("xx_r1_k3_s1_c8", "unknown block type 'xx'"),
        ("ir_r1_k3_s1_e1_c8_zz9", "unknown option 'zz9'"),
        ("ir_r1_k3_s1_e1_c8_nfoo", "unknown activation 'nfoo'"),
        ("ir_k3_s1_e1_c8", "lacks option(s) ['r']"),
        ("mqa_r1_k3_s1_d64_c160", "lacks option(s) ['h']"),
    ],
)
def test_decode_block_str_rejects_bad_strings(block_str: str, named: str) -> None:
    with pytest.raises(ValueError, match="") as err:
        decode_block_str(block_str)
    assert named in str(err.value) and block_str in str(err.value)


ARCH = [
    ["ds_r1_k3_s1_e1_c16_se0.25"],
    ["ir_r2_k3_s2_e6_c24_se0.25"],
    ["ir_r3_k5_s1_e6_c112_se0.25", "ir_r1_k3_s1_e3_c112"],
    ["ir_r4_k5_s2_e6_c192_se0.25"],
    ["ir_r1_k3_s1_e6_c320_se0.25"],
]


def _repeats(stages: list[list[dict[str, object]]]) -> list[list[int]]:
    """Per stage, the number of blocks decoded from each of its block strings (by out_chs / e)."""
    out = []
    for stage in stages:
        counts: dict[tuple[object, object], int] = {}
        for b in stage:
            key = (b["out_chs"], b.get("exp_ratio"))
            counts[key] = counts.get(key, 0) + 1
        out.append(list(counts.values()))
    return out


def test_depth_scaling() -> None:
    # EfficientNet-B3 (depth 1.4): repeats scaled per stage and rounded up ...
    assert _repeats(decode_arch_def(ARCH, 1.4)) == [[2], [3], [4, 2], [6], [2]]
    # ... or to nearest (MixNet / TinyNet), with fix_first_last keeping the end stages
    assert _repeats(decode_arch_def(ARCH, 0.6, "round")) == [[1], [1], [1, 1], [2], [1]]
    assert _repeats(decode_arch_def(ARCH, 2.0, fix_first_last=True)) == [[1], [4], [6, 2], [8], [1]]
    # one multiplier per stage; the builder's blocks are independent copies
    per_stage = decode_arch_def(ARCH, (1.0, 2.0, 1.0, 1.0, 3.0))
    assert _repeats(per_stage) == [[1], [4], [3, 1], [4], [3]]
    per_stage[1][0]["out_chs"] = 0
    assert per_stage[1][1]["out_chs"] == 24
    # CondConv experts multiplier and the default group size
    cc = decode_arch_def(
        [["ir_r1_k3_s1_e6_c8_cc4", "ir_r1_k3_s1_e6_c8_gs4"]], experts_multiplier=2, group_size=8
    )
    assert cc[0][0]["num_experts"] == 8 and cc[0][0]["group_size"] == 8 and cc[0][1]["group_size"] == 4


@pytest.mark.parametrize("depth", [0.6, 0.85, 1.1, 1.2, 1.4, 1.8, 2.2, 3.1, 5.3])
def test_depth_scaling_matches_timm(depth: float) -> None:
    ref = timm.models._efficientnet_builder.decode_arch_def
    for trunc in ("ceil", "round"):
        for fix in (False, True):
            assert decode_arch_def(ARCH, depth, trunc, fix_first_last=fix) == ref(
                ARCH, depth, trunc, fix_first_last=fix
            )


def test_decode_arch_def_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="depth_multiplier has 2 entries for 5 stages"):
        decode_arch_def(ARCH, (1.0, 2.0))
    with pytest.raises(ValueError, match="depth_trunc must be 'ceil' or 'round', got 'floor'"):
        decode_arch_def(ARCH, 1.2, "floor")
    with pytest.raises(TypeError, match="list of stages"):
        decode_arch_def("ir_r1_k3_s1_e1_c8")  # type: ignore[arg-type]


@pytest.mark.parametrize("mult", [0.35, 0.5, 0.54, 0.75, 1.0, 1.1, 1.2, 1.4, 1.6, 1.92, 2.2, 4.3])
def test_round_channels_matches_timm(mult: float) -> None:
    ref = timm.models._efficientnet_builder.round_channels
    for chs in (8, 16, 24, 32, 40, 80, 112, 192, 320, 1280):
        for divisor, limit in ((8, 0.9), (16, 0.9), (8, 0.0), (8, 0.95)):
            assert round_channels(chs, mult, divisor, round_limit=limit) == ref(
                chs, mult, divisor, round_limit=limit
            )
    assert round_channels(32, 0.0) == 32  # multiplier 0: unscaled


# --- TensorFlow "same" padding ------------------------------------------------------------------
def _tf_same_reference(x: torch.Tensor, weight: torch.Tensor, stride: int, dilation: int) -> torch.Tensor:
    """TF 'SAME': output ceil(n / stride); total padding split with the extra pixel at the end;
    then a valid (unpadded) convolution."""
    k = weight.shape[-1]
    pads = []
    for n in (x.shape[-1], x.shape[-2]):  # F.pad order: last dim first
        total = max((math.ceil(n / stride) - 1) * stride + (k - 1) * dilation + 1 - n, 0)
        pads += [total // 2, total - total // 2]
    groups = x.shape[1] // weight.shape[1]
    return F.conv2d(F.pad(x, pads), weight, None, stride, 0, dilation, groups)


@pytest.mark.parametrize(
    ("kernel", "stride", "dilation"), [(3, 2, 1), (5, 2, 1), (2, 2, 1), (4, 1, 1), (3, 2, 2)]
)
@pytest.mark.parametrize("size", [15, 16])
def test_same_padding_matches_tf(kernel: int, stride: int, dilation: int, size: int) -> None:
    x = torch.randn(2, 4, size, size + 1)  # odd and even sides at once
    conv = create_conv2d(4, 6, kernel, stride=stride, dilation=dilation, padding="same")
    assert isinstance(conv, Conv2dSame)  # strided or even kernels: the padding depends on the input
    out = conv(x)
    assert out.shape[-2:] == (math.ceil(size / stride), math.ceil((size + 1) / stride))
    assert rel_err(out, _tf_same_reference(x, conv.weight, stride, dilation)) < 1e-6

    dw = create_conv2d(4, 4, kernel, stride=stride, dilation=dilation, padding="same", depthwise=True)
    assert rel_err(dw(x), _tf_same_reference(x, dw.weight, stride, dilation)) < 1e-6


def test_same_pad_amount_is_tfs_formula_for_every_size() -> None:
    """The exporter-friendly form against TF's ceil/max definition, kernels narrower than the
    stride (where the max matters) included."""
    for kernel, stride, dilation in itertools.product((1, 2, 3, 5), (1, 2, 3, 4), (1, 2)):
        for n in range(1, 40):
            tf = max((math.ceil(n / stride) - 1) * stride + (kernel - 1) * dilation + 1 - n, 0)
            assert same_pad_amount(n, kernel, stride, dilation) == tf, (n, kernel, stride, dilation)


def test_same_padding_is_static_where_it_can_be() -> None:
    conv = create_conv2d(4, 6, 5, stride=1, padding="same")
    assert type(conv) is nn.Conv2d and conv.padding == (2, 2)  # a plain conv: exports, folds, packs
    x = torch.randn(1, 4, 15, 16)
    assert rel_err(conv(x), _tf_same_reference(x, conv.weight, 1, 1)) < 1e-6


@pytest.mark.parametrize("size", [15, 16])
def test_cond_and_mixed_convs_pad_like_tf(size: int) -> None:
    x = torch.randn(2, 6, size, size)
    cond = CondConv2d(6, 8, 3, stride=2, padding="same", num_experts=3)
    routing = torch.rand(2, 3)
    for i in range(2):
        w = (routing[i] @ cond.weight).view(cond.weight_shape)
        ref = _tf_same_reference(x[i : i + 1], w, 2, 1)
        assert rel_err(cond(x, routing)[i : i + 1], ref) < 1e-5

    mixed = MixedConv2d(6, 6, [3, 5], stride=2, padding="same", depthwise=True)
    parts = torch.split(x, mixed.splits, 1)
    ref = torch.cat([_tf_same_reference(p, c.weight, 2, 1) for p, c in zip(parts, mixed.values())], 1)
    assert rel_err(mixed(x), ref) < 1e-6


def test_same_padding_exports_to_onnx(tmp_path: object) -> None:
    """A dynamically padded conv exports as a constant pad at a fixed input size."""
    ort = pytest.importorskip("onnxruntime")
    model = nn.Sequential(create_conv2d(3, 8, 3, stride=2, padding="same"), nn.ReLU()).eval()
    x = torch.randn(1, 3, 17, 18)
    path = f"{tmp_path}/same.onnx"
    torch.onnx.export(model, (x,), path, dynamo=False)
    (out,) = ort.InferenceSession(path).run(
        None, {ort.InferenceSession(path).get_inputs()[0].name: x.numpy()}
    )
    assert rel_err(torch.from_numpy(out), model(x)) < 1e-5


# --- parity with timm, one small model per block type ----------------------------------------------
# one small model per block type or option the family sample lacks (the sampled names, EvoNorm and
# channel LayerNorm ones included, are compared by test_parity.py), at odd and even sides: TF
# "same" padding is dynamic
PARITY = [
    "efficientnet_b0",  # ds + ir with SE (swish)
    "tf_efficientnet_b0",  # TF same padding, BN eps 1e-3
    "tf_mixnet_s",  # mixed kernels (MixConv) + same padding
    "tf_efficientnet_cc_b0_4e",  # CondConv experts + same padding
    "tf_efficientnet_es",  # edge residual (er) with a forced input width
    "lcnet_050",  # dsa + hard-swish, hard-sigmoid SE
]


@pytest.mark.parametrize("name", PARITY)
def test_outputs_match_timm(name: str) -> None:
    ours, theirs = paired(name)
    x = torch.randn(2, 3, 67, 66)  # odd and even sides: dynamic same padding on both
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < TOL


def test_space_to_depth_and_global_context_match_timm() -> None:
    """EfficientNet-X's space-to-depth stem block and GC attention, on narrow copies of the
    published definitions (the full-width models are too large for a unit test)."""
    from timm.layers import get_attn
    from timm.models._efficientnet_builder import decode_arch_def as timm_decode
    from timm.models.efficientnet import EfficientNet as TimmEfficientNet

    from visionzoo.layers.global_context import GlobalContext
    from visionzoo.models import efficientnet as fam

    cases = [
        (fam._EFFNET_X, {}, {}),
        (fam._V2_S, dict(se_layer=GlobalContext), dict(se_layer=get_attn("gc"))),
    ]
    for arch, ours_kw, theirs_kw in cases:
        strings = [list(stage) for stage in arch]
        ours, theirs = paired_classes(
            partial(EfficientNet, arch, channel_multiplier=0.25, depth_multiplier=0.3, **ours_kw),
            partial(
                TimmEfficientNet,
                timm_decode(strings, 0.3),
                round_chs_fn=partial(round_channels, multiplier=0.25),
                **theirs_kw,
            ),
        )
        x = torch.randn(2, 3, 64, 64)
        with torch.no_grad():
            assert rel_err(ours(x), theirs(x)) < TOL


def test_expansion_features_match_timm() -> None:
    """``feature_location='expansion'`` taps the expanded width inside each stage's last block."""
    ours, theirs = paired("efficientnet_b0", features_only=True, feature_location="expansion")
    assert ours.feature_info.channels() == theirs.feature_info.channels()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(ours(x), theirs(x), strict=True):
            assert rel_err(a, b) < TOL


# --- checkpoint layouts -------------------------------------------------------------------------
def test_timm_checkpoints_load_into_backbones(tmp_path: object) -> None:
    """A full timm checkpoint builds our features_only model (the head is left out); a file saved
    from timm's features_only model (EfficientNetFeatures: no head) loads into ours strictly and
    gives the same features."""
    assert_backbone_checkpoints_match_timm("tf_efficientnet_b0", tmp_path)


def test_optimize_folds_norms_after_mixed_kernel_convs() -> None:
    """optimize_for_inference folds every batch norm of MixNet, those after the mixed-kernel
    convs included (through the blocks' ``fuse_for_inference``), with the same outputs."""
    from visionzoo.optimize import count_batch_norms, optimize_for_inference

    model = materialize_random(visionzoo.create_model("tf_mixnet_s", device="meta"))
    fast = optimize_for_inference(model, channels_last=False)
    assert count_batch_norms(model) == 49 and count_batch_norms(fast) == 0
    assert any(isinstance(m, MixedConv2d) and m["0"].bias is not None for m in fast.modules())
    x = torch.randn(2, 3, 67, 66)
    with torch.no_grad():
        assert rel_err(fast(x), model(x)) < TOL


def test_fbnetc_pretrained_builds_with_the_bn_eps_its_weights_were_trained_with(tmp_path) -> None:
    """As timm: fbnetc_100 with pretrained=True uses BN eps 1e-3 (its weights'), without 1e-5; a
    bn_eps the caller passes wins over both."""
    from safetensors.torch import save_file

    def eps(model: nn.Module) -> set[float]:
        return {m.eps for m in model.modules() if isinstance(m, nn.BatchNorm2d)}

    plain = visionzoo.create_model("fbnetc_100")
    assert eps(plain) == {1e-5} == eps(timm.create_model("fbnetc_100"))
    path = tmp_path / "fbnetc.safetensors"
    save_file({k: v.contiguous() for k, v in plain.state_dict().items()}, str(path))
    overlay = dict(file=str(path))
    trained = visionzoo.create_model("fbnetc_100", pretrained=True, pretrained_cfg_overlay=overlay)
    assert eps(trained) == {1e-3}
    mine = visionzoo.create_model("fbnetc_100", pretrained=True, pretrained_cfg_overlay=overlay, bn_eps=1e-4)
    assert eps(mine) == {1e-4}


# --- timm's EfficientNetFeatures (issue 25) -------------------------------------------------------
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"out_indices": (1, 3), "output_stride": 16},
        {"feature_location": "expansion", "out_indices": (2, 4)},
    ],
    ids=["default", "os16", "expansion"],
)
def test_efficientnet_features_class_is_timms(kw: dict[str, Any]) -> None:
    """Built from block args as timm's class is: timm's keys, feature info and feature maps."""
    from timm.models._efficientnet_builder import decode_arch_def as timm_decode
    from timm.models.efficientnet import EfficientNetFeatures as TimmFeatures

    from visionzoo.models.efficientnet import EfficientNetFeatures

    arch = [["ds_r1_k3_s1_e1_c16_se0.25"], ["ir_r2_k3_s2_e6_c24_se0.25"], ["ir_r1_k5_s2_e6_c40_se0.25"]]
    arch += [["ir_r2_k3_s2_e6_c80_se0.25"], ["ir_r1_k5_s2_e6_c192_se0.25"]]
    theirs = TimmFeatures(timm_decode(arch), **kw).eval()
    ours = EfficientNetFeatures(arch, **kw).eval()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    assert ours.feature_info.channels() == theirs.feature_info.channels()
    assert ours.feature_info.reduction() == theirs.feature_info.reduction()
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        for a, b in zip(ours(x), theirs(x), strict=True):
            assert torch.equal(a, b)
