"""ConvNeXt (V1/V2) and RegNet: what is their own, and parity with timm until the shared suites
reach them.

* numeric parity with timm (random weights, strict state-dict load) for one small model of each
  block type / option set: norm kinds, stems, GRN, head layouts, kernel sizes, output strides;
* structure and cfgs for every architecture timm registers in these modules;
* checkpoint remaps: facebookresearch ConvNeXt, OpenCLIP, torchvision / pycls / classy RegNet;
* the RegNet width generator against published stage widths.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import torch
from timm_oracle import rel_err, timm, timm_model
from torch import nn

from visionzoo.models import convnext as cnx
from visionzoo.pretrained import as_pretrained_cfg

pytestmark = pytest.mark.family

TOL = 1e-4


def _x(size: int = 64, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(3))


def _args(module: Any, name: str, **overrides: Any) -> dict[str, Any]:
    args = dataclasses.replace(module.VARIANTS[name], **overrides)
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(args)}


def _build(
    module: Any, cls: type[nn.Module], name: str, *, meta: bool = False, **overrides: Any
) -> nn.Module:
    with torch.device("meta" if meta else "cpu"):
        return cls(**_args(module, name, **overrides))


def _paired(module: Any, cls: type[nn.Module], name: str, **overrides: Any) -> tuple[nn.Module, nn.Module]:
    """timm's ``name`` with random weights and ours holding the same weights (strict load)."""
    theirs = timm_model(name, **overrides)
    ours = _build(module, cls, name, **overrides).eval()
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
    ours, theirs = _paired(cnx, cnx.ConvNeXt, name, **CONVNEXT_CASES[name])
    _assert_same_outputs(ours, theirs, _x())


@pytest.mark.parametrize("output_stride", [8, 16])
def test_convnext_output_stride_matches_timm(output_stride: int) -> None:
    ours, theirs = _paired(cnx, cnx.ConvNeXt, "convnext_atto", output_stride=output_stride)
    _assert_same_outputs(ours, theirs, _x())
    with torch.no_grad():
        assert ours.forward_features(_x()).shape[-1] == 64 // output_stride


def test_convnext_head_options_match_timm() -> None:
    """Classifier reset (with and without the head's norm / hidden layer), unpooled heads and
    pruning follow timm's."""
    x = _x()
    for reset in [(5,), (0,), (7, "max"), (3, "", False), (0, None, True), (4, "avg", True)]:
        ours, theirs = _paired(cnx, cnx.ConvNeXt, "convnext_large_mlp", **_SMALL, head_hidden_size=40)
        ours.reset_classifier(*reset)
        theirs.reset_classifier(*reset)
        ours.head.load_state_dict(theirs.head.state_dict(), strict=True)
        assert ours.head_hidden_size == theirs.head_hidden_size, reset
        with torch.no_grad():
            assert rel_err(ours(x), theirs(x)) < TOL, reset
    for indices, prune_head in [(2, True), ([1], False), (4, False)]:
        ours, theirs = _paired(cnx, cnx.ConvNeXt, "convnext_tiny_hnf", **_SMALL)
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
    model = _build(cnx, cnx.ConvNeXt, "test_convnext2").train()
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


# --- structure and cfgs of every timm name --------------------------------------------------------
def _timm_cfgs(arch: str) -> dict[str, dict[str, Any]]:
    from timm.models._registry import _model_pretrained_cfgs, _model_with_tags

    return {n: _model_pretrained_cfgs[n].to_dict() for n in _model_with_tags[arch]}


def _table_cfgs(module: Any, arch: str) -> dict[str, dict[str, Any]]:
    """The cfgs the family tables declare for ``arch``, default tag first, as timm dicts."""
    timm_fields = {f.name for f in dataclasses.fields(timm.models.PretrainedCfg)}
    base = dict(url="", hf_hub_id="timm/", **module.CFG_DEFAULTS)
    entries = [(k, dict(v)) for k, v in module.WEIGHTS.items() if k.partition(".")[0] == arch]
    defaults = [k for k, v in entries if v.get("default")]
    assert len(defaults) == (1 if len(entries) > 1 else 0) or defaults == [entries[0][0]], (arch, defaults)
    entries.sort(key=lambda kv: not kv[1].pop("default", False))
    out = {}
    for key, fields in entries:
        cfg = as_pretrained_cfg({**base, **fields})
        hub = f"{cfg.hf_hub_id}{key}" if cfg.hf_hub_id == "timm/" else cfg.hf_hub_id
        cfg = cfg.replace(architecture=arch, tag=key.partition(".")[2], hf_hub_id=hub)
        out[key] = {k: v for k, v in cfg.to_dict().items() if k in timm_fields}
    return out


@pytest.mark.parametrize(("module", "cls_name"), [(cnx, "ConvNeXt")], ids=["convnext"])
def test_every_timm_name_has_timms_structure_and_cfgs(module: Any, cls_name: str) -> None:
    short = module.__name__.rpartition(".")[2]
    names = timm.list_models(module=short)
    assert sorted(module.VARIANTS) == sorted(names)
    assert {k.partition(".")[0] for k in module.WEIGHTS} == set(names)
    assert timm.models.get_deprecated_models(short) == module.DEPRECATED
    cls = getattr(module, cls_name)
    for name in names:
        ours = _build(module, cls, name, meta=True)
        with torch.device("meta"):
            theirs = timm.create_model(name)
        shapes = {k: tuple(v.shape) for k, v in ours.state_dict().items()}
        assert shapes == {k: tuple(v.shape) for k, v in theirs.state_dict().items()}, name
        assert ours.feature_info == theirs.feature_info, name
        assert list(_table_cfgs(module, name).items()) == list(_timm_cfgs(name).items()), name
