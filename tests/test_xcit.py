"""XCiT specifics the registry-wide suites do not reach.

Cross-covariance attention and the Fourier position encoding against direct formulas; options no
registered name sets (no position encoding, average pooling, one class-attention block, one input
channel) and pruning the head against timm; the original checkpoints' layout (``pos_embeder``, a
fused ``qkv`` in the class-attention blocks) remapped.
"""

from __future__ import annotations

import math

import pytest
import torch
from timm_oracle import assert_pair_matches, paired, rel_err
from torch import nn

import visionzoo
from visionzoo.layers.xca import XCA
from visionzoo.models import xcit

pytestmark = pytest.mark.family

SIZE = 64
NAME = "xcit_nano_12_p16_224"


def _x(size: int = SIZE, chans: int = 3) -> torch.Tensor:
    return torch.randn(2, chans, size, size, generator=torch.Generator().manual_seed(3))


def _randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return module.eval()


@pytest.mark.parametrize("fused", [True, False])
def test_cross_covariance_attention_matches_direct_formula(fused: bool) -> None:
    """Per head i: Q_i, K_i, V_i are (N, d); q_hat, k_hat their columns over the N tokens scaled to
    unit length; A_i = softmax_rows(tau_i * q_hat^T k_hat), a (d, d) map; out_i = V_i A_i^T, i.e.
    out[n, a] = sum_b A_i[a, b] V_i[n, b]; then proj(concat_i out_i)."""
    dim, h, n = 12, 3, 7
    attn = _randomize(XCA(dim, num_heads=h, qkv_bias=True, fused_attn=fused))
    d = dim // h
    x = torch.randn(2, n, dim)
    with torch.no_grad():
        qkv = attn.qkv(x)
        outs = []
        for i in range(h):
            q, k, v = (qkv[..., j * dim + i * d : j * dim + (i + 1) * d] for j in range(3))
            q_hat = q / q.norm(dim=1, keepdim=True)
            k_hat = k / k.norm(dim=1, keepdim=True)
            cov = torch.einsum("bna,bnc->bac", q_hat, k_hat) * attn.temperature[i, 0, 0]
            a = cov.softmax(-1)
            outs.append(torch.einsum("bac,bnc->bna", a, v))
        expected = attn.proj(torch.cat(outs, -1))
        out = attn(x)
    assert out.shape == (2, n, dim)
    assert rel_err(out, expected) < 1e-5


def test_fourier_position_encoding_matches_direct_formula() -> None:
    """Before the 1x1 projection, channel 2k (2k + 1) of the first half is sin (cos) of
    2 pi r / (H + eps) / T^(2k / D) at row r = 1..H; the second half the same of the column."""
    hidden = 8
    enc = xcit.PositionalEncodingFourier(hidden_dim=hidden, dim=2 * hidden, temperature=100.0)
    with torch.no_grad():
        enc.token_projection.weight.copy_(torch.eye(2 * hidden)[:, :, None, None])
        enc.token_projection.bias.zero_()
        out = enc(2, 3, 5)
    assert out.shape == (2, 2 * hidden, 3, 5)
    expected = torch.empty(2 * hidden, 3, 5)
    for r in range(3):
        for c in range(5):
            for ch in range(hidden):
                freq = 100.0 ** (2 * (ch // 2) / hidden)
                trig = math.sin if ch % 2 == 0 else math.cos
                expected[ch, r, c] = trig(2 * math.pi * (r + 1) / (3 + 1e-6) / freq)
                expected[hidden + ch, r, c] = trig(2 * math.pi * (c + 1) / (5 + 1e-6) / freq)
    assert rel_err(out[1], expected) < 1e-5


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(use_pos_embed=False, global_pool="avg"),
        dict(cls_attn_layers=1, in_chans=1, depth=2),
        dict(patch_size=8, tokens_norm=True, depth=2),
    ],
)
def test_options_match_timm(kwargs: dict) -> None:
    ours, theirs = paired(NAME, img_size=SIZE, **kwargs)
    assert_pair_matches(ours, theirs, _x(chans=kwargs.get("in_chans", 3)))


def test_any_grid_the_patch_size_divides() -> None:
    ours, theirs = paired(NAME, img_size=SIZE, depth=2)
    x = torch.randn(1, 3, 48, 80)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
        maps = ours.forward_intermediates(x, intermediates_only=True)
    assert maps[0].shape == (1, 128, 3, 5)


def test_pruning_the_head_drops_class_token_and_its_blocks_as_timm() -> None:
    ours, theirs = paired(NAME, img_size=SIZE, depth=4)
    assert ours.prune_intermediate_layers(2) == theirs.prune_intermediate_layers(2)
    assert ours.cls_token is None and ours.cls_attn_blocks is None and ours.num_prefix_tokens == 0
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    x = _x()
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
    with pytest.raises(ValueError, match="class token"):
        ours.reset_classifier(3, "token")


def _original_layout(sd: dict[str, torch.Tensor], num_ca: int) -> dict[str, torch.Tensor]:
    """The facebookresearch/xcit layout: ``pos_embeder``, fused class-attention ``qkv``, under ``model``."""
    out = {k.replace("pos_embed.", "pos_embeder."): v for k, v in sd.items()}
    for i in range(num_ca):
        p = f"cls_attn_blocks.{i}.attn"
        for kind in ("weight", "bias"):
            out[f"{p}.qkv.{kind}"] = torch.cat([out.pop(f"{p}.{s}.{kind}") for s in "qkv"])
    return {"model": out}


def test_original_checkpoint_layout_is_remapped() -> None:
    model = _randomize(visionzoo.create_model(NAME, img_size=SIZE, depth=2))
    sd = model.state_dict()
    remapped = xcit.checkpoint_filter_fn(_original_layout(sd, 2), model)
    assert remapped.keys() == sd.keys()
    assert all(torch.equal(remapped[k], v) for k, v in sd.items())

    bare = visionzoo.create_model(NAME, img_size=SIZE, depth=2, use_pos_embed=False)
    remapped = xcit.checkpoint_filter_fn(_original_layout(sd, 2), bare)
    assert remapped.keys() == bare.state_dict().keys()


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="patch_size"):
        visionzoo.create_model(NAME, patch_size=4, device="meta")
    with pytest.raises(ValueError, match="multiple"):
        visionzoo.create_model(NAME, img_size=100, device="meta")
    with pytest.raises(ValueError, match="token"):
        visionzoo.create_model(NAME, global_pool="max", device="meta")
