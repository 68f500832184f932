"""SpatialReductionAttention against the formula written out: queries from every token, keys and
values from the reduced map (strided conv + LayerNorm, or pool + 1x1 conv + LayerNorm + GELU)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import rel_err

from visionzoo.layers.spatial_reduction_attn import SpatialReductionAttention


def _expected(
    attn: SpatialReductionAttention, x: torch.Tensor, hw: tuple[int, int], src: torch.Tensor
) -> torch.Tensor:
    """softmax(q k^T / sqrt(d)) v per head, with k, v computed from the key source ``src``."""
    b, n, c = x.shape
    heads, d = attn.num_heads, c // attn.num_heads
    q = F.linear(x, attn.q.weight, attn.q.bias).reshape(b, n, heads, d).transpose(1, 2)
    k, v = F.linear(src, attn.kv.weight, attn.kv.bias).chunk(2, dim=-1)
    k = k.reshape(b, -1, heads, d).transpose(1, 2)
    v = v.reshape(b, -1, heads, d).transpose(1, 2)
    w = torch.softmax(q @ k.transpose(-2, -1) / d**0.5, dim=-1)
    out = (w @ v).transpose(1, 2).reshape(b, n, c)
    return F.linear(out, attn.proj.weight, attn.proj.bias)


def _norm(attn: SpatialReductionAttention, t: torch.Tensor) -> torch.Tensor:
    assert attn.norm is not None
    return F.layer_norm(t, t.shape[-1:], attn.norm.weight, attn.norm.bias, 1e-5)


@pytest.mark.parametrize("fused", [True, False])
def test_strided_reduction(fused):
    torch.manual_seed(0)
    attn = SpatialReductionAttention(8, 2, sr_ratio=2, fused_attn=fused).eval()
    x, hw = torch.randn(2, 6 * 4, 8), (6, 4)
    assert attn.sr is not None
    grid = x.transpose(1, 2).reshape(2, 8, *hw)
    reduced = F.conv2d(grid, attn.sr.weight, attn.sr.bias, stride=2).flatten(2).transpose(1, 2)  # 3 x 2 keys
    assert reduced.shape[1] == 6
    with torch.no_grad():
        assert rel_err(attn(x, hw), _expected(attn, x, hw, _norm(attn, reduced))) < 1e-5


def test_no_reduction_is_self_attention():
    torch.manual_seed(1)
    attn = SpatialReductionAttention(8, 4, sr_ratio=1).eval()
    assert attn.sr is None and attn.norm is None
    x = torch.randn(1, 9, 8)
    with torch.no_grad():
        assert rel_err(attn(x, (3, 3)), _expected(attn, x, (3, 3), x)) < 1e-5


def test_linear_reduction_pools_to_a_fixed_grid():
    torch.manual_seed(2)
    attn = SpatialReductionAttention(8, 2, linear=True, pool_size=2, sr_ratio=4).eval()
    assert attn.sr is not None
    for hw in ((5, 7), (8, 8)):
        x = torch.randn(2, hw[0] * hw[1], 8)
        grid = F.adaptive_avg_pool2d(x.transpose(1, 2).reshape(2, 8, *hw), 2)
        reduced = F.conv2d(grid, attn.sr.weight, attn.sr.bias).flatten(2).transpose(1, 2)  # 4 keys
        src = F.gelu(_norm(attn, reduced))
        with torch.no_grad():
            assert rel_err(attn(x, hw), _expected(attn, x, hw, src)) < 1e-5


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="num_heads"):
        SpatialReductionAttention(10, 3)
    with pytest.raises(ValueError, match="sr_ratio"):
        SpatialReductionAttention(8, 2, sr_ratio=0)
