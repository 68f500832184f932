"""The Fourier position encoding against its direct formula (and its batch / dtype handling)."""

from __future__ import annotations

import math

import torch
from timm_oracle import rel_err

from visionzoo.layers.pos_embed_fourier import PositionalEncodingFourier, fourier_grid


def test_matches_direct_formula() -> None:
    """Before the 1x1 projection, channel 2k (2k + 1) of the first half is sin (cos) of
    2 pi r / (H + eps) / T^(2k / D) at row r = 1..H; the second half the same of the column."""
    hidden = 6
    enc = PositionalEncodingFourier(hidden_dim=hidden, dim=2 * hidden, temperature=50.0)
    with torch.no_grad():
        enc.token_projection.weight.copy_(torch.eye(2 * hidden)[:, :, None, None])
        enc.token_projection.bias.zero_()
        out = enc(3, 4, 2)
    assert out.shape == (3, 2 * hidden, 4, 2)
    expected = torch.empty(2 * hidden, 4, 2)
    for r in range(4):
        for c in range(2):
            for ch in range(hidden):
                freq = 50.0 ** (2 * (ch // 2) / hidden)
                trig = math.sin if ch % 2 == 0 else math.cos
                expected[ch, r, c] = trig(2 * math.pi * (r + 1) / (4 + 1e-6) / freq)
                expected[hidden + ch, r, c] = trig(2 * math.pi * (c + 1) / (2 + 1e-6) / freq)
    assert all(rel_err(out[b], expected) < 1e-5 for b in range(3))


def test_projection_and_dtype() -> None:
    enc = PositionalEncodingFourier(hidden_dim=4, dim=5).to(torch.float64)
    grid = fourier_grid(3, 3, 4, 10000.0, torch.device("cpu")).double()
    with torch.no_grad():
        want = torch.einsum("oc,bchw->bohw", enc.token_projection.weight[:, :, 0, 0], grid)
        want = want + enc.token_projection.bias.view(1, -1, 1, 1)
        out = enc(2, 3, 3)
    assert out.dtype == torch.float64 and rel_err(out[1], want[0]) < 1e-6
