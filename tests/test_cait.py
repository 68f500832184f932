"""CaiT specifics the registry-wide suites do not reach.

Talking-heads attention and class attention against explicit per-head loops; the class-attention
stage leaving the patch tokens as they are; average pooling, pruning the head (which takes the
class token and its blocks) and the DeiT repository's checkpoint wrapping against timm.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from timm_oracle import assert_pair_matches, paired, rel_err
from torch import nn

import visionzoo
from visionzoo.layers.class_attn import ClassAttn
from visionzoo.layers.talking_head_attn import TalkingHeadAttn
from visionzoo.models import cait

pytestmark = pytest.mark.family

# the sampled tests build CaiT at 64 px (16 patch tokens, not 196)
SAMPLED_KWARGS: dict[str, Any] = {"img_size": 64}

SIZE = 64


def _x(size: int = SIZE) -> torch.Tensor:
    return torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(3))


def _randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return module.eval()


def _heads(t: torch.Tensor, h: int) -> list[torch.Tensor]:
    """``(B, N, C)`` -> one ``(B, N, C / h)`` slice per head."""
    d = t.shape[-1] // h
    return [t[..., i * d : (i + 1) * d] for i in range(h)]


def test_talking_heads_attention_matches_explicit_head_mixing() -> None:
    """logits_i = q_i k_i^T / sqrt(d); mixed_j = sum_i Wl[j, i] logits_i + bl[j]; p = softmax(mixed);
    weights_j = sum_i Ww[j, i] p_i + bw[j]; out = proj(concat_j weights_j v_j)."""
    dim, h, n = 12, 3, 5
    attn = _randomize(TalkingHeadAttn(dim, num_heads=h, qkv_bias=True))
    x = torch.randn(2, n, dim)
    with torch.no_grad():
        q, k, v = (attn.qkv(x)[..., i * dim : (i + 1) * dim] for i in range(3))
        qs, ks, vs = _heads(q, h), _heads(k, h), _heads(v, h)
        logits = [qs[i] @ ks[i].transpose(1, 2) * (dim // h) ** -0.5 for i in range(h)]
        wl, bl, ww, bw = attn.proj_l.weight, attn.proj_l.bias, attn.proj_w.weight, attn.proj_w.bias
        probs = [(sum(wl[j, i] * logits[i] for i in range(h)) + bl[j]).softmax(-1) for j in range(h)]
        weights = [sum(ww[j, i] * probs[i] for i in range(h)) + bw[j] for j in range(h)]
        expected = attn.proj(torch.cat([weights[j] @ vs[j] for j in range(h)], -1))
        assert rel_err(attn(x), expected) < 1e-5


@pytest.mark.parametrize("fused", [True, False])
def test_class_attention_matches_explicit_formula(fused: bool) -> None:
    """Only token 0 queries: out = proj(concat_i softmax(q_i(x_0) K_i^T / sqrt(d)) V_i)."""
    dim, h, n = 8, 2, 6
    attn = _randomize(ClassAttn(dim, num_heads=h, qkv_bias=True, fused_attn=fused))
    x = torch.randn(2, n, dim)
    with torch.no_grad():
        qs, ks, vs = _heads(attn.q(x[:, :1]), h), _heads(attn.k(x), h), _heads(attn.v(x), h)
        outs = []
        for i in range(h):
            w = torch.stack([(qs[i][:, 0] * ks[i][:, j]).sum(-1) for j in range(n)], -1) * (dim // h) ** -0.5
            outs.append((w.softmax(-1).unsqueeze(-1) * vs[i]).sum(1, keepdim=True))
        expected = attn.proj(torch.cat(outs, -1))
        out = attn(x)
        assert out.shape == (2, 1, dim)
        assert rel_err(out, expected) < 1e-5


def test_class_attention_stage_keeps_patch_tokens() -> None:
    model = _randomize(visionzoo.create_model("cait_xxs24_224", img_size=SIZE))
    tokens = torch.randn(2, (SIZE // 16) ** 2, 192)
    with torch.no_grad():
        out = model.forward_cls(tokens)
    assert out.shape == (2, 1 + tokens.shape[1], 192)
    assert torch.equal(out[:, 1:], tokens)


@pytest.mark.parametrize("kwargs", [dict(global_pool="avg"), dict(depth_token_only=1, in_chans=1)])
def test_options_match_timm(kwargs: dict) -> None:
    ours, theirs = paired("cait_xxs24_224", img_size=SIZE, **kwargs)
    x = torch.randn(2, kwargs.get("in_chans", 3), SIZE, SIZE, generator=torch.Generator().manual_seed(1))
    assert_pair_matches(ours, theirs, x)


def test_pruning_the_head_drops_class_token_and_its_blocks_as_timm() -> None:
    ours, theirs = paired("cait_xxs24_224", img_size=SIZE)
    assert ours.prune_intermediate_layers(3) == theirs.prune_intermediate_layers(3)
    assert ours.cls_token is None and ours.blocks_token_only is None and ours.num_prefix_tokens == 0
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    x = _x()
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4
    with pytest.raises(ValueError, match="class token"):
        ours.reset_classifier(3, "token")


def test_deit_checkpoint_wrapping_is_unwrapped() -> None:
    model = visionzoo.create_model("cait_xxs24_224", img_size=SIZE)
    sd = model.state_dict()
    wrapped = {"model": {f"module.{k}": v for k, v in sd.items()}}
    assert cait.checkpoint_filter_fn(wrapped, model).keys() == sd.keys()


def test_pool_types() -> None:
    with pytest.raises(ValueError, match="token"):
        visionzoo.create_model("cait_xxs24_224", global_pool="max")
