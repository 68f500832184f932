# ruff: noqa: E501  (weight URLs are kept whole)
"""ViT weight tags: only the fields that differ from the family's ``CFG_DEFAULTS``; each
architecture with several tags marks timm's default with ``default=True``, the others follow in
timm's order. Values equal timm 1.0.31's configs."""

from __future__ import annotations

from typing import Any

from ...pretrained import (
    IMAGENET_DEFAULT_MEAN,
    IMAGENET_DEFAULT_STD,
    IMAGENET_INCEPTION_MEAN,
    IMAGENET_INCEPTION_STD,
    NO_WEIGHTS,
    OPENAI_CLIP_MEAN,
    OPENAI_CLIP_STD,
    RWIGHTMAN_RELEASES,
    weight,
)

__all__ = ["CFG_DEFAULTS", "DEPRECATED", "WEIGHTS"]

CFG_DEFAULTS: dict[str, Any] = dict(
    num_classes=1000,
    input_size=(3, 224, 224),
    pool_size=None,
    crop_pct=0.9,
    interpolation="bicubic",
    fixed_input_size=True,
    mean=IMAGENET_INCEPTION_MEAN,
    std=IMAGENET_INCEPTION_STD,
    first_conv="patch_embed.proj",
    classifier="head",
    license="apache-2.0",
)

_AUGREG = "https://storage.googleapis.com/vit_models/augreg/"
_FLEXI = "https://storage.googleapis.com/big_vision/flexivit/"
_FB = "https://dl.fbaipublicfiles.com/"
_CLIPW = dict(mean=OPENAI_CLIP_MEAN, std=OPENAI_CLIP_STD)
_INW = dict(mean=IMAGENET_DEFAULT_MEAN, std=IMAGENET_DEFAULT_STD)
_NOTE_QG = dict(notes=("natively QuickGELU, use quickgelu model variant for original results",))
_RADIOW = dict(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), origin_url="https://github.com/NVlabs/RADIO")


WEIGHTS: dict[str, dict[str, Any]] = {
    "aimv2_1b_patch14_224.apple_pt": weight(_CLIPW, crop_pct=1.0, num_classes=0, license="apple-ascl"),
    "aimv2_1b_patch14_336.apple_pt": weight(
        _CLIPW, input_size=(3, 336, 336), crop_pct=1.0, num_classes=0, license="apple-ascl"
    ),
    "aimv2_1b_patch14_448.apple_pt": weight(
        _CLIPW, input_size=(3, 448, 448), crop_pct=1.0, num_classes=0, license="apple-ascl"
    ),
    "aimv2_3b_patch14_224.apple_pt": weight(_CLIPW, crop_pct=1.0, num_classes=0, license="apple-ascl"),
    "aimv2_3b_patch14_336.apple_pt": weight(
        _CLIPW, input_size=(3, 336, 336), crop_pct=1.0, num_classes=0, license="apple-ascl"
    ),
    "aimv2_3b_patch14_448.apple_pt": weight(
        _CLIPW, input_size=(3, 448, 448), crop_pct=1.0, num_classes=0, license="apple-ascl"
    ),
    "aimv2_huge_patch14_224.apple_pt": weight(_CLIPW, crop_pct=1.0, num_classes=0, license="apple-ascl"),
    "aimv2_huge_patch14_336.apple_pt": weight(
        _CLIPW, input_size=(3, 336, 336), crop_pct=1.0, num_classes=0, license="apple-ascl"
    ),
    "aimv2_huge_patch14_448.apple_pt": weight(
        _CLIPW, input_size=(3, 448, 448), crop_pct=1.0, num_classes=0, license="apple-ascl"
    ),
    "aimv2_large_patch14_224.apple_pt": weight(
        _CLIPW, default=True, crop_pct=1.0, num_classes=0, license="apple-ascl"
    ),
    "aimv2_large_patch14_224.apple_pt_dist": weight(
        _CLIPW, crop_pct=1.0, num_classes=0, license="apple-ascl"
    ),
    "aimv2_large_patch14_336.apple_pt": weight(
        _CLIPW, default=True, input_size=(3, 336, 336), crop_pct=1.0, num_classes=0, license="apple-ascl"
    ),
    "aimv2_large_patch14_336.apple_pt_dist": weight(
        _CLIPW, input_size=(3, 336, 336), crop_pct=1.0, num_classes=0, license="apple-ascl"
    ),
    "aimv2_large_patch14_448.apple_pt": weight(
        _CLIPW, input_size=(3, 448, 448), crop_pct=1.0, num_classes=0, license="apple-ascl"
    ),
    "beit3_base_patch16_224.in22k_ft_in1k": weight(_INW, default=True, crop_pct=1.0),
    "beit3_base_patch16_224.indomain_in22k_ft_in1k": weight(_INW, crop_pct=1.0),
    "beit3_base_patch16_224.pt": weight(_INW, crop_pct=1.0, num_classes=0),
    "beit3_base_patch16_224.indomain_pt": weight(_INW, crop_pct=1.0, num_classes=0),
    "beit3_giant_patch14_224.untrained": weight(_INW, NO_WEIGHTS, crop_pct=1.0),
    "beit3_giant_patch14_336.untrained": weight(_INW, NO_WEIGHTS, input_size=(3, 336, 336), crop_pct=1.0),
    "beit3_large_patch16_224.in22k_ft_in1k": weight(_INW, default=True, crop_pct=1.0),
    "beit3_large_patch16_224.indomain_in22k_ft_in1k": weight(_INW, crop_pct=1.0),
    "beit3_large_patch16_224.pt": weight(_INW, crop_pct=1.0, num_classes=0),
    "beit3_large_patch16_224.indomain_pt": weight(_INW, crop_pct=1.0, num_classes=0),
    "eva_large_patch14_196.in22k_ft_in22k_in1k": weight(
        _CLIPW, default=True, input_size=(3, 196, 196), crop_pct=1.0, license="mit"
    ),
    "eva_large_patch14_196.in22k_ft_in1k": weight(
        _CLIPW, input_size=(3, 196, 196), crop_pct=1.0, license="mit"
    ),
    "eva_large_patch14_336.in22k_ft_in22k_in1k": weight(
        _CLIPW, default=True, input_size=(3, 336, 336), crop_pct=1.0, crop_mode="squash", license="mit"
    ),
    "eva_large_patch14_336.in22k_ft_in1k": weight(
        _CLIPW, input_size=(3, 336, 336), crop_pct=1.0, crop_mode="squash", license="mit"
    ),
    "flexivit_base.1200ep_in1k": weight(
        default=True,
        url=_FLEXI + "flexivit_b_i1k.npz",
        custom_load=True,
        input_size=(3, 240, 240),
        crop_pct=0.95,
    ),
    "flexivit_base.600ep_in1k": weight(
        url=_FLEXI + "flexivit_b_i1k_600ep.npz", custom_load=True, input_size=(3, 240, 240), crop_pct=0.95
    ),
    "flexivit_base.300ep_in1k": weight(
        url=_FLEXI + "flexivit_b_i1k_300ep.npz", custom_load=True, input_size=(3, 240, 240), crop_pct=0.95
    ),
    "flexivit_base.1000ep_in21k": weight(
        url=_FLEXI + "flexivit_b_i21k_1000ep.npz",
        custom_load=True,
        input_size=(3, 240, 240),
        crop_pct=0.95,
        num_classes=21843,
    ),
    "flexivit_base.300ep_in21k": weight(
        url=_FLEXI + "flexivit_b_i21k_300ep.npz",
        custom_load=True,
        input_size=(3, 240, 240),
        crop_pct=0.95,
        num_classes=21843,
    ),
    "flexivit_base.patch16_in21k": weight(
        url=_FLEXI + "vit_b16_i21k_300ep.npz",
        custom_load=True,
        input_size=(3, 240, 240),
        crop_pct=0.95,
        num_classes=21843,
    ),
    "flexivit_base.patch30_in21k": weight(
        url=_FLEXI + "vit_b30_i21k_300ep.npz",
        custom_load=True,
        input_size=(3, 240, 240),
        crop_pct=0.95,
        num_classes=21843,
    ),
    "flexivit_large.1200ep_in1k": weight(
        default=True,
        url=_FLEXI + "flexivit_l_i1k.npz",
        custom_load=True,
        input_size=(3, 240, 240),
        crop_pct=0.95,
    ),
    "flexivit_large.600ep_in1k": weight(
        url=_FLEXI + "flexivit_l_i1k_600ep.npz", custom_load=True, input_size=(3, 240, 240), crop_pct=0.95
    ),
    "flexivit_large.300ep_in1k": weight(
        url=_FLEXI + "flexivit_l_i1k_300ep.npz", custom_load=True, input_size=(3, 240, 240), crop_pct=0.95
    ),
    "flexivit_small.1200ep_in1k": weight(
        default=True,
        url=_FLEXI + "flexivit_s_i1k.npz",
        custom_load=True,
        input_size=(3, 240, 240),
        crop_pct=0.95,
    ),
    "flexivit_small.600ep_in1k": weight(
        url=_FLEXI + "flexivit_s_i1k_600ep.npz", custom_load=True, input_size=(3, 240, 240), crop_pct=0.95
    ),
    "flexivit_small.300ep_in1k": weight(
        url=_FLEXI + "flexivit_s_i1k_300ep.npz", custom_load=True, input_size=(3, 240, 240), crop_pct=0.95
    ),
    "test_vit.r160_in1k": weight(input_size=(3, 160, 160), crop_pct=0.95),
    "test_vit2.r160_in1k": weight(input_size=(3, 160, 160), crop_pct=0.95),
    "test_vit3.r160_in1k": weight(input_size=(3, 160, 160), crop_pct=0.95),
    "test_vit4.r160_in1k": weight(input_size=(3, 160, 160), crop_pct=0.95, hf_hub_id=None),
    "vit_base_patch8_224.augreg2_in21k_ft_in1k": weight(default=True),
    "vit_base_patch8_224.augreg_in21k_ft_in1k": weight(
        url=_AUGREG
        + "B_8-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.01-res_224.npz",
        custom_load=True,
    ),
    "vit_base_patch8_224.augreg_in21k": weight(
        url=_AUGREG + "B_8-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.0-sd_0.0.npz",
        custom_load=True,
        num_classes=21843,
    ),
    "vit_base_patch8_224.dino": weight(
        _INW, url=_FB + "dino/dino_vitbase8_pretrain/dino_vitbase8_pretrain.pth", num_classes=0
    ),
    "vit_base_patch14_dinov2.lvd142m": weight(
        _INW,
        url=_FB + "dinov2/dinov2_vitb14/dinov2_vitb14_pretrain.pth",
        input_size=(3, 518, 518),
        crop_pct=1.0,
        num_classes=0,
    ),
    "vit_base_patch14_reg1_tipsv2.webli": weight(
        input_size=(3, 448, 448), crop_pct=1.0, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), num_classes=0
    ),
    "vit_base_patch14_reg4_dinov2.lvd142m": weight(
        _INW,
        url=_FB + "dinov2/dinov2_vitb14/dinov2_vitb14_reg4_pretrain.pth",
        input_size=(3, 518, 518),
        crop_pct=1.0,
        num_classes=0,
    ),
    "vit_base_patch16_18x2_224.untrained": weight(NO_WEIGHTS),
    "vit_base_patch16_224.augreg2_in21k_ft_in1k": weight(default=True),
    "vit_base_patch16_224.augreg_in21k_ft_in1k": weight(
        url=_AUGREG
        + "B_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.01-res_224.npz",
        custom_load=True,
    ),
    "vit_base_patch16_224.orig_in21k_ft_in1k": weight(
        url=RWIGHTMAN_RELEASES + "v0.1-vitjx/jx_vit_base_p16_224-80ecf9dd.pth"
    ),
    "vit_base_patch16_224.augreg_in1k": weight(
        url=_AUGREG
        + "B_16-i1k-300ep-lr_0.001-aug_strong2-wd_0.1-do_0.1-sd_0.1--imagenet2012-steps_20k-lr_0.01-res_224.npz",
        custom_load=True,
    ),
    "vit_base_patch16_224.orig_in21k": weight(num_classes=0),
    "vit_base_patch16_224.augreg_in21k": weight(
        url=_AUGREG + "B_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.0-sd_0.0.npz",
        custom_load=True,
        num_classes=21843,
    ),
    "vit_base_patch16_224.sam_in1k": weight(
        url="https://storage.googleapis.com/vit_models/sam/ViT-B_16.npz", custom_load=True
    ),
    "vit_base_patch16_224.bamboo": weight(
        _CLIPW,
        crop_pct=1.0,
        num_classes=115217,
        origin_url="https://github.com/ZhangYuanhan-AI/Bamboo",
        paper_ids="arXiv:2203.07845",
        license=None,
    ),
    "vit_base_patch16_224.dino": weight(
        _INW, url=_FB + "dino/dino_vitbase16_pretrain/dino_vitbase16_pretrain.pth", num_classes=0
    ),
    "vit_base_patch16_224.mae": weight(
        _INW, url=_FB + "mae/pretrain/mae_pretrain_vit_base.pth", num_classes=0, license="cc-by-nc-4.0"
    ),
    "vit_base_patch16_224_miil.in21k": weight(
        default=True,
        url=RWIGHTMAN_RELEASES + "v0.1-tresnet/vit_base_patch16_224_in21k_miil-887286df.pth",
        interpolation="bilinear",
        crop_pct=0.875,
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        num_classes=11221,
    ),
    "vit_base_patch16_224_miil.in21k_ft_in1k": weight(
        url=RWIGHTMAN_RELEASES + "v0.1-tresnet/vit_base_patch16_224_1k_miil_84_4-2deb18e3.pth",
        interpolation="bilinear",
        crop_pct=0.875,
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
    ),
    "vit_base_patch16_384.augreg_in21k_ft_in1k": weight(
        default=True,
        url=_AUGREG
        + "B_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.01-res_384.npz",
        custom_load=True,
        input_size=(3, 384, 384),
        crop_pct=1.0,
    ),
    "vit_base_patch16_384.orig_in21k_ft_in1k": weight(
        url=RWIGHTMAN_RELEASES + "v0.1-vitjx/jx_vit_base_p16_384-83fb41ba.pth",
        input_size=(3, 384, 384),
        crop_pct=1.0,
    ),
    "vit_base_patch16_384.augreg_in1k": weight(
        url=_AUGREG
        + "B_16-i1k-300ep-lr_0.001-aug_strong2-wd_0.1-do_0.1-sd_0.1--imagenet2012-steps_20k-lr_0.01-res_384.npz",
        custom_load=True,
        input_size=(3, 384, 384),
        crop_pct=1.0,
    ),
    "vit_base_patch16_clip_224.laion2b_ft_in12k_in1k": weight(_CLIPW, default=True, crop_pct=0.95),
    "vit_base_patch16_clip_224.openai_ft_in12k_in1k": weight(_CLIPW, crop_pct=0.95),
    "vit_base_patch16_clip_224.laion2b_ft_in1k": weight(_CLIPW, crop_pct=1.0),
    "vit_base_patch16_clip_224.openai_ft_in1k": weight(_CLIPW),
    "vit_base_patch16_clip_224.laion2b_ft_in12k": weight(_CLIPW, num_classes=11821),
    "vit_base_patch16_clip_224.openai_ft_in12k": weight(_CLIPW, num_classes=11821),
    "vit_base_patch16_clip_224.laion2b": weight(_CLIPW, crop_pct=1.0, num_classes=512),
    "vit_base_patch16_clip_224.laion400m_e32": weight(_CLIPW, crop_pct=1.0, num_classes=512, license="mit"),
    "vit_base_patch16_clip_224.datacompxl": weight(_CLIPW, crop_pct=1.0, num_classes=512),
    "vit_base_patch16_clip_224.dfn2b": weight(_CLIPW, crop_pct=1.0, num_classes=512, license="apple-ascl"),
    "vit_base_patch16_clip_224.metaclip_2pt5b": weight(
        _CLIPW, _NOTE_QG, crop_pct=1.0, num_classes=512, license="cc-by-nc-4.0"
    ),
    "vit_base_patch16_clip_224.metaclip_400m": weight(
        _CLIPW, _NOTE_QG, crop_pct=1.0, num_classes=512, license="cc-by-nc-4.0"
    ),
    "vit_base_patch16_clip_224.openai": weight(_CLIPW, _NOTE_QG, num_classes=512),
    "vit_base_patch16_clip_384.laion2b_ft_in12k_in1k": weight(
        _CLIPW, default=True, input_size=(3, 384, 384), crop_pct=1.0, crop_mode="squash"
    ),
    "vit_base_patch16_clip_384.openai_ft_in12k_in1k": weight(
        _CLIPW, input_size=(3, 384, 384), crop_pct=0.95, crop_mode="squash"
    ),
    "vit_base_patch16_clip_384.laion2b_ft_in1k": weight(
        _CLIPW, input_size=(3, 384, 384), crop_pct=1.0, crop_mode="squash"
    ),
    "vit_base_patch16_clip_384.openai_ft_in1k": weight(
        _CLIPW, input_size=(3, 384, 384), crop_pct=1.0, crop_mode="squash"
    ),
    "vit_base_patch16_clip_quickgelu_224.metaclip_2pt5b": weight(
        _CLIPW,
        _NOTE_QG,
        default=True,
        hf_hub_id="timm/vit_base_patch16_clip_224.metaclip_2pt5b",
        crop_pct=1.0,
        num_classes=512,
        license="cc-by-nc-4.0",
    ),
    "vit_base_patch16_clip_quickgelu_224.metaclip_400m": weight(
        _CLIPW,
        _NOTE_QG,
        hf_hub_id="timm/vit_base_patch16_clip_224.metaclip_400m",
        crop_pct=1.0,
        num_classes=512,
        license="cc-by-nc-4.0",
    ),
    "vit_base_patch16_clip_quickgelu_224.openai": weight(
        _CLIPW, _NOTE_QG, hf_hub_id="timm/vit_base_patch16_clip_224.openai", num_classes=512
    ),
    "vit_base_patch16_gap_224.untrained": weight(NO_WEIGHTS),
    "vit_base_patch16_plus_240.untrained": weight(NO_WEIGHTS, input_size=(3, 240, 240), crop_pct=0.95),
    "vit_base_patch16_plus_clip_240.laion400m_e32": weight(
        _CLIPW, input_size=(3, 240, 240), crop_pct=1.0, num_classes=640, license="mit"
    ),
    "vit_base_patch16_radio_v3.c_radio": weight(
        _CLIPW,
        input_size=(3, 512, 512),
        crop_pct=1.0,
        num_classes=0,
        license="nvidia-open-model-license",
        origin_url="https://github.com/NVlabs/RADIO",
        paper_ids="arXiv:2412.07679",
    ),
    "vit_base_patch16_reg4_gap_256.untrained": weight(NO_WEIGHTS, input_size=(3, 256, 256)),
    "vit_base_patch16_rpn_224.sw_in1k": weight(
        url=RWIGHTMAN_RELEASES + "v0.1-tpu-weights/vit_base_patch16_rpn_224-sw-3b07e89d.pth"
    ),
    "vit_base_patch16_siglip_224.v2_webli": weight(default=True, num_classes=0),
    "vit_base_patch16_siglip_224.webli": weight(num_classes=0),
    "vit_base_patch16_siglip_256.v2_webli": weight(default=True, input_size=(3, 256, 256), num_classes=0),
    "vit_base_patch16_siglip_256.webli": weight(input_size=(3, 256, 256), num_classes=0),
    "vit_base_patch16_siglip_256.webli_i18n": weight(input_size=(3, 256, 256), num_classes=0),
    "vit_base_patch16_siglip_384.v2_webli": weight(default=True, input_size=(3, 384, 384), num_classes=0),
    "vit_base_patch16_siglip_384.webli": weight(input_size=(3, 384, 384), num_classes=0),
    "vit_base_patch16_siglip_512.v2_webli": weight(default=True, input_size=(3, 512, 512), num_classes=0),
    "vit_base_patch16_siglip_512.webli": weight(input_size=(3, 512, 512), num_classes=0),
    "vit_base_patch16_siglip_gap_224.v2_webli": weight(default=True, num_classes=0),
    "vit_base_patch16_siglip_gap_224.webli": weight(num_classes=0),
    "vit_base_patch16_siglip_gap_256.v2_webli": weight(default=True, input_size=(3, 256, 256), num_classes=0),
    "vit_base_patch16_siglip_gap_256.webli": weight(input_size=(3, 256, 256), num_classes=0),
    "vit_base_patch16_siglip_gap_256.webli_i18n": weight(input_size=(3, 256, 256), num_classes=0),
    "vit_base_patch16_siglip_gap_384.v2_webli": weight(default=True, input_size=(3, 384, 384), num_classes=0),
    "vit_base_patch16_siglip_gap_384.webli": weight(input_size=(3, 384, 384), num_classes=0),
    "vit_base_patch16_siglip_gap_512.v2_webli": weight(default=True, input_size=(3, 512, 512), num_classes=0),
    "vit_base_patch16_siglip_gap_512.webli": weight(input_size=(3, 512, 512), num_classes=0),
    "vit_base_patch16_xp_224.untrained": weight(NO_WEIGHTS),
    "vit_base_patch32_224.augreg_in21k_ft_in1k": weight(
        default=True,
        url=_AUGREG
        + "B_32-i21k-300ep-lr_0.001-aug_medium1-wd_0.03-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.03-res_224.npz",
        custom_load=True,
    ),
    "vit_base_patch32_224.augreg_in1k": weight(
        url=_AUGREG
        + "B_32-i1k-300ep-lr_0.001-aug_medium2-wd_0.1-do_0.1-sd_0.1--imagenet2012-steps_20k-lr_0.01-res_224.npz",
        custom_load=True,
    ),
    "vit_base_patch32_224.orig_in21k": weight(num_classes=0),
    "vit_base_patch32_224.augreg_in21k": weight(
        url=_AUGREG + "B_32-i21k-300ep-lr_0.001-aug_medium1-wd_0.03-do_0.0-sd_0.0.npz",
        custom_load=True,
        num_classes=21843,
    ),
    "vit_base_patch32_224.sam_in1k": weight(
        url="https://storage.googleapis.com/vit_models/sam/ViT-B_32.npz", custom_load=True
    ),
    "vit_base_patch32_384.augreg_in21k_ft_in1k": weight(
        default=True,
        url=_AUGREG
        + "B_32-i21k-300ep-lr_0.001-aug_light1-wd_0.1-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.03-res_384.npz",
        custom_load=True,
        input_size=(3, 384, 384),
        crop_pct=1.0,
    ),
    "vit_base_patch32_384.augreg_in1k": weight(
        url=_AUGREG
        + "B_32-i1k-300ep-lr_0.001-aug_medium2-wd_0.1-do_0.1-sd_0.1--imagenet2012-steps_20k-lr_0.01-res_384.npz",
        custom_load=True,
        input_size=(3, 384, 384),
        crop_pct=1.0,
    ),
    "vit_base_patch32_clip_224.laion2b_ft_in12k_in1k": weight(_CLIPW, default=True),
    "vit_base_patch32_clip_224.openai_ft_in12k_in1k": weight(_CLIPW, hf_hub_id=None),
    "vit_base_patch32_clip_224.laion2b_ft_in1k": weight(_CLIPW),
    "vit_base_patch32_clip_224.openai_ft_in1k": weight(_CLIPW),
    "vit_base_patch32_clip_224.laion2b": weight(_CLIPW, num_classes=512),
    "vit_base_patch32_clip_224.laion400m_e32": weight(_CLIPW, _NOTE_QG, num_classes=512, license="mit"),
    "vit_base_patch32_clip_224.datacompxl": weight(_CLIPW, crop_pct=1.0, num_classes=512),
    "vit_base_patch32_clip_224.metaclip_2pt5b": weight(
        _CLIPW, _NOTE_QG, crop_pct=1.0, num_classes=512, license="cc-by-nc-4.0"
    ),
    "vit_base_patch32_clip_224.metaclip_400m": weight(
        _CLIPW, _NOTE_QG, crop_pct=1.0, num_classes=512, license="cc-by-nc-4.0"
    ),
    "vit_base_patch32_clip_224.openai": weight(_CLIPW, _NOTE_QG, num_classes=512),
    "vit_base_patch32_clip_256.datacompxl": weight(
        _CLIPW, input_size=(3, 256, 256), crop_pct=1.0, num_classes=512
    ),
    "vit_base_patch32_clip_384.laion2b_ft_in12k_in1k": weight(
        _CLIPW, default=True, input_size=(3, 384, 384), crop_pct=1.0
    ),
    "vit_base_patch32_clip_384.openai_ft_in12k_in1k": weight(
        _CLIPW, input_size=(3, 384, 384), crop_pct=0.95, crop_mode="squash"
    ),
    "vit_base_patch32_clip_448.laion2b_ft_in12k_in1k": weight(_CLIPW, input_size=(3, 448, 448), crop_pct=1.0),
    "vit_base_patch32_clip_quickgelu_224.laion400m_e32": weight(
        _CLIPW,
        _NOTE_QG,
        default=True,
        hf_hub_id="timm/vit_base_patch32_clip_224.laion400m_e32",
        num_classes=512,
        license="mit",
    ),
    "vit_base_patch32_clip_quickgelu_224.metaclip_2pt5b": weight(
        _CLIPW,
        _NOTE_QG,
        hf_hub_id="timm/vit_base_patch32_clip_224.metaclip_2pt5b",
        crop_pct=1.0,
        num_classes=512,
        license="cc-by-nc-4.0",
    ),
    "vit_base_patch32_clip_quickgelu_224.metaclip_400m": weight(
        _CLIPW,
        _NOTE_QG,
        hf_hub_id="timm/vit_base_patch32_clip_224.metaclip_400m",
        crop_pct=1.0,
        num_classes=512,
        license="cc-by-nc-4.0",
    ),
    "vit_base_patch32_clip_quickgelu_224.openai": weight(
        _CLIPW, _NOTE_QG, hf_hub_id="timm/vit_base_patch32_clip_224.openai", num_classes=512
    ),
    "vit_base_patch32_plus_256.untrained": weight(NO_WEIGHTS, input_size=(3, 256, 256), crop_pct=0.95),
    "vit_base_patch32_siglip_256.v2_webli": weight(input_size=(3, 256, 256), num_classes=0),
    "vit_base_patch32_siglip_gap_256.v2_webli": weight(input_size=(3, 256, 256), num_classes=0),
    "vit_betwixt_patch16_gap_256.untrained": weight(NO_WEIGHTS, input_size=(3, 256, 256), crop_pct=0.95),
    "vit_betwixt_patch16_reg1_gap_256.sbb_in1k": weight(input_size=(3, 256, 256), crop_pct=0.95),
    "vit_betwixt_patch16_reg4_gap_256.sbb2_e200_in12k_ft_in1k": weight(
        default=True, input_size=(3, 256, 256), crop_pct=0.95
    ),
    "vit_betwixt_patch16_reg4_gap_256.sbb_in12k_ft_in1k": weight(input_size=(3, 256, 256), crop_pct=0.95),
    "vit_betwixt_patch16_reg4_gap_256.sbb_in1k": weight(input_size=(3, 256, 256), crop_pct=0.95),
    "vit_betwixt_patch16_reg4_gap_256.sbb2_e200_in12k": weight(
        input_size=(3, 256, 256), crop_pct=0.95, num_classes=11821
    ),
    "vit_betwixt_patch16_reg4_gap_256.sbb_in12k": weight(
        input_size=(3, 256, 256), crop_pct=0.95, num_classes=11821
    ),
    "vit_betwixt_patch16_reg4_gap_384.sbb2_e200_in12k_ft_in1k": weight(
        input_size=(3, 384, 384), crop_pct=1.0
    ),
    "vit_betwixt_patch32_clip_224.tinyclip_laion400m": weight(_CLIPW, num_classes=512, license="mit"),
    "vit_dlittle_patch16_reg1_gap_256.sbb_nadamuon_in1k": weight(input_size=(3, 256, 256), crop_pct=0.95),
    "vit_dpwee_patch16_reg1_gap_256.sbb_nadamuon_in1k": weight(
        default=True, input_size=(3, 256, 256), crop_pct=0.95
    ),
    "vit_dpwee_patch16_reg1_gap_256.sbb_in1k": weight(input_size=(3, 256, 256), crop_pct=0.95),
    "vit_dwee_patch16_reg1_gap_256.sbb_nadamuon_in1k": weight(
        default=True, input_size=(3, 256, 256), crop_pct=0.95
    ),
    "vit_dwee_patch16_reg1_gap_256.sbb_in1k": weight(input_size=(3, 256, 256), crop_pct=0.95),
    "vit_giant_patch14_224.untrained": weight(NO_WEIGHTS),
    "vit_giant_patch14_clip_224.laion2b": weight(_CLIPW, crop_pct=1.0, num_classes=1024),
    "vit_giant_patch14_dinov2.lvd142m": weight(
        _INW,
        url=_FB + "dinov2/dinov2_vitg14/dinov2_vitg14_pretrain.pth",
        input_size=(3, 518, 518),
        crop_pct=1.0,
        num_classes=0,
    ),
    "vit_giant_patch14_reg1_tipsv2.webli": weight(
        input_size=(3, 448, 448), crop_pct=1.0, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), num_classes=0
    ),
    "vit_giant_patch14_reg4_dinov2.lvd142m": weight(
        _INW,
        url=_FB + "dinov2/dinov2_vitg14/dinov2_vitg14_reg4_pretrain.pth",
        input_size=(3, 518, 518),
        crop_pct=1.0,
        num_classes=0,
    ),
    "vit_giant_patch16_gap_224.in22k_ijepa": weight(
        _INW,
        url=_FB + "ijepa/IN22K-vit.g.16-600e.pth.tar",
        num_classes=0,
        license="cc-by-nc-4.0",
        hf_hub_id=None,
    ),
    "vit_giant_patch16_radio_v3.c_radio": weight(
        _CLIPW,
        input_size=(3, 512, 512),
        crop_pct=1.0,
        num_classes=0,
        license="nvidia-open-model-license",
        origin_url="https://github.com/NVlabs/RADIO",
        paper_ids="arXiv:2412.07679",
    ),
    "vit_giantopt_patch16_siglip_256.v2_webli": weight(input_size=(3, 256, 256), num_classes=0),
    "vit_giantopt_patch16_siglip_384.v2_webli": weight(input_size=(3, 384, 384), num_classes=0),
    "vit_giantopt_patch16_siglip_gap_256.v2_webli": weight(input_size=(3, 256, 256), num_classes=0),
    "vit_giantopt_patch16_siglip_gap_384.v2_webli": weight(input_size=(3, 384, 384), num_classes=0),
    "vit_gigantic_patch14_224.untrained": weight(NO_WEIGHTS),
    "vit_gigantic_patch14_clip_224.laion2b": weight(_CLIPW, default=True, crop_pct=1.0, num_classes=1280),
    "vit_gigantic_patch14_clip_224.metaclip2_worldwide": weight(
        _CLIPW, crop_pct=1.0, num_classes=1280, license="cc-by-nc-4.0"
    ),
    "vit_gigantic_patch14_clip_224.metaclip_2pt5b": weight(
        _CLIPW, _NOTE_QG, crop_pct=1.0, num_classes=1280, license="cc-by-nc-4.0"
    ),
    "vit_gigantic_patch14_clip_378.metaclip2_worldwide": weight(
        _CLIPW,
        input_size=(3, 378, 378),
        crop_pct=1.0,
        crop_mode="squash",
        num_classes=1280,
        license="cc-by-nc-4.0",
    ),
    "vit_gigantic_patch14_clip_quickgelu_224.metaclip_2pt5b": weight(
        _CLIPW,
        _NOTE_QG,
        hf_hub_id="timm/vit_gigantic_patch14_clip_224.metaclip_2pt5b",
        crop_pct=1.0,
        num_classes=1280,
        license="cc-by-nc-4.0",
    ),
    "vit_huge_patch14_224.orig_in21k": weight(default=True, num_classes=0),
    "vit_huge_patch14_224.untrained": weight(NO_WEIGHTS),
    "vit_huge_patch14_224.mae": weight(
        _INW, url=_FB + "mae/pretrain/mae_pretrain_vit_huge.pth", num_classes=0, license="cc-by-nc-4.0"
    ),
    "vit_huge_patch14_clip_224.laion2b_ft_in12k_in1k": weight(_CLIPW, default=True, crop_pct=1.0),
    "vit_huge_patch14_clip_224.laion2b_ft_in1k": weight(_CLIPW, crop_pct=1.0),
    "vit_huge_patch14_clip_224.laion2b_ft_in12k": weight(_CLIPW, crop_pct=1.0, num_classes=11821),
    "vit_huge_patch14_clip_224.laion2b": weight(_CLIPW, crop_pct=1.0, num_classes=1024),
    "vit_huge_patch14_clip_224.dfn5b": weight(
        _CLIPW, _NOTE_QG, crop_pct=1.0, num_classes=1024, license="apple-ascl"
    ),
    "vit_huge_patch14_clip_224.metaclip2_worldwide": weight(
        _CLIPW, _NOTE_QG, crop_pct=1.0, num_classes=1024, license="cc-by-nc-4.0"
    ),
    "vit_huge_patch14_clip_224.metaclip_2pt5b": weight(
        _CLIPW, _NOTE_QG, crop_pct=1.0, num_classes=1024, license="cc-by-nc-4.0"
    ),
    "vit_huge_patch14_clip_224.metaclip_altogether": weight(
        _CLIPW, crop_pct=1.0, num_classes=1024, license="cc-by-nc-4.0"
    ),
    "vit_huge_patch14_clip_336.laion2b_ft_in12k_in1k": weight(
        _CLIPW, default=True, input_size=(3, 336, 336), crop_pct=1.0, crop_mode="squash"
    ),
    "vit_huge_patch14_clip_336.laion2b_ft_in1k": weight(
        _CLIPW, hf_hub_id="", input_size=(3, 336, 336), crop_pct=1.0, crop_mode="squash"
    ),
    "vit_huge_patch14_clip_378.dfn5b": weight(
        _CLIPW,
        _NOTE_QG,
        default=True,
        input_size=(3, 378, 378),
        crop_pct=1.0,
        num_classes=1024,
        license="apple-ascl",
    ),
    "vit_huge_patch14_clip_378.metaclip2_worldwide": weight(
        _CLIPW,
        input_size=(3, 378, 378),
        crop_pct=1.0,
        crop_mode="squash",
        num_classes=1024,
        license="cc-by-nc-4.0",
    ),
    "vit_huge_patch14_clip_quickgelu_224.dfn5b": weight(
        _CLIPW,
        _NOTE_QG,
        default=True,
        hf_hub_id="timm/vit_huge_patch14_clip_224.dfn5b",
        crop_pct=1.0,
        num_classes=1024,
        license="apple-ascl",
    ),
    "vit_huge_patch14_clip_quickgelu_224.metaclip2_worldwide": weight(
        _CLIPW,
        _NOTE_QG,
        hf_hub_id="timm/vit_huge_patch14_clip_224.metaclip2_worldwide",
        crop_pct=1.0,
        num_classes=1024,
        license="cc-by-nc-4.0",
    ),
    "vit_huge_patch14_clip_quickgelu_224.metaclip_2pt5b": weight(
        _CLIPW,
        _NOTE_QG,
        hf_hub_id="timm/vit_huge_patch14_clip_224.metaclip_2pt5b",
        crop_pct=1.0,
        num_classes=1024,
        license="cc-by-nc-4.0",
    ),
    "vit_huge_patch14_clip_quickgelu_378.dfn5b": weight(
        _CLIPW,
        _NOTE_QG,
        hf_hub_id="timm/vit_huge_patch14_clip_378.dfn5b",
        input_size=(3, 378, 378),
        crop_pct=1.0,
        num_classes=1024,
        license="apple-ascl",
    ),
    "vit_huge_patch14_gap_224.in1k_ijepa": weight(
        _INW,
        default=True,
        url=_FB + "ijepa/IN1K-vit.h.14-300e.pth.tar",
        num_classes=0,
        license="cc-by-nc-4.0",
        hf_hub_id=None,
    ),
    "vit_huge_patch14_gap_224.in22k_ijepa": weight(
        _INW,
        url=_FB + "ijepa/IN22K-vit.h.14-900e.pth.tar",
        num_classes=0,
        license="cc-by-nc-4.0",
        hf_hub_id=None,
    ),
    "vit_huge_patch14_xp_224.untrained": weight(NO_WEIGHTS),
    "vit_huge_patch16_gap_448.in1k_ijepa": weight(
        _INW,
        url=_FB + "ijepa/IN1K-vit.h.16-448px-300e.pth.tar",
        input_size=(3, 448, 448),
        crop_pct=1.0,
        num_classes=0,
        license="cc-by-nc-4.0",
        hf_hub_id=None,
    ),
    "vit_huge_patch16_radio_v3.c_radio": weight(
        _CLIPW,
        input_size=(3, 512, 512),
        crop_pct=1.0,
        num_classes=0,
        license="nvidia-open-model-license",
        origin_url="https://github.com/NVlabs/RADIO",
        paper_ids="arXiv:2412.07679",
    ),
    "vit_huge_patch16_radio_v4.c_radio": weight(
        _CLIPW,
        input_size=(3, 512, 512),
        crop_pct=1.0,
        num_classes=0,
        license="nvidia-open-model-license",
        origin_url="https://github.com/NVlabs/RADIO",
        paper_ids="arXiv:2601.17237",
    ),
    "vit_intern300m_patch14_448.ogvl_dist": weight(
        _INW, default=True, input_size=(3, 448, 448), crop_pct=1.0, num_classes=0, license="mit"
    ),
    "vit_intern300m_patch14_448.ogvl_2pt5": weight(
        _INW, input_size=(3, 448, 448), crop_pct=1.0, num_classes=0
    ),
    "vit_large_patch14_224.untrained": weight(NO_WEIGHTS),
    "vit_large_patch14_clip_224.laion2b_ft_in12k_in1k": weight(default=True, crop_pct=1.0),
    "vit_large_patch14_clip_224.openai_ft_in12k_in1k": weight(_CLIPW, crop_pct=1.0),
    "vit_large_patch14_clip_224.laion2b_ft_in1k": weight(crop_pct=1.0),
    "vit_large_patch14_clip_224.openai_ft_in1k": weight(_CLIPW, crop_pct=1.0),
    "vit_large_patch14_clip_224.laion2b_ft_in12k": weight(crop_pct=1.0, num_classes=11821),
    "vit_large_patch14_clip_224.openai_ft_in12k": weight(_CLIPW, crop_pct=1.0, num_classes=11821),
    "vit_large_patch14_clip_224.laion2b": weight(crop_pct=1.0, num_classes=768),
    "vit_large_patch14_clip_224.laion400m_e32": weight(_CLIPW, crop_pct=1.0, num_classes=768, license="mit"),
    "vit_large_patch14_clip_224.datacompxl": weight(_CLIPW, crop_pct=1.0, num_classes=768),
    "vit_large_patch14_clip_224.dfn2b_s39b": weight(
        _CLIPW, crop_pct=1.0, num_classes=768, license="apple-ascl"
    ),
    "vit_large_patch14_clip_224.dfn2b": weight(
        _CLIPW, _NOTE_QG, crop_pct=1.0, num_classes=768, license="apple-ascl"
    ),
    "vit_large_patch14_clip_224.metaclip_2pt5b": weight(
        _CLIPW, _NOTE_QG, crop_pct=1.0, num_classes=768, license="cc-by-nc-4.0"
    ),
    "vit_large_patch14_clip_224.metaclip_400m": weight(
        _CLIPW, _NOTE_QG, crop_pct=1.0, num_classes=768, license="cc-by-nc-4.0"
    ),
    "vit_large_patch14_clip_224.openai": weight(_CLIPW, _NOTE_QG, crop_pct=1.0, num_classes=768),
    "vit_large_patch14_clip_224.apple_mclip2_dfndr2b": weight(
        _CLIPW, crop_pct=1.0, num_classes=768, license="apple-amlr"
    ),
    "vit_large_patch14_clip_336.laion2b_ft_in12k_in1k": weight(
        default=True, input_size=(3, 336, 336), crop_pct=1.0, crop_mode="squash"
    ),
    "vit_large_patch14_clip_336.openai_ft_in12k_in1k": weight(
        _CLIPW, input_size=(3, 336, 336), crop_pct=1.0, crop_mode="squash"
    ),
    "vit_large_patch14_clip_336.laion2b_ft_in1k": weight(
        input_size=(3, 336, 336), crop_pct=1.0, crop_mode="squash"
    ),
    "vit_large_patch14_clip_336.openai": weight(
        _CLIPW, _NOTE_QG, input_size=(3, 336, 336), crop_pct=1.0, num_classes=768
    ),
    "vit_large_patch14_clip_quickgelu_224.dfn2b": weight(
        _CLIPW,
        _NOTE_QG,
        default=True,
        hf_hub_id="timm/vit_large_patch14_clip_224.dfn2b",
        crop_pct=1.0,
        num_classes=768,
        license="apple-ascl",
    ),
    "vit_large_patch14_clip_quickgelu_224.metaclip_2pt5b": weight(
        _CLIPW,
        _NOTE_QG,
        hf_hub_id="timm/vit_large_patch14_clip_224.metaclip_2pt5b",
        crop_pct=1.0,
        num_classes=768,
        license="cc-by-nc-4.0",
    ),
    "vit_large_patch14_clip_quickgelu_224.metaclip_400m": weight(
        _CLIPW,
        _NOTE_QG,
        hf_hub_id="timm/vit_large_patch14_clip_224.metaclip_400m",
        crop_pct=1.0,
        num_classes=768,
        license="cc-by-nc-4.0",
    ),
    "vit_large_patch14_clip_quickgelu_224.openai": weight(
        _CLIPW, _NOTE_QG, hf_hub_id="timm/vit_large_patch14_clip_224.openai", crop_pct=1.0, num_classes=768
    ),
    "vit_large_patch14_clip_quickgelu_336.openai": weight(
        _CLIPW,
        _NOTE_QG,
        hf_hub_id="timm/vit_large_patch14_clip_336.openai",
        input_size=(3, 336, 336),
        crop_pct=1.0,
        num_classes=768,
    ),
    "vit_large_patch14_dinov2.lvd142m": weight(
        _INW,
        url=_FB + "dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth",
        input_size=(3, 518, 518),
        crop_pct=1.0,
        num_classes=0,
    ),
    "vit_large_patch14_reg1_tipsv2.webli": weight(
        input_size=(3, 448, 448), crop_pct=1.0, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), num_classes=0
    ),
    "vit_large_patch14_reg4_dinov2.lvd142m": weight(
        _INW,
        url=_FB + "dinov2/dinov2_vitl14/dinov2_vitl14_reg4_pretrain.pth",
        input_size=(3, 518, 518),
        crop_pct=1.0,
        num_classes=0,
    ),
    "vit_large_patch14_xp_224.untrained": weight(NO_WEIGHTS),
    "vit_large_patch16_224.augreg_in21k_ft_in1k": weight(
        default=True,
        url=_AUGREG
        + "L_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.1-sd_0.1--imagenet2012-steps_20k-lr_0.01-res_224.npz",
        custom_load=True,
    ),
    "vit_large_patch16_224.orig_in21k": weight(num_classes=0),
    "vit_large_patch16_224.augreg_in21k": weight(
        url=_AUGREG + "L_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.1-sd_0.1.npz",
        custom_load=True,
        num_classes=21843,
    ),
    "vit_large_patch16_224.mae": weight(
        _INW, url=_FB + "mae/pretrain/mae_pretrain_vit_large.pth", num_classes=0, license="cc-by-nc-4.0"
    ),
    "vit_large_patch16_384.augreg_in21k_ft_in1k": weight(
        url=_AUGREG
        + "L_16-i21k-300ep-lr_0.001-aug_medium1-wd_0.1-do_0.1-sd_0.1--imagenet2012-steps_20k-lr_0.01-res_384.npz",
        custom_load=True,
        input_size=(3, 384, 384),
        crop_pct=1.0,
    ),
    "vit_large_patch16_radio_v3.c_radio": weight(
        _CLIPW,
        input_size=(3, 512, 512),
        crop_pct=1.0,
        num_classes=0,
        license="nvidia-open-model-license",
        origin_url="https://github.com/NVlabs/RADIO",
        paper_ids="arXiv:2412.07679",
    ),
    "vit_large_patch16_siglip_256.v2_webli": weight(default=True, input_size=(3, 256, 256), num_classes=0),
    "vit_large_patch16_siglip_256.webli": weight(input_size=(3, 256, 256), num_classes=0),
    "vit_large_patch16_siglip_384.v2_webli": weight(default=True, input_size=(3, 384, 384), num_classes=0),
    "vit_large_patch16_siglip_384.webli": weight(input_size=(3, 384, 384), num_classes=0),
    "vit_large_patch16_siglip_512.v2_webli": weight(input_size=(3, 512, 512), num_classes=0),
    "vit_large_patch16_siglip_gap_256.v2_webli": weight(
        default=True, input_size=(3, 256, 256), num_classes=0
    ),
    "vit_large_patch16_siglip_gap_256.webli": weight(input_size=(3, 256, 256), num_classes=0),
    "vit_large_patch16_siglip_gap_384.v2_webli": weight(
        default=True, input_size=(3, 384, 384), num_classes=0
    ),
    "vit_large_patch16_siglip_gap_384.webli": weight(input_size=(3, 384, 384), num_classes=0),
    "vit_large_patch16_siglip_gap_512.v2_webli": weight(input_size=(3, 512, 512), num_classes=0),
    "vit_large_patch32_224.orig_in21k": weight(num_classes=0),
    "vit_large_patch32_384.orig_in21k_ft_in1k": weight(
        url=RWIGHTMAN_RELEASES + "v0.1-vitjx/jx_vit_large_p32_384-9b920ba8.pth",
        input_size=(3, 384, 384),
        crop_pct=1.0,
    ),
    "vit_little_patch16_reg1_gap_256.sbb_in12k_ft_in1k": weight(
        default=True, input_size=(3, 256, 256), crop_pct=0.95
    ),
    "vit_little_patch16_reg1_gap_256.sbb_in12k": weight(
        input_size=(3, 256, 256), crop_pct=0.95, num_classes=11821
    ),
    "vit_little_patch16_reg4_gap_256.sbb_in1k": weight(input_size=(3, 256, 256), crop_pct=0.95),
    "vit_medium_patch16_clip_224.tinyclip_yfcc15m": weight(_CLIPW, num_classes=512, license="mit"),
    "vit_medium_patch16_gap_240.sw_in12k": weight(input_size=(3, 240, 240), crop_pct=0.95, num_classes=11821),
    "vit_medium_patch16_gap_256.sw_in12k_ft_in1k": weight(input_size=(3, 256, 256), crop_pct=0.95),
    "vit_medium_patch16_gap_384.sw_in12k_ft_in1k": weight(
        input_size=(3, 384, 384), crop_pct=0.95, crop_mode="squash"
    ),
    "vit_medium_patch16_reg1_gap_256.sbb_in1k": weight(input_size=(3, 256, 256), crop_pct=0.95),
    "vit_medium_patch16_reg4_gap_256.sbb_in12k_ft_in1k": weight(
        default=True, input_size=(3, 256, 256), crop_pct=0.95
    ),
    "vit_medium_patch16_reg4_gap_256.sbb_in1k": weight(input_size=(3, 256, 256), crop_pct=0.95),
    "vit_medium_patch16_reg4_gap_256.sbb_in12k": weight(
        input_size=(3, 256, 256), crop_pct=0.95, num_classes=11821
    ),
    "vit_medium_patch32_clip_224.tinyclip_laion400m": weight(_CLIPW, num_classes=512, license="mit"),
    "vit_mediumd_patch16_reg4_gap_256.sbb2_e200_in12k_ft_in1k": weight(
        default=True, input_size=(3, 256, 256), crop_pct=0.95
    ),
    "vit_mediumd_patch16_reg4_gap_256.sbb_in12k_ft_in1k": weight(input_size=(3, 256, 256), crop_pct=0.95),
    "vit_mediumd_patch16_reg4_gap_256.sbb2_e200_in12k": weight(
        input_size=(3, 256, 256), crop_pct=0.95, num_classes=11821
    ),
    "vit_mediumd_patch16_reg4_gap_256.sbb_in12k": weight(
        input_size=(3, 256, 256), crop_pct=0.95, num_classes=11821
    ),
    "vit_mediumd_patch16_reg4_gap_384.sbb2_e200_in12k_ft_in1k": weight(
        input_size=(3, 384, 384), crop_pct=1.0
    ),
    "vit_pwee_patch16_reg1_gap_256.sbb_in1k": weight(input_size=(3, 256, 256), crop_pct=0.95),
    "vit_small_patch8_224.dino": weight(
        _INW, url=_FB + "dino/dino_deitsmall8_pretrain/dino_deitsmall8_pretrain.pth", num_classes=0
    ),
    "vit_small_patch14_dinov2.lvd142m": weight(
        _INW,
        url=_FB + "dinov2/dinov2_vits14/dinov2_vits14_pretrain.pth",
        input_size=(3, 518, 518),
        crop_pct=1.0,
        num_classes=0,
    ),
    "vit_small_patch14_reg4_dinov2.lvd142m": weight(
        _INW,
        url=_FB + "dinov2/dinov2_vits14/dinov2_vits14_reg4_pretrain.pth",
        input_size=(3, 518, 518),
        crop_pct=1.0,
        num_classes=0,
    ),
    "vit_small_patch16_18x2_224.untrained": weight(NO_WEIGHTS),
    "vit_small_patch16_36x1_224.untrained": weight(NO_WEIGHTS),
    "vit_small_patch16_224.augreg_in21k_ft_in1k": weight(
        default=True,
        url=_AUGREG
        + "S_16-i21k-300ep-lr_0.001-aug_light1-wd_0.03-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.03-res_224.npz",
        custom_load=True,
    ),
    "vit_small_patch16_224.augreg_in1k": weight(
        url=_AUGREG
        + "S_16-i1k-300ep-lr_0.001-aug_medium2-wd_0.1-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.01-res_224.npz",
        custom_load=True,
    ),
    "vit_small_patch16_224.augreg_in21k": weight(
        url=_AUGREG + "S_16-i21k-300ep-lr_0.001-aug_light1-wd_0.03-do_0.0-sd_0.0.npz",
        custom_load=True,
        num_classes=21843,
    ),
    "vit_small_patch16_224.dino": weight(
        _INW, url=_FB + "dino/dino_deitsmall16_pretrain/dino_deitsmall16_pretrain.pth", num_classes=0
    ),
    "vit_small_patch16_384.augreg_in21k_ft_in1k": weight(
        default=True,
        url=_AUGREG
        + "S_16-i21k-300ep-lr_0.001-aug_light1-wd_0.03-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.03-res_384.npz",
        custom_load=True,
        input_size=(3, 384, 384),
        crop_pct=1.0,
    ),
    "vit_small_patch16_384.augreg_in1k": weight(
        url=_AUGREG
        + "S_16-i1k-300ep-lr_0.001-aug_medium2-wd_0.1-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.01-res_384.npz",
        custom_load=True,
        input_size=(3, 384, 384),
        crop_pct=1.0,
    ),
    "vit_small_patch32_224.augreg_in21k_ft_in1k": weight(
        default=True,
        url=_AUGREG
        + "S_32-i21k-300ep-lr_0.001-aug_light1-wd_0.03-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.03-res_224.npz",
        custom_load=True,
    ),
    "vit_small_patch32_224.augreg_in21k": weight(
        url=_AUGREG + "S_32-i21k-300ep-lr_0.001-aug_light1-wd_0.03-do_0.0-sd_0.0.npz",
        custom_load=True,
        num_classes=21843,
    ),
    "vit_small_patch32_384.augreg_in21k_ft_in1k": weight(
        url=_AUGREG
        + "S_32-i21k-300ep-lr_0.001-aug_light1-wd_0.03-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.03-res_384.npz",
        custom_load=True,
        input_size=(3, 384, 384),
        crop_pct=1.0,
    ),
    "vit_so150m2_patch16_reg1_gap_256.sbb_e200_in12k_ft_in1k": weight(
        default=True, input_size=(3, 256, 256), crop_pct=1.0
    ),
    "vit_so150m2_patch16_reg1_gap_256.sbb_e200_in12k": weight(
        input_size=(3, 256, 256), crop_pct=1.0, num_classes=11821
    ),
    "vit_so150m2_patch16_reg1_gap_384.sbb_e200_in12k_ft_in1k": weight(input_size=(3, 384, 384), crop_pct=1.0),
    "vit_so150m2_patch16_reg1_gap_448.sbb_e200_in12k_ft_in1k": weight(
        input_size=(3, 448, 448), crop_pct=1.0, crop_mode="squash"
    ),
    "vit_so150m_patch16_reg4_gap_256.sbb_e250_in12k_ft_in1k": weight(
        default=True, input_size=(3, 256, 256), crop_pct=0.95
    ),
    "vit_so150m_patch16_reg4_gap_256.sbb_e250_in12k": weight(
        input_size=(3, 256, 256), crop_pct=0.95, num_classes=11821
    ),
    "vit_so150m_patch16_reg4_gap_384.sbb_e250_in12k_ft_in1k": weight(input_size=(3, 384, 384), crop_pct=1.0),
    "vit_so150m_patch16_reg4_map_256.untrained": weight(NO_WEIGHTS, input_size=(3, 256, 256)),
    "vit_so400m_patch14_reg1_tipsv2.webli": weight(
        input_size=(3, 448, 448), crop_pct=1.0, mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0), num_classes=0
    ),
    "vit_so400m_patch14_siglip_224.v2_webli": weight(default=True, num_classes=0),
    "vit_so400m_patch14_siglip_224.webli": weight(num_classes=0),
    "vit_so400m_patch14_siglip_378.v2_webli": weight(default=True, input_size=(3, 378, 378), num_classes=0),
    "vit_so400m_patch14_siglip_378.webli": weight(input_size=(3, 378, 378), num_classes=0),
    "vit_so400m_patch14_siglip_378.webli_ft_in1k": weight(
        input_size=(3, 378, 378), crop_pct=1.0, crop_mode="squash"
    ),
    "vit_so400m_patch14_siglip_384.webli": weight(input_size=(3, 384, 384), num_classes=0),
    "vit_so400m_patch14_siglip_gap_224.v2_webli": weight(default=True, num_classes=0),
    "vit_so400m_patch14_siglip_gap_224.webli": weight(num_classes=0),
    "vit_so400m_patch14_siglip_gap_224.pali_mix": weight(num_classes=0),
    "vit_so400m_patch14_siglip_gap_224.pali_pt": weight(num_classes=0),
    "vit_so400m_patch14_siglip_gap_224.pali2_3b_pt": weight(num_classes=0),
    "vit_so400m_patch14_siglip_gap_224.pali2_10b_pt": weight(num_classes=0),
    "vit_so400m_patch14_siglip_gap_378.v2_webli": weight(
        default=True, input_size=(3, 378, 378), num_classes=0
    ),
    "vit_so400m_patch14_siglip_gap_378.webli": weight(input_size=(3, 378, 378), crop_pct=1.0, num_classes=0),
    "vit_so400m_patch14_siglip_gap_378.webli_ft_in1k": weight(
        input_size=(3, 378, 378), crop_pct=1.0, crop_mode="squash"
    ),
    "vit_so400m_patch14_siglip_gap_384.webli": weight(input_size=(3, 384, 384), crop_pct=1.0, num_classes=0),
    "vit_so400m_patch14_siglip_gap_448.pali_mix": weight(
        default=True, input_size=(3, 448, 448), crop_pct=1.0, num_classes=0
    ),
    "vit_so400m_patch14_siglip_gap_448.pali_pt": weight(
        input_size=(3, 448, 448), crop_pct=1.0, num_classes=0
    ),
    "vit_so400m_patch14_siglip_gap_448.pali_refcoco_seg": weight(
        input_size=(3, 448, 448), crop_pct=1.0, num_classes=0
    ),
    "vit_so400m_patch14_siglip_gap_448.pali_ocrvqa": weight(
        input_size=(3, 448, 448), crop_pct=1.0, num_classes=0
    ),
    "vit_so400m_patch14_siglip_gap_448.pali2_3b_pt": weight(
        input_size=(3, 448, 448), crop_pct=1.0, num_classes=0
    ),
    "vit_so400m_patch14_siglip_gap_448.pali2_10b_pt": weight(
        input_size=(3, 448, 448), crop_pct=1.0, num_classes=0
    ),
    "vit_so400m_patch14_siglip_gap_448.pali2_3b_docci": weight(
        input_size=(3, 448, 448), crop_pct=1.0, num_classes=0
    ),
    "vit_so400m_patch14_siglip_gap_448.pali2_10b_docci": weight(
        input_size=(3, 448, 448), crop_pct=1.0, num_classes=0
    ),
    "vit_so400m_patch14_siglip_gap_896.pali_pt": weight(
        default=True, input_size=(3, 896, 896), crop_pct=1.0, num_classes=0
    ),
    "vit_so400m_patch14_siglip_gap_896.pali_refcoco_seg": weight(
        input_size=(3, 896, 896), crop_pct=1.0, num_classes=0
    ),
    "vit_so400m_patch14_siglip_gap_896.pali_ocrvqa": weight(
        input_size=(3, 896, 896), crop_pct=1.0, num_classes=0
    ),
    "vit_so400m_patch14_siglip_gap_896.pali2_3b_pt": weight(
        input_size=(3, 896, 896), crop_pct=1.0, num_classes=0
    ),
    "vit_so400m_patch14_siglip_gap_896.pali2_10b_pt": weight(
        input_size=(3, 896, 896), crop_pct=1.0, num_classes=0
    ),
    "vit_so400m_patch16_radio_v4.c_radio": weight(
        _CLIPW,
        input_size=(3, 512, 512),
        crop_pct=1.0,
        num_classes=0,
        license="nvidia-open-model-license",
        origin_url="https://github.com/NVlabs/RADIO",
        paper_ids="arXiv:2601.17237",
    ),
    "vit_so400m_patch16_siglip_256.v2_webli": weight(default=True, input_size=(3, 256, 256), num_classes=0),
    "vit_so400m_patch16_siglip_256.webli_i18n": weight(input_size=(3, 256, 256), num_classes=0),
    "vit_so400m_patch16_siglip_384.v2_webli": weight(input_size=(3, 384, 384), num_classes=0),
    "vit_so400m_patch16_siglip_512.v2_webli": weight(input_size=(3, 512, 512), num_classes=0),
    "vit_so400m_patch16_siglip_gap_256.v2_webli": weight(
        default=True, input_size=(3, 256, 256), num_classes=0
    ),
    "vit_so400m_patch16_siglip_gap_256.webli_i18n": weight(input_size=(3, 256, 256), num_classes=0),
    "vit_so400m_patch16_siglip_gap_384.v2_webli": weight(input_size=(3, 384, 384), num_classes=0),
    "vit_so400m_patch16_siglip_gap_512.v2_webli": weight(input_size=(3, 512, 512), num_classes=0),
    "vit_tiny_patch16_224.augreg_in21k_ft_in1k": weight(
        default=True,
        url=_AUGREG
        + "Ti_16-i21k-300ep-lr_0.001-aug_none-wd_0.03-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.03-res_224.npz",
        custom_load=True,
    ),
    "vit_tiny_patch16_224.augreg_in21k": weight(
        url=_AUGREG + "Ti_16-i21k-300ep-lr_0.001-aug_none-wd_0.03-do_0.0-sd_0.0.npz",
        custom_load=True,
        num_classes=21843,
    ),
    "vit_tiny_patch16_384.augreg_in21k_ft_in1k": weight(
        url=_AUGREG
        + "Ti_16-i21k-300ep-lr_0.001-aug_none-wd_0.03-do_0.0-sd_0.0--imagenet2012-steps_20k-lr_0.03-res_384.npz",
        custom_load=True,
        input_size=(3, 384, 384),
        crop_pct=1.0,
    ),
    "vit_wee_patch16_reg1_gap_256.sbb_in1k": weight(input_size=(3, 256, 256), crop_pct=0.95),
    "vit_xsmall_patch16_clip_224.tinyclip_yfcc15m": weight(_CLIPW, num_classes=512, license="mit"),
}

# names from older timm releases -> the tag that replaced them
DEPRECATED: dict[str, str | None] = {
    "vit_tiny_patch16_224_in21k": "vit_tiny_patch16_224.augreg_in21k",
    "vit_small_patch32_224_in21k": "vit_small_patch32_224.augreg_in21k",
    "vit_small_patch16_224_in21k": "vit_small_patch16_224.augreg_in21k",
    "vit_base_patch32_224_in21k": "vit_base_patch32_224.augreg_in21k",
    "vit_base_patch16_224_in21k": "vit_base_patch16_224.augreg_in21k",
    "vit_base_patch8_224_in21k": "vit_base_patch8_224.augreg_in21k",
    "vit_large_patch32_224_in21k": "vit_large_patch32_224.orig_in21k",
    "vit_large_patch16_224_in21k": "vit_large_patch16_224.augreg_in21k",
    "vit_huge_patch14_224_in21k": "vit_huge_patch14_224.orig_in21k",
    "vit_base_patch32_224_sam": "vit_base_patch32_224.sam",
    "vit_base_patch16_224_sam": "vit_base_patch16_224.sam",
    "vit_small_patch16_224_dino": "vit_small_patch16_224.dino",
    "vit_small_patch8_224_dino": "vit_small_patch8_224.dino",
    "vit_base_patch16_224_dino": "vit_base_patch16_224.dino",
    "vit_base_patch8_224_dino": "vit_base_patch8_224.dino",
    "vit_base_patch16_224_miil_in21k": "vit_base_patch16_224_miil.in21k",
    "vit_base_patch32_224_clip_laion2b": "vit_base_patch32_clip_224.laion2b",
    "vit_large_patch14_224_clip_laion2b": "vit_large_patch14_clip_224.laion2b",
    "vit_huge_patch14_224_clip_laion2b": "vit_huge_patch14_clip_224.laion2b",
    "vit_giant_patch14_224_clip_laion2b": "vit_giant_patch14_clip_224.laion2b",
}
