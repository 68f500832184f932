"""Generic behaviour, tested once over the registry and gated by capability.

A capability is what a model's constructor accepts (``output_stride``, ``drop_path_rate``) or what
the model has (a minimum input size); every model has gradient checkpointing, intermediates and
pruning. Where timm has the architecture, its model is the oracle. These tests run real passes,
so they take each family's sample in CI and every name with ``VISIONZOO_FULL=1`` (sampling.py).
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import itertools
import math

import pytest
import torch
from helpers import (
    assert_feature_widths,
    classes_kwargs,
    features_close,
    features_sum,
    has_classifier,
    input_side,
    min_input_side,
)
from sampling import create, sampled_kwargs
from timm_oracle import materialize_random, rel_err, timm, timm_model, timm_on_meta
from torch import nn

import visionzoo
from visionzoo.builder import load_state_dict_into

pytestmark = pytest.mark.contract

NAMES = visionzoo.list_models()
TIMM_NAMES = set(timm.list_models())
TOL = 1e-4  # outputs to 1e-4 relative, as the parity suite
IN_TIMM = [n for n in NAMES if n in TIMM_NAMES]
SIZE = 64


def _x(size: int = SIZE, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(3))


def _accepts(name: str, kwarg: str) -> bool:
    model = visionzoo.create_model(name, device="meta")
    return kwarg in inspect.signature(type(model).__init__).parameters


def _random(name: str, **kwargs) -> nn.Module:
    return materialize_random(create(name, device="meta", **kwargs))


def _pair(name: str, **kwargs) -> tuple[nn.Module, nn.Module]:
    """timm's model with random weights and ours loaded from it (strict), both in eval mode."""
    theirs = timm_model(name, **{**sampled_kwargs(name), **kwargs})
    ours = create(name, device="meta", **kwargs)
    load_state_dict_into(ours, theirs.state_dict(), strict=True)
    return ours.eval(), theirs


# --- gradient checkpointing -----------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.sampled
def test_grad_checkpointing_gives_the_same_gradients(name: str) -> None:
    model = _random(name, **classes_kwargs(name, 3)).train()
    x = _x(input_side(model, 32))
    calls = []
    for m in model.modules():
        m.register_forward_pre_hook(lambda *_: calls.append(1))

    def grads(checkpointing: bool, intermediates: bool) -> tuple[dict[str, torch.Tensor], int]:
        model.zero_grad()
        model.set_grad_checkpointing(checkpointing)
        calls.clear()
        torch.manual_seed(0)  # the same dropout masks in both passes (SENet, ReXNet: drop_rate=0.2)
        if intermediates:
            final, inters = model.forward_intermediates(x)
            loss = features_sum(final) + features_sum(inters)
        else:
            loss = features_sum(model(x))
        loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}, len(calls)

    for intermediates in (False, True):
        state = copy.deepcopy(model.state_dict())  # train-mode BN statistics move on every pass
        plain, plain_calls = grads(False, intermediates)
        model.load_state_dict(state)
        ckpt, ckpt_calls = grads(True, intermediates)
        # recomputed in backward: modules really were checkpointed
        assert ckpt_calls > plain_calls, f"nothing recomputed (intermediates={intermediates})"
        if not intermediates:  # (intermediates skip the head, which may hold more than the classifier)
            assert {n for n, _ in model.named_parameters()} <= set(plain)
        assert set(plain) == set(ckpt)
        for n in plain:
            torch.testing.assert_close(ckpt[n], plain[n], rtol=1e-4, atol=1e-6, msg=n)
    model.set_grad_checkpointing(False)


def _timm_accepts(name: str, **kwargs) -> bool:
    """Whether timm builds ``name`` with ``kwargs`` (timm's MobileNetV3 takes no output_stride; its
    DLA and VoVNet take one but assert it is 32)."""
    try:
        timm_on_meta(name, **kwargs)
    except (TypeError, AssertionError):
        return False
    return True


def _timm_refuses_value(name: str, **kwargs) -> bool:
    """Whether timm takes the ``kwargs`` but refuses their values (timm's VGG asserts
    ``output_stride == 32``)."""
    try:
        timm_on_meta(name, **kwargs)
    except (AssertionError, ValueError):
        return True
    except TypeError:
        return False
    return False


# --- output_stride --------------------------------------------------------------------------------
def _max_dilation(model: nn.Module) -> int:
    return max(m.dilation[0] for m in model.modules() if isinstance(m, nn.Conv2d) and m.kernel_size[0] > 1)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("output_stride", [16, 8])
@pytest.mark.sampled
def test_output_stride(name: str, output_stride: int) -> None:
    if not _accepts(name, "output_stride"):
        pytest.skip("the constructor takes no output_stride")
    if name in TIMM_NAMES and _timm_refuses_value(name, output_stride=output_stride):
        # timm takes the argument but supports only its default (VGG, DLA, VoVNet): we refuse it
        # as clearly, or (DLA, VoVNet here) dilate, which the generic checks below then hold to
        try:
            create(name, output_stride=output_stride, device="meta")
        except ValueError as e:
            assert "output_stride" in str(e)
            return
    default = create(name, device="meta")
    stride = max(f["reduction"] for f in default.feature_info)
    model = _random(name, output_stride=output_stride)
    assert max(f["reduction"] for f in model.feature_info) == output_stride
    assert [f["num_chs"] for f in model.feature_info] == [f["num_chs"] for f in default.feature_info]
    expected = _max_dilation(default) * stride // output_stride
    if name in TIMM_NAMES:  # (a last stage of one strided block keeps the previous dilation)
        # timm's model takes no output_stride (or asserts 32): the generic rule
        with contextlib.suppress(TypeError, AssertionError):
            expected = _max_dilation(timm_on_meta(name, output_stride=output_stride))
    assert _max_dilation(model) == expected
    side = input_side(model, SIZE)  # (attention over fixed maps or blocks needs its own sizes)
    x = _x(side)
    with torch.no_grad():
        feats = model.forward_features(x)
        assert feats.shape[-1] == math.ceil(side / output_stride)
        inters = model.forward_intermediates(x, intermediates_only=True)
        assert_feature_widths(
            [t.shape[-1] for t in inters],
            [f["reduction"] for f in model.feature_info],
            model,
            side,
            lambda s: [t.shape[-1] for t in model.forward_intermediates(_x(s), intermediates_only=True)],
        )
    if name in TIMM_NAMES and _timm_accepts(name, output_stride=output_stride):
        ours, theirs = _pair(name, output_stride=output_stride)
        with torch.no_grad():
            assert rel_err(ours.forward_features(x), theirs.forward_features(x)) < 1e-4
            assert rel_err(ours(x), theirs(x)) < 1e-4
        assert [(f["num_chs"], f["reduction"]) for f in ours.feature_info] == [
            (f["num_chs"], f["reduction"]) for f in theirs.feature_info
        ]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.sampled
def test_output_stride_rejects_other_values(name: str) -> None:
    if not _accepts(name, "output_stride"):
        pytest.skip("the constructor takes no output_stride")
    with pytest.raises(ValueError, match="output_stride"):
        create(name, output_stride=3, device="meta")


# --- drop path ------------------------------------------------------------------------------------
def _drop_path_rates(model: nn.Module) -> list[tuple[str, float]]:
    return [(n, float(m.drop_prob)) for n, m in model.named_modules() if type(m).__name__ == "DropPath"]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.sampled
def test_drop_path_rates_rise_linearly_over_the_blocks(name: str) -> None:
    if not _accepts(name, "drop_path_rate"):
        pytest.skip("the constructor takes no drop_path_rate")
    default = [p for _, p in _drop_path_rates(create(name, device="meta"))]
    recipe = (
        [p for _, p in _drop_path_rates(timm_on_meta(name, **sampled_kwargs(name)))]
        if name in TIMM_NAMES
        else []
    )
    if any(recipe):  # a variant that sets its training recipe's rate, as timm's does (FasterNet)
        assert default == pytest.approx(recipe, abs=1e-6)
    else:
        assert all(p == 0 for p in default)
    rate = 0.2
    model = create(name, drop_path_rate=rate, device="meta")
    mine = _drop_path_rates(model)
    assert mine, "drop_path_rate builds no DropPath"
    if model.drop_path_schedule == "uniform":  # timm gives every block the full rate (MLP-Mixer, CaiT)
        assert all(p == rate for _, p in mine)
        return
    # the linear rule: block i of n drops with rate * i / (n - 1) (or / n), in block order (the first
    # block, at rate 0, may have no DropPath at all)
    # one rate per block (a transformer block has two DropPaths, at the same rate)
    # blocks without a residual (RepVGG's strided ones) have no DropPath: their rates are skipped,
    # so consecutive rates differ by whole steps
    # (CPUBone's block has three residual branches, each its DropPath): equal neighbours are one
    # DropPaths a model declares at a fixed share of their block's rate (Next-ViT's transformer
    # blocks split it between their two token mixers) are left out of the rule, not of timm's check
    scaled = getattr(model, "scaled_drop_paths", ())
    ruled = [(n, p) for n, p in mine if n.rsplit(".", 1)[-1] not in scaled]
    rates = [p for i, (_, p) in enumerate(ruled) if i == 0 or p != ruled[i - 1][1]]
    diffs = [b - a for a, b in itertools.pairwise(rates)]
    step = min(diffs) if diffs else rate
    assert rate * 0.5 <= rates[-1] <= rate + 1e-6  # rate * (n - 1) / n where the rule divides by n
    assert step > 0
    steps = [d / step for d in [rates[0], *diffs]]
    assert steps == pytest.approx([round(k) for k in steps], abs=1e-3)
    assert all(round(k) >= 1 for k in steps[1:])
    if name in TIMM_NAMES:
        theirs = timm_on_meta(name, **sampled_kwargs(name), drop_path_rate=rate)
        ref = _drop_path_rates(theirs)
        assert [n for n, _ in mine] == [n for n, _ in ref]
        assert [p for _, p in mine] == pytest.approx([p for _, p in ref], abs=1e-6)


# --- forward_intermediates and pruning against timm -----------------------------------------------
def _as_list(indices: object) -> list[int]:
    return list(indices) if isinstance(indices, (list, tuple)) else []


INTERMEDIATE_CALLS = [
    {},
    dict(indices=2, intermediates_only=True),
    dict(indices=(0,), intermediates_only=True),
    dict(indices=(0, 2), stop_early=True, intermediates_only=True),
    dict(indices=[1, 3], stop_early=True, intermediates_only=True),
    dict(indices=None, stop_early=True, intermediates_only=True),
]


@pytest.mark.features
@pytest.mark.parametrize("name", IN_TIMM)
@pytest.mark.sampled
def test_forward_intermediates_match_timm(name: str) -> None:
    ours, theirs = _pair(name)
    x = _x(input_side(ours, SIZE))
    with torch.no_grad():
        final, _ = ours.forward_intermediates(x)
        assert features_close(final, ours.forward_features(x), rtol=0, atol=0)
        for kwargs in INTERMEDIATE_CALLS:
            if max(_as_list(kwargs.get("indices")), default=0) >= len(ours.feature_info):
                continue  # a level the model has not (LeViT has 3): ours refuses it, timm skips it
            a, b = ours.forward_intermediates(x, **kwargs), theirs.forward_intermediates(x, **kwargs)
            if not kwargs.get("intermediates_only"):
                assert rel_err(a[0], b[0]) < TOL, kwargs  # (the parity tolerance)
                a, b = a[1], b[1]
            assert [t.shape for t in a] == [t.shape for t in b], kwargs
            assert all(rel_err(p, q) < TOL for p, q in zip(a, b)), kwargs


@pytest.mark.features
@pytest.mark.parametrize("name", IN_TIMM)
@pytest.mark.sampled
def test_prune_intermediate_layers_match_timm(name: str) -> None:
    # one pair built, each cut on copies of it (building the pair is most of the cost)
    pair = _pair(name)
    for indices in (1, (0, 2), -1):
        _check_prune_matches_timm(*copy.deepcopy(pair), indices)


def _check_prune_matches_timm(ours: nn.Module, theirs: nn.Module, indices) -> None:
    if indices == -1:
        indices = [len(ours.feature_info) - 1]  # keep the whole trunk, drop the head
    kept = ours.prune_intermediate_layers(indices)
    assert kept == theirs.prune_intermediate_layers(indices), indices
    assert list(ours.state_dict()) == list(theirs.state_dict()), indices
    x = _x(input_side(ours, SIZE))
    with torch.no_grad():
        # (by keyword: timm's Hiera takes a mask second)
        (fa, a), (fb, b) = (
            ours.forward_intermediates(x, indices=kept),
            theirs.forward_intermediates(x, indices=kept),
        )
        try:
            want = theirs(x)
        except AssertionError:  # timm's CoaT cannot run its head once pruning took its scale fusion
            assert ours.features_are_list, indices  # ours averages the scales there (tests/test_coat.py)
            want = None
        same_output = want is None or isinstance(want, torch.Tensor) or ours.features_are_list
        if want is None:
            assert ours(x).shape == (x.shape[0], ours.num_features), indices
        elif same_output:  # (a list as timm's)
            assert rel_err(ours(x), want) < TOL, indices
        else:  # timm's pruned HRNet returns its branches (a list) and keeps num_features: ours
            # returns the last kept level (the contract), and says its width (test_contract.py)
            assert ours.num_features == ours.feature_info[max(kept)]["num_chs"], indices
            assert torch.equal(ours(x), a[-1]), indices
    if same_output:
        assert (ours.num_features, ours.num_classes) == (theirs.num_features, theirs.num_classes), indices
        assert rel_err(fa, fb) < TOL, indices
    assert ours.num_classes == theirs.num_classes, indices
    assert len(a) == len(b) and all(rel_err(p, q) < TOL for p, q in zip(a, b)), indices


# --- minimum input size ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.sampled
def test_min_input_size_is_accepted_and_declared_minimums_hold(name: str) -> None:
    model = create(name, device="meta")
    side = min_input_side(model)
    if not side:
        pytest.skip("no minimum input size")
    if model.pretrained_cfg is not None and model.pretrained_cfg.fixed_input_size:
        pytest.skip("a fixed input size: the cfg's input size is the only one")
    model = materialize_random(model)
    with torch.no_grad():
        # (a feature model, num_classes=0 by default as SAM 2's encoders, gives pooled features;
        # a headless encoder its feature map)
        out = model(torch.randn(1, 3, side, side))
        if has_classifier(name):
            assert out.shape == (1, model.num_classes or model.head_hidden_size)
        elif model.head_hidden_size != model.num_features:  # projected tokens (DeepSeek's aligner)
            assert out.shape[0] == 1 and out.shape[-1] == model.head_hidden_size
        else:
            assert out.shape[:2] == (1, model.num_features)
        if getattr(model, "min_input_size", None):  # stated by the model: smaller is refused by name
            with pytest.raises(ValueError, match=str(side)):
                model(torch.randn(1, 3, side - 1, side))
