"""ConvNeXt (V1/V2) and RegNet: what is their own, and parity with timm until the shared suites
reach them.

* numeric parity with timm (random weights, strict state-dict load) for one small model of each
  block type / option set: norm kinds, stems, GRN, head layouts, kernel sizes, output strides;
* checkpoint remaps: facebookresearch ConvNeXt, OpenCLIP, torchvision / pycls / classy RegNet;
* the RegNet width generator against published stage widths.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from timm_oracle import materialize_random, rel_err, timm_model
from torch import nn

import visionzoo
from visionzoo.models import convnext as cnx
from visionzoo.models import regnet as rg

pytestmark = pytest.mark.family

TOL = 1e-4


def _x(size: int = 64, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(3))


def _build(name: str, *, meta: bool = False, **overrides: Any) -> nn.Module:
    return visionzoo.create_model(name, device="meta" if meta else "cpu", **overrides)


def _paired(name: str, **overrides: Any) -> tuple[nn.Module, nn.Module]:
    """timm's ``name`` with random weights and ours holding the same weights (strict load)."""
    theirs = timm_model(name, **overrides)
    ours = _build(name, **overrides).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    return ours, theirs


def _assert_same_outputs(ours: nn.Module, theirs: nn.Module, x: torch.Tensor) -> None:
    with torch.no_grad():
        assert rel_err(ours.forward_features(x), theirs.forward_features(x)) < TOL
        assert rel_err(ours(x), theirs(x)) < TOL
        pre_a = ours.forward_head(ours.forward_features(x), pre_logits=True)
        pre_b = theirs.forward_head(theirs.forward_features(x), pre_logits=True)
        assert rel_err(pre_a, pre_b) < TOL
        _, ints_a = ours.forward_intermediates(x)
        _, ints_b = theirs.forward_intermediates(x)
    assert len(ints_a) == len(ints_b) == len(ours.feature_info)
    for a, b in zip(ints_a, ints_b):
        assert rel_err(a, b) < TOL
    assert ours.feature_info == theirs.feature_info
    assert (ours.num_features, ours.head_hidden_size) == (theirs.num_features, theirs.head_hidden_size)


# --- ConvNeXt: numeric parity ---------------------------------------------------------------------
_SMALL = dict(depths=(1, 1, 2, 1), dims=(16, 32, 48, 64))

CONVNEXT_CASES = {
    # name: overrides (small widths where the named model is large)
    "convnext_atto": {},  # conv MLP + LayerNorm2d, patch stem
    "convnext_atto_ols": {},  # overlap_tiered stem
    "convnext_nano_ols": {},  # overlap stem
    "convnext_atto_rms": {},  # RmsNorm2d
    "convnext_zepto_rms_ols": {},  # SimpleNorm2d, overlap_act stem
    "convnext_tiny": _SMALL,  # channels-last LayerNorm + nn.Linear MLP, layer scale
    "convnext_tiny_hnf": _SMALL,  # norm before pooling, plain classifier head
    "convnext_large_mlp": dict(**_SMALL, head_hidden_size=40),  # pool -> norm -> fc -> gelu -> fc
    "convnext_xxlarge": _SMALL,  # norm_eps 1e-5
    "convnextv2_atto": {},  # GRN on NCHW, no layer scale
    "convnextv2_tiny": _SMALL,  # GRN channels-last
    "test_convnext": {},  # gelu_tanh
    "test_convnext3": {},  # per-stage kernel sizes, silu
    "test_convnext2": dict(output_stride=16),  # dilated last stage
}


@pytest.mark.parametrize("name", list(CONVNEXT_CASES))
def test_convnext_outputs_match_timm(name: str) -> None:
    ours, theirs = _paired(name, **CONVNEXT_CASES[name])
    _assert_same_outputs(ours, theirs, _x())


@pytest.mark.parametrize("output_stride", [8, 16])
def test_convnext_output_stride_matches_timm(output_stride: int) -> None:
    ours, theirs = _paired("convnext_atto", output_stride=output_stride)
    _assert_same_outputs(ours, theirs, _x())
    with torch.no_grad():
        assert ours.forward_features(_x()).shape[-1] == 64 // output_stride


def test_convnext_head_options_match_timm() -> None:
    """Classifier reset (with and without the head's norm / hidden layer), unpooled heads and
    pruning follow timm's."""
    x = _x()
    for reset in [(5,), (0,), (7, "max"), (3, "", False), (0, None, True), (4, "avg", True)]:
        ours, theirs = _paired("convnext_large_mlp", **_SMALL, head_hidden_size=40)
        ours.reset_classifier(*reset)
        theirs.reset_classifier(*reset)
        ours.head.load_state_dict(theirs.head.state_dict(), strict=True)
        assert ours.head_hidden_size == theirs.head_hidden_size, reset
        with torch.no_grad():
            assert rel_err(ours(x), theirs(x)) < TOL, reset
    for indices, prune_head in [(2, True), ([1], False), (4, False)]:
        ours, theirs = _paired("convnext_tiny_hnf", **_SMALL)
        assert ours.prune_intermediate_layers(indices, prune_head=prune_head) == (
            theirs.prune_intermediate_layers(indices, prune_head=prune_head)
        )
        assert ours.state_dict().keys() == theirs.state_dict().keys()
        with torch.no_grad():
            assert rel_err(ours(x), theirs(x)) < TOL


def test_convnext_bad_options_are_named() -> None:
    with pytest.raises(ValueError, match="output_stride"):
        cnx.ConvNeXt(output_stride=4)
    with pytest.raises(ValueError, match="stem_type"):
        cnx.ConvNeXt(stem_type="deep")
    with pytest.raises(ValueError, match="conv_mlp=True"):
        cnx.ConvNeXt(norm_layer="batchnorm2d")
    with pytest.raises(ValueError, match="head_hidden_size"):
        cnx.ConvNeXt(head_norm_first=True, head_hidden_size=8)


def test_convnext_checkpointing_gives_the_same_gradients() -> None:
    model = _build("test_convnext2").train()
    x = _x(32)
    model(x).sum().backward()
    plain = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model.set_grad_checkpointing(True)
    calls = []
    model.stages[0].blocks[0].conv_dw.register_forward_hook(lambda *_: calls.append(1))
    model(x).sum().backward()
    assert len(calls) == 2, "the block should run again in backward"
    for a, p in zip(plain, model.parameters()):
        assert torch.allclose(a, p.grad, atol=1e-6)


# --- RegNet: numeric parity -----------------------------------------------------------------------
_TINY = dict(w0=24, wa=36.44, wm=2.49, group_size=8, depth=13)  # regnetx_002's stages

REGNET_CASES = {
    "regnetx_002": {},  # X: plain bottlenecks
    "regnety_002": {},  # Y: squeeze-excitation after the grouped conv
    "regnetx_004_tv": {},  # torchvision's width rounding
    # GroupNorm (16 channels a group) + SiLU, on widths that are multiples of 16
    "regnety_040_sgn": dict(w0=32, wa=32, wm=2.0, group_size=16, depth=8),
    "regnetv_040": _TINY,  # pre-activation blocks, activation before the head
    "regnetv_064": dict(**_TINY, output_stride=8),  # avg-pool shortcut, dilated (same-padded pool)
    "regnetz_005": {},  # inverted bottleneck, no resampling shortcut, linear out, final 1x1 conv
    "regnetz_040": dict(w0=16, wa=10.7, wm=2.51, group_size=4, depth=21),  # RegNet-Z, no final conv
    "regnety_032": dict(**_TINY, output_stride=16),
}


@pytest.mark.parametrize("name", list(REGNET_CASES))
def test_regnet_outputs_match_timm(name: str) -> None:
    ours, theirs = _paired(name, **REGNET_CASES[name])
    _assert_same_outputs(ours, theirs, _x())


@pytest.mark.parametrize(("indices", "prune_head"), [(2, True), (5, False), (5, True), ([0, 3], False)])
def test_regnet_pruning_matches_timm(indices: Any, prune_head: bool) -> None:
    x = _x()
    ours, theirs = _paired("regnetz_005")
    assert ours.prune_intermediate_layers(indices, prune_head=prune_head) == (
        theirs.prune_intermediate_layers(indices, prune_head=prune_head)
    )
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    assert (ours.num_features, ours.head_hidden_size) == (theirs.num_features, theirs.head_hidden_size)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < TOL
        a, b = ours.forward_intermediates(x), theirs.forward_intermediates(x)
    assert rel_err(a[0], b[0]) < TOL
    assert all(rel_err(i, j) < TOL for i, j in zip(a[1], b[1]))


def test_regnet_checkpointing_gives_the_same_gradients() -> None:
    model = _build("regnety_002", num_classes=3).train()
    x = _x(32)
    model(x).sum().backward()
    plain = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    model.set_grad_checkpointing(True)
    calls = []
    model.s1.b1.conv1.register_forward_hook(lambda *_: calls.append(1))
    model(x).sum().backward()
    assert len(calls) == 2, "the block should run again in backward"
    for a, p in zip(plain, model.parameters()):
        assert torch.allclose(a, p.grad, atol=1e-5)


def test_regnet_bad_options_are_named() -> None:
    with pytest.raises(ValueError, match="output_stride"):
        rg.RegNet(output_stride=64)
    with pytest.raises(ValueError, match="downsample"):
        rg.RegNet(downsample="max")
    with pytest.raises(ValueError, match="wm > 1"):
        rg.regnet_stages(w0=24, wa=36.44, wm=1.0, depth=13, group_size=8)
    with pytest.raises(ValueError, match="multiple of 8"):
        rg.regnet_stages(w0=20, wa=36.44, wm=2.49, depth=13, group_size=8)
    with pytest.raises(ValueError, match="3 stages, not 4"):
        rg.RegNet(w0=24, wa=36.44, wm=2.49, depth=6, group_size=8)


# --- RegNet: the width generator ------------------------------------------------------------------
# Stage widths and depths published for named models: Radosavovic et al. 2020, "Designing Network
# Design Spaces", Appendix figures (RegNetX/Y 200MF ... 32GF), and torchvision's model docs, which
# list the same pycls configs (and its own rounding for the *_tv variants).
PUBLISHED = {
    # name: (w0, wa, wm, depth, group width, stage widths, stage depths)
    "RegNetX-200MF": (24, 36.44, 2.49, 13, 8, [24, 56, 152, 368], [1, 1, 4, 7]),
    "RegNetX-400MF": (24, 24.48, 2.54, 22, 16, [32, 64, 160, 384], [1, 2, 7, 12]),
    "RegNetX-1.6GF": (80, 34.01, 2.25, 18, 24, [72, 168, 408, 912], [2, 4, 10, 2]),
    "RegNetY-200MF": (24, 36.44, 2.49, 13, 8, [24, 56, 152, 368], [1, 1, 4, 7]),
    "RegNetY-4.0GF": (96, 31.41, 2.24, 22, 64, [128, 192, 512, 1088], [2, 6, 12, 2]),
    "RegNetY-32GF": (232, 115.89, 2.53, 20, 232, [232, 696, 1392, 3712], [2, 5, 12, 1]),
}


@pytest.mark.parametrize("name", list(PUBLISHED))
def test_regnet_stages_reproduce_published_widths(name: str) -> None:
    w0, wa, wm, depth, group, widths, depths = PUBLISHED[name]
    got_widths, got_depths, groups = rg.regnet_stages(w0=w0, wa=wa, wm=wm, depth=depth, group_size=group)
    assert (got_widths, got_depths) == (widths, depths)
    assert sum(got_depths) == depth
    assert all(w % g == 0 for w, g in zip(got_widths, groups))


def test_regnet_stages_torchvision_rounding() -> None:
    """torchvision rounds bottleneck widths up to a multiple of the group width unless that loses
    over 10%: its regnet_x_400mf ends 400 wide (pycls': 384), regnet_y_800mf is 64-144-320-784
    (pycls': 64-128-320-768), as the classifier widths of torchvision's weights show."""
    x400 = dict(w0=24, wa=24.48, wm=2.54, depth=22, group_size=16)
    y800 = dict(w0=56, wa=38.84, wm=2.4, depth=14, group_size=16)
    assert rg.regnet_stages(**x400)[0][-1] == 384
    assert rg.regnet_stages(**x400, group_min_ratio=0.9)[0] == [32, 64, 160, 400]
    assert rg.regnet_stages(**y800)[0] == [64, 128, 320, 768]
    assert rg.regnet_stages(**y800, group_min_ratio=0.9)[0] == [64, 144, 320, 784]


def test_convnext_head_takes_catavgmax_without_a_hidden_layer() -> None:
    """Beyond timm: both pools, each normed with the head's norm, concatenated (2x width); a
    hidden layer sized for one pool refuses it, naming the way out."""
    model = _build("test_convnext2").eval()
    x = _x(32)
    model.reset_classifier(0, "catavgmax")
    with torch.no_grad():
        feats = model.forward_features(x)
        out = model(x)
    assert out.shape == (2, 2 * model.num_features) and model.head_hidden_size == 2 * model.num_features
    norm = model.head.norm
    expected = torch.cat((norm(feats.mean((2, 3), keepdim=True)), norm(feats.amax((2, 3), keepdim=True))), 1)
    assert torch.allclose(out, expected.flatten(1))
    mlp = _build("convnext_large_mlp", meta=True, **_SMALL, head_hidden_size=40)
    with pytest.raises(ValueError, match="hidden_size=40.*reset_other=True"):
        mlp.reset_classifier(3, "catavgmax")
    mlp.reset_classifier(3, "catavgmax", reset_other=True)
    assert mlp.head_hidden_size == 2 * 64


# --- checkpoint remaps ----------------------------------------------------------------------------
def _random_model(name: str, **kwargs: Any) -> nn.Module:
    return materialize_random(visionzoo.create_model(name, device="meta", **kwargs))


def _load_file(tmp_path: Path, name: str, checkpoint: dict[str, Any], **kwargs: Any) -> nn.Module:
    file = tmp_path / "weights.pth"
    torch.save(checkpoint, file)
    return visionzoo.create_model(
        name, pretrained=True, pretrained_cfg_overlay=dict(file=str(file)), **kwargs
    )


def _assert_loaded(model: nn.Module, state: dict[str, torch.Tensor]) -> None:
    loaded = model.state_dict()
    assert loaded.keys() == state.keys()
    assert [k for k, v in state.items() if not torch.equal(loaded[k], v)] == []


def _fb_convnext_key(key: str) -> str:
    """Our key in the facebookresearch ConvNeXt(-V2) layout."""
    parts = key.split(".")
    if parts[0] == "stem":
        return ".".join(["downsample_layers", "0", *parts[1:]])
    if parts[0] == "head":
        return ".".join(["norm" if parts[1] == "norm" else "head", *parts[2:]])
    if parts[2] == "downsample":
        return ".".join(["downsample_layers", parts[1], *parts[3:]])
    rest = ".".join(parts[5:])
    inner = {"conv_dw": "dwconv", "mlp.fc1": "pwconv1", "mlp.fc2": "pwconv2", "mlp.grn": "grn"}
    sub = ".".join(parts[4:5] + parts[5:-1]) if parts[4] == "mlp" else parts[4]
    leaf = parts[-1] if parts[4] == "mlp" or rest else ""
    if sub == "mlp.grn":
        leaf = {"weight": "gamma", "bias": "beta"}[leaf]
    return ".".join(x for x in ["stages", parts[1], parts[3], inner.get(sub, sub), leaf] if x)


@pytest.mark.parametrize("name", ["test_convnext2", "convnextv2_atto"])
def test_facebookresearch_convnext_checkpoints_load(tmp_path: Path, name: str) -> None:
    """The original releases: a `model` key; stem and downsamples in `downsample_layers`, blocks as
    `stages.i.j` with `dwconv` / `pwconv1|2` (nn.Linear weights, also when ours are 1x1 convs),
    V2's `grn.gamma|beta` stored (1, 1, 1, C), the head as `norm` + `head`."""
    ours = _random_model(name)
    state = {k: v.clone() for k, v in ours.state_dict().items()}
    fb = {}
    for key, value in state.items():
        fb_key = _fb_convnext_key(key)
        if fb_key.endswith(("grn.gamma", "grn.beta")):
            value = value.reshape(1, 1, 1, -1)
        elif "pwconv" in fb_key and value.ndim == 4:
            value = value.flatten(1)
        fb[fb_key] = value
    assert "downsample_layers.1.1.weight" in fb and "stages.3.0.pwconv2.weight" in fb and "norm.weight" in fb
    model = _load_file(tmp_path, name, {"model": fb, "epoch": 300})
    _assert_loaded(model, state)


@pytest.mark.parametrize(
    ("name", "mlp"), [("convnext_base.clip_laion2b", False), ("convnext_large_mlp.clip_laion2b_augreg", True)]
)
def test_openclip_convnext_trunk_loads(tmp_path: Path, name: str, mlp: bool) -> None:
    """OpenCLIP towers: the trunk under `visual.trunk.`, the projection (no bias) as the head."""
    kwargs: dict[str, Any] = dict(_SMALL, head_hidden_size=40) if mlp else dict(_SMALL)
    ours = _random_model(name, **kwargs)
    state = {k: v.clone() for k, v in ours.state_dict().items()}
    state["head.fc.bias"] = torch.zeros_like(state["head.fc.bias"])
    clip = {f"visual.trunk.{k}": v for k, v in state.items() if not k.startswith(("head.fc", "head.pre"))}
    if mlp:
        clip["visual.head.mlp.fc1.weight"] = state["head.pre_logits.fc.weight"]
        clip["visual.head.mlp.fc1.bias"] = state["head.pre_logits.fc.bias"]
        clip["visual.head.mlp.fc2.weight"] = state["head.fc.weight"]
    else:
        clip["visual.head.proj.weight"] = state["head.fc.weight"]
    clip["text.token_embedding.weight"] = torch.zeros(3, 4)  # the text tower is left behind
    _assert_loaded(_load_file(tmp_path, name, clip, **kwargs), state)


def _tv_regnet_key(key: str) -> str:
    """Our key in torchvision's RegNet layout."""
    key = key.replace("stem.conv", "stem.0").replace("stem.bn", "stem.1")
    if key.startswith("head.fc."):
        return key[len("head.") :]
    if key.startswith("stem."):
        return key
    stage, block, rest = key.split(".", 2)
    s, b = int(stage[1:]), int(block[1:]) - 1
    for ours, theirs in [
        ("conv1.conv", "f.a.0"),
        ("conv1.bn", "f.a.1"),
        ("conv2.conv", "f.b.0"),
        ("conv2.bn", "f.b.1"),
        ("conv3.conv", "f.c.0"),
        ("conv3.bn", "f.c.1"),
        ("se.", "f.se."),
        ("downsample.conv", "proj.0"),
        ("downsample.bn", "proj.1"),
    ]:
        rest = rest.replace(ours, theirs)
    return f"trunk_output.block{s}.block{s}-{b}.{rest}"


def test_torchvision_regnet_checkpoints_load(tmp_path: Path) -> None:
    ours = _random_model("regnety_002")
    state = {k: v.clone() for k, v in ours.state_dict().items()}
    tv = {_tv_regnet_key(k): v for k, v in state.items()}
    assert "trunk_output.block2.block2-0.proj.1.running_var" in tv and "fc.weight" in tv
    _assert_loaded(_load_file(tmp_path, "regnety_002", tv), state)


_PYCLS_NAMES = [
    ("conv1.conv.", "f.a."),
    ("conv1.bn.", "f.a_bn."),
    ("conv2.conv.", "f.b."),
    ("conv2.bn.", "f.b_bn."),
    ("conv3.conv.", "f.c."),
    ("conv3.bn.", "f.c_bn."),
    ("se.fc1.", "f.se.f_ex.0."),
    ("se.fc2.", "f.se.f_ex.2."),
    ("downsample.conv.", "proj."),
    ("downsample.bn.", "bn."),
]


def test_pycls_regnet_checkpoints_load() -> None:
    """pycls' `model_state`: block parts `f.a` / `f.a_bn` ... `f.se.f_ex.0|2`, the shortcut as
    `proj` + `bn`; its stem saw BGR images, so the stem's input channels are reversed."""
    model = _random_model("regnety_002")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    pycls = {}
    for key, value in state.items():
        for ours, theirs in _PYCLS_NAMES:
            key = key.replace(ours, theirs)
        pycls[key] = value.flip(1) if key == "stem.conv.weight" else value
    assert "s1.b1.bn.running_mean" in pycls and "s2.b1.f.se.f_ex.2.bias" in pycls
    remapped = rg.checkpoint_filter_fn({"model_state": pycls, "epoch": 100}, model)
    model.load_state_dict(remapped, strict=True)
    _assert_loaded(model, state)


def test_classy_vision_seer_regnet_checkpoints_load() -> None:
    """classy-vision / VISSL (SEER): trunk and heads nested in `classy_state_dict`, SSL heads
    dropped."""
    model = _random_model("regnety_002")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    trunk, heads = {}, {}
    for key, value in state.items():
        if key.startswith("head.fc."):
            heads[key.replace("head.fc", "0.clf.0")] = value
            continue
        key = key.replace("stem.conv", "_feature_blocks.conv1.stem.0")
        key = key.replace("stem.bn", "_feature_blocks.conv1.stem.1")
        if key.startswith("s"):
            stage, block, rest = key.split(".", 2)
            s, b = int(stage[1:]), int(block[1:]) - 1
            rest = rest.replace("conv1.conv", "f.a.0").replace("conv1.bn", "f.a.1")
            rest = rest.replace("conv2.conv", "f.b.0").replace("conv2.bn", "f.b.1")
            rest = rest.replace("conv3.conv", "f.c").replace("conv3.bn", "f.final_bn")
            rest = rest.replace("se.fc1", "f.se.excitation.0").replace("se.fc2", "f.se.excitation.2")
            rest = rest.replace("downsample.conv", "proj").replace("downsample.bn", "bn")
            key = f"_feature_blocks.res{s}.block{s}-{b}.{rest}"
        trunk[key] = value
    heads["1.projection_head.0.weight"] = torch.zeros(2, 2)
    checkpoint = {"classy_state_dict": {"base_model": {"model": {"trunk": trunk, "heads": heads}}}}
    model.load_state_dict(rg.checkpoint_filter_fn(checkpoint, model), strict=True)
    _assert_loaded(model, state)


def test_timm_layout_passes_through_the_remaps() -> None:
    for module, name in [(cnx, "test_convnext2"), (rg, "regnetx_002")]:
        model = _random_model(name)
        state = model.state_dict()
        assert module.checkpoint_filter_fn(dict(state), model).keys() == state.keys()


# --- optimize_for_inference -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "kwargs", "norms_left"),
    [
        ("convnext_atto", {}, 0),  # LayerNorms only: nothing to fold, channels_last / packing apply
        ("test_convnext", {}, 0),  # channels-last blocks (permute + nn.Linear)
        ("regnety_002", {}, 0),  # every conv -> BN pair folds
        ("regnetz_005", {}, 0),
        ("regnetv_040", _TINY, None),  # pre-activation: BN before the convs, kept
    ],
)
def test_optimize_for_inference_keeps_the_outputs(
    name: str, kwargs: dict[str, Any], norms_left: int | None
) -> None:
    from visionzoo.optimize import count_batch_norms, optimize_for_inference

    model = _random_model(name, **kwargs).eval()
    fast = optimize_for_inference(model)
    x = _x()
    with torch.no_grad():
        assert rel_err(fast(x), model(x)) < TOL
        a, b = fast.forward_intermediates(x, intermediates_only=True), model.forward_intermediates(x)[1]
    assert all(rel_err(i, j) < TOL for i, j in zip(a, b))
    before = count_batch_norms(model)
    if norms_left is None:
        assert 0 < count_batch_norms(fast) <= before
    else:
        assert count_batch_norms(fast) == norms_left


@pytest.mark.parametrize("num_classes", [None, 5])
def test_fcmae_trunk_only_weights_load(tmp_path: Path, num_classes: int | None) -> None:
    """The `fcmae` tags hold the pretrained trunk only (no head norm, no classifier): they load
    as the trunk, with the head's norm at its identity init, and under a new classifier."""
    trunk = {k: v for k, v in _random_model("convnextv2_atto", num_classes=0).state_dict().items()}
    trunk = {k: v for k, v in trunk.items() if not k.startswith("head.")}
    kwargs = {} if num_classes is None else dict(num_classes=num_classes)
    model = _load_file(tmp_path, "convnextv2_atto.fcmae", trunk, **kwargs)
    assert model.num_classes == (num_classes or 0)
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in trunk.items())
    assert torch.equal(loaded["head.norm.weight"], torch.ones(320))
    assert torch.equal(loaded["head.norm.bias"], torch.zeros(320))


@pytest.mark.parametrize("name", ["convnext_atto", "test_convnext"])
def test_optimize_folds_the_layer_scale(name: str) -> None:
    """The layer scale (`gamma`) moves into the MLP's last layer: the same outputs, one pass
    less per block; ConvNeXt-V2 (no layer scale) has nothing to fold."""
    from visionzoo.optimize import optimize_for_inference

    model = _random_model(name).eval()
    fast = optimize_for_inference(model, channels_last=False)
    blocks = [m for m in fast.modules() if isinstance(m, cnx.ConvNeXtBlock)]
    assert blocks and all(b.gamma is None for b in blocks)
    assert all(m.gamma is not None for m in model.modules() if isinstance(m, cnx.ConvNeXtBlock))
    x = _x()
    with torch.no_grad():
        assert rel_err(fast(x), model(x)) < 1e-5


def test_pycls_regnet_checkpoint_file_loads_by_path(tmp_path) -> None:
    """A pycls training file (``model_state`` beside ``epoch``) loads through checkpoint_path=."""
    model = _random_model("regnety_002")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    pycls = {}
    for key, value in state.items():
        for ours, theirs in _PYCLS_NAMES:
            key = key.replace(ours, theirs)
        pycls[key] = value.flip(1) if key == "stem.conv.weight" else value
    path = tmp_path / "RegNetY-200MF_dds_8gpu.pyth"
    torch.save({"model_state": pycls, "epoch": 100}, path)
    loaded = visionzoo.create_model("regnety_002", checkpoint_path=path)
    _assert_loaded(loaded, state)
