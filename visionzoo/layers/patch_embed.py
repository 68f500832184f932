"""Patch embedding: cut an image into non-overlapping patches and project each to a token.

Paper: `An Image is Worth 16x16 Words` - https://arxiv.org/abs/2010.11929. Kernel resampling
(a different patch size than the checkpoint's) follows FlexiViT - https://arxiv.org/abs/2212.08013:
the new kernel is the pseudo-inverse of the resize, so a resized patch gives the same response.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import nn

from .helpers import to_2tuple

__all__ = [
    "PatchEmbed",
    "PatchEmbedInterpolator",
    "PatchEmbedResamplerFixedOrigSize",
    "resample_patch_embed",
]

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
            self.patch_size = to_2tuple(patch_size)
            self.proj = resample_proj(self.proj, self.patch_size)
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


def resample_proj(proj: nn.Conv2d, patch_size: tuple[int, int]) -> nn.Conv2d:
    """A patch projection conv for another ``patch_size``: kernel resampled
    (:func:`resample_patch_embed`), bias, device, dtype, frozen flags and train mode kept."""
    new = nn.Conv2d(
        proj.in_channels,
        proj.out_channels,
        kernel_size=patch_size,
        stride=patch_size,
        bias=proj.bias is not None,
        device=proj.weight.device,
        dtype=proj.weight.dtype,
    )
    with torch.no_grad():
        new.weight.copy_(resample_patch_embed(proj.weight, patch_size, verbose=True))
        if proj.bias is not None and new.bias is not None:
            new.bias.copy_(proj.bias)
    new.weight.requires_grad_(proj.weight.requires_grad)
    if proj.bias is not None and new.bias is not None:
        new.bias.requires_grad_(proj.bias.requires_grad)
    return new.train(proj.training)


def _compute_resize_matrix(
    old_size: tuple[int, int],
    new_size: tuple[int, int],
    interpolation: str,
    antialias: bool,
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """``(new_h * new_w, old_h * old_w)``: the linear map ``F.interpolate`` applies to one kernel."""
    old_total = old_size[0] * old_size[1]
    basis = torch.eye(old_total, device=device, dtype=dtype).reshape(old_total, 1, *old_size)
    resized = F.interpolate(
        basis, size=new_size, mode=interpolation, antialias=antialias, align_corners=False
    )
    return resized.reshape(old_total, new_size[0] * new_size[1]).T


def _apply_resampling(weight: torch.Tensor, pinv: torch.Tensor, new_size: tuple[int, int]) -> torch.Tensor:
    """``weight`` ``(O, I, h, w)`` resampled with ``pinv`` (``(h * w, new_h * new_w)``), in float32,
    returned in ``weight``'s dtype."""
    out_chs, in_chs = weight.shape[:2]
    kernel = weight.float().reshape(out_chs, in_chs, -1) @ pinv.float()
    return kernel.reshape(out_chs, in_chs, *new_size).to(weight.dtype)


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
    pinv = torch.linalg.pinv(_compute_resize_matrix(old, new, interpolation, antialias, weight.device))
    if verbose:
        _logger.info(f"Resize patch embedding {old} to {new}")
    return _apply_resampling(weight, pinv, new)


_CacheKey = tuple[tuple[int, int], torch.device, torch.dtype]


class PatchEmbedResamplerFixedOrigSize(nn.Module):
    """:func:`resample_patch_embed` from one fixed kernel size, the pseudo-inverse cached per
    (target size, device, dtype).

    The cache is a plain dict, not buffers: no state-dict keys, nothing for DDP to broadcast, and
    DataParallel replicas share it (hence the device in the key). Moving or casting the module
    (``.to()``, ``to_empty()``) clears it; :meth:`prewarm` fills it ahead of ``torch.compile``.
    """

    if TYPE_CHECKING:  # NOTE: for type checkers only; TorchScript cannot read these string annotations
        _cache_device_anchor: torch.Tensor  # a buffer

    def __init__(
        self,
        orig_size: tuple[int, int],
        interpolation: str = "bicubic",
        antialias: bool = True,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        if not (isinstance(orig_size, tuple) and len(orig_size) == 2):
            raise ValueError(f"orig_size must be a (height, width) tuple, got {orig_size!r}")
        self.orig_size = orig_size
        self.interpolation = interpolation
        self.antialias = antialias
        self._pinv_cache_map: dict[_CacheKey, torch.Tensor] = {}
        # an empty buffer that follows the module's device: where prewarm builds by default
        self.register_buffer(
            "_cache_device_anchor", torch.empty(0, dtype=torch.uint8, device=device), persistent=False
        )

    def _get_or_create_pinv_matrix(
        self, new_size: tuple[int, int], device: torch.device, dtype: torch.dtype = torch.float32
    ) -> torch.Tensor:
        key = (new_size, device, dtype)
        pinv = self._pinv_cache_map.get(key)
        if pinv is None:
            # a normal float32 tensor even under inference mode or autocast, so later training
            # and full-precision calls can use it
            with torch.inference_mode(False), torch.autocast(device_type=device.type, enabled=False):
                resize = _compute_resize_matrix(
                    self.orig_size, new_size, self.interpolation, self.antialias, device, dtype
                )
                pinv = torch.linalg.pinv(resize)
            self._pinv_cache_map[key] = pinv
        return pinv

    def _apply(
        self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True
    ) -> PatchEmbedResamplerFixedOrigSize:
        self._pinv_cache_map.clear()  # derived from the old device / dtype
        return super()._apply(fn, recurse)

    def prewarm(
        self,
        new_sizes: Iterable[int | tuple[int, int]],
        device: torch.device | str | None = None,
    ) -> None:
        """Build the matrices for ``new_sizes`` now, on ``device`` (default: the module's); after
        the last move of the module, which clears them."""
        # an empty tensor resolves aliases ('cuda', 'cpu:0') to the device forward will see
        dev = self._cache_device_anchor.device if device is None else torch.empty(0, device=device).device
        for size in new_sizes:
            new = to_2tuple(size)
            if new != self.orig_size:
                self._get_or_create_pinv_matrix(new, dev)

    def forward(self, patch_embed: torch.Tensor, new_size: list[int]) -> torch.Tensor:
        """``patch_embed`` ``(O, I, *orig_size)`` resampled to ``(O, I, *new_size)``."""
        if patch_embed.ndim != 4 or tuple(patch_embed.shape[-2:]) != self.orig_size:
            h, w = self.orig_size
            raise ValueError(f"expected a (O, I, {h}, {w}) kernel, got {tuple(patch_embed.shape)}")
        new = (int(new_size[0]), int(new_size[1]))
        if new == self.orig_size:
            return patch_embed
        return _apply_resampling(patch_embed, self._get_or_create_pinv_matrix(new, patch_embed.device), new)


class PatchEmbedInterpolator(nn.Module):
    """Patch embedding with the projection resampled on the fly to another patch size (NaFlex,
    FlexiViT-style training with varying patch sizes).

    Works with a conv projection (``(D, C, ph, pw)`` kernels on NCHW images) or a linear one
    (``(D, ph * pw * C)`` over flattened patches, ``channels_last`` giving the per-patch order
    ``(ph, pw, C)``, else ``(C, ph, pw)``). Resampling matrices are cached per size by
    :class:`PatchEmbedResamplerFixedOrigSize` (``resampler``).
    """

    def __init__(
        self,
        base_patch_size: tuple[int, int],
        in_chans: int = 3,
        embed_dim: int = 768,
        interpolation: str = "bicubic",
        antialias: bool = True,
        channels_last: bool = True,
        device: torch.device | str | None = None,
    ) -> None:
        super().__init__()
        self.base_patch_size = base_patch_size
        self.in_chans = in_chans
        self.embed_dim = embed_dim
        self.interpolation = interpolation
        self.antialias = antialias
        self.channels_last = channels_last
        self.resampler = PatchEmbedResamplerFixedOrigSize(
            orig_size=base_patch_size, interpolation=interpolation, antialias=antialias, device=device
        )

    def prewarm(
        self,
        target_patch_sizes: Iterable[int | tuple[int, int]],
        device: torch.device | str | None = None,
    ) -> None:
        """Build the resampling matrices for ``target_patch_sizes`` now (before ``torch.compile``)."""
        self.resampler.prewarm(target_patch_sizes, device=device)

    def resample_linear_weight(
        self, weight: torch.Tensor, target_patch_size: tuple[int, int]
    ) -> torch.Tensor:
        """A linear projection ``(D, ph * pw * C)`` for ``target_patch_size`` patches."""
        if tuple(target_patch_size) == tuple(self.base_patch_size):
            return weight
        d = weight.shape[0]
        ph, pw = self.base_patch_size
        if self.channels_last:
            kernel = weight.reshape(d, ph, pw, self.in_chans).permute(0, 3, 1, 2)
        else:
            kernel = weight.reshape(d, self.in_chans, ph, pw)
        kernel = self.resampler(kernel, list(target_patch_size))
        if self.channels_last:
            kernel = kernel.permute(0, 2, 3, 1)
        return kernel.reshape(d, -1)

    def resample_conv_weight(self, weight: torch.Tensor, target_patch_size: tuple[int, int]) -> torch.Tensor:
        """A conv kernel ``(D, C, ph, pw)`` for ``target_patch_size``."""
        if tuple(target_patch_size) == tuple(self.base_patch_size):
            return weight
        return self.resampler(weight, list(target_patch_size))

    def forward(
        self,
        patches: torch.Tensor,
        proj_weight: torch.Tensor,
        proj_bias: torch.Tensor | None = None,
        patch_size: tuple[int, int] | None = None,
        is_linear: bool = True,
    ) -> torch.Tensor:
        """Embed ``patches`` with ``proj_weight`` resampled to ``patch_size`` (default: the base).

        Linear: ``(B, N, ph, pw, C)`` (or ``(B, N, C, ph, pw)``) patches, or already flat
        ``(B, N, ph * pw * C)`` ones at the base size. Conv: an NCHW image, stride = patch size.
        """
        size = tuple(self.base_patch_size) if patch_size is None else tuple(patch_size)
        resample = size != tuple(self.base_patch_size)
        if not is_linear:
            weight = self.resample_conv_weight(proj_weight, size) if resample else proj_weight  # type: ignore[arg-type]
            return F.conv2d(patches, weight, proj_bias, stride=size)
        if resample and patches.ndim != 5:
            raise ValueError(
                "resampling a linear patch embedding needs unflattened patches (B, N, ph, pw, C) or "
                f"(B, N, C, ph, pw), got shape {tuple(patches.shape)}"
            )
        weight = self.resample_linear_weight(proj_weight, size) if resample else proj_weight  # type: ignore[arg-type]
        if patches.ndim == 5:
            patches = patches.reshape(patches.shape[0], patches.shape[1], -1)
        return F.linear(patches, weight, proj_bias)
