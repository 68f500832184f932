"""DenseNet specifics the registry-wide suites do not reach.

The two names timm dropped (densenet121d, densenet264) checked against parameter counts derived
from the architecture definition, their structure, forward/backward, features and their missing
weights; memory-efficient (checkpointed) dense layers; torchvision's old key names; the deep-tiered
stem and catavgmax pooling against timm.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from helpers import random_state_dict, write_safetensors
from timm_oracle import materialize_random, paired, rel_err
from torch import nn

import visionzoo
from visionzoo import hub
from visionzoo.models import densenet as dn

pytestmark = pytest.mark.family

# what the shared suites that compile or export every family build DenseNet with (sampling.py,
# family_kwargs): the same code at 2-2-2-2 layers, where DenseNet-121 takes a minute to compile
# for training or to export at a dynamic image size
SHARED_KWARGS: dict[str, Any] = {"block_config": (2, 2, 2, 2)}

SIZE = 64


def _x(size: int = SIZE, chans: int = 3) -> torch.Tensor:
    return torch.randn(2, chans, size, size, generator=torch.Generator().manual_seed(5))


def _random(name: str, **kwargs) -> nn.Module:
    return materialize_random(visionzoo.create_model(name, device="meta", **kwargs))


# --- DenseNet: parameter counts from the definition -----------------------------------------------
def _conv(c_in: int, c_out: int, k: int) -> int:
    return c_in * c_out * k * k  # bias-free


def _norm(c: int) -> int:
    return 2 * c  # weight and bias (running stats are buffers)


def densenet_param_count(
    growth: int, blocks: tuple[int, ...], *, deep_stem: bool, bn_size: int = 4, num_classes: int = 1000
) -> int:
    """DenseNet-BC as the paper defines it: stem to 2k channels; dense layer on c inputs =
    norm(c), 1x1 conv c -> 4k, norm(4k), 3x3 conv 4k -> k; transition = norm(c), 1x1 conv
    c -> c/2 (pools have no parameters); final norm; linear classifier."""
    stem = 2 * growth
    if deep_stem:  # 3x3 convs 3 -> k -> k -> 2k, each followed by a norm
        widths = (3, growth, growth, stem)
        total = sum(_conv(widths[i], widths[i + 1], 3) + _norm(widths[i + 1]) for i in range(3))
    else:  # one 7x7 conv 3 -> 2k and its norm
        total = _conv(3, stem, 7) + _norm(stem)
    chs, mid = stem, bn_size * growth
    for i, layers in enumerate(blocks):
        for j in range(layers):
            c_in = chs + j * growth
            total += _norm(c_in) + _conv(c_in, mid, 1) + _norm(mid) + _conv(mid, growth, 3)
        chs += layers * growth
        if i < len(blocks) - 1:
            total += _norm(chs) + _conv(chs, chs // 2, 1)
            chs //= 2
    return total + _norm(chs) + chs * num_classes + num_classes


def _n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def test_param_count_formula_reproduces_the_published_densenet121() -> None:
    # 7,978,856: torchvision's published count for DenseNet-121, independent of this code
    assert densenet_param_count(32, (6, 12, 24, 16), deep_stem=False) == 7_978_856


@pytest.mark.parametrize(
    ("name", "growth", "blocks", "deep_stem"),
    [("densenet121d", 32, (6, 12, 24, 16), True), ("densenet264", 32, (6, 12, 64, 48), False)],
)
def test_dropped_timm_names_have_the_defined_param_counts(
    name: str, growth: int, blocks: tuple[int, ...], deep_stem: bool
) -> None:
    model = visionzoo.create_model(name, device="meta")
    assert _n_params(model) == densenet_param_count(growth, blocks, deep_stem=deep_stem)
    assert _n_params(visionzoo.create_model(name, num_classes=0, device="meta")) == densenet_param_count(
        growth, blocks, deep_stem=deep_stem, num_classes=0
    )


# --- DenseNet: structure --------------------------------------------------------------------------
def _stem_shapes(model: nn.Module) -> list[tuple[str, tuple[int, ...]]]:
    stem = ("conv0", "norm0", "conv1", "norm1", "conv2", "norm2")
    return [(k, tuple(v.shape)) for k, v in model.features.state_dict().items() if k.startswith(stem)]


def test_densenet121d_has_the_deep_stem_of_the_d_variants() -> None:
    d121 = visionzoo.create_model("densenet121d", device="meta")
    shapes = _stem_shapes(d121)
    convs = [(d121.features[i].kernel_size, d121.features[i].stride) for i in (0, 2, 4)]
    assert convs == [((3, 3), (2, 2)), ((3, 3), (1, 1)), ((3, 3), (1, 1))]
    assert [s for k, s in shapes if k.endswith("conv0.weight") or k.startswith("conv")] == [
        (32, 3, 3, 3),
        (32, 32, 3, 3),
        (64, 32, 3, 3),
    ]
    # the same stem as densenetblur121d (which only adds a blur to the stem pool) ...
    assert shapes == _stem_shapes(visionzoo.create_model("densenetblur121d", device="meta"))
    # ... and as densenet264d's: that one is built with growth rate 48, so compare at 32
    assert shapes == _stem_shapes(visionzoo.create_model("densenet264d", growth_rate=32, device="meta"))
    assert isinstance(d121.features.pool0, nn.MaxPool2d)
    assert d121.feature_info[0]["module"] == "features.norm2"


def test_densenet264_is_the_plain_264_layer_network() -> None:
    model = visionzoo.create_model("densenet264", device="meta")
    blocks = [model.features.get_submodule(f"denseblock{i}") for i in range(1, 5)]
    assert [len(b) for b in blocks] == [6, 12, 64, 48]
    assert {layer.conv2.out_channels for b in blocks for layer in b.values()} == {32}
    assert {layer.conv1.out_channels for b in blocks for layer in b.values()} == {4 * 32}
    conv0 = model.features.conv0
    assert (conv0.kernel_size, conv0.stride, conv0.out_channels) == ((7, 7), (2, 2), 64)
    assert not hasattr(model.features, "conv1")
    # 264 = 2 * (6 + 12 + 64 + 48) dense convs + stem + 3 transitions + classifier
    n_weighted = sum(1 for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))
    assert n_weighted - 2 * sum(len(b) for b in blocks) == 1 + 3 + 1
    # levels: the stem (2k = 64), then each block's output before its transition (block input
    # + 32 per layer; a transition halves it), then the final norm
    b1 = 64 + 6 * 32
    b2 = b1 // 2 + 12 * 32
    b3 = b2 // 2 + 64 * 32
    b4 = b3 // 2 + 48 * 32
    assert [f["num_chs"] for f in model.feature_info] == [64, b1, b2, b3, b4] == [64, 256, 512, 2304, 2688]
    assert model.num_features == b4


@pytest.mark.parametrize("name", ["densenet121d", "densenet264"])
def test_dropped_timm_names_train_and_extract_features(name: str) -> None:
    model = visionzoo.create_model(name, num_classes=5)
    model.train()
    out = model(_x())
    assert out.shape == (2, 5)
    out.square().mean().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())

    backbone = visionzoo.create_model(name, features_only=True)
    # the backbone flattens `features` one level (features.conv0 -> features_conv0), as timm's does
    trunk = {k.replace("features.", "features_", 1): v for k, v in model.state_dict().items()}
    backbone.load_state_dict({k: v for k, v in trunk.items() if not k.startswith("classifier")})
    model.eval()
    backbone.eval()
    with torch.no_grad():
        feats = backbone(_x())
        _, expected = model.forward_intermediates(_x())
    assert [f.shape[1] for f in feats] == [f["num_chs"] for f in model.feature_info]
    assert [f.shape[-1] for f in feats] == [SIZE // f["reduction"] for f in model.feature_info]
    for a, b in zip(feats, expected):
        assert torch.equal(a, b)


@pytest.mark.parametrize("name", ["densenet121d", "densenet264"])
def test_dropped_timm_names_have_no_weights(name: str) -> None:
    assert visionzoo.is_model(name) and name in visionzoo.list_models("densenet*")
    assert not visionzoo.is_model_pretrained(name)
    assert name not in visionzoo.list_models(pretrained=True)
    cfg = visionzoo.get_pretrained_cfg(name)
    assert not cfg.url and cfg.hf_hub_id is None and not hub.has_weights(cfg)
    with pytest.raises(visionzoo.UnknownModelError, match=rf"{name}\.untrained has no pretrained weights"):
        visionzoo.create_model(name, pretrained=True)


# --- DenseNet: memory-efficient layers, torchvision keys, pruning ---------------------------------
def test_memory_efficient_layers_recompute_and_match() -> None:
    torch.manual_seed(0)
    plain = visionzoo.create_model("densenet121", num_classes=3)
    efficient = visionzoo.create_model("densenet121", num_classes=3, memory_efficient=True)
    efficient.load_state_dict(plain.state_dict())
    assert all(m.grad_checkpointing for m in efficient.modules() if isinstance(m, dn.DenseLayer))
    calls = []
    efficient.features.denseblock1.denselayer1.norm1.register_forward_hook(lambda *_: calls.append(1))
    x = _x().requires_grad_(True)
    out_a, out_b = plain.train()(x), efficient.train()(x)
    assert torch.allclose(out_a, out_b, atol=1e-5)
    out_a.sum().backward()
    out_b.sum().backward()
    assert len(calls) == 2, "the bottleneck should run again in backward"
    for (n, pa), pb in zip(plain.named_parameters(), efficient.parameters()):
        assert torch.allclose(pa.grad, pb.grad, atol=1e-4, rtol=1e-3), n
    efficient.set_grad_checkpointing(False)
    assert not any(m.grad_checkpointing for m in efficient.modules() if isinstance(m, dn.DenseLayer))


def test_torchvision_style_keys_load(tmp_path: Path) -> None:
    state = random_state_dict("densenet121")
    # torchvision's original checkpoints spell denselayer parts norm.1 / conv.2
    old = {}
    for k, v in state.items():
        for part in ("norm1", "norm2", "conv1", "conv2"):
            k = k.replace(f".{part}.", f".{part[:-1]}.{part[-1]}.") if ".denselayer" in k else k
        old[k] = v
    assert any(".norm.1." in k for k in old)
    file = write_safetensors(old, tmp_path / "tv.safetensors")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        model = visionzoo.create_model(
            "tv_densenet121", pretrained=True, pretrained_cfg_overlay=dict(file=str(file))
        )
    assert model.pretrained_cfg.tag == "tv_in1k"
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


def test_densenet_parity_with_timm_options() -> None:
    kwargs = dict(stem_type="deep_tiered", global_pool="catavgmax", num_classes=11)
    ours, theirs = paired("densenet121", **kwargs)
    with torch.no_grad():
        assert rel_err(ours(_x()), theirs(_x())) < 1e-4
        for a, b in zip(
            ours.forward_intermediates(_x(), indices=(0, 2), intermediates_only=True),
            theirs.forward_intermediates(_x(), indices=(0, 2), intermediates_only=True),
        ):
            assert rel_err(a, b) < 1e-4


def test_densenet_prune_intermediate_layers_drops_the_later_blocks() -> None:
    """The family's own layout (values are checked over the registry in test_capabilities.py)."""
    model = visionzoo.create_model("densenet121", device="meta")
    assert model.prune_intermediate_layers((1, 2)) == [1, 2]
    children = dict(model.features.named_children())
    assert "transition2" not in children and "denseblock3" not in children and "norm5" not in children
    assert model.num_classes == 0 and model.num_features == model.feature_info[2]["num_chs"]


def test_bad_densenet_args() -> None:
    with pytest.raises(ValueError, match=r"stem_type must be one of .*'deep'.*got 'deeep'"):
        visionzoo.create_model("densenet121", stem_type="deeep", device="meta")
    with pytest.raises(ValueError, match="block_config must be"):
        visionzoo.create_model("densenet121", block_config=(6, 0), device="meta")
    with pytest.raises(TypeError, match="growth_rat"):
        visionzoo.create_model("densenet121", growth_rat=12, device="meta")
