"""The block discrete cosine transform (JPEG's): DCT-II / DCT-III matrices, 1-D and separable
2-D transforms over the last axes, and the zigzag order of a block's coefficients (low to high
frequency). Models that see images in the frequency domain (CSATv2) start from it.

Reference: Ahmed, Natarajan, Rao, `Discrete Cosine Transform` (1974); the JPEG standard
(ITU-T T.81) for the zigzag scan.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["Dct1d", "Dct2d", "dct_matrix", "zigzag_order"]


def dct_matrix(size: int, kind: int = 2, *, orthonormal: bool = True) -> torch.Tensor:
    """``(size, size)`` matrix ``M`` with ``M @ x`` the DCT of ``x`` along its first axis.

    Args:
        size: transform length ``N``.
        kind: 2 (the forward DCT-II: ``X_k = s_k sum_n x_n cos(pi k (2n + 1) / 2N)``, with
            ``s_k = 2``, or ``sqrt(1/N)`` for ``k = 0`` and ``sqrt(2/N)`` otherwise when
            ``orthonormal``) or 3 (DCT-III, its inverse).
        orthonormal: scale to an orthonormal basis (then DCT-III is DCT-II's transpose).

    Returns:
        A float32 tensor.
    """
    if kind not in (2, 3):
        raise ValueError(f"kind must be 2 (DCT-II) or 3 (DCT-III, its inverse), got {kind!r}")
    k = torch.arange(size, dtype=torch.float64)[:, None]
    n = torch.arange(size, dtype=torch.float64)[None, :]
    basis = torch.cos(math.pi * k * (2 * n + 1) / (2 * size))
    if orthonormal:
        scale = torch.full((size, 1), math.sqrt(2 / size), dtype=torch.float64)
        scale[0] = math.sqrt(1 / size)
    else:
        scale = torch.full((size, 1), 2.0, dtype=torch.float64)
    forward = basis * scale
    return (forward if kind == 2 else torch.linalg.inv(forward)).float()


def zigzag_order(rows: int, cols: int) -> list[int]:
    """Row-major indices of a ``rows x cols`` block in zigzag order: by anti-diagonal
    (``i + j``), down-left on odd diagonals, up-right on even ones (JPEG's scan)."""
    cells = [(i, j) for i in range(rows) for j in range(cols)]
    cells.sort(key=lambda c: (c[0] + c[1], c[0] if (c[0] + c[1]) % 2 else c[1]))
    return [i * cols + j for i, j in cells]


class Dct1d(nn.Module):
    """The DCT along the last axis: ``x @ weights.T``, in ``x``'s dtype. ``weights`` is a
    persistent buffer (it is in checkpoints: state-dict compatibility with timm's CSATv2)."""

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        weights: torch.Tensor

    def __init__(
        self,
        kernel_size: int,
        kernel_type: int = 2,
        orthonormal: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.kernel_type = kernel_type
        self.orthonormal = orthonormal
        self.register_buffer("weights", torch.empty(kernel_size, kernel_size, device=device, dtype=dtype))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if not self.weights.is_meta:
            matrix = dct_matrix(self.kernel_size, self.kernel_type, orthonormal=self.orthonormal)
            with torch.no_grad():
                self.weights.copy_(matrix)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weights.to(x.dtype))  # (the input's precision: a model may keep it fp32)


class Dct2d(nn.Module):
    """The separable 2-D DCT of the last two axes (each ``kernel_size`` long): ``M X M^T``."""

    def __init__(
        self,
        kernel_size: int,
        kernel_type: int = 2,
        orthonormal: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.transform = Dct1d(kernel_size, kernel_type, orthonormal, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.transform(self.transform(x).transpose(-1, -2)).transpose(-1, -2)
