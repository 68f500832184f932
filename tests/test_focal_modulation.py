"""Focal modulation against a direct computation: the gated sum of the context levels written out
level by level with explicit convolutions."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from visionzoo.layers.focal_modulation import FocalModulation


@pytest.mark.parametrize(("normalize", "post_norm"), [(False, False), (True, True)])
def test_focal_modulation_formula(normalize: bool, post_norm: bool) -> None:
    torch.manual_seed(0)
    dim, levels = 4, 2
    mod = FocalModulation(
        dim, focal_window=3, focal_level=levels, use_post_norm=post_norm, normalize_modulator=normalize
    )
    with torch.no_grad():
        for p in mod.parameters():
            p.normal_()  # the norm's affine too, so it counts
    mod.eval()
    x = torch.randn(2, dim, 7, 6)
    with torch.no_grad():
        y = F.conv2d(x, mod.f.weight, mod.f.bias)
        q, z, g = y[:, :dim], y[:, dim : 2 * dim], y[:, 2 * dim :]
        context = torch.zeros_like(q)
        for level in range(levels):
            k = 2 * level + 3  # kernels 3, 5: growing by focal_factor 2 per level
            w = mod.focal_layers[level][0].weight
            assert w.shape[-1] == k
            z = F.gelu(F.conv2d(z, w, padding=k // 2, groups=dim))
            context = context + z * g[:, level : level + 1]
        context = context + F.gelu(z.mean(dim=(2, 3), keepdim=True)) * g[:, levels : levels + 1]
        if normalize:
            context = context / (levels + 1)
        out = q * F.conv2d(context, mod.h.weight, mod.h.bias)
        if post_norm:
            out = F.layer_norm(out.permute(0, 2, 3, 1), (dim,), mod.norm.weight, mod.norm.bias, mod.norm.eps)
            out = out.permute(0, 3, 1, 2)
        expected = F.conv2d(out, mod.proj.weight, mod.proj.bias)
        torch.testing.assert_close(mod(x), expected)


def test_needs_a_level() -> None:
    with pytest.raises(ValueError, match="focal_level"):
        FocalModulation(4, focal_window=3, focal_level=0)
