"""VOLO specifics the registry-wide suites do not reach.

Outlook attention (new to the library) against explicit window loops; class attention in VOLO's
fused ``kv`` layout against the per-head formula; the auxiliary (token labelling) head; options
no registered name sets and pruning, against timm.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm.models import volo as timm_volo
from timm_oracle import assert_pair_matches, assert_pruned_like_timm, paired_classes, rel_err
from torch import nn

import visionzoo
from visionzoo.layers.class_attn import ClassAttn
from visionzoo.layers.outlook_attn import OutlookAttention
from visionzoo.models.volo import VOLO

pytestmark = pytest.mark.family

# volo_d1 (27 M parameters) at 64 px: every block type, 16 patch tokens (timm's entrypoints
# take no other depth)
SAMPLED_KWARGS: dict[str, Any] = {"img_size": 64}
NAME = "volo_d1_224"
TINY: dict[str, Any] = dict(
    img_size=64, layers=(1, 1, 2, 1), embed_dims=(16, 32, 32, 32), num_heads=(2, 4, 4, 4)
)


def _pair(**kwargs: Any) -> tuple[nn.Module, nn.Module]:
    return paired_classes(VOLO, timm_volo.VOLO, **{**TINY, **kwargs})


def _x(size: int = 64, chans: int = 3) -> torch.Tensor:
    return torch.randn(2, chans, size, size, generator=torch.Generator().manual_seed(3))


def _randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return module.eval()


@pytest.mark.parametrize(("size", "stride"), [((4, 5), 1), ((5, 6), 2)])
def test_outlook_attention_matches_window_loops(size: tuple[int, int], stride: int) -> None:
    """For each window centre (every ``stride`` px), a = softmax(W_a avgpool(x)_centre / sqrt(d))
    per head, shaped (k^2 outputs, k^2 inputs); output position n of the window receives
    sum_m a[n, m] v[position m] (zero outside the map); overlapping windows add; then proj."""
    dim, heads, k, pad = 6, 2, 3, 1
    attn = _randomize(OutlookAttention(dim, heads, kernel_size=k, padding=pad, stride=stride, qkv_bias=True))
    height, width = size
    x = torch.randn(2, height, width, dim)
    d = dim // heads
    with torch.no_grad():
        v = attn.v(x)
        out = torch.zeros(2, height, width, dim)
        for ci in range(-(-height // stride)):
            for cj in range(-(-width // stride)):
                rows = slice(ci * stride, min(ci * stride + stride, height))
                cols = slice(cj * stride, min(cj * stride + stride, width))
                centre = x[:, rows, cols].mean((1, 2))  # ceil-mode average pool
                weights = attn.attn(centre).reshape(2, heads, k * k, k * k) * d**-0.5
                weights = weights.softmax(-1)
                cells = [(ci * stride - pad + a, cj * stride - pad + b) for a in range(k) for b in range(k)]
                for h in range(heads):
                    ch = slice(h * d, (h + 1) * d)
                    for n, (i, j) in enumerate(cells):
                        if not (0 <= i < height and 0 <= j < width):
                            continue
                        for m, (p, q) in enumerate(cells):
                            if 0 <= p < height and 0 <= q < width:
                                out[:, i, j, ch] += weights[:, h, n, m, None] * v[:, p, q, ch]
        expected = attn.proj(out)
        assert rel_err(attn(x), expected) < 1e-5


def test_fused_kv_class_attention_matches_formula() -> None:
    """kv = [K | V] from one projection; only token 0 queries (head_dim set apart from dim)."""
    dim, h, hd, n = 8, 2, 3, 5
    attn = _randomize(ClassAttn(dim, num_heads=h, qkv_bias=True, head_dim=hd, fused_kv=True))
    assert attn.k is None and attn.v is None and attn.kv is not None
    x = torch.randn(2, n, dim)
    with torch.no_grad():
        kv = attn.kv(x)
        keys, vals, q = kv[..., : h * hd], kv[..., h * hd :], attn.q(x[:, :1])
        outs = []
        for i in range(h):
            s = slice(i * hd, (i + 1) * hd)
            w = (q[:, :, s] @ keys[:, :, s].transpose(1, 2)) * hd**-0.5
            outs.append(w.softmax(-1) @ vals[:, :, s])
        assert rel_err(attn(x), attn.proj(torch.cat(outs, -1))) < 1e-5


def test_aux_head_adds_half_the_best_patch_score() -> None:
    model = _randomize(visionzoo.create_model(NAME, num_classes=5, **TINY))
    with torch.no_grad():
        feats = model.forward_features(_x())
        expected = model.head(feats[:, 0]) + 0.5 * model.aux_head(feats[:, 1:]).amax(1)
        assert rel_err(model(_x()), expected) < 1e-5
    model.reset_classifier(3)
    assert model.aux_head.out_features == 3
    assert visionzoo.create_model(NAME, use_aux_head=False, device="meta", **TINY).aux_head is None


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(global_pool="avg"),
        dict(global_pool="", in_chans=1),
        dict(post_layers=None, global_pool="avg", use_aux_head=False),
        dict(mlp_ratio=(2.0, 3.0, 3.0, 4.0), qkv_bias=True, stem_hidden_dim=32),
    ],
)
def test_options_match_timm(kwargs: dict) -> None:
    ours, theirs = _pair(**kwargs)
    x = _x(chans=kwargs.get("in_chans", 3))
    if kwargs.get("global_pool") == "":
        with torch.no_grad():
            assert rel_err(ours(x), theirs(x)) < 1e-4
        return
    assert_pair_matches(ours, theirs, x)


@pytest.mark.parametrize("level", [0, 2, 3])
def test_pruned_like_timm(level: int) -> None:
    ours, theirs = _pair()
    assert_pruned_like_timm(ours, theirs, level, _x())
    assert (ours.pos_embed is None) == (level == 0)


def test_pool_types() -> None:
    with pytest.raises(ValueError, match="token"):
        visionzoo.create_model(NAME, global_pool="max", device="meta")
    with pytest.raises(ValueError, match="ca"):
        visionzoo.create_model(NAME, post_layers=("sa",), device="meta")
