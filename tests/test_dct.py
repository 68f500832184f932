"""The block DCT against the definitions: the DCT-II sum written out (orthonormal and not), the
2-D transform as a double sum, DCT-III as the inverse, and JPEG's zigzag scan table."""

from __future__ import annotations

import math

import pytest
import torch

from visionzoo.layers.dct import Dct1d, Dct2d, dct_matrix, zigzag_order

pytestmark = pytest.mark.family

# ITU-T T.81 (JPEG), figure A.6: the zigzag sequence of an 8x8 block, row-major indices
JPEG_ZIGZAG = [
    *(0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48),
    *(41, 34, 27, 20, 13, 6, 7, 14, 21, 28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23),
    *(30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55, 62, 63),
]


def _dct2_sum(x: torch.Tensor, orthonormal: bool) -> torch.Tensor:
    n = x.shape[-1]
    out = []
    for k in range(n):
        s = sum(x[..., i] * math.cos(math.pi * k * (2 * i + 1) / (2 * n)) for i in range(n))
        if orthonormal:
            s = s * (math.sqrt(1 / n) if k == 0 else math.sqrt(2 / n))
        else:
            s = s * 2
        out.append(s)
    return torch.stack(out, -1)


@pytest.mark.parametrize("orthonormal", [True, False])
def test_dct1d_is_the_dct2_sum(orthonormal: bool) -> None:
    x = torch.randn(3, 5, 8, dtype=torch.float64)
    layer = Dct1d(8, 2, orthonormal)
    assert torch.allclose(layer(x.float()).double(), _dct2_sum(x, orthonormal), atol=1e-5)


def test_dct2d_is_the_double_sum_and_dct3_inverts_it() -> None:
    x = torch.randn(2, 4, 4, dtype=torch.float64)
    expected = _dct2_sum(_dct2_sum(x, True).transpose(-1, -2), True).transpose(-1, -2)
    assert torch.allclose(Dct2d(4)(x.float()).double(), expected, atol=1e-5)
    for orthonormal in (True, False):
        back = Dct2d(4, 3, orthonormal)(Dct2d(4, 2, orthonormal)(x.float()))
        assert torch.allclose(back.double(), x, atol=1e-5)
    assert torch.allclose(dct_matrix(8, 3), dct_matrix(8, 2).T, atol=1e-6)  # orthonormal


def test_bad_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="got 4"):
        dct_matrix(8, 4)


def test_zigzag_is_jpegs() -> None:
    assert zigzag_order(8, 8) == JPEG_ZIGZAG
    assert zigzag_order(2, 3) == [0, 1, 3, 4, 2, 5]
