"""Attention over the pixels of an NCHW map: Attention2d (all of timm's layouts) and
MultiQueryAttentionV2, against timm with the same weights and against the direct formula."""

from __future__ import annotations

import itertools

import pytest
import torch

from visionzoo.layers import Attention2d, MultiQueryAttention2d, MultiQueryAttentionV2

timm_layers = pytest.importorskip("timm.layers")


def _copy_from(ours: torch.nn.Module, ref: torch.nn.Module) -> None:
    torch.manual_seed(0)
    with torch.no_grad():
        for t in ref.state_dict().values():
            t.copy_(torch.randn_like(t) * 0.2)
    assert list(ours.state_dict()) == list(ref.state_dict())
    ours.load_state_dict(ref.state_dict(), strict=True)


@pytest.mark.parametrize(
    ("bias", "expand_first", "head_first"), list(itertools.product([True, False], repeat=3))
)
def test_attention2d_matches_timm(bias: bool, expand_first: bool, head_first: bool) -> None:
    kwargs = {"num_heads": 4, "bias": bias, "expand_first": expand_first, "head_first": head_first}
    ours, ref = Attention2d(16, 32, **kwargs).eval(), timm_layers.Attention2d(16, 32, **kwargs).eval()
    _copy_from(ours, ref)
    x = torch.randn(2, 16, 3, 5)
    mask = torch.randn(15, 15)
    with torch.no_grad():
        for m in (None, mask):
            torch.testing.assert_close(ours(x, m), ref(x, m), atol=1e-5, rtol=1e-5)
            ours.fused_attn = False
            torch.testing.assert_close(ours(x, m), ref(x, m), atol=1e-5, rtol=1e-5)
            ours.fused_attn = True


def test_attention2d_is_multi_head_softmax_attention() -> None:
    attn = Attention2d(8, num_heads=2, bias=False).eval()
    x = torch.randn(1, 8, 2, 3)
    q, k, v = attn.qkv.weight.reshape(3, 2, 4, 8).unbind(0)  # (3, heads, head_dim, C) layout
    t = x.flatten(2)[0]  # (C, N)
    heads = []
    for h in range(2):
        qh, kh, vh = q[h] @ t, k[h] @ t, v[h] @ t  # (head_dim, N)
        heads.append(vh @ (qh.T @ kh / 2.0).softmax(-1).T)
    expected = (attn.proj.weight.reshape(8, 8) @ torch.cat(heads)).reshape(1, 8, 2, 3)
    with torch.no_grad():
        torch.testing.assert_close(attn(x), expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("dim_out", [16, 24])
@pytest.mark.parametrize("with_memory", [False, True])
def test_mqa_v2_matches_timm_and_the_formula(dim_out: int, with_memory: bool) -> None:
    ours = MultiQueryAttentionV2(16, dim_out, num_heads=2, key_dim=4, value_dim=6).eval()
    ref = timm_layers.MultiQueryAttentionV2(16, dim_out, num_heads=2, key_dim=4, value_dim=6).eval()
    _copy_from(ours, ref)
    x = torch.randn(2, 16, 3, 4)
    m = torch.randn(2, 16, 2, 2) if with_memory else None
    with torch.no_grad():
        out = ours(x, m)
        torch.testing.assert_close(out, ref(x, m), atol=1e-5, rtol=1e-5)
    # per head: queries q_h = W_q[h] x, one shared key K = W_k^T mem and value V = W_v^T mem
    xs = x.flatten(2).transpose(1, 2)
    ms = (x if m is None else m).flatten(2).transpose(1, 2)
    k, v = ms @ ours.key_proj, ms @ ours.value_proj
    heads = [((xs @ ours.query_proj[h].T) @ k.transpose(1, 2) / 2.0).softmax(-1) @ v for h in range(2)]
    o = torch.stack(heads, 2)  # (B, N, heads, value_dim)
    expected = torch.einsum("bnhv,dhv->bdn", o, ours.out_proj).reshape(2, dim_out, 3, 4)
    torch.testing.assert_close(out, expected.detach(), atol=1e-5, rtol=1e-5)


def test_factory_dtype_reaches_every_parameter() -> None:
    for module in (
        Attention2d(8, num_heads=2, dtype=torch.float64),
        MultiQueryAttentionV2(8, dtype=torch.float64),
        MultiQueryAttention2d(8, num_heads=2, kv_stride=2, query_strides=2, dtype=torch.float64),
    ):
        assert {p.dtype for p in module.parameters()} == {torch.float64}
