"""Bring-your-own-attention specifics: the relative position logits and the three attention layers
(bottleneck, halo, lambda) against direct computations written with explicit loops over small
grids, options of those layers no registered name sets against timm, and a BoTNet at another
fixed size against timm."""

from __future__ import annotations

import pytest
import torch
from timm_oracle import paired, paired_classes, rel_err

from visionzoo.layers import BottleneckAttn, HaloAttn, LambdaLayer, get_attn
from visionzoo.layers.pos_embed_rel import PosEmbedRel

pytestmark = pytest.mark.family

# CI's model of the family (sampling.py): HaloNet-H1, the smallest by parameters, runs five times
# as long as HaloNet-26t at 256 px, the size halo attention needs of both
SAMPLE_FIRST = "halonet26t"


def _randomized(layer: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
        for name, b in layer.named_buffers():
            if name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=gen) + 0.5)
            elif name.endswith("running_mean"):
                b.copy_(torch.randn(b.shape, generator=gen) * 0.1)
    return layer.eval()


def _heads(t: torch.Tensor, heads: int) -> torch.Tensor:
    """(C, H, W) channels of ``heads`` heads -> (heads, H, W, C / heads)."""
    c, h, w = t.shape
    return t.reshape(heads, c // heads, h, w).permute(0, 2, 3, 1)


def _rel(pos: PosEmbedRel, q: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """The relative-position logit of query ``q`` for a key ``dy`` rows, ``dx`` columns away
    (offsets counted from the window's first row / column)."""
    wh, ww = pos.win_size
    return q @ (pos.height_rel[dy + wh - 1] + pos.width_rel[dx + ww - 1])


def test_pos_embed_rel_is_one_vector_per_row_and_column_offset() -> None:
    pos = _randomized(PosEmbedRel((2, 3), dim_head=4, scale=1.0, win_size=(4, 5)))
    q = torch.randn(2, 6, 4)
    out = pos(q)
    assert out.shape == (2, 6, 20)
    for n in range(2):
        for y in range(2):
            for x in range(3):
                for ky in range(4):
                    for kx in range(5):
                        expected = _rel(pos, q[n, y * 3 + x], ky - y, kx - x)
                        assert torch.allclose(out[n, y * 3 + x, ky * 5 + kx], expected, atol=1e-5)


@pytest.mark.parametrize("scale_pos_embed", [False, True])
def test_bottleneck_attention_by_loops(scale_pos_embed: bool) -> None:
    """Every pixel of a 3x3 map attends to all nine, per head, with the relative logits."""
    layer = _randomized(BottleneckAttn(8, feat_size=(3, 3), num_heads=2, scale_pos_embed=scale_pos_embed))
    x = torch.randn(1, 8, 3, 3)
    with torch.no_grad():
        out = layer(x)
        q, k, v = (_heads(t, 2) for t in layer.qkv(x)[0].split([8, 8, 8]))
        expected = torch.zeros(2, 3, 3, 4)
        for hd in range(2):
            for y in range(3):
                for x_ in range(3):
                    logits = torch.stack(
                        [
                            (q[hd, y, x_] @ k[hd, ky, kx]) * layer.scale
                            + _rel(layer.pos_embed, q[hd, y, x_], ky - y, kx - x_)
                            * (layer.scale if scale_pos_embed else 1)
                            for ky in range(3)
                            for kx in range(3)
                        ]
                    )
                    weights = logits.softmax(0)
                    expected[hd, y, x_] = sum(weights[i] * v[hd, i // 3, i % 3] for i in range(9))
    assert rel_err(out[0], expected.permute(0, 3, 1, 2).reshape(8, 3, 3)) < 1e-5


def test_halo_attention_by_loops() -> None:
    """A 4x4 map in 2x2 blocks with a halo of 1: each pixel attends to the 4x4 window around its
    block (zeros past the border: their keys and values are zero, their logits still count)."""
    layer = _randomized(HaloAttn(8, num_heads=2, block_size=2, halo_size=1))
    x = torch.randn(1, 8, 4, 4)
    with torch.no_grad():
        out = layer(x)
        q = _heads(layer.q(x)[0], 2)
        kv = layer.kv(x)[0].reshape(2, 8, 4, 4)  # per head: 4 key then 4 value channels
        k, v = kv[:, :4].permute(0, 2, 3, 1), kv[:, 4:].permute(0, 2, 3, 1)
        expected = torch.zeros(2, 4, 4, 4)
        for hd in range(2):
            for y in range(4):
                for x_ in range(4):
                    top, left = (y // 2) * 2 - 1, (x_ // 2) * 2 - 1  # the window's first row / column
                    logits, values = [], []
                    for wy in range(4):
                        for wx in range(4):
                            ky, kx = top + wy, left + wx
                            inside = 0 <= ky < 4 and 0 <= kx < 4
                            key = k[hd, ky, kx] if inside else torch.zeros(4)
                            values.append(v[hd, ky, kx] if inside else torch.zeros(4))
                            rel = _rel(layer.pos_embed, q[hd, y, x_], wy - y % 2, wx - x_ % 2)
                            logits.append((q[hd, y, x_] @ key) * layer.scale + rel)
                    weights = torch.stack(logits).softmax(0)
                    expected[hd, y, x_] = sum(w * val for w, val in zip(weights, values))
    assert rel_err(out[0], expected.permute(0, 3, 1, 2).reshape(8, 4, 4)) < 1e-5


def test_lambda_layer_relative_positions_by_loops() -> None:
    """y_m = q_m (sum_n softmax(k)_n v_n^T + sum_n E[n - m] v_n^T) per head, on a 2x3 map."""
    layer = _randomized(LambdaLayer(8, feat_size=(2, 3), num_heads=2, dim_head=4, r=None))
    x = torch.randn(1, 8, 2, 3)
    with torch.no_grad():
        out = layer(x)
        q, k, v = layer.qkv(x)[0].split([8, 4, 4])
        q = layer.norm_q(q[None])[0].reshape(2, 4, 6)  # (heads, K, M)
        v = layer.norm_v(v[None])[0].reshape(4, 6)  # (V, M)
        k = k.reshape(4, 6).softmax(-1)
        content = k @ v.T  # (K, V)
        expected = torch.zeros(2, 4, 6)
        for m in range(6):
            position = torch.zeros(4, 4)
            for n in range(6):
                dy, dx = n // 3 - m // 3, n % 3 - m % 3
                position += torch.outer(layer.pos_emb[dy + 1, dx + 2], v[:, n])
            for hd in range(2):
                expected[hd, :, m] = q[hd, :, m] @ (content + position)
    assert rel_err(out[0], expected.reshape(8, 2, 3)) < 1e-5


@pytest.mark.parametrize(
    ("kind", "kwargs", "size"),
    [
        ("bottleneck", dict(dim=32, dim_out=64, feat_size=(6, 4), qk_ratio=0.5, qkv_bias=True), (6, 4)),
        ("halo", dict(dim=32, num_heads=4, block_size=4, halo_size=2, stride=2, avg_down=True), (8, 8)),
        (
            "halo",
            dict(dim=32, num_heads=4, block_size=4, halo_size=1, stride=2, scale_pos_embed=True),
            (8, 12),
        ),
        ("lambda", dict(dim=32, r=5, stride=2, qkv_bias=True), (6, 6)),
    ],
)
def test_layer_options_match_timm(kind: str, kwargs: dict, size: tuple[int, int]) -> None:
    from timm.layers import get_attn as timm_get_attn

    ours, theirs = paired_classes(get_attn(kind), timm_get_attn(kind), **kwargs)
    x = torch.randn(2, 32, *size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-5


def test_botnet_at_another_fixed_size_matches_timm() -> None:
    ours, theirs = paired("botnet26t_256", img_size=128)
    x = torch.randn(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
    with pytest.raises(AssertionError, match="feat_size"):
        ours(torch.randn(1, 3, 96, 96))
