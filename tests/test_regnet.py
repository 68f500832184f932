"""RegNet: what is its own.

* numeric parity with timm (random weights, strict load) for the options the family sample
  (tests/sampling.py) does not reach: torchvision's width rounding, RegNet-Z without a final
  conv; pruning with and without the head;
* the width generator against published stage widths;
* checkpoint remaps: torchvision, pycls (also as a training file by path), classy-vision / SEER;
* optimize_for_inference: conv -> BN folding, pre-activation norms kept.

(Checkpointing, ``output_stride``, outputs and intermediates of the sampled names against timm:
test_capabilities.py and test_parity.py.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from timm_oracle import assert_pair_matches, materialize_random, paired, rel_err
from torch import nn

import visionzoo
from visionzoo.models import regnet as rg

pytestmark = pytest.mark.family

TOL = 1e-4


def _x(size: int = 64, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(3))


# --- RegNet: numeric parity -----------------------------------------------------------------------
_TINY = dict(w0=24, wa=36.44, wm=2.49, group_size=8, depth=13)  # regnetx_002's stages

# the options the family sample lacks (its names -- X, Y, Z with a final conv, V, GroupNorm + SiLU,
# the avg-pool shortcut -- and their dilated stages are compared by test_parity.py /
# test_capabilities.py): name -> overrides (small widths where the named model is large)
REGNET_CASES = {
    "regnetx_004_tv": {},  # torchvision's width rounding
    "regnetz_040": dict(w0=16, wa=10.7, wm=2.51, group_size=4, depth=21),  # RegNet-Z, no final conv
}


@pytest.mark.parametrize("name", list(REGNET_CASES))
def test_regnet_outputs_match_timm(name: str) -> None:
    ours, theirs = paired(name, **REGNET_CASES[name])
    assert_pair_matches(ours, theirs, _x())


@pytest.mark.parametrize(("indices", "prune_head"), [(2, True), (5, False), (5, True), ([0, 3], False)])
def test_regnet_pruning_matches_timm(indices: Any, prune_head: bool) -> None:
    x = _x()
    ours, theirs = paired("regnetz_005")
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


def test_timm_layout_passes_through_the_remap() -> None:
    model = _random_model("regnetx_002")
    state = model.state_dict()
    assert rg.checkpoint_filter_fn(dict(state), model).keys() == state.keys()


# --- optimize_for_inference -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "kwargs", "norms_left"),
    [
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


# --- timm's RegNetCfg and width / shortcut helpers (issue 25) ------------------------------------
def _layout(module: nn.Module | None) -> list[tuple[str, str, tuple[int, ...]]]:
    if module is None:
        return []
    params = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    return [(n, type(m).__name__, params.get(f"{n}.weight", ())) for n, m in module.named_modules()]


@pytest.mark.parametrize("name", ["regnetx_002", "regnety_008_tv", "regnetz_005", "regnetv_040"])
def test_regnet_cfg_builds_timms_regnet(name: str) -> None:
    """``RegNet(cfg)`` as timm's, a keyword overriding the cfg's field; same fields and defaults."""
    import dataclasses

    from timm.models import regnet as timm_regnet

    assert dataclasses.asdict(rg.RegNetCfg()) == dataclasses.asdict(timm_regnet.RegNetCfg())
    theirs_cfg = timm_regnet.model_cfgs[name]
    cfg = rg.RegNetCfg(**dataclasses.asdict(theirs_cfg))
    theirs = timm_regnet.RegNet(theirs_cfg, num_classes=10).eval()
    ours = rg.RegNet(cfg, num_classes=10).eval()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))
    over = dict(stem_width=16, se_ratio=0.5, num_classes=3)
    shapes = [{k: v.shape for k, v in m.state_dict().items()} for m in (rg.RegNet(cfg, **over), theirs)]
    assert shapes[0] == {k: v.shape for k, v in timm_regnet.RegNet(theirs_cfg, **over).state_dict().items()}
    assert shapes[0] != shapes[1]  # the keywords did override the cfg
    with pytest.raises(TypeError, match="cfg must be a RegNetCfg, got"):
        rg.RegNet(dataclasses.asdict(cfg))  # type: ignore[arg-type]


def test_regnet_width_helpers_are_timms() -> None:
    from timm.models import regnet as timm_regnet

    for args in [(36.44, 24, 2.49, 13, 8), (42.63, 80, 2.66, 21, 24, 8), (17.5, 48, 2.1, 9, 16, 16)]:
        assert rg.generate_regnet(*args) == timm_regnet.generate_regnet(*args)
    widths = sorted(set(timm_regnet.generate_regnet(36.44, 24, 2.49, 13, 8)[0]))
    for ratio, min_ratio in [(1.0, 0.0), (0.25, 0.0), (0.25, 0.9), (4.0, 0.9)]:
        args = (widths, [ratio] * len(widths), [24] * len(widths), min_ratio)
        assert rg.adjust_widths_groups_comp(*args) == timm_regnet.adjust_widths_groups_comp(*args)
    assert [rg.quantize_float(f, 8) for f in (3.9, 4.0, 37.4, 100.0)] == [
        timm_regnet.quantize_float(f, 8) for f in (3.9, 4.0, 37.4, 100.0)
    ]
    with pytest.raises(ValueError, match="w0 > 0 a multiple of 8; got w0=12"):
        rg.generate_regnet(30.0, 12, 2.5, 10, 8)


@pytest.mark.parametrize("kind", ["avg", "conv1x1", "", None])
@pytest.mark.parametrize("preact", [False, True])
def test_regnet_create_shortcut_is_timms(kind: str | None, preact: bool) -> None:
    from timm.models import regnet as timm_regnet

    for in_chs, stride, dilation in [(16, 1, (1, 1)), (8, 2, (1, 1)), (8, 1, (1, 2)), (8, 1, (2, 2))]:
        args = (kind, in_chs, 16, 1, stride, dilation)
        ours = rg.create_shortcut(*args, preact=preact)
        assert _layout(ours) == _layout(timm_regnet.create_shortcut(*args, preact=preact))
    for fn in ("downsample_avg", "downsample_conv"):
        for k, stride, dilation in [(1, 2, 1), (3, 2, 1), (3, 1, 2)]:
            ours, theirs = (
                getattr(rg, fn)(8, 16, k, stride, dilation),
                getattr(timm_regnet, fn)(8, 16, k, stride, dilation),
            )
            assert _layout(ours) == _layout(theirs)
            x = torch.randn(1, 8, 9, 9)
            ours.load_state_dict(theirs.state_dict())
            with torch.no_grad():
                assert torch.equal(ours.eval()(x), theirs.eval()(x))
    with pytest.raises(ValueError, match="downsample_type must be one of"):
        rg.create_shortcut("max", 8, 16, 1, 2)
