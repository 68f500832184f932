"""Checks on loaded weights: tensors that do not fit the model, and NaN / Inf values.

Kept apart from the builder so the loading path calls one function per check, and so callers
(the CLI) can tell these conditions apart by type, never by message text.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping

import torch

__all__ = ["NonFiniteWeightsWarning", "StateDictMismatchError", "non_finite_tensors", "warn_non_finite"]


class StateDictMismatchError(RuntimeError):
    """A checkpoint whose keys or shapes do not fit the model (often another architecture)."""


class NonFiniteWeightsWarning(UserWarning):
    """Weights holding NaN or Inf: the model's outputs will be garbage. ``tensors`` names them."""

    def __init__(self, message: str, tensors: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.tensors = tensors


# the dtypes summed, and what in (16-bit floats in float32: their own sum overflows at 65504)
_SUMMED: dict[torch.dtype, torch.dtype | None] = {
    torch.float16: torch.float32,
    torch.bfloat16: torch.float32,
    torch.float32: None,
    torch.float64: None,
}


def _maybe_non_finite(t: torch.Tensor) -> bool:
    """False when ``t`` is surely finite: its sum is (a NaN or Inf in it makes the sum NaN or Inf).
    A non-finite sum may also be an overflow of finite values, so True only means "check it".
    A sum reads the tensor once and allocates nothing, where ``isfinite`` writes a mask as big."""
    if t.is_complex():
        t = torch.view_as_real(t)
    if t.dtype not in _SUMMED:
        return True
    return not math.isfinite(float(t.sum(dtype=_SUMMED[t.dtype])))


def non_finite_tensors(state_dict: Mapping[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors holding a NaN or an Inf (meta tensors are skipped)."""
    return [
        name
        for name, t in state_dict.items()
        if isinstance(t, torch.Tensor)
        and not t.is_meta
        and (t.is_floating_point() or t.is_complex())
        and _maybe_non_finite(t)
        and not bool(torch.isfinite(t).all())
    ]


def warn_non_finite(state_dict: Mapping[str, torch.Tensor], *, source: str) -> list[str]:
    """Warn (:class:`NonFiniteWeightsWarning`) when weights loaded from ``source`` hold NaN/Inf.

    Returns:
        The names of the non-finite tensors (empty when all are finite).
    """
    bad = non_finite_tensors(state_dict)
    if bad:
        more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
        warnings.warn(
            NonFiniteWeightsWarning(
                f"{source} holds NaN/Inf values in {len(bad)} tensor(s): {', '.join(bad[:5])}{more}; "
                "the model's outputs will not be meaningful",
                tuple(bad),
            ),
            stacklevel=3,
        )
    return bad
