"""Patch embedding: cut an image into non-overlapping patches and project each to a token.

Paper: `An Image is Worth 16x16 Words` - https://arxiv.org/abs/2010.11929. Kernel resampling
(a different patch size than the checkpoint's) follows FlexiViT - https://arxiv.org/abs/2212.08013:
the new kernel is the pseudo-inverse of the resize, so a resized patch gives the same response.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .helpers import to_2tuple

__all__ = ["PatchEmbed", "resample_patch_embed"]

_logger = logging.getLogger(__name__)


class PatchEmbed(nn.Module):
    """``(B, C, H, W)`` -> tokens ``(B, H/p * W/p, D)`` (or ``(B, H/p, W/p, D)`` with ``output_fmt='NHWC'``).

    Args:
        img_size: input size the model is built for (None: any size, no grid).
        patch_size: patch (= conv kernel and stride) size.
        in_chans, embed_dim: input channels and token width.
        norm_layer: optional norm over the tokens.
        flatten: return ``(B, L, D)`` tokens rather than the ``(B, D, H, W)`` map.
        output_fmt: ``'NCHW'``, ``'NHWC'`` or ``'NLC'``; overrides ``flatten`` when given.
        bias: conv bias (CLIP towers have none).
        strict_img_size: require inputs of exactly ``img_size``.
        dynamic_img_pad: pad inputs on the bottom/right up to a multiple of the patch size.
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] | None = 224,
        patch_size: int | tuple[int, int] = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        norm_layer: Callable[..., nn.Module] | None = None,
        flatten: bool = True,
        output_fmt: str | None = None,
        bias: bool = True,
        strict_img_size: bool = True,
        dynamic_img_pad: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.patch_size = to_2tuple(patch_size)
        self.img_size, self.grid_size, self.num_patches = self._grid(img_size)
        if output_fmt is not None:
            if output_fmt not in ("NCHW", "NHWC", "NLC"):
                raise ValueError(f"output_fmt={output_fmt!r}; valid: 'NCHW', 'NHWC', 'NLC'")
            self.flatten = output_fmt == "NLC"
            self.output_fmt = output_fmt
        else:
            self.flatten = flatten
            self.output_fmt = "NCHW"
        self.strict_img_size = strict_img_size
        self.dynamic_img_pad = dynamic_img_pad
        self.proj = nn.Conv2d(
            in_chans,
            embed_dim,
            kernel_size=self.patch_size,
            stride=self.patch_size,
            bias=bias,
            device=device,
            dtype=dtype,
        )
        # NOTE: device/dtype reach the norm only when set, so norm factories without them work
        norm_dd = {} if device is None and dtype is None else {"device": device, "dtype": dtype}
        self.norm = norm_layer(embed_dim, **norm_dd) if norm_layer else nn.Identity()

    def _grid(
        self, img_size: int | tuple[int, int] | None
    ) -> tuple[tuple[int, int] | None, tuple[int, int] | None, int | None]:
        if img_size is None:
            return None, None, None
        size = to_2tuple(img_size)
        grid = (size[0] // self.patch_size[0], size[1] // self.patch_size[1])
        if min(grid) < 1:
            raise ValueError(f"img_size={size} is smaller than patch_size={self.patch_size}")
        return size, grid, grid[0] * grid[1]

    def set_input_size(
        self,
        img_size: int | tuple[int, int] | None = None,
        patch_size: int | tuple[int, int] | None = None,
    ) -> None:
        """Rebuild for a new input size and/or patch size (the kernel is resampled)."""
        if patch_size is not None and to_2tuple(patch_size) != self.patch_size:
            new = to_2tuple(patch_size)
            old = self.proj
            proj = nn.Conv2d(
                old.in_channels,
                old.out_channels,
                kernel_size=new,
                stride=new,
                bias=old.bias is not None,
                device=old.weight.device,
                dtype=old.weight.dtype,
            )
            with torch.no_grad():
                proj.weight.copy_(resample_patch_embed(old.weight, new))
                if old.bias is not None and proj.bias is not None:
                    proj.bias.copy_(old.bias)
            proj.train(old.training)
            self.proj = proj
            self.patch_size = new
        self.img_size, self.grid_size, self.num_patches = self._grid(img_size or self.img_size)

    def feat_ratio(self, as_scalar: bool = True) -> int | tuple[int, int]:
        """Input pixels per output token (the feature reduction)."""
        return max(self.patch_size) if as_scalar else self.patch_size

    def dynamic_feat_size(self, img_size: tuple[int, int]) -> tuple[int, int]:
        """Token grid for an input of ``img_size`` (rounded up with ``dynamic_img_pad``)."""
        if self.dynamic_img_pad:
            return math.ceil(img_size[0] / self.patch_size[0]), math.ceil(img_size[1] / self.patch_size[1])
        return img_size[0] // self.patch_size[0], img_size[1] // self.patch_size[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, _, h, w = x.shape
        if self.img_size is not None:
            if self.strict_img_size:
                # two checks, not one `and`: a traced (FX) size cannot drive Python control flow
                hint = "; build the model with img_size=(H, W) or dynamic_img_size=True, or set_input_size()"
                torch._assert(
                    h == self.img_size[0],
                    f"input size {(h, w)} != the model's img_size {self.img_size}{hint}",
                )
                torch._assert(
                    w == self.img_size[1],
                    f"input size {(h, w)} != the model's img_size {self.img_size}{hint}",
                )
            elif not self.dynamic_img_pad:
                torch._assert(
                    h % self.patch_size[0] == 0, f"input height {h} is not a multiple of the patch size"
                )
                torch._assert(
                    w % self.patch_size[1] == 0, f"input width {w} is not a multiple of the patch size"
                )
        if self.dynamic_img_pad:
            pad_h = (self.patch_size[0] - h % self.patch_size[0]) % self.patch_size[0]
            pad_w = (self.patch_size[1] - w % self.patch_size[1]) % self.patch_size[1]
            x = F.pad(x, (0, pad_w, 0, pad_h))
        x = self.proj(x)
        if self.flatten:
            x = x.flatten(2).transpose(1, 2)
        elif self.output_fmt == "NHWC":
            x = x.permute(0, 2, 3, 1)
        return self.norm(x)


def _resize_matrix(
    old: tuple[int, int], new: tuple[int, int], interpolation: str, antialias: bool
) -> torch.Tensor:
    """``(new_h * new_w, old_h * old_w)``: the linear map ``F.interpolate`` applies to one kernel."""
    basis = torch.eye(old[0] * old[1], dtype=torch.float32).reshape(-1, 1, *old)
    resized = F.interpolate(basis, size=new, mode=interpolation, antialias=antialias, align_corners=False)
    return resized.reshape(old[0] * old[1], new[0] * new[1]).T


def resample_patch_embed(
    patch_embed: torch.Tensor,
    new_size: tuple[int, int] | list[int],
    *,
    interpolation: str = "bicubic",
    antialias: bool = True,
    verbose: bool = False,
) -> torch.Tensor:
    """Resample a patch-embedding kernel ``(O, I, h, w)`` to ``(O, I, *new_size)``.

    The new kernel ``k'`` solves ``<resize(patch), k'> = <patch, k>`` in the least-squares sense
    (``k' = pinv(R)^T k`` for the resize matrix ``R``), so the token for a patch resized to the new
    patch size matches the original token (exactly when upsampling). ``verbose`` logs the resize
    at INFO level (timm's switch).
    """
    weight = patch_embed
    if weight.ndim != 4:
        raise ValueError(f"patch embedding weight must be (O, I, h, w), got shape {tuple(weight.shape)}")
    old, new = (int(weight.shape[-2]), int(weight.shape[-1])), to_2tuple(tuple(new_size))  # type: ignore[arg-type]
    if old == new:
        return weight
    pinv = torch.linalg.pinv(_resize_matrix(old, new, interpolation, antialias))  # (old, new)
    out_chs, in_chs = weight.shape[:2]
    kernel = weight.float().reshape(out_chs, in_chs, -1) @ pinv
    if verbose:
        _logger.info(f"Resize patch embedding {old} to {new}")
    return kernel.reshape(out_chs, in_chs, *new).to(weight.dtype)
