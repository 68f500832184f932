"""ConViT specifics the registry-wide suites do not reach.

GPSA's relative offsets and gated attention against a direct per-pair computation; its
convolution-like init; the class token joining mid-trunk (intermediates, prefix tokens, pruning
before it joins) and average pooling against timm.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm_oracle import assert_pair_matches, paired, rel_err
from torch import nn

from visionzoo.models import convit

pytestmark = pytest.mark.family

# the sampled tests build ConViT at 64 px (16 patch tokens, not 196)
SAMPLED_KWARGS: dict[str, Any] = {"img_size": 64}

SIZE = 64


def _x(size: int = SIZE) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(3))


def test_rel_indices_are_grid_offsets() -> None:
    side = 3
    rel = convit.gpsa_rel_indices(side * side, torch.device("cpu"), torch.float32)
    assert rel.shape == (1, 9, 9, 3)
    for n in range(9):
        for m in range(9):
            dx, dy = m % side - n % side, m // side - n // side
            assert rel[0, n, m].tolist() == [dx, dy, dx * dx + dy * dy]


def test_gpsa_matches_direct_formula() -> None:
    """attn_h = normalise((1 - g_h) softmax(q_h k_h^T / sqrt(d)) + g_h softmax_m(w_h . r_nm + b_h))."""
    dim, heads, side = 8, 2, 3
    n = side * side
    gpsa = convit.GPSA(dim, num_heads=heads, qkv_bias=True)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in gpsa.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.5)
    x = torch.randn(2, n, dim)
    d = dim // heads
    with torch.no_grad():
        qk = gpsa.qk(x)
        v = gpsa.v(x)
        outs = []
        for h in range(heads):
            q, k = qk[..., h * d : (h + 1) * d], qk[..., dim + h * d : dim + (h + 1) * d]
            content = (q @ k.transpose(1, 2) / d**0.5).softmax(-1)
            pos = torch.empty(n, n)
            for a in range(n):
                for b in range(n):
                    dx, dy = b % side - a % side, b // side - a // side
                    r = torch.tensor([dx, dy, dx * dx + dy * dy], dtype=torch.float32)
                    pos[a, b] = gpsa.pos_proj.weight[h] @ r + gpsa.pos_proj.bias[h]
            gate = torch.sigmoid(gpsa.gating_param[h])
            attn = (1 - gate) * content + gate * pos.softmax(-1)
            attn = attn / attn.sum(-1, keepdim=True)
            outs.append(attn @ v[..., h * d : (h + 1) * d])
        expected = gpsa.proj(torch.cat(outs, -1))
        assert rel_err(gpsa.eval()(x), expected) < 1e-5


def test_local_init_centres_each_head_on_one_kernel_offset() -> None:
    gpsa = convit.GPSA(4, num_heads=4)
    gpsa.local_init()
    assert torch.equal(gpsa.v.weight, torch.eye(4))
    # 2x2 kernel, centre 0.5: head h1 + 2 * h2 peaks at offset (dx, dy) = (h2 - 0.5, h1 - 0.5)
    expected = torch.tensor([[-1.0, -1.0, -1.0], [-1.0, 1.0, -1.0], [1.0, -1.0, -1.0], [1.0, 1.0, -1.0]])
    assert torch.equal(gpsa.pos_proj.weight, expected)


def test_intermediates_drop_the_class_token_after_it_joins() -> None:
    ours, theirs = paired("convit_tiny", img_size=SIZE, local_up_to_layer=2, depth=4)
    x = _x()
    with torch.no_grad():
        mine = ours.forward_intermediates(x, output_fmt="NLC", intermediates_only=True)
        ref = theirs.forward_intermediates(x, output_fmt="NLC", intermediates_only=True)
        with_prefix = ours.forward_intermediates(x, return_prefix_tokens=True, intermediates_only=True)
    assert [t.shape[1] for t in mine] == [(SIZE // 16) ** 2] * 4
    assert all(rel_err(a, b) < 1e-4 for a, b in zip(mine, ref))
    assert [p.shape[1] for _, p in with_prefix] == [0, 0, 1, 1]


@pytest.mark.parametrize(
    "kwargs", [dict(global_pool="avg"), dict(use_pos_embed=False, local_up_to_layer=1, depth=3)]
)
def test_options_match_timm(kwargs: dict) -> None:
    ours, theirs = paired("convit_tiny", img_size=SIZE, **kwargs)
    assert_pair_matches(ours, theirs, _x())


def test_pruning_before_the_class_token_joins_as_timm() -> None:
    ours, theirs = paired("convit_tiny", img_size=SIZE)
    assert ours.prune_intermediate_layers([1], prune_head=False) == theirs.prune_intermediate_layers(
        [1], prune_head=False
    )
    assert ours.cls_token is None and isinstance(ours.head, nn.Identity)  # the token-pooled head went
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    with torch.no_grad():
        assert rel_err(ours(_x()), theirs(_x())) < 1e-4
