"""ResNet-V2 / BiT specifics: numeric parity with timm for each block and stem type (built from the
class, beyond the registered names: tiny depths, dilation, the hybrids' post-activation backbone),
weight standardisation, and the BiT ``.npz`` reader on a synthetic checkpoint. Registered names,
their configs and the generic contract are covered by the registry-wide suites."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from timm_oracle import materialize_random, paired_classes, rel_err
from torch import nn

from visionzoo.layers import (
    BatchNormAct2d,
    EvoNorm2dS0,
    FilterResponseNormTlu2d,
    GroupNormAct,
    StdConv2d,
    StdConv2dSame,
    create_conv2d,
)
from visionzoo.models import resnetv2 as rv

pytestmark = pytest.mark.family

_TINY = dict(layers=(1, 1, 1, 1), channels=(128, 128, 256, 256))  # group norm: 32 | every width


def _timm_layer(layer: Any) -> Any:
    """The timm layer that plays the role of one of ours (partials keep their keywords)."""
    from timm import layers as tl

    if isinstance(layer, partial):
        return partial(_timm_layer(layer.func), *layer.args, **layer.keywords)
    table = {
        StdConv2d: tl.StdConv2d,
        StdConv2dSame: tl.StdConv2dSame,
        create_conv2d: tl.create_conv2d,
        BatchNormAct2d: tl.BatchNormAct2d,
        GroupNormAct: tl.GroupNormAct,
        EvoNorm2dS0: tl.EvoNorm2dS0,
        FilterResponseNormTlu2d: tl.FilterResponseNormTlu2d,
    }
    return table.get(layer, layer)


def _pair(**kwargs: Any) -> tuple[nn.Module, nn.Module]:
    """timm's ResNetV2 with random weights, and ours with its state dict loaded strictly."""
    from timm.models.resnetv2 import ResNetV2 as TimmResNetV2

    theirs_kwargs = {k: _timm_layer(v) for k, v in kwargs.items()}
    return paired_classes(rv.ResNetV2, TimmResNetV2, theirs_kwargs=theirs_kwargs, **kwargs)


_BN = dict(conv_layer=create_conv2d, norm_layer=BatchNormAct2d)
_BASIC = dict(_BN, channels=(64, 128, 256, 512), basic=True, bottle_ratio=1.0)
# the layouts at an odd size (padding); EvoNorm-S0 and FRN + TLU norms: the family sample
# (resnetv2_50d_evos / _frn) in test_parity.py
CASES = {
    # pre-act bottleneck, weight-standardised convs + group norm, 'fixed' padded stem pool (BiT)
    "bit": dict(_TINY, stem_type="fixed", conv_layer=partial(StdConv2d, eps=1e-8)),
    # pre-act basic block, deep stem, average-pool shortcut, batch norm (resnetv2_18d)
    "basic_deep": dict(_BASIC, layers=(1, 1, 1, 1), stem_type="deep", avg_down=True),
    # pre-act bottleneck, tiered deep stem, batch norm (resnetv2_50t)
    "tiered": dict(_TINY, stem_type="tiered", avg_down=True, **_BN),
    # post-act bottleneck, TF 'same' padded convs and pool (the ViT hybrids' backbone)
    "hybrid_same": dict(
        layers=(1, 1, 1),
        channels=(128, 256, 256),
        preact=False,
        stem_type="same",
        conv_layer=partial(StdConv2dSame, eps=1e-8),
        num_classes=0,
        global_pool="",
    ),
    # dilated stages with average-pool shortcuts ('same' avg pool at stride 1)
    "dilated": dict(_TINY, output_stride=8, stem_type="deep", avg_down=True, **_BN),
}


@pytest.mark.parametrize("case", list(CASES))
def test_outputs_match_timm(case: str) -> None:
    ours, theirs = _pair(**CASES[case])
    x = torch.randn(2, 3, 67, 67, generator=torch.Generator().manual_seed(0))  # odd: exercises padding
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
        final, feats = ours.forward_intermediates(x)
        ref_final, ref_feats = theirs.forward_intermediates(x)
    assert rel_err(final, ref_final) < 1e-4
    assert [f.shape for f in feats] == [f.shape for f in ref_feats]
    assert all(rel_err(a, b) < 1e-4 for a, b in zip(feats, ref_feats))
    assert ours.feature_info == theirs.feature_info


@pytest.mark.parametrize("stop_early", [False, True])
def test_intermediates_norm_and_stop_early_match_timm(stop_early: bool) -> None:
    """The final norm goes onto the last stage's map with ``norm=True``, and onto the output of a
    pass that stops early at the last stage."""
    ours, theirs = _pair(**CASES["bit"])
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        got = ours.forward_intermediates(x, [2, 4], norm=True, stop_early=stop_early)
        want = theirs.forward_intermediates(x, [2, 4], norm=True, stop_early=stop_early)
    assert rel_err(got[0], want[0]) < 1e-4
    assert all(rel_err(a, b) < 1e-4 for a, b in zip(got[1], want[1]))
    with torch.no_grad():
        plain = ours.forward_intermediates(x, [4], intermediates_only=True)[0]
        normed = ours.norm(plain)
    assert rel_err(normed, got[1][-1]) < 1e-6 and rel_err(plain, got[1][-1]) > 1e-3


@pytest.mark.parametrize("level", [0, 2])
def test_pruned_trunk_matches_timm(level: int) -> None:
    ours, theirs = _pair(**CASES["basic_deep"])
    assert ours.prune_intermediate_layers([level]) == theirs.prune_intermediate_layers([level])
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
    assert ours.state_dict().keys() == theirs.state_dict().keys()


def test_weight_standardisation() -> None:
    """Each filter used in the forward has zero mean and unit variance over its fan-in, so scaling
    or shifting the stored weights leaves the output unchanged."""
    conv = StdConv2d(4, 6, 3, eps=1e-10)
    x = torch.randn(2, 4, 9, 9)
    with torch.no_grad():
        out = conv(x)
        conv.weight.mul_(7.0).add_(3.0)
        assert torch.allclose(conv(x), out, atol=1e-4)
    ref_w = conv.weight - conv.weight.mean(dim=(1, 2, 3), keepdim=True)
    ref_w = ref_w / ref_w.pow(2).mean(dim=(1, 2, 3), keepdim=True).sqrt()
    ref = torch.nn.functional.conv2d(x, ref_w, padding=1)
    assert torch.allclose(out, ref, atol=1e-4)


def test_std_conv_same_rejects_other_padding() -> None:
    with pytest.raises(ValueError, match="padding=1"):
        StdConv2dSame(3, 8, 3, padding=1)  # type: ignore[arg-type]


def test_bad_stem_type_is_named() -> None:
    with pytest.raises(ValueError, match="'deepest'"):
        rv.ResNetV2(stem_type="deepest")


# --- BiT .npz -------------------------------------------------------------------------------------
def _write_bit_npz(path: Path, model: rv.ResNetV2, *, prefix: str = "resnet/", drop: str = "") -> None:
    """Write ``model``'s weights in Google's BiT layout (HWIO kernels, ``group_norm/gamma`` ...)."""

    def hwio(t: torch.Tensor) -> np.ndarray:
        return t.detach().permute(2, 3, 1, 0).numpy() if t.ndim == 4 else t.detach().numpy()

    sd = model.state_dict()
    arrays = {
        "root_block/standardized_conv2d/kernel": hwio(sd["stem.conv.weight"]),
        "group_norm/gamma": hwio(sd["norm.weight"]),
        "group_norm/beta": hwio(sd["norm.bias"]),
        "head/conv2d/kernel": hwio(sd["head.fc.weight"]),
        "head/conv2d/bias": hwio(sd["head.fc.bias"]),
    }
    for s, stage in enumerate(model.stages):
        for u, block in enumerate(stage.blocks):
            unit, key = f"block{s + 1}/unit{u + 1:02d}/", f"stages.{s}.blocks.{u}."
            for i, part in enumerate("abc", start=1):
                arrays[f"{unit}{part}/standardized_conv2d/kernel"] = hwio(sd[f"{key}conv{i}.weight"])
                arrays[f"{unit}{part}/group_norm/gamma"] = hwio(sd[f"{key}norm{i}.weight"])
                arrays[f"{unit}{part}/group_norm/beta"] = hwio(sd[f"{key}norm{i}.bias"])
            if block.downsample is not None:
                arrays[f"{unit}a/proj/standardized_conv2d/kernel"] = hwio(sd[f"{key}downsample.conv.weight"])
    np.savez(path, **{prefix + k: v for k, v in arrays.items() if k != drop})


def _bit(**kwargs: Any) -> rv.ResNetV2:
    return materialize_random(rv.ResNetV2(**{**CASES["bit"], "num_classes": 10, **kwargs}))


def test_bit_npz_loads_into_an_equal_model(tmp_path: Path) -> None:
    source = _bit()
    path = tmp_path / "BiT-M-R50x1.npz"
    _write_bit_npz(path, source)
    target = rv.ResNetV2(**{**CASES["bit"], "num_classes": 10}).eval()
    target.load_pretrained(path)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(target(x), source(x))


def test_bit_npz_other_head_and_in_chans(tmp_path: Path) -> None:
    source = _bit()
    path = tmp_path / "bit.npz"
    _write_bit_npz(path, source)
    target = rv.ResNetV2(**{**CASES["bit"], "num_classes": 5, "in_chans": 1})
    head_before = target.head.fc.weight.clone()
    rv.load_bit_npz(target, path)
    assert torch.equal(target.head.fc.weight, head_before)  # 10-class head not forced onto 5
    summed = source.stem.conv.weight.sum(dim=1, keepdim=True)
    assert torch.allclose(target.stem.conv.weight, summed)
    assert torch.equal(target.norm.weight, source.norm.weight)


def test_bit_npz_missing_array_is_named(tmp_path: Path) -> None:
    path = tmp_path / "bit.npz"
    _write_bit_npz(path, _bit(), drop="block2/unit01/b/group_norm/beta")
    with pytest.raises(KeyError, match="block2/unit01/b/group_norm/beta"):
        rv.load_bit_npz(rv.ResNetV2(**{**CASES["bit"], "num_classes": 10}), path)


def test_bit_npz_rejects_other_files(tmp_path: Path) -> None:
    model = rv.ResNetV2(**{**CASES["bit"], "num_classes": 10})
    not_npz = tmp_path / "model.pth"
    torch.save(model.state_dict(), not_npz)
    with pytest.raises(ValueError, match="model.pth"):
        rv.load_bit_npz(model, not_npz)
    other_layout = tmp_path / "vit.npz"
    np.savez(other_layout, **{"embedding/kernel": np.zeros((16, 16, 3, 8), np.float32)})
    with pytest.raises(ValueError, match="not a BiT checkpoint"):
        rv.load_bit_npz(model, other_layout)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, **{"resnet/root_block/standardized_conv2d/kernel": np.array([{"x": 1}], dtype=object)})
    with pytest.raises(ValueError, match="pickled.npz"):  # object arrays need pickle: refused
        rv.load_bit_npz(model, pickled)


def test_filter_fn_maps_npz_arrays_read_as_tensors(tmp_path: Path) -> None:
    """The family's checkpoint remap takes an ``.npz`` read into tensors (as the hub reads one)."""
    source = _bit()
    path = tmp_path / "bit.npz"
    _write_bit_npz(path, source)
    with np.load(path, allow_pickle=False) as archive:
        tensors = {k: torch.from_numpy(archive[k]) for k in archive.files}
    target = rv.ResNetV2(**{**CASES["bit"], "num_classes": 10})
    target.load_state_dict(rv.checkpoint_filter_fn(tensors, target), strict=True)
    for key, value in source.state_dict().items():
        assert torch.equal(target.state_dict()[key], value), key
    plain = source.state_dict()
    assert rv.checkpoint_filter_fn(plain, target) is plain  # timm's layout passes through


def test_create_model_loads_a_bit_npz_file(tmp_path: Path) -> None:
    """A registered BiT name built with an original ``.npz`` as its weight file: the hub reads the
    arrays, the family's filter maps them, the builder loads them strictly."""
    import visionzoo

    small = dict(layers=(1, 1, 1, 1), channels=(128, 128, 256, 256))
    source = materialize_random(visionzoo.create_model("resnetv2_50x1_bit", device="meta", **small))
    path = tmp_path / "BiT-M-R50x1.npz"
    _write_bit_npz(path, source)
    model = visionzoo.create_model(
        "resnetv2_50x1_bit", pretrained=True, pretrained_cfg_overlay=dict(file=str(path)), **small
    )
    for key, value in source.state_dict().items():
        assert torch.equal(model.state_dict()[key], value), key


# --- timm's stem helpers (issue 25) ---------------------------------------------------------------
@pytest.mark.parametrize("stem_type", ["", "fixed", "same", "deep", "deep_fixed", "deep_same", "tiered"])
@pytest.mark.parametrize("preact", [True, False])
def test_create_resnetv2_stem_is_timms(stem_type: str, preact: bool) -> None:
    from timm.models import resnetv2 as timm_resnetv2

    from visionzoo.models import resnetv2

    assert resnetv2.is_stem_deep(stem_type) == timm_resnetv2.is_stem_deep(stem_type)
    ours = resnetv2.create_resnetv2_stem(3, 256, stem_type, preact).eval()  # (tiered: 96, 128 wide)
    theirs = timm_resnetv2.create_resnetv2_stem(3, 256, stem_type, preact).eval()
    assert [(n, type(m).__name__) for n, m in ours.named_children()] == [
        (n, type(m).__name__) for n, m in theirs.named_children()
    ]
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(1, 3, 31, 31)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-5  # (StdConv2d's standardisation: float rounding)
