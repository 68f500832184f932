"""Aligned Xception specifics the registry-wide suites do not reach: hook-based feature taps
inside blocks (also under output_stride), the post- vs pre-activation block structure, the pruned
cut, block_cfg validation, timm checkpoints. (output_stride, drop-path, forward_intermediates,
checkpointing and pruning against timm: test_capabilities.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from timm_oracle import materialize_random, rel_err, timm_model
from torch import nn

import visionzoo
from visionzoo.builder import load_state_dict_into
from visionzoo.features import FeatureHookNet
from visionzoo.models import xception_aligned as xa

pytestmark = pytest.mark.family

SIZE = 64
POST, PRE = "xception41", "xception41p"


def _x(size: int = SIZE) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(3))


def _random(name: str, **kwargs) -> nn.Module:
    return materialize_random(visionzoo.create_model(name, device="meta", **kwargs))


# --- entrypoints ----------------------------------------------------------------------------------
def test_entrypoint_is_a_module_level_function_named_like_the_model() -> None:
    fn = visionzoo.model_entrypoint("xception71")
    assert fn is xa.xception71
    assert fn.__name__ == "xception71"
    assert fn.__module__.endswith("xception_aligned")
    assert visionzoo.list_models(module="xception_aligned") == sorted(xa.VARIANTS)


# --- features: hooks inside blocks ----------------------------------------------------------------
@pytest.mark.parametrize("name", [POST, PRE])
def test_features_only_is_a_hook_net_with_timm_keys(name: str) -> None:
    backbone = visionzoo.create_model(name, features_only=True, out_indices=(0, 2), device="meta")
    assert isinstance(backbone, FeatureHookNet)
    # the trunk is rebuilt flat (stem_0, blocks_0, ...) and stops at the block holding the last tap
    assert list(backbone.keys()) == ["stem_0", "stem_1", "blocks_0", "blocks_1", "blocks_2"]
    theirs = timm_model(name, features_only=True, out_indices=(0, 2))
    assert list(backbone.state_dict()) == list(theirs.state_dict())
    tap = "stack.conv2" if name == PRE else "stack.act3"
    assert backbone.feature_info.module_name() == [f"blocks.0.{tap}", f"blocks.2.{tap}"]


@pytest.mark.parametrize("name", [POST, PRE, "xception71"])
@pytest.mark.parametrize("output_stride", [32, 16, 8])
def test_forward_intermediates_equal_features_only(name: str, output_stride: int) -> None:
    model = _random(name, output_stride=output_stride)
    backbone = visionzoo.create_model(name, features_only=True, output_stride=output_stride, device="meta")
    # the backbone's flattened names: stem.0.conv.weight -> stem_0.conv.weight
    flat = {re.sub(r"^(stem|blocks)\.(\d+)\.", r"\1_\2.", k): v for k, v in model.state_dict().items()}
    load_state_dict_into(backbone, {k: v for k, v in flat.items() if not k.startswith("head.")}, strict=True)
    backbone.eval()
    x = _x()
    with torch.no_grad():
        hooked = backbone(x)
        final, inters = model.forward_intermediates(x)
        assert torch.equal(final, model.forward_features(x))
    assert len(hooked) == len(inters) == 5
    for a, b in zip(hooked, inters):
        assert torch.equal(a, b)


def test_taps_sit_before_the_strided_conv() -> None:
    """Level k is at reduction 2**(k+1) because it is read before its block's strided conv."""
    model = _random(POST)
    info = model.feature_info
    assert [f["reduction"] for f in info] == [2, 4, 8, 16, 32]
    for f, block_idx in zip(info[:-1], model.feature_blocks[:-1]):
        block = model.blocks[block_idx]
        assert block.stack.conv3.conv_dw.stride == (2, 2)
        assert block.stack.conv2.conv_pw.out_channels == f["num_chs"]
    assert model.feature_blocks == [0, 1, 2, 11, 12]
    assert xa.xception71(device="meta").feature_blocks == [0, 2, 4, 21, 22]


# --- block structure ------------------------------------------------------------------------------
def test_post_activation_structure() -> None:
    model = visionzoo.create_model(POST, device="meta")
    stem_last = model.stem[1]
    assert isinstance(stem_last.bn.act, nn.ReLU)  # stem ends with its own norm + act
    entry = model.blocks[0]
    assert isinstance(entry, xa.XceptionModule)
    assert [n for n, _ in entry.stack.named_children()] == ["act1", "conv1", "act2", "conv2", "act3", "conv3"]
    # the first ReLU reads the block input, which the shortcut also uses
    assert not entry.stack.act1.inplace and entry.stack.act2.inplace
    conv1 = entry.stack.conv1
    assert conv1.conv_dw.groups == conv1.conv_dw.in_channels == 64  # depthwise
    assert conv1.conv_pw.kernel_size == (1, 1)
    assert isinstance(conv1.act_pw, nn.Identity)  # acts come from the stack
    assert conv1.bn_dw.eps == 1e-3  # TF batch norm epsilon
    assert entry.shortcut is not None and entry.shortcut.conv.stride == (2, 2)
    assert model.blocks[5].shortcut is None  # middle flow: identity residual
    last = model.blocks[-1]
    assert last.no_skip and last.shortcut is None
    assert not any(n.startswith("act") for n, _ in last.stack.named_children())
    assert isinstance(last.stack.conv1.act_pw, nn.ReLU)  # no leading ReLUs: convs carry their own
    assert isinstance(model.act, nn.Identity)


def test_pre_activation_structure() -> None:
    model = visionzoo.create_model(PRE, device="meta")
    assert type(model.stem[1]) is nn.Conv2d  # bare conv: the first block's entry norm follows
    entry = model.blocks[0]
    assert isinstance(entry, xa.PreXceptionModule)
    assert entry.norm.eps == 1e-5  # xception41p uses the default batch norm
    assert isinstance(entry.stack.conv1.norm, nn.Identity)  # reads the block's own pre-activation
    assert isinstance(entry.stack.conv2.norm.act, nn.ReLU)
    assert type(entry.shortcut) is nn.Conv2d and entry.shortcut.stride == (2, 2)
    assert isinstance(model.blocks[5].shortcut, nn.Identity)
    assert isinstance(model.act, nn.ReLU) and not model.act.inplace
    assert visionzoo.create_model("xception65p", device="meta").blocks[0].norm.eps == 1e-3


def test_pre_activation_residual_adds_the_normalised_input() -> None:
    block = xa.PreXceptionModule(16, 16).eval()
    nn.init.normal_(block.norm.running_mean)
    x = torch.randn(1, 16, 8, 8)
    with torch.no_grad():
        pre = block.norm(x.clone())
        assert torch.allclose(block(x), block.stack(pre) + pre, atol=1e-6)


# --- pruning ------------------------------------------------------------------------------------
def test_forward_intermediates_after_pruning_names_the_cut() -> None:
    model = _random(POST)
    model.prune_intermediate_layers([1])
    with pytest.raises(ValueError, match="pruned"):
        model.forward_intermediates(_x(), indices=[3])


# --- block_cfg ------------------------------------------------------------------------------------
def _timm_style_cfg() -> list[dict]:
    return [
        dict(in_chs=64, out_chs=96, stride=2),
        dict(in_chs=96, out_chs=96, stride=1),
        dict(in_chs=96, out_chs=(96, 128, 128), stride=2),
        dict(in_chs=128, out_chs=(160, 160, 192), stride=1, no_skip=True, start_with_relu=False),
    ]


def test_block_cfg_accepts_timm_style_dicts() -> None:
    model = xa.XceptionAligned(_timm_style_cfg(), num_classes=5)
    assert [f["num_chs"] for f in model.feature_info] == [96, 128, 192]
    assert [f["reduction"] for f in model.feature_info] == [2, 4, 8]
    assert model(_x()).shape == (2, 5)
    as_records = xa.XceptionAligned([xa.XceptionBlockCfg(**d) for d in _timm_style_cfg()], num_classes=5)
    assert [tuple(v.shape) for v in as_records.state_dict().values()] == [
        tuple(v.shape) for v in model.state_dict().values()
    ]


@pytest.mark.parametrize(
    ("change", "error", "match"),
    [
        (dict(in_chs=32), ValueError, "in_chs=32"),
        (dict(stride=0), ValueError, "stride"),
        (dict(out_chs=(96, 96)), ValueError, "out_chs"),
        (dict(kernel=5), TypeError, "unknown keys"),
    ],
)
def test_bad_block_cfg_is_named(change: dict, error: type[Exception], match: str) -> None:
    cfg = _timm_style_cfg()
    cfg[0] = {**cfg[0], **change}
    with pytest.raises(error, match=match):
        xa.XceptionAligned(cfg)


def test_preact_rejects_start_with_relu_false() -> None:
    with pytest.raises(ValueError, match="start_with_relu"):
        xa.XceptionAligned(_timm_style_cfg(), preact=True)
    with pytest.raises(TypeError, match="block_cfg"):
        xa.XceptionAligned([])


# --- checkpoints ----------------------------------------------------------------------------------
def test_timm_checkpoint_loads_as_pretrained(tmp_path: Path) -> None:
    theirs = timm_model("xception71")
    path = tmp_path / "xception71.pth"
    torch.save(theirs.state_dict(), path)
    ours = visionzoo.create_model(
        "xception71", pretrained=True, num_classes=10, pretrained_cfg_overlay=dict(file=str(path))
    ).eval()
    assert ours.get_classifier().out_features == 10
    x = _x()
    with torch.no_grad():
        assert rel_err(ours.forward_features(x), theirs.forward_features(x)) < 1e-4
