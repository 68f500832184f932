"""Convolutional attention over a strided map (LowFormer, CPUBone): a strided depthwise conv
shrinks the map, full softmax attention runs over the few positions left, and a learned
(transposed conv) or nearest upsampling brings the result back to the input size. Attention
cost falls by ``att_stride ** 4`` while every output position still sees the whole image.

Papers: `LowFormer: Hardware Efficient Design for Convolutional Transformer Backbones` -
https://arxiv.org/abs/2409.03460; `CPUBone` - https://arxiv.org/abs/2603.26425
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._fx import register_notrace_module
from .mbconv_mit import ConvLayer

__all__ = ["UPSAMPLE_MODES", "ConvAttention"]

# how the attended map returns to the input size: a learned transposed conv, or nearest
UPSAMPLE_MODES = ("transpose", "nearest")


@register_notrace_module  # NOTE: a leaf for FX feature graphs, as timm's (it traces too)
class ConvAttention(nn.Module):
    """Multi-head self-attention over a downsampled map: a strided depthwise conv + norm
    (``conv_proj``) shrinks the map by ``att_stride``, a 1x1 conv (``pwise``) makes q, k, v for
    every head, the attended values are projected back (``o_proj``) and upsampled to the input
    size (a transposed conv or nearest; with ``fuse_out_proj`` the projection is folded into the
    upsampling), then cropped to the input.

    Heads: ``max(1, dim * head_dim_mul // 30)``, each ``dim // heads * head_dim_mul`` wide.
    """

    def __init__(
        self,
        input_dim: int,
        head_dim_mul: float = 1.0,
        att_stride: int = 4,
        att_kernel: int = 7,
        fuse_out_proj: bool = False,
        small_kernels: bool = False,
        upsample_mode: str = "transpose",
        fused_attn: bool = True,
    ) -> None:
        super().__init__()
        if upsample_mode not in UPSAMPLE_MODES:
            raise ValueError(
                f"upsample_mode={upsample_mode!r}; valid: {', '.join(map(repr, UPSAMPLE_MODES))}"
            )
        self.num_heads = int(max(1, (input_dim * head_dim_mul) // 30))
        self.head_dim = int((input_dim // self.num_heads) * head_dim_mul)
        self.num_keys = 3
        self.scale = self.head_dim**-0.5
        self.att_stride = att_stride
        self.small_kernels = small_kernels
        self.fused_attn = fused_attn
        self.o_proj_inpdim = self.head_dim * self.num_heads
        self.conv_proj = ConvLayer(
            input_dim,
            input_dim,
            2 if small_kernels else att_kernel,
            att_stride,
            groups=input_dim,
            act_layer=None,
        )
        self.pwise = nn.Conv2d(input_dim, self.o_proj_inpdim * self.num_keys, 1, bias=False)
        out_dim = self.o_proj_inpdim
        self.o_proj: nn.Module = nn.Identity()
        if not fuse_out_proj:
            self.o_proj = nn.Conv2d(out_dim, input_dim, 1)
            out_dim = input_dim
        if upsample_mode == "nearest":
            up: list[nn.Module] = [nn.Conv2d(out_dim, input_dim, 1)] if fuse_out_proj else []
            up.append(
                nn.Upsample(scale_factor=att_stride, mode="nearest") if att_stride > 1 else nn.Identity()
            )
            self.upsampling: nn.Module = nn.Sequential(*up)
        else:  # a learned upsampling, depthwise unless it also projects
            groups = 1 if fuse_out_proj else input_dim
            if att_stride == 1:
                self.upsampling = nn.ConvTranspose2d(
                    out_dim, input_dim, 3, stride=1, padding=1, groups=groups
                )
            else:
                self.upsampling = nn.ConvTranspose2d(
                    out_dim,
                    input_dim,
                    2 * att_stride,
                    stride=att_stride,
                    padding=att_stride // 2,
                    groups=groups,
                )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        if self.small_kernels and self.att_stride > 1:
            # the 2x2 projection floors odd sides: pad it so the upsampled map covers the input
            # (unconditionally, a zero pad where the sides divide: no branch on a traced size)
            x = F.pad(x, (0, (-width) % self.att_stride, 0, (-height) % self.att_stride))
        qkv = self.pwise(self.conv_proj(x))
        n, _, h, w = qkv.shape
        qkv = qkv.reshape(n, self.num_heads, self.num_keys * self.head_dim, h * w).transpose(2, 3)
        q, k, v = qkv.chunk(3, dim=3)  # (N, heads, h * w, head_dim) each
        if self.fused_attn:
            out = F.scaled_dot_product_attention(q, k, v)
        else:
            out = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1) @ v
        out = self.o_proj(out.transpose(2, 3).reshape(n, self.o_proj_inpdim, h, w))
        return self.upsampling(out)[..., :height, :width]
