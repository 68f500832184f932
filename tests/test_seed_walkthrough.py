"""The seed documents' code (`../shared/seeds/`), with ``timm`` replaced by ``visionzoo``.

Downloads are replaced by files the tests write and serve from a loopback server. Where our
module path differs from timm's (``timm.models.helpers.load_pretrained`` is
``visionzoo.load_pretrained``; ``timm.models.registry`` is ``visionzoo.registry``) the test uses
ours, and README's "Coming from timm" lists the difference. Where timm 1.0 itself changed a
value the documents show (the listing order now has the ``cs3*`` models first; ``resnet34``'s
default weights are now the ``a1_in1k`` tag), the test checks the documented behaviour and the
README says what changed.
"""

from __future__ import annotations

import math
import random
from copy import deepcopy
from pathlib import Path

import pytest
import torch
from helpers import http_server, random_state_dict, write_safetensors

import visionzoo

pytestmark = pytest.mark.contract

SEED_URL = (
    "https://github.com/rwightman/pytorch-image-models/releases/download/v0.1-weights/resnet34-43635321.pth"
)


# --- create_model_deep_dive.md --------------------------------------------------------------------
def test_registry_walkthrough() -> None:
    from visionzoo import registry

    # the seed's registry ended at xception71; the catalog has grown past it (xcit sorts later, as
    # in timm 1.0), so the walkthrough continues from the last of the seed's own family
    assert visionzoo.list_models()[-1] == "xcit_tiny_24_p16_384"
    m = visionzoo.list_models(module="xception_aligned")[-1]
    assert m == "xception71"
    assert registry.is_model(m)
    constructor_fn = registry.model_entrypoint(m)
    assert constructor_fn.__name__ == "xception71"
    assert constructor_fn.__module__ == "visionzoo.models.xception_aligned"

    shown = {
        "cspresnet50": "cspnet", "cspresnet50d": "cspnet", "cspresnet50w": "cspnet",
        "cspresnext50": "cspnet", "cspresnext50_iabn": "cspnet", "cspdarknet53": "cspnet",
        "cspdarknet53_iabn": "cspnet", "darknet53": "cspnet", "densenet121": "densenet",
        "densenetblur121d": "densenet", "densenet121d": "densenet", "densenet169": "densenet",
        "densenet201": "densenet", "densenet161": "densenet", "densenet264": "densenet",
    }  # fmt: skip
    for name, module in shown.items():
        fn = registry.model_entrypoint(name)
        assert fn.__name__ == name and fn.__module__ == f"visionzoo.models.{module}"
        assert name in visionzoo.list_models(module=module)


def test_two_ways_to_create_resnet34() -> None:
    from visionzoo.models.resnet import resnet34

    a = visionzoo.create_model("resnet34")
    b = resnet34()
    assert type(a) is type(b) and a.state_dict().keys() == b.state_dict().keys()


def test_register_model_adds_an_entrypoint() -> None:
    from visionzoo import registry

    def seed_resnet34_copy(pretrained: bool = False, **kwargs: object) -> torch.nn.Module:
        from visionzoo.models.resnet import BasicBlock, ResNet

        return ResNet(BasicBlock, layers=[3, 4, 6, 3], **kwargs)

    try:
        visionzoo.register_model(seed_resnet34_copy)
        assert registry.model_entrypoint("seed_resnet34_copy") is seed_resnet34_copy
        assert visionzoo.create_model("seed_resnet34_copy").fc.out_features == 1000
    finally:
        with registry._lock:
            registry._entrypoints.pop("seed_resnet34_copy")
            registry._module_to_archs[registry._arch_to_module.pop("seed_resnet34_copy")].discard(
                "seed_resnet34_copy"
            )


def test_default_config_of_resnet34() -> None:
    from visionzoo.models.resnet import default_cfgs

    cfg = default_cfgs["resnet34"]
    for key in ("url", "num_classes", "input_size", "pool_size", "crop_pct", "interpolation", "mean", "std",
                "first_conv", "classifier"):  # fmt: skip
        assert key in cfg
    assert cfg["num_classes"] == 1000 and cfg["input_size"] == (3, 224, 224) and cfg["pool_size"] == (7, 7)
    assert cfg["mean"] == (0.485, 0.456, 0.406) and cfg["std"] == (0.229, 0.224, 0.225)
    assert cfg["first_conv"] == "conv1" and cfg["classifier"] == "fc"
    # the seed's URL, crop and interpolation now belong to the "bt_in1k" tag (timm 1.0 made
    # the RSB "a1_in1k" weights the default)
    assert visionzoo.get_pretrained_cfg("resnet34.bt_in1k").url == SEED_URL


def test_build_model_with_cfg_order_prune_pretrained_features(tmp_path: Path) -> None:
    # instantiate -> prune -> load pretrained -> wrap as features, in one call
    state = random_state_dict("ecaresnet50d_pruned")
    f = write_safetensors(state, tmp_path / "p.safetensors")
    backbone = visionzoo.create_model(
        "ecaresnet50d_pruned", pretrained=True, features_only=True, out_indices=(2, 3, 4),
        pretrained_cfg_overlay=dict(file=str(f)),
    )  # fmt: skip
    assert isinstance(backbone, visionzoo.FeatureListNet)
    assert backbone.state_dict()["layer1.0.conv1.weight"].shape == (47, 64, 1, 1)  # pruned width
    assert torch.equal(backbone.state_dict()["layer4.2.conv3.weight"], state["layer4.2.conv3.weight"])
    assert backbone.pretrained_cfg.num_classes == 0


def test_resnet34_as_feature_extractor() -> None:
    m = visionzoo.create_model("resnet34", features_only=True, out_indices=(2, 3, 4)).eval()
    feats = m(torch.randn(1, 3, 224, 224))
    assert [tuple(f.shape) for f in feats] == [(1, 128, 28, 28), (1, 256, 14, 14), (1, 512, 7, 7)]
    assert m.feature_info.channels() == [128, 256, 512]
    assert m.feature_info.reduction() == [8, 16, 32]


# --- models_and_pretrained_weights.txt ------------------------------------------------------------
def test_list_models_is_sorted_and_holds_the_seed_names() -> None:
    names = visionzoo.list_models()
    assert names == sorted(names, key=visionzoo.registry._natural_key)
    for shown in ["cspdarknet53", "cspdarknet53_iabn", "cspresnet50", "cspresnet50d"]:
        assert shown in names
    # adv_inception_v3 is now a deprecated name for inception_v3.tf_adv_in1k: it still works
    assert visionzoo.is_model("adv_inception_v3")
    # timm 1.0 (and visionzoo) list arch.tag names with pretrained=True; include_tags=False gives
    # the architectures, as the seed shows them
    pretrained = visionzoo.list_models(pretrained=True, include_tags=False)
    for shown in ["cspdarknet53", "cspresnet50", "cspresnext50", "densenet121"]:
        assert shown in pretrained
        assert any(n.startswith(f"{shown}.") for n in visionzoo.list_models(pretrained=True))
    assert "cspdarknet53_iabn" not in pretrained
    assert visionzoo.get_deprecated_models()["adv_inception_v3"] == "inception_v3.tf_adv_in1k"


@pytest.mark.parametrize("pick", range(3))
def test_random_model_from_list_models(pick: int) -> None:
    random_model_to_create = random.Random(pick).choice(visionzoo.list_models())
    model = visionzoo.create_model(random_model_to_create).eval()
    cfg = model.pretrained_cfg
    size = cfg.input_size[-1] if cfg.fixed_input_size else 224
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        assert model(x).shape == torch.Size([1, 1000]), random_model_to_create


def test_torchvision_fails_on_one_channel_but_visionzoo_adapts(tmp_path: Path) -> None:
    import torchvision

    tv = torchvision.models.resnet34()
    with pytest.raises(RuntimeError, match="expected input.*to have 3 channels, but got 1 channels"):
        tv(torch.randn(1, 1, 224, 224))

    f = write_safetensors(random_state_dict("resnet34"), tmp_path / "resnet34.safetensors")
    overlay = dict(file=str(f))
    m = visionzoo.create_model("resnet34", pretrained=True, in_chans=1, pretrained_cfg_overlay=overlay).eval()
    with torch.no_grad():
        assert m(torch.randn(1, 1, 224, 224)).shape == torch.Size([1, 1000])
    m = visionzoo.create_model(
        "resnet34", pretrained=True, in_chans=25, pretrained_cfg_overlay=overlay
    ).eval()
    with torch.no_grad():
        assert m(torch.randn(1, 25, 224, 224)).shape == torch.Size([1, 1000])


def test_load_pretrained_walkthrough(tmp_path: Path) -> None:
    from visionzoo import load_pretrained
    from visionzoo.hub import download_url, load_checkpoint_file
    from visionzoo.models.resnet import BasicBlock, ResNet, default_cfgs

    resnet34_default_cfg = default_cfgs["resnet34"]
    resnet34 = ResNet(BasicBlock, layers=[3, 4, 6, 3], in_chans=1)
    resnet34.default_cfg = deepcopy(resnet34_default_cfg)
    assert (
        repr(resnet34.conv1) == "Conv2d(1, 64, kernel_size=(7, 7), stride=(2, 2), padding=(3, 3), bias=False)"
    )
    assert resnet34.conv1.weight.shape == torch.Size([64, 1, 7, 7])

    # the seed downloads the weights with torch.hub; here a loopback server serves a file we wrote
    src = tmp_path / "resnet34.pth"
    torch.save(random_state_dict("resnet34"), src)
    with http_server() as (base, routes, _):
        routes["/resnet34.pth"] = (src.read_bytes(), "ok")
        state_dict = load_checkpoint_file(download_url(f"{base}/resnet34.pth", tmp_path / "cache"))
    assert state_dict["conv1.weight"].shape == torch.Size([64, 3, 7, 7])

    # case 1: one input channel sums the RGB filters
    conv1_weight = state_dict["conv1.weight"]
    assert conv1_weight.sum(dim=1, keepdim=True).shape == torch.Size([64, 1, 7, 7])
    load_pretrained(resnet34, resnet34.default_cfg.replace(url=None, hf_hub_id=None, file=str(src)))
    assert torch.allclose(resnet34.conv1.weight, conv1_weight.sum(dim=1, keepdim=True))

    # case 2: eight channels repeat the filters, take the first 8 and scale by 3/8
    resnet8 = ResNet(BasicBlock, layers=[3, 4, 6, 3], in_chans=8)
    load_pretrained(resnet8, resnet34_default_cfg.replace(url=None, hf_hub_id=None, file=str(src)))
    repeat = math.ceil(8 / 3)
    expected = conv1_weight.float().repeat(1, repeat, 1, 1)[:, :8, :, :] * (3 / float(8))
    assert torch.allclose(resnet8.conv1.weight, expected)
