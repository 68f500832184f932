"""timm's helper names live in their home modules, one of each (no ``visionzoo.compat`` twins).

``create_model`` takes timm's layer switches, ``list_models`` timm's ``name_matches_cfg``,
``parse_model_name`` rejects what is not a name, and one ``checkpoint_seq`` (timm's call) serves
every family: the EfficientNet / MobileNetV3 / ResNet-V2 trunks checkpoint block by block through
it, with the same outputs and gradients as without, drop-path masks included.
"""

from __future__ import annotations

import argparse
import copy
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
from visionzoo import builder, factory, model, registry
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
