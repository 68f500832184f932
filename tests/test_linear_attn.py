"""ReLU linear attention against the attention it factors: every query's similarities to every
key written out (an N x N matrix), normalised by their sum; and LiteMLA's multi-scale heads."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from visionzoo.layers.linear_attn import LiteMLA, linear_attention, linear_attention_fp32


def _rand(*shape: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def _quadratic(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, eps: float) -> torch.Tensor:
    sim = torch.einsum("bhnd,bhmd->bhnm", q, k)  # (B, heads, N, N): q_i . k_j
    return torch.einsum("bhnm,bhmd->bhnd", sim, v) / (sim.sum(-1, keepdim=True) + eps)


def test_linear_attention_is_normalised_kernel_attention() -> None:
    q, k, v = (
        F.relu(_rand(2, 3, 10, 4, seed=1)),
        F.relu(_rand(2, 3, 10, 4, seed=2)),
        _rand(2, 3, 10, 5, seed=3),
    )
    out = linear_attention(q, k, v, eps=1e-5)
    assert out.shape == (2, 3, 10, 5)
    torch.testing.assert_close(out, _quadratic(q, k, v, 1e-5), rtol=1e-5, atol=1e-5)


def test_linear_attention_zero_similarity_gives_zero_not_nan() -> None:
    q = torch.zeros(1, 1, 4, 2)  # a query that matches no key: 0 / (0 + eps)
    out = linear_attention(q, F.relu(_rand(1, 1, 4, 2)), _rand(1, 1, 4, 3))
    assert torch.equal(out, torch.zeros(1, 1, 4, 3))


def test_linear_attention_computes_in_float32_returns_input_dtype() -> None:
    q, k = F.relu(_rand(1, 1, 6, 4, seed=1)), F.relu(_rand(1, 1, 6, 4, seed=2))
    v = _rand(1, 1, 6, 4, seed=3)
    out = linear_attention(q.half(), k.half(), v.half())
    assert out.dtype == torch.float16
    ref = linear_attention(q.half().float(), k.half().float(), v.half().float())
    torch.testing.assert_close(out.float(), ref, rtol=1e-3, atol=1e-3)


def test_lite_mla_formula() -> None:
    """Heads: 16 // 8 = 2 from the 1x1 qkv conv, 2 more from the 3x3 aggregation; each attends
    over all 5 x 6 positions with ReLU features, then ``proj`` (conv + BN) maps 4 heads x 8 to 12."""
    torch.manual_seed(0)
    attn = LiteMLA(16, 12, dim=8, scales=(3,)).eval()
    with torch.no_grad():
        for p in attn.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
        attn.proj.norm.running_mean.copy_(torch.randn(12))
        attn.proj.norm.running_var.copy_(torch.rand(12) + 0.5)
    x = _rand(2, 16, 5, 6, seed=4)
    with torch.no_grad():
        qkv = F.conv2d(x, attn.qkv.conv.weight)
        dw, grouped = attn.aggreg[0]
        multi = torch.cat(
            [qkv, F.conv2d(F.conv2d(qkv, dw.weight, padding=1, groups=48), grouped.weight, groups=6)], 1
        )
        heads = []
        for h in range(4):  # channels of head h: [q (8), k (8), v (8)]
            t = multi[:, 24 * h : 24 * (h + 1)].flatten(2).transpose(1, 2)  # (B, 30, 24)
            q, k, v = F.relu(t[..., :8]), F.relu(t[..., 8:16]), t[..., 16:]
            heads.append(_quadratic(q[:, None], k[:, None], v[:, None], 1e-5)[:, 0])
        out = torch.cat([y.transpose(1, 2).reshape(2, 8, 5, 6) for y in heads], 1)
        norm = attn.proj.norm
        expected = F.batch_norm(
            F.conv2d(out, attn.proj.conv.weight),
            norm.running_mean,
            norm.running_var,
            norm.weight,
            norm.bias,
            eps=norm.eps,
        )
        torch.testing.assert_close(attn(x), expected, rtol=1e-4, atol=1e-4)


def test_lite_mla_refuses_even_scales() -> None:
    with pytest.raises(ValueError, match="odd scales"):
        LiteMLA(16, 16, dim=8, scales=(4,))


def test_lite_mla_heads_from_ratio() -> None:
    attn = LiteMLA(32, 32, dim=8, heads_ratio=0.5, norm_layer=(None, nn.BatchNorm2d))
    assert attn.qkv.conv.out_channels == 3 * 2 * 8  # 32 // 8 * 0.5 = 2 heads


def test_fp32_under_autocast() -> None:
    """Under mixed precision the sums still run in float32 (bfloat16 matmuls would round them)."""
    q, k = F.relu(_rand(1, 2, 64, 8, seed=1)), F.relu(_rand(1, 2, 64, 8, seed=2))
    v = _rand(1, 2, 64, 8, seed=3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = linear_attention_fp32(q, k, v)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, _quadratic(q, k, v, 1e-5), rtol=1e-5, atol=1e-5)
