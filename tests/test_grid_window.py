"""Block and grid partitions (MaxViT's multi-axis attention) against the pixels they must hold."""

from __future__ import annotations

import pytest
import torch

from visionzoo.layers.grid_window import block_partition, block_unpartition, grid_partition, grid_unpartition


def _map(b: int, h: int, w: int, c: int) -> torch.Tensor:
    return torch.arange(b * h * w * c, dtype=torch.float32).reshape(b, h, w, c)


@pytest.mark.parametrize(("hw", "grid"), [((4, 6), (2, 3)), ((6, 4), (3, 2)), ((4, 4), (4, 4))])
def test_grid_groups_hold_the_dilated_pixels(hw, grid):
    h, w = hw
    gh, gw = grid
    x = _map(2, h, w, 3)
    groups = grid_partition(x, grid)
    sh, sw = h // gh, w // gw  # the spacing between a group's pixels
    assert groups.shape == (2 * sh * sw, gh, gw, 3)
    for b in range(2):
        for i in range(sh):
            for j in range(sw):
                g = groups[(b * sh + i) * sw + j]
                for p in range(gh):
                    for q in range(gw):
                        assert torch.equal(g[p, q], x[b, i + p * sh, j + q * sw])
    assert torch.equal(grid_unpartition(groups, grid, hw), x)


@pytest.mark.parametrize(("hw", "window"), [((4, 6), (2, 3)), ((6, 4), (3, 2))])
def test_blocks_hold_the_contiguous_pixels(hw, window):
    h, w = hw
    wh, ww = window
    x = _map(2, h, w, 3)
    blocks = block_partition(x, window)
    nh, nw = h // wh, w // ww
    assert blocks.shape == (2 * nh * nw, wh, ww, 3)
    for b in range(2):
        for i in range(nh):
            for j in range(nw):
                expected = x[b, i * wh : (i + 1) * wh, j * ww : (j + 1) * ww]
                assert torch.equal(blocks[(b * nh + i) * nw + j], expected)
    assert torch.equal(block_unpartition(blocks, window, hw), x)


def test_grid_is_the_block_partition_of_the_transposed_layout():
    """A grid of (gh, gw) on an (H, W) map is a block partition after swapping each axis's
    (group, offset) digits: the two partitions see every pixel once, in different groups."""
    x = _map(1, 4, 6, 2)
    grid = grid_partition(x, (2, 3))
    swapped = x.view(1, 2, 2, 3, 2, 2).permute(0, 2, 1, 4, 3, 5).reshape(1, 4, 6, 2)
    assert torch.equal(grid, block_partition(swapped, (2, 3)))
