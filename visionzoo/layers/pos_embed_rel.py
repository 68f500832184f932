"""Relative positions in attention, written once for the families that use them.

- Bias tables (BEiT, relpos ViT; :class:`RelPosBias` as a module): the index from each
  (query, key) pair of a window to its row of a learned ``((2H - 1) * (2W - 1) [+ 3], heads)``
  table, and the table resampled to a new window. The three extra rows (BEiT's
  ``class_token=True``) hold the class token's bias to the patches, the patches' bias to the
  class token, and the class token's to itself.
- Continuous biases (Swin V2, relpos ViT's ``'mlp'``): :class:`RelPosMlp`, a small MLP over each
  offset ``(dy, dx)`` of a window squashed to ``sign(d) * log(1 + |d|)``, one bias per head, so a
  window of another size needs no table resampling (`Swin Transformer V2: Scaling Up Capacity and
  Resolution` - https://arxiv.org/abs/2111.09883).
- Decomposed logits for local 2-D attention (Bottleneck and Halo attention): a query at
  ``(y, x)`` of a ``block`` of queries scores a key at ``(y', x')`` of a ``window`` of keys with
  ``q . (height_rel[y' - y + win_h - 1] + width_rel[x' - x + win_w - 1])``, one learned vector
  per relative row and column offset (`Attention Augmented Convolutional Networks` -
  https://arxiv.org/abs/1904.09925). Module names follow timm's, so its checkpoints load.
- The official (TensorFlow) MaxViT layout (:class:`RelPosBiasTf`): a ``(heads, 2H - 1, 2W - 1)``
  table indexed by the *key minus query* offset (`MaxViT: Multi-Axis Vision Transformer` -
  https://arxiv.org/abs/2204.01697).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from torch import nn

# NOTE: timm offers the LeViT bias-table resize here; it lives with the offset biases
from .attention_bias import resize_rel_pos_bias_table_levit  # noqa: F401
from .helpers import to_2tuple
from .mlp import Mlp
from .weight_init import trunc_normal_

__all__ = [
    "PosEmbedRel",
    "RelPosBias",
    "RelPosBiasTf",
    "RelPosMlp",
    "gen_key_query_offsets",
    "gen_relative_log_coords",
    "gen_relative_position_index",
    "rel_logits_1d",
    "resize_rel_pos_bias_table",
]


def gen_relative_position_index(
    q_size: tuple[int, int],
    k_size: tuple[int, int] | None = None,
    class_token: bool = False,
    device: Any = None,
) -> torch.Tensor:
    """``(H*W, H*W)`` (``+1`` each side with ``class_token``) table rows for a ``q_size`` window.

    A pair of positions with offset ``(dy, dx)`` reads row ``(dy + H - 1) * (2W - 1) + dx + W - 1``.
    """
    if k_size is not None:
        raise NotImplementedError("a key window other than the query window is not supported")
    h, w = q_size
    rows = torch.arange(h, device=device).repeat_interleave(w)
    cols = torch.arange(w, device=device).repeat(h)
    dy = rows[:, None] - rows[None, :] + h - 1
    dx = cols[:, None] - cols[None, :] + w - 1
    index = dy * (2 * w - 1) + dx
    if class_token:
        num = (2 * h - 1) * (2 * w - 1)
        index = F.pad(index, [1, 0, 1, 0])
        index[0, :] = num  # class token -> patches
        index[:, 0] = num + 1  # patches -> class token
        index[0, 0] = num + 2
    return index.contiguous()


def _stretched_offsets(src: int, dst: int) -> torch.Tensor:
    """Source offsets ``-src//2 .. src//2`` spread geometrically to cover ``dst``'s range (BEiT's
    fine-tuning recipe): the spacing grows by a ratio ``q`` found by bisection."""
    half = src // 2
    lo, hi = 1.01, 1.5
    while hi - lo > 1e-6:
        q = (lo + hi) / 2.0
        if (1.0 - q**half) / (1.0 - q) > dst // 2:
            hi = q
        else:
            lo = q
    steps, cur = [], 1.0
    for i in range(half):
        steps.append(cur)
        cur += q ** (i + 1)
    return torch.tensor([-s for s in reversed(steps)] + [0.0] + steps)


def _interp_linear(
    src_pos: torch.Tensor, dst_pos: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Left index, right index and right weight for linear interpolation on an uneven 1-D grid
    (targets outside the grid take the edge value)."""
    x = dst_pos.clamp(float(src_pos[0]), float(src_pos[-1]))
    right = torch.bucketize(x, src_pos).clamp(max=src_pos.numel() - 1)
    left = (right - 1).clamp(min=0)
    span = src_pos[right] - src_pos[left]
    wr = torch.where(span > 0, (x - src_pos[left]) / span.clamp(min=1e-12), torch.ones_like(x))
    return left, right, wr


def resize_rel_pos_bias_table(
    rel_pos_bias: torch.Tensor,
    new_window_size: tuple[int, int],
    new_bias_shape: tuple[int, ...],
    old_window_size: tuple[int, int] | None = None,
) -> torch.Tensor:
    """Resample a bias table to ``new_window_size``: flat ``(positions [+ extra], heads)`` or
    ``(heads, 2H - 1, 2W - 1)``. Extra (class token) rows are kept as they are; the offset grid
    is resampled bilinearly over geometrically stretched source offsets. Without
    ``old_window_size`` a flat table is taken as square unless its size rules that out."""
    dst = (2 * new_window_size[0] - 1, 2 * new_window_size[1] - 1)
    flat = rel_pos_bias.ndim == 2
    if flat:
        num_extra = new_bias_shape[0] - dst[0] * dst[1]
        src_num = rel_pos_bias.shape[0] - num_extra
        if old_window_size is not None:
            src = (2 * old_window_size[0] - 1, 2 * old_window_size[1] - 1)
        else:
            side = int(src_num**0.5)
            if side * side == src_num:
                src = (side, side)
            elif src_num == dst[0] * dst[1]:
                src = dst
            else:
                raise ValueError(
                    f"no square source window for a {rel_pos_bias.shape[0]}-row table; give old_window_size"
                )
    else:
        num_extra = 0
        if tuple(new_bias_shape[1:]) != dst:
            raise ValueError(
                f"new_bias_shape {tuple(new_bias_shape)} does not match window {new_window_size}"
            )
        src = (rel_pos_bias.shape[1], rel_pos_bias.shape[2])
    if src == dst:
        return rel_pos_bias
    if rel_pos_bias.is_meta:
        return rel_pos_bias.new_empty(new_bias_shape)

    extra = rel_pos_bias[rel_pos_bias.shape[0] - num_extra :] if num_extra else None
    # grids (heads, src_h, src_w), on the CPU in float32
    grid = rel_pos_bias[: rel_pos_bias.shape[0] - num_extra].t() if flat else rel_pos_bias
    grid = grid.float().cpu().reshape(-1, src[0], src[1])
    out = []
    for src_n, dst_n in zip(src, dst):
        targets = torch.arange(-(dst_n // 2.0), dst_n // 2.0 + 0.1, 1.0)
        out.append(_interp_linear(_stretched_offsets(src_n, dst_n), targets))
    (yl, yr, wy), (xl, xr, wx) = out
    wy, wx = wy[:, None], wx[None, :]
    top = grid[:, yl][:, :, xl] * (1 - wx) + grid[:, yl][:, :, xr] * wx
    bottom = grid[:, yr][:, :, xl] * (1 - wx) + grid[:, yr][:, :, xr] * wx
    resized = (top * (1 - wy) + bottom * wy).to(device=rel_pos_bias.device, dtype=rel_pos_bias.dtype)
    if not flat:
        return resized
    resized = resized.reshape(resized.shape[0], -1).t()
    return torch.cat((resized, extra), dim=0) if extra is not None else resized.contiguous()


class RelPosBias(nn.Module):
    """Per-head attention bias ``(1, heads, P + N, P + N)`` for a window of ``N = H * W`` tokens
    read from a learned table, one row per offset (plus BEiT's three class-token rows with one
    prefix token): Swin V1 / BEiT's bias as a module.

    Args:
        window_size: the token grid ``(H, W)``.
        num_heads: biases per pair.
        prefix_tokens: 0 or 1 (a class token).
    """

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        relative_position_index: torch.Tensor

    def __init__(
        self,
        window_size: int | tuple[int, int],
        num_heads: int,
        prefix_tokens: int = 0,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if prefix_tokens not in (0, 1):
            raise ValueError(f"prefix_tokens={prefix_tokens}; the table has rows for 0 or 1 prefix token")
        self.window_size = to_2tuple(window_size)
        self.prefix_tokens = prefix_tokens
        self.num_heads = num_heads
        rows = (2 * self.window_size[0] - 1) * (2 * self.window_size[1] - 1) + 3 * prefix_tokens
        self.relative_position_bias_table = nn.Parameter(
            torch.empty(rows, num_heads, device=device, dtype=dtype)
        )
        self.register_buffer(
            "relative_position_index", torch.empty(0, device=device, dtype=torch.long), persistent=False
        )
        self.reset_parameters()

    def _init_buffers(self) -> None:
        self.relative_position_index = gen_relative_position_index(
            self.window_size, class_token=self.prefix_tokens > 0, device=self.relative_position_index.device
        ).view(-1)

    def init_non_persistent_buffers(self) -> None:
        self._init_buffers()

    def reset_parameters(self) -> None:
        if not self.relative_position_bias_table.is_meta:
            trunc_normal_(self.relative_position_bias_table, std=0.02)
        self._init_buffers()

    def set_window_size(self, window_size: int | tuple[int, int]) -> None:
        """Another token grid: the table resampled (:func:`resize_rel_pos_bias_table`), a new index."""
        new = to_2tuple(window_size)
        if new == tuple(self.window_size):
            return
        table = self.relative_position_bias_table
        rows = (2 * new[0] - 1) * (2 * new[1] - 1) + 3 * self.prefix_tokens
        with torch.no_grad():
            resized = resize_rel_pos_bias_table(
                table,
                new_window_size=new,
                new_bias_shape=(rows, self.num_heads),
                old_window_size=self.window_size,
            )
        self.relative_position_bias_table = nn.Parameter(resized, requires_grad=table.requires_grad)
        self.window_size = new
        self._init_buffers()

    def get_bias(self) -> torch.Tensor:
        """``(1, heads, P + N, P + N)``: entry ``[0, h, q, k]`` is head ``h``'s row of the pair."""
        n = self.window_size[0] * self.window_size[1] + self.prefix_tokens
        bias = self.relative_position_bias_table[self.relative_position_index]
        return bias.view(n, n, -1).permute(2, 0, 1).unsqueeze(0).contiguous()

    def forward(self, attn: torch.Tensor, shared_rel_pos: torch.Tensor | None = None) -> torch.Tensor:
        """Attention logits ``(B, heads, P + N, P + N)`` with the bias added."""
        return attn + self.get_bias()


def rel_logits_1d(q: torch.Tensor, rel_k: torch.Tensor, length: int, win_size: int) -> torch.Tensor:
    """Logits of ``length`` queries along one axis against ``win_size`` keys.

    Args:
        q: ``(..., length, dim)`` queries.
        rel_k: ``(2 * win_size - 1, dim)`` embeddings, one per offset from ``-(win_size - 1)``.
        length: queries along the axis. win_size: keys along the axis.

    Returns:
        ``(..., length, win_size)``: entry ``(i, j)`` is ``q[i] . rel_k[j - i + win_size - 1]``.
    """
    offsets = (
        torch.arange(win_size, device=q.device)[None, :] - torch.arange(length, device=q.device)[:, None]
    )
    rel = rel_k[offsets + (win_size - 1)]  # (length, win_size, dim): the embedding each pair uses
    return (q.unsqueeze(-2) @ rel.transpose(-1, -2)).squeeze(-2)


class PosEmbedRel(nn.Module):
    """Relative position logits of a ``block_size`` grid of queries against a ``win_size`` grid
    of keys: ``(N, bh * bw, dim)`` queries in, ``(N, bh * bw, wh * ww)`` logits out.

    Args:
        block_size: the query grid (int or (h, w)).
        win_size: the key grid (default: the query grid).
        dim_head: query width.
        scale: init std of the embeddings.
    """

    def __init__(
        self,
        block_size: int | tuple[int, int],
        dim_head: int,
        scale: float,
        win_size: int | tuple[int, int] | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.block_size = to_2tuple(block_size)
        self.win_size = to_2tuple(win_size if win_size is not None else block_size)
        self.dim_head = dim_head
        self.scale = scale
        self.height_rel = nn.Parameter(
            torch.empty(self.win_size[0] * 2 - 1, dim_head, device=device, dtype=dtype)
        )
        self.width_rel = nn.Parameter(
            torch.empty(self.win_size[1] * 2 - 1, dim_head, device=device, dtype=dtype)
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.normal_(self.height_rel, std=self.scale)
        nn.init.normal_(self.width_rel, std=self.scale)

    def forward(self, q: torch.Tensor) -> torch.Tensor:
        (bh, bw), (wh, ww) = self.block_size, self.win_size
        q = q.reshape(-1, bh, bw, self.dim_head)
        by_col = rel_logits_1d(q, self.width_rel, bw, ww)  # (N, bh, bw, ww)
        by_row = rel_logits_1d(q.transpose(1, 2), self.height_rel, bh, wh).transpose(1, 2)  # (N, bh, bw, wh)
        return (by_row.unsqueeze(-1) + by_col.unsqueeze(-2)).reshape(-1, bh * bw, wh * ww)


_MODES = ("swin", "cr")


def gen_relative_log_coords(
    win_size: tuple[int, int],
    pretrained_win_size: tuple[int, int] = (0, 0),
    mode: str = "swin",
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Log-spaced ``(dy, dx)`` of every offset in a ``win_size`` window.

    Args:
        win_size: window ``(H, W)``.
        pretrained_win_size: ``'swin'``: the window the offsets are normalised by (0: ``win_size``).
        mode: ``'swin'``: offsets scaled to ``[-8, 8]`` by the window, then
            ``sign(d) * log2(1 + |d|) / 3``; ``'cr'``: ``sign(d) * ln(1 + |d|)`` of the raw offsets.

    Returns:
        ``(2H - 1, 2W - 1, 2)``: entry ``[i, j]`` is offset ``(i - (H - 1), j - (W - 1))`` mapped.
    """
    if mode not in _MODES:
        raise ValueError(f"mode={mode!r}; valid: {', '.join(map(repr, _MODES))}")
    h, w = win_size
    dy = torch.arange(-(h - 1), h, device=device, dtype=torch.float32)
    dx = torch.arange(-(w - 1), w, device=device, dtype=torch.float32)
    coords = torch.stack(torch.meshgrid(dy, dx, indexing="ij"), dim=-1)
    if mode == "swin":
        ref = pretrained_win_size if pretrained_win_size[0] > 0 else win_size
        # NOTE: a window of 1 divides 0 by 0, as the reference does (NaN); no model has one
        coords = coords / torch.tensor([ref[0] - 1, ref[1] - 1], device=device, dtype=torch.float32) * 8
        coords = torch.sign(coords) * torch.log2(1.0 + coords.abs()) / math.log2(8)
    else:
        coords = torch.sign(coords) * torch.log(1.0 + coords.abs())
    return coords.to(dtype) if dtype is not None else coords


class RelPosMlp(nn.Module):
    """Per-head attention bias ``(1, heads, P + N, P + N)`` for a window of ``N = H * W`` tokens
    (plus ``prefix_tokens`` P, which get zero bias), from an MLP over log-spaced offsets.

    Args:
        window_size: the token grid ``(H, W)``.
        num_heads: biases per pair.
        hidden_dim: the MLP's hidden width.
        prefix_tokens: tokens before the grid (class token), unbiased.
        mode: ``'cr'`` (timm's: natural-log offsets, raw bias) or ``'swin'`` (Swin V2: normalised
            offsets, ``16 * sigmoid(bias)``, no bias in the MLP's output layer).
        pretrained_window_size: ``'swin'``: the window the offsets are normalised by.
    """

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        relative_position_index: torch.Tensor
        rel_coords_log: torch.Tensor

    def __init__(
        self,
        window_size: int | tuple[int, int],
        num_heads: int = 8,
        hidden_dim: int = 128,
        prefix_tokens: int = 0,
        mode: str = "cr",
        pretrained_window_size: tuple[int, int] = (0, 0),
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        if mode not in _MODES:
            raise ValueError(f"mode={mode!r}; valid: {', '.join(map(repr, _MODES))}")
        self.window_size = to_2tuple(window_size)
        self.num_heads = num_heads
        self.prefix_tokens = prefix_tokens
        self.mode = mode
        self.pretrained_window_size = to_2tuple(pretrained_window_size)
        swin = mode == "swin"
        self.mlp = Mlp(
            2,
            hidden_features=hidden_dim,
            out_features=num_heads,
            act_layer=nn.ReLU,
            bias=(True, False) if swin else True,
            drop=(0.125, 0.0),
            device=device,
            dtype=dtype,
        )
        self.register_buffer(
            "relative_position_index", torch.empty(0, device=device, dtype=torch.long), persistent=False
        )
        self.register_buffer("rel_coords_log", torch.empty(0, device=device, dtype=dtype), persistent=False)
        self._init_buffers()

    def _init_buffers(self) -> None:
        """The index and offsets follow the window (never stored in checkpoints)."""
        device, dtype = self.relative_position_index.device, self.rel_coords_log.dtype
        self.relative_position_index = gen_relative_position_index(self.window_size, device=device).view(-1)
        self.rel_coords_log = gen_relative_log_coords(
            self.window_size, self.pretrained_window_size, mode=self.mode, device=device, dtype=dtype
        )

    def init_non_persistent_buffers(self) -> None:
        self._init_buffers()

    def reset_parameters(self) -> None:
        self._init_buffers()

    def set_window_size(self, window_size: int | tuple[int, int]) -> None:
        """Another token grid: new offsets and index, the same MLP."""
        new = to_2tuple(window_size)
        if new != tuple(self.window_size):
            self.window_size = new
            self._init_buffers()

    def get_bias(self) -> torch.Tensor:
        """``(1, heads, P + N, P + N)``: entry ``[0, h, q, k]`` is head ``h``'s bias of the pair."""
        n = self.window_size[0] * self.window_size[1]
        bias = self.mlp(self.rel_coords_log).reshape(-1, self.num_heads)[self.relative_position_index]
        bias = bias.view(n, n, self.num_heads).permute(2, 0, 1)
        if self.mode == "swin":
            bias = 16.0 * torch.sigmoid(bias)
        if self.prefix_tokens:
            bias = F.pad(bias, [self.prefix_tokens, 0, self.prefix_tokens, 0])
        return bias.unsqueeze(0).contiguous()

    def forward(self, attn: torch.Tensor, shared_rel_pos: torch.Tensor | None = None) -> torch.Tensor:
        """Attention logits ``(B, heads, P + N, P + N)`` with the bias added."""
        return attn + self.get_bias()


def gen_key_query_offsets(
    window_size: tuple[int, int], device: torch.device | str | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column indices ``(N, N)`` into a ``(2H - 1, 2W - 1)`` table for the ``N = H * W``
    tokens of a window (row-major): entry ``[q, k]`` is ``(y_k - y_q + H - 1, x_k - x_q + W - 1)``."""
    h, w = window_size
    ys = torch.arange(h, device=device).repeat_interleave(w)
    xs = torch.arange(w, device=device).repeat(h)
    return ys[None, :] - ys[:, None] + h - 1, xs[None, :] - xs[:, None] + w - 1


class RelPosBiasTf(nn.Module):
    """Per-head attention bias ``(heads, N, N)`` for a window of ``N = H * W`` tokens.

    Args:
        window_size: the token grid ``(H, W)``.
        num_heads: biases per pair.
    """

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        index_h: torch.Tensor
        index_w: torch.Tensor

    def __init__(
        self,
        window_size: int | tuple[int, int],
        num_heads: int,
        *,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.window_size = to_2tuple(window_size)
        self.num_heads = num_heads
        h, w = self.window_size
        self.relative_position_bias_table = nn.Parameter(
            torch.empty(num_heads, 2 * h - 1, 2 * w - 1, device=device, dtype=dtype)
        )
        self.register_buffer("index_h", torch.empty(0, device=device, dtype=torch.long), persistent=False)
        self.register_buffer("index_w", torch.empty(0, device=device, dtype=torch.long), persistent=False)
        self.reset_parameters()

    def _init_buffers(self) -> None:
        self.index_h, self.index_w = gen_key_query_offsets(self.window_size, device=self.index_h.device)

    def init_non_persistent_buffers(self) -> None:
        self._init_buffers()

    def reset_parameters(self) -> None:
        if not self.relative_position_bias_table.is_meta:
            nn.init.normal_(self.relative_position_bias_table, std=0.02)
        self._init_buffers()

    def set_window_size(self, window_size: int | tuple[int, int]) -> None:
        """Another token grid: the table resampled, new indices."""
        new = to_2tuple(window_size)
        if new == tuple(self.window_size):
            return
        table = self.relative_position_bias_table
        with torch.no_grad():
            resized = resize_rel_pos_bias_table(
                table, new_window_size=new, new_bias_shape=(self.num_heads, 2 * new[0] - 1, 2 * new[1] - 1)
            )
        self.relative_position_bias_table = nn.Parameter(resized, requires_grad=table.requires_grad)
        self.window_size = new
        self._init_buffers()

    def get_bias(self) -> torch.Tensor:
        """``(heads, N, N)``: entry ``[h, q, k]`` is head ``h``'s bias for the pair's offset."""
        return self.relative_position_bias_table[:, self.index_h, self.index_w]

    def forward(self, attn: torch.Tensor, shared_rel_pos: torch.Tensor | None = None) -> torch.Tensor:
        """Attention logits ``(B, heads, N, N)`` with the bias added."""
        return attn + self.get_bias()
