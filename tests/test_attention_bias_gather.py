"""The offset-bias pieces (LeViT, TinyViT) against direct computations: the offset index, the
table resampling, and the per-device bias cache."""

from __future__ import annotations

import pytest
import torch

from visionzoo.layers.attention_bias import BiasedAttention, attention_bias_index, resize_offset_bias_table


@pytest.mark.parametrize(("h", "w", "stride"), [(3, 5, 1), (4, 4, 2), (2, 3, 2)])
def test_index_is_the_absolute_offset_in_row_major_order(h, w, stride):
    queries = [(y, x) for y in range(0, h, stride) for x in range(0, w, stride)]
    keys = [(y, x) for y in range(h) for x in range(w)]
    expected = torch.tensor([[abs(qy - ky) * w + abs(qx - kx) for ky, kx in keys] for qy, qx in queries])
    assert torch.equal(attention_bias_index((h, w), stride), expected)


def test_resize_keeps_an_equal_size_table_and_each_heads_constant():
    table = torch.randn(3, 49)
    assert resize_offset_bias_table(table, 49) is table
    constants = torch.tensor([0.5, -2.0, 3.0])[:, None]
    out = resize_offset_bias_table(constants.expand(3, 49).clone(), 144)
    assert out.shape == (3, 144)
    torch.testing.assert_close(out, constants.expand(3, 144), rtol=0, atol=1e-5)


def test_resize_interpolates_each_heads_grid():
    # per head a 2 x 2 grid [[a, b], [c, d]] (row-major); bilinear to 4 x 4 (half-pixel centres)
    # samples at 0, 1/4, 3/4, 1 between the source rows / columns
    grids = torch.tensor([[[0.0, 4.0], [8.0, 12.0]], [[1.0, 1.0], [-1.0, -1.0]]])  # (heads, 2, 2)
    out = resize_offset_bias_table(grids.reshape(2, 4), 16, interpolation="bilinear", antialias=False)
    t = torch.tensor([0.0, 0.25, 0.75, 1.0])
    for head, ((a, b), (c, d)) in enumerate(grids.tolist()):
        top, bottom = a + (b - a) * t, c + (d - c) * t
        expected = top[None, :] + (bottom - top)[None, :] * t[:, None]  # (rows, cols)
        torch.testing.assert_close(out[head].reshape(4, 4), expected)


def test_non_square_tables_are_refused():
    with pytest.raises(ValueError, match="square"):
        resize_offset_bias_table(torch.zeros(2, 6), 9)


class _Biased(BiasedAttention):
    def __init__(self) -> None:
        super().__init__()
        self._init_bias(2, (2, 3), 1, {"device": None, "dtype": None})


def test_biases_are_gathered_by_offset_and_the_cache_follows_the_weights():
    m = _Biased()
    with torch.no_grad():
        m.attention_biases.copy_(torch.arange(12.0).view(2, 6))
    pos = [(y, x) for y in range(2) for x in range(3)]
    expected = torch.tensor(
        [[[h * 6 + abs(py - qy) * 3 + abs(px - qx) for qy, qx in pos] for py, px in pos] for h in range(2)]
    ).float()
    m.eval()
    assert torch.equal(m.get_attention_biases(torch.device("cpu")), expected)
    assert "cpu" in m.attention_bias_cache
    m.load_state_dict({"attention_biases": torch.zeros(2, 6)})  # loading drops the cached bias
    assert not m.get_attention_biases(torch.device("cpu")).any()
    m.train()
    assert not m.attention_bias_cache
