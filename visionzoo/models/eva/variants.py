"""The EVA variant table: every registered name of timm's ``eva`` module and its arguments."""

from __future__ import annotations

from functools import partial
from typing import Any

from ...layers import LayerNorm, RmsNorm
from ...variants import model_args_type
from .model import Eva

__all__ = ["VARIANTS", "EvaArgs"]

EvaArgs = model_args_type(Eva)

_LN5 = partial(LayerNorm, eps=1e-5)
_S, _B, _L = (384, 12, 6), (768, 12, 12), (1024, 24, 16)


def _v(patch_size: int, dims: tuple[int, int, int], *profiles: dict[str, Any], **fields: Any) -> Any:
    """A variant: patch size, (embed_dim, depth, num_heads), option profiles, then fields."""
    merged: dict[str, Any] = {}
    for p in profiles:
        merged.update(p)
    merged.update(fields)
    return EvaArgs(patch_size=patch_size, embed_dim=dims[0], depth=dims[1], num_heads=dims[2], **merged)


_EVA_G = dict(mlp_ratio=6144 / 1408)
# EVA-02: SwiGLU, RoPE on the 224 / 14 grid; B and L with separate q/k/v and a norm in the MLP
_EVA02 = dict(mlp_ratio=4 * 2 / 3, swiglu_mlp=True, use_rot_pos_emb=True, ref_feat_shape=(16, 16))
_EVA02_BL = dict(_EVA02, qkv_fused=False, scale_mlp=True)
_EVA02_CLIP = dict(_EVA02_BL, scale_attn_inner=True, global_pool="token")
# timm's SBB ViTs: register tokens, RoPE without absolute embedding, layer scale
_SBB = dict(
    init_values=1e-5, class_token=False, use_rot_pos_emb=True, use_abs_pos_emb=False, ref_feat_shape=(16, 16)
)
# Perception Encoder: pre-norm, RoPE on an xy grid starting at 1, LN eps 1e-5
_PE = dict(
    attn_type="rope",
    use_pre_transformer_norm=True,
    use_rot_pos_emb=True,
    rope_grid_offset=1.0,
    rope_grid_indexing="xy",
    norm_layer=_LN5,
)
_PE_G = dict(_PE, mlp_ratio=8960 / 1536, class_token=False, rope_grid_offset=0.0, ref_feat_shape=(32, 32))
_PE_CORE = dict(global_pool="map", attn_pool_num_heads=8, attn_pool_mlp_ratio=4.0)
_PE_TRUNK = dict(use_post_transformer_norm=False, use_fc_norm=False, ref_feat_shape=(32, 32))
# Naver's RoPE-ViT: class token pooling, axial (temperature 100) or mixed (learned) RoPE
_NAVER = dict(
    attn_type="rope",
    init_values=1e-5,
    global_pool="token",
    use_abs_pos_emb=False,
    use_rot_pos_emb=True,
    rope_grid_indexing="xy",
    rope_temperature=100.0,
)
_MIXED = dict(rope_type="mixed", rope_temperature=10.0)
_APE = dict(no_embed_class=True, use_abs_pos_emb=True)
# DINOv3 (and LingBot-Vision, trained the same way): 4 registers, centred-grid RoPE, any input size
_DINOV3 = dict(
    dynamic_img_size=True,
    qkv_bias=False,
    init_values=1e-5,
    rope_type="dinov3",
    rope_temperature=100,
    rope_rotate_half=True,
    use_rot_pos_emb=True,
    use_abs_pos_emb=False,
    num_reg_tokens=4,
    use_fc_norm=False,
    norm_layer=_LN5,
)
_QKVB = dict(qkv_bias=True)
_SWIGLU8 = dict(swiglu_mlp=True, swiglu_align_to=8)
_LINGBOT = dict(_DINOV3, qkv_bias=True, global_pool="token")


def _sapiens2(dims: tuple[int, int, int], num_kv_heads: int) -> Any:
    """Sapiens2: grouped-query attention except in the first and last 8 blocks, qk norm, RMS
    norms, attention-only layer scale, 1 class + 8 register tokens, portrait 1024 x 768 input."""
    depth, heads = dims[1], dims[2]
    kv = tuple(heads if i < 8 or i >= depth - 8 else num_kv_heads for i in range(depth))
    return _v(
        16,
        dims,
        img_size=(1024, 768),
        dynamic_img_size=True,
        num_kv_heads=kv,
        attn_type="rope",
        qkv_fused=False,
        qk_norm=True,
        global_pool="token",
        swiglu_mlp=True,
        init_values=1.0,
        attn_only_layer_scale=True,
        rope_type="dinov3",
        rope_temperature=100,
        rope_rotate_half=True,
        rope_rescale_coords=2.0,  # training-time grid augmentation
        use_rot_pos_emb=True,
        use_abs_pos_emb=False,
        num_reg_tokens=8,
        use_fc_norm=False,
        norm_layer=partial(RmsNorm, eps=1e-6),
    )


VARIANTS: dict[str, Any] = {
    "eva_giant_patch14_224": _v(14, (1408, 40, 16), _EVA_G),
    "eva_giant_patch14_336": _v(14, (1408, 40, 16), _EVA_G),
    "eva_giant_patch14_560": _v(14, (1408, 40, 16), _EVA_G),
    "eva02_tiny_patch14_224": _v(14, (192, 12, 3), _EVA02),
    "eva02_small_patch14_224": _v(14, _S, _EVA02),
    "eva02_base_patch14_224": _v(14, _B, _EVA02_BL),
    "eva02_large_patch14_224": _v(14, _L, _EVA02_BL),
    "eva02_tiny_patch14_336": _v(14, (192, 12, 3), _EVA02, img_size=336),
    "eva02_small_patch14_336": _v(14, _S, _EVA02, img_size=336),
    "eva02_base_patch14_448": _v(14, _B, _EVA02_BL, img_size=448),
    "eva02_large_patch14_448": _v(14, _L, _EVA02_BL, img_size=448),
    "eva_giant_patch14_clip_224": _v(14, (1408, 40, 16), _EVA_G, global_pool="token"),
    "eva02_base_patch16_clip_224": _v(16, _B, _EVA02_CLIP),
    "eva02_large_patch14_clip_224": _v(14, _L, _EVA02_CLIP),
    "eva02_large_patch14_clip_336": _v(14, _L, _EVA02_CLIP, img_size=336),
    "eva02_enormous_patch14_clip_224": _v(
        14, (1792, 64, 16), mlp_ratio=15360 / 1792, use_post_norm=True, global_pool="token"
    ),
    "vit_medium_patch16_rope_reg1_gap_256": _v(16, (512, 12, 8), _SBB, img_size=256, num_reg_tokens=1),
    "vit_mediumd_patch16_rope_reg1_gap_256": _v(
        16, (512, 20, 8), _SBB, img_size=256, num_reg_tokens=1, qkv_bias=False
    ),
    "vit_betwixt_patch16_rope_reg4_gap_256": _v(16, (640, 12, 10), _SBB, img_size=256, num_reg_tokens=4),
    "vit_base_patch16_rope_reg1_gap_256": _v(16, _B, _SBB, img_size=256, num_reg_tokens=1),
    "vit_pe_core_tiny_patch16_384": _v(16, (192, 12, 3), _PE, _PE_CORE, ref_feat_shape=(24, 24)),
    "vit_pe_core_small_patch16_384": _v(16, _S, _PE, _PE_CORE, ref_feat_shape=(24, 24)),
    "vit_pe_core_base_patch16_224": _v(16, _B, _PE, _PE_CORE, ref_feat_shape=(14, 14)),
    "vit_pe_core_large_patch14_336": _v(14, _L, _PE, _PE_CORE, ref_feat_shape=(24, 24)),
    "vit_pe_core_gigantic_patch14_448": _v(14, (1536, 50, 16), _PE_G, _PE_CORE),
    "vit_pe_lang_large_patch14_448": _v(14, (1024, 23, 16), _PE, _PE_TRUNK, init_values=0.1),
    "vit_pe_lang_gigantic_patch14_448": _v(14, (1536, 47, 16), _PE_G, _PE_TRUNK, init_values=0.1),
    "vit_pe_spatial_tiny_patch16_512": _v(16, (192, 12, 3), _PE, _PE_TRUNK),
    "vit_pe_spatial_small_patch16_512": _v(16, _S, _PE, _PE_TRUNK),
    "vit_pe_spatial_base_patch16_512": _v(16, _B, _PE, _PE_TRUNK),
    "vit_pe_spatial_large_patch14_448": _v(14, _L, _PE, _PE_TRUNK),
    "vit_pe_spatial_gigantic_patch14_448": _v(14, (1536, 50, 16), _PE_G, _PE_TRUNK, init_values=0.1),
    "vit_small_patch16_rope_224": _v(16, _S, _NAVER),
    "vit_base_patch16_rope_224": _v(16, _B, _NAVER, use_fc_norm=False),
    "vit_large_patch16_rope_224": _v(16, _L, _NAVER),
    "vit_small_patch16_rope_mixed_224": _v(16, _S, _NAVER, _MIXED),
    "vit_base_patch16_rope_mixed_224": _v(16, _B, _NAVER, _MIXED),
    "vit_large_patch16_rope_mixed_224": _v(16, _L, _NAVER, _MIXED),
    "vit_small_patch16_rope_ape_224": _v(16, _S, _NAVER, _APE),
    "vit_base_patch16_rope_ape_224": _v(16, _B, _NAVER, _APE),
    "vit_large_patch16_rope_ape_224": _v(16, _L, _NAVER, _APE),
    "vit_small_patch16_rope_mixed_ape_224": _v(16, _S, _NAVER, _MIXED, _APE),
    "vit_base_patch16_rope_mixed_ape_224": _v(16, _B, _NAVER, _MIXED, _APE),
    "vit_large_patch16_rope_mixed_ape_224": _v(16, _L, _NAVER, _MIXED, _APE),
    "vit_tiny_patch16_dinov3_qkvb": _v(16, (192, 12, 3), _DINOV3, _QKVB),
    "vit_small_patch16_dinov3": _v(16, _S, _DINOV3),
    "vit_small_patch16_dinov3_qkvb": _v(16, _S, _DINOV3, _QKVB),
    "vit_small_plus_patch16_dinov3": _v(16, _S, _DINOV3, _SWIGLU8),
    "vit_small_plus_patch16_dinov3_qkvb": _v(16, _S, _DINOV3, _QKVB, _SWIGLU8),
    "vit_base_patch16_dinov3": _v(16, _B, _DINOV3),
    "vit_base_patch16_dinov3_qkvb": _v(16, _B, _DINOV3, _QKVB),
    "vit_large_patch16_dinov3": _v(16, _L, _DINOV3),
    "vit_large_patch16_dinov3_qkvb": _v(16, _L, _DINOV3, _QKVB),
    "vit_huge_plus_patch16_dinov3": _v(16, (1280, 32, 20), _DINOV3, _SWIGLU8),
    "vit_huge_plus_patch16_dinov3_qkvb": _v(16, (1280, 32, 20), _DINOV3, _QKVB, _SWIGLU8),
    "vit_7b_patch16_dinov3": _v(
        16, (4096, 40, 32), _DINOV3, mlp_ratio=2, swiglu_mlp=True, swiglu_align_to=64
    ),
    "vit_small_patch16_lingbot": _v(16, _S, _LINGBOT),
    "vit_base_patch16_lingbot": _v(16, _B, _LINGBOT),
    "vit_large_patch16_lingbot": _v(16, _L, _LINGBOT),
    "vit_giant_patch16_lingbot": _v(
        16, (1536, 40, 24), _LINGBOT, _SWIGLU8, qkv_bias=False, mlp_ratio=4 * 2 / 3
    ),
    "vit_base_patch16_sapiens2": _sapiens2(_B, 6),
    "vit_large_patch16_sapiens2": _sapiens2(_L, 8),
    "vit_huge_patch16_sapiens2": _sapiens2((1280, 32, 16), 8),
    "vit_giant_patch16_sapiens2": _sapiens2((1536, 40, 24), 12),
    "vit_5b_patch16_sapiens2": _sapiens2((2432, 56, 32), 16),
}
