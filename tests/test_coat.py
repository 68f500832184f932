"""CoaT specifics the registry-wide suites do not reach.

The factorized attention with its convolutional relative position term and the convolutional
position encoding against direct formulas (depthwise convs written out as shifted sums); options
no registered name sets (average pooling, a single relative-position window, small widths)
against timm; the head of a pruned CoaT; the authors' checkpoint layout through the remap; and the
arguments that are refused.
"""

import warnings
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import assert_pair_matches, paired, paired_classes, rel_err, timm
from torch import nn

import visionzoo
from visionzoo.models import coat

pytestmark = pytest.mark.family

# the sampled tests build CoaT at 64 px (a 16 x 16 first scale, not 56 x 56)
SAMPLED_KWARGS: dict[str, Any] = {"img_size": 64}

# a CoaT with every block type at a fraction of the smallest published size
TINY: dict[str, Any] = dict(
    img_size=32,
    patch_size=4,
    embed_dims=(16, 24, 24, 24),
    serial_depths=(1, 1, 1, 1),
    num_heads=4,
    mlp_ratios=(2.0, 2.0, 2.0, 2.0),
    crpe_window={3: 2, 5: 2},
)


def _randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return module.eval()


def _depthwise(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """A 'same'-padded depthwise conv of ``(B, C, H, W)`` as a sum of shifted, scaled copies."""
    k = weight.shape[-1]
    h, w = x.shape[-2:]
    padded = F.pad(x, (k // 2,) * 4)
    out = bias.view(1, -1, 1, 1).expand_as(x).clone()
    for dy in range(k):
        for dx in range(k):
            out = out + weight[:, 0, dy, dx].view(1, -1, 1, 1) * padded[:, :, dy : dy + h, dx : dx + w]
    return out


def test_factorized_attention_matches_direct_formula() -> None:
    """Per head: ``scale * q (softmax_N(k)^T v)`` + (patch rows only) ``q * dwconv_w(v)`` with the
    head's window ``w``; heads concatenated, then ``proj``."""
    dim, heads, (h, w) = 12, 3, (3, 4)
    crpe = coat.ConvRelPosEnc(dim // heads, heads, {3: 1, 5: 2})
    attn = _randomize(coat.FactorAttnConvRelPosEnc(dim, heads, crpe, qkv_bias=True))
    x = torch.randn(2, 1 + h * w, dim)
    d = dim // heads
    with torch.no_grad():
        q, k, v = attn.qkv(x).split(dim, dim=-1)
        convs = [(crpe.conv_list[0], 0)] + [(crpe.conv_list[1], j) for j in range(2)]  # head -> (conv, slot)
        outs = []
        for i in range(heads):
            qi, ki, vi = (t[..., i * d : (i + 1) * d] for t in (q, k, v))
            # sum_n softmax_n(k)[n, a] v[n, b]: the (d, d) context, then each query through it
            context = torch.einsum("bna,bnc->bac", ki.softmax(dim=1), vi)
            factor = torch.einsum("bna,bac->bnc", qi, context) * d**-0.5
            conv, slot = convs[i]
            grid = vi[:, 1:].transpose(1, 2).reshape(2, d, h, w)
            wgt, bias = conv.weight[slot * d : (slot + 1) * d], conv.bias[slot * d : (slot + 1) * d]
            rel = qi[:, 1:] * _depthwise(grid, wgt, bias).flatten(2).transpose(1, 2)
            outs.append(factor + torch.cat((torch.zeros_like(rel[:, :1]), rel), dim=1))
        expected = attn.proj(torch.cat(outs, dim=-1))
        assert rel_err(attn(x, (h, w)), expected) < 1e-5


def test_conv_pos_enc_adds_a_depthwise_conv_of_the_patch_grid() -> None:
    dim, (h, w) = 6, (4, 3)
    cpe = _randomize(coat.ConvPosEnc(dim, k=3))
    x = torch.randn(2, 1 + h * w, dim)
    with torch.no_grad():
        grid = x[:, 1:].transpose(1, 2).reshape(2, dim, h, w)
        patches = grid + _depthwise(grid, cpe.proj.weight, cpe.proj.bias)
        out = cpe(x, (h, w))
    assert torch.equal(out[:, 0], x[:, 0])
    assert rel_err(out[:, 1:], patches.flatten(2).transpose(1, 2)) < 1e-6


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(parallel_depth=2, global_pool="avg"),  # parallel blocks, avg-pooled scales
        dict(parallel_depth=0, global_pool="avg", crpe_window=5),  # one window for every head
        dict(parallel_depth=1, num_classes=0),
    ],
)
def test_options_match_timm(kwargs: dict[str, Any]) -> None:
    cfg = {**TINY, **kwargs}
    ours, theirs = paired_classes(coat.CoaT, timm.models.coat.CoaT, **cfg)
    assert_pair_matches(ours, theirs, torch.randn(2, 3, 32, 32))
    assert ours.features_are_list == (cfg["parallel_depth"] > 0)


def test_pruned_coat_averages_the_scales_without_its_aggregate() -> None:
    """timm's CoaT cannot run its head once pruning removed ``aggregate``; ours pools each of
    scales 2-4 (class tokens) and averages them, keeping the level maps timm gives."""
    ours, theirs = paired_classes(coat.CoaT, timm.models.coat.CoaT, **TINY, parallel_depth=1)
    x = torch.randn(2, 3, 32, 32)
    assert ours.prune_intermediate_layers((0, 2)) == theirs.prune_intermediate_layers((0, 2))
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.aggregate is None and ours.features_are_list
    with torch.no_grad():
        feats = ours.forward_features(x)
        expected = torch.stack([t[:, 0] for t in feats], dim=1).mean(dim=1)
        assert torch.equal(ours(x), expected)
        assert rel_err(feats, theirs.forward_features(x)) < 1e-5
        with pytest.raises(AssertionError):
            theirs(x)


def test_pruning_to_scale_one_drops_the_parallel_blocks() -> None:
    ours, theirs = paired_classes(coat.CoaT, timm.models.coat.CoaT, **TINY, parallel_depth=1)
    assert ours.prune_intermediate_layers([0]) == theirs.prune_intermediate_layers([0]) == [0]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert ours.parallel_blocks is None and not ours.features_are_list
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-5
        assert ours(x).shape == (2, TINY["embed_dims"][0]) == (2, ours.num_features)


@pytest.mark.parametrize("name", ["coat_tiny", "coat_lite_tiny"])
def test_authors_checkpoint_loads_through_the_remap(name: str, tmp_path) -> None:
    """The authors' files: weights under ``model``, with a ``norm1`` (and for CoaT-Lite ``norm2``,
    ``norm3``) that the models never used."""
    small = {**TINY, "parallel_depth": 1 if name == "coat_tiny" else 0}
    ours, theirs = paired(name, **small)
    original = dict(theirs.state_dict())
    unused = ["norm1"] + ([] if ours.features_are_list else ["norm2", "norm3"])
    for norm in unused:
        original[f"{norm}.weight"] = torch.randn(original["norm4.weight"].shape)
        original[f"{norm}.bias"] = torch.randn(original["norm4.bias"].shape)
    path = tmp_path / "coat.pth"
    torch.save({"model": original, "epoch": 300}, path)
    loaded = visionzoo.create_model(
        name, pretrained=True, **small, pretrained_cfg_overlay=dict(file=str(path))
    ).eval()
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert rel_err(loaded(x), theirs(x)) < 1e-5
    kept = coat.checkpoint_filter_fn({"model": original}, ours)
    assert sorted(kept) == sorted(theirs.state_dict())


def test_refused_arguments_name_the_value() -> None:
    with pytest.raises(ValueError, match="attn_drop_rate"):
        coat.CoaT(**TINY, attn_drop_rate=0.1)
    with pytest.raises(ValueError, match="splits 3 heads"):
        coat.CoaT(**{**TINY, "crpe_window": {3: 1, 5: 2}})
    with pytest.raises(ValueError, match="embed_dims"):
        coat.CoaT(**{**TINY, "embed_dims": (16, 24, 32, 24)}, parallel_depth=1)
    with pytest.raises(ValueError, match="'max'"):
        coat.CoaT(**TINY, global_pool="max")
    model = coat.CoaT(**TINY)
    with pytest.raises(ValueError, match="'catavgmax'"):
        model.reset_classifier(3, "catavgmax")


def test_script_and_fx_take_coat_lite() -> None:
    """TorchScript and FX take CoaT-Lite's single token output too (the registry-wide suites
    sample only the smallest CoaT, whose features are a list)."""
    model = _randomize(coat.CoaT(**TINY, parallel_depth=0))
    x = torch.randn(2, 3, 32, 32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit.script is deprecated upstream
        scripted = torch.jit.script(model)
    traced = torch.fx.symbolic_trace(model)
    with torch.no_grad():
        want, feats = model(x), model.forward_features(x)
        assert rel_err(scripted(x), want) < 1e-5 and rel_err(traced(x), want) < 1e-5
        assert rel_err(scripted.forward_features(x), feats) < 1e-5
    assert isinstance(feats, torch.Tensor)
