"""Hybrid patch embedding: a CNN's feature map, projected to tokens (the ViT hybrids).

Paper: `An Image is Worth 16x16 Words` (section 3.1, "Hybrid Architecture") -
https://arxiv.org/abs/2010.11929
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .helpers import to_2tuple
from .patch_embed import resample_proj

__all__ = ["HybridEmbed"]

BackboneFn = Callable[[int], nn.Module]


class HybridEmbed(nn.Module):
    """``(B, C, H, W)`` -> backbone -> ``patch_size`` conv projection -> tokens ``(B, L, D)``.

    The backbone is given as a builder ``backbone(in_chans) -> nn.Module`` (so a variant table can
    name it as data) or as a module. Its output grid is measured once by a forward pass on the
    backbone's device (shapes only on the meta device), as the padding of its convs decides it.

    Args:
        backbone: builder or module returning one ``(B, C, h, w)`` feature map.
        img_size: input size the model is built for.
        patch_size: projection kernel / stride over the backbone's feature map (1 for most).
        feature_size: the backbone's output grid, to skip the measuring forward pass; its width is
            then read from ``backbone.feature_info`` or ``backbone.num_features`` (timm's rule).
        feature_ratio: input pixels per feature-map cell with ``feature_size`` (default 16).
        in_chans, embed_dim: input channels, token width.
        bias: projection bias.
        proj: project to ``embed_dim`` (False: the backbone's width must already be ``embed_dim``).
        flatten, output_fmt: ``(B, L, D)`` tokens, or ``'NCHW'`` / ``'NHWC'`` / ``'NLC'``.
        strict_img_size: require inputs whose feature map is the one of ``img_size``.
        dynamic_img_pad: pad the feature map to a multiple of ``patch_size``.
        device, dtype: of the projection.
    """

    def __init__(
        self,
        backbone: BackboneFn | nn.Module,
        img_size: int | tuple[int, int] = 224,
        patch_size: int | tuple[int, int] = 1,
        feature_size: int | tuple[int, int] | None = None,
        feature_ratio: int | tuple[int, int] | None = None,
        in_chans: int = 3,
        embed_dim: int = 768,
        bias: bool = True,
        proj: bool = True,
        flatten: bool = True,
        output_fmt: str | None = None,
        strict_img_size: bool = True,
        dynamic_img_pad: bool = False,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone if isinstance(backbone, nn.Module) else backbone(in_chans)
        self.in_chans = in_chans
        self.patch_size = to_2tuple(patch_size)
        if feature_size is None:
            self._measure(to_2tuple(img_size))
        else:
            self._given(to_2tuple(img_size), to_2tuple(feature_size), to_2tuple(feature_ratio or 16))
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
        if not dynamic_img_pad and any(f % p for f, p in zip(self.feature_size, self.patch_size)):
            raise ValueError(
                f"backbone feature map {self.feature_size} is not a multiple of "
                f"patch_size={self.patch_size}; use dynamic_img_pad=True or another img_size"
            )
        if proj:
            self.proj: nn.Module = nn.Conv2d(
                self.feature_dim,
                embed_dim,
                kernel_size=self.patch_size,
                stride=self.patch_size,
                bias=bias,
                device=device,
                dtype=dtype,
            )
        elif self.feature_dim != embed_dim:
            raise ValueError(
                f"proj=False needs the backbone width ({self.feature_dim}) == embed_dim ({embed_dim})"
            )
        else:
            self.proj = nn.Identity()

    def _measure(self, img_size: tuple[int, int]) -> None:
        """Feature map size / width / ratio and the token grid for inputs of ``img_size``."""
        ref = next(self.backbone.parameters(), None)
        device = ref.device if ref is not None else None
        modes = [(m, m.training) for m in self.backbone.modules()]
        try:
            self.backbone.eval()
            with torch.no_grad():
                out = self.backbone(torch.zeros(1, self.in_chans, *img_size, device=device))
        finally:
            for m, mode in modes:
                m.training = mode
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"a HybridEmbed backbone must return one feature map, got {type(out).__name__}")
        feature_size = (int(out.shape[-2]), int(out.shape[-1]))
        ratio = (img_size[0] // feature_size[0], img_size[1] // feature_size[1])
        self._set_grid(img_size, feature_size, ratio, int(out.shape[1]))

    def _given(
        self, img_size: tuple[int, int], feature_size: tuple[int, int], feature_ratio: tuple[int, int]
    ) -> None:
        """The grid from a given feature size, without a forward pass (timm's ``feature_size``)."""
        info = getattr(self.backbone, "feature_info", None)
        if info is not None and hasattr(info, "channels"):
            dim = info.channels()[-1]
        elif isinstance(getattr(self.backbone, "num_features", None), int):
            dim = self.backbone.num_features
        else:
            raise ValueError(
                "HybridEmbed(feature_size=...) reads the backbone's width from feature_info or "
                f"num_features; {type(self.backbone).__name__} has neither (leave feature_size None)"
            )
        self._set_grid(img_size, feature_size, feature_ratio, int(dim))

    def _set_grid(
        self,
        img_size: tuple[int, int],
        feature_size: tuple[int, int],
        feature_ratio: tuple[int, int],
        feature_dim: int,
    ) -> None:
        self.img_size = img_size
        self.feature_size: tuple[int, int] = feature_size
        self.feature_dim = feature_dim
        self.feature_ratio = feature_ratio
        self.grid_size = (
            self.feature_size[0] // self.patch_size[0],
            self.feature_size[1] // self.patch_size[1],
        )
        self.num_patches = self.grid_size[0] * self.grid_size[1]

    def set_input_size(
        self, img_size: int | tuple[int, int] | None = None, patch_size: int | tuple[int, int] | None = None
    ) -> None:
        """Re-measure the grid for a new input size (one no-grad eval forward of the backbone,
        its modes restored); a new ``patch_size`` resamples the projection kernel."""
        if patch_size is not None and to_2tuple(patch_size) != self.patch_size:
            if not isinstance(self.proj, nn.Conv2d):
                raise ValueError("HybridEmbed(proj=False) has no projection to resize: patch_size is fixed")
            self.patch_size = to_2tuple(patch_size)
            self.proj = resample_proj(self.proj, self.patch_size)
            self._set_grid(self.img_size, self.feature_size, self.feature_ratio, self.feature_dim)
        if img_size is not None and to_2tuple(img_size) != self.img_size:
            self._measure(to_2tuple(img_size))

    def feat_ratio(self, as_scalar: bool = True) -> int | tuple[int, int]:
        """Input pixels per output token: the backbone's reduction times the patch size."""
        ratio = (self.feature_ratio[0] * self.patch_size[0], self.feature_ratio[1] * self.patch_size[1])
        return max(ratio) if as_scalar else ratio

    def dynamic_feat_size(self, img_size: tuple[int, int]) -> tuple[int, int]:
        """Token grid for an input of ``img_size``."""
        feat = (img_size[0] // self.feature_ratio[0], img_size[1] // self.feature_ratio[1])
        if self.dynamic_img_pad:
            return math.ceil(feat[0] / self.patch_size[0]), math.ceil(feat[1] / self.patch_size[1])
        return feat[0] // self.patch_size[0], feat[1] // self.patch_size[1]

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        setter = getattr(self.backbone, "set_grad_checkpointing", None)
        if callable(setter):
            setter(enable)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        in_h, in_w = x.shape[-2], x.shape[-1]
        x = self.backbone(x)
        if self.strict_img_size:
            # two checks, not one tuple compare: a traced (FX) size cannot drive Python control flow
            feat_h, feat_w = x.shape[-2], x.shape[-1]
            msg = (
                f"input size ({in_h}, {in_w}) gives a ({feat_h}, {feat_w}) feature map, not the "
                f"{self.feature_size} of the model's img_size {self.img_size}; build the model with "
                "img_size=(H, W) or dynamic_img_size=True, or call set_input_size()"
            )
            torch._assert(feat_h == self.feature_size[0], msg)
            torch._assert(feat_w == self.feature_size[1], msg)
        if self.dynamic_img_pad:
            h, w = x.shape[-2:]
            pad_h = (self.patch_size[0] - h % self.patch_size[0]) % self.patch_size[0]
            pad_w = (self.patch_size[1] - w % self.patch_size[1]) % self.patch_size[1]
            x = F.pad(x, (0, pad_w, 0, pad_h))
        x = self.proj(x)
        if self.flatten:
            return x.flatten(2).transpose(1, 2)
        if self.output_fmt == "NHWC":
            return x.permute(0, 2, 3, 1)
        return x
