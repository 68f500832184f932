"""The offset-bias index against a direct enumeration (LeViT's original: number each absolute
offset in the order it first appears), and the bias-table resize against what it must preserve."""

from __future__ import annotations

import itertools

import pytest
import torch

from visionzoo.layers.attention_bias import attention_bias_index, resize_rel_pos_bias_table_levit


def _enumerated(side: int) -> torch.Tensor:
    points = list(itertools.product(range(side), range(side)))
    seen: dict[tuple[int, int], int] = {}
    idxs = []
    for p1 in points:
        for p2 in points:
            offset = (abs(p1[0] - p2[0]), abs(p1[1] - p2[1]))
            idxs.append(seen.setdefault(offset, len(seen)))
    return torch.tensor(idxs).view(len(points), len(points))


@pytest.mark.parametrize("side", [1, 3, 4, 7])
def test_index_numbers_offsets_as_first_seen(side: int) -> None:
    assert torch.equal(attention_bias_index((side, side)), _enumerated(side))


def test_index_strided_queries() -> None:
    index = attention_bias_index((4, 4), stride=2)  # queries (0,0), (0,2), (2,0), (2,2)
    assert index.shape == (4, 16)
    assert index[3, 0].item() == 2 * 4 + 2  # query (2, 2), key (0, 0)
    assert index[1, 5].item() == 1 * 4 + 1  # query (0, 2), key (1, 1)


def test_resize_keeps_same_size_and_constants() -> None:
    table = torch.randn(16, 3)
    assert resize_rel_pos_bias_table_levit(table, (16, 3)) is table
    const = torch.full((16, 2), 0.7)
    up = resize_rel_pos_bias_table_levit(const, (25, 2))
    assert up.shape == (25, 2)
    torch.testing.assert_close(up, torch.full((25, 2), 0.7))


def test_resize_interpolates_each_head_as_an_image() -> None:
    table = torch.randn(9, 2)
    up = resize_rel_pos_bias_table_levit(table, (36, 2), interpolation="nearest", antialias=False)
    # nearest 3x3 -> 6x6: each entry (y, x) becomes the 2x2 block at (2y, 2x)
    image = up.T.reshape(2, 6, 6)
    assert torch.equal(image[:, ::2, ::2], table.T.reshape(2, 3, 3))
    assert torch.equal(image[:, 1::2, 1::2], table.T.reshape(2, 3, 3))


def test_resize_refuses_other_head_counts() -> None:
    with pytest.raises(ValueError, match="heads"):
        resize_rel_pos_bias_table_levit(torch.zeros(9, 2), (16, 3))
