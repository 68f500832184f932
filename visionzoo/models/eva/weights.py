"""EVA weight tags: only the fields that differ from ``CFG_DEFAULTS`` (timm's ``_cfg``); each
architecture with several tags marks timm's default. Values equal timm 1.0.31's configs."""

from __future__ import annotations

from typing import Any

from ...pretrained import (
    IMAGENET_DEFAULT_MEAN,
    IMAGENET_DEFAULT_STD,
    NO_WEIGHTS,
    OPENAI_CLIP_MEAN,
    OPENAI_CLIP_STD,
    weight,
)

__all__ = ["CFG_DEFAULTS", "WEIGHTS"]

# timm's ``_cfg``: EVA and EVA-02 are OpenAI-CLIP normalised, MIT
CFG_DEFAULTS: dict[str, Any] = dict(
    num_classes=1000,
    input_size=(3, 224, 224),
    pool_size=None,
    crop_pct=0.9,
    interpolation="bicubic",
    fixed_input_size=True,
    mean=OPENAI_CLIP_MEAN,
    std=OPENAI_CLIP_STD,
    first_conv="patch_embed.proj",
    classifier="head",
    license="mit",
)

_IN = dict(mean=IMAGENET_DEFAULT_MEAN, std=IMAGENET_DEFAULT_STD)
_SQ = dict(crop_pct=1.0, crop_mode="squash")
_IN22K = dict(num_classes=21841)
_FEAT = dict(num_classes=0)
_SBB_W = dict(input_size=(3, 256, 256), crop_pct=0.95)
_HALF = dict(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
_PE_W = dict(_HALF, crop_pct=1.0, license="apache-2.0", num_classes=0)
_NAVER_W = dict(_IN, license="apache-2.0")
_DINOV3_W = dict(_IN, num_classes=0, input_size=(3, 256, 256), crop_pct=1.0, license="dinov3-license")
_SAT = dict(mean=(0.430, 0.411, 0.296), std=(0.213, 0.156, 0.143))
_EUPE_W = dict(_DINOV3_W, license="fair-noncommercial-research-license")
_LINGBOT_W = dict(
    **_IN,
    **_SQ,
    num_classes=0,
    input_size=(3, 512, 512),
    interpolation="bilinear",
    license="apache-2.0",
    origin_url="https://github.com/robbyant/lingbot-vision",
    paper_ids="arXiv:2607.05247",
)
_SAPIENS2_W = dict(
    **_IN,
    **_SQ,
    num_classes=0,
    input_size=(3, 1024, 768),
    min_input_size=(3, 256, 192),
    interpolation="bilinear",
    fixed_input_size=False,
    license="sapiens2-license",
    origin_url="https://github.com/facebookresearch/sapiens2",
    paper_ids="arXiv:2604.21681",
)
WEIGHTS: dict[str, Any] = {
    "eva_giant_patch14_224.clip_ft_in1k": weight(),
    "eva_giant_patch14_336.clip_ft_in1k": weight(_SQ, default=True, size=336),
    "eva_giant_patch14_336.m30m_ft_in22k_in1k": weight(_IN, _SQ, size=336),
    "eva_giant_patch14_560.m30m_ft_in22k_in1k": weight(_IN, _SQ, size=560),
    "eva02_base_patch14_448.mim_in22k_ft_in22k_in1k": weight(_SQ, default=True, size=448),
    "eva02_large_patch14_448.mim_in22k_ft_in22k_in1k": weight(_SQ, default=True, size=448),
    "eva02_large_patch14_448.mim_m38m_ft_in22k_in1k": weight(_SQ, size=448),
    "eva02_tiny_patch14_336.mim_in22k_ft_in1k": weight(size=336, crop=1.0),
    "eva02_small_patch14_336.mim_in22k_ft_in1k": weight(size=336, crop=1.0),
    "eva02_base_patch14_448.mim_in22k_ft_in1k": weight(size=448, crop=1.0),
    "eva02_large_patch14_448.mim_in22k_ft_in1k": weight(size=448, crop=1.0),
    "eva02_large_patch14_448.mim_m38m_ft_in1k": weight(size=448, crop=1.0),
    "eva02_base_patch14_448.mim_in22k_ft_in22k": weight(_SQ, _IN22K, size=448),
    "eva02_large_patch14_448.mim_in22k_ft_in22k": weight(_SQ, _IN22K, size=448),
    "eva02_large_patch14_448.mim_m38m_ft_in22k": weight(_SQ, _IN22K, size=448),
    "eva02_tiny_patch14_224.mim_in22k": weight(_FEAT),
    "eva02_small_patch14_224.mim_in22k": weight(_FEAT),
    "eva02_base_patch14_224.mim_in22k": weight(_FEAT),
    "eva02_large_patch14_224.mim_in22k": weight(_FEAT, default=True),
    "eva02_large_patch14_224.mim_m38m": weight(_FEAT),
    "eva_giant_patch14_clip_224.laion400m": weight(default=True, num_classes=1024),
    "eva_giant_patch14_clip_224.merged2b": weight(num_classes=1024),
    "eva02_base_patch16_clip_224.merged2b": weight(num_classes=512),
    "eva02_large_patch14_clip_224.merged2b": weight(num_classes=768),
    "eva02_large_patch14_clip_336.merged2b": weight(size=336, crop=1.0, num_classes=768),
    "eva02_enormous_patch14_clip_224.laion2b": weight(default=True, num_classes=1024),
    "eva02_enormous_patch14_clip_224.laion2b_plus": weight(num_classes=1024),
    "eva02_enormous_patch14_clip_224.pretrain": weight(NO_WEIGHTS, _FEAT),
    "vit_medium_patch16_rope_reg1_gap_256.sbb_in1k": weight(_SBB_W, _HALF),
    "vit_mediumd_patch16_rope_reg1_gap_256.sbb_in1k": weight(_SBB_W, _HALF),
    "vit_betwixt_patch16_rope_reg4_gap_256.sbb_in1k": weight(_SBB_W),
    "vit_base_patch16_rope_reg1_gap_256.sbb_in1k": weight(_SBB_W, _HALF),
    "vit_pe_core_tiny_patch16_384.fb": weight(_PE_W, size=384, num_classes=512),
    "vit_pe_core_small_patch16_384.fb": weight(_PE_W, size=384, num_classes=512),
    "vit_pe_core_base_patch16_224.fb": weight(_PE_W, num_classes=1024),
    "vit_pe_core_large_patch14_336.fb": weight(_PE_W, size=336, num_classes=1024),
    "vit_pe_core_gigantic_patch14_448.fb": weight(_PE_W, size=448, num_classes=1280),
    "vit_pe_lang_large_patch14_448.fb": weight(_PE_W, default=True, size=448),
    "vit_pe_lang_large_patch14_448.fb_tiling": weight(_PE_W, size=448),
    "vit_pe_lang_gigantic_patch14_448.fb": weight(_PE_W, default=True, size=448),
    "vit_pe_lang_gigantic_patch14_448.fb_tiling": weight(_PE_W, size=448),
    "vit_pe_spatial_tiny_patch16_512.fb": weight(_PE_W, size=512),
    "vit_pe_spatial_small_patch16_512.fb": weight(_PE_W, size=512),
    "vit_pe_spatial_base_patch16_512.fb": weight(_PE_W, size=512),
    "vit_pe_spatial_large_patch14_448.fb": weight(_PE_W, size=448),
    "vit_pe_spatial_gigantic_patch14_448.fb": weight(_PE_W, size=448),
    "vit_small_patch16_rope_224.naver_in1k": weight(_NAVER_W),
    "vit_base_patch16_rope_224.naver_in1k": weight(_NAVER_W),
    "vit_large_patch16_rope_224.naver_in1k": weight(_NAVER_W),
    "vit_small_patch16_rope_mixed_224.naver_in1k": weight(_NAVER_W),
    "vit_base_patch16_rope_mixed_224.naver_in1k": weight(_NAVER_W),
    "vit_large_patch16_rope_mixed_224.naver_in1k": weight(_NAVER_W),
    "vit_small_patch16_rope_ape_224.naver_in1k": weight(_NAVER_W),
    "vit_base_patch16_rope_ape_224.naver_in1k": weight(_NAVER_W),
    "vit_large_patch16_rope_ape_224.naver_in1k": weight(_NAVER_W),
    "vit_small_patch16_rope_mixed_ape_224.naver_in1k": weight(_NAVER_W),
    "vit_base_patch16_rope_mixed_ape_224.naver_in1k": weight(_NAVER_W),
    "vit_large_patch16_rope_mixed_ape_224.naver_in1k": weight(_NAVER_W),
    "vit_small_patch16_dinov3.lvd1689m": weight(_DINOV3_W),
    "vit_small_patch16_dinov3_qkvb.lvd1689m": weight(_DINOV3_W, default=True),
    "vit_small_plus_patch16_dinov3.lvd1689m": weight(_DINOV3_W),
    "vit_small_plus_patch16_dinov3_qkvb.lvd1689m": weight(_DINOV3_W),
    "vit_base_patch16_dinov3.lvd1689m": weight(_DINOV3_W),
    "vit_base_patch16_dinov3_qkvb.lvd1689m": weight(_DINOV3_W, default=True),
    "vit_tiny_patch16_dinov3_qkvb.eupe_lvd1689m": weight(_EUPE_W),
    "vit_small_patch16_dinov3_qkvb.eupe_lvd1689m": weight(_EUPE_W),
    "vit_base_patch16_dinov3_qkvb.eupe_lvd1689m": weight(_EUPE_W),
    "vit_large_patch16_dinov3.lvd1689m": weight(_DINOV3_W, default=True),
    "vit_large_patch16_dinov3_qkvb.lvd1689m": weight(_DINOV3_W, default=True),
    "vit_large_patch16_dinov3.sat493m": weight(_DINOV3_W, _SAT),
    "vit_large_patch16_dinov3_qkvb.sat493m": weight(_DINOV3_W, _SAT),
    "vit_huge_plus_patch16_dinov3.lvd1689m": weight(_DINOV3_W),
    "vit_huge_plus_patch16_dinov3_qkvb.lvd1689m": weight(_DINOV3_W),
    "vit_7b_patch16_dinov3.lvd1689m": weight(_DINOV3_W, default=True),
    "vit_7b_patch16_dinov3.sat493m": weight(_DINOV3_W, _SAT),
    "vit_small_patch16_lingbot.robbyant": weight(
        _LINGBOT_W, hf_hub_id="belfner/vit_small_patch16_lingbot.robbyant"
    ),
    "vit_base_patch16_lingbot.robbyant": weight(
        _LINGBOT_W, hf_hub_id="belfner/vit_base_patch16_lingbot.robbyant"
    ),
    "vit_large_patch16_lingbot.robbyant": weight(
        _LINGBOT_W, hf_hub_id="belfner/vit_large_patch16_lingbot.robbyant"
    ),
    "vit_giant_patch16_lingbot.robbyant": weight(
        _LINGBOT_W, hf_hub_id="belfner/vit_giant_patch16_lingbot.robbyant"
    ),
    "vit_base_patch16_sapiens2.fb": weight(_SAPIENS2_W),
    "vit_large_patch16_sapiens2.fb": weight(_SAPIENS2_W),
    "vit_huge_patch16_sapiens2.fb": weight(_SAPIENS2_W),
    "vit_giant_patch16_sapiens2.fb": weight(_SAPIENS2_W),
    "vit_5b_patch16_sapiens2.fb": weight(_SAPIENS2_W),
}
