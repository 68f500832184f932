"""The model contract over the registry.

Structural checks (built on the meta device: no memory, no arithmetic) run for every registered
name. The checks that run real forward/backward passes with tiny inputs run on each family's
sample in CI and on every name with ``VISIONZOO_FULL=1`` (``make test-all``); see sampling.py.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from helpers import (
    as_nchw,
    assert_feature_widths,
    features_close,
    features_sum,
    has_classifier,
    input_side,
    list_features_width,
    parameter_groups,
    placed_levels,
    token_output,
    unmatched_parameters,
)
from sampling import create
from timm_oracle import materialize_random

import visionzoo

pytestmark = pytest.mark.contract

NAMES = visionzoo.list_models()
SIZE = 64


def _x(chans: int = 3, size: int = SIZE) -> torch.Tensor:
    return torch.randn(2, chans, size, size)


@pytest.mark.parametrize("name", NAMES)
def test_structure(name: str) -> None:
    # with a classifier even where the default has none (feature models: num_classes=0); a
    # headless feature encoder (has_classifier False) refuses one, naming the value
    headless = not has_classifier(name)
    if headless:
        with pytest.raises(ValueError, match="num_classes=7"):
            visionzoo.create_model(name, num_classes=7, device="meta")
    model = visionzoo.create_model(name, **({} if headless else {"num_classes": 7}), device="meta")
    assert isinstance(model, visionzoo.VisionModel)
    assert model.has_classifier is not headless and (model.num_classes == 0 or not headless)
    assert model.pretrained_cfg is model.default_cfg and model.pretrained_cfg.architecture == name
    state = model.state_dict()

    # config keys point at real modules (a headless encoder's cfg names timm's classifier, which
    # it does not have)
    cfg = model.pretrained_cfg
    for conv in visionzoo.adapt.as_names(cfg.first_conv):
        assert f"{conv}.weight" in state, conv
    classifiers = [] if headless else visionzoo.adapt.as_names(cfg.classifier)
    for fc in classifiers:
        assert f"{fc}.weight" in state, fc
    if classifiers:  # (a distilled model has two; get_classifier gives the first)
        assert model.get_classifier() is model.get_submodule(classifiers[0])

    # feature levels: real modules, growing reductions
    info = model.feature_info
    assert info, "no feature levels"
    for level in info:
        assert level["num_chs"] > 0 and level["reduction"] >= 1, level
        if model.feature_modules:  # (else the names are labels, as timm's HRNet's)
            model.get_submodule(level["module"])
    reductions = [level["reduction"] for level in info]
    assert reductions == sorted(reductions), reductions

    # the group matcher puts every parameter in a group: each one is matched (stem or blocks),
    # except a tail of the parameter order that holds the classifier (timm's head group)
    names = [n for n, _ in model.named_parameters()]
    classifier = {f"{fc}.{p}" for fc in visionzoo.adapt.as_names(cfg.classifier) for p in ("weight", "bias")}
    first_conv = {f"{c}.weight" for c in visionzoo.adapt.as_names(cfg.first_conv)}
    groups = {}
    for coarse in (False, True):
        matcher = model.group_matcher(coarse=coarse)
        assert {"stem", "blocks"} <= set(matcher)
        unmatched = unmatched_parameters(model, matcher)
        assert unmatched == names[len(names) - len(unmatched) :], f"left out of every group: {unmatched}"
        groups[coarse] = parameter_groups(model, matcher)
        # matched, the classifier may only join the last group: timm's iformer matches its head
        # with ``(99999,)``, timm's "previous group", so it trains with the last block
        matched_fc = classifier & set(names) - set(unmatched)
        assert matched_fc <= set(groups[coarse][-1]), "the classifier is matched as trunk"
        assert sorted(n for g in groups[coarse] for n in g) == sorted(names)
        assert first_conv <= set(groups[coarse][0]), "the first conv is not in the first (stem) group"
        assert len(groups[coarse]) >= 3, groups  # stem, at least one block group, head
    # over the trunk both match, each coarse group is a run of consecutive fine groups
    trunk = set(names) - set(unmatched_parameters(model, model.group_matcher()))
    trunk -= set(unmatched_parameters(model, model.group_matcher(coarse=True)))
    runs = {c: [kept for g in groups[c] if (kept := [n for n in g if n in trunk])] for c in (False, True)}
    # (compared by group, not by parameter order within a group: timm's FasterNet stages
    # register their blocks before their downsample, which the fine matcher groups with block 0)
    fine = {n: i for i, g in enumerate(runs[False]) for n in g}
    spans = [sorted({fine[n] for n in g}) for g in runs[True]]
    assert sorted(fine) == sorted(itertools.chain(*runs[True]))
    assert list(itertools.chain(*spans)) == list(range(len(runs[False])))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.sampled
def test_contract(name: str) -> None:
    # a headless feature encoder: every check but the classifier's (its forward is forward_features)
    headless = not has_classifier(name)
    model = create(name, **({} if headless else {"num_classes": 7}))
    size = input_side(model, SIZE)
    x = _x(size=size)
    token = token_output(model)  # forward_features gives (B, tokens, C)

    # train step: logits, a loss, gradients for every parameter
    model.train()
    logits = model(x)
    if headless:
        features_sum(logits).backward()
    else:
        assert logits.shape == (2, 7)
        logits.logsumexp(1).mean().backward()
    no_grad = [n for n, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert not no_grad, f"parameters without gradient: {no_grad[:5]}"

    model.eval()
    with torch.no_grad():
        feats = model.forward_features(x)
        if model.features_are_list:  # the head pools each and concatenates or fuses them: its width
            assert isinstance(feats, list) and list_features_width(feats, token) == model.num_features
        else:
            assert (feats.shape[-1] if token else as_nchw(feats, model).shape[1]) == model.num_features
        if not headless:
            assert model.forward_head(feats, pre_logits=True).shape == (2, model.head_hidden_size)
        assert features_close(model.forward_head(feats), model(x), rtol=1e-4, atol=1e-5)

        # feature pyramid: forward_intermediates agrees with feature_info and forward_features
        final, inters = model.forward_intermediates(x)
        assert features_close(final, feats, rtol=1e-4, atol=1e-5)
        assert len(inters) == len(model.feature_info)
        for t, info in zip(inters, model.feature_info):
            assert t.shape[1] == info["num_chs"], info
        placed = placed_levels(model)
        assert_feature_widths(
            [inters[i].shape[-1] for i in placed],
            [model.feature_info[i]["reduction"] for i in placed],
            model,
            size,
            lambda s: [t.shape[-1] for t in model.forward_intermediates(_x(size=s), indices=placed)[1]],
        )
        last_two = model.forward_intermediates(x, indices=2, intermediates_only=True)
        assert [t.shape for t in last_two] == [t.shape for t in inters[-2:]]

    if headless:  # no classifier to reset: 0 is accepted, a classifier refused by name
        model.reset_classifier(0)
        with pytest.raises(ValueError, match="num_classes=3"):
            model.reset_classifier(3)
        return

    # classifier resets
    model.reset_classifier(0)
    with torch.no_grad():
        assert model(x).shape == (2, model.head_hidden_size)
    # a wider pool where the head can take it; a head that cannot (a token pool, a hidden layer
    # sized for one pool) refuses with ValueError and takes the plain average
    try:
        model.reset_classifier(3, "avg" if token else "catavgmax")
    except ValueError:
        model.reset_classifier(3)  # (the pool it has)
    with torch.no_grad():
        assert model(x).shape == (2, 3)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.sampled
def test_features_only_follow_feature_info(name: str) -> None:
    model = create(name, device="meta")
    backbone = create(name, features_only=True, device="meta")
    # the levels it says it returns, no classifier
    levels = [model.feature_info[i] for i in backbone.feature_info.out_indices]
    assert backbone.feature_info.channels() == [level["num_chs"] for level in levels]
    assert backbone.feature_info.reduction() == [level["reduction"] for level in levels]
    for fc in visionzoo.adapt.as_names(model.pretrained_cfg.classifier):
        assert f"{fc}.weight" not in backbone.state_dict()
    materialize_random(backbone)
    size = input_side(model, SIZE)
    # the backbone's levels are in its own output_fmt, NCHW by default whatever the model runs
    # inside (Swin, MambaOut: channels-last), so a ResNet client takes them unchanged
    assert backbone.output_fmt == "NCHW"
    layout = backbone
    with torch.no_grad():
        outs = [as_nchw(o, layout) for o in backbone(_x(size=size))]
        info = backbone.feature_info
        assert [o.shape[1] for o in outs] == info.channels()
        assert_feature_widths(
            [o.shape[-1] for o in outs],
            info.reduction(),
            model,
            size,
            lambda s: [as_nchw(o, layout).shape[-1] for o in backbone(_x(size=s))],
        )


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.sampled
def test_single_channel_input(name: str) -> None:
    headless = not has_classifier(name)  # (then the features: (2, num_features, ...))
    model = create(name, in_chans=1, **({} if headless else {"num_classes": 5}), device="meta")
    materialize_random(model)
    with torch.no_grad():
        out = model(_x(1, input_side(model, SIZE)))
    if headless and (
        model.head_hidden_size != model.num_features or getattr(model, "output_fmt", "NCHW") != "NCHW"
    ):
        # an encoder whose forward projects its features (DeepSeek's aligner), or channels-last /
        # token outputs (Qwen3 ViT's encoder: its projector's tokens): widths last
        assert out.shape[0] == 2 and out.shape[-1] == model.head_hidden_size
    else:
        assert out.shape[:2] == ((2, model.num_features) if headless else (2, 5))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.sampled
def test_prune_intermediate_layers_keeps_the_early_levels(name: str) -> None:
    model = materialize_random(create(name, device="meta"))
    x = _x(size=input_side(model, SIZE))
    with torch.no_grad():
        before = model.forward_intermediates(x, indices=(0, 1), intermediates_only=True)
        kept = model.prune_intermediate_layers((0, 1))
        after = model.forward_intermediates(x, indices=kept, intermediates_only=True)
        out = model(x)
    assert kept == [0, 1]
    assert all(torch.equal(a, b) for a, b in zip(before, after))
    if model.features_are_list:  # as timm's: the head pools the kept stages' inputs, concatenated
        assert model.num_classes == 0 and out.shape == (2, model.num_features)
        assert model.num_features == list_features_width(model.forward_features(x), token_output(model))
        return
    # head gone, no pooling: the model now returns the last kept level's map
    # (a level with ``num_chs_norm``, timm's SAM: after its final norm, a neck kept as timm keeps it)
    normed = model.feature_info[1].get("num_chs_norm")
    assert model.num_classes == 0 and model.num_features == (normed or model.feature_info[1]["num_chs"])
    if normed:
        assert out.shape[:2] == (2, normed) and out.shape[2:] == after[1].shape[2:]
    elif token_output(model):  # tokens after the kept final norm (or, for a distilled
        # head, its two prefix tokens averaged): the kept level's width
        assert out.shape[0] == 2 and out.shape[-1] == after[1].shape[1]
    elif out.ndim == 2:  # a head that cannot go without its pool (timm's InceptionNeXt): pooled
        pooled = after[1].mean((2, 3))
        norm = getattr(model, "norm", None)
        if isinstance(norm, torch.nn.LayerNorm) and not norm.elementwise_affine:
            # Qwen3 ViT's classifier keeps its affine-free norm after the pool, as timm's does
            pooled = torch.nn.functional.layer_norm(pooled, pooled.shape[-1:], eps=norm.eps)
        torch.testing.assert_close(out, pooled)
    else:
        assert torch.equal(as_nchw(out, model), after[1])


def test_model_input_size_is_what_the_model_takes() -> None:
    """The example size optimize_for_inference and the engines build with: a token model's own
    img_size (also behind a feature wrapper), the in_chans the model was built with, and for a
    plain nn.Module its first convolution's channels."""
    from visionzoo.model import model_input_size

    vit = visionzoo.create_model("vit_tiny_patch16_224", img_size=64, device="meta")
    assert vit.pretrained_cfg.input_size == (3, 64, 64)  # the config as built (timm keeps 224)
    assert model_input_size(vit) == (3, 64, 64)
    backbone = visionzoo.create_model(
        "vit_tiny_patch16_224", img_size=(48, 80), features_only=True, device="meta"
    )
    assert model_input_size(backbone) == (3, 48, 80)
    assert model_input_size(visionzoo.create_model("resnet18", in_chans=1, device="meta")) == (1, 224, 224)
    plain = torch.nn.Sequential(torch.nn.Conv2d(5, 4, 3), torch.nn.ReLU())
    assert model_input_size(plain) == (5, 224, 224)


def test_create_model_builds_where_the_callers_device_context_says() -> None:
    """As with timm and any nn.Module: `with torch.device("meta")` builds an empty model (a 3B
    model costs nothing), unless `device=` says otherwise."""
    with torch.device("meta"):
        empty = visionzoo.create_model("aimv2_3b_patch14_224")
        cpu = visionzoo.create_model("resnet10t", device="cpu")
    assert all(p.is_meta for p in empty.parameters())
    assert all(p.device.type == "cpu" for p in cpu.parameters())


@pytest.mark.parametrize("module", visionzoo.list_modules())
def test_every_family_has_its_own_test_file(module: str) -> None:
    """One test file per family module, ``tests/test_<module>.py``, holding what is its own (and
    the ``SHARED_KWARGS`` the shared suites read through sampling.family_kwargs)."""
    from pathlib import Path

    import sampling

    path = Path(__file__).with_name(f"test_{module}.py")
    assert path.is_file(), f"{module} has no test file {path.name}"
    own = sampling.family_test_file(module)
    assert Path(own.__file__).resolve() == path.resolve()
    assert any(n.startswith("test_") and callable(f) for n, f in vars(own).items()), f"{path.name}: no test"
