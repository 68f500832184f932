"""Checks on loaded weights: tensors that do not fit the model, and NaN / Inf values.

Kept apart from the builder so the loading path calls one function per check, and so callers
(the CLI) can tell these conditions apart by type, never by message text.
"""

from __future__ import annotations

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


def non_finite_tensors(state_dict: Mapping[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors holding a NaN or an Inf (meta tensors are skipped)."""
    return [
        name
        for name, t in state_dict.items()
        if isinstance(t, torch.Tensor)
        and not t.is_meta
        and (t.is_floating_point() or t.is_complex())
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
