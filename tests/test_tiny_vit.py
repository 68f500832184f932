"""TinyViT's own parts: the windowed attention's offset bias against its formula, the authors'
checkpoint layout (a synthetic one: weights under ``model``, saved index tables, another window
size), and the options no registered name sets (compared with timm)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from timm.models import tiny_vit as timm_tiny_vit
from timm_oracle import assert_pair_matches, paired_classes, rel_err

import visionzoo
from visionzoo.layers.attention_bias import attention_bias_index
from visionzoo.models.tiny_vit import Attention, TinyVit, checkpoint_filter_fn

pytestmark = pytest.mark.family

TINY = dict(
    embed_dims=(16, 32, 32, 48), depths=(1, 2, 1, 1), num_heads=(1, 2, 2, 3), window_sizes=(3, 3, 3, 2),
    num_classes=5,
)  # fmt: skip


def test_attention_adds_a_bias_per_offset():
    torch.manual_seed(0)
    attn = Attention(4, 2, num_heads=2, attn_ratio=1, resolution=(2, 2)).eval()
    with torch.no_grad():
        attn.attention_biases.copy_(torch.randn(2, 4))
    x = torch.randn(3, 4, 4)
    q, k, v = (
        F.linear(F.layer_norm(x, (4,), attn.norm.weight, attn.norm.bias), attn.qkv.weight, attn.qkv.bias)
        .view(3, 4, 2, 6)
        .split([2, 2, 2], dim=3)
    )
    q, k, v = (t.transpose(1, 2) for t in (q, k, v))
    pos = [(0, 0), (0, 1), (1, 0), (1, 1)]
    table = attn.attention_biases.detach()
    bias = torch.stack(
        [torch.tensor([[table[h, abs(a - c) * 2 + abs(b - d)] for c, d in pos] for a, b in pos])
         for h in range(2)]
    )  # fmt: skip
    out = torch.softmax(q @ k.transpose(-2, -1) / 2**0.5 + bias, dim=-1) @ v
    expected = F.linear(out.transpose(1, 2).reshape(3, 4, 4), attn.proj.weight, attn.proj.bias)
    with torch.no_grad():
        assert rel_err(attn(x), expected) < 1e-5
        attn.fused_attn = False
        assert rel_err(attn(x), expected) < 1e-5


def test_original_checkpoint_with_another_window_loads():
    torch.manual_seed(1)
    source = TinyVit(**{**TINY, "window_sizes": (3, 3, 4, 2)})  # stage 2's table: 16 offsets
    state = dict(source.state_dict())
    for name, buf in source.named_buffers():
        if name.endswith("attention_bias_idxs"):
            state[name] = buf  # the authors saved the index tables
    key = "stages.2.blocks.0.attn.attention_biases"
    state[key] = torch.full((2, 16), 0.75)
    model = TinyVit(**TINY)  # window 3: 9 offsets
    remapped = checkpoint_filter_fn({"model": state}, model)
    assert not any(k.endswith("attention_bias_idxs") for k in remapped)
    model.load_state_dict(remapped, strict=True)
    torch.testing.assert_close(model.state_dict()[key], torch.full((2, 9), 0.75), rtol=0, atol=1e-5)
    same = "stages.1.blocks.0.attn.attention_biases"
    assert torch.equal(model.state_dict()[same], source.state_dict()[same])
    assert torch.equal(model.stages[1].blocks[0].attn.attention_bias_idxs, attention_bias_index((3, 3)))


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(),  # windows that do not divide the maps (padded) and that cover them whole
        dict(local_conv_size=5, mbconv_expand_ratio=2.0, mlp_ratio=2.0, global_pool="max"),
        dict(depths=(2, 1, 1), embed_dims=(16, 24, 32), num_heads=(1, 2, 4), window_sizes=(4, 4, 4)),
    ],
)
def test_options_match_timm(kwargs):
    ours, theirs = paired_classes(TinyVit, timm_tiny_vit.TinyVit, **{**TINY, **kwargs})
    assert_pair_matches(ours, theirs, torch.randn(2, 3, 64, 48))


def test_reparameterize_folds_the_conv_norms():
    torch.manual_seed(3)
    model = TinyVit(**TINY).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        before = model(x)
        fused = visionzoo.reparameterize(model)
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
        assert rel_err(fused(x), before) < 1e-5


def test_stage_lists_of_other_lengths_are_refused():
    with pytest.raises(ValueError, match="window_sizes"):
        TinyVit(**{**TINY, "window_sizes": (3, 3)})
