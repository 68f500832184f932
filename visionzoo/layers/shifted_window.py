"""Shifted windows (Swin): attention inside non-overlapping windows of a channels-last map, every
other block on windows displaced by half a window so information crosses window borders.

The displacement is a cyclic shift of the map (``torch.roll`` by ``-shift``), so the last windows
of each axis hold tokens that wrapped around from the opposite border; an additive mask (``-100``,
a softmax zero in practice) keeps such tokens from attending across the seam. A map that is not a
multiple of the window is zero-padded at the bottom / right after the shift, and the mask's
regions are laid out on the padded map, as the reference Swin code does.

Paper: `Swin Transformer: Hierarchical Vision Transformer using Shifted Windows` -
https://arxiv.org/abs/2103.14030
"""

from __future__ import annotations

import torch

from ._fx import register_notrace_function
from .window import pad_to_windows, window_partition, window_unpartition

__all__ = [
    "MASK_VALUE",
    "shifted_window_mask",
    "shifted_window_mask_like",
    "window_merge_shifted",
    "window_partition_shifted",
]

# the additive logit of a masked pair: finite (the reference's value), so a padded row stays finite
MASK_VALUE = -100.0


def _regions(size: int, window: int, shift: int, device: torch.device | None) -> torch.Tensor:
    """Region of each position along one padded axis: 0 before the last window, 1 in the last
    window before the wrapped strip, 2 in the last ``shift`` positions (the wrapped strip)."""
    pos = torch.arange(size, device=device)
    region = (pos >= size - window).to(torch.long)
    if shift > 0:  # with no shift along this axis every position of a window shares its region
        region = region + (pos >= size - shift).to(torch.long)
    return region


def shifted_window_mask(
    padded_size: tuple[int, int],
    window_size: tuple[int, int],
    shift_size: tuple[int, int],
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """The additive attention mask of shifted windows over a ``padded_size`` map.

    Args:
        padded_size: ``(Hp, Wp)``, multiples of the window.
        window_size: ``(wh, ww)``.
        shift_size: ``(sh, sw)``, the cyclic shift the windows were cut after.

    Returns:
        ``(Hp/wh * Wp/ww, wh*ww, wh*ww)``: entry ``[w, i, j]`` is 0 where tokens ``i`` and ``j`` of
        window ``w`` lie in the same region (were neighbours before the shift), ``MASK_VALUE``
        otherwise.
    """
    hp, wp = padded_size
    rows = _regions(hp, window_size[0], shift_size[0], device)
    cols = _regions(wp, window_size[1], shift_size[1], device)
    label = (rows[:, None] * 3 + cols[None, :]).view(1, hp, wp, 1)
    label = window_partition(label, window_size).reshape(-1, window_size[0] * window_size[1])
    differ = label[:, :, None] != label[:, None, :]
    mask = torch.zeros(differ.shape, device=device, dtype=dtype if dtype is not None else torch.float32)
    return mask.masked_fill(differ, -100.0)  # MASK_VALUE (a literal: TorchScript reads no globals)


@register_notrace_function  # NOTE: the map's size drives tensor shapes here (not traceable)
def shifted_window_mask_like(
    x: torch.Tensor, window_size: tuple[int, int], shift_size: tuple[int, int]
) -> torch.Tensor:
    """:func:`shifted_window_mask` for the padded ``(B, Hp, Wp, C)`` map ``x`` (its device, dtype):
    the mask of a model that takes any input size, built on each forward."""
    return shifted_window_mask(
        (x.shape[1], x.shape[2]), window_size, shift_size, device=x.device, dtype=x.dtype
    )


def window_partition_shifted(
    x: torch.Tensor, window_size: tuple[int, int], shift_size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shift ``(B, H, W, C)`` cyclically by ``-shift``, pad to whole windows, cut the windows.

    Returns:
        The windows as token rows ``(B * nW, wh*ww, C)``, and the padded map (for its size and,
        with a dynamic mask, :func:`shifted_window_mask_like`).
    """
    if shift_size[0] > 0 or shift_size[1] > 0:
        x = torch.roll(x, shifts=(-shift_size[0], -shift_size[1]), dims=(1, 2))
    x, _ = pad_to_windows(x, window_size)
    windows = window_partition(x, window_size)
    return windows.reshape(windows.shape[0], -1, windows.shape[-1]), x


def window_merge_shifted(
    windows: torch.Tensor,
    window_size: tuple[int, int],
    shift_size: tuple[int, int],
    size: tuple[int, int],
    padded_size: tuple[int, int],
) -> torch.Tensor:
    """The inverse of :func:`window_partition_shifted`: token rows ``(B * nW, wh*ww, C)`` back to
    the ``(B, H, W, C)`` map of ``size``, padding cropped, the shift undone."""
    x = window_unpartition(
        windows.reshape(-1, window_size[0], window_size[1], windows.shape[-1]), window_size, padded_size
    )
    x = x[:, : size[0], : size[1], :].contiguous()
    if shift_size[0] > 0 or shift_size[1] > 0:
        x = torch.roll(x, shifts=(shift_size[0], shift_size[1]), dims=(1, 2))
    return x
