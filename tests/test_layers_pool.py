"""Token / map poolers beyond avg and max: LSE+, SimPool, AttentionPoolPrr, AttentionPoolLatent.

Each is compared with timm's module holding the same weights (loaded strictly from timm's state
dict), and checked against a direct formula written here, independent of timm.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F

from visionzoo.layers import (
    AttentionPoolLatent,
    AttentionPoolPrr,
    LsePlus1d,
    LsePlus2d,
    RotAttentionPool2d,
    SimPool1d,
    SimPool2d,
)

timm_layers = pytest.importorskip("timm.layers")


def _same_weights(ours: torch.nn.Module, ref: torch.nn.Module) -> None:
    torch.manual_seed(0)
    with torch.no_grad():
        for t in ref.state_dict().values():
            if t.is_floating_point():
                t.copy_(torch.randn_like(t) * 0.3 + (1.0 if t.ndim == 0 else 0.0))
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict(ref.state_dict(), strict=True)


POOLS: list[tuple[type, dict[str, Any], tuple[int, ...]]] = [
    (LsePlus2d, {}, (2, 8, 5, 3)),
    (LsePlus2d, {"r": 0.5, "r_learnable": False, "flatten": False}, (2, 8, 4, 4)),
    (LsePlus1d, {}, (2, 9, 8)),
    (SimPool2d, {"dim": 16}, (2, 16, 5, 3)),
    (SimPool2d, {"dim": 16, "num_heads": 4, "qkv_bias": True, "qk_norm": True}, (2, 16, 4, 4)),
    (SimPool1d, {"dim": 16, "num_heads": 2, "gamma": 2.0}, (2, 9, 16)),
    (AttentionPoolPrr, {"dim": 16, "num_heads": 4}, (2, 9, 16)),
    (
        AttentionPoolPrr,
        {"dim": 16, "num_heads": 2, "pool_type": "avg", "pre_norm": True, "post_norm": True},
        (2, 9, 16),
    ),
    (
        AttentionPoolLatent,
        {"in_features": 16, "num_heads": 4, "out_features": 0, "embed_dim": 32},
        (2, 9, 32),
    ),
    (
        AttentionPoolLatent,
        {"in_features": 16, "num_heads": 2, "out_features": 8, "qk_norm": True},
        (2, 9, 16),
    ),
]


@pytest.mark.parametrize(("cls", "kwargs", "shape"), POOLS, ids=lambda v: getattr(v, "__name__", None))
def test_matches_timm_fused_and_explicit(cls: type, kwargs: dict[str, Any], shape: tuple[int, ...]) -> None:
    ours, ref = cls(**kwargs).eval(), getattr(timm_layers, cls.__name__)(**kwargs).eval()
    _same_weights(ours, ref)
    assert getattr(ours, "out_features", None) == getattr(ref, "out_features", None)
    x = torch.randn(shape)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)
        if hasattr(ref, "fused_attn"):
            ours.fused_attn = ref.fused_attn = False
            torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)


def test_lse_plus_is_the_log_mean_exp_formula() -> None:
    x = torch.randn(2, 3, 4, 5)
    for r in (0.1, 3.0, 50.0):
        pool = LsePlus2d(r=r, r_learnable=False)
        expected = torch.log(torch.exp(r * x.double()).mean(dim=(2, 3))) / r
        torch.testing.assert_close(pool(x).double(), expected, atol=1e-5, rtol=1e-5)
        tokens = x.flatten(2).transpose(1, 2)
        torch.testing.assert_close(
            LsePlus1d(r=r, r_learnable=False)(tokens).double(), expected, atol=1e-5, rtol=1e-5
        )
    # 'r' is a parameter (trained) or a persistent buffer: the same checkpoint key either way
    assert isinstance(LsePlus2d().r, torch.nn.Parameter)
    assert "r" in LsePlus2d(r_learnable=False).state_dict() and not list(
        LsePlus2d(r_learnable=False).parameters()
    )


def test_simpool_is_one_softmax_over_normed_tokens() -> None:
    torch.manual_seed(0)
    pool = SimPool1d(dim=8, num_heads=1).eval()
    x = torch.randn(2, 6, 8)
    xn = F.layer_norm(x, (8,), pool.norm.weight, pool.norm.bias, pool.norm.eps)
    q = F.linear(x.mean(1, keepdim=True), pool.q.weight)  # the query is the mean of the raw tokens
    k = F.linear(xn, pool.k.weight)
    attn = (q @ k.transpose(1, 2) / 8**0.5).softmax(-1)  # (B, 1, N)
    expected = (attn @ xn).squeeze(1)  # the values are the normed tokens, unprojected
    with torch.no_grad():
        torch.testing.assert_close(pool(x), expected, atol=1e-5, rtol=1e-5)
        pool2d = SimPool2d(dim=8).eval()
        pool2d.load_state_dict(pool.state_dict())
        torch.testing.assert_close(
            pool2d(x.transpose(1, 2).reshape(2, 8, 2, 3)), expected, atol=1e-5, rtol=1e-5
        )


def test_prr_is_parameter_free_self_attention_then_pool() -> None:
    pool = AttentionPoolPrr(dim=8, num_heads=1, pool_type="avg")
    assert not list(pool.parameters())
    x = torch.randn(2, 5, 8)
    attn = (x @ x.transpose(1, 2) / 8**0.5).softmax(-1)
    torch.testing.assert_close(pool(x), (attn @ x).mean(1), atol=1e-5, rtol=1e-5)
    with pytest.raises(ValueError, match="pool_type"):
        AttentionPoolPrr(dim=8, pool_type="max")


@pytest.mark.parametrize("mask_kind", ["bool", "float"])
def test_attention_pool_latent_mask_matches_timm_and_masks(mask_kind: str) -> None:
    kwargs = {"in_features": 16, "num_heads": 2}
    ours, ref = AttentionPoolLatent(**kwargs).eval(), timm_layers.AttentionPoolLatent(**kwargs).eval()
    _same_weights(ours, ref)
    x = torch.randn(2, 7, 16)
    keep = torch.ones(2, 1, 1, 7, dtype=torch.bool)
    keep[..., 4:] = False
    mask = keep if mask_kind == "bool" else torch.zeros(keep.shape).masked_fill(~keep, float("-inf"))
    with torch.no_grad():
        out = ours(x, attn_mask=mask)
        # masked tokens have no effect: the same as pooling the kept tokens only
        torch.testing.assert_close(out, ours(x[:, :4]), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(out, ref(x, attn_mask=mask), atol=1e-5, rtol=1e-5)
        ours.fused_attn = False
        torch.testing.assert_close(ours(x, attn_mask=mask), out, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    ("out_features", "embed_dim", "expected"), [(None, None, 16), (8, 32, 8), (0, 32, 32)]
)
def test_attention_pool_latent_out_features(
    out_features: int | None, embed_dim: int | None, expected: int
) -> None:
    pool = AttentionPoolLatent(16, out_features=out_features, embed_dim=embed_dim, num_heads=4)
    assert pool.out_features == expected
    assert pool(torch.randn(2, 5, embed_dim or 16)).shape == (2, expected)


SCRIPTED: list[tuple[type, dict[str, Any]]] = [
    (LsePlus2d, {}),
    (SimPool2d, {"dim": 16, "gamma": 2.0}),
    (RotAttentionPool2d, {"in_features": 16, "head_dim": 8, "ref_feat_size": 4}),
]


@pytest.mark.parametrize(("cls", "kwargs"), SCRIPTED, ids=lambda v: getattr(v, "__name__", None))
def test_scripted_equals_eager(cls: type, kwargs: dict[str, Any]) -> None:
    pool = cls(**kwargs).eval()
    x = torch.randn(2, 16, 4, 4)
    with torch.no_grad():
        torch.testing.assert_close(torch.jit.script(pool)(x), pool(x), atol=1e-5, rtol=1e-5)
