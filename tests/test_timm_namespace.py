"""timm's public namespaces at the same paths: ``visionzoo.models.X`` / ``visionzoo.layers.X``.

Code written against timm (segmentation_models_pytorch's ``tu-`` encoders, training scripts)
switches with one import line; these tests hold the names to timm's (timm is the oracle) and
build an smp-style U-Net from our namespaces alone.
"""

from __future__ import annotations

import importlib

import pytest
import timm
import timm.layers
import timm.models
import torch
import torch.nn.functional as F
from torch import nn

import visionzoo.layers
import visionzoo.models

pytestmark = pytest.mark.contract

# timm.models names that apply to our families and core (timm 1.0.31)
MODELS_NAMES = [
    "BasicBlock",
    "Bottleneck",
    "CspNet",
    "DenseNet",
    "FeatureDictNet",
    "FeatureGraphNet",
    "FeatureHookNet",
    "FeatureInfo",
    "FeatureListNet",
    "InceptionV3",
    "PretrainedCfg",
    "ResNet",
    "XceptionAligned",
    "adapt_model_from_string",
    "build_model_with_cfg",
    "checkpoint_seq",
    "clean_state_dict",
    "create_feature_extractor",
    "create_model",
    "get_arch_name",
    "get_arch_pretrained_cfgs",
    "get_deprecated_models",
    "get_graph_node_names",
    "get_notrace_functions",
    "get_notrace_modules",
    "get_pretrained_cfg",
    "get_pretrained_cfg_value",
    "is_model",
    "is_model_in_modules",
    "is_model_pretrained",
    "is_notrace_function",
    "is_notrace_module",
    "list_models",
    "list_modules",
    "list_pretrained",
    "load_checkpoint",
    "load_pretrained",
    "load_state_dict",
    "model_entrypoint",
    "model_parameters",
    "named_apply",
    "named_modules",
    "parse_model_name",
    "register_model",
    "register_notrace_function",
    "register_notrace_module",
    "resolve_pretrained_cfg",
    "resume_checkpoint",
    "safe_model_name",
    "split_model_name_tag",
]
MODEL_MODULES = ["cspnet", "densenet", "inception_v3", "resnet", "xception_aligned"]

# timm.layers names that apply to our layers
LAYERS_NAMES = [
    "AdaptiveAvgMaxPool2d",
    "AvgPool2dSame",
    "BatchNormAct2d",
    "BlurPool2d",
    "ClassifierHead",
    "Conv2dSame",
    "ConvBnAct",
    "ConvNormAct",
    "DropBlock2d",
    "DropPath",
    "EcaModule",
    "EfficientChannelAttn",
    "Format",
    "GELU",
    "GroupNorm",
    "GroupNorm1",
    "GroupNormAct",
    "HardMish",
    "HardSigmoid",
    "HardSwish",
    "LayerType",
    "Mish",
    "PReLU",
    "SEModule",
    "SelectAdaptivePool2d",
    "Sigmoid",
    "SqueezeExcite",
    "Swish",
    "Tanh",
    "adaptive_avgmax_pool2d",
    "create_aa",
    "create_act_layer",
    "create_attn",
    "create_classifier",
    "create_conv2d",
    "create_feature_extractor",
    "drop_block_2d",
    "drop_path",
    "extend_tuple",
    "gelu",
    "get_act_fn",
    "get_act_layer",
    "get_attn",
    "get_channel_dim",
    "get_graph_node_names",
    "get_norm_act_layer",
    "get_norm_layer",
    "get_notrace_functions",
    "get_notrace_modules",
    "get_padding",
    "get_same_padding",
    "get_spatial_dim",
    "hard_mish",
    "hard_sigmoid",
    "hard_swish",
    "is_exportable",
    "is_no_jit",
    "is_notrace_function",
    "is_notrace_module",
    "is_scriptable",
    "lecun_normal_",
    "make_divisible",
    "mish",
    "nchw_to",
    "nhwc_to",
    "pad_same",
    "register_notrace_function",
    "register_notrace_module",
    "select_adaptive_pool2d",
    "set_exportable",
    "set_layer_config",
    "set_no_jit",
    "set_scriptable",
    "sigmoid",
    "swish",
    "tanh",
    "to_2tuple",
    "to_3tuple",
    "to_4tuple",
    "to_ntuple",
    "trunc_normal_",
    "trunc_normal_tf_",
    "variance_scaling_",
]


@pytest.mark.parametrize(
    ("ours", "theirs", "names"),
    [
        (visionzoo.models, timm.models, MODELS_NAMES),
        (visionzoo.layers, timm.layers, LAYERS_NAMES),
    ],
    ids=["models", "layers"],
)
def test_timm_names_are_offered_and_ours(ours, theirs, names):
    assert not [n for n in names if not hasattr(theirs, n)], "only names timm's namespace has"
    missing = [n for n in names if not hasattr(ours, n)]
    assert not missing
    for n in names:
        obj = getattr(ours, n)
        module = getattr(obj, "__module__", None) or ""
        assert not module.startswith("timm"), f"{n} comes from timm"
    assert set(names) <= set(ours.__all__)


def test_family_modules_at_timm_paths():
    for name in MODEL_MODULES:
        assert importlib.import_module(f"visionzoo.models.{name}").__name__ == f"visionzoo.models.{name}"
    assert visionzoo.models.ResNet is importlib.import_module("visionzoo.models.resnet").ResNet
    # every family's model class is offered (from the registry's index, loaded on first use): the
    # class create_model builds
    assert visionzoo.models.EfficientNet is type(visionzoo.create_model("efficientnet_b0", device="meta"))
    assert "EfficientNet" in visionzoo.models.__all__ and "EfficientNet" in dir(visionzoo.models)


def test_activations_module_path():
    from visionzoo.layers.activations import HardMish, Swish, hard_mish

    x = torch.linspace(-4, 4, 33)
    torch.testing.assert_close(Swish()(x), timm.layers.activations.Swish()(x))
    torch.testing.assert_close(HardMish()(x), timm.layers.activations.HardMish()(x))
    torch.testing.assert_close(hard_mish(x.clone(), inplace=True), timm.layers.activations.hard_mish(x))


# --- registry-level names -------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["input_size", "crop_pct", "mean", "first_conv", "classifier", "hf_hub_id"])
@pytest.mark.parametrize("name", ["resnet50.a1_in1k", "inception_v3", "cspdarknet53"])
def test_get_pretrained_cfg_value_matches_timm(name, key):
    ours = visionzoo.models.get_pretrained_cfg_value(name, key)
    theirs = timm.models.get_pretrained_cfg_value(name, key)
    assert (tuple(ours) if isinstance(ours, (list, tuple)) else ours) == (
        tuple(theirs) if isinstance(theirs, (list, tuple)) else theirs
    )


def test_get_pretrained_cfg_value_rejects_unknown_field():
    with pytest.raises(KeyError, match="'input_sizee' is not a pretrained cfg field"):
        visionzoo.models.get_pretrained_cfg_value("resnet50", "input_sizee")


@pytest.mark.parametrize(
    "name", ["resnet50", "resnet50.a1_in1k", "hf-hub:timm/resnet50.a1_in1k", "local-dir:runs/x"]
)
def test_safe_model_name_and_parse_match_timm(name):
    assert visionzoo.models.safe_model_name(name) == timm.models.safe_model_name(name)
    assert visionzoo.models.safe_model_name(name, remove_source=False) == timm.models.safe_model_name(
        name, remove_source=False
    )
    assert visionzoo.models.parse_model_name(name) == timm.models.parse_model_name(name)


@pytest.mark.parametrize(
    ("name", "match"),
    [("ftp:resnet50", "unknown source 'ftp:'"), ("res net", "not a model name"), ("hf-hub:", "names no")],
)
def test_parse_model_name_rejects_non_names(name, match):
    with pytest.raises(ValueError, match=match):
        visionzoo.models.parse_model_name(name)


def test_list_models_timm_signature():
    vz = visionzoo.models
    names = vz.list_models("resnet1*", "", False, "", True)  # timm's positional order
    assert names == vz.list_models("resnet1*", name_matches_cfg=True)
    assert names and set(names) <= set(vz.list_models("resnet1*"))
    assert set(names) <= set(timm.models.list_models("resnet1*", name_matches_cfg=True)) | {"resnet10"}
    assert vz.get_arch_name("resnet50.a1_in1k") == "resnet50"
    assert vz.is_model_in_modules("resnet50.a1_in1k", ["resnet"])
    assert not vz.is_model_in_modules("resnet50", "densenet")


# --- layers ---------------------------------------------------------------------------------------
def test_create_act_layer_none_and_act_fns():
    L = visionzoo.layers
    assert L.create_act_layer(None) is None and timm.layers.create_act_layer(None) is None
    assert isinstance(L.create_act_layer("hard_mish"), L.HardMish)
    x = torch.linspace(-5, 5, 41)
    for name in ("hard_mish", "swish", "mish", "hard_swish", "hard_sigmoid", "sigmoid", "tanh", "gelu"):
        torch.testing.assert_close(L.get_act_fn(name)(x), timm.layers.get_act_fn(name)(x), msg=name)
    with pytest.raises(ValueError, match="unknown activation function 'hardmeesh'"):
        L.get_act_fn("hardmeesh")


@pytest.mark.parametrize(
    "pool_type",
    ["avg", "max", "avgmax", "catavgmax", "fast", "fastavg", "fastmax", "fastavgmax", "fastcatavgmax"],
)
def test_pools_match_timm(pool_type):
    L = visionzoo.layers
    x = torch.randn(2, 5, 7, 6)
    ours = L.SelectAdaptivePool2d(pool_type=pool_type, flatten=True)
    theirs = timm.layers.SelectAdaptivePool2d(pool_type=pool_type, flatten=True)
    torch.testing.assert_close(ours(x), theirs(x))
    assert ours.feat_mult() == theirs.feat_mult()
    if not pool_type.startswith("fast"):
        torch.testing.assert_close(
            L.select_adaptive_pool2d(x, pool_type, 2), timm.layers.select_adaptive_pool2d(x, pool_type, 2)
        )
    torch.testing.assert_close(L.adaptive_avgmax_pool2d(x, 3), timm.layers.adaptive_avgmax_pool2d(x, 3))
    torch.testing.assert_close(L.AdaptiveAvgMaxPool2d(1)(x), timm.layers.AdaptiveAvgMaxPool2d(1)(x))
    with pytest.raises(ValueError, match="unknown global_pool 'fastest'"):
        L.SelectAdaptivePool2d(pool_type="fastest")


def test_create_model_fast_global_pool():
    model = visionzoo.models.create_model("test_resnet", global_pool="fastcatavgmax", num_classes=0).eval()
    assert model(torch.randn(1, 3, 32, 32)).shape[1] == 2 * model.num_features


@pytest.mark.parametrize("fmt", ["NCHW", "NHWC", "NCL", "NLC"])
def test_format_matches_timm(fmt):
    L = visionzoo.layers
    assert L.Format(fmt) == fmt == timm.layers.Format(fmt)
    assert L.get_spatial_dim(fmt) == timm.layers.get_spatial_dim(fmt)
    assert L.get_channel_dim(fmt) == timm.layers.get_channel_dim(fmt)
    x = torch.randn(2, 3, 4, 5)
    torch.testing.assert_close(L.nchw_to(x, fmt), timm.layers.nchw_to(x, timm.layers.Format(fmt)))
    torch.testing.assert_close(L.nhwc_to(x, fmt), timm.layers.nhwc_to(x, timm.layers.Format(fmt)))
    with pytest.raises(ValueError, match="unknown format 'NHCW'"):
        L.get_channel_dim("NHCW")


def test_tuple_helpers_match_timm():
    L = visionzoo.layers
    for value in (3, (1, 2), [4, 5, 6]):
        assert L.to_2tuple(value) == timm.layers.to_2tuple(value)
        assert L.to_3tuple(value) == timm.layers.to_3tuple(value)
    assert L.extend_tuple((1, 2), 4) == timm.layers.extend_tuple((1, 2), 4) == (1, 2, 2, 2)
    assert L.get_same_padding(7, 3, 2, 1) == timm.layers.get_same_padding(7, 3, 2, 1)


def test_weight_init():
    L = visionzoo.layers
    torch.manual_seed(0)
    w = L.trunc_normal_(torch.empty(4000), std=0.02, a=-0.04, b=0.04)
    assert w.abs().max() <= 0.04 and 0.015 < float(w.std()) < 0.02
    w = L.trunc_normal_tf_(torch.empty(4000), std=0.02)  # bounds count in standard deviations
    assert w.abs().max() <= 0.04 + 1e-7 and float(w.std()) > 0.015
    w = L.lecun_normal_(torch.empty(256, 400))
    assert abs(float(w.std()) - 0.05) < 0.005  # variance 1 / fan_in
    with pytest.raises(ValueError, match="unknown mode 'fan'"):
        L.variance_scaling_(torch.empty(3, 3), mode="fan")


def test_drop_block_2d():
    x = torch.ones(8, 4, 16, 16)
    torch.manual_seed(0)
    out = visionzoo.layers.drop_block_2d(x, drop_prob=0.3, block_size=3)
    dropped = float((out == 0).float().mean())
    assert 0.15 < dropped < 0.45
    assert torch.allclose(out[out != 0].mean(), torch.tensor(1 / (1 - dropped)), rtol=0.05)
    noisy = visionzoo.layers.drop_block_2d(x, drop_prob=0.3, block_size=3, with_noise=True)
    assert ((noisy != 1) & (noisy != 0)).any()  # dropped squares hold noise, not zeros


# --- module helpers and checkpoints ---------------------------------------------------------------
def test_named_apply_order_matches_timm():
    model = visionzoo.models.create_model("test_resnet")
    for depth_first in (True, False):
        ours: list[str] = []
        theirs: list[str] = []
        visionzoo.models.named_apply(
            lambda module, name, out=ours: out.append(name), model, depth_first=depth_first
        )
        timm.models.named_apply(
            lambda module, name, out=theirs: out.append(name), model, depth_first=depth_first
        )
        assert ours == theirs
        assert [n for n, _ in visionzoo.models.named_modules(model, depth_first=depth_first)] == [
            n for n, _ in timm.models.named_modules(model, depth_first=depth_first)
        ]


def test_checkpoint_seq_equals_sequential():
    torch.manual_seed(0)
    seq = nn.Sequential(*[nn.Sequential(nn.Linear(8, 8), nn.GELU()) for _ in range(5)])
    x = torch.randn(3, 8, requires_grad=True)
    want = seq(x)
    (gx,) = torch.autograd.grad(want.sum(), x)
    for every, flatten, skip_last in ((1, False, False), (2, True, True)):
        got = visionzoo.models.checkpoint_seq(seq, x, every=every, flatten=flatten, skip_last=skip_last)
        torch.testing.assert_close(got, want)
        torch.testing.assert_close(torch.autograd.grad(got.sum(), x)[0], gx)


def test_resume_checkpoint_reads_timm_train_checkpoints(tmp_path):
    torch.manual_seed(0)
    trained = visionzoo.models.create_model("test_resnet", num_classes=3)
    opt = torch.optim.SGD(trained.parameters(), lr=0.1, momentum=0.9)
    trained(torch.randn(2, 3, 32, 32)).sum().backward()
    opt.step()
    path = tmp_path / "last.pth.tar"
    # the layout timm's CheckpointSaver writes (no args: that needs the safe-globals allow-list)
    state = {k: v for k, v in trained.state_dict().items()}
    torch.save(
        {"epoch": 4, "arch": "test_resnet", "state_dict": state, "optimizer": opt.state_dict(), "version": 2},
        path,
    )

    fresh = visionzoo.models.create_model("test_resnet", num_classes=3)
    fresh_opt = torch.optim.SGD(fresh.parameters(), lr=0.1, momentum=0.9)
    epoch = visionzoo.models.resume_checkpoint(fresh, path, optimizer=fresh_opt, log_info=False)
    oracle = timm.models.resume_checkpoint(
        visionzoo.models.create_model("test_resnet", num_classes=3), str(path), log_info=False
    )
    assert epoch == oracle == 5
    for k, v in trained.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[k], v)
    assert fresh_opt.state_dict()["state"].keys() == opt.state_dict()["state"].keys()

    torch.save(state, tmp_path / "weights.pth")  # a plain state dict: weights only, no epoch
    assert visionzoo.models.resume_checkpoint(fresh, tmp_path / "weights.pth") is None
    with pytest.raises(visionzoo.WeightsError, match="weights file not found"):
        visionzoo.models.resume_checkpoint(fresh, tmp_path / "missing.pth")


# --- an smp-style encoder from our namespaces alone -----------------------------------------------
class _UnetDecoder(nn.Module):
    """What segmentation_models_pytorch builds over a ``tu-`` encoder: upsample, concat the skip,
    two conv-norm-acts per level, then a 1x1 segmentation head at the input resolution."""

    def __init__(self, encoder_channels: list[int], classes: int, layers: object) -> None:
        super().__init__()
        chs = encoder_channels[::-1]
        self.blocks = nn.ModuleList()
        in_chs = chs[0]
        for skip, out in zip([*chs[1:], 0], [64, 32, 16, 16, 8][: len(chs)]):
            self.blocks.append(
                nn.Sequential(layers.ConvNormAct(in_chs + skip, out, 3), layers.ConvNormAct(out, out, 3))
            )
            in_chs = out
        self.head = nn.Conv2d(in_chs, classes, 1)

    def forward(self, features: list[torch.Tensor], size: tuple[int, int]) -> torch.Tensor:
        feats = features[::-1]
        x = feats[0]
        for i, block in enumerate(self.blocks):
            skip = feats[i + 1] if i + 1 < len(feats) else None
            x = F.interpolate(x, size=skip.shape[-2:] if skip is not None else size, mode="nearest")
            x = block(torch.cat([x, skip], 1) if skip is not None else x)
        return self.head(x)


@pytest.mark.parametrize("name", ["test_resnet", "cs3darknet_focus_s", "densenet121"])
def test_smp_style_unet_from_our_namespaces(name):
    # what an smp-like project imports at module load, with `timm` replaced by `visionzoo`
    from visionzoo import layers
    from visionzoo.layers import trunc_normal_
    from visionzoo.models import create_model, get_pretrained_cfg, is_model_pretrained

    assert get_pretrained_cfg(name) is not None and isinstance(is_model_pretrained(name), bool)
    encoder = create_model(name, features_only=True, out_indices=(1, 2, 3, 4), in_chans=4)
    channels, reductions = encoder.feature_info.channels(), encoder.feature_info.reduction()
    decoder = _UnetDecoder(channels, classes=2, layers=layers)
    trunc_normal_(decoder.head.weight, std=0.02)
    x = torch.randn(2, 4, 64, 64)
    features = encoder(x)
    assert [f.shape[1] for f in features] == channels
    assert [64 // f.shape[-1] for f in features] == reductions
    mask = decoder(features, size=(64, 64))
    assert mask.shape == (2, 2, 64, 64)
    mask.mean().backward()
    assert all(p.grad is not None for p in encoder.parameters())


# --- docs/usage.md runs as written ----------------------------------------------------------------
def test_usage_backbone_section_runs():
    from pathlib import Path

    text = (Path(__file__).parents[1] / "docs" / "usage.md").read_text()
    section = text.split("## Use as a detection / segmentation backbone", 1)[1].split("\n## ", 1)[0]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    torch.manual_seed(0)
    exec(compile(code, "docs/usage.md", "exec"), {"__name__": "usage_md"})
