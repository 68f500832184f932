"""AttentionPool2d / RotAttentionPool2d (CLIP attention pooling) and their 2D RoPE, against timm.

timm's modules carry the same weights (loaded strictly from timm's state dict) and must give the
same outputs, on the reference grid and off it (position embeddings resampled / rotary rescaled).
The rotary tables are also checked against the closed-form formula, independent of timm.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

from visionzoo.layers import AttentionPool2d, RotAttentionPool2d
from visionzoo.layers.pos_embed_sincos import RotaryEmbeddingCat, apply_rot_embed_cat, create_rope_embed

timm_layers = pytest.importorskip("timm.layers")

CASES: list[dict[str, Any]] = [
    {"out_features": 64},
    {"out_features": 0, "num_heads": 4},
    {"embed_dim": 64, "head_dim": 16},
    {"qkv_separate": True, "class_token": True},
    {"pool_type": "", "out_features": 32},
]


def _paired(name: str, kwargs: dict[str, Any]) -> tuple[torch.nn.Module, torch.nn.Module]:
    torch.manual_seed(0)
    ref = getattr(timm_layers, name)(128, **kwargs).eval()
    with torch.no_grad():
        for t in ref.state_dict().values():
            t.copy_(torch.randn_like(t) * 0.2)
    ours = {"AttentionPool2d": AttentionPool2d, "RotAttentionPool2d": RotAttentionPool2d}[name](128, **kwargs)
    ours.load_state_dict(ref.state_dict(), strict=True)
    return ours.eval(), ref


@pytest.mark.parametrize("name", ["AttentionPool2d", "RotAttentionPool2d"])
@pytest.mark.parametrize("kwargs", CASES, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items()))
@pytest.mark.parametrize("grid", [(7, 7), (5, 9)])
def test_matches_timm(name: str, kwargs: dict[str, Any], grid: tuple[int, int]) -> None:
    ours, ref = _paired(name, kwargs)
    assert list(ours.state_dict()) == list(ref.state_dict())
    assert (ours.embed_dim, ours.out_features, ours.num_heads) == (
        ref.embed_dim,
        ref.out_features,
        ref.num_heads,
    )
    x = torch.randn(2, 128, *grid)
    with torch.no_grad():
        for pre_logits in (False, True):
            out = ours(x, pre_logits=pre_logits)
            torch.testing.assert_close(out, ref(x, pre_logits=pre_logits), atol=1e-5, rtol=0)
        ours.fused_attn = ref.fused_attn = False
        torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=0)
    dim = ref.out_features
    assert out.shape[:2] == (2, ref.embed_dim) and ours(x).shape[:2] == (2, dim)
    if kwargs.get("pool_type") == "":
        assert ours(x).shape == (2, dim, *grid)


@pytest.mark.parametrize("name", ["AttentionPool2d", "RotAttentionPool2d"])
def test_reset_matches_timm(name: str) -> None:
    ours, ref = _paired(name, {"out_features": 64})
    ours.reset(num_classes=10)
    ref.reset(num_classes=10)
    assert ours.out_features == ref.out_features == 10
    ours.proj.load_state_dict(ref.proj.state_dict())
    x = torch.randn(2, 128, 7, 7)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=0)
    ours.reset(num_classes=0)
    assert ours.out_features == ours.embed_dim and isinstance(ours.proj, torch.nn.Identity)


def test_without_qkv_bias() -> None:
    # timm 1.0.31's AttentionPool2d.init_weights zeroes a bias that qkv_bias=False leaves None
    # (AttributeError), so there is nothing to compare with; ours builds and has no bias keys.
    for cls in (AttentionPool2d, RotAttentionPool2d):
        pool = cls(128, qkv_bias=False, qkv_separate=True)
        assert not any(k.endswith(("q.bias", "k.bias", "v.bias")) for k in pool.state_dict())
        assert pool(torch.randn(1, 128, 4, 4)).shape == (1, 128)


def test_bad_arguments_name_the_value() -> None:
    with pytest.raises(ValueError, match="'avg'"):
        AttentionPool2d(128, pool_type="avg")
    with pytest.raises(ValueError, match="num_heads 3"):
        RotAttentionPool2d(128, num_heads=3)
    with pytest.raises(ValueError, match="head_dim 48"):
        AttentionPool2d(128, head_dim=48)
    with pytest.raises(ValueError, match="'axial3d'; valid: 'cat', 'dinov3', 'mixed'"):
        create_rope_embed(rope_type="axial3d", dim=128, num_heads=2)
    with pytest.raises(ValueError, match="divisible by 4, got 30"):
        RotaryEmbeddingCat(30)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"in_pixels": False},
        {"in_pixels": False, "ref_feat_shape": [7, 7]},
        {"in_pixels": False, "rotate_half": True, "grid_indexing": "xy", "grid_offset": 0.5},
        {"in_pixels": True, "max_res": 64},
    ],
)
@pytest.mark.parametrize("grid", [(7, 7), (3, 5)])
def test_rope_matches_timm(kwargs: dict[str, Any], grid: tuple[int, int]) -> None:
    ours = RotaryEmbeddingCat(32, **kwargs).get_embed(grid)
    ref = timm_layers.RotaryEmbeddingCat(32, **kwargs).get_embed(grid)
    assert torch.equal(ours, ref)


def test_rope_formula() -> None:
    # Axial RoPE, interleaved layout: channel pair j of the first half rotates by y * f_j, of the
    # second half by x * f_j, f_j = 10000 ** (-j / (dim / 4)); (y, x) rescaled to ref_feat_shape.
    dim, (h, w), ref = 16, (3, 5), (6, 10)
    emb = RotaryEmbeddingCat(dim, in_pixels=False, ref_feat_shape=list(ref)).get_embed((h, w))
    assert emb.shape == (h * w, 2 * dim)
    nb = dim // 4
    for n in range(h * w):
        y, x = n // w * ref[0] / h, n % w * ref[1] / w
        angles = [y * 10000 ** (-j / nb) for j in range(nb)] + [x * 10000 ** (-j / nb) for j in range(nb)]
        expect = [math.sin(a) for a in angles for _ in (0, 1)] + [math.cos(a) for a in angles for _ in (0, 1)]
        torch.testing.assert_close(emb[n], torch.tensor(expect), atol=1e-5, rtol=0)
    # applying it rotates each channel pair: norms kept, the first token (y = x = 0) unchanged
    q = torch.randn(2, h * w, dim)
    rotated = apply_rot_embed_cat(q, emb)
    pairs = lambda t: t.reshape(2, h * w, dim // 2, 2).norm(dim=-1)  # noqa: E731
    torch.testing.assert_close(pairs(rotated), pairs(q))
    torch.testing.assert_close(rotated[:, 0], q[:, 0])
