"""MetaFormer specifics the registry-wide suites do not reach.

The token mixers and norms against direct formulas, the mixer options (pool size, head width,
separable-conv kernel) and the head reset against timm, and the sail-sg checkpoint layouts.
"""

from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import assert_pair_matches, paired, timm

import visionzoo
from visionzoo.models import metaformer as mf

pytestmark = pytest.mark.family

SIZE = 64


def _x(size: int = SIZE, chans: int = 3) -> torch.Tensor:
    return torch.randn(2, chans, size, size, generator=torch.Generator().manual_seed(3))


def test_pooling_is_neighbourhood_mean_minus_input() -> None:
    x = torch.randn(1, 2, 4, 5, generator=torch.Generator().manual_seed(0))
    expected = torch.empty_like(x)
    for i in range(4):
        for j in range(5):
            window = x[:, :, max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2]  # padding not counted
            expected[:, :, i, j] = window.mean(dim=(2, 3)) - x[:, :, i, j]
    torch.testing.assert_close(mf.Pooling(3)(x), expected)


def test_star_relu_formula() -> None:
    act = mf.StarReLU(scale_value=0.8, bias_value=-0.3)
    x = torch.linspace(-2, 2, 9)
    torch.testing.assert_close(act(x), 0.8 * torch.clamp(x, min=0) ** 2 - 0.3)
    assert [n for n, _ in act.named_parameters()] == ["scale", "bias"]


def test_no_bias_norms_have_weight_only_and_eps_1e6() -> None:
    x = torch.randn(2, 4, 3, 3, generator=torch.Generator().manual_seed(1))
    gn = mf._norm("groupnorm1_nobias")(4)
    assert list(gn.state_dict()) == ["weight"] and gn.eps == 1e-6
    with torch.no_grad():
        gn.weight.copy_(torch.tensor([0.5, 1.0, 1.5, 2.0]))
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    var = x.var(dim=(1, 2, 3), unbiased=False, keepdim=True)
    expected = (x - mean) / torch.sqrt(var + 1e-6) * gn.weight.view(1, -1, 1, 1)
    torch.testing.assert_close(gn(x), expected)
    ln2d = mf._norm("layernorm2d_nobias")(4)
    assert list(ln2d.state_dict()) == ["weight"] and ln2d.eps == 1e-6
    mean, var = x.mean(dim=1, keepdim=True), x.var(dim=1, unbiased=False, keepdim=True)
    torch.testing.assert_close(ln2d(x), (x - mean) / torch.sqrt(var + 1e-6))


def test_sepconv_is_inverted_separable_conv() -> None:
    mixer = mf.SepConv(4, expansion_ratio=2, kernel_size=3, padding=1)
    x = torch.randn(1, 4, 5, 5, generator=torch.Generator().manual_seed(2))
    h = mixer.act1(F.conv2d(x, mixer.pwconv1.weight))
    h = F.conv2d(h, mixer.dwconv.weight, padding=1, groups=8)
    torch.testing.assert_close(mixer(x), F.conv2d(h, mixer.pwconv2.weight))


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("poolformerv2_s12", dict(pool_size=5)),
        ("poolformer_s12", dict(global_pool="max")),
        ("caformer_s18", dict(head_dim=64, kernel_size=5, padding=2)),
    ],
)
def test_mixer_options_match_timm(name: str, kwargs: dict) -> None:
    ours_kwargs = {k: v for k, v in kwargs.items() if k != "padding"}  # ours derives it from the kernel
    theirs = timm.create_model(name, **kwargs).eval()
    ours = visionzoo.create_model(name, **ours_kwargs).eval()
    ours.load_state_dict(theirs.state_dict(), strict=True)
    assert_pair_matches(ours, theirs, _x())


def test_reset_classifier_reset_other_matches_timm() -> None:
    ours, theirs = paired("convformer_s18")
    for model in (ours, theirs):
        model.reset_classifier(0, "", reset_other=True)
    x = _x()
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-4, atol=1e-4)
    assert isinstance(ours.head.norm, torch.nn.Identity) and ours(x).shape == (2, 512, 2, 2)


# --- sail-sg checkpoint layouts -------------------------------------------------------------------
def _to_metaformer_layout(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm keys -> the sail-sg MetaFormer-baselines release layout, written out by hand."""
    out = {}
    for k, v in sd.items():
        k = re.sub(r"^stem\.conv", "downsample_layers.0.proj", k)
        k = re.sub(r"^stem\.norm", "downsample_layers.0.pre_norm", k)
        k = re.sub(r"^stages\.(\d+)\.downsample\.conv", r"downsample_layers.\1.proj", k)
        k = re.sub(r"^stages\.(\d+)\.downsample\.norm", r"downsample_layers.\1.pre_norm", k)
        k = re.sub(r"^stages\.(\d+)\.blocks\.(\d+)\.", r"stages.\1.\2.", k)
        k = re.sub(r"^head\.norm\.", "norm.", k)
        k = re.sub(r"^head\.fc\.", "head.", k)
        out[k] = v
    return out


def _to_poolformer_v1_layout(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """timm keys -> the sail-sg PoolFormer (v1) release layout, written out by hand."""
    out = {}
    for k, v in sd.items():
        k = re.sub(r"^stem\.conv", "patch_embed.proj", k)
        k = re.sub(r"^stages\.(\d+)\.downsample\.conv", lambda m: f"network.{2 * int(m[1]) - 1}.proj", k)
        k = re.sub(r"^stages\.(\d+)\.blocks\.(\d+)\.", lambda m: f"network.{2 * int(m[1])}.{m[2]}.", k)
        k = re.sub(r"layer_scale(\d)\.scale", r"layer_scale_\1", k)
        k = re.sub(r"^head\.norm\.", "norm.", k)
        k = re.sub(r"^head\.fc\.", "head.", k)
        out[k] = v
    return out


@pytest.mark.parametrize(
    ("name", "to_layout"),
    [("caformer_s18", _to_metaformer_layout), ("poolformer_s12", _to_poolformer_v1_layout)],
)
def test_sail_checkpoints_remap_as_timm(name: str, to_layout) -> None:
    ours, theirs = paired(name)
    original = to_layout(theirs.state_dict())
    assert "stem.conv.weight" not in original
    mine = mf.checkpoint_filter_fn(dict(original), ours)
    ref = timm.models.metaformer.checkpoint_filter_fn(dict(original), theirs)
    assert list(mine) == list(ref)
    for key in ref:
        torch.testing.assert_close(mine[key], ref[key])
    ours.load_state_dict(mine, strict=True)
