"""ConvNeXt (V1/V2): what is its own.

* numeric parity with timm (random weights, strict load) for the options the family sample
  (tests/sampling.py) does not reach: stems, norms and head layouts of names outside the sample,
  ``norm_eps``, GRN on channels-last blocks, head resets and pruning with ``prune_head``;
* checkpoint remaps: facebookresearch ConvNeXt(-V2), OpenCLIP towers, ``fcmae`` trunk-only tags;
* optimize_for_inference: the layer scale folded into the MLP.

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
from visionzoo.models import convnext as cnx

pytestmark = pytest.mark.family

TOL = 1e-4


def _x(size: int = 64, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(3))


def _build(name: str, *, meta: bool = False, **overrides: Any) -> nn.Module:
    return visionzoo.create_model(name, device="meta" if meta else "cpu", **overrides)


# --- ConvNeXt: numeric parity ---------------------------------------------------------------------
_SMALL = dict(depths=(1, 1, 2, 1), dims=(16, 32, 48, 64))

# the names outside the family sample whose option it lacks (the sample's own names, with the
# dilated stages of output_stride, are compared by test_parity.py / test_capabilities.py):
# name -> overrides (small widths where the named model is large)
CONVNEXT_CASES = {
    "convnext_atto": {},  # conv MLP + LayerNorm2d, patch stem
    "convnext_atto_ols": {},  # overlap_tiered stem
    "convnext_nano_ols": {},  # overlap stem
    "convnext_zepto_rms_ols": {},  # SimpleNorm2d, overlap_act stem
    "convnext_tiny": _SMALL,  # channels-last LayerNorm + nn.Linear MLP, layer scale
    "convnext_large_mlp": dict(**_SMALL, head_hidden_size=40),  # pool -> norm -> fc -> gelu -> fc
    "convnext_xxlarge": _SMALL,  # norm_eps 1e-5
    "convnextv2_tiny": _SMALL,  # GRN channels-last
}


@pytest.mark.parametrize("name", list(CONVNEXT_CASES))
def test_convnext_outputs_match_timm(name: str) -> None:
    ours, theirs = paired(name, **CONVNEXT_CASES[name])
    assert_pair_matches(ours, theirs, _x())


def test_convnext_head_options_match_timm() -> None:
    """Classifier reset (with and without the head's norm / hidden layer), unpooled heads and
    pruning follow timm's."""
    x = _x()
    for reset in [(5,), (0,), (7, "max"), (3, "", False), (0, None, True), (4, "avg", True)]:
        ours, theirs = paired("convnext_large_mlp", **_SMALL, head_hidden_size=40)
        ours.reset_classifier(*reset)
        theirs.reset_classifier(*reset)
        ours.head.load_state_dict(theirs.head.state_dict(), strict=True)
        assert ours.head_hidden_size == theirs.head_hidden_size, reset
        with torch.no_grad():
            assert rel_err(ours(x), theirs(x)) < TOL, reset
    for indices, prune_head in [(2, True), ([1], False), (4, False)]:
        ours, theirs = paired("convnext_tiny_hnf", **_SMALL)
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


def test_timm_layout_passes_through_the_remap() -> None:
    model = _random_model("test_convnext2")
    state = model.state_dict()
    assert cnx.checkpoint_filter_fn(dict(state), model).keys() == state.keys()


# --- optimize_for_inference -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "kwargs", "norms_left"),
    [
        ("convnext_atto", {}, 0),  # LayerNorms only: nothing to fold, channels_last / packing apply
        ("test_convnext", {}, 0),  # channels-last blocks (permute + nn.Linear)
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
