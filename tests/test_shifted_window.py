"""Shifted windows (layers/shifted_window.py) against direct per-token computations: which token
each window slot holds after the cyclic shift, and which pairs the seam mask separates."""

from __future__ import annotations

import pytest
import torch

from visionzoo.layers.shifted_window import (
    MASK_VALUE,
    shifted_window_mask,
    window_merge_shifted,
    window_partition_shifted,
)


def _region(pos: int, size: int, window: int, shift: int) -> int:
    """Which strip of a padded axis a position lies in: the wrapped-in strip (the last ``shift``
    positions), the rest of the last window, or before the last window."""
    if shift and pos >= size - shift:
        return 2
    return 1 if pos >= size - window else 0


@pytest.mark.parametrize(
    ("padded", "window", "shift"),
    [((8, 8), (4, 4), (2, 2)), ((6, 9), (3, 3), (1, 1)), ((8, 6), (4, 6), (2, 0)), ((4, 4), (4, 4), (2, 2))],
)
def test_mask_separates_pairs_from_different_regions(padded, window, shift):
    mask = shifted_window_mask(padded, window, shift)
    (hp, wp), (wh, ww) = padded, window
    assert mask.shape == ((hp // wh) * (wp // ww), wh * ww, wh * ww)
    for wy in range(hp // wh):
        for wx in range(wp // ww):
            w = wy * (wp // ww) + wx
            cells = [(wy * wh + i // ww, wx * ww + i % ww) for i in range(wh * ww)]
            for i, (yi, xi) in enumerate(cells):
                for j, (yj, xj) in enumerate(cells):
                    same = _region(yi, hp, wh, shift[0]) == _region(yj, hp, wh, shift[0]) and _region(
                        xi, wp, ww, shift[1]
                    ) == _region(xj, wp, ww, shift[1])
                    assert mask[w, i, j] == (0.0 if same else MASK_VALUE)


def test_mask_without_padding_joins_exactly_the_tokens_that_were_neighbours():
    """On a map of whole windows, two tokens of a shifted window may attend iff neither or both
    wrapped around each axis (they were contiguous before the shift)."""
    h = w = 6
    win, s = (3, 3), (1, 1)
    mask = shifted_window_mask((h, w), win, s)
    for wy in range(2):
        for wx in range(2):
            cells = [(wy * 3 + i // 3, wx * 3 + i % 3) for i in range(9)]
            wrapped = [(y >= h - s[0], x >= w - s[1]) for y, x in cells]
            for i in range(9):
                for j in range(9):
                    assert (mask[wy * 2 + wx, i, j] == 0) == (wrapped[i] == wrapped[j])


@pytest.mark.parametrize(("size", "window", "shift"), [((6, 6), (3, 3), (1, 1)), ((5, 7), (3, 4), (1, 2))])
def test_partition_reads_the_shifted_padded_map(size, window, shift):
    h, w = size
    x = torch.randn(2, h, w, 3)
    windows, padded = window_partition_shifted(x, window, shift)
    hp, wp = padded.shape[1:3]
    assert hp % window[0] == 0 and wp % window[1] == 0 and hp - h < window[0] and wp - w < window[1]
    per_image = (hp // window[0]) * (wp // window[1])
    for b in range(2):
        for k in range(per_image):
            wy, wx = divmod(k, wp // window[1])
            for t in range(window[0] * window[1]):
                y, xx = wy * window[0] + t // window[1], wx * window[1] + t % window[1]
                # the shift runs on the unpadded map; padding follows at the bottom / right
                want = x[b, (y + shift[0]) % h, (xx + shift[1]) % w] if y < h and xx < w else torch.zeros(3)
                assert torch.equal(windows[b * per_image + k, t], want)
    back = window_merge_shifted(windows, window, shift, size, (hp, wp))
    assert torch.equal(back, x)


def test_no_shift_is_plain_windows():
    x = torch.randn(1, 4, 4, 2)
    windows, _ = window_partition_shifted(x, (2, 2), (0, 0))
    assert torch.equal(windows[1], x[0, 0:2, 2:4].reshape(4, 2))
