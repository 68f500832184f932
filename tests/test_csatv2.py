"""CSATv2 specifics the registry-wide suites do not reach: the DCT stem against a direct
computation (a flat colour's block DCT is its DC term alone), other channel counts, the authors'
checkpoint layout (any size, where timm's remap is fixed to ``csatv2``'s), and options no
registered name sets against timm on tiny builds."""

from __future__ import annotations

import re
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import assert_pair_matches, assert_pruned_like_timm, paired_classes, rel_err, timm_model
from torch import nn

from visionzoo.models.csatv2 import (
    _DCT_MEAN,
    _DCT_VAR,
    CSATv2,
    LearnableDct2d,
    adaptive_avg_pool_square,
    checkpoint_filter_fn,
)

pytestmark = pytest.mark.family

# one conv and one transformer block where the published models have them: every block type
# (and the 512 px cfg input is not used: the suites feed 64 px)
SAMPLED_KWARGS: dict[str, Any] = {"depths": (1, 1, 2, 2), "transformer_depths": (0, 0, 1, 1)}

TINY = dict(dims=(16, 24, 32, 48), depths=(1, 2, 2, 2), transformer_depths=(0, 0, 1, 1), num_classes=10)
MEAN, STD = torch.tensor((0.485, 0.456, 0.406)), torch.tensor((0.229, 0.224, 0.225))


def _x(size: int = 64, chans: int = 3, seed: int = 3) -> torch.Tensor:
    return torch.randn(2, chans, size, size, generator=torch.Generator().manual_seed(seed))


def _timm() -> type[nn.Module]:
    from timm.models.csatv2 import CSATv2 as TimmCSATv2

    return TimmCSATv2


def test_flat_colour_gives_the_dc_coefficient_only() -> None:
    stem = LearnableDct2d(8, 16).eval()
    rgb = torch.tensor([200.0, 100.0, 50.0])
    x = ((rgb / 255 - MEAN) / STD).view(1, 3, 1, 1).expand(1, 3, 16, 16)
    y = 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2]
    ycbcr = torch.stack([y, 0.564 * (rgb[2] - y) + 128, 0.713 * (rgb[0] - y) + 128])
    coeffs = torch.zeros(3, 64)
    coeffs[:, 0] = 8 * ycbcr  # the orthonormal 8x8 DCT of a constant block: 8 x the value at DC
    normed = (coeffs - torch.tensor(_DCT_MEAN)) / (torch.tensor(_DCT_VAR) ** 0.5 + 1e-8)
    convs = (stem.conv_y, stem.conv_cb, stem.conv_cr)
    expected = torch.cat([c.weight[:, :, 0, 0] @ normed[i] + c.bias for i, c in enumerate(convs)])
    with torch.no_grad():
        out = stem(x)
        expected = expected.detach()
    assert out.shape == (1, 16, 2, 2)
    assert rel_err(out, expected.view(1, 16, 1, 1).expand_as(out)) < 1e-4


@pytest.mark.parametrize("hw", [(7, 7), (8, 8), (13, 10), (3, 5), (64, 32)])
def test_adaptive_pool_bins_are_pytorchs(hw: tuple[int, int]) -> None:
    x = torch.randn(2, 3, *hw, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(adaptive_avg_pool_square(x, 7), F.adaptive_avg_pool2d(x, 7), atol=1e-6)


def test_grayscale_is_rgb_with_equal_channels() -> None:
    gray = CSATv2(**TINY, in_chans=1).eval()
    rgb = CSATv2(**TINY).eval()
    rgb.load_state_dict(gray.state_dict())
    g = _x(64, 1)
    pixels = g * STD.mean() + MEAN.mean()  # the one-channel normalisation: the channels' means
    x = (pixels - MEAN.view(1, 3, 1, 1)) / STD.view(1, 3, 1, 1)
    with torch.no_grad():
        assert rel_err(gray(g), rgb(x)) < 1e-4


def test_six_channels_are_two_rgb_images_averaged() -> None:
    """timm's first-conv rule on the colour conversion: channel i weighs into colour i % 3 by
    3 / 6, so two stacked RGB images count as their average."""
    six = CSATv2(**TINY, in_chans=6).eval()
    rgb = CSATv2(**TINY).eval()
    rgb.load_state_dict(six.state_dict())
    x6 = _x(64, 6)
    pixels = x6 * STD.mean() + MEAN.mean()  # the six channels' normalisation: the means
    average = (pixels[:, :3] + pixels[:, 3:]) / 2
    x = (average - MEAN.view(1, 3, 1, 1)) / STD.view(1, 3, 1, 1)
    with torch.no_grad():
        assert rel_err(six(x6), rgb(x)) < 1e-4


def test_bad_builds_are_refused() -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        CSATv2(**{**TINY, "dims": (12, 24, 32, 48)})
    with pytest.raises(ValueError, match="got 4"):
        LearnableDct2d(4, 16)
    with pytest.raises(ValueError, match="multiples of 8"):
        CSATv2(**TINY)(_x(68))
    with pytest.raises(ValueError, match="exceed"):
        CSATv2(**{**TINY, "transformer_depths": (0, 0, 3, 1)})


@pytest.mark.parametrize(
    "kwargs",
    [dict(ls_init_value=0.5), dict(global_pool="max", drop_rate=0.2), dict(transformer_depths=(0, 1, 2, 2))],
)
def test_options_match_timm(kwargs: dict[str, Any]) -> None:
    ours, theirs = paired_classes(CSATv2, _timm(), **{**TINY, **kwargs})
    assert_pair_matches(ours, theirs, _x(64))


@pytest.mark.parametrize("transformer_drop_path", [False, True])
def test_drop_path_rates_like_timm(transformer_drop_path: bool) -> None:
    kwargs = dict(TINY, drop_path_rate=0.3, transformer_drop_path=transformer_drop_path)
    ours, theirs = paired_classes(CSATv2, _timm(), **kwargs)

    def rates(model: nn.Module) -> list[tuple[str, float]]:
        return [(n, m.drop_prob) for n, m in model.named_modules() if type(m).__name__ == "DropPath"]

    assert rates(ours) == rates(theirs) and rates(ours)


@pytest.mark.parametrize("level", [0, 2])
def test_pruned_like_timm(level: int) -> None:
    ours, theirs = paired_classes(CSATv2, _timm(), **TINY)
    assert_pruned_like_timm(ours, theirs, level, _x(64))


def test_prune_norm_keeping_the_head_like_timm() -> None:
    ours, theirs = paired_classes(CSATv2, _timm(), **TINY)
    kept = ours.prune_intermediate_layers([4], prune_norm=True, prune_head=False)
    assert kept == theirs.prune_intermediate_layers([4], prune_norm=True, prune_head=False) == [4]
    assert isinstance(ours.head.norm, nn.Identity) and ours.num_classes == 10
    with torch.no_grad():
        assert rel_err(ours(_x(64)), theirs(_x(64))) < 1e-5


_OURS_STAGE = re.compile(r"^stages\.(\d+)\.(\d+)\.(.*)$")
_INNER = (
    ("norm1.", "attn_norm."),
    ("norm2.", "ff_norm."),
    ("mlp.fc1.", "ff.net.0."),
    ("mlp.fc2.", "ff.net.3."),
)


def _original_rest(rest: str) -> str:
    """A block's key in the authors' names (``attention`` wrappers, ``ff``, ``to_qkv``)."""
    if rest.startswith("attn.attn."):  # the spatial gate's transformer
        inner = rest[len("attn.attn.") :]
        for ours, theirs in (("qkv.", "attn.to_qkv."), ("pos_embed.", "attn.pos_embed."), *_INNER):
            if inner.startswith(ours):
                inner = theirs + inner[len(ours) :]
                break
        return "attention.attention." + inner
    for ours, theirs in (
        ("attn.conv.", "attention.conv."),
        ("attn.qkv.", "attn.to_qkv."),
        ("attn.proj.", "attn.to_out.0."),
        ("pos_embed.", "attn.pos_embed."),
        *_INNER,
    ):
        if rest.startswith(ours):
            return theirs + rest[len(ours) :]
    return rest.replace("grn.weight", "grn.gamma").replace("grn.bias", "grn.beta")


def _original(state_dict: dict[str, torch.Tensor], model: nn.Module) -> dict[str, torch.Tensor]:
    """Our checkpoint in the authors' layout: ``stagesN`` each ending with the downsampling conv
    of the next stage, ``(1, 1, 1, C)`` GRN gamma / beta, ``dct`` / ``Y_Conv``, top-level
    ``norm`` / ``head``."""
    out = {}
    for key, value in state_dict.items():
        if key.startswith("stem_dct."):
            key = "dct." + key[len("stem_dct.") :]
            key = key.replace("conv_y", "Y_Conv").replace("conv_cb", "Cb_Conv").replace("conv_cr", "Cr_Conv")
        elif key.startswith("head."):
            key = key.replace("head.fc.", "head.").replace("head.norm.", "norm.")
        elif m := _OURS_STAGE.match(key):
            s, j, rest = int(m.group(1)), int(m.group(2)), m.group(3)
            if s and not j:  # a downsampling conv ends the stage before (which has none first)
                key = f"stages{s}.{len(model.stages[s - 1]) - (s > 1)}.{rest}"
            else:
                key = f"stages{s + 1}.{j - (s > 0)}.{_original_rest(rest)}"
            if ".grn." in key:
                value = value.reshape(1, 1, 1, -1)
        out[key] = value
    return out


def test_original_checkpoint_remap_any_size() -> None:
    ours, theirs = paired_classes(CSATv2, _timm(), **TINY)
    ref = theirs.state_dict()
    original = _original(ref, theirs)
    assert any(k.startswith("stages4.") for k in original) and "dct.conv_y.weight" not in original
    assert any(".attention.attention.attn.to_qkv." in k for k in original)
    remapped = checkpoint_filter_fn(original, ours)
    assert remapped.keys() == ref.keys() and all(torch.equal(remapped[k], ref[k]) for k in ref)
    assert checkpoint_filter_fn(ref, ours) is ref  # ours pass through
    model = CSATv2(**TINY).eval()
    model.load_state_dict(remapped, strict=True)
    with torch.no_grad():
        assert rel_err(model(_x(64)), theirs(_x(64))) < 1e-5


def test_original_checkpoint_remap_agrees_with_timms_on_csatv2() -> None:
    from timm.models.csatv2 import checkpoint_filter_fn as timm_filter

    theirs = timm_model("csatv2")
    original = _original(theirs.state_dict(), theirs)
    mine, ref = checkpoint_filter_fn(original, theirs), timm_filter(original, theirs)
    assert mine.keys() == ref.keys() == theirs.state_dict().keys()
    assert all(torch.equal(mine[k], ref[k]) for k in ref)
