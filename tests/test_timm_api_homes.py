"""timm's helper names live in their home modules, one of each (no ``visionzoo.compat`` twins),
and timm's module paths (``visionzoo.models._builder``, ``visionzoo.layers.std_conv``...) re-export
them: the stored list of timm's names per path says which; a family not ported yet is named.

``create_model`` takes timm's layer switches, ``list_models`` timm's ``name_matches_cfg``,
``parse_model_name`` rejects what is not a name, and one ``checkpoint_seq`` (timm's call) serves
every family: the EfficientNet / MobileNetV3 / ResNet-V2 trunks checkpoint block by block through
it, with the same outputs and gradients as without, drop-path masks included.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import subprocess
import sys
import types
from pathlib import Path

import pytest
import timm
import timm.models
import torch
from torch import nn

import visionzoo
import visionzoo.models
from visionzoo import _timm_paths, adapt, builder, factory, model, registry
from visionzoo.layers.config import is_exportable, is_no_jit, is_scriptable

pytestmark = pytest.mark.contract

HOMES = {
    factory: ["create_model", "parse_model_name", "safe_model_name"],
    registry: ["list_models", "get_pretrained_cfg_value", "get_arch_name", "is_model_in_modules"],
    builder: ["resume_checkpoint", "load_checkpoint"],
    model: ["checkpoint_seq", "named_apply", "named_modules", "model_parameters"],
}


@pytest.mark.parametrize("name", [n for names in HOMES.values() for n in names])
def test_one_definition_at_every_path(name: str) -> None:
    home = next(m for m, names in HOMES.items() if name in names)
    fn = getattr(home, name)
    assert fn.__module__ == home.__name__
    assert getattr(visionzoo.models, name) is fn
    if hasattr(visionzoo, name):
        assert getattr(visionzoo, name) is fn


def test_the_holding_pen_is_gone() -> None:
    # (the package folder, not an import: an editable install elsewhere may still map the name)
    assert not (Path(visionzoo.__file__).parent / "compat.py").exists()


def test_top_level_offers_timms_top_level_names() -> None:
    """``import visionzoo as timm`` finds every name ``import timm`` offers."""
    names = [n for n in vars(timm) if not n.startswith("_") and callable(getattr(timm, n))]
    assert "get_pretrained_cfg_value" in names and "set_scriptable" in names
    assert [n for n in names if not hasattr(visionzoo, n)] == []
    assert visionzoo.get_pretrained_cfg_value("resnet50", "crop_pct") == 0.95


# --- create_model's layer switches ----------------------------------------------------------------
def test_create_model_sets_timms_layer_switches_while_building() -> None:
    seen: list[tuple[bool, bool, bool]] = []
    mod = types.ModuleType("switch_models")
    sys.modules["switch_models"] = mod

    def switch_net(pretrained: bool = False, **kwargs: object) -> nn.Module:
        seen.append((is_scriptable(), is_exportable(), is_no_jit()))
        return visionzoo.create_model("test_resnet", **kwargs)

    switch_net.__module__ = "switch_models"
    try:
        visionzoo.register_model(switch_net)
        visionzoo.create_model("switch_net", scriptable=True, no_jit=True)
        # a bare entrypoint never sees the switches as kwargs; they hold only while building
        assert seen == [(True, False, True)]
        assert not (is_scriptable() or is_exportable() or is_no_jit())
        names = visionzoo.list_models(module="switch_models")
        assert names == ["switch_net"]
        # no pretrained config registered under it: name_matches_cfg leaves it out (timm's filter)
        assert visionzoo.list_models(module="switch_models", name_matches_cfg=True) == []
    finally:
        with registry._lock:
            registry._entrypoints.pop("switch_net", None)
            registry._arch_to_module.pop("switch_net", None)
            registry._module_to_archs.pop("switch_models", None)
        sys.modules.pop("switch_models", None)
    # family entrypoints (visionzoo.models.resnet.resnet18(...)) take them as timm's do
    assert registry.model_entrypoint("test_resnet")(exportable=True, num_classes=2).num_classes == 2
    with pytest.raises(TypeError, match="scriptable must be a bool or None, got 'yes'"):
        visionzoo.create_model("test_resnet", scriptable="yes")


def test_list_models_takes_timms_positional_order() -> None:
    # filter, module, pretrained, exclude_filters, name_matches_cfg, include_tags
    tagged = visionzoo.list_models("resnet18", "", False, "", True, True)
    assert tagged == visionzoo.list_models("resnet18", name_matches_cfg=True, include_tags=True)
    assert tagged == [n for n in timm.list_models("resnet18", include_tags=True)]


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("ftp:resnet50", r"unknown source 'ftp:'; valid: local-dir:, hf-hub:, hf_hub: or a plain model name"),
        ("timm/resnet50", "'timm/resnet50' is not a model name"),
        ("local-dir:", "names no local-dir location"),
    ],
)
def test_top_level_parse_model_name_is_strict(name: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        visionzoo.parse_model_name(name)
    with pytest.raises(ValueError, match=match):
        visionzoo.models.safe_model_name(name)


def test_is_model_in_modules_with_no_modules_is_false() -> None:
    assert not visionzoo.models.is_model_in_modules("resnet50", [])
    assert not timm.models.is_model_in_modules("resnet50", [])


# --- checkpoint_seq: timm's call ------------------------------------------------------------------
def _counted(n: int) -> tuple[nn.Sequential, list[int]]:
    calls = [0] * n
    seq = nn.Sequential(*[nn.Linear(4, 4) for _ in range(n)])
    for i, m in enumerate(seq):
        m.register_forward_pre_hook(lambda *_, i=i: calls.__setitem__(i, calls[i] + 1))
    return seq, calls


@pytest.mark.parametrize(("n", "every"), [(4, 2), (5, 2), (3, 1), (1, 1)])
def test_checkpoint_seq_recomputes_what_timms_does(n: int, every: int) -> None:
    """skip_last leaves only the last function unrecomputed, as timm's (not the last span)."""
    x = torch.randn(2, 4, requires_grad=True)
    for skip_last in (False, True):
        counts = []
        for fn in (model.checkpoint_seq, timm.models.checkpoint_seq):
            seq, calls = _counted(n)
            fn(seq, x, every, skip_last=skip_last).sum().backward()
            counts.append(calls)
        assert counts[0] == counts[1], (skip_last, counts)


def test_checkpoint_seq_bad_input_names_it() -> None:
    x = torch.randn(1, 4)
    with pytest.raises(ValueError, match="every must be an int >= 1, got 0"):
        model.checkpoint_seq(nn.Sequential(nn.Linear(4, 4)), x, every=0)
    with pytest.raises(TypeError, match="needs sequences of functions .* got a Linear"):
        model.checkpoint_seq([nn.Linear(4, 4)], x, flatten=True)


def test_checkpoint_seq_preserve_rng_state_replays_dropout() -> None:
    seq = nn.Sequential(nn.Linear(8, 8), nn.Dropout(0.5), nn.Linear(8, 8), nn.Dropout(0.5)).train()
    x = torch.randn(4, 8, requires_grad=True)

    def grad(**kwargs: bool) -> torch.Tensor:
        torch.manual_seed(1)
        out = model.checkpoint_seq(seq, x, **kwargs) if kwargs else seq(x)
        return torch.autograd.grad(out.sum(), x)[0]

    plain = grad()
    torch.testing.assert_close(grad(preserve_rng_state=True), plain)
    assert not torch.allclose(grad(preserve_rng_state=False), plain)  # fresh masks in recompute


# --- the families' trunks -------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["test_efficientnet", "mobilenetv3_small_050", "resnetv2_18"])
def test_family_checkpointing_per_block_same_outputs_and_grads(name: str) -> None:
    """Each block is one recompute unit (runs twice) and drop-path masks replay, so outputs and
    gradients equal the plain pass."""
    net = visionzoo.create_model(name, num_classes=3, drop_path_rate=0.2).train()
    blocks = [b for stage in _stages(net) for b in stage]
    calls = {id(b): 0 for b in blocks}
    for b in blocks:
        b.register_forward_pre_hook(lambda m, _: calls.__setitem__(id(m), calls[id(m)] + 1))
    x = torch.randn(2, 3, 32, 32)
    state = copy.deepcopy(net.state_dict())

    def run(checkpointing: bool) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        net.load_state_dict(state)
        net.zero_grad()
        net.set_grad_checkpointing(checkpointing)
        calls.update(dict.fromkeys(calls, 0))
        torch.manual_seed(7)
        out = net(x)
        out.square().sum().backward()
        return out.detach(), {n: p.grad.clone() for n, p in net.named_parameters() if p.grad is not None}

    out, grads = run(False)
    assert set(calls.values()) == {1}
    out_ckpt, grads_ckpt = run(True)
    assert set(calls.values()) == {2}
    torch.testing.assert_close(out_ckpt, out)
    assert grads_ckpt.keys() == grads.keys()
    for n, g in grads.items():
        torch.testing.assert_close(grads_ckpt[n], g, msg=n)


def _stages(net: nn.Module) -> list[nn.Sequential]:
    if hasattr(net, "blocks"):  # EfficientNet / MobileNetV3: blocks = stages of blocks
        return list(net.blocks)
    return [stage.blocks for stage in net.stages]  # ResNet-V2: stages[i].blocks


# --- resume_checkpoint ----------------------------------------------------------------------------
def test_resume_checkpoint_reads_a_checkpoint_with_timms_run_args(tmp_path: Path) -> None:
    """timm's train.py stores its ``argparse.Namespace`` under ``args``: the allowed global."""
    trained = visionzoo.create_model("test_resnet", num_classes=3)
    path = tmp_path / "last.pth.tar"
    state = {"epoch": 1, "state_dict": trained.state_dict(), "args": argparse.Namespace(lr=0.1), "version": 2}
    torch.save(state, path)
    fresh = visionzoo.create_model("test_resnet", num_classes=3)
    assert builder.resume_checkpoint(fresh, path) == 2
    assert timm.models.resume_checkpoint(visionzoo.create_model("test_resnet", num_classes=3), str(path)) == 2
    for k, v in trained.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[k], v)
    torch.save({**state, "args": nn.Identity()}, path)  # anything else is still refused
    with pytest.raises(visionzoo.WeightsError, match="refusing to load .*arbitrary unpickling"):
        builder.resume_checkpoint(fresh, path)


def test_resume_checkpoint_refuses_damaged_files_with_the_loaders_messages(tmp_path: Path) -> None:
    model = visionzoo.create_model("test_resnet", num_classes=3)
    path = tmp_path / "last.pth.tar"
    torch.save({"epoch": 1, "state_dict": model.state_dict()}, path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])  # a copy cut short
    with pytest.raises(visionzoo.WeightsError, match="truncated or corrupt"):
        builder.resume_checkpoint(model, path)
    torch.save([1, 2], path)
    with pytest.raises(visionzoo.WeightsError, match="holds a list, not a checkpoint"):
        builder.resume_checkpoint(model, path)


# --- timm's module paths: aliases of the one definition (issue 25) -------------------------------
# the stored list (visionzoo/_data/timm_api.json, written from timm by tests/timm_api.py): timm path
# -> name -> the visionzoo module defining it, or None where visionzoo has nothing of that name
API = _timm_paths.timm_api()
OFFERED = [(p, n, h) for p, names in API["paths"].items() for n, h in names.items() if h]
ABSENT = [(p, n) for p, names in API["paths"].items() for n, h in names.items() if not h]
ALIAS_FILES = sorted(
    f"{pkg}.{f.stem}"
    for pkg in ("models", "layers")
    for f in (Path(visionzoo.__file__).parent / pkg).glob("*.py")
    if "module_getattr(__name__)" in f.read_text()
)
# visionzoo modules at timm's paths that are not alias modules (their own files, owned elsewhere)
# and lack a name visionzoo defines in another module: each is a re-export still to add there.
# Exact both ways: a new gap fails, and so does a closed one left listed.
KNOWN_GAPS = {
    ("layers.config", "set_fused_attn"),
    ("layers.mlp", "ConvMlp"),
}
# what downstream code imports every day (the list): offered, whatever the list says
MUST_OFFER = [
    ("models._builder", "build_model_with_cfg"),
    ("models._manipulate", "checkpoint_seq"),
    ("models._manipulate", "named_apply"),
    ("models._manipulate", "adapt_input_conv"),
    ("models._helpers", "load_state_dict"),
    ("models._helpers", "load_checkpoint"),
    ("models._helpers", "resume_checkpoint"),
    ("models._hub", "load_state_dict_from_path"),
    ("models._registry", "list_models"),
    ("models._factory", "create_model"),
    ("models._features", "feature_take_indices"),
    ("models._features_fx", "register_notrace_module"),
    ("models._efficientnet_blocks", "InvertedResidual"),
    ("models._efficientnet_builder", "EfficientNetBuilder"),
    ("layers.activations", "Swish"),
    ("layers.norm_act", "BatchNormAct2d"),
    ("layers.std_conv", "StdConv2d"),
    ("layers.helpers", "to_2tuple"),
    ("layers.drop", "DropPath"),
    ("layers.weight_init", "trunc_normal_"),
    ("layers.pos_embed", "resample_abs_pos_embed"),
    ("layers.mlp", "Mlp"),
    ("layers.attention", "Attention"),
]


def test_the_stored_list_is_timms_and_current() -> None:
    """The list equals what timm and visionzoo hold now (regenerate: ``python tests/timm_api.py``)."""
    import timm_api

    assert API["timm_version"] == timm.__version__
    stored = (Path(visionzoo.__file__).parent / "_data" / "timm_api.json").read_text()
    assert timm_api.render() == stored, "the list is stale: run `python tests/timm_api.py`"


@pytest.mark.parametrize(("path", "name"), MUST_OFFER, ids=[f"{p}.{n}" for p, n in MUST_OFFER])
def test_the_daily_names_are_in_the_list(path: str, name: str) -> None:
    assert API["paths"][path][name], f"timm.{path}.{name} has no visionzoo home in the stored list"


@pytest.mark.parametrize(("path", "name", "home"), OFFERED, ids=[f"{p}.{n}" for p, n, _ in OFFERED])
def test_timm_path_offers_visionzoos_own_object(path: str, name: str, home: str) -> None:
    """``from visionzoo.<timm path> import name`` gives the one definition, not a copy."""
    if (path, name) in KNOWN_GAPS:
        assert not hasattr(importlib.import_module(f"visionzoo.{path}"), name), "gap closed: drop it"
        return
    obj = getattr(importlib.import_module(home), name)
    defined_in = getattr(obj, "__module__", None) or ""
    assert defined_in == home or not defined_in.startswith("visionzoo"), (defined_in, home)
    assert home.removeprefix("visionzoo.") not in ALIAS_FILES
    try:
        alias = importlib.import_module(f"visionzoo.{path}")
    except ImportError as e:  # a module there would shadow the package's function of that name
        package = importlib.import_module(f"visionzoo.{path.split('.')[0]}")
        assert path.split(".")[1] in vars(package) and f"names from {package.__name__}" in str(e)
        assert getattr(package, name) is obj
        return
    assert getattr(alias, name) is obj
    if path in ALIAS_FILES:
        assert name in alias.__all__


@pytest.mark.parametrize(("path", "name"), ABSENT, ids=[f"{p}.{n}" for p, n in ABSENT])
def test_timm_name_not_here_is_an_attribute_error(path: str, name: str) -> None:
    try:
        module = importlib.import_module(f"visionzoo.{path}")
    except ImportError as e:  # no file at that path: nothing of it is here, or it would shadow
        offered = [n for (p, n, _) in OFFERED if p == path]
        if offered:  # (layers.create_conv2d: the module would hide visionzoo.layers.create_conv2d)
            assert f"import timm.{path}'s names from visionzoo.{path.split('.')[0]}" in str(e)
            package = importlib.import_module(f"visionzoo.{path.split('.')[0]}")
            assert all(hasattr(package, n) for n in offered)
        else:
            assert f"none of timm.{path}'s names" in str(e) and "is ported to visionzoo yet" in str(e)
        return
    if path not in ALIAS_FILES:  # a module of its own (not ours to give the message): just absent
        assert not hasattr(module, name)
        return
    with pytest.raises(AttributeError, match=rf"timm\.{path}\.{name} is not ported to visionzoo yet") as e:
        getattr(module, name)
    assert e.value.name == name


def test_every_alias_module_is_at_a_timm_path_and_only_aliases() -> None:
    assert "models._builder" in ALIAS_FILES and "layers.create_act" in ALIAS_FILES
    for path in ALIAS_FILES:
        assert path in API["paths"], f"visionzoo.{path} is at no timm path"
        module = importlib.import_module(f"visionzoo.{path}")
        defined = [n for n, o in vars(module).items() if getattr(o, "__module__", None) == module.__name__]
        assert defined == ["__getattr__"] or defined == [], f"visionzoo.{path} defines {defined}"
        assert sorted(module.__all__) == sorted(n for n, h in API["paths"][path].items() if h)


def test_helper_paths_are_the_same_objects_as_timms_names_are_ours() -> None:
    from visionzoo.models._builder import build_model_with_cfg
    from visionzoo.models._helpers import load_checkpoint, resume_checkpoint
    from visionzoo.models._manipulate import adapt_input_conv, checkpoint_seq

    assert build_model_with_cfg is visionzoo.build_model_with_cfg is factory.build_model_with_cfg
    assert (load_checkpoint, resume_checkpoint) == (builder.load_checkpoint, builder.resume_checkpoint)
    assert checkpoint_seq is model.checkpoint_seq and adapt_input_conv is adapt.adapt_input_conv


# --- a family not ported yet ----------------------------------------------------------------------
NOT_PORTED = "timm's 'naflexvit' family is not ported to visionzoo yet"


@pytest.mark.parametrize("name", ["naflexvit", "NaFlexVit", "naflexvit_base_patch16_gap"])
def test_unported_family_attribute_names_the_family(name: str) -> None:
    with pytest.raises(AttributeError, match=NOT_PORTED):
        getattr(visionzoo.models, name)
    assert not hasattr(visionzoo.models, name)


@pytest.mark.parametrize(
    "code",
    [
        "import visionzoo.models.naflexvit",
        "from visionzoo.models import naflexvit",
        "from visionzoo.models.naflexvit import NaFlexVit",
    ],
)
def test_unported_family_import_names_the_family(code: str) -> None:
    with pytest.raises(ImportError, match=NOT_PORTED):
        exec(code, {})
    assert "visionzoo.models.naflexvit" not in sys.modules


def test_every_timm_class_of_a_ported_family_is_here() -> None:
    """``timm.models.EfficientNetFeatures`` and every other class timm.models exports from a family
    visionzoo has: the family module's own (a new gap fails here)."""
    efficientnet = importlib.import_module("visionzoo.models.efficientnet")
    assert visionzoo.models.EfficientNetFeatures is efficientnet.EfficientNetFeatures
    classes = [
        (n, f) for n, f in API["family_of"].items() if n[0].isupper() and f in visionzoo.models.FAMILIES
    ]
    assert len(classes) >= 17
    for name, family in classes:
        assert getattr(visionzoo.models, name) is getattr(
            importlib.import_module(f"visionzoo.models.{family}"), name
        )
    # were one missing, the error would name it and its family
    message = str(_timm_paths.not_ported("visionzoo.models", "EfficientNetFeatures"))
    assert "timm.models.efficientnet.EfficientNetFeatures is not ported to visionzoo yet" in message


def test_ported_family_and_other_names_keep_their_behaviour() -> None:
    assert importlib.import_module("visionzoo.models.resnet").__name__ == "visionzoo.models.resnet"
    with pytest.raises(ModuleNotFoundError, match="No module named 'visionzoo.models.no_such_family'$"):
        importlib.import_module("visionzoo.models.no_such_family")
    with pytest.raises(AttributeError, match="has no attribute 'no_such_name'$"):
        visionzoo.models.no_such_name  # noqa: B018
    assert API["family_of"]["ResNet"] == "resnet" and "swin_transformer" in API["families"]


def test_model_entrypoints_at_timm_models_as_timm_offers_them() -> None:
    """``timm.models.resnet50`` is resnet's entrypoint; so is ``visionzoo.models.resnet50``."""
    assert callable(timm.models.resnet50)
    resnet = importlib.import_module("visionzoo.models.resnet")
    assert visionzoo.models.resnet50 is resnet.resnet50 is registry.model_entrypoint("resnet50")
    from visionzoo.models import efficientnet_b0

    assert efficientnet_b0 is registry.model_entrypoint("efficientnet_b0")
    # a deprecated name has no entrypoint of its own (timm's warns and builds the new name's tag)
    assert "tv_resnet50" in visionzoo.get_deprecated_models("resnet")
    with pytest.raises(AttributeError, match=r"'tv_resnet50': it is a deprecated model name .*create_model"):
        visionzoo.models.tv_resnet50  # noqa: B018


def test_import_visionzoo_imports_no_alias_module() -> None:
    code = "import sys, visionzoo; print(sorted(m for m in sys.modules if m.startswith('visionzoo.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    loaded = {m.removeprefix("visionzoo.") for m in eval(out)}
    assert loaded and not loaded & {*ALIAS_FILES, *_timm_paths.DEPRECATED}


# --- timm's deprecated paths (timm.models.layers, .helpers, .registry...) --------------------------
@pytest.mark.parametrize("path", sorted(_timm_paths.DEPRECATED))
def test_deprecated_timm_path_warns_and_offers_the_same_objects(path: str, monkeypatch) -> None:
    """``from timm.models.layers import DropPath`` (old code) runs, warning as timm does."""
    monkeypatch.delitem(sys.modules, f"visionzoo.{path}", raising=False)
    with pytest.warns(FutureWarning, match=rf"Importing from visionzoo\.{path} is deprecated"):
        ours = importlib.import_module(f"visionzoo.{path}")
    targets = [importlib.import_module(f"visionzoo.{t}") for t in _timm_paths.DEPRECATED[path]]
    theirs = importlib.import_module(f"timm.{path}")
    public = {n: o for n, o in vars(theirs).items() if not n.startswith("_")}
    names = [n for n, o in public.items() if not isinstance(o, types.ModuleType)]
    assert len(names) > 3
    for name in names:
        homes = [getattr(t, name) for t in targets if hasattr(t, name)]
        if homes:
            assert getattr(ours, name) is homes[0], name
        else:
            with pytest.raises(AttributeError, match=f"has no attribute '{name}'"):
                getattr(ours, name)
    assert set(ours.__all__) == {n for t in targets for n in t.__all__}
