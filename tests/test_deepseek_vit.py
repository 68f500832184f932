"""DeepSeek ViT's own parts: the projector's token unshuffle, the fp32 RMSNorm, the tag-dependent
projector width, DeepSeek's checkpoint layout, and options no registered name sets (vs timm)."""

from __future__ import annotations

from typing import Any

import pytest
import torch
import torch.nn.functional as F
from timm.models import deepseek_vit as timm_ds
from timm_oracle import (
    assert_pair_matches,
    assert_pruned_like_timm,
    paired,
    paired_classes,
    rel_err,
    timm_on_meta,
)

import visionzoo
from visionzoo.models.deepseek_vit import (
    DeepseekVitClassifier,
    DeepseekVitEncoder,
    RmsNormFp32,
    filter_classifier_checkpoint,
    filter_encoder_checkpoint,
    unshuffle_tokens,
)

pytestmark = pytest.mark.family

# the smallest name is 32 x 1024 with a 5120-wide projector: the sampled tests keep the block and
# the projector, narrower and three blocks deep (the features take the last three)
SAMPLED_KWARGS: dict[str, Any] = {"depth": 3, "embed_dim": 64, "num_heads": 4, "out_features": 32}
# the sample leads with the name that has every part: encoder, projector and classifier
SAMPLE_FIRST = "deepseek_vit_412m_align"
_TINY: dict[str, Any] = dict(SAMPLED_KWARGS, img_size=56)


@pytest.mark.parametrize("grid", [(3, 6), (4, 5), (7, 2)])
def test_unshuffle_is_unfold_over_the_padded_grid(grid):
    # the reference projector reads F.unfold's (C, kh, kw) columns of the zero-padded patch grid
    h, w = grid
    x = torch.randn(2, h, w, 5)
    padded = F.pad(x.permute(0, 3, 1, 2), (0, -w % 3, 0, -h % 3))
    expected = F.unfold(padded, kernel_size=3, stride=3).transpose(1, 2)
    assert torch.equal(unshuffle_tokens(x, 3), expected)


def test_rms_norm_fp32_is_the_formula_in_float32():
    torch.manual_seed(0)
    norm = RmsNormFp32(8, eps=1e-6)
    with torch.no_grad():
        norm.weight.copy_(torch.randn(8))  # type: ignore[union-attr]
    x = torch.randn(3, 8).to(torch.bfloat16)
    xf = x.float()
    expected = (xf / (xf.pow(2).mean(-1, keepdim=True) + 1e-6).sqrt() * norm.weight).to(torch.bfloat16)
    out = norm(x)
    assert out.dtype == torch.bfloat16 and torch.equal(out, expected)
    assert RmsNormFp32(8, affine=False).weight is None


@pytest.mark.parametrize("name", ["deepseek_vit_412m", "deepseek_vit_412m_align", "deepseek_vit_412m_enc"])
def test_tiny_pairs_match_timm_on_an_uneven_grid(name):
    ours, theirs = paired(name, **_TINY)
    x = torch.randn(2, 3, 70, 112)  # 5 x 8 patches: the projector pads both axes
    if name.endswith("_enc"):  # timm's encoder has no forward_head (ours applies the projector)
        with torch.no_grad():
            assert rel_err(ours.forward_features(x), theirs.forward_features(x)) < 1e-5
            assert rel_err(ours(x), theirs(x)) < 1e-5
            assert ours(x).shape == (2, 2 * 3, 32)
            for a, b in zip(ours.forward_intermediates(x)[1], theirs.forward_intermediates(x)[1]):
                assert rel_err(a, b) < 1e-5
        assert ours.feature_info == theirs.feature_info
    else:
        assert_pair_matches(ours, theirs, x, tol=1e-5)
    ours2, theirs2 = paired(name, **_TINY)
    assert_pruned_like_timm(ours2, theirs2, 0, x)


def test_projector_width_follows_the_weight_tag():
    for name, width in [
        ("deepseek_vit_412m_enc", 5120),
        ("deepseek_vit_412m_enc.deepseek_v4_flash_vision_exp", 4096),
        ("deepseek_vit_412m_align.deepseek_v4_flash_vision_exp", 4096),
    ]:
        ours = visionzoo.create_model(name, device="meta", depth=1)
        theirs = timm_on_meta(name, depth=1)
        enc, ref = getattr(ours, "encoder", ours), getattr(theirs, "encoder", theirs)
        assert enc.aligner is not None and enc.aligner.out_features == ref.aligner.out_features == width
    # the plain classifier takes the projector on request, its width from the tag as well
    model = visionzoo.create_model(
        "deepseek_vit_412m.deepseek_v4_flash_vision_exp", device="meta", depth=1, encoder_pool="align"
    )
    assert model.encoder.aligner.out_features == 4096 and model.num_features == 4096
    # the caller's width wins
    model = visionzoo.create_model("deepseek_vit_412m_align", device="meta", depth=1, out_features=24)
    assert model.num_features == model.head_hidden_size == 24


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(dynamic_img_pad=True, num_classes=5),
        dict(global_pool="", final_norm=False, num_classes=3),
        dict(encoder_pool="align", downsample_ratio=2, num_classes=4),
    ],
)
def test_classifier_options_match_timm(kwargs):
    args = dict(_TINY, **kwargs)
    ours, theirs = paired_classes(DeepseekVitClassifier, timm_ds.DeepseekVitClassifier, **args)
    # padded to the patch grid with dynamic_img_pad (else a multiple of 14 is required)
    x = torch.randn(2, 3, 64, 76) if kwargs.get("dynamic_img_pad") else torch.randn(2, 3, 70, 84)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-5
        assert rel_err(ours.forward_features(x), theirs.forward_features(x)) < 1e-5


@pytest.mark.parametrize("pool", ["", "avg"])
def test_encoder_pools_match_timm(pool):
    ours, theirs = paired_classes(DeepseekVitEncoder, timm_ds.DeepseekVitEncoder, global_pool=pool, **_TINY)
    x = torch.randn(2, 3, 56, 84)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-5
    assert ours.head_hidden_size == theirs.head_hidden_size == 64


def _source_layout(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A timm encoder state dict written as DeepSeek's checkpoint holds it, with LLM tensors."""
    out: dict[str, torch.Tensor] = {}
    for k, v in state.items():
        if k.startswith("aligner."):
            out[k.replace(".fc1.", ".w1.").replace(".fc2.", ".w2.")] = v
            continue
        if k == "patch_embed.proj.weight":
            v = v.flatten(1)  # a Linear over flattened (C, pH, pW) patches
        k = k.replace(".attn.qkv.", ".attn.wqkv.").replace(".attn.proj.", ".attn.wo.")
        out["vision." + k.replace(".mlp.fc1.", ".mlp.w1.").replace(".mlp.fc2.", ".mlp.w2.")] = v
    # the LLM's own tensors, two of them under names the model also uses
    out.update(
        {"norm.weight": torch.ones(3), "head.weight": torch.ones(2, 3), "embed.weight": torch.ones(4, 3)}
    )
    return out


def test_source_checkpoint_loads_into_encoder_and_classifier():
    theirs = timm_ds.DeepseekVitEncoder(**_TINY).eval()
    source = _source_layout(theirs.state_dict())
    x = torch.randn(1, 3, 56, 56)

    enc = DeepseekVitEncoder(**_TINY).eval()
    remapped = filter_encoder_checkpoint(source, enc)
    assert remapped.keys() == timm_ds.checkpoint_filter_fn_encoder(source, theirs).keys()
    enc.load_state_dict(remapped, strict=True)
    with torch.no_grad():
        assert rel_err(enc(x), theirs(x)) < 1e-6

    cls = DeepseekVitClassifier(**_TINY, num_classes=0, encoder_pool="align")
    cls.load_state_dict(filter_classifier_checkpoint(source, cls), strict=True)
    # without the projector, its tensors are dropped
    plain = DeepseekVitClassifier(**_TINY, num_classes=0)
    plain.load_state_dict(filter_classifier_checkpoint(source, plain), strict=True)
    with torch.no_grad():
        torch.testing.assert_close(cls.eval().forward_features(x), theirs(x))


def test_classifier_checkpoint_round_trips_and_feeds_the_encoder():
    torch.manual_seed(0)
    cls = DeepseekVitClassifier(**_TINY, num_classes=6, encoder_pool="align")
    state = cls.state_dict()
    again = DeepseekVitClassifier(**_TINY, num_classes=6, encoder_pool="align")
    again.load_state_dict(filter_classifier_checkpoint(state, again), strict=True)
    assert all(torch.equal(v, again.state_dict()[k]) for k, v in state.items())
    enc = DeepseekVitEncoder(**_TINY)
    enc.load_state_dict(filter_encoder_checkpoint(state, enc), strict=True)  # head and norm left out


def test_refusals_name_the_value():
    with pytest.raises(ValueError, match="num_classes=4"):
        DeepseekVitEncoder(num_classes=4, out_features=8, depth=1, embed_dim=32, num_heads=2)
    with pytest.raises(ValueError, match="out_features"):
        DeepseekVitEncoder(depth=1, embed_dim=32, num_heads=2)
    with pytest.raises(ValueError, match="encoder_pool='avg'"):
        DeepseekVitClassifier(encoder_pool="avg", depth=1, embed_dim=32, num_heads=2)
