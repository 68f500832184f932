"""The ViT variant table: every registered Vision Transformer name and its constructor arguments."""

from __future__ import annotations

from functools import partial
from typing import Any

from ...layers import LayerNorm, RmsNorm, SwiGLU, SwiGLUPacked
from ...variants import model_args_type
from .model import (
    DiffParallelScalingBlock,
    ParallelScalingBlock,
    ParallelThingsBlock,
    ResPostBlock,
    VisionTransformer,
)

__all__ = ["VARIANTS", "VisionTransformerArgs"]

VisionTransformerArgs = model_args_type(VisionTransformer)

# (embed_dim, depth, num_heads) of the named widths
_TI, _S, _M, _B, _BW = (192, 12, 3), (384, 12, 6), (512, 12, 8), (768, 12, 12), (640, 12, 10)
_L, _H, _G, _GG = (1024, 24, 16), (1280, 32, 16), (1408, 40, 16), (1664, 48, 16)
_G2, _GOPT, _SO400 = (1536, 40, 24), (1536, 40, 16), (1152, 27, 16)
_SO150M, _SO150M2 = (896, 18, 14), (832, 21, 13)
_A1B, _A3B, _AH, _AL = (2048, 24, 16), (3072, 24, 24), (1536, 24, 12), (1024, 24, 8)  # AIMv2

_LN5, _RMS5 = partial(LayerNorm, eps=1e-5), partial(RmsNorm, eps=1e-5)
# option profiles of the recipes that share them
_CLIP = dict(pre_norm=True, norm_layer=_LN5)  # CLIP / OpenCLIP image towers
_MAP = dict(class_token=False, global_pool="map")  # SigLIP: attention-pool head
_GAP = dict(class_token=False, global_pool="avg", fc_norm=False)  # SigLIP gap / AIMv2 trunks
_NEC = dict(no_embed_class=True)  # position embedding on patch tokens only
_DEIT3 = dict(no_embed_class=True, init_values=1e-6)
_REG_GAP = dict(no_embed_class=True, init_values=1e-5, class_token=False, global_pool="avg")
_RADIO = dict(no_embed_class=True, img_size=512, final_norm=False)
_XP = dict(
    no_embed_class=True,
    pre_norm=True,
    norm_layer=RmsNorm,
    block_fn=ParallelScalingBlock,
    qkv_bias=False,
    qk_norm=True,
)
_SWIGLU_G = dict(mlp_ratio=5.33334, mlp_layer=SwiGLUPacked, act_layer="silu")  # DINOv2 giant
_BEIT3 = dict(scale_attn_norm=True, scale_mlp_norm=True, class_token=True, global_pool="avg", norm_layer=_LN5)
_AIMV2 = dict(
    _GAP,
    qkv_bias=False,
    proj_bias=False,
    act_layer="silu",
    norm_layer=_RMS5,
    embed_norm_layer=_RMS5,
    mlp_layer=SwiGLU,
)


def _v(patch_size: int, dims: tuple[int, int, int], *profiles: dict[str, Any], **fields: Any) -> Any:
    merged: dict[str, Any] = {}
    for part in (*profiles, fields):
        merged.update(part)
    embed_dim, depth, num_heads = dims
    return VisionTransformerArgs(
        patch_size=patch_size, embed_dim=embed_dim, depth=depth, num_heads=num_heads, **merged
    )


VARIANTS: dict[str, Any] = {
    "aimv2_1b_patch14_224": _v(14, _A1B, _AIMV2, mlp_ratio=2.75),
    "aimv2_1b_patch14_336": _v(14, _A1B, _AIMV2, mlp_ratio=2.75),
    "aimv2_1b_patch14_448": _v(14, _A1B, _AIMV2, mlp_ratio=2.75),
    "aimv2_3b_patch14_224": _v(14, _A3B, _AIMV2, mlp_ratio=2.6667),
    "aimv2_3b_patch14_336": _v(14, _A3B, _AIMV2, mlp_ratio=2.6667),
    "aimv2_3b_patch14_448": _v(14, _A3B, _AIMV2, mlp_ratio=2.6667),
    "aimv2_huge_patch14_224": _v(14, _AH, _AIMV2, mlp_ratio=2.6667),
    "aimv2_huge_patch14_336": _v(14, _AH, _AIMV2, mlp_ratio=2.6667),
    "aimv2_huge_patch14_448": _v(14, _AH, _AIMV2, mlp_ratio=2.6667),
    "aimv2_large_patch14_224": _v(14, _AL, _AIMV2, mlp_ratio=2.75),
    "aimv2_large_patch14_336": _v(14, _AL, _AIMV2, mlp_ratio=2.75),
    "aimv2_large_patch14_448": _v(14, _AL, _AIMV2, mlp_ratio=2.75),
    "beit3_base_patch16_224": _v(16, _B, _BEIT3, mlp_ratio=4),
    "beit3_giant_patch14_224": _v(14, _G, _BEIT3, mlp_ratio=4.3637),
    "beit3_giant_patch14_336": _v(14, _G, _BEIT3, img_size=336, mlp_ratio=4.3637),
    "beit3_large_patch16_224": _v(16, _L, _BEIT3, mlp_ratio=4),
    "eva_large_patch14_196": _v(14, _L, global_pool="avg"),
    "eva_large_patch14_336": _v(14, _L, global_pool="avg"),
    "flexivit_base": _v(16, _B, _NEC),
    "flexivit_large": _v(16, _L, _NEC),
    "flexivit_small": _v(16, _S, _NEC),
    "test_vit": _v(16, (64, 6, 2), mlp_ratio=3, dynamic_img_size=True),
    "test_vit2": _v(
        16,
        (64, 8, 2),
        mlp_ratio=3,
        class_token=False,
        reg_tokens=1,
        global_pool="avg",
        init_values=1e-5,
        dynamic_img_size=True,
    ),
    "test_vit3": _v(
        16, (96, 9, 3), _MAP, mlp_ratio=2, reg_tokens=1, pool_include_prefix=True, init_values=1e-5
    ),
    "test_vit4": _v(
        16,
        (96, 9, 3),
        mlp_ratio=3,
        class_token=False,
        reg_tokens=1,
        global_pool="avg",
        init_values=1e-5,
        dynamic_img_size=True,
        norm_layer="rmsnorm",
    ),
    "vit_base_patch8_224": _v(8, _B),
    "vit_base_patch14_dinov2": _v(14, _B, init_values=1e-5),
    "vit_base_patch14_reg1_tipsv2": _v(14, _B, _NEC, init_values=1.0, reg_tokens=1),
    "vit_base_patch14_reg4_dinov2": _v(14, _B, _NEC, init_values=1e-5, reg_tokens=4),
    "vit_base_patch16_18x2_224": _v(16, (768, 18, 12), init_values=1e-5, block_fn=ParallelThingsBlock),
    "vit_base_patch16_224": _v(16, _B),
    "vit_base_patch16_224_miil": _v(16, _B, qkv_bias=False),
    "vit_base_patch16_384": _v(16, _B),
    "vit_base_patch16_clip_224": _v(16, _B, _CLIP),
    "vit_base_patch16_clip_384": _v(16, _B, _CLIP),
    "vit_base_patch16_clip_quickgelu_224": _v(16, _B, _CLIP, act_layer="quick_gelu"),
    "vit_base_patch16_gap_224": _v(16, (768, 12, 16), _GAP),
    "vit_base_patch16_plus_240": _v(16, (896, 12, 14), init_values=1e-5),
    "vit_base_patch16_plus_clip_240": _v(16, (896, 12, 14), _CLIP),
    "vit_base_patch16_radio_v3": _v(16, _B, _RADIO, init_values=1e-5, reg_tokens=7),
    "vit_base_patch16_reg4_gap_256": _v(16, _B, _NEC, class_token=False, global_pool="avg", reg_tokens=4),
    "vit_base_patch16_rpn_224": _v(
        16, _B, qkv_bias=False, init_values=1e-5, class_token=False, block_fn=ResPostBlock, global_pool="avg"
    ),
    "vit_base_patch16_siglip_224": _v(16, _B, _MAP),
    "vit_base_patch16_siglip_256": _v(16, _B, _MAP),
    "vit_base_patch16_siglip_384": _v(16, _B, _MAP),
    "vit_base_patch16_siglip_512": _v(16, _B, _MAP),
    "vit_base_patch16_siglip_gap_224": _v(16, _B, _GAP),
    "vit_base_patch16_siglip_gap_256": _v(16, _B, _GAP),
    "vit_base_patch16_siglip_gap_384": _v(16, _B, _GAP),
    "vit_base_patch16_siglip_gap_512": _v(16, _B, _GAP),
    "vit_base_patch16_xp_224": _v(16, _B, _XP),
    "vit_base_patch32_224": _v(32, _B),
    "vit_base_patch32_384": _v(32, _B),
    "vit_base_patch32_clip_224": _v(32, _B, _CLIP),
    "vit_base_patch32_clip_256": _v(32, _B, _CLIP),
    "vit_base_patch32_clip_384": _v(32, _B, _CLIP),
    "vit_base_patch32_clip_448": _v(32, _B, _CLIP),
    "vit_base_patch32_clip_quickgelu_224": _v(32, _B, _CLIP, act_layer="quick_gelu"),
    "vit_base_patch32_plus_256": _v(32, (896, 12, 14), init_values=1e-5),
    "vit_base_patch32_siglip_256": _v(32, _B, _MAP, act_layer="gelu_tanh"),
    "vit_base_patch32_siglip_gap_256": _v(32, _B, _GAP, act_layer="gelu_tanh"),
    "vit_betwixt_patch16_gap_256": _v(16, _BW, _GAP, qkv_bias=False, init_values=1e-6),
    "vit_betwixt_patch16_reg1_gap_256": _v(16, _BW, _REG_GAP, reg_tokens=1),
    "vit_betwixt_patch16_reg4_gap_256": _v(16, _BW, _REG_GAP, reg_tokens=4),
    "vit_betwixt_patch16_reg4_gap_384": _v(16, _BW, _REG_GAP, reg_tokens=4),
    "vit_betwixt_patch32_clip_224": _v(32, _BW, _CLIP),
    "vit_dlittle_patch16_reg1_gap_256": _v(
        16, (320, 14, 5), _REG_GAP, mlp_ratio=5.6, reg_tokens=1, attn_layer="diff"
    ),
    "vit_dpwee_patch16_reg1_gap_256": _v(
        16, (256, 16, 4), _REG_GAP, mlp_ratio=5, reg_tokens=1, block_fn=DiffParallelScalingBlock
    ),
    "vit_dwee_patch16_reg1_gap_256": _v(
        16, (256, 14, 4), _REG_GAP, mlp_ratio=5, reg_tokens=1, attn_layer="diff"
    ),
    "vit_giant_patch14_224": _v(14, _G, mlp_ratio=4.363636363636363),
    "vit_giant_patch14_clip_224": _v(14, _G, _CLIP, mlp_ratio=4.363636363636363),
    "vit_giant_patch14_dinov2": _v(14, _G2, _SWIGLU_G, init_values=1e-5),
    "vit_giant_patch14_reg1_tipsv2": _v(14, _G2, _SWIGLU_G, _NEC, init_values=1.0, reg_tokens=1),
    "vit_giant_patch14_reg4_dinov2": _v(14, _G2, _SWIGLU_G, _NEC, init_values=1e-5, reg_tokens=4),
    "vit_giant_patch16_gap_224": _v(16, _G, _GAP, mlp_ratio=4.363636363636363),
    "vit_giant_patch16_radio_v3": _v(16, _G2, _RADIO, reg_tokens=7),
    "vit_giantopt_patch16_siglip_256": _v(16, _GOPT, _MAP, act_layer="gelu_tanh"),
    "vit_giantopt_patch16_siglip_384": _v(16, _GOPT, _MAP, act_layer="gelu_tanh"),
    "vit_giantopt_patch16_siglip_gap_256": _v(16, _GOPT, _GAP, act_layer="gelu_tanh"),
    "vit_giantopt_patch16_siglip_gap_384": _v(16, _GOPT, _GAP, act_layer="gelu_tanh"),
    "vit_gigantic_patch14_224": _v(14, _GG, mlp_ratio=4.923076923076923),
    "vit_gigantic_patch14_clip_224": _v(14, _GG, _CLIP, mlp_ratio=4.923076923076923),
    "vit_gigantic_patch14_clip_378": _v(14, _GG, _CLIP, mlp_ratio=4.923076923076923),
    "vit_gigantic_patch14_clip_quickgelu_224": _v(
        14, _GG, _CLIP, mlp_ratio=4.923076923076923, act_layer="quick_gelu"
    ),
    "vit_huge_patch14_224": _v(14, _H),
    "vit_huge_patch14_clip_224": _v(14, _H, _CLIP),
    "vit_huge_patch14_clip_336": _v(14, _H, _CLIP),
    "vit_huge_patch14_clip_378": _v(14, _H, _CLIP),
    "vit_huge_patch14_clip_quickgelu_224": _v(14, _H, _CLIP, act_layer="quick_gelu"),
    "vit_huge_patch14_clip_quickgelu_378": _v(14, _H, _CLIP, act_layer="quick_gelu"),
    "vit_huge_patch14_gap_224": _v(14, _H, _GAP),
    "vit_huge_patch14_xp_224": _v(14, _H, _XP),
    "vit_huge_patch16_gap_448": _v(16, _H, _GAP),
    "vit_huge_patch16_radio_v3": _v(16, _H, _RADIO, reg_tokens=7),
    "vit_huge_patch16_radio_v4": _v(16, _H, _RADIO, reg_tokens=9),
    "vit_intern300m_patch14_448": _v(14, _L, init_values=0.1, final_norm=False, dynamic_img_size=True),
    "vit_large_patch14_224": _v(14, _L),
    "vit_large_patch14_clip_224": _v(14, _L, _CLIP),
    "vit_large_patch14_clip_336": _v(14, _L, _CLIP),
    "vit_large_patch14_clip_quickgelu_224": _v(14, _L, _CLIP, act_layer="quick_gelu"),
    "vit_large_patch14_clip_quickgelu_336": _v(14, _L, _CLIP, act_layer="quick_gelu"),
    "vit_large_patch14_dinov2": _v(14, _L, init_values=1e-5),
    "vit_large_patch14_reg1_tipsv2": _v(14, _L, _NEC, init_values=1.0, reg_tokens=1),
    "vit_large_patch14_reg4_dinov2": _v(14, _L, _NEC, init_values=1e-5, reg_tokens=4),
    "vit_large_patch14_xp_224": _v(14, _L, _XP),
    "vit_large_patch16_224": _v(16, _L),
    "vit_large_patch16_384": _v(16, _L),
    "vit_large_patch16_radio_v3": _v(16, _L, _RADIO, init_values=1e-5, reg_tokens=7),
    "vit_large_patch16_siglip_256": _v(16, _L, _MAP),
    "vit_large_patch16_siglip_384": _v(16, _L, _MAP),
    "vit_large_patch16_siglip_512": _v(16, _L, _MAP, act_layer="gelu_tanh"),
    "vit_large_patch16_siglip_gap_256": _v(16, _L, _GAP),
    "vit_large_patch16_siglip_gap_384": _v(16, _L, _GAP),
    "vit_large_patch16_siglip_gap_512": _v(16, _L, _GAP, act_layer="gelu_tanh"),
    "vit_large_patch32_224": _v(32, _L),
    "vit_large_patch32_384": _v(32, _L),
    "vit_little_patch16_reg1_gap_256": _v(16, (320, 14, 5), _REG_GAP, mlp_ratio=5.6, reg_tokens=1),
    "vit_little_patch16_reg4_gap_256": _v(16, (320, 14, 5), _REG_GAP, mlp_ratio=5.6, reg_tokens=4),
    "vit_medium_patch16_clip_224": _v(16, _M, _CLIP),
    "vit_medium_patch16_gap_240": _v(16, _M, _GAP, qkv_bias=False, init_values=1e-6),
    "vit_medium_patch16_gap_256": _v(16, _M, _GAP, qkv_bias=False, init_values=1e-6),
    "vit_medium_patch16_gap_384": _v(16, _M, _GAP, qkv_bias=False, init_values=1e-6),
    "vit_medium_patch16_reg1_gap_256": _v(16, _M, _REG_GAP, reg_tokens=1),
    "vit_medium_patch16_reg4_gap_256": _v(16, _M, _REG_GAP, reg_tokens=4),
    "vit_medium_patch32_clip_224": _v(32, _M, _CLIP),
    "vit_mediumd_patch16_reg4_gap_256": _v(16, (512, 20, 8), _REG_GAP, reg_tokens=4),
    "vit_mediumd_patch16_reg4_gap_384": _v(16, (512, 20, 8), _REG_GAP, reg_tokens=4),
    "vit_pwee_patch16_reg1_gap_256": _v(
        16, (256, 16, 4), _REG_GAP, mlp_ratio=5, reg_tokens=1, block_fn=ParallelScalingBlock
    ),
    "vit_small_patch8_224": _v(8, _S),
    "vit_small_patch14_dinov2": _v(14, _S, init_values=1e-5),
    "vit_small_patch14_reg4_dinov2": _v(14, _S, _NEC, init_values=1e-5, reg_tokens=4),
    "vit_small_patch16_18x2_224": _v(16, (384, 18, 6), init_values=1e-5, block_fn=ParallelThingsBlock),
    "vit_small_patch16_36x1_224": _v(16, (384, 36, 6), init_values=1e-5),
    "vit_small_patch16_224": _v(16, _S),
    "vit_small_patch16_384": _v(16, _S),
    "vit_small_patch32_224": _v(32, _S),
    "vit_small_patch32_384": _v(32, _S),
    "vit_so150m2_patch16_reg1_gap_256": _v(
        16,
        _SO150M2,
        mlp_ratio=2.6153846153846154,
        init_values=1e-5,
        qkv_bias=False,
        class_token=False,
        reg_tokens=1,
        global_pool="avg",
    ),
    "vit_so150m2_patch16_reg1_gap_384": _v(
        16,
        _SO150M2,
        mlp_ratio=2.6153846153846154,
        init_values=1e-5,
        qkv_bias=False,
        class_token=False,
        reg_tokens=1,
        global_pool="avg",
    ),
    "vit_so150m2_patch16_reg1_gap_448": _v(
        16,
        _SO150M2,
        mlp_ratio=2.6153846153846154,
        init_values=1e-5,
        qkv_bias=False,
        class_token=False,
        reg_tokens=1,
        global_pool="avg",
    ),
    "vit_so150m_patch16_reg4_gap_256": _v(16, _SO150M, _GAP, mlp_ratio=2.572, reg_tokens=4),
    "vit_so150m_patch16_reg4_gap_384": _v(16, _SO150M, _GAP, mlp_ratio=2.572, reg_tokens=4),
    "vit_so150m_patch16_reg4_map_256": _v(16, _SO150M, _MAP, mlp_ratio=2.572, reg_tokens=4),
    "vit_so400m_patch14_reg1_tipsv2": _v(
        14, _SO400, _NEC, init_values=1.0, mlp_ratio=3.736111111111111, reg_tokens=1
    ),
    "vit_so400m_patch14_siglip_224": _v(14, _SO400, _MAP, mlp_ratio=3.7362),
    "vit_so400m_patch14_siglip_378": _v(14, _SO400, _MAP, mlp_ratio=3.7362),
    "vit_so400m_patch14_siglip_384": _v(14, _SO400, _MAP, mlp_ratio=3.7362),
    "vit_so400m_patch14_siglip_gap_224": _v(14, _SO400, _GAP, mlp_ratio=3.7362),
    "vit_so400m_patch14_siglip_gap_378": _v(14, _SO400, _GAP, mlp_ratio=3.7362),
    "vit_so400m_patch14_siglip_gap_384": _v(14, _SO400, _GAP, mlp_ratio=3.7362),
    "vit_so400m_patch14_siglip_gap_448": _v(14, _SO400, _GAP, mlp_ratio=3.7362),
    "vit_so400m_patch14_siglip_gap_896": _v(14, _SO400, _GAP, mlp_ratio=3.7362),
    "vit_so400m_patch16_radio_v4": _v(16, _SO400, _RADIO, mlp_ratio=3.736111111111111, reg_tokens=9),
    "vit_so400m_patch16_siglip_256": _v(16, _SO400, _MAP, mlp_ratio=3.7362, act_layer="gelu_tanh"),
    "vit_so400m_patch16_siglip_384": _v(16, _SO400, _MAP, mlp_ratio=3.7362, act_layer="gelu_tanh"),
    "vit_so400m_patch16_siglip_512": _v(16, _SO400, _MAP, mlp_ratio=3.7362, act_layer="gelu_tanh"),
    "vit_so400m_patch16_siglip_gap_256": _v(16, _SO400, _GAP, mlp_ratio=3.7362, act_layer="gelu_tanh"),
    "vit_so400m_patch16_siglip_gap_384": _v(16, _SO400, _GAP, mlp_ratio=3.7362, act_layer="gelu_tanh"),
    "vit_so400m_patch16_siglip_gap_512": _v(16, _SO400, _GAP, mlp_ratio=3.7362, act_layer="gelu_tanh"),
    "vit_tiny_patch16_224": _v(16, _TI),
    "vit_tiny_patch16_384": _v(16, _TI),
    "vit_wee_patch16_reg1_gap_256": _v(16, (256, 14, 4), _REG_GAP, mlp_ratio=5, reg_tokens=1),
    "vit_xsmall_patch16_clip_224": _v(16, (256, 10, 4), _CLIP),
}
