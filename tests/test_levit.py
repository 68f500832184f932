"""LeViT specifics the registry-wide suites do not reach.

The offset index and the biased attention against direct loops; the eval-mode bias cache (kept,
and dropped when the weights or the mode change); the two layouts computing the same function on
the same weights; the distilled head; options no registered name sets against timm; the original
checkpoints' saved index tables dropped.
"""

from __future__ import annotations

import pytest
import torch
from timm_oracle import assert_pair_matches, paired, rel_err
from torch import nn

import visionzoo
from visionzoo.models import levit

pytestmark = pytest.mark.family

SIZE = 64
TINY = dict(img_size=SIZE, embed_dim=(32, 48), key_dim=8, num_heads=(2, 3), depth=(1, 1))


def _randomize(module: nn.Module, seed: int = 0) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in list(module.named_parameters()) + list(module.named_buffers()):
            if name.endswith("running_var"):
                p.copy_(torch.rand(p.shape, generator=g) + 0.5)
            elif p.is_floating_point():
                p.copy_(torch.randn(p.shape, generator=g) * 0.3)
    return module.eval()


def _x(size: int = SIZE, chans: int = 3) -> torch.Tensor:
    return torch.randn(2, chans, size, size, generator=torch.Generator().manual_seed(3))


@pytest.mark.parametrize("stride", [1, 2])
def test_offset_index_matches_direct_loops(stride: int) -> None:
    h, w = 3, 5
    idx = levit.attention_bias_index((h, w), stride)
    queries = [(y, x) for y in range(0, h, stride) for x in range(0, w, stride)]
    keys = [(y, x) for y in range(h) for x in range(w)]
    expected = torch.tensor([[abs(qy - ky) * w + abs(qx - kx) for ky, kx in keys] for qy, qx in queries])
    assert torch.equal(idx, expected)


def test_biased_attention_matches_direct_formula() -> None:
    """Per head: softmax(q k^T / sqrt(key_dim) + B[h, |dy| * W + |dx|]) v, heads concatenated,
    then proj (activation, norm-linear)."""
    dim, key_dim, heads, ratio, res = 8, 2, 2, 2.0, (2, 3)
    attn = _randomize(levit.Attention(dim, key_dim, num_heads=heads, attn_ratio=ratio, resolution=res))
    n, vd = res[0] * res[1], int(ratio * key_dim)
    x = torch.randn(2, n, dim)
    pos = [(y, xx) for y in range(res[0]) for xx in range(res[1])]
    with torch.no_grad():
        qkv = attn.qkv(x).view(2, n, heads, 2 * key_dim + vd)
        outs = []
        for h in range(heads):
            q, k, v = qkv[:, :, h, :key_dim], qkv[:, :, h, key_dim : 2 * key_dim], qkv[:, :, h, 2 * key_dim :]
            bias = torch.tensor(
                [
                    [
                        float(attn.attention_biases[h, abs(a[0] - b[0]) * res[1] + abs(a[1] - b[1])])
                        for b in pos
                    ]
                    for a in pos
                ]
            )
            logits = q @ k.transpose(1, 2) * key_dim**-0.5 + bias
            outs.append(logits.softmax(-1) @ v)
        expected = attn.proj(torch.cat(outs, -1))
        assert rel_err(attn(x), expected) < 1e-5


def test_eval_bias_cache_is_kept_and_dropped_on_changes() -> None:
    attn = _randomize(levit.Attention(8, 2, num_heads=2, resolution=2))
    first = attn.get_attention_biases(torch.device("cpu"))
    assert attn.get_attention_biases(torch.device("cpu")) is first  # cached in eval
    attn.train()
    assert not attn.attention_bias_cache
    assert attn.get_attention_biases(torch.device("cpu")) is not first  # gathered per call
    attn.eval()
    attn.get_attention_biases(torch.device("cpu"))
    new = {k: torch.randn_like(v) if "attention_biases" in k else v for k, v in attn.state_dict().items()}
    attn.load_state_dict(new)
    biases = attn.get_attention_biases(torch.device("cpu"))
    assert torch.equal(biases, new["attention_biases"][:, attn.attention_bias_idxs])


def _conv_to_linear(sd: dict[str, torch.Tensor], linear: nn.Module) -> dict[str, torch.Tensor]:
    """The conv layout's weights in the linear layout's shapes (1x1 kernels -> matrices)."""
    target = linear.state_dict()
    return {k: v.reshape(target[k].shape) for k, v in sd.items()}


def test_conv_and_linear_layouts_compute_the_same_function() -> None:
    conv = _randomize(levit.Levit(use_conv=True, **TINY))
    linear = levit.Levit(use_conv=False, **TINY).eval()
    linear.load_state_dict(_conv_to_linear(conv.state_dict(), linear))
    x = _x()
    with torch.no_grad():
        assert rel_err(linear(x), conv(x)) < 1e-4
        for a, b in zip(linear.forward_intermediates(x)[1], conv.forward_intermediates(x)[1], strict=True):
            assert a.shape == b.shape and rel_err(a, b) < 1e-4


def test_distilled_head_averages_unless_distilled_training() -> None:
    model = _randomize(levit.LevitDistilled(num_classes=5, **TINY))
    x = _x()
    with torch.no_grad():
        feats = model.forward_head(model.forward_features(x), pre_logits=True)
        mean = (model.head(feats) + model.head_dist(feats)) / 2
        assert rel_err(model(x), mean) < 1e-6
    model.train()
    model.set_distilled_training(True)
    out = model(x)
    assert isinstance(out, tuple) and len(out) == 2
    model.reset_classifier(3)
    assert model.head.linear.out_features == model.head_dist.linear.out_features == 3
    model.reset_classifier(0)
    assert isinstance(model.head_dist, nn.Identity)


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("levit_128s", dict(img_size=SIZE, in_chans=1)),
        ("levit_conv_128s", dict(img_size=96, attn_act_layer="relu", depth=(1, 1, 1))),
    ],
)
def test_options_match_timm(name: str, kwargs: dict) -> None:
    ours, theirs = paired(name, **kwargs)
    assert_pair_matches(ours, theirs, _x(kwargs["img_size"], kwargs.get("in_chans", 3)))


def test_original_checkpoint_layout_is_remapped() -> None:
    model = visionzoo.create_model("levit_128s", img_size=SIZE)
    sd = model.state_dict()
    saved = dict(sd)
    for name, buf in model.named_buffers():
        if name.endswith("attention_bias_idxs"):
            saved[name] = buf
    assert len(saved) > len(sd)
    assert levit.checkpoint_filter_fn({"model": saved}, model).keys() == sd.keys()


def test_bad_arguments_raise() -> None:
    with pytest.raises(ValueError, match="global_pool"):
        visionzoo.create_model("levit_128s", global_pool="max", device="meta")
    with pytest.raises(ValueError, match="stem_type"):
        visionzoo.create_model("levit_128s", stem_type="s4", device="meta")
    with pytest.raises(ValueError, match="depth"):
        visionzoo.create_model("levit_128s", depth=(1, 1), device="meta")
