"""The TensorFlow-layout relative position bias against the table entry each pair must read."""

from __future__ import annotations

import pytest
import torch

from visionzoo.layers.pos_embed_rel import RelPosBiasTf, resize_rel_pos_bias_table


@pytest.mark.parametrize("window", [(3, 2), (4, 4)])
def test_bias_reads_the_key_minus_query_offset(window):
    h, w = window
    m = RelPosBiasTf(window, num_heads=2)
    table = m.relative_position_bias_table
    assert table.shape == (2, 2 * h - 1, 2 * w - 1)
    bias = m.get_bias()
    assert bias.shape == (2, h * w, h * w)
    for q in range(h * w):
        for k in range(h * w):
            dy, dx = k // w - q // w, k % w - q % w
            assert torch.equal(bias[:, q, k], table[:, dy + h - 1, dx + w - 1])
    attn = torch.randn(3, 2, h * w, h * w)
    assert torch.equal(m(attn), attn + bias)


def test_set_window_size_resamples_the_table():
    m = RelPosBiasTf((3, 3), num_heads=2)
    before = m.relative_position_bias_table.detach().clone()
    m.set_window_size((4, 4))
    assert m.get_bias().shape == (2, 16, 16)
    expected = resize_rel_pos_bias_table(before, new_window_size=(4, 4), new_bias_shape=(2, 7, 7))
    assert torch.equal(m.relative_position_bias_table.detach(), expected)
    assert not torch.equal(expected[:, 1:6, 1:6], before)  # resampled, not padded
