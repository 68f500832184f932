"""The strided convolutional attention (LowFormer, CPUBone) against a direct computation: the
projection, softmax attention written out, and both upsamplings (nearest; the transposed conv as
an explicit scatter of each input pixel's kernel), with the crop back to odd input sizes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from timm_oracle import materialize_random, rel_err

from visionzoo.layers.strided_conv_attn import ConvAttention

pytestmark = pytest.mark.family


def _x(size: int, chans: int, seed: int = 3) -> torch.Tensor:
    return torch.randn(2, chans, size, size, generator=torch.Generator().manual_seed(seed))


def _attend(attn: ConvAttention, x: torch.Tensor) -> torch.Tensor:
    """Softmax attention of each head over the projected map's positions, written out:
    ``(B, heads * head_dim, h, w)``."""
    qkv = attn.pwise(attn.conv_proj(x))
    b, _, h, w = qkv.shape
    d = attn.head_dim
    heads = []
    for i in range(attn.num_heads):
        chunk = qkv[:, i * 3 * d : (i + 1) * 3 * d]
        q, k, v = (t.flatten(2).transpose(1, 2) for t in chunk.split(d, dim=1))  # (B, h * w, d)
        logits = q @ k.transpose(1, 2) / d**0.5
        weights = logits.exp() / logits.exp().sum(-1, keepdim=True)
        heads.append((weights @ v).transpose(1, 2).reshape(b, d, h, w))
    return torch.cat(heads, dim=1)


def _transposed_depthwise(
    x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, stride: int, pad: int
) -> torch.Tensor:
    """Each input pixel adds its value times the kernel at ``stride * position - pad``."""
    b, c, h, w = x.shape
    k = weight.shape[-1]
    full = torch.zeros(b, c, (h - 1) * stride + k, (w - 1) * stride + k)
    for i in range(h):
        for j in range(w):
            full[:, :, i * stride : i * stride + k, j * stride : j * stride + k] += (
                x[:, :, i, j, None, None] * weight[:, 0][None]
            )
    out = full[:, :, pad : full.shape[2] - pad, pad : full.shape[3] - pad]
    return out + bias[None, :, None, None]


@pytest.mark.parametrize("size", [8, 7])  # 7: the 2x2 stride-2 projection pads the odd side
def test_nearest_upsampling_formula(size: int) -> None:
    attn = materialize_random(
        ConvAttention(
            64,
            head_dim_mul=0.5,
            att_stride=2,
            fuse_out_proj=True,
            small_kernels=True,
            upsample_mode="nearest",
        ).to("meta")
    )
    assert (attn.num_heads, attn.head_dim) == (1, 32)  # 64 * 0.5 // 30 heads, 64 // 1 * 0.5 wide
    x = _x(size, 64)
    with torch.no_grad():
        padded = F.pad(x, (0, size % 2, 0, size % 2))
        out = attn.upsampling[0](_attend(attn, padded))
        expected = out.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)[..., :size, :size]
        for fused in (True, False):
            attn.fused_attn = fused
            assert rel_err(attn(x), expected) < 1e-5


@pytest.mark.parametrize("stride, size", [(2, 8), (2, 7), (1, 5)])
def test_transposed_upsampling_formula(stride: int, size: int) -> None:
    """LowFormer's form: a kernel-5 (stride 2) or kernel-3 projection, the output 1x1 conv, then
    a depthwise transposed conv (kernel ``2 * stride``, or 3 at stride 1) cropped to the input."""
    attn = materialize_random(
        ConvAttention(128, head_dim_mul=0.5, att_stride=stride, att_kernel=5 if stride > 1 else 3).to("meta")
    )
    assert (attn.num_heads, attn.head_dim) == (2, 32)  # 128 * 0.5 // 30 heads, 128 // 2 * 0.5 wide
    x = _x(size, 128)
    with torch.no_grad():
        out = attn.o_proj(_attend(attn, x))
        up = attn.upsampling
        pad = 1 if stride == 1 else stride // 2
        expected = _transposed_depthwise(out, up.weight, up.bias, stride, pad)[..., :size, :size]
        for fused in (True, False):
            attn.fused_attn = fused
            assert rel_err(attn(x), expected) < 1e-5
