"""EVA's own parts: the three RoPE layouts against their formulas written out per token, the
attention (prefix tokens unrotated, grouped-query heads) against a written-out softmax, the
original checkpoint layouts (BAAI EVA / EVA-02, OpenCLIP, Perception Encoder, DINOv3, Sapiens2)
against timm's remap, and options no registered name sets (compared with timm)."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from timm.models import eva as timm_eva
from timm_oracle import assert_pair_matches, paired, paired_classes, rel_err

from visionzoo.layers.pos_embed_dinov3 import RotaryEmbeddingDinoV3
from visionzoo.layers.pos_embed_mixed import RotaryEmbeddingMixed
from visionzoo.layers.pos_embed_sincos import RotaryEmbeddingCat, create_rope_embed
from visionzoo.models.eva import Eva, EvaAttention, checkpoint_filter_fn

pytestmark = pytest.mark.family

# the smallest models are 5.5 M parameters at 224 px (PE spatial: 1024 tokens at 512 px): a 64 px
# input keeps every block type
SAMPLED_KWARGS: dict[str, Any] = {"img_size": 64}


def _interleaved(angles: list[float]) -> list[float]:
    return [a for a in angles for _ in range(2)]


def _table(angles_per_token: list[list[float]], half: bool) -> torch.Tensor:
    """``cat([sin, cos])`` rows from each token's per-pair angles, in the given layout."""
    rows = []
    for angles in angles_per_token:
        full = angles + angles if half else _interleaved(angles)
        rows.append([math.sin(a) for a in full] + [math.cos(a) for a in full])
    return torch.tensor(rows, dtype=torch.float64)


def test_cat_rope_eva02_layout_is_index_times_inverse_frequency() -> None:
    """EVA-02: row/column index rescaled to the 16 x 16 pretraining grid, bands 1 / T ** (k / n)."""
    dim, h, w, temp = 8, 3, 5, 10000.0
    rope = RotaryEmbeddingCat(dim, temperature=temp, in_pixels=False, ref_feat_shape=[16, 16])
    bands = [1.0 / temp ** (k / (dim // 4)) for k in range(dim // 4)]
    expected = _table(
        [
            [r / h * 16 * b for b in bands] + [c / w * 16 * b for b in bands]
            for r in range(h)
            for c in range(w)
        ],
        half=False,
    )
    assert torch.allclose(rope.get_embed([h, w]).double(), expected, atol=1e-5)


def test_cat_rope_pe_layout_is_xy_from_one() -> None:
    """Perception Encoder: the column index first, both counted from 1."""
    dim, h, w = 8, 2, 3
    rope = RotaryEmbeddingCat(dim, temperature=10000.0, in_pixels=False, grid_offset=1.0, grid_indexing="xy")
    bands = [1.0 / 10000.0 ** (k / 2) for k in range(2)]
    expected = _table(
        [[(c + 1) * b for b in bands] + [(r + 1) * b for b in bands] for r in range(h) for c in range(w)],
        half=False,
    )
    assert torch.allclose(rope.get_embed([h, w]).double(), expected, atol=1e-5)


@pytest.mark.parametrize("normalize", ["separate", "max"])
def test_dinov3_rope_is_centred_coordinate_over_period(normalize: str) -> None:
    dim, h, w, temp = 16, 2, 4, 100.0
    rope = RotaryEmbeddingDinoV3(dim, temperature=temp, normalize_coords=normalize).eval()
    periods = [temp ** (4 * k / dim) for k in range(dim // 4)]
    dh, dw = (h, w) if normalize == "separate" else (max(h, w), max(h, w))
    tokens = []
    for r in range(h):
        for c in range(w):
            y, x = 2 * (r + 0.5) / dh - 1, 2 * (c + 0.5) / dw - 1
            tokens.append([2 * math.pi * y / p for p in periods] + [2 * math.pi * x / p for p in periods])
    assert torch.allclose(rope.get_embed([h, w]).double(), _table(tokens, half=True), atol=1e-5)


def test_dinov3_rope_augments_only_in_training() -> None:
    rope = RotaryEmbeddingDinoV3(8, shift_coords=0.5, rescale_coords=2.0)
    torch.manual_seed(0)
    assert not torch.equal(rope.train().get_embed([3, 3]), rope.eval().get_embed([3, 3]))
    assert torch.equal(rope.get_embed([3, 3]), RotaryEmbeddingDinoV3(8).get_embed([3, 3]))
    with pytest.raises(ValueError, match="rescale_coords"):
        RotaryEmbeddingDinoV3(8, rescale_coords=0.5)


def test_mixed_rope_is_the_learned_frequencies_times_position() -> None:
    """Each block and head: angle ``x * fx + y * fy`` per pair, x the column (``'xy'``)."""
    rope = RotaryEmbeddingMixed(dim=16, depth=2, num_heads=2)
    emb = rope.get_embed([2, 3])
    assert emb.shape == (2, 2, 6, 16)
    f = rope.freqs.detach().double()
    for blk in range(2):
        for head in range(2):
            tokens = [
                [c * f[0, blk, head, k].item() + r * f[1, blk, head, k].item() for k in range(4)]
                for r in range(2)
                for c in range(3)
            ]
            assert torch.allclose(emb[blk, head].double(), _table(tokens, half=False), atol=1e-5)


def test_rope_factory_picks_the_layout_and_rejects_others() -> None:
    assert isinstance(create_rope_embed("mixed", dim=32, num_heads=2, depth=3), RotaryEmbeddingMixed)
    assert isinstance(create_rope_embed("dinov3", dim=32, num_heads=2), RotaryEmbeddingDinoV3)
    assert create_rope_embed("cat", dim=32, num_heads=2, in_pixels=False).dim == 16
    with pytest.raises(ValueError, match="rope_type"):
        create_rope_embed("mrope", dim=32, num_heads=2)


def _rotate(t: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Interleaved pair rotation written out: (a, b) -> (a cos - b sin, b cos + a sin)."""
    sin, cos = table.chunk(2, -1)
    a, b = t[..., 0::2], t[..., 1::2]
    s, c = sin[..., 0::2], cos[..., 0::2]
    return torch.stack([a * c - b * s, b * c + a * s], -1).flatten(-2)


@pytest.mark.parametrize("kv_heads", [4, 2])
def test_attention_is_the_written_out_softmax(kv_heads: int) -> None:
    torch.manual_seed(0)
    attn = EvaAttention(16, num_heads=4, qkv_fused=False, zero_k_bias=False, num_kv_heads=kv_heads).eval()
    with torch.no_grad():
        for p in attn.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    x = torch.randn(2, 7, 16)  # one prefix token, a 2 x 3 grid
    table = RotaryEmbeddingCat(4, in_pixels=False).get_embed([2, 3])
    q = attn.q_proj(x).reshape(2, 7, 4, 4).transpose(1, 2)
    k = attn.k_proj(x).reshape(2, 7, kv_heads, 4).transpose(1, 2)
    v = attn.v_proj(x).reshape(2, 7, kv_heads, 4).transpose(1, 2)
    q = torch.cat([q[:, :, :1], _rotate(q[:, :, 1:], table)], 2)
    k = torch.cat([k[:, :, :1], _rotate(k[:, :, 1:], table)], 2)
    group = 4 // kv_heads
    k, v = k[:, [h // group for h in range(4)]], v[:, [h // group for h in range(4)]]
    out = ((q @ k.transpose(-2, -1)) / 2.0).softmax(-1) @ v
    expected = attn.proj(out.transpose(1, 2).reshape(2, 7, 16)).detach()
    with torch.no_grad():
        assert rel_err(attn(x, table), expected) < 1e-5
        attn.fused_attn = False
        assert rel_err(attn(x, table), expected) < 1e-5


def test_grouped_query_attention_needs_separate_projections() -> None:
    with pytest.raises(ValueError, match="grouped-query"):
        EvaAttention(16, num_heads=4, num_kv_heads=2)
    with pytest.raises(ValueError, match="num_kv_heads"):
        Eva(img_size=32, embed_dim=16, depth=2, num_heads=2, num_kv_heads=(2, 2, 2))


_TINY = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=5)


def _compare_remaps(ours: dict[str, torch.Tensor], theirs: dict[str, torch.Tensor]) -> None:
    assert sorted(ours) == sorted(theirs)
    for k, v in theirs.items():
        assert torch.equal(ours[k], v), k


def _remapped(
    model: torch.nn.Module, original: dict[str, torch.Tensor], source_size: int = 32
) -> dict[str, torch.Tensor]:
    model.pretrained_model_args = {
        "img_size": source_size
    }  # the checkpoint's input size, as the builder records it
    out = checkpoint_filter_fn(dict(original), model)
    _compare_remaps(out, timm_eva.checkpoint_filter_fn(dict(original), model))
    model.load_state_dict(out, strict=True)
    return out


def test_baai_eva02_layout_loads() -> None:
    """BAAI's EVA-02 MIM checkpoint: separate q/k/v with q_bias / v_bias, SwiGLU as w1 / w2 / w3
    with ffn_ln, rope buffers, a mask token and LM head, the final norm becoming fc_norm."""
    args = dict(_TINY, qkv_fused=False, swiglu_mlp=True, scale_mlp=True, use_rot_pos_emb=True, mlp_ratio=2.0)
    source = Eva(**args).state_dict()
    original: dict[str, torch.Tensor] = {}
    for k, v in source.items():
        k = k.replace("attn.q_proj.bias", "attn.q_bias").replace("attn.v_proj.bias", "attn.v_bias")
        k = k.replace("mlp.fc1_g", "mlp.w1").replace("mlp.fc1_x", "mlp.w2").replace("mlp.fc2", "mlp.w3")
        k = k.replace("mlp.norm", "mlp.ffn_ln").replace("fc_norm", "norm")
        original[k] = v
    original["blocks.0.attn.q_proj.weight"] = source["blocks.0.attn.q_proj.weight"]
    original["rope.freqs_cos"] = torch.zeros(4, 8)
    original["mask_token"] = torch.zeros(1, 1, 32)
    original["lm_head.weight"] = torch.zeros(7, 32)
    out = _remapped(Eva(**args), {"module": original})
    assert torch.equal(out["fc_norm.weight"], source["fc_norm.weight"])
    assert torch.equal(out["blocks.1.mlp.fc1_x.weight"], source["blocks.1.mlp.fc1_x.weight"])


def test_openclip_tower_layout_loads_and_resamples() -> None:
    """An OpenCLIP EVA tower (``visual.trunk.``), trained at another size: the position embedding
    and the patch kernel are resampled."""
    source = Eva(**dict(_TINY, img_size=48, patch_size=12, global_pool="token")).state_dict()
    original = {"visual.trunk." + k: v for k, v in source.items()}
    original["text.token_embedding.weight"] = torch.zeros(3, 4)
    model = Eva(**dict(_TINY, global_pool="token"))
    out = _remapped(model, original, source_size=48)
    assert out["pos_embed"].shape == (1, 17, 32)
    assert out["patch_embed.proj.weight"].shape == (32, 3, 8, 8)


def test_perception_encoder_layout_loads() -> None:
    """Meta's PE: open_clip names, packed attention-pool qkv, the projection as the classifier."""
    args = dict(
        _TINY,
        attn_type="rope",
        global_pool="map",
        use_pre_transformer_norm=True,
        use_rot_pos_emb=True,
        init_values=0.1,
        attn_pool_num_heads=2,
    )
    source = Eva(**args).state_dict()
    original: dict[str, torch.Tensor] = {}
    for k, v in source.items():
        if k.startswith("attn_pool.q."):
            kind = k.rsplit(".", 1)[1]
            original[f"visual.attn_pool.attn.in_proj_{kind}"] = torch.cat([v, source[f"attn_pool.kv.{kind}"]])
            continue
        if k.startswith("attn_pool.kv.") or k == "head.bias":
            continue
        if k == "head.weight":
            original["visual.proj"] = v.t()
            continue
        if k == "cls_token":
            original["visual.class_embedding"] = v.reshape(-1)
            continue
        if k == "pos_embed":
            original["visual.positional_embedding"] = v[0]
            continue
        k = k.replace("patch_embed.proj", "conv1").replace("blocks.", "transformer.resblocks.")
        k = k.replace("norm_pre", "ln_pre").replace("gamma_1", "ls_1.gamma").replace("gamma_2", "ls_2.gamma")
        k = k.replace("attn.qkv.", "attn.in_proj_").replace("attn.proj", "attn.out_proj")
        k = k.replace("mlp.fc1", "mlp.c_fc").replace("mlp.fc2", "mlp.c_proj")
        k = k.replace("attn_pool.latent", "attn_pool.probe").replace("attn_pool.norm", "attn_pool.layernorm")
        k = k.replace("attn_pool.proj", "attn_pool.attn.out_proj")
        k = k.replace("norm1", "ln_1").replace("norm2", "ln_2")
        original["visual." + k] = v
    out = _remapped(Eva(**args), original)
    assert torch.equal(out["head.bias"], torch.zeros(5))
    assert torch.equal(out["attn_pool.kv.weight"], source["attn_pool.kv.weight"])


def test_dinov3_layout_loads_with_and_without_qv_biases() -> None:
    args = dict(_TINY, rope_type="dinov3", use_rot_pos_emb=True, use_abs_pos_emb=False, num_reg_tokens=4)
    args.update(init_values=1e-5, rope_rotate_half=True, dynamic_img_size=True)
    for qkv_bias in (True, False):
        model = Eva(**dict(args, qkv_bias=qkv_bias))
        source = Eva(**dict(args, qkv_bias=True)).state_dict()
        original: dict[str, torch.Tensor] = {}
        for k, v in source.items():
            if k.endswith("attn.q_bias"):
                zeros = torch.zeros_like(v)
                original[k.replace("q_bias", "qkv.bias")] = torch.cat([v, zeros, source[k[:-6] + "v_bias"]])
            elif not k.endswith("attn.v_bias"):
                k = k.replace("gamma_1", "ls1.gamma").replace("gamma_2", "ls2.gamma")
                original[k.replace("reg_token", "storage_tokens")] = v
        original["rope_embed.periods"] = torch.ones(2)
        original["mask_token"] = torch.zeros(1, 32)
        out = _remapped(model, original)
        assert ("blocks.0.attn.q_bias" in out) == qkv_bias


def test_sapiens2_layout_loads() -> None:
    args = dict(_TINY, attn_type="rope", qkv_fused=False, qk_norm=True, swiglu_mlp=True, num_kv_heads=(2, 1))
    args.update(init_values=1.0, attn_only_layer_scale=True, num_reg_tokens=2, use_abs_pos_emb=False)
    args.update(global_pool="token", use_fc_norm=False)
    source = Eva(**args).state_dict()
    original: dict[str, torch.Tensor] = {}
    for k, v in source.items():
        k = k.replace("reg_token", "storage_tokens").replace("patch_embed.proj.", "patch_embed.projection.")
        k = (
            k.replace("attn.q_proj.", "attn.wq.")
            .replace("attn.k_proj.", "attn.wk.")
            .replace("attn.v_proj.", "attn.wv.")
        )
        k = k.replace("mlp.fc1", "mlp.w12").replace("mlp.fc2", "mlp.w3")  # a packed SwiGLU
        k = k.replace("gamma_1", "attn.gamma.weight").replace(".mlp.", ".ffn.")
        k = k.replace(".norm1.", ".ln1.").replace(".norm2.", ".ln2.")
        original["ln1." + k[5:] if k.startswith("norm.") else k] = v
    original["mask_token"] = torch.zeros(1, 32)
    out = _remapped(Eva(**args), original)
    assert torch.equal(out["blocks.1.mlp.fc1.weight"], source["blocks.1.mlp.fc1.weight"])
    assert torch.equal(out["norm.weight"], source["norm.weight"])


@pytest.mark.parametrize(
    "kwargs",
    [
        # RoPE grid rescaled for a dynamic input, abs embedding resampled, avgmax pooling
        dict(use_rot_pos_emb=True, ref_feat_shape=(4, 4), dynamic_img_size=True, global_pool="avgmax"),
        # post-norm blocks with SwiGLU and a normed MLP, explicit norms
        dict(
            use_post_norm=True,
            swiglu_mlp=True,
            scale_mlp=True,
            use_fc_norm=True,
            use_post_transformer_norm=True,
        ),
        # mixed RoPE with register tokens and no class token
        dict(use_rot_pos_emb=True, rope_type="mixed", attn_type="rope", class_token=False, num_reg_tokens=2),
        # grouped-query attention per block, qk norm, attention-only layer scale, DINOv3 RoPE
        dict(
            attn_type="rope",
            qkv_fused=False,
            qk_norm=True,
            num_kv_heads=(2, 1),
            init_values=0.5,
            attn_only_layer_scale=True,
            use_rot_pos_emb=True,
            rope_type="dinov3",
            rope_rotate_half=True,
            use_abs_pos_emb=False,
        ),
    ],
)
def test_options_match_timm(kwargs: dict[str, Any]) -> None:
    args = dict(img_size=32, patch_size=8, embed_dim=32, depth=2, num_heads=2, num_classes=5, **kwargs)
    ours, theirs = paired_classes(Eva, timm_eva.Eva, **args)
    x = torch.randn(2, 3, 32, 32)
    assert_pair_matches(ours, theirs, x)
    if args.get("dynamic_img_size"):
        y = torch.randn(1, 3, 48, 40)
        with torch.no_grad():
            assert rel_err(ours(y), theirs(y)) < 1e-4


def test_set_input_size_matches_timm() -> None:
    ours, theirs = paired("vit_base_patch16_rope_mixed_ape_224", img_size=64, depth=2)
    ours.set_input_size(img_size=96)
    theirs.set_input_size(img_size=96)
    x = torch.randn(1, 3, 96, 96)
    with torch.no_grad():
        assert rel_err(ours(x), theirs(x)) < 1e-4


def test_bad_options_are_named() -> None:
    with pytest.raises(ValueError, match="rope_type"):
        Eva(img_size=32, embed_dim=16, depth=1, num_heads=1, use_rot_pos_emb=True, rope_type="mrope")
    with pytest.raises(ValueError, match="attn_type"):
        Eva(img_size=32, embed_dim=16, depth=1, num_heads=1, attn_type="flash")
    with pytest.raises(ValueError, match="class_token"):
        Eva(img_size=32, embed_dim=16, depth=1, num_heads=1, class_token=False, global_pool="token")
