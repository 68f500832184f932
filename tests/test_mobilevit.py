"""MobileViT specifics the registry-wide suites do not reach: the patch unfold / fold and the
separable attention against direct computations, maps that are not whole patches (resized in and
out) against timm, and block options no registered name sets."""

from __future__ import annotations

import pytest
import torch
from timm_oracle import paired, paired_classes, rel_err

from visionzoo.models.mobilevit import LinearSelfAttention, MobileVitBlock, MobileVitV2Block

pytestmark = pytest.mark.family


def _x(chans: int = 3, size: int = 64, batch: int = 2, seed: int = 3) -> torch.Tensor:
    return torch.randn(batch, chans, size, size, generator=torch.Generator().manual_seed(seed))


def _transformer_input(block: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    seen: list[torch.Tensor] = []
    handle = block.transformer.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    with torch.no_grad():
        block(x)
    handle.remove()
    return seen[0]


def test_v1_tokens_are_pixels_at_one_patch_position() -> None:
    """v1: sequence ``b * P + (p * pw + q)`` holds, token ``i * nw + j``, the pixel
    ``(i * ph + p, j * pw + q)`` of the map entering the transformer (after the 1x1 conv)."""
    block = MobileVitBlock(8, 8, transformer_dim=16, transformer_depth=1, patch_size=2).eval()
    x = _x(8, 6)
    tokens = _transformer_input(block, x)
    with torch.no_grad():
        fmap = block.conv_1x1(block.conv_kxk(x))
    assert tokens.shape == (2 * 4, 9, 16)
    for b, p, q, i, j in [(0, 0, 0, 0, 0), (1, 1, 0, 2, 1), (0, 0, 1, 1, 2), (1, 1, 1, 2, 2)]:
        assert torch.equal(tokens[b * 4 + p * 2 + q, i * 3 + j], fmap[b, :, i * 2 + p, j * 2 + q])


def test_v2_patches_are_pixels_at_one_patch_position() -> None:
    """v2: ``(B, C, P, N)`` with ``P = p * pw + q`` and ``N = i * nw + j``."""
    block = MobileVitV2Block(8, 8, transformer_depth=1, patch_size=2, bottle_ratio=2.0).eval()
    x = _x(8, 6)
    patches = _transformer_input(block, x)
    with torch.no_grad():
        fmap = block.conv_1x1(block.conv_kxk(x))
    assert patches.shape == (2, 16, 4, 9)
    for p, q, i, j in [(0, 0, 0, 0), (1, 0, 2, 1), (0, 1, 1, 2), (1, 1, 2, 2)]:
        assert torch.equal(patches[:, :, p * 2 + q, i * 3 + j], fmap[:, :, i * 2 + p, j * 2 + q])


def test_linear_self_attention_formula() -> None:
    """out = W_o (relu(V) * sum_n softmax_n(q)_n K_n) + b_o, per pixel position."""
    attn = LinearSelfAttention(4).eval()
    x = _x(4, 5)  # (B, C, P, N) = (2, 4, 5, 5)
    w, b = attn.qkv_proj.weight[:, :, 0, 0], attn.qkv_proj.bias
    with torch.no_grad():
        qkv = torch.einsum("oc,bcpn->bopn", w, x) + b.view(1, -1, 1, 1)
        q, k, v = qkv[:, :1], qkv[:, 1:5], qkv[:, 5:]
        scores = torch.exp(q) / torch.exp(q).sum(-1, keepdim=True)
        context = (k * scores).sum(-1, keepdim=True)
        y = torch.einsum("oc,bcpn->bopn", attn.out_proj.weight[:, :, 0, 0], v.clamp_min(0) * context)
        y = y + attn.out_proj.bias.view(1, -1, 1, 1)
        assert rel_err(attn(x), y) < 1e-5


@pytest.mark.parametrize("name", ["mobilevit_xxs", "mobilevitv2_050"])
def test_maps_not_whole_patches_match_timm(name: str) -> None:
    """At 72 px the last two MobileViT stages see 9 and 5 px maps: resized to whole patches."""
    ours, theirs = paired(name)
    x = _x(size=72)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
        assert rel_err(ours.forward_features(x), theirs.forward_features(x)) < 1e-4


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(no_fusion=True, num_heads=2, mlp_ratio=3.0, kernel_size=5),
        dict(out_chs=12, transformer_depth=2, patch_size=3),
    ],
    ids=["no_fusion_heads_kernel", "wider_patch3"],
)
def test_v1_block_options_match_timm(kwargs: dict) -> None:
    from timm.models.mobilevit import MobileVitBlock as TimmBlock

    base = dict(in_chs=8, transformer_dim=16, transformer_depth=1, patch_size=2)
    ours, theirs = paired_classes(MobileVitBlock, TimmBlock, **{**base, **kwargs})
    x = _x(8, 10)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-5


def test_v2_block_options_match_timm() -> None:
    from timm.models.mobilevit import MobileVitV2Block as TimmBlock

    kwargs = dict(in_chs=8, out_chs=12, transformer_dim=16, transformer_depth=2, patch_size=3, mlp_ratio=3.0)
    ours, theirs = paired_classes(MobileVitV2Block, TimmBlock, **kwargs)
    x = _x(8, 10)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-5
