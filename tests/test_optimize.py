"""optimize_for_inference: same outputs (fp32 exact to 1e-4, bf16 within agreement bounds on real
photos), every foldable BatchNorm folded, the original model untouched, clear precision errors.

Runs on one or two of the smallest models of every registered family, so a new family is
covered as soon as it is registered. No timing here: speed lives in ``benchmarks/``.
"""

from __future__ import annotations

import copy
import functools
import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from helpers import min_input_side
from sampling import by_size, ci_families, family_kwargs
from timm_oracle import materialize_random, rel_err, timm
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode

import visionzoo
from visionzoo.layers import BatchNormAct2d, ConvNormAct, LayerScale, LayerScale2d
from visionzoo.optimize import (
    FoldedNormAct,
    PackedConv2d,
    PackedLinear,
    count_batch_norms,
    find_conv_bn_pairs,
    fold_batch_norm,
    fold_layer_scales,
    optimize_for_inference,
    pack_linears,
    supported_precisions,
)

pytestmark = pytest.mark.contract

SIZE = 96  # the smallest size every family accepts (Inception-v3 needs > 75 px)
BF16 = "bf16" in supported_precisions("cpu")


def _smallest(module: str, count: int = 2) -> tuple[str, ...]:
    """The ``count`` registered models of ``module`` with the fewest parameters."""
    return by_size(module)[:count]


def _case(case: str) -> str:
    """``module-rank`` -> the rank-th smallest model of the module (resolved in the test, so
    collection builds no model)."""
    module, _, rank = case.rpartition("-")
    names = _smallest(module)
    if int(rank) >= len(names):
        pytest.skip(f"{module} has {len(names)} model(s)")
    return names[int(rank)]


CASES = [f"{module}-{rank}" for module in visionzoo.list_modules() for rank in (0, 1)]


def _random(name: str, **kwargs) -> nn.Module:
    model = visionzoo.create_model(name, device="meta", **kwargs)
    if model.pretrained_cfg.fixed_input_size and "img_size" not in kwargs:  # token models: test size
        model = visionzoo.create_model(name, device="meta", img_size=SIZE, **kwargs)
    return materialize_random(model)


def _x(batch: int = 2, side: int = SIZE) -> torch.Tensor:
    return torch.randn(batch, 3, side, side)


def _side(model: nn.Module) -> int:
    """SIZE, or the larger minimum a model's cfg states (attention over blocks of a fixed size);
    a fixed-size model is built at SIZE by :func:`_random`."""
    cfg = getattr(model, "pretrained_cfg", None)
    return SIZE if cfg is None or cfg.fixed_input_size else max(SIZE, min_input_side(model))


def _bns_fed_by_convs(model: nn.Module, x: torch.Tensor, *, intermediates: bool = False) -> list[str]:
    """Batch norms whose input is exactly a Conv2d's output (what folding should remove).

    With ``intermediates``, run ``forward_intermediates`` and leave out the norms whose input is
    also a returned feature map (folding would change that map, so it must not happen).
    """
    conv_outs: set[int] = set()
    keep: list[torch.Tensor] = []
    fed: list[tuple[str, torch.Tensor]] = []
    handles = []

    def on_conv(_m: nn.Module, _i: object, out: torch.Tensor) -> None:
        keep.append(out)
        conv_outs.add(id(out))

    def on_bn(name: str):
        def hook(_m: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
            if id(inputs[0]) in conv_outs:
                fed.append((name, inputs[0]))

        return hook

    for name, m in model.named_modules():
        if isinstance(m, (nn.Conv2d, PackedConv2d)):
            handles.append(m.register_forward_hook(on_conv))
        elif isinstance(m, nn.modules.batchnorm._BatchNorm):
            handles.append(m.register_forward_pre_hook(on_bn(name)))
    try:
        with torch.no_grad():
            if intermediates:
                returned = {id(t) for t in model.forward_intermediates(x, intermediates_only=True)}
                return [name for name, t in fed if id(t) not in returned]
            model(x)
    finally:
        for h in handles:
            h.remove()
    return [name for name, _ in fed]


# --- every family ------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
@pytest.mark.family_sampled
def test_fp32_same_outputs_and_bn_folded(case: str) -> None:
    name = _case(case)
    model = _random(name)
    x = _x(side=_side(model))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    types_before = [type(m) for m in model.modules()]
    foldable = _bns_fed_by_convs(model, x)

    fast = optimize_for_inference(model)
    with torch.no_grad():
        ref, out = model(x), fast(x)
        assert out.dtype == torch.float32 and out.shape == ref.shape
        assert rel_err(out, ref) <= 1e-4
        assert rel_err(fast.forward_features(x), model.forward_features(x)) <= 1e-4
        _, ref_inters = model.forward_intermediates(x)
        _, inters = fast.forward_intermediates(x)
        for a, b in zip(inters, ref_inters, strict=True):
            assert rel_err(a, b) <= 1e-4

    # every norm that read a conv's output is gone, unless that output is a feature map
    # forward_intermediates returns; the others (pre-activation norms) remain, except where a
    # reparameterisable block (RepVGG, MobileOne) fuses its identity-branch norm into its conv
    assert _bns_fed_by_convs(fast, x, intermediates=True) == []
    kept_for_taps = set(_bns_fed_by_convs(fast, x))
    expected = count_batch_norms(model) - len(set(foldable) - kept_for_taps)
    # (RepViT's blocks fuse for inference through their fuse_for_inference hook)
    reparameterised = any(hasattr(m, "reparameterize") or hasattr(m, "fuse") for m in model.modules())
    assert count_batch_norms(fast) <= expected if reparameterised else count_batch_norms(fast) == expected
    assert fast.training is False

    # the original is untouched: same modules, same tensors, still trainable
    assert [type(m) for m in model.modules()] == types_before
    after = model.state_dict()
    assert after.keys() == before.keys()
    assert all(torch.equal(after[k], v) for k, v in before.items())
    assert all(p.requires_grad for p in model.parameters())


@pytest.mark.parametrize("case", CASES)
@pytest.mark.family_sampled
def test_features_only_backbone(case: str) -> None:
    name = _case(case)
    backbone = _random(name, features_only=True)
    x = _x(side=_side(backbone))
    fast = optimize_for_inference(backbone)
    with torch.no_grad():
        ref, out = backbone(x), fast(x)
        ref_again = backbone(x)  # the original's feature taps still work after copying
    assert len(out) == len(ref) == len(ref_again)
    for a, b, c in zip(out, ref, ref_again):
        assert rel_err(a, b) <= 1e-4
        assert torch.equal(b, c)


def _photos() -> list[Path]:
    found = []
    for package, rel in (
        ("sklearn", ["datasets/images/china.jpg", "datasets/images/flower.jpg"]),
        ("matplotlib", ["mpl-data/sample_data/grace_hopper.jpg"]),
    ):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            root = Path(next(iter(spec.submodule_search_locations)))
            found += [root / r for r in rel if (root / r).is_file()]
    return found


@functools.cache
def _photo_crops(count: int = 100, side: int = SIZE) -> torch.Tensor:
    from PIL import Image
    from torchvision.transforms import v2

    paths = _photos()
    if not paths:
        pytest.skip("no sample photos installed (scikit-learn or matplotlib ship some)")
    images = [v2.functional.to_image(Image.open(p).convert("RGB")) for p in paths]
    crop = v2.Compose(
        [
            v2.RandomResizedCrop(side, scale=(0.08, 1.0), antialias=True),
            v2.RandomHorizontalFlip(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    torch.manual_seed(0)
    return torch.stack([crop(images[i % len(images)]) for i in range(count)])


TIE = 0.05  # a top-1 margin below this many logit standard deviations is a near-tie


@pytest.mark.skipif(not BF16, reason="this CPU has no native bf16")
@pytest.mark.parametrize("case", CASES)
@pytest.mark.family_sampled
def test_bf16_agrees_with_fp32_on_photos(case: str) -> None:
    """Logit cosine >= 0.999 on 100 crops of real photos, and top-1 agreement >= 99% on the
    crops where fp32 makes a clear call.

    No trained weights are available offline, so the weights are those ``create_model``
    initialises, with the classifier bias zeroed (at init it can outweigh the image-dependent
    part of the logits). Such logits are nearly flat: a few crops have top-2 margins of a
    thousandth of the logit spread, which no reduced precision orders reliably (timm's bf16
    flips the same ones). Those near-ties (margin < ``TIE`` logit std) are left out of the
    agreement count.
    """
    name = _case(case)
    model = visionzoo.create_model(name).eval()
    if model.pretrained_cfg.fixed_input_size:  # token models: built at the crops' size
        model = visionzoo.create_model(name, img_size=SIZE).eval()
    bias = getattr(model.get_classifier(), "bias", None)
    if bias is not None:
        nn.init.zeros_(bias)
    x = _photo_crops(side=_side(model))  # (HaloNet's blocks need 256 px)
    with torch.no_grad():  # the premise: at init, fp32 logits carry the image, not rounding noise
        exact = copy.deepcopy(model).double()(x[:4].double())
        premise = F.cosine_similarity(model(x[:4]).double(), exact, dim=1).min()
    if premise < 0.9999:
        # CSPNeXt and Inception v4 shrink the signal ~100x a stage at PyTorch's default init: the
        # logits (1e-11) are below fp32's rounding of the larger terms they came from, so fp32
        # agrees with float64 no better than bf16 does, and there is no reference to judge by
        pytest.skip(f"at init, {name}'s fp32 logits are rounding noise (cosine {premise:.3f} to float64)")
    fast = optimize_for_inference(model, precision="bf16")
    fc = fast.get_classifier()  # (RepViT's: its two distilled heads fused into one linear layer)
    in_fc = {id(p) for p in fc.parameters()}
    assert all(p.dtype == torch.bfloat16 for p in fast.parameters() if id(p) not in in_fc)
    assert all(p.dtype == torch.float32 for p in fc.parameters())  # logits are not rounded to bf16
    with torch.no_grad():
        ref = torch.cat([model(c) for c in x.split(25)])
        out = torch.cat([fast(c) for c in x.split(25)])
    assert out.dtype == torch.float32
    cos = F.cosine_similarity(out, ref, dim=1)
    assert cos.min() >= 0.999, f"min cosine {cos.min():.5f}"
    top2 = ref.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1]) >= TIE * ref.std(dim=1)
    assert clear.sum() >= 25, f"only {int(clear.sum())} of {len(x)} crops get a clear fp32 prediction"
    agree = (out.argmax(1) == ref.argmax(1))[clear].float().mean()
    assert agree >= 0.99, f"top-1 agreement {agree:.3f} on {int(clear.sum())} clear crops"


# --- folding, structurally ---------------------------------------------------------------------------
def _randomize_bn(model: nn.Module) -> nn.Module:
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.normal_(0, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            if m.affine:
                m.weight.data.uniform_(0.5, 1.5)
                m.bias.data.normal_(0, 0.5)
    return model.eval()


class _SharedOutput(nn.Module):
    """The conv's output feeds both the norm and a residual: folding would change the residual."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.bn(y) + y


class _ReusedConv(nn.Module):
    """One conv applied twice, each output with its own norm: no single fold is right for both."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 1)
        self.bn1 = nn.BatchNorm2d(3)
        self.bn2 = nn.BatchNorm2d(3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn1(self.conv(x)) + self.bn2(self.conv(x * 2))


class _StdConv(nn.Conv2d):
    """Weight-standardised conv: its weight is renormalised, so scaling it would be undone."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = (self.weight - self.weight.mean((1, 2, 3), keepdim=True)) / (
            self.weight.std((1, 2, 3), keepdim=True) + 1e-5
        )
        return F.conv2d(x, w, self.bias, self.stride, self.padding)


def test_folds_sequential_norm_act_and_conv_norm_act() -> None:
    model = _randomize_bn(
        nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1, bias=True),  # a conv with its own bias
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.Conv2d(8, 8, 3, padding=1, groups=4, bias=False),  # grouped
            BatchNormAct2d(8, act_layer=nn.LeakyReLU),
            ConvNormAct(8, 8, 3, act_layer=nn.SiLU),
            nn.Conv2d(8, 4, 1, bias=False),
            nn.BatchNorm2d(4, affine=False),
        )
    )
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        ref = model(x)
    fast = optimize_for_inference(model, channels_last=False)
    with torch.no_grad():
        assert rel_err(fast(x), ref) <= 1e-5
    assert count_batch_norms(fast) == 0
    assert isinstance(fast[1], nn.Identity)
    assert isinstance(fast[4], FoldedNormAct) and isinstance(fast[4].act, nn.LeakyReLU)
    assert isinstance(fast[5].bn, FoldedNormAct) and isinstance(fast[5].bn.act, nn.SiLU)
    assert fast[3].bias is not None and fast[6].bias is not None


@pytest.mark.parametrize("model_cls", [_SharedOutput, _ReusedConv])
def test_does_not_fold_when_the_conv_output_is_used_elsewhere(model_cls: type[nn.Module]) -> None:
    model = _randomize_bn(model_cls())
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        ref = model(x)
    fast = optimize_for_inference(model, channels_last=False)
    assert count_batch_norms(fast) == count_batch_norms(model)
    with torch.no_grad():
        assert rel_err(fast(x), ref) <= 1e-6


def test_does_not_fold_into_weight_transforming_convs() -> None:
    model = _randomize_bn(nn.Sequential(_StdConv(3, 4, 3, padding=1), nn.BatchNorm2d(4)))
    assert find_conv_bn_pairs(model) == []
    x = torch.randn(2, 3, 8, 8)
    fast = optimize_for_inference(model)
    with torch.no_grad():
        assert rel_err(fast(x), model(x)) <= 1e-6


def test_fold_batch_norm_in_place_reports_pairs() -> None:
    model = _randomize_bn(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 1)))
    x = torch.randn(1, 3, 8, 8)
    with torch.no_grad():
        ref = model(x)
    assert fold_batch_norm(model, x) == [("0", "1")]
    with torch.no_grad():
        assert rel_err(model(x), ref) <= 1e-6


# --- the VisionModel API and options -----------------------------------------------------------------
def test_api_survives_in_every_precision() -> None:
    model = _random("resnet18")
    x = _x()
    for precision in supported_precisions("cpu"):
        fast = optimize_for_inference(model, precision=precision)
        with torch.no_grad():
            feats = fast.forward_features(x)
            assert feats.dtype == torch.float32 and feats.shape[1] == model.num_features
            assert fast.forward_head(feats).shape == (2, model.num_classes)
            assert fast.forward_head(feats, pre_logits=True).shape == (2, model.head_hidden_size)
            inters = fast.forward_intermediates(x, intermediates_only=True)
            assert [t.shape[1] for t in inters] == [i["num_chs"] for i in model.feature_info]
            if precision != "fp32":  # a caller already in that precision gets it back
                dtype = next(fast.parameters()).dtype
                assert fast(x.to(dtype)).dtype == dtype
        assert fast.num_classes == model.num_classes and fast.pretrained_cfg == model.pretrained_cfg
        assert not any(p.requires_grad for p in fast.parameters())


def test_channels_last_and_fold_options() -> None:
    model = _random("resnet18")
    plain = optimize_for_inference(model, channels_last=False, fold_bn=False)
    assert count_batch_norms(plain) == count_batch_norms(model)
    assert plain.conv1.weight.is_contiguous()
    fast = optimize_for_inference(model, channels_last=True)
    assert fast.conv1.weight.is_contiguous(memory_format=torch.channels_last)
    x = _x()
    with torch.no_grad():
        assert rel_err(plain(x), model(x)) <= 1e-5
        assert rel_err(fast(x), model(x)) <= 1e-4


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_unsupported_precision_is_a_clear_error(precision: str) -> None:
    if precision in supported_precisions("cpu"):
        pytest.skip(f"this CPU runs {precision} natively")
    with pytest.raises(
        ValueError, match=rf"precision='{precision}' is not supported.*supported precisions here: fp32"
    ):
        optimize_for_inference(_random("resnet18"), precision=precision)


def test_bad_arguments() -> None:
    model = _random("resnet18")
    with pytest.raises(ValueError, match="unknown precision 'int4'; valid: fp32, bf16, fp16"):
        optimize_for_inference(model, precision="int4")
    with pytest.raises(ValueError, match="precision='int8' needs calibration data"):
        optimize_for_inference(model, precision="int8")
    with pytest.raises(TypeError, match="channels_last must be a bool or None, got 'yes'"):
        optimize_for_inference(model, channels_last="yes")
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        optimize_for_inference("resnet18")


class _ActAndSkip(nn.Module):
    """An out-of-place activation whose input is also added back: fusing it would change the sum."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 3, padding=1)
        self.act = nn.SiLU()
        self.conv2 = nn.Conv2d(4, 4, 1)
        self.act2 = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.act2(self.conv2(self.act(y) + y))


def test_packed_convolutions_fuse_only_sole_activations() -> None:
    if not torch.backends.mkldnn.is_available():
        pytest.skip("no oneDNN in this torch build")
    model = _ActAndSkip().eval()
    x = torch.randn(2, 4, 8, 8)
    fast = optimize_for_inference(model, channels_last=True)
    assert isinstance(fast.conv, PackedConv2d) and fast.conv.attr == "none"
    assert isinstance(fast.act, nn.SiLU)
    assert isinstance(fast.conv2, PackedConv2d) and fast.conv2.attr == "relu"
    assert isinstance(fast.act2, nn.Identity)
    with torch.no_grad():
        assert rel_err(fast(x), model(x)) <= 1e-5
        assert rel_err(fast(x[:1]), model(x[:1])) <= 1e-5  # another batch size re-packs nothing wrong


class _Excite(nn.Module):
    """Squeeze-excite: 1x1 convs on a pooled 1x1 map, SiLU between, a sigmoid gate."""

    def __init__(self) -> None:
        super().__init__()
        self.reduce, self.act = nn.Conv2d(8, 4, 1), nn.SiLU(inplace=True)
        self.expand, self.gate = nn.Conv2d(4, 8, 1), nn.Sigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(self.expand(self.act(self.reduce(x.mean((2, 3), keepdim=True)))))


class _OpLog(TorchDispatchMode):
    """Records the aten / oneDNN ops a call runs, with the shape of each one's first argument."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[tuple[str, tuple[int, ...] | None]] = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # type: ignore[no-untyped-def]
        first = args[0] if args else None
        self.calls.append((str(func), tuple(first.shape) if isinstance(first, torch.Tensor) else None))
        return func(*args, **(kwargs or {}))


def test_packed_layers_keep_the_layouts_of_the_last_two_batch_sizes() -> None:
    """oneDNN lays a packed weight out for the whole input shape: a model first called at one
    batch size must not run every later batch size on that layout (2.8x slower measured)."""
    if not torch.backends.mkldnn.is_available():
        pytest.skip("no oneDNN in this torch build")
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(2), nn.Flatten(), nn.Linear(32, 5)
    )
    fast = optimize_for_inference(model.eval(), channels_last=True)
    conv, linear = fast[0], fast[4]
    assert isinstance(conv, PackedConv2d) and isinstance(linear, PackedLinear)

    def packs(batch: int) -> list[tuple[str, tuple[int, ...] | None]]:
        x = torch.randn(batch, 3, 6, 6)
        with torch.no_grad(), _OpLog() as ops:
            out = fast(x)
        with torch.no_grad():
            assert rel_err(out, model(x)) <= 1e-5
        return [(op.rsplit(".", 1)[0], shape) for op, shape in ops.calls if "_reorder" in op]

    conv_w, linear_w = (tuple(conv.weight.shape), tuple(linear.weight.shape))
    both = [("mkldnn._reorder_convolution_weight", conv_w), ("mkldnn._reorder_linear_weight", linear_w)]
    assert packs(1) == both  # packed on first use at each batch size
    assert packs(8) == both
    assert packs(1) == [] and packs(8) == []  # both layouts kept, in any order
    assert packs(3) == both and packs(8) == []  # a third size evicts the least recently used (1)
    assert packs(1) == both


def test_packed_convolutions_on_a_1x1_map_run_as_matrix_products() -> None:
    if not torch.backends.mkldnn.is_available():
        pytest.skip("no oneDNN in this torch build")
    model = _Excite().eval()
    fast = optimize_for_inference(model, channels_last=True)
    assert isinstance(fast.reduce, PackedConv2d) and fast.reduce.attr == "swish"
    assert isinstance(fast.expand, PackedConv2d) and fast.expand.attr == "sigmoid"
    ops = _OpLog()
    with torch.no_grad():
        for batch in (1, 3):
            x = torch.randn(batch, 8, 5, 5)
            with ops:
                out = fast(x)
            assert rel_err(out, model(x)) <= 1e-5
    assert not any("convolution" in op for op, _ in ops.calls), ops.calls  # F.linear, not oneDNN's conv
    with torch.no_grad():  # the same layer on a larger map goes through oneDNN
        x = torch.randn(2, 8, 3, 3)
        assert (
            rel_err(fast.expand(fast.reduce(x)), model.gate(model.expand(model.act(model.reduce(x))))) <= 1e-5
        )


class _Tokens(nn.Module):
    """Linear -> GELU twice on (B, N, C) tokens: the second GELU's input is also added back."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.act1 = nn.Linear(8, 16), nn.GELU()
        self.fc2, self.act2 = nn.Linear(16, 16), nn.GELU(approximate="tanh")
        self.head = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.fc2(self.act1(self.fc1(x)))
        return self.head(self.act2(y) + y)


def test_packed_linears_fuse_only_sole_activations_at_any_row_count() -> None:
    if not torch.backends.mkldnn.is_available():
        pytest.skip("no oneDNN in this torch build")
    model = _Tokens().eval()
    fast = copy.deepcopy(model)
    x = torch.randn(2, 5, 8)
    assert pack_linears(fast, x) == 1
    assert isinstance(fast.fc1, PackedLinear) and fast.fc1.attr == "gelu" and fast.fc1.algorithm == "none"
    assert isinstance(fast.act1, nn.Identity) and isinstance(fast.act2, nn.GELU)
    assert isinstance(fast.fc2, PackedLinear) and fast.fc2.attr == "none"
    with torch.no_grad():
        for shape in ((2, 5, 8), (3, 7, 8), (2, 5, 8), (4, 8)):  # other row counts pack again
            t = torch.randn(shape)
            assert rel_err(fast(t), model(t)) <= 1e-5, shape


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_token_models_run_packed_linears_with_fused_gelu(precision: str) -> None:
    if not torch.backends.mkldnn.is_available():
        pytest.skip("no oneDNN in this torch build")
    if precision == "bf16" and not BF16:
        pytest.skip("this CPU has no native bf16")
    model = _random("test_vit")
    fast = optimize_for_inference(model, precision=precision)
    packed = [m for m in fast.modules() if isinstance(m, PackedLinear)]
    assert not [m for m in fast.modules() if type(m) is nn.Linear]
    assert len(packed) == 4 * len(model.blocks) + 1 and sum(m.attr == "gelu" for m in packed) == len(
        model.blocks
    )
    assert fast.get_classifier().weight.dtype == torch.float32  # bf16 too: the logits stay fp32
    x = _x()
    with torch.no_grad():
        out, ref = fast(x), model(x)
    if precision == "fp32":
        assert rel_err(out, ref) <= 1e-5
    else:
        assert F.cosine_similarity(out, ref, dim=1).min() >= 0.999


class _Scaled(nn.Module):
    """LayerScales after a Linear (through an eval-mode dropout), after a Conv2d, and one whose
    input is also read by the residual sum (which must stay)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv, self.ls_conv = nn.Conv2d(3, 8, 3, padding=1), LayerScale2d(8, 0.5)
        self.fc, self.drop, self.ls_fc = nn.Linear(8, 8), nn.Dropout(0.1), LayerScale(8, 0.5, inplace=True)
        self.shared, self.ls_shared = nn.Linear(8, 8), LayerScale(8, 0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.ls_conv(self.conv(x)).flatten(2).transpose(1, 2)
        t = t + self.ls_fc(self.drop(self.fc(t)))
        s = self.shared(t)
        return s + self.ls_shared(s)


def test_layer_scales_fold_into_the_layer_whose_output_they_alone_read() -> None:
    model = _Scaled().eval()
    for m in (model.ls_conv, model.ls_fc, model.ls_shared):
        m.gamma.data.uniform_(0.5, 2.0)
    fast = copy.deepcopy(model)
    x = torch.randn(2, 3, 6, 6)
    assert fold_layer_scales(fast, x) == [("conv", "ls_conv"), ("fc", "ls_fc")]
    assert isinstance(fast.ls_conv, nn.Identity) and isinstance(fast.ls_fc, nn.Identity)
    assert isinstance(fast.ls_shared, LayerScale)  # the sum reads its input too
    assert torch.equal(fast.fc.weight, model.fc.weight * model.ls_fc.gamma[:, None])
    with torch.no_grad():
        assert rel_err(fast(x), model(x)) <= 1e-6


def test_optimised_vits_with_layer_scale_have_none_left() -> None:
    model = _random("test_vit", init_values=0.5)
    for m in model.modules():
        if isinstance(m, LayerScale):
            m.gamma.data.uniform_(0.5, 2.0)
    fast = optimize_for_inference(model)
    assert sum(isinstance(m, LayerScale) for m in model.modules()) == 2 * len(model.blocks)
    assert not any(isinstance(m, LayerScale) for m in fast.modules())
    x = _x()
    with torch.no_grad():
        assert rel_err(fast(x), model(x)) <= 1e-5
        for a, b in zip(fast.forward_intermediates(x)[1], model.forward_intermediates(x)[1], strict=True):
            assert rel_err(a, b) <= 1e-5


def test_compile_option() -> None:
    """``compile=True`` goes through torch.compile (slow to compile: the tiniest model only)."""
    model = _random("test_resnet")
    fast = optimize_for_inference(model, compile=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = model(x)
        assert rel_err(fast(x), ref) <= 1e-4
    assert fast.num_classes == model.num_classes  # attributes still reach the model
    with torch.inference_mode():  # inductor's frozen-weight path
        assert rel_err(fast(x), ref) <= 1e-4
    if BF16:
        fast_bf16 = optimize_for_inference(model, precision="bf16", compile=True)
        with torch.inference_mode():
            out = fast_bf16(x)
        assert out.dtype == torch.float32 and F.cosine_similarity(out, ref, dim=1).min() >= 0.999


def test_compiled_models_each_get_one_graph() -> None:
    """Dynamo allows 8 recompilations per code object, and every family shares
    ``VisionModel.forward``: more than eight compiled models (every family's smallest, in each
    native precision) must each still get one graph of their own, boundary casts included, and
    none silently run eager."""
    from torch._dynamo.utils import counters

    precisions = ("fp32", "bf16") if BF16 else ("fp32",)
    modules = ci_families()  # every family, up to CI's cap (sampling.py)
    assert len(modules) * len(precisions) > 8
    x = _x()
    for module in modules:
        name = _smallest(module, 1)[0]
        model = _random(name, **family_kwargs(module)).eval()
        with torch.no_grad():
            ref = model(x)
        for precision in precisions:
            fast = optimize_for_inference(model, precision=precision, compile="aot_eager")
            before = counters["stats"]["unique_graphs"]
            with torch.no_grad():
                out = fast(x)
            assert counters["stats"]["unique_graphs"] - before == 1, f"{name} {precision}: not one graph"
            assert out.dtype == torch.float32
            if precision == "fp32":
                assert rel_err(out, ref) <= 1e-4
            else:
                assert F.cosine_similarity(out, ref, dim=1).min() >= 0.999


def test_compile_backend_must_exist() -> None:
    with pytest.raises(ValueError, match="'turbo' is not a torch.compile backend; valid: .*inductor"):
        optimize_for_inference(_random("test_resnet"), compile="turbo")


# --- training settings, every family -----------------------------------------------------------------
def _grads(model: nn.Module, x: torch.Tensor, *, amp: bool = False) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Logits, all gradients flattened, and the bytes autograd saved for backward."""
    saved = 0

    def pack(t: torch.Tensor) -> torch.Tensor:
        nonlocal saved
        saved += t.numel() * t.element_size()
        return t

    model.zero_grad(set_to_none=True)
    torch.manual_seed(0)  # layers that draw in training (RelPosMlp's dropout) draw alike in each run
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            out = model(x)
        out.float().logsumexp(1).mean().backward()
    grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])
    return out.detach().float(), grads, saved


@pytest.mark.parametrize("case", CASES)
@pytest.mark.family_sampled
def test_training_settings(case: str) -> None:
    """Gradient checkpointing, channels_last and bf16 autocast train every family correctly."""
    name = _case(case)
    kwargs = family_kwargs(case.rpartition("-")[0])  # e.g. legacy SENet without its default dropout
    model = _random(name, **kwargs).train()
    for m in model.modules():  # batch statistics would differ between the runs compared
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.track_running_stats = False
            m.running_mean = m.running_var = None
    x = _x(side=_side(model))
    ref_out, ref_grads, ref_saved = _grads(model, x)

    model.set_grad_checkpointing(True)
    out, grads, saved = _grads(model, x)
    model.set_grad_checkpointing(False)
    assert rel_err(out, ref_out) <= 1e-5 and rel_err(grads, ref_grads) <= 1e-4
    assert saved < ref_saved, "gradient checkpointing saved no activation memory"

    # other conv kernels round differently, and training-mode batch statistics over a batch of 2
    # amplify that (inception_v3's NCHW gradients are themselves at cosine 0.996 from float64):
    # judged against a float64 run, not against the NCHW run's own rounding
    exact_out, exact_grads, _ = _grads(copy.deepcopy(model).double(), x.double())
    with torch.backends.mkldnn.flags(enabled=not name.startswith(_ONEDNN_CL_BACKWARD_HEAP_BUG)):
        _channels_last_and_bf16(model, x, name, kwargs, exact_out, exact_grads, (ref_out, ref_grads))


# PyTorch 2.14.1's oneDNN convolution backward corrupts the heap (``free(): invalid size``, a
# segfault at random) on MobileOne's multi-branch blocks run in channels_last after an NCHW pass;
# timm's mobileone_s1 crashes the same way, and with oneDNN off both run clean. These models take
# the channels_last and bf16 steps on PyTorch's native kernels: still our code, not oneDNN's.
_ONEDNN_CL_BACKWARD_HEAP_BUG = ("mobileone_",)


def _channels_last_and_bf16(
    model: nn.Module,
    x: torch.Tensor,
    name: str,
    kwargs: dict,
    exact_out: torch.Tensor,
    exact_grads: torch.Tensor,
    nchw: tuple[torch.Tensor, torch.Tensor],
) -> None:
    # channels_last is judged against float64, where NCHW fp32 itself is close to it. In training
    # mode at 96 px, Inception v4 / Inception-ResNet v2 end on maps so small that batch statistics
    # over 2 samples amplify any rounding: NCHW's logits or gradients are at cosine 0.88-0.99 from
    # float64, and channels_last's elsewhere again (timm's the same). There, ours must compute
    # what timm's channels_last model computes on the same weights.
    conditioned = (
        F.cosine_similarity(nchw[0].double(), exact_out.double(), dim=1).min() >= 0.9999
        and F.cosine_similarity(nchw[1].double(), exact_grads, dim=0) >= 0.999
    )
    model.to(memory_format=torch.channels_last)
    out, grads, _ = _grads(model, x.contiguous(memory_format=torch.channels_last))
    if conditioned or not timm.is_model(name):
        assert F.cosine_similarity(out.double(), exact_out.double(), dim=1).min() >= 0.9999
        assert F.cosine_similarity(grads.double(), exact_grads, dim=0) >= 0.99
    else:
        ref = _timm_twin(model, name, kwargs).to(memory_format=torch.channels_last)
        timm_out, timm_grads, _ = _grads(ref, x.contiguous(memory_format=torch.channels_last))
        assert F.cosine_similarity(out, timm_out, dim=1).min() >= 0.9999
        assert F.cosine_similarity(grads, timm_grads, dim=0) >= 0.999

    if BF16:
        # bf16 gradients through batch statistics of 2 samples are far from fp32's, for any
        # implementation; what must hold is that they are finite and the same as timm's
        out, grads, _ = _grads(model, x, amp=True)
        assert torch.isfinite(out).all() and torch.isfinite(grads).all()
        if timm.is_model(name):
            ref = _timm_twin(model, name, kwargs).to(memory_format=torch.channels_last)
            timm_out, timm_grads, _ = _grads(ref, x, amp=True)
            assert F.cosine_similarity(out, timm_out, dim=1).min() >= 0.9999
            assert F.cosine_similarity(grads, timm_grads, dim=0) >= 0.999


def _timm_twin(model: nn.Module, name: str, kwargs: dict) -> nn.Module:
    """timm's ``name`` in training mode with ``model``'s weights and no running statistics."""
    size = {"img_size": SIZE} if model.pretrained_cfg.fixed_input_size else {}
    ref = timm.create_model(name, **size, **kwargs).train()
    ref.load_state_dict(model.state_dict(), strict=False)  # no running stats on either
    for m in ref.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.track_running_stats = False
            m.running_mean = m.running_var = None
    return ref


@pytest.mark.parametrize("case", [f"{module}-0" for module in visionzoo.list_modules()])
@pytest.mark.family_sampled
def test_torch_compile_trains(case: str) -> None:
    """Every family compiles for training as one graph (no graph breaks) and computes what eager
    does: outputs and gradients. ``aot_eager`` runs dynamo and AOT autograd, where a model's code
    can fail to compile, without inductor's minutes of C++ code generation per model."""
    name = _case(case)
    # all families share VisionModel.forward and dynamo allows 8 recompilations per code object:
    # start from a clean cache, not from what earlier tests in this worker compiled
    torch._dynamo.reset()
    model = _random(name, **family_kwargs(case.rpartition("-")[0])).train()
    for m in model.modules():  # running statistics would move between the two runs
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = 0.0
    x = _x(side=_side(model))
    ref_out, ref_grads, _ = _grads(model, x)
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    out, grads, _ = _grads(compiled, x)
    assert rel_err(out, ref_out) <= 1e-4 and rel_err(grads, ref_grads) <= 1e-4

    # gradient checkpointing, channels_last and bf16 autocast (where native) together: still one
    # graph, computing what eager does with the same settings
    model.set_grad_checkpointing(True)
    model.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)
    ref_out, ref_grads, _ = _grads(model, x, amp=BF16)
    out, grads, _ = _grads(torch.compile(model, backend="aot_eager", fullgraph=True), x, amp=BF16)
    assert torch.isfinite(out).all() and torch.isfinite(grads).all()
    assert F.cosine_similarity(out, ref_out, dim=1).min() >= 0.9999
    assert F.cosine_similarity(grads.double(), ref_grads.double(), dim=0) >= 0.999
