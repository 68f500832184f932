"""Channel attention (DaViT) against a direct computation, head by head, with einsum."""

from __future__ import annotations

import pytest
import torch

from visionzoo.layers.channel_attn import ChannelAttention, ChannelAttentionV2


def _heads(attn: torch.nn.Module, x: torch.Tensor, heads: int) -> list[tuple[torch.Tensor, ...]]:
    """Per head h: (q, k, v) as (B, N, d), sliced out of the qkv projection by hand."""
    dim = x.shape[-1]
    d = dim // heads
    qkv = x @ attn.qkv.weight.T + (attn.qkv.bias if attn.qkv.bias is not None else 0)
    q, k, v = qkv[..., :dim], qkv[..., dim : 2 * dim], qkv[..., 2 * dim :]
    return [
        (q[..., h * d : (h + 1) * d], k[..., h * d : (h + 1) * d], v[..., h * d : (h + 1) * d])
        for h in range(heads)
    ]


def _proj(attn: torch.nn.Module, outs: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat(outs, dim=-1) @ attn.proj.weight.T + attn.proj.bias


def test_channel_attention_formula() -> None:
    torch.manual_seed(0)
    heads, dim = 2, 8
    attn = ChannelAttention(dim, num_heads=heads, qkv_bias=True).eval()
    x = torch.randn(3, 5, dim)
    outs = []
    for q, k, v in _heads(attn, x, heads):
        d = q.shape[-1]
        # channel i of the output mixes the queries' channels j by softmax_j(sum_n k[n, i] v[n, j] / sqrt(d))
        weights = torch.softmax(torch.einsum("bni,bnj->bij", k, v) / d**0.5, dim=-1)
        outs.append(torch.einsum("bij,bnj->bni", weights, q))
    with torch.no_grad():
        torch.testing.assert_close(attn(x), _proj(attn, outs))


@pytest.mark.parametrize("dynamic_scale", [True, False])
def test_channel_attention_v2_formula(dynamic_scale: bool) -> None:
    torch.manual_seed(1)
    heads, dim, n = 2, 8, 6
    attn = ChannelAttentionV2(dim, num_heads=heads, dynamic_scale=dynamic_scale).eval()
    x = torch.randn(2, n, dim)
    outs = []
    for q, k, v in _heads(attn, x, heads):
        scale = n**-0.5 if dynamic_scale else q.shape[-1] ** -0.5
        weights = torch.softmax(torch.einsum("bni,bnj->bij", q, k) * scale, dim=-1)
        outs.append(torch.einsum("bij,bnj->bni", weights, v))
    with torch.no_grad():
        torch.testing.assert_close(attn(x), _proj(attn, outs))


def test_token_permutation_equivariant() -> None:
    """Channel attention sees the tokens only through sums over them: permuting the tokens
    permutes the output alike (what makes it global and position-free)."""
    torch.manual_seed(2)
    x = torch.randn(1, 7, 8)
    perm = torch.randperm(7)
    for attn in (ChannelAttention(8, num_heads=2), ChannelAttentionV2(8, num_heads=4)):
        with torch.no_grad():
            torch.testing.assert_close(attn(x)[:, perm], attn(x[:, perm]))


def test_heads_must_divide_dim() -> None:
    with pytest.raises(ValueError, match="divisible"):
        ChannelAttention(10, num_heads=4)
