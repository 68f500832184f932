"""Feature extraction: FeatureInfo, the list/dict/hook backbones and forward_intermediates."""

from __future__ import annotations

import pytest
import torch

import visionzoo
from visionzoo.features import FeatureInfo, feature_take_indices

pytestmark = pytest.mark.features

X = torch.randn(2, 3, 64, 64)


@pytest.fixture(scope="module")
def model() -> torch.nn.Module:
    return visionzoo.create_model("resnet18d").eval()


def test_feature_info_accessors(model: torch.nn.Module) -> None:
    info = FeatureInfo(model.feature_info, (1, -1))
    assert info.out_indices == (1, 4)
    assert info.channels() == [64, 512] and info.reduction() == [4, 32]
    assert info.module_name() == ["layer1", "layer4"]
    assert info.channels(0) == 64 and info.reduction([0, 2]) == [2, 8]
    assert info.get_dicts(keys=["num_chs"]) == [{"num_chs": 64}, {"num_chs": 512}]
    assert info.get_dicts()[0]["module"] == "layer1"
    assert len(info) == 5 and info[2]["num_chs"] == 128
    assert FeatureInfo(model.feature_info, 2).out_indices == (3, 4)  # int: the last n
    assert info.from_other((0,)).channels() == [64]
    with pytest.raises(IndexError, match=r"feature index 5 .*valid indices are 0..4"):
        FeatureInfo(model.feature_info, (0, 5))


def test_list_dict_and_hook_backbones_agree(model: torch.nn.Module) -> None:
    with torch.no_grad():
        _, expected = model.forward_intermediates(X, indices=(1, 3, 4))
        as_list = visionzoo.FeatureListNet(model, (1, 3, 4))(X)
        as_dict = visionzoo.FeatureDictNet(model, (1, 3, 4), out_map=("a", "b", "c"))(X)
        hook = visionzoo.FeatureHookNet(model, (1, 3, 4), return_dict=True)(X)
    assert list(as_dict) == ["a", "b", "c"]
    assert list(hook) == ["layer1", "layer3", "layer4"]
    for e, a, d, h in zip(expected, as_list, as_dict.values(), hook.values()):
        assert torch.equal(e, a) and torch.equal(e, d) and torch.equal(e, h)


def test_hook_taps_on_a_flattened_sequential_are_refused(model: torch.nn.Module) -> None:
    with pytest.raises(ValueError, match=r"\['layer1'\].*flatten_sequential"):
        visionzoo.FeatureHookNet(model, (1,), flatten_sequential=True)


def test_backbone_keys_are_the_model_keys_without_the_head() -> None:
    model = visionzoo.create_model("resnet18")
    backbone = visionzoo.create_model("resnet18", features_only=True)
    assert set(backbone.state_dict()) == set(model.state_dict()) - {"fc.weight", "fc.bias"}
    partial = visionzoo.create_model("resnet18", features_only=True, out_indices=(0, 1))
    assert not any(k.startswith(("layer2", "layer3", "layer4")) for k in partial.state_dict())


def test_hook_backbone_keeps_body_without_classifier() -> None:
    backbone = visionzoo.create_model("resnet18", features_only=True, feature_cls="hook", out_indices=(2,))
    assert isinstance(backbone, visionzoo.FeatureHookNet)
    assert "body.conv1.weight" in backbone.state_dict() and "body.fc.weight" not in backbone.state_dict()
    assert backbone.eval()(X)[0].shape == (2, 128, 8, 8)


def test_forward_intermediates_options(model: torch.nn.Module) -> None:
    with torch.no_grad():
        final, feats = model.forward_intermediates(X)
        assert torch.equal(final, model.forward_features(X))
        early = model.forward_intermediates(X, indices=(0, 2), stop_early=True)
        only = model.forward_intermediates(X, indices=2, intermediates_only=True)
    assert [f.shape[1] for f in feats] == [32 * 2, 64, 128, 256, 512]
    assert early[0].shape[1] == 128  # stopped after layer2
    assert [f.shape[1] for f in only] == [256, 512]
    assert feature_take_indices(5, (-1, 0)) == ([4, 0], 4)
    with pytest.raises(ValueError, match="output_fmt"):
        model.forward_intermediates(X, output_fmt="NHWC")


def test_backbone_gradient_checkpointing_reaches_every_parameter() -> None:
    # the model's own checkpointing is checked over the registry in test_capabilities.py
    backbone = visionzoo.create_model("resnet18d", features_only=True)
    backbone.set_grad_checkpointing(True)
    sum(f.sum() for f in backbone(X)).backward()
    assert all(p.grad is not None for p in backbone.parameters())


def test_hook_backbone_copies_tap_their_own_modules(model: torch.nn.Module) -> None:
    import copy

    backbone = visionzoo.FeatureHookNet(copy.deepcopy(model), (1, 3))
    clone = copy.deepcopy(backbone)
    with torch.no_grad():
        clone.body.bn1.bias.add_(1.0)  # change the copy only
        a, b = backbone(X), clone(X)
    assert len(b) == 2 and not torch.equal(a[0], b[0])
    assert not any(m._forward_hooks for m in backbone.modules())  # no live hooks between passes


def test_feature_cfg_kwarg_sets_the_wrapper_as_timm_does() -> None:
    """timm's ``create_model(..., features_only=True, feature_cfg={...})``: the caller's wrapper
    options over the family's, explicit ``out_indices`` / ``feature_cls`` over both."""
    x = torch.randn(1, 3, 64, 64)
    torch.manual_seed(0)
    fx = visionzoo.create_model("resnet10t", features_only=True, feature_cfg={"feature_cls": "fx"}).eval()
    torch.manual_seed(0)
    plain = visionzoo.create_model("resnet10t", features_only=True).eval()
    assert type(fx).__name__ == "FeatureGraphNet"
    scripted = torch.jit.script(fx)
    with torch.no_grad():
        for a, b in zip(scripted(x), plain(x), strict=True):
            torch.testing.assert_close(a, b)
    picked = visionzoo.create_model("resnet10t", features_only=True, feature_cfg={"out_indices": (1, 2)})
    assert picked.feature_info.channels() == [64, 128]
    explicit = visionzoo.create_model(
        "resnet10t", features_only=True, feature_cfg={"out_indices": (1, 2)}, out_indices=(4,)
    )
    assert explicit.feature_info.channels() == [512]
    with pytest.raises(TypeError, match="feature_cfg=.*only with features_only=True"):
        visionzoo.create_model("resnet10t", feature_cfg={"feature_cls": "fx"})
    with pytest.raises(TypeError, match="feature_cfg must be a dict"):
        visionzoo.create_model("resnet10t", features_only=True, feature_cfg="fx")
