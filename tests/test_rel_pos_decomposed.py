"""The decomposed relative position bias as its own tensor (SAM's fused-attention mask): each
entry against the formula ``q . R_h[dy] + q . R_w[dx]``, the in-place form it matches, and the
linear resampling of a table learned for another grid."""

from __future__ import annotations

import torch

from visionzoo.layers import add_decomposed_rel_pos, decomposed_rel_pos_bias, resize_rel_pos_table


def test_bias_is_the_row_term_plus_the_column_term() -> None:
    torch.manual_seed(0)
    h, w, dim = 3, 2, 4
    q = torch.randn(2, h * w, dim)
    rel_h, rel_w = torch.randn(2 * h - 1, dim), torch.randn(2 * w - 1, dim)
    bias = decomposed_rel_pos_bias(q, [h, w], [h, w], rel_h, rel_w)
    assert bias.shape == (2, h * w, h * w)
    for b in range(2):
        for qi in range(h * w):
            for ki in range(h * w):
                dy, dx = qi // w - ki // w, qi % w - ki % w
                want = q[b, qi] @ rel_h[dy + h - 1] + q[b, qi] @ rel_w[dx + w - 1]
                assert torch.allclose(bias[b, qi, ki], want, atol=1e-5)


def test_bias_equals_the_in_place_form_on_zero_logits() -> None:
    torch.manual_seed(1)
    q = torch.randn(2, 3, 4 * 5, 8)  # (B, heads, N, dim)
    rel_h, rel_w = torch.randn(7, 8), torch.randn(9, 8)
    in_place = add_decomposed_rel_pos(torch.zeros(2, 3, 20, 20), q, [4, 5], [4, 5], rel_h, rel_w)
    bias = decomposed_rel_pos_bias(q.reshape(6, 20, 8), [4, 5], [4, 5], rel_h, rel_w)
    torch.testing.assert_close(bias.view(2, 3, 20, 20), in_place)


def test_table_resize_interpolates_linearly_and_keeps_a_matching_table() -> None:
    table = torch.tensor([[0.0, 10.0], [2.0, 30.0], [4.0, 50.0]])
    assert resize_rel_pos_table(table, 3) is table
    # 3 -> 5 rows, half-pixel centres (align_corners=False): row i samples (i + 0.5) * 3 / 5 - 0.5
    want = []
    for i in range(5):
        pos = min(max((i + 0.5) * 3 / 5 - 0.5, 0.0), 2.0)
        lo = int(pos)
        hi = min(lo + 1, 2)
        want.append(table[lo] + (pos - lo) * (table[hi] - table[lo]))
    torch.testing.assert_close(resize_rel_pos_table(table, 5), torch.stack(want))


def test_a_grid_larger_than_the_table_reads_the_resampled_table() -> None:
    torch.manual_seed(2)
    q = torch.randn(1, 4 * 4, 2)
    rel_h, rel_w = torch.randn(5, 2), torch.randn(5, 2)  # learned for a 3x3 grid
    got = decomposed_rel_pos_bias(q, [4, 4], [4, 4], rel_h, rel_w)
    want = decomposed_rel_pos_bias(
        q, [4, 4], [4, 4], resize_rel_pos_table(rel_h, 7), resize_rel_pos_table(rel_w, 7)
    )
    torch.testing.assert_close(got, want)
    assert not torch.allclose(
        got, decomposed_rel_pos_bias(q, [4, 4], [4, 4], rel_h.repeat(2, 1)[:7], rel_w.repeat(2, 1)[:7])
    )
