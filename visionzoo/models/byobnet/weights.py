"""ByobNet weight tags. Values equal timm 1.0.31's configs; the final pool size follows the
input size (stride 32)."""

from __future__ import annotations

from functools import partial

from ...pretrained import NO_WEIGHTS, OPENAI_CLIP_MEAN, OPENAI_CLIP_STD, RWIGHTMAN_RELEASES, weight

__all__ = ["CFG_DEFAULTS", "WEIGHTS"]

CFG_DEFAULTS = dict(
    input_size=(3, 224, 224),
    pool_size=(7, 7),
    crop_pct=0.875,
    interpolation="bilinear",
    first_conv="stem.conv",
    classifier="head.fc",
    license="apache-2.0",
)
_w = partial(weight, pool_reduction=32)
# timm-trained at 256 px, bicubic
_R = dict(
    input_size=(3, 256, 256),
    pool_size=(8, 8),
    crop_pct=0.9,
    interpolation="bicubic",
    first_conv="stem.conv1.conv",
)
_R288 = dict(_R, test_input_size=(3, 288, 288), test_crop_pct=1.0)
_ATTN = RWIGHTMAN_RELEASES + "v0.1-attn-weights/"
_TPU = RWIGHTMAN_RELEASES + "v0.1-tpu-weights/"
_HALF = dict(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))
_REPVGG = dict(first_conv=("stem.conv_kxk.conv", "stem.conv_1x1.conv"), license="mit")
_MOBILEONE = dict(first_conv=("stem.conv_kxk.0.conv", "stem.conv_scale.conv"), license="mobileone-license")
_CLIP = dict(_R, mean=OPENAI_CLIP_MEAN, std=OPENAI_CLIP_STD, license="mit")
_CLIP_POOL = dict(_CLIP, fixed_input_size=True, classifier="head.proj")  # the attention pool projects
_CLIP_GAP = dict(_CLIP, num_classes=0)  # image features, no classifier

WEIGHTS = {
    "gernet_s.idstcv_in1k": _w(),
    "gernet_m.idstcv_in1k": _w(),
    "gernet_l.idstcv_in1k": _w(size=256),
    "repvgg_a0.rvgg_in1k": _w(_REPVGG),
    "repvgg_a1.rvgg_in1k": _w(_REPVGG),
    "repvgg_a2.rvgg_in1k": _w(_REPVGG),
    "repvgg_b0.rvgg_in1k": _w(_REPVGG),
    "repvgg_b1.rvgg_in1k": _w(_REPVGG),
    "repvgg_b1g4.rvgg_in1k": _w(_REPVGG),
    "repvgg_b2.rvgg_in1k": _w(_REPVGG),
    "repvgg_b2g4.rvgg_in1k": _w(_REPVGG),
    "repvgg_b3.rvgg_in1k": _w(_REPVGG),
    "repvgg_b3g4.rvgg_in1k": _w(_REPVGG),
    "repvgg_d2se.rvgg_in1k": _w(_REPVGG, size=320, crop=1.0),
    "resnet51q.ra2_in1k": _w(
        url=RWIGHTMAN_RELEASES + "v0.1-weights/resnet51q_ra2-d47dcc76.pth",
        first_conv="stem.conv1",
        size=256,
        test=288,
        test_crop_pct=1.0,
    ),
    "resnet61q.ra2_in1k": _w(_R288, url=RWIGHTMAN_RELEASES + "v0.1-weights/resnet61q_ra2-6afc536c.pth"),
    "resnext26ts.ra2_in1k": _w(_R288, url=_ATTN + "resnext26ts_256_ra2-8bbd9106.pth"),
    "seresnext26ts.ch_in1k": _w(_R288, url=_ATTN + "seresnext26ts_256-6f0d74a3.pth"),
    "gcresnext26ts.ch_in1k": _w(_R288, url=_ATTN + "gcresnext26ts_256-e414378b.pth"),
    "eca_resnext26ts.ch_in1k": _w(_R288, url=_ATTN + "eca_resnext26ts_256-5a1d030f.pth"),
    "bat_resnext26ts.ch_in1k": _w(
        _R, url=_ATTN + "bat_resnext26ts_256-fa6fd595.pth", min_input_size=(3, 256, 256)
    ),
    "resnet32ts.ra2_in1k": _w(_R288, url=_ATTN + "resnet32ts_256-aacf5250.pth"),
    "resnet33ts.ra2_in1k": _w(_R288, url=_ATTN + "resnet33ts_256-e91b09a4.pth"),
    "gcresnet33ts.ra2_in1k": _w(_R288, url=_ATTN + "gcresnet33ts_256-0e0cd345.pth"),
    "seresnet33ts.ra2_in1k": _w(_R288, url=_ATTN + "seresnet33ts_256-f8ad44d9.pth"),
    "eca_resnet33ts.ra2_in1k": _w(_R288, url=_ATTN + "eca_resnet33ts_256-8f98face.pth"),
    "gcresnet50t.ra2_in1k": _w(_R288, url=_ATTN + "gcresnet50t_256-96374d1c.pth"),
    "gcresnext50ts.ch_in1k": _w(_R288, url=_ATTN + "gcresnext50ts_256-3e0f515e.pth"),
    "regnetz_b16.ra3_in1k": _w(
        _R288, _HALF, url=_ATTN + "regnetz_b_raa-677d9606.pth", first_conv="stem.conv", size=224, crop=0.94
    ),
    "regnetz_c16.ra3_in1k": _w(
        _R288,
        _HALF,
        url=_ATTN + "regnetz_c_rab2_256-a54bf36a.pth",
        first_conv="stem.conv",
        crop=0.94,
        test=320,
    ),
    "regnetz_d32.ra3_in1k": _w(_R, _HALF, url=_ATTN + "regnetz_d_rab_256-b8073a89.pth", crop=0.95, test=320),
    "regnetz_d8.ra3_in1k": _w(_R288, _HALF, url=_ATTN + "regnetz_d8_bh-afc03c55.pth", crop=0.94, test=320),
    "regnetz_e8.ra3_in1k": _w(_R288, _HALF, url=_ATTN + "regnetz_e8_bh-aace8e6e.pth", crop=0.94, test=320),
    "regnetz_b16_evos.untrained": _w(
        _R, _HALF, NO_WEIGHTS, first_conv="stem.conv", size=224, crop=0.95, test=288
    ),
    "regnetz_c16_evos.ch_in1k": _w(
        _R, _HALF, url=_TPU + "regnetz_c16_evos_ch-d8311942.pth", first_conv="stem.conv", crop=0.95, test=320
    ),
    "regnetz_d8_evos.ch_in1k": _w(
        _R, _HALF, url=_TPU + "regnetz_d8_evos_ch-2bc12646.pth", crop=0.95, test=320, test_crop_pct=1.0
    ),
    "mobileone_s0.apple_in1k": _w(_MOBILEONE),
    "mobileone_s1.apple_in1k": _w(_MOBILEONE, crop=0.9),
    "mobileone_s2.apple_in1k": _w(_MOBILEONE, crop=0.9),
    "mobileone_s3.apple_in1k": _w(_MOBILEONE, crop=0.9),
    "mobileone_s4.apple_in1k": _w(_MOBILEONE, crop=0.9),
    "resnet50_clip.openai": _w(_CLIP_POOL, num_classes=1024, size=224, default=True),
    "resnet101_clip.openai": _w(_CLIP_POOL, num_classes=512, size=224, default=True),
    "resnet50x4_clip.openai": _w(_CLIP_POOL, num_classes=640, size=288),
    "resnet50x16_clip.openai": _w(_CLIP_POOL, num_classes=768, size=384),
    "resnet50x64_clip.openai": _w(_CLIP_POOL, num_classes=1024, size=448),
    "resnet50_clip.cc12m": _w(_CLIP_POOL, num_classes=1024, size=224),
    "resnet50_clip.yfcc15m": _w(_CLIP_POOL, num_classes=1024, size=224),
    "resnet101_clip.yfcc15m": _w(_CLIP_POOL, num_classes=512, size=224),
    "resnet50_clip_gap.openai": _w(_CLIP_GAP, size=224, default=True),
    "resnet101_clip_gap.openai": _w(_CLIP_GAP, size=224, default=True),
    "resnet50x4_clip_gap.openai": _w(_CLIP_GAP, size=288),
    "resnet50x16_clip_gap.openai": _w(_CLIP_GAP, size=384),
    "resnet50x64_clip_gap.openai": _w(_CLIP_GAP, size=448),
    "resnet50_clip_gap.cc12m": _w(_CLIP_GAP, size=224),
    "resnet50_clip_gap.yfcc15m": _w(_CLIP_GAP, size=224),
    "resnet101_clip_gap.yfcc15m": _w(_CLIP_GAP, size=224),
    "resnet50_mlp.untrained": _w(_R, NO_WEIGHTS),
    "test_byobnet.r160_in1k": _w(_R, first_conv="stem.conv", size=160, crop=0.95),
}
