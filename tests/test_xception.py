"""Aligned Xception specifics the registry-wide suites do not reach: hook-based feature taps
inside blocks, output_stride (dilation), the post- vs pre-activation block structure,
prune_intermediate_layers, gradient checkpointing, block_cfg validation."""

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

SIZE = 64
POST, PRE = "xception41", "xception41p"


def _x(size: int = SIZE) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(3))


def _pair(name: str, **kwargs) -> tuple[nn.Module, nn.Module]:
    """timm's model with random weights and ours loaded from it (strict), both in eval mode."""
    theirs = timm_model(name, **kwargs)
    ours = visionzoo.create_model(name, device="meta", **kwargs)
    load_state_dict_into(ours, theirs.state_dict(), strict=True)
    return ours.eval(), theirs


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


@pytest.mark.parametrize("name", [POST, PRE])
def test_forward_intermediates_match_timm(name: str) -> None:
    ours, theirs = _pair(name)
    x = _x()
    with torch.no_grad():
        for kwargs in (
            {},
            dict(indices=[1, 3], stop_early=True),
            dict(indices=2, intermediates_only=True),
            dict(indices=(0,), intermediates_only=True),
        ):
            a, b = ours.forward_intermediates(x, **kwargs), theirs.forward_intermediates(x, **kwargs)
            if not kwargs.get("intermediates_only"):
                assert rel_err(a[0], b[0]) < 1e-5
                a, b = a[1], b[1]
            assert [t.shape for t in a] == [t.shape for t in b], kwargs
            assert all(rel_err(p, q) < 1e-5 for p, q in zip(a, b)), kwargs


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


# --- output stride --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [POST, PRE])
@pytest.mark.parametrize("output_stride", [16, 8])
def test_output_stride_matches_timm(name: str, output_stride: int) -> None:
    ours, theirs = _pair(name, output_stride=output_stride)
    x = _x()
    with torch.no_grad():
        feats = ours.forward_features(x)
        assert feats.shape[-1] == SIZE // output_stride
        assert rel_err(feats, theirs.forward_features(x)) < 1e-4
        assert rel_err(ours(x), theirs(x)) < 1e-4
    assert [f["reduction"] for f in ours.feature_info] == [f["reduction"] for f in theirs.feature_info]
    dilations = [
        m.dilation[0] for m in ours.modules() if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3)
    ]
    assert max(dilations) == 32 // output_stride


def test_output_stride_rejects_other_values() -> None:
    with pytest.raises(ValueError, match="output_stride"):
        visionzoo.create_model(POST, output_stride=4, device="meta")


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


# --- pruning, checkpointing, drop path ------------------------------------------------------------
@pytest.mark.parametrize("indices", [[0, 2], 2, [4]])
def test_prune_intermediate_layers_matches_timm(indices) -> None:
    ours, theirs = _pair(PRE)
    assert ours.prune_intermediate_layers(indices) == theirs.prune_intermediate_layers(indices)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.num_features == theirs.num_features
    x = _x()
    take = indices if isinstance(indices, list) else [3, 4]
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-5
        (fa, a), (fb, b) = ours.forward_intermediates(x, indices=take), theirs.forward_intermediates(x, take)
    assert rel_err(fa, fb) < 1e-5
    assert all(rel_err(p, q) < 1e-5 for p, q in zip(a, b))


def test_forward_intermediates_after_pruning_names_the_cut() -> None:
    model = _random(POST)
    model.prune_intermediate_layers([1])
    with pytest.raises(ValueError, match="pruned"):
        model.forward_intermediates(_x(), indices=[3])


@pytest.mark.parametrize("name", [POST, PRE])
def test_grad_checkpointing_gives_the_same_gradients(name: str) -> None:
    model = _random(name).train()
    x = _x(32)
    calls = []
    model.blocks[1].stack.conv1.register_forward_pre_hook(lambda *_: calls.append(1))

    def grads(checkpointing: bool, intermediates: bool) -> dict[str, torch.Tensor]:
        model.zero_grad()
        model.set_grad_checkpointing(checkpointing)
        if intermediates:
            final, inters = model.forward_intermediates(x)
            loss = final.sum() + sum(t.sum() for t in inters)
        else:
            loss = model(x).square().sum()
        loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    for intermediates in (False, True):
        plain = grads(False, intermediates)
        calls.clear()
        ckpt = grads(True, intermediates)
        assert len(calls) == 2  # recomputed in backward: the block really was checkpointed
        trunk = {n for n, _ in model.named_parameters() if not n.startswith("head.")}
        assert trunk <= set(plain) and set(plain) == set(ckpt)
        assert all(torch.allclose(plain[n], ckpt[n], rtol=1e-4, atol=1e-6) for n in plain)


def test_drop_path_rates_follow_timm() -> None:
    ours = visionzoo.create_model("xception65", drop_path_rate=0.2, device="meta")
    with torch.device("meta"):
        theirs = __import__("timm").create_model("xception65", drop_path_rate=0.2)
    ours_p = [b.drop_path.drop_prob if b.drop_path is not None else 0.0 for b in ours.blocks]
    theirs_p = [b.drop_path.drop_prob if b.drop_path is not None else 0.0 for b in theirs.blocks]
    assert ours_p == pytest.approx(theirs_p)
    assert ours_p[0] == 0.0 and ours_p[-1] == pytest.approx(0.2)


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
