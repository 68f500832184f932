"""CSPNet / DarkNet / CS3 specifics the registry-wide suites do not reach: the In-Place ABN twins
(which timm no longer has), InPlaceABN2d against BatchNorm2d + LeakyReLU, anti-aliasing parity with
timm, timm's default backbone levels, the pruned layout and config validation. (output_stride,
drop-path, forward_intermediates, checkpointing and pruning values: test_capabilities.py.)"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import materialize_random, rel_err, timm_model
from torch import nn

import visionzoo
from visionzoo import hub
from visionzoo.builder import load_state_dict_into
from visionzoo.layers import InPlaceABN2d, inplace_abn_kernel
from visionzoo.models import cspnet

SIZE = 64
pytestmark = pytest.mark.family

IABN_TWINS = {"cspdarknet53_iabn": "cspdarknet53", "cspresnext50_iabn": "cspresnext50"}


def _x(size: int = SIZE, batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(3))


def _random(name: str, **kwargs) -> nn.Module:
    return materialize_random(visionzoo.create_model(name, device="meta", **kwargs))


# --- registry -------------------------------------------------------------------------------------
def test_family_lists_timm_names_and_the_iabn_twins() -> None:
    import timm

    ours = set(visionzoo.list_models(module="cspnet"))
    assert ours == set(timm.list_models(module="cspnet")) | set(IABN_TWINS)
    assert len(ours) == 25
    assert visionzoo.model_entrypoint("cspdarknet53_iabn") is cspnet.cspdarknet53_iabn
    with_weights = {n.partition(".")[0] for n in visionzoo.list_models(pretrained=True)} & ours
    assert len(with_weights) == 15
    assert not with_weights & set(IABN_TWINS)


@pytest.mark.parametrize("name", sorted(IABN_TWINS))
def test_iabn_pretrained_raises_naming_the_model(name: str) -> None:
    cfg = visionzoo.get_pretrained_cfg(name)
    assert not hub.has_weights(cfg) and cfg.url in ("", None) and cfg.hf_hub_id is None
    assert not visionzoo.is_model_pretrained(name)
    with pytest.raises(Exception, match=name) as info:
        visionzoo.create_model(name, pretrained=True)
    assert "no pretrained weights" in str(info.value)
    assert isinstance(info.value, (RuntimeError, ValueError))


# --- the In-Place ABN twins -----------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(IABN_TWINS))
def test_iabn_twin_has_the_batchnorm_twins_parameters(name: str) -> None:
    iabn = visionzoo.create_model(name, device="meta")
    bn = visionzoo.create_model(IABN_TWINS[name], device="meta")
    iabn_params = [(n, p.shape) for n, p in iabn.named_parameters()]
    assert iabn_params == [(n, p.shape) for n, p in bn.named_parameters()]
    assert sum(p.numel() for p in iabn.parameters()) == sum(p.numel() for p in bn.parameters())
    # every norm is fused In-Place ABN, whose state has no num_batches_tracked
    norms = [m for m in iabn.modules() if isinstance(m, (nn.BatchNorm2d, InPlaceABN2d))]
    assert norms and all(isinstance(m, InPlaceABN2d) for m in norms)
    bn_keys = [k for k in bn.state_dict() if not k.endswith("num_batches_tracked")]
    assert list(iabn.state_dict()) == bn_keys
    # activations: leaky ReLU (0.01) where the twin's norm has one, none where it has none
    bn_norms = dict(bn.named_modules())
    for mod_name, m in iabn.named_modules():
        if isinstance(m, InPlaceABN2d):
            twin_act = bn_norms[mod_name].act
            if isinstance(twin_act, nn.LeakyReLU):
                assert m.activation == "leaky_relu", mod_name
                assert m.activation_param == twin_act.negative_slope == 0.01, mod_name
            else:
                assert isinstance(twin_act, nn.Identity) and m.activation == "identity", mod_name


@pytest.mark.parametrize("name", sorted(IABN_TWINS))
def test_iabn_twin_trains_and_gives_features(name: str) -> None:
    model = visionzoo.create_model(name, num_classes=5)
    model.train()
    out = model(_x())
    assert out.shape == (2, 5)
    out.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    # zero-initialised residual norms still learn: |w| has gradient +1 at w == 0
    last = model.stages[-1].blocks[-1]
    zeroed = (last.conv2 if name.startswith("cspdarknet") else last.conv3).bn
    assert torch.all(zeroed.weight == 0) and zeroed.weight.grad.abs().sum() > 0

    backbone = visionzoo.create_model(name, features_only=True)
    twin = visionzoo.create_model(IABN_TWINS[name], features_only=True, device="meta")
    assert backbone.feature_info.channels() == twin.feature_info.channels()
    assert backbone.feature_info.reduction() == twin.feature_info.reduction()
    backbone.eval()
    with torch.no_grad():
        feats = backbone(_x())
    assert [f.shape[1] for f in feats] == backbone.feature_info.channels()
    assert [f.shape[-1] for f in feats] == [SIZE // r for r in backbone.feature_info.reduction()]


def test_iabn_twin_equals_batchnorm_twin_when_norm_scales_are_mapped() -> None:
    """Loading the BN twin's weights with each norm weight w stored as the IABN weight, and the BN
    twin's weight set to |w| + eps, the two models compute the same function."""
    iabn = _random("cspdarknet53_iabn")
    bn = visionzoo.create_model("cspdarknet53", device="meta")
    gen = torch.Generator().manual_seed(0)
    for m in iabn.modules():  # negative scales too: the kernel uses their magnitude
        if isinstance(m, InPlaceABN2d):
            with torch.no_grad():
                m.weight.mul_(torch.randint(0, 2, m.weight.shape, generator=gen) * 2 - 1)
    state = dict(iabn.state_dict())
    for name, m in iabn.named_modules():
        if isinstance(m, InPlaceABN2d):
            state[f"{name}.weight"] = m.weight.detach().abs() + m.eps
            state[f"{name}.num_batches_tracked"] = torch.tensor(0)
    load_state_dict_into(bn, state, strict=True)
    bn.eval()
    with torch.no_grad():
        assert rel_err(iabn(_x()), bn(_x())) < 1e-5


# --- InPlaceABN2d vs BatchNorm2d + LeakyReLU ------------------------------------------------------
def _abn_and_reference(channels: int = 6, seed: int = 0) -> tuple[InPlaceABN2d, nn.BatchNorm2d]:
    """An InPlaceABN2d with random (partly negative) weights, and the BatchNorm2d whose weight is
    the kernel's scale |w| + eps, so that BatchNorm2d -> LeakyReLU(0.01) is its exact reference."""
    gen = torch.Generator().manual_seed(seed)
    abn, bn = InPlaceABN2d(channels), nn.BatchNorm2d(channels)
    weight = torch.randn(channels, generator=gen)
    weight[0] = 0.0
    assert (weight < 0).any()
    bias = torch.randn(channels, generator=gen) * 0.1
    with torch.no_grad():
        abn.weight.copy_(weight)
        abn.bias.copy_(bias)
        bn.weight.copy_(weight.abs() + abn.eps)
        bn.bias.copy_(bias)
    return abn, bn


def _reference(bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    return nn.LeakyReLU(0.01)(bn(x))


def test_inplace_abn_state_dict_keys() -> None:
    assert list(InPlaceABN2d(4).state_dict()) == ["weight", "bias", "running_mean", "running_var"]
    assert list(InPlaceABN2d(4, affine=False).state_dict()) == ["running_mean", "running_var"]


def test_inplace_abn_train_mode_equals_batchnorm_leaky_relu() -> None:
    abn, bn = _abn_and_reference()
    abn.train(), bn.train()
    gen = torch.Generator().manual_seed(1)
    for _ in range(3):  # running statistics follow the same updates step after step
        x = torch.randn(4, 6, 5, 7, generator=gen) * 3 + 1
        x_abn, x_bn = x.clone().requires_grad_(), x.clone().requires_grad_()
        y_abn, y_bn = abn(x_abn), _reference(bn, x_bn)
        torch.testing.assert_close(y_abn, y_bn)
        grad = torch.randn(y_abn.shape, generator=gen)
        y_abn.backward(grad)
        y_bn.backward(grad)
        torch.testing.assert_close(x_abn.grad, x_bn.grad)
        torch.testing.assert_close(abn.bias.grad, bn.bias.grad)
        # d|w|/dw is the sign of w, taken as +1 at w == 0 (as the kernel does)
        sign = torch.where(abn.weight < 0, -1.0, 1.0)
        torch.testing.assert_close(abn.weight.grad, sign * bn.weight.grad)
        torch.testing.assert_close(abn.running_mean, bn.running_mean)
        torch.testing.assert_close(abn.running_var, bn.running_var)
    assert not torch.equal(abn.running_mean, torch.zeros(6))


def test_inplace_abn_eval_mode_equals_batchnorm_leaky_relu() -> None:
    abn, bn = _abn_and_reference(seed=2)
    gen = torch.Generator().manual_seed(3)
    stats = (torch.randn(6, generator=gen), torch.rand(6, generator=gen) + 0.5)
    for m in (abn, bn):
        m.running_mean.copy_(stats[0])
        m.running_var.copy_(stats[1])
        m.eval()
    x = torch.randn(2, 6, 4, 4, generator=gen)
    with torch.no_grad():
        torch.testing.assert_close(abn(x), _reference(bn, x))
    torch.testing.assert_close(abn.running_mean, stats[0])  # eval leaves the statistics alone


def test_inplace_abn_defaults_are_batchnorm_then_leaky_relu() -> None:
    """At default init (weight 1) the |w| + eps scale differs from BatchNorm2d only by eps."""
    abn, bn = InPlaceABN2d(3), nn.BatchNorm2d(3)
    x = torch.randn(4, 3, 6, 6, generator=torch.Generator().manual_seed(4))
    torch.testing.assert_close(abn(x), F.leaky_relu(bn(x), 0.01), rtol=1e-4, atol=1e-4)
    assert abn.activation == "leaky_relu" and abn.activation_param == 0.01


def test_inplace_abn_other_activations() -> None:
    x = torch.randn(4, 3, 5, 5, generator=torch.Generator().manual_seed(5))
    bn = nn.BatchNorm2d(3)
    with torch.no_grad():
        bn.weight.fill_(1 + 1e-5)
    torch.testing.assert_close(InPlaceABN2d(3, apply_act=False)(x), bn(x))
    torch.testing.assert_close(InPlaceABN2d(3, act_layer=nn.ELU)(x), F.elu(bn(x)))
    slope = InPlaceABN2d(3, act_kwargs=dict(negative_slope=0.2))
    torch.testing.assert_close(slope(x), F.leaky_relu(bn(x), 0.2))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(act_layer="silu"), "silu"),
        (dict(act_layer=nn.ReLU), "ReLU"),
        (dict(momentum=None), "momentum"),
        (dict(drop_layer=nn.Identity), "drop layer"),
        (dict(act_kwargs=dict(inplace=True)), "inplace"),
    ],
)
def test_inplace_abn_rejects_what_the_kernel_cannot_do(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        InPlaceABN2d(4, **kwargs)


def test_iabn_twin_rejects_an_activation_the_kernel_cannot_invert() -> None:
    with pytest.raises(ValueError, match="silu"):
        visionzoo.create_model("cspdarknet53_iabn", act_layer="silu", device="meta")


def test_inplace_abn_materialises_from_meta() -> None:
    with torch.device("meta"):
        abn = InPlaceABN2d(3)
    abn.to_empty(device="cpu")
    abn.reset_parameters()
    assert torch.equal(abn.weight, torch.ones(3)) and torch.equal(abn.running_var, torch.ones(3))


@pytest.mark.skipif(
    inplace_abn_kernel() is None or not torch.cuda.is_available(), reason="needs inplace_abn and CUDA"
)
def test_inplace_abn_kernel_matches_the_pytorch_path() -> None:
    abn, _ = _abn_and_reference()
    kernel_abn = copy.deepcopy(abn).cuda()
    x = torch.randn(4, 6, 5, 5)
    for mode in (True, False):
        abn.train(mode), kernel_abn.train(mode)
        ref = abn(x.clone())
        got = kernel_abn(x.clone().cuda()).cpu()
        torch.testing.assert_close(got, ref, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(kernel_abn.running_var.cpu(), abn.running_var, rtol=1e-4, atol=1e-5)


# --- parity with timm beyond the defaults ---------------------------------------------------------
@pytest.mark.parametrize("name", ["cspresnet50", "darknet17"])
def test_anti_aliased_downsampling_matches_timm(name: str) -> None:
    import timm.layers

    from visionzoo.layers import BlurPool2d

    theirs = timm_model(name, aa_layer=timm.layers.BlurPool2d)
    ours = visionzoo.create_model(name, aa_layer=BlurPool2d, device="meta")
    load_state_dict_into(ours, theirs.state_dict(), strict=True)
    ours.eval()
    assert any(isinstance(m, BlurPool2d) for m in ours.modules())
    with torch.no_grad():
        assert rel_err(ours(_x()), theirs(_x())) < 1e-4


@pytest.mark.parametrize(
    "name, levels, last",
    [
        ("darknet21", 6, "stages_4"),
        ("cspdarknet53", 6, "stages_4"),
        ("cspdarknet53_iabn", 6, "stages_4"),
        ("sedarknet21", 5, "stages_3"),  # timm's default: the name does not start with darknet
        ("cspresnet50", 5, "stages_3"),
        ("cs3darknet_m", 5, "stages_3"),
    ],
)
def test_default_backbone_levels_follow_timm(name: str, levels: int, last: str) -> None:
    backbone = visionzoo.create_model(name, features_only=True, device="meta")
    assert len(backbone.feature_info.out_indices) == levels
    assert list(backbone.keys())[-1] == last
    # the stem is flattened into the backbone, as in timm's
    assert next(iter(backbone.keys())) == "stem_conv1"


@pytest.mark.parametrize("name", ["darknet17", "cspresnet50"])
def test_explicit_out_indices_replace_the_default_levels(name: str) -> None:
    backbone = visionzoo.create_model(name, features_only=True, out_indices=(1, 3), device="meta")
    theirs = timm_model(name, features_only=True, out_indices=(1, 3))
    assert backbone.feature_info.out_indices == (1, 3)
    assert list(backbone.state_dict()) == list(theirs.state_dict())


def test_feature_levels_tap_the_stem_before_its_pool() -> None:
    model = visionzoo.create_model("cspresnet50d", device="meta")
    assert [f["module"] for f in model.feature_info] == ["stem.conv3", *[f"stages.{i}" for i in range(4)]]
    assert [f["reduction"] for f in model.feature_info] == [2, 4, 8, 16, 32]
    dark = visionzoo.create_model("darknet53", device="meta")
    assert dark.feature_info[0] == dict(num_chs=32, reduction=1, module="stem.conv1")


# --- pruning ---------------------------------------------------------------------------------------
def test_prune_intermediate_layers_cuts_stages_and_the_stem() -> None:
    """The family's own layout: a prune drops whole stages, and a stem-only prune keeps the stem up
    to its tap (the values are checked over the registry in test_capabilities.py)."""
    model = visionzoo.create_model("cs3darknet_s", device="meta")
    assert model.prune_intermediate_layers((1, 2)) == [1, 2]
    assert len(model.stages) == 2 and model.num_classes == 0
    assert model.num_features == model.feature_info[2]["num_chs"]
    stem_only = visionzoo.create_model("cspresnet50", device="meta")
    stem_only.prune_intermediate_layers((0,))
    assert len(stem_only.stages) == 0 and list(dict(stem_only.stem.named_children())) == ["conv1"]


# --- configs --------------------------------------------------------------------------------------
def test_configs_accept_dicts_and_broadcast_per_stage_values() -> None:
    model = cspnet.CspNet(
        stem=dict(out_chs=16, stride=2),
        stages=dict(
            depth=(1, 1), out_chs=(32, 64), block_ratio=0.5, stage_type="cs3", block_type=("dark", "edge")
        ),
        num_classes=4,
    )
    assert isinstance(model.stages[0], cspnet.CrossStage3)
    assert isinstance(model.stages[0].blocks[0], cspnet.DarkBlock)
    assert isinstance(model.stages[1].blocks[0], cspnet.EdgeBlock)
    assert model(_x()).shape == (2, 4)
    stages = cspnet.CspStagesCfg(depth=(1, 2, 3), out_chs=(8, 16, 32), stride=(1, 2))
    assert stages.stride == (1, 2, 2) and stages.groups == (1, 1, 1)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(stages=dict(depth=(1, 1), out_chs=(8,))), ValueError, "equally long"),
        (dict(stages=dict(depth=(1,), out_chs=(8,), stride=(2, 2))), ValueError, "stride"),
        (dict(stages=dict(depth=(1,), out_chs=(8,), stage_type="res")), ValueError, "stage_type"),
        (dict(stages=dict(depth=(1,), out_chs=(8,), block_type="basic")), ValueError, "block_type"),
        (dict(stages=dict(depth=(1,), out_chs=(8,), width=2)), TypeError, "width"),
        (dict(stem=dict(out_chs=8, stride=3)), ValueError, "stem stride"),
        (dict(stem=dict(out_chs=8, stride=2, pool="max")), ValueError, "pool"),
        (dict(stem=dict(out_chs=8, stride=4)), ValueError, "two stem convs"),
        (dict(stem=dict(out_chs=(), stride=2)), ValueError, "out_chs"),
        (dict(stages=dict(depth=(1,), out_chs=(8,), stage_type="cs3")), ValueError, "block_ratio"),
        (
            dict(stages=dict(depth=(1,), out_chs=(8,), stage_type="dark", block_ratio=0.5)),
            ValueError,
            "stage 0",
        ),
        (dict(stem=[8]), TypeError, "stem"),
        (dict(output_stride=4), ValueError, "output_stride"),
    ],
)
def test_bad_configs_raise_naming_the_problem(kwargs: dict, error: type, match: str) -> None:
    args = dict(stem=dict(out_chs=8, stride=2), stages=dict(depth=(1,), out_chs=(8,), block_ratio=0.5))
    args.update(kwargs)
    with pytest.raises(error, match=match):
        cspnet.CspNet(**args)


def test_unknown_model_kwarg_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="stem_width"):
        visionzoo.create_model("cspresnet50", stem_width=32)


# --- timm's CspModelCfg (issue 25) ----------------------------------------------------------------
@pytest.mark.parametrize("name", ["cspresnet50", "cspdarknet53", "cs3darknet_s", "cs3edgenet_x"])
def test_csp_model_cfg_builds_timms_cspnet(name: str) -> None:
    """``CspNet(cfg)`` as timm's: the same model, a keyword overriding the cfg's layer."""
    import dataclasses

    from timm.models import cspnet as timm_cspnet

    from visionzoo.models import cspnet

    theirs_cfg = timm_cspnet.model_cfgs[name]
    layers = {k: getattr(theirs_cfg, k) for k in ("zero_init_last", "act_layer", "norm_layer", "aa_layer")}
    cfg = cspnet.CspModelCfg(
        stem=cspnet.CspStemCfg(**dataclasses.asdict(theirs_cfg.stem)),
        stages=cspnet.CspStagesCfg(**dataclasses.asdict(theirs_cfg.stages)),
        **layers,
    )
    theirs, ours = (
        timm_cspnet.CspNet(theirs_cfg, num_classes=10).eval(),
        cspnet.CspNet(cfg, num_classes=10).eval(),
    )
    ours.load_state_dict(theirs.state_dict())
    assert ours.feature_info == theirs.feature_info
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))
    acts = [
        [type(m).__name__ for m in model.modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU, nn.SiLU))]
        for model in (cspnet.CspNet(cfg, act_layer="relu"), timm_cspnet.CspNet(theirs_cfg, act_layer="relu"))
    ]
    assert acts[0] == acts[1] and set(acts[0]) == {"ReLU"}
    with pytest.raises(TypeError, match="takes its stages from the cfg"):
        cspnet.CspNet(cfg, cfg.stages)


@pytest.mark.parametrize("name", ["cspresnet50", "darknet17", "cs3darknet_focus_s", "cspresnext50"])
def test_create_csp_stem_and_stages_are_timms(name: str) -> None:
    """timm's two builders: the same modules, feature levels and outputs."""
    import dataclasses

    from timm.models import cspnet as timm_cspnet

    from visionzoo.models import cspnet

    theirs_cfg = timm_cspnet.model_cfgs[name]
    layers = {k: getattr(theirs_cfg, k) for k in ("act_layer", "norm_layer", "aa_layer")}
    stem_kw = dataclasses.asdict(theirs_cfg.stem)
    theirs_stem, theirs_info = timm_cspnet.create_csp_stem(3, **stem_kw, **layers)
    ours_stem, ours_info = cspnet.create_csp_stem(3, **stem_kw, **layers)
    assert ours_info == theirs_info
    cfg = cspnet.CspModelCfg(
        stem=cspnet.CspStemCfg(**stem_kw),
        stages=cspnet.CspStagesCfg(**dataclasses.asdict(theirs_cfg.stages)),
        **layers,
    )
    theirs_stages, theirs_stage_info = timm_cspnet.create_csp_stages(theirs_cfg, 0.1, 16, theirs_info[-1])
    ours_stages, ours_stage_info = cspnet.create_csp_stages(cfg, 0.1, 16, ours_info[-1])
    assert ours_stage_info == theirs_stage_info
    ours, theirs = (
        nn.Sequential(ours_stem, ours_stages).eval(),
        nn.Sequential(theirs_stem, theirs_stages).eval(),
    )
    # (timm keeps some unused Identity placeholders, which hold no weights)
    kinds = [
        [(n, type(m).__name__) for n, m in model.named_modules() if not isinstance(m, nn.Identity)]
        for model in (ours, theirs)
    ]
    assert kinds[0] == kinds[1]
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))
    with pytest.raises(ValueError, match="stem stride must be 1, 2 or 4, got 3"):
        cspnet.create_csp_stem(3, 32, stride=3)
