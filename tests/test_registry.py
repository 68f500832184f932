"""Registry and factory behaviour: listing, filtering, tags, aliases, entrypoints, bad names/kwargs."""

from __future__ import annotations

import sys
import threading
import types
import warnings

import pytest
import torch

import visionzoo
from visionzoo import registry

pytestmark = pytest.mark.contract


def test_list_models_wildcards_modules_and_natural_sort() -> None:
    names = visionzoo.list_models("resnet1*")
    assert names[:3] == ["resnet10t", "resnet14t", "resnet18"]  # natural: 10 < 14 < 18 < 101
    assert names.index("resnet18") < names.index("resnet101")
    both = visionzoo.list_models(["resnet18*", "seresnet18"])
    assert both == ["resnet18", "resnet18d", "seresnet18"]
    assert visionzoo.list_models("resnet50*", exclude_filters=["*_gn", "*[cdst]", "*clip*", "*_mlp"]) == [
        "resnet50"
    ]
    assert set(visionzoo.list_models(module="resnet")) >= {"resnet50", "senet154", "resnetrs420"}
    assert visionzoo.list_models(module="no_such_module") == []
    assert "resnet" in visionzoo.list_modules()
    assert visionzoo.list_models("tv_resnet*") == []  # deprecated aliases are not listed


def test_pretrained_listing_and_tags() -> None:
    pretrained = visionzoo.list_models("resnet50*", pretrained=True)
    assert "resnet50.a1_in1k" in pretrained and "resnet50t.untrained" not in pretrained
    archs = visionzoo.list_models("resnet50*", pretrained=True, include_tags=False)
    assert "resnet50" in archs and "resnet50t" not in archs
    tagged = visionzoo.list_models("resnet50", include_tags=True)
    assert "resnet50.tv_in1k" in tagged and "resnet50" not in tagged
    assert visionzoo.list_models("resnet50.tv*", include_tags=True) == [
        "resnet50.tv2_in1k",
        "resnet50.tv_in1k",
    ]
    assert set(visionzoo.list_pretrained("resnet18.*")) == {
        "resnet18.a1_in1k",
        "resnet18.a2_in1k",
        "resnet18.a3_in1k",
        "resnet18.tv_in1k",
        "resnet18.fb_ssl_yfcc100m_ft_in1k",
        "resnet18.fb_swsl_ig1b_ft_in1k",
        "resnet18.gluon_in1k",
    }
    assert visionzoo.is_model_pretrained("resnet50") and not visionzoo.is_model_pretrained("resnet50t")


def test_split_and_configs() -> None:
    assert visionzoo.split_model_name_tag("resnet50.a1_in1k") == ("resnet50", "a1_in1k")
    assert visionzoo.split_model_name_tag("resnet50") == ("resnet50", "")
    cfg = visionzoo.get_pretrained_cfg("resnet50.tv_in1k")
    assert cfg.url == "https://download.pytorch.org/models/resnet50-0676ba61.pth"
    assert cfg["license"] == "bsd-3-clause" and cfg.name == "resnet50.tv_in1k"
    assert dict(cfg)["first_conv"] == "conv1" and cfg.hf_hub_id == "timm/resnet50.tv_in1k"
    assert cfg.top1 is not None and cfg.param_count == pytest.approx(25.56)
    with pytest.raises(visionzoo.UnknownModelError, match="unknown pretrained tag 'nope'.*a1_in1k"):
        visionzoo.get_pretrained_cfg("resnet50.nope")
    tags = visionzoo.get_arch_pretrained_cfgs("resnet50")
    assert next(iter(tags)) == "resnet50.a1_in1k"


def test_entrypoints_are_named_functions() -> None:
    from visionzoo.models.resnet import resnet34

    assert resnet34.__name__ == "resnet34" and resnet34.__module__ == "visionzoo.models.resnet"
    assert visionzoo.model_entrypoint("resnet34") is resnet34
    assert visionzoo.model_entrypoint("resnet34.a1_in1k") is resnet34
    assert visionzoo.is_model("resnet34") and visionzoo.is_model("resnet34.a1_in1k")
    assert not visionzoo.is_model("resnet35")
    model = resnet34()
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 1000)
    assert visionzoo.model_entrypoint("resnet34", module_filter="resnet") is resnet34
    with pytest.raises(visionzoo.UnknownModelError):
        visionzoo.model_entrypoint("resnet34", module_filter="densenet")


def test_deprecated_alias_warns_once_and_builds_the_tag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_warned_aliases", set())
    assert visionzoo.is_model("tv_resnet34")
    with pytest.warns(DeprecationWarning, match="tv_resnet34.*resnet34.tv_in1k"):
        model = visionzoo.create_model("tv_resnet34")
    assert model.pretrained_cfg.name == "resnet34.tv_in1k"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        visionzoo.create_model("tv_resnet34")  # second use: no warning
    assert visionzoo.get_deprecated_models("resnet")["gluon_senet154"] == "senet154.gluon_in1k"


def test_unknown_model_suggests_close_names() -> None:
    with pytest.raises(
        visionzoo.UnknownModelError, match=r"unknown model 'resnet5'.*did you mean.*'resnet50'"
    ):
        visionzoo.create_model("resnet5")
    with pytest.raises(ValueError):  # also catchable as ValueError / RuntimeError
        visionzoo.create_model("not_a_model_at_all")


def test_misspelled_kwarg_names_it() -> None:
    with pytest.raises(TypeError, match=r"'num_clases' \(did you mean 'num_classes'\?\)"):
        visionzoo.create_model("resnet18", num_clases=10)
    with pytest.raises(TypeError, match="'bogus'"):
        visionzoo.create_model("resnet18", bogus=1)


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        (dict(num_classes=-1), "num_classes must be an int >= 0, got -1"),
        (dict(num_classes="10"), "num_classes must be an int >= 0, got '10'"),
        (dict(in_chans=0), "in_chans must be an int >= 1, got 0"),
        (dict(in_chans=2.5), "in_chans must be an int >= 1, got 2.5"),
        (dict(drop_rate=1.5), r"drop_rate must be a float in \[0, 1\), got 1.5"),
        (dict(output_stride=12), "output_stride must be 8, 16 or 32, got 12"),
        (dict(global_pool="mean"), "unknown global_pool 'mean'"),
        (dict(features_only=True, out_indices=(0, 7)), r"feature index 7.*valid indices are 0..4"),
        (dict(features_only=True, out_indices=(1, 1)), "names the same feature twice"),
        (dict(features_only=True, out_indices="12"), "out_indices must be"),
        (dict(features_only=True, out_indices=6), r"last 6 features.*use 1..5"),
        (dict(features_only=True, feature_cls="graph"), "unknown feature_cls 'graph'"),
        (
            dict(features_only=True, out_indices=(4, -1)),
            r"out_indices=\(4, -1\) names the same feature twice",
        ),
        (dict(features_only=True, out_indices=(1.0, 2.0)), "out_indices entries must be ints, got 1.0"),
        (dict(out_indices=(1, 2)), r"out_indices=\(1, 2\) applies only with features_only=True"),
        (dict(feature_cls="dict"), "feature_cls='dict' applies only with features_only=True"),
        (dict(img_size=224), "unexpected keyword argument 'img_size'; resnet18 takes images of any size"),
        (dict(checkpoint_path=3), "checkpoint_path must be a file path"),
    ],
)
def test_bad_kwargs_name_the_value(kwargs: dict, pattern: str) -> None:
    with pytest.raises((ValueError, TypeError, IndexError), match=pattern):
        visionzoo.create_model("resnet18", **kwargs)


def test_none_kwargs_mean_default() -> None:
    model = visionzoo.create_model("resnet18", num_classes=None, drop_rate=None)
    assert model.num_classes == 1000


def test_register_model_decorator_and_duplicates() -> None:
    mod = types.ModuleType("my_models")
    sys.modules["my_models"] = mod

    def tiny_net(pretrained: bool = False, **kwargs: object) -> torch.nn.Module:
        return visionzoo.create_model("test_resnet", **kwargs)

    tiny_net.__module__ = "my_models"
    try:
        visionzoo.register_model(tiny_net)
        assert visionzoo.is_model("tiny_net") and "tiny_net" in visionzoo.list_models(module="my_models")
        assert visionzoo.create_model("tiny_net", num_classes=2).eval()(torch.randn(1, 3, 32, 32)).shape == (
            1,
            2,
        )
        with pytest.raises(ValueError, match="already registered"):
            visionzoo.register_model(tiny_net)
    finally:
        with registry._lock:
            registry._entrypoints.pop("tiny_net", None)
            registry._arch_to_module.pop("tiny_net", None)
            registry._module_to_archs.pop("my_models", None)
        sys.modules.pop("my_models", None)


def test_registry_and_create_model_from_many_threads() -> None:
    errors: list[BaseException] = []
    results: list[int] = []

    def work(i: int) -> None:
        try:
            names = visionzoo.list_models("resnet*", pretrained=bool(i % 2))
            model = visionzoo.create_model("test_resnet", num_classes=3 + i).eval()
            results.append(model(torch.randn(1, 3, 32, 32)).shape[1] - i)
            assert names and visionzoo.is_model(names[0])
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert results == [3] * 8


def test_as_dataclass_for_nested_config_records() -> None:
    import dataclasses

    from visionzoo.variants import as_dataclass

    @dataclasses.dataclass(frozen=True)
    class Stage:
        depth: int
        width: int = 8

    assert as_dataclass(Stage, {"depth": 2}, "stage") == Stage(2, 8)
    record = Stage(1)
    assert as_dataclass(Stage, record, "stage") is record
    with pytest.raises(TypeError, match=r"stage has unknown keys \['wdith'\]; valid keys: depth, width"):
        as_dataclass(Stage, {"depth": 2, "wdith": 3}, "stage")
    with pytest.raises(TypeError, match="stage must be a Stage or a dict of its fields, got 3"):
        as_dataclass(Stage, 3, "stage")


def test_family_index_equals_what_the_families_register() -> None:
    # the name -> module index lets a query import one family; it must list exactly what each
    # family registers (regenerate with `python -m visionzoo.models._index`)
    from visionzoo.models import FAMILIES, _index

    visionzoo.list_models()  # imports every family
    for module in FAMILIES:
        registered = set(visionzoo.list_models(module=module)) | set(visionzoo.get_deprecated_models(module))
        indexed = {n for n, m in _index.MODULE_OF.items() if m == module}
        assert indexed == registered, f"{module}: run `python -m visionzoo.models._index`"


def test_a_query_imports_only_the_family_it_needs() -> None:
    import subprocess
    import sys

    code = (
        "import sys, visionzoo\n"
        "assert visionzoo.is_model('densenet121')\n"
        "m = visionzoo.create_model('densenet121', num_classes=2)\n"
        "assert visionzoo.is_model('tv_densenet121') and not visionzoo.is_model('densenet999')\n"
        "print(sorted(k.rsplit('.', 1)[-1] for k in sys.modules if k.startswith('visionzoo.models.')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["['densenet']"]  # the index is data, not a module


def test_entrypoints_are_module_attributes_listed_by_dir() -> None:
    from visionzoo.models import densenet

    assert "densenet121" in dir(densenet)
    assert densenet.densenet121.__name__ == "densenet121"
    with pytest.raises(AttributeError, match="densenet999"):
        densenet.densenet999  # noqa: B018


def test_several_tags_need_an_explicit_default() -> None:
    with pytest.raises(ValueError, match="mark its default with default=True"):
        registry.register_pretrained_cfgs({"no_default_net.a": {}, "no_default_net.b": {}})
    registry.register_pretrained_cfgs({"explicit_net.a": {}, "explicit_net.b": {"default": True}})
    assert list(registry._cfgs["explicit_net"]) == ["b", "a"]


@pytest.mark.parametrize("pretrained", [False, True])
def test_resnet_wildcard_lists_timms_names(pretrained: bool) -> None:
    """``resnet*`` spans three timm modules (resnet, resnetv2, and byobnet's ``*ts`` / ``q`` /
    CLIP nets): the same names, in the same order."""
    timm = pytest.importorskip("timm")
    assert visionzoo.list_models("resnet*", pretrained=pretrained) == timm.list_models(
        "resnet*", pretrained=pretrained
    )
