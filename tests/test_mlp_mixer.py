"""MLP-Mixer / ResMLP / gMLP specifics the registry-wide suites do not reach.

The gMLP spatial gating unit, the gated MLP and ResMLP's affine "norm" against direct formulas;
the token-mixing blocks against an explicit per-token loop; Facebook Research's ResMLP checkpoint
layout; the options no registered name sets (stem norm, no pooling) against timm.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm_oracle import assert_pair_matches, paired, rel_err
from torch import nn

import visionzoo
from visionzoo.layers import GatedMlp
from visionzoo.models import mlp_mixer as mm

pytestmark = pytest.mark.family

# the sampled tests build the mixers at 64 px (token-mixing MLPs sized by 16 tokens, not 196)
SAMPLED_KWARGS: dict[str, Any] = {"img_size": 64}

SIZE = 64


def _x(size: int = SIZE) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(3))


def _randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    return module.eval()


def test_spatial_gating_unit_matches_direct_formula() -> None:
    """out[b, n, c] = u[b, n, c] * (bias[n] + sum_m W[n, m] * LN(v)[b, m, c])."""
    b, n, d = 2, 5, 6
    sgu = _randomize(mm.SpatialGatingUnit(d, n))
    x = torch.randn(b, n, d)
    u, v = x[..., : d // 2], x[..., d // 2 :]
    vn = (v - v.mean(-1, keepdim=True)) / torch.sqrt(v.var(-1, unbiased=False, keepdim=True) + 1e-5)
    vn = vn * sgu.norm.weight + sgu.norm.bias
    w, bias = sgu.proj.weight, sgu.proj.bias
    expected = torch.empty(b, n, d // 2)
    for i in range(n):
        mixed = bias[i] + sum(w[i, m] * vn[:, m] for m in range(n))
        expected[:, i] = u[:, i] * mixed
    with torch.no_grad():
        assert rel_err(sgu(x), expected) < 1e-5


def test_spatial_gating_unit_init_is_near_identity_gate() -> None:
    model = visionzoo.create_model("gmlp_ti16_224", img_size=SIZE)
    sgu = model.blocks[0].mlp_channels.gate
    assert torch.all(sgu.proj.bias == 1) and sgu.proj.weight.abs().max() < 1e-4


def test_gated_mlp_matches_formula() -> None:
    mlp = _randomize(GatedMlp(4, 8, gate_layer=lambda c: nn.Identity()))
    assert mlp.fc2.in_features == 4  # the gate halves the hidden width
    mlp = _randomize(GatedMlp(4, 8, 3))
    x = torch.randn(2, 7, 4)
    h = nn.functional.gelu(x @ mlp.fc1.weight.T + mlp.fc1.bias)
    with torch.no_grad():
        assert rel_err(mlp(x), h @ mlp.fc2.weight.T + mlp.fc2.bias) < 1e-5
    with pytest.raises(ValueError, match="even"):
        GatedMlp(4, 7, gate_layer=lambda c: nn.Identity())


def test_affine_and_res_block_match_explicit_token_loop() -> None:
    """ResMLP block: each output token mixes all tokens with one linear layer, then a channel MLP."""
    dim, seq = 6, 4
    block = _randomize(mm.ResBlock(dim, seq, mlp_ratio=2))
    x = torch.randn(2, seq, dim)
    aff = lambda t, a: a.alpha.view(-1) * t + a.beta.view(-1)  # noqa: E731
    y = aff(x, block.norm1)
    w, bias = block.linear_tokens.weight, block.linear_tokens.bias
    mixed = torch.stack([sum(w[i, m] * y[:, m] for m in range(seq)) + bias[i] for i in range(seq)], 1)
    x1 = x + block.ls1 * mixed
    with torch.no_grad():
        expected = x1 + block.ls2 * block.mlp_channels(aff(x1, block.norm2))
        assert rel_err(block(x), expected) < 1e-5


def test_mixer_block_token_mlp_is_per_channel() -> None:
    """MLP-Mixer's token MLP sees one channel's sequence at a time."""
    dim, seq = 4, 6
    block = _randomize(mm.MixerBlock(dim, seq, mlp_ratio=(1.0, 2.0)))
    x = torch.randn(2, seq, dim)
    with torch.no_grad():
        y = block.norm1(x)
        tok = torch.stack([block.mlp_tokens(y[:, :, c]) for c in range(dim)], -1)
        x1 = x + tok
        assert rel_err(block(x), x1 + block.mlp_channels(block.norm2(x1))) < 1e-5


def test_facebook_resmlp_checkpoint_layout_loads() -> None:
    """The original ResMLP keys (patch_embed, attn, mlp, gamma_1/2, flat affine vectors)."""
    model = _randomize(visionzoo.create_model("resmlp_12_224", img_size=SIZE))
    fb = {}
    for k, v in model.state_dict().items():
        k2 = k.replace("stem.", "patch_embed.").replace("linear_tokens.", "attn.")
        k2 = k2.replace("mlp_channels.", "mlp.").replace(".ls1", ".gamma_1").replace(".ls2", ".gamma_2")
        fb[k2] = v.flatten() if k.endswith((".alpha", ".beta")) else v
    assert "blocks.0.gamma_1" in fb and fb["blocks.0.norm1.alpha"].ndim == 1
    fresh = visionzoo.create_model("resmlp_12_224", img_size=SIZE)
    fresh.load_state_dict(mm.checkpoint_filter_fn(fb, fresh), strict=True)
    x = _x()
    with torch.no_grad():
        assert torch.equal(fresh.eval()(x), model(x))


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("mixer_s32_224", dict(stem_norm=True)),
        ("gmlp_ti16_224", dict(global_pool="", num_classes=0)),
        ("resmlp_12_224", dict(in_chans=1, num_classes=7)),
    ],
)
def test_options_match_timm(name: str, kwargs: dict) -> None:
    ours, theirs = paired(name, img_size=SIZE, **kwargs)
    x = torch.randn(2, kwargs.get("in_chans", 3), SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    assert_pair_matches(ours, theirs, x)


def test_pool_types_are_avg_or_none() -> None:
    model = visionzoo.create_model("mixer_s32_224", img_size=SIZE)
    with pytest.raises(ValueError, match="avg"):
        model.reset_classifier(5, "token")
    with pytest.raises(ValueError, match="avg"):
        visionzoo.create_model("mixer_s32_224", global_pool="max")
    model.reset_classifier(0, "")
    assert model(_x()).shape == (2, SIZE // 32 * SIZE // 32, 512)
