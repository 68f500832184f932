"""PatchEmbedInterpolator (patch embeddings at another patch size, matrices cached) and patch-size
changes of PatchEmbed / HybridEmbed, against timm and against the defining property of the
resampled kernel: an upsampled patch gives the same token as the original patch."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from visionzoo.layers import HybridEmbed, PatchEmbed, PatchEmbedInterpolator, resample_patch_embed

timm_layers = pytest.importorskip("timm.layers")


@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("new_size", [(6, 6), (2, 3), (4, 4)])
def test_linear_and_conv_forms_match_timm(channels_last: bool, new_size: tuple[int, int]) -> None:
    ours = PatchEmbedInterpolator((4, 4), in_chans=3, embed_dim=8, channels_last=channels_last)
    ref = timm_layers.PatchEmbedInterpolator((4, 4), in_chans=3, embed_dim=8, channels_last=channels_last)
    weight, bias = torch.randn(8, 48), torch.randn(8)
    ph, pw = new_size
    patches = torch.randn(2, 5, ph, pw, 3) if channels_last else torch.randn(2, 5, 3, ph, pw)
    torch.testing.assert_close(
        ours(patches, weight, bias, patch_size=new_size), ref(patches, weight, bias, patch_size=new_size)
    )
    conv_w, img = torch.randn(8, 3, 4, 4), torch.randn(1, 3, 12, 12)
    out = ours(img, conv_w, bias, patch_size=new_size, is_linear=False)
    torch.testing.assert_close(out, ref(img, conv_w, bias, patch_size=new_size, is_linear=False))


def test_upsampled_patch_gives_the_original_token() -> None:
    interp = PatchEmbedInterpolator((3, 3), in_chans=2, embed_dim=5, channels_last=False)
    weight = torch.randn(5, 2 * 3 * 3, dtype=torch.float64).float()
    patch = torch.randn(1, 1, 2, 3, 3)
    big = F.interpolate(patch[0], size=(6, 6), mode="bicubic", antialias=True, align_corners=False)
    token = F.linear(patch.reshape(1, 1, -1), weight)
    torch.testing.assert_close(
        interp(big.unsqueeze(0), weight, patch_size=(6, 6)), token, atol=1e-4, rtol=1e-4
    )


def test_cache_is_reused_not_saved_and_dropped_on_move(monkeypatch: pytest.MonkeyPatch) -> None:
    interp = PatchEmbedInterpolator((4, 4), in_chans=3, embed_dim=8)
    calls = []
    pinv = torch.linalg.pinv
    monkeypatch.setattr(torch.linalg, "pinv", lambda m: calls.append(1) or pinv(m))
    w = torch.randn(8, 48, requires_grad=True)
    a = interp.resample_linear_weight(w, (2, 2))
    b = interp.resample_linear_weight(w, (2, 2))
    conv = interp.resample_conv_weight(torch.randn(8, 3, 4, 4), (2, 2))
    assert len(calls) == 1 and conv.shape == (8, 3, 2, 2)
    torch.testing.assert_close(a, b)
    a.sum().backward()
    assert w.grad is not None
    assert not interp.state_dict() and interp.resampler._pinv_cache_map
    interp.to(torch.float16)
    assert not interp.resampler._pinv_cache_map
    interp.prewarm([2, (3, 3)], device="cpu:0")
    interp.resample_linear_weight(w, (3, 3))
    assert len(calls) == 3  # 2x2 and 3x3 prewarmed; the lookup after prewarm is a hit


def test_resampled_weights_match_the_standalone_function() -> None:
    interp = PatchEmbedInterpolator((4, 4), in_chans=3, embed_dim=8, channels_last=False)
    kernel = torch.randn(8, 3, 4, 4)
    expected = resample_patch_embed(kernel, [5, 3])
    torch.testing.assert_close(interp.resample_conv_weight(kernel, (5, 3)), expected)
    torch.testing.assert_close(
        interp.resample_linear_weight(kernel.reshape(8, -1), (5, 3)), expected.reshape(8, -1)
    )


@pytest.mark.parametrize("hybrid", [False, True])
def test_patch_size_change_keeps_frozen_flags_and_matches_timm(hybrid: bool) -> None:
    def build(lib):
        torch.manual_seed(0)
        if hybrid:
            return lib.HybridEmbed(
                nn.Conv2d(3, 8, 3, stride=2, padding=1), img_size=32, patch_size=4, embed_dim=16
            )
        return lib.PatchEmbed(img_size=32, patch_size=4, embed_dim=16)

    import visionzoo.layers as ours_lib

    ours, ref = build(ours_lib).eval(), build(timm_layers).eval()
    ours.load_state_dict(ref.state_dict())
    for m in (ours, ref):
        m.proj.weight.requires_grad_(False)
        m.set_input_size(patch_size=2)
    assert not ours.proj.training and not ours.proj.weight.requires_grad and ours.proj.bias.requires_grad
    assert (ours.grid_size, ours.num_patches) == (ref.grid_size, ref.num_patches)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), atol=1e-5, rtol=1e-5)
    assert isinstance(ours, HybridEmbed if hybrid else PatchEmbed)
