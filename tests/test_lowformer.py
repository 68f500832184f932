"""LowFormer specifics the registry-wide suites do not reach: the authors' checkpoint layout
(``backbone`` / ``op_list`` / ``total``), options no registered name sets and the head's
per-position form without pooling, its reset and pruning, each against timm on tiny builds."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm_oracle import assert_pair_matches, assert_pruned_like_timm, paired_classes, rel_err
from torch import nn

from visionzoo.models.lowformer import LowFormer, checkpoint_filter_fn

pytestmark = pytest.mark.family

TINY = dict(width_list=(8, 16, 24, 32, 64), depth_list=(1, 1, 2, 1, 2), head_widths=(32, 48), num_classes=10)


def _x(size: int = 64, seed: int = 3) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed))


def _timm() -> type[nn.Module]:
    from timm.models.lowformer import LowFormer as TimmLowFormer

    return TimmLowFormer


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(fused_conv=False, expand_groups=2, attn_mlp_ratio=2),
        dict(expand_ratio=3, stem_expand_ratio=1, act_layer=nn.GELU),
        dict(attn=False),  # an MLP branch without attention
        dict(attn_mlp=False, depth_list=(0, 0, 1, 1, 1)),  # an empty conv stage keeps the resolution
        dict(global_pool="max"),
    ],
)
def test_options_match_timm(kwargs: dict[str, Any]) -> None:
    ours, theirs = paired_classes(LowFormer, _timm(), **{**TINY, **kwargs})
    assert_pair_matches(ours, theirs, _x(48))


def test_unpooled_head_runs_per_position_like_timm() -> None:
    ours, theirs = paired_classes(LowFormer, _timm(), **TINY, global_pool="")
    x = _x(64)
    with torch.no_grad():
        out = ours(x)
        assert out.shape == (2, 10, 2, 2) and rel_err(out, theirs(x)) < 1e-5
        pre = ours.forward_head(ours.forward_features(x), pre_logits=True)
        assert pre.shape == (2, 48, 2, 2)


def test_widening_pool_is_refused() -> None:
    with pytest.raises(ValueError, match="catavgmax"):
        LowFormer(**TINY, global_pool="catavgmax")
    model = LowFormer(**TINY)
    with pytest.raises(ValueError, match="catavgmax"):
        model.reset_classifier(5, "catavgmax")


def test_dropout_only_in_training() -> None:
    ours, theirs = paired_classes(LowFormer, _timm(), **TINY, drop_rate=0.5, proj_drop_rate=0.5)
    x = _x(32)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-5
        ours.train()
        assert not torch.equal(ours(x), ours(x))


def test_drop_path_rates_like_timm() -> None:
    """A linear ramp over the counted blocks; the downsampling bodies (no shortcut) drop nothing."""
    ours, theirs = paired_classes(LowFormer, _timm(), **TINY, drop_path_rate=0.3)

    def rates(model: nn.Module) -> list[tuple[str, float]]:
        return [(n, m.drop_prob) for n, m in model.named_modules() if type(m).__name__ == "DropPath"]

    assert rates(ours) == rates(theirs) and len(rates(ours)) > 4


@pytest.mark.parametrize("level", [1, 3])
def test_pruned_like_timm(level: int) -> None:
    ours, theirs = paired_classes(LowFormer, _timm(), **TINY)
    assert_pruned_like_timm(ours, theirs, level, _x(32))
    # the head's conv and MLP went with it; the pooling stays, as timm's
    assert isinstance(ours.in_conv, nn.Identity) and isinstance(ours.pre_classifier, nn.Identity)
    with torch.no_grad():
        assert rel_err(ours(_x(32)), theirs(_x(32))) < 1e-5
        assert ours(_x(32)).shape == (2, ours.feature_info[level]["num_chs"])


def test_reset_other_like_timm() -> None:
    ours, theirs = paired_classes(LowFormer, _timm(), **TINY)
    ours.reset_classifier(7, reset_other=True)
    theirs.reset_classifier(7, reset_other=True)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.head_hidden_size == theirs.head_hidden_size == 64
    assert ours(_x(32)).shape == (2, 7)


def _original(key: str, *, mlp: bool) -> str:
    """Our key in the authors' layout: ``backbone`` trunk, ``op_list`` sequences, a block's
    branches in ``total`` (``((attention, mlp), local)``, or ``(attention, local)``), two convs
    wrapped in sequences, the head an ``op_list``."""
    for ours, theirs in (
        ("in_conv.", "head.op_list.0."),
        ("pre_classifier.0.", "head.op_list.2.linear."),
        ("pre_classifier.1.", "head.op_list.2.norm."),
        ("classifier.", "head.op_list.3.linear."),
    ):
        if key.startswith(ours):
            return theirs + key[len(ours) :]
    for ours, theirs in (
        (".attn.", ".total.0.0." if mlp else ".total.0."),
        (".mlp.", ".total.0.1."),
        (".local.", ".total.1."),
        (".conv_proj.conv.", ".conv_proj.0."),
        (".conv_proj.norm.", ".conv_proj.1."),
        (".pwise.", ".pwise.0."),
    ):
        key = key.replace(ours, theirs)
    parts = key.split(".")
    if parts[0] == "stem":
        return ".".join(["backbone.input_stem.op_list", *parts[1:]])
    return ".".join(["backbone.stages", parts[1], "op_list", *parts[2:]])


@pytest.mark.parametrize("mlp", [True, False])
def test_original_checkpoint_remap(mlp: bool) -> None:
    ours, theirs = paired_classes(LowFormer, _timm(), **TINY, attn_mlp=mlp)
    ref = theirs.state_dict()
    original = {_original(k, mlp=mlp): v for k, v in ref.items()}
    assert "stem.0.conv.weight" not in original and any(".total." in k for k in original)
    remapped = checkpoint_filter_fn({"state_dict": original}, ours)
    assert remapped.keys() == ref.keys() and all(torch.equal(remapped[k], ref[k]) for k in ref)
    # the TorchScript export names the head ``head.opseq``
    exported = {k.replace("head.op_list.", "head.opseq.op_list."): v for k, v in original.items()}
    assert checkpoint_filter_fn(exported, ours).keys() == ref.keys()
    assert checkpoint_filter_fn(ref, ours) is ref  # ours pass through
    model = LowFormer(**TINY, attn_mlp=mlp).eval()
    model.load_state_dict(remapped, strict=True)
    with torch.no_grad():
        assert rel_err(model(_x(32)), theirs(_x(32))) < 1e-5
