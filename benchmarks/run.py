"""visionzoo ÷ timm, per model: ``python -m benchmarks.run [--models a,b] [--rounds N]``.

Sections (``--sections``, all by default):

* ``eval``: images/s at default settings (fp32, NCHW, ``torch.inference_mode``), and of
  ``optimize_for_inference`` in fp32 and bf16 against timm's default (and, for context, against
  timm with channels_last / bf16 weights); outputs compared on the same weights.
* ``compiled``: ``optimize_for_inference(compile=True)`` (inductor with frozen weights) in fp32
  and bf16, against timm's default and against timm compiled the same way (channels_last,
  inductor, frozen weights; bf16 weights for bf16). Compiling takes seconds to a minute per model
  and precision, hence its own section.
* ``train``: time of one SGD step at the same settings for both (fp32; channels_last + bf16
  autocast).
* ``memory``: peak memory of training steps (bytes malloc has handed out, and the peak resident
  set), each in a fresh process (see ``benchmarks.memory``).
* ``create``: ``create_model(name)`` and ``create_model(name, pretrained=True)`` from a local
  safetensors file.
* ``import``: ``import visionzoo`` and ``import timm`` against ``import torch`` alone, each in
  fresh interpreters; a whole ``import visionzoo; create_model('resnet18')`` process against
  ``import torch``; and the first ``create_model`` after import with the 5 families and with 25
  more synthetic families registered through the public API (flat: each call imports only the
  family it needs).
* ``latency``: batch-1 seconds per image, visionzoo default and optimised ÷ timm default.
* ``flops``: achieved GFLOP/s against this machine's measured matmul peak (fp32, bf16), and the
  achieved memory traffic against its measured copy bandwidth (the bound of small models: bytes
  every operator reads and writes, counted at dispatch, an upper bound on DRAM traffic).
* ``accuracy``: fp32 optimised vs original (max relative error) and bf16 vs fp32 (top-1
  agreement, logit cosine) on crops of real photos (see ``benchmarks.photos``).

Ratios are visionzoo ÷ timm of a rate (img/s, steps/s, creations/s), so > 1 means visionzoo is
faster; memory ratios are visionzoo ÷ timm of bytes, so < 1 means visionzoo uses less. Each is
the median of per-round ratios; the spread of those is printed next to it as a noise gauge.
The targets at the end are judged by that whole range: met only when every round is on the
target's side, and a range that straddles the target is "not shown" (not met).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from .memory import MEMORY_MODES
from .timing import Ratio, interleaved, ratio, time_calls
from .train import TRAIN_MODES, make_train_step

DEFAULT_MODELS = (
    "resnet50d",
    "resnet50",
    "resnet152",
    "cspdarknet53",
    "densenet121",
    "xception71",
    "inception_v3",
)
FAMILY_MODELS = (  # issues 13-15: one or two of each family after the seed ones
    "vit_small_patch16_224",
    "vit_base_patch16_224",
    "deit_base_distilled_patch16_224",
    "convnext_tiny",
    "convnext_small",
    "regnety_032",
    "regnety_040",
    "efficientnet_b0",
    "tf_efficientnetv2_s",
    "mobilenetv3_large_100",
    "mobilenetv4_conv_medium",
)
CNN_MODELS = (  # issue 26: the reparameterisable and branchy CNNs
    "resnest50d",
    "nfnet_l0",
    "repvgg_a2",
    "mobileone_s1",
    "hrnet_w18_small",
    "dla34",
)
MODEL_GROUPS = {"seed": DEFAULT_MODELS, "families": FAMILY_MODELS, "cnns": CNN_MODELS}
SECTIONS = ("eval", "latency", "compiled", "train", "memory", "create", "import", "flops", "accuracy")
FOCUS = ("resnet50d", "cspdarknet53", "densenet121", "inception_v3")  # the speed targets
RESNET50_CLASS = ("resnet50", "resnet50d")
VIT_TARGETS = FAMILY_MODELS[:3]  # issue 13's matmul-peak targets
PRETRAINED_TARGETS = ("resnet50", "resnet152")


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# --- machine ---------------------------------------------------------------------------------------
def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def matmul_peak(dtype: torch.dtype, *, repeats: int = 3) -> float:
    """Best GFLOP/s of square matmuls (sizes 1024-4096) in ``dtype`` on this CPU."""
    best = 0.0
    for n in (1024, 2048, 4096):
        a, b = torch.randn(n, n).to(dtype), torch.randn(n, n).to(dtype)
        torch.mm(a, b)
        for _ in range(repeats):
            sec = time_calls(lambda a=a, b=b: torch.mm(a, b), 1)
            best = max(best, 2 * n**3 / sec / 1e9)
    return best


def copy_bandwidth(*, mbytes: int = 256, repeats: int = 5) -> float:
    """Best GB/s (bytes read + written) of copying a ``mbytes`` fp32 tensor: the machine's
    memory bandwidth as one process with the configured threads sees it."""
    src = torch.randn(mbytes * 2**20 // 4)
    dst = torch.empty_like(src)
    dst.copy_(src)
    best = min(time_calls(lambda: dst.copy_(src), 1) for _ in range(repeats))
    return 2 * src.numel() * 4 / best / 1e9


# --- results ---------------------------------------------------------------------------------------
@dataclass
class ModelResult:
    name: str
    notes: list[str] = field(default_factory=list)
    ips: dict[str, float] = field(default_factory=dict)  # median img/s per contender
    ips_range: dict[str, tuple[float, float]] = field(default_factory=dict)  # slowest, fastest round
    compile_sec: dict[str, float] = field(default_factory=dict)  # first call, compiling
    eval_ratios: dict[str, Ratio] = field(default_factory=dict)
    train_sec: dict[str, float] = field(default_factory=dict)
    train_ratios: dict[str, Ratio] = field(default_factory=dict)
    memory: dict[str, dict[str, float]] = field(default_factory=dict)
    create_sec: dict[str, float] = field(default_factory=dict)
    create_ratios: dict[str, Ratio] = field(default_factory=dict)
    gflops_per_img: float | None = None
    mbytes_per_img: float | None = None  # bytes operators read and write, per image (batch 8)
    latency_sec: dict[str, float] = field(default_factory=dict)  # batch 1, median
    latency_ratios: dict[str, Ratio] = field(default_factory=dict)
    accuracy: dict[str, float] = field(default_factory=dict)


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    mid = len(s) // 2
    return s[mid] if len(s) % 2 else (s[mid - 1] + s[mid]) / 2


# --- per-model sections ----------------------------------------------------------------------------
def _pair(name: str) -> tuple[nn.Module, nn.Module]:
    """timm's model and ours, with the same (timm-initialised) weights, in eval mode."""
    import timm

    import visionzoo

    ref = timm.create_model(name).eval()
    ours = visionzoo.create_model(name).eval()
    ours.load_state_dict(ref.state_dict())
    return ref, ours


def _time_forwards(runs: dict[str, Callable[[], Any]], args: argparse.Namespace) -> dict[str, list[float]]:
    """Seconds per call of each inference contender, interleaved over ``args.rounds``, after two
    warm-up calls each (oneDNN primitive creation, allocator)."""
    with torch.inference_mode():
        for fn in runs.values():
            fn()
            fn()
        return interleaved(
            {k: (lambda fn=fn: time_calls(fn, args.iters)) for k, fn in runs.items()}, args.rounds
        )


def _timm_folded(ref: nn.Module) -> nn.Module:
    """timm's model with what a structural fold removes: its own ``reparameterize_model`` (RepVGG /
    MobileOne branches into one conv) and torch's FX conv + batch-norm fusion. What an optimised
    model must beat to show more than folding."""
    from timm.utils.model import reparameterize_model
    from torch.fx.experimental.optimization import fuse

    return fuse(reparameterize_model(copy.deepcopy(ref)))


def bench_eval(res: ModelResult, args: argparse.Namespace, bf16: bool) -> None:
    from visionzoo import optimize_for_inference

    ref, ours = _pair(res.name)
    x = torch.randn(args.batch_size, 3, args.img_size, args.img_size)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    ref_cl = copy.deepcopy(ref).to(memory_format=torch.channels_last)
    runs: dict[str, Callable[[], Any]] = {
        "timm": lambda: ref(x),
        "visionzoo": lambda: ours(x),
        "vz_opt_fp32": (lambda m: lambda: m(x))(optimize_for_inference(ours)),
        "timm_cl": lambda: ref_cl(x_cl),
    }
    if res.name in CNN_MODELS:
        try:
            runs["timm_folded"] = (lambda m: lambda: m(x))(_timm_folded(ref))
        except Exception as e:  # a model FX cannot trace: say so, compare with the others
            res.notes.append(f"timm folded (reparameterize_model + FX conv-bn fuse) failed: {e!r}"[:300])
    if bf16:
        ref_bf16 = copy.deepcopy(ref_cl).to(torch.bfloat16)
        x_bf16 = x_cl.to(torch.bfloat16)
        runs["vz_opt_bf16"] = (lambda m: lambda: m(x))(optimize_for_inference(ours, precision="bf16"))
        runs["timm_cl_bf16"] = lambda: ref_bf16(x_bf16)
    times = _time_forwards(runs, args)
    for k, t in times.items():
        res.ips[k] = args.batch_size / _median(t)
        res.ips_range[k] = (args.batch_size / max(t), args.batch_size / min(t))
    base = times["timm"]
    res.eval_ratios["default"] = ratio(times["visionzoo"], base, invert=True)
    res.eval_ratios["opt_fp32"] = ratio(times["vz_opt_fp32"], base, invert=True)
    res.eval_ratios["opt_fp32_vs_timm_cl"] = ratio(times["vz_opt_fp32"], times["timm_cl"], invert=True)
    if "timm_folded" in times:
        res.eval_ratios["timm_folded"] = ratio(times["timm_folded"], base, invert=True)
        res.eval_ratios["opt_fp32_vs_timm_folded"] = ratio(
            times["vz_opt_fp32"], times["timm_folded"], invert=True
        )
    if bf16:
        res.eval_ratios["opt_bf16"] = ratio(times["vz_opt_bf16"], base, invert=True)
        res.eval_ratios["opt_bf16_vs_timm_bf16"] = ratio(
            times["vz_opt_bf16"], times["timm_cl_bf16"], invert=True
        )


def bench_latency(res: ModelResult, args: argparse.Namespace) -> None:
    """Batch 1: what a single request waits for."""
    from visionzoo import optimize_for_inference

    ref, ours = _pair(res.name)
    x = torch.randn(1, 3, args.img_size, args.img_size)
    runs: dict[str, Callable[[], Any]] = {
        "timm": lambda: ref(x),
        "visionzoo": lambda: ours(x),
        "vz_opt_fp32": (lambda m: lambda: m(x))(optimize_for_inference(ours)),
    }
    times = _time_forwards(runs, args)
    for k, t in times.items():
        res.latency_sec[k] = _median(t)
    res.latency_ratios["default"] = ratio(times["visionzoo"], times["timm"], invert=True)
    res.latency_ratios["opt_fp32"] = ratio(times["vz_opt_fp32"], times["timm"], invert=True)


def bench_compiled(res: ModelResult, args: argparse.Namespace, bf16: bool) -> None:
    from visionzoo import optimize_for_inference

    # timm's models share forward code across a family, and dynamo allows 8 recompilations per
    # code object: start each model afresh so that timm's side is compiled too
    torch._dynamo.reset()
    ref, ours = _pair(res.name)
    x = torch.randn(args.batch_size, 3, args.img_size, args.img_size)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    ref_cl = copy.deepcopy(ref).to(memory_format=torch.channels_last).requires_grad_(False)

    def timm_compiled(model: nn.Module) -> nn.Module:
        return torch.compile(model, dynamic=False, options={"freezing": True})  # type: ignore[return-value]

    runs: dict[str, Callable[[], Any]] = {
        "timm": lambda: ref(x),
        "vz_comp_fp32": (lambda m: lambda: m(x))(optimize_for_inference(ours, compile=True)),
        "timm_comp_fp32": (lambda m: lambda: m(x_cl))(timm_compiled(ref_cl)),
    }
    if bf16:
        x_bf16 = x_cl.to(torch.bfloat16)
        runs["vz_comp_bf16"] = (lambda m: lambda: m(x))(
            optimize_for_inference(ours, precision="bf16", compile=True)
        )
        runs["timm_comp_bf16"] = (lambda m: lambda: m(x_bf16))(
            timm_compiled(copy.deepcopy(ref_cl).bfloat16())
        )
    with torch.inference_mode():
        for key, fn in runs.items():
            start = time.perf_counter()
            fn()  # compiles
            res.compile_sec[key] = time.perf_counter() - start
            fn()
        times = interleaved(
            {k: (lambda fn=fn: time_calls(fn, args.iters)) for k, fn in runs.items()}, args.rounds
        )
    for k, t in times.items():
        res.ips.setdefault(k, args.batch_size / _median(t))
        res.ips_range.setdefault(k, (args.batch_size / max(t), args.batch_size / min(t)))
    for prec in ("fp32", "bf16") if bf16 else ("fp32",):
        ours_t = times[f"vz_comp_{prec}"]
        res.eval_ratios[f"comp_{prec}"] = ratio(ours_t, times["timm"], invert=True)
        res.eval_ratios[f"comp_{prec}_vs_timm_comp"] = ratio(ours_t, times[f"timm_comp_{prec}"], invert=True)


def bench_train(res: ModelResult, args: argparse.Namespace, modes: list[str]) -> None:
    for mode in modes:
        if mode == "compiled":
            torch._dynamo.reset()  # a fresh recompilation budget for each model's graphs
        ref, ours = _pair(res.name)
        steps = {
            "timm": make_train_step(ref, args.train_batch_size, args.img_size, mode),
            "visionzoo": make_train_step(ours, args.train_batch_size, args.img_size, mode),
        }
        for fn in steps.values():
            fn()
        times = interleaved({k: (lambda fn=fn: time_calls(fn, 1)) for k, fn in steps.items()}, args.rounds)
        res.train_sec[mode] = _median(times["timm"])
        res.train_sec[f"{mode}_vz"] = _median(times["visionzoo"])
        res.train_ratios[mode] = ratio(times["visionzoo"], times["timm"], invert=True)


def bench_memory(res: ModelResult, args: argparse.Namespace, modes: list[str]) -> None:
    for mode in modes:
        for lib in ("timm", "visionzoo"):
            cmd = [
                sys.executable,
                "-m",
                "benchmarks.memory",
                f"--lib={lib}",
                f"--model={res.name}",
                f"--batch-size={args.train_batch_size}",
                f"--img-size={args.img_size}",
                f"--threads={args.threads}",
                f"--mode={mode}",
            ]
            out = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=_repo_root())
            if out.returncode != 0:
                res.notes.append(f"memory ({lib}, {mode}) failed: {out.stderr.strip().splitlines()[-1:]}")
                continue
            found = json.loads(out.stdout)
            res.memory.setdefault(mode, {})[lib] = found.get("heap_mb", found["rss_mb"])
            res.memory.setdefault(f"{mode} (peak RSS)", {})[lib] = found["rss_mb"]


def bench_create(res: ModelResult, args: argparse.Namespace) -> None:
    import timm
    from safetensors.torch import save_file

    import visionzoo

    ref = timm.create_model(res.name)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{res.name}.safetensors"
        save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(path))
        del ref
        overlay = dict(file=str(path))
        runs = {
            "timm": lambda: timm.create_model(res.name),
            "visionzoo": lambda: visionzoo.create_model(res.name),
            "timm_pretrained": lambda: timm.create_model(
                res.name, pretrained=True, pretrained_cfg_overlay=overlay
            ),
            "visionzoo_pretrained": lambda: visionzoo.create_model(
                res.name, pretrained=True, pretrained_cfg_overlay=overlay
            ),
        }
        for fn in runs.values():
            fn()
        times = interleaved({k: (lambda fn=fn: time_calls(fn, 1)) for k, fn in runs.items()}, args.rounds)
    for k, t in times.items():
        res.create_sec[k] = _median(t)
    res.create_ratios["random"] = ratio(times["visionzoo"], times["timm"], invert=True)
    res.create_ratios["pretrained"] = ratio(
        times["visionzoo_pretrained"], times["timm_pretrained"], invert=True
    )


def bench_flops(res: ModelResult, args: argparse.Namespace) -> None:
    import visionzoo
    from visionzoo.cli.benchmark import count_flops

    model = visionzoo.create_model(res.name).eval()
    res.gflops_per_img = count_flops(model, torch.randn(1, 3, args.img_size, args.img_size)) / 1e9
    batch = args.batch_size  # weights are read once per batch: count at the eval batch
    with _ByteCounter() as bytes_moved, torch.inference_mode():
        model(torch.randn(batch, 3, args.img_size, args.img_size))
    res.mbytes_per_img = bytes_moved.total / batch / 1e6


class _ByteCounter(TorchDispatchMode):
    """Bytes each operator reads (tensor arguments) and writes (tensor results); views move none."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        if not getattr(func, "is_view", False):
            tensors = [t for t in tree_flatten((args, kwargs, out))[0] if isinstance(t, torch.Tensor)]
            self.total += sum(t.numel() * t.element_size() for t in tensors)
        return out


def _randomize(model: nn.Module, seed: int = 0) -> None:
    """He-normal weights, random norm scales in [0.2, 1] and small random biases."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.ndim > 1:
                p.copy_(torch.randn(p.shape, generator=gen) * (2.0 / p[0].numel()) ** 0.5)
            elif name.endswith("weight"):
                p.copy_(torch.rand(p.shape, generator=gen) * 0.8 + 0.2)
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)


def _calibrate_bn(model: nn.Module, x: torch.Tensor) -> None:
    """Set every BatchNorm's running statistics to those of ``x`` (cumulative average)."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    model.train()
    with torch.no_grad():
        model(x)
    model.eval()


TIE = 0.05  # a top-1 margin below this many logit standard deviations is a near-tie


def _agreement(ref: torch.Tensor, other: torch.Tensor) -> tuple[float, float, float]:
    """(top-1 agreement, same on crops where fp32's top-1 margin is >= TIE logit std, min cos)."""
    cos = F.cosine_similarity(ref.float(), other.float(), dim=1)
    same = ref.argmax(1) == other.argmax(1)
    top2 = ref.topk(2, dim=1).values
    clear = (top2[:, 0] - top2[:, 1]) >= TIE * ref.std(dim=1)
    clear_top1 = same[clear].float().mean() if clear.any() else torch.tensor(float("nan"))
    return float(same.float().mean()), float(clear_top1), float(cos.min())


def _batched(model: nn.Module, x: torch.Tensor, chunk: int = 25) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat([model(x[i : i + chunk]).float() for i in range(0, len(x), chunk)])


def bench_accuracy(res: ModelResult, args: argparse.Namespace, bf16: bool) -> None:
    """fp32 exactness and bf16 agreement on real photos, for two sets of weights.

    No trained weights are available offline, so: (1) the library's own initialisation (what
    ``create_model(name)`` gives); (2) random weights with BatchNorm statistics calibrated on the
    photos, a deliberately hard case: such nets amplify any rounding, unlike trained ones. timm's
    model in bf16 on the same weights is measured alongside, to separate bf16 itself from us.
    """
    import timm

    import visionzoo
    from visionzoo import optimize_for_inference

    from .photos import photo_batch

    cfg = visionzoo.get_pretrained_cfg(res.name)
    size = cfg.input_size[-1] if cfg is not None else args.img_size
    mean = cfg.mean if cfg is not None else (0.485, 0.456, 0.406)
    std = cfg.std if cfg is not None else (0.229, 0.224, 0.225)
    try:
        x = photo_batch(args.photos, size, mean=mean, std=std)
    except FileNotFoundError as e:
        res.notes.append(str(e))
        return
    ours = visionzoo.create_model(res.name).eval()
    bias = getattr(ours.get_classifier(), "bias", None)
    if bias is not None:  # at init the bias can outweigh the image-dependent part of the logits
        nn.init.zeros_(bias)
    for weights in ("init", "calibrated"):
        if weights == "calibrated":
            _randomize(ours)
            _calibrate_bn(ours, x[: min(len(x), 50)])
        fp32 = _batched(ours, x)
        opt32 = _batched(optimize_for_inference(ours), x)
        res.accuracy[f"{weights}_fp32_rel_err"] = float((opt32 - fp32).abs().max() / fp32.abs().max())
        if not bf16:
            continue
        top1, clear, cos_min = _agreement(fp32, _batched(optimize_for_inference(ours, precision="bf16"), x))
        res.accuracy.update(
            {
                f"{weights}_bf16_top1": top1,
                f"{weights}_bf16_clear_top1": clear,
                f"{weights}_bf16_cos_min": cos_min,
            }
        )
        ref = timm.create_model(res.name).eval()
        ref.load_state_dict(ours.state_dict())
        ref = ref.to(torch.bfloat16)
        top1, _, cos_min = _agreement(fp32, _batched(ref, x.to(torch.bfloat16)))
        res.accuracy.update({f"{weights}_timm_bf16_top1": top1, f"{weights}_timm_bf16_cos_min": cos_min})


# --- import times ------------------------------------------------------------------------------------
def bench_import(args: argparse.Namespace) -> dict[str, list[float]]:
    code = "import time; t = time.perf_counter(); import {mod}; print(time.perf_counter() - t)"

    def run(mod: str) -> Callable[[], float]:
        def once() -> float:
            out = subprocess.run(
                [sys.executable, "-c", code.format(mod=mod)],
                capture_output=True,
                text=True,
                check=True,
                cwd=_repo_root(),
            )
            return float(out.stdout.strip().splitlines()[-1])

        return once

    def process(code: str) -> Callable[[], float]:
        def once() -> float:  # the whole interpreter's life, as a user waits for it
            start = time.perf_counter()
            subprocess.run([sys.executable, "-c", code], check=True, cwd=_repo_root(), capture_output=True)
            return time.perf_counter() - start

        return once

    def first_create(families: int) -> Callable[[], float]:
        code = _FIRST_CREATE.format(families=families)

        def once() -> float:
            out = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=_repo_root()
            )
            return float(out.stdout.strip().splitlines()[-1])

        return once

    runs = {m: run(m) for m in ("torch", "visionzoo", "timm")}
    runs["process: import torch"] = process("import torch")
    runs["process: visionzoo create resnet18"] = process(
        "import visionzoo; visionzoo.create_model('resnet18')"
    )
    runs["first create: 5 families"] = first_create(0)
    runs["first create: +25 synthetic families"] = first_create(25)
    for fn in runs.values():  # warm the page cache
        fn()
    return interleaved(runs, max(args.rounds, 5))


# The first create_model after import, with `families` extra families of 20 variants each
# registered through the public API beforehand: the cost must not grow with the count.
_FIRST_CREATE = """
import time, types, sys
import visionzoo
from visionzoo.models.resnet import ResNet, ResNetArgs
for i in range({families}):
    name = f"synthetic_family_{{i}}"
    sys.modules[name] = types.ModuleType(name)
    visionzoo.register_family(
        name,
        model_cls=ResNet,
        variants={{f"synth{{i}}_{{j}}": ResNetArgs(block="basic", layers=(1, 1, 1, 1)) for j in range(20)}},
        weights={{f"synth{{i}}_{{j}}.untrained": dict(hf_hub_id=None) for j in range(20)}},
    )
t = time.perf_counter()
visionzoo.create_model("densenet121")
print(time.perf_counter() - t)
"""


def _repo_root() -> str:
    return str(Path(__file__).resolve().parent.parent)


# --- report ----------------------------------------------------------------------------------------
def _fmt_ratio(r: Ratio | None) -> str:
    return "-" if r is None else f"{r.median:.2f} ({r.spread})"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def render(
    results: list[ModelResult],
    args: argparse.Namespace,
    peaks: dict[str, float],
    imports: dict[str, list[float]] | None,
    context: dict[str, str],
) -> str:
    out = [
        "## Machine and settings",
        "",
        f"- CPU: {context['cpu']}, {os.cpu_count()} logical CPUs, {args.threads} threads used",
        f"- torch {torch.__version__}, timm {context['timm']}, visionzoo {context['visionzoo']}, "
        f"Python {platform.python_version()}",
        f"- eval batch {args.batch_size}, train batch {args.train_batch_size}, {args.img_size} px, "
        f"{args.rounds} interleaved rounds ({args.iters} forward calls per eval measurement)",
        f"- load average (1, 5, 15 min) at start: {context['load_start']}; at end: {context['load_end']}",
    ]
    matmul = {k: v for k, v in peaks.items() if k != "copy GB/s"}
    if matmul:
        out.append(
            "- measured matmul peak: "
            + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in matmul.items())
            + " (best square torch.mm, n = 1024-4096)"
        )
    if "copy GB/s" in peaks:
        out.append(
            f"- measured copy bandwidth: {peaks['copy GB/s']:.1f} GB/s (256 MB fp32 copy, read + write)"
        )
    out.append("")
    out.append(
        "Ratios are visionzoo ÷ timm: for speed > 1 means visionzoo is faster; for memory < 1 means it"
    )
    out.append("uses less. Median of per-round ratios, with the range over rounds in parentheses.")
    evals = [r for r in results if r.ips]
    if evals:
        out += ["", "## Inference", ""]
        rows = []
        for r in evals:
            e = r.eval_ratios
            rows.append(
                [
                    r.name,
                    f"{r.ips['timm']:.1f}",
                    _fmt_ratio(e.get("default")),
                    _fmt_ratio(e.get("opt_fp32")),
                    _fmt_ratio(e.get("opt_bf16")),
                    _fmt_ratio(e.get("opt_fp32_vs_timm_cl")),
                    _fmt_ratio(e.get("opt_bf16_vs_timm_bf16")),
                ]
            )
        out.append(
            _table(
                [
                    "model",
                    "timm default img/s",
                    "default ÷ timm",
                    "optimised fp32 ÷ timm default",
                    "optimised bf16 ÷ timm default",
                    "optimised fp32 ÷ timm channels_last",
                    "optimised bf16 ÷ timm bf16 weights + channels_last",
                ],
                rows,
            )
        )
    folded = [r for r in results if "timm_folded" in r.eval_ratios]
    if folded:
        out += ["", "## Inference against a folded timm (reparameterize_model + FX conv-bn fuse)", ""]
        rows = [
            [
                r.name,
                _fmt_ratio(r.eval_ratios["timm_folded"]),
                _fmt_ratio(r.eval_ratios.get("opt_fp32")),
                _fmt_ratio(r.eval_ratios.get("opt_fp32_vs_timm_folded")),
            ]
            for r in folded
        ]
        out.append(
            _table(
                [
                    "model",
                    "timm folded ÷ timm default",
                    "optimised fp32 ÷ timm default",
                    "optimised fp32 ÷ timm folded",
                ],
                rows,
            )
        )
    compiled = [r for r in results if "comp_fp32" in r.eval_ratios]
    if compiled:
        out += ["", "## Inference, compiled (`optimize_for_inference(compile=True)`)", ""]
        rows = []
        for r in compiled:
            e = r.eval_ratios
            rows.append(
                [
                    r.name,
                    _fmt_ratio(e.get("comp_fp32")),
                    _fmt_ratio(e.get("comp_bf16")),
                    _fmt_ratio(e.get("comp_fp32_vs_timm_comp")),
                    _fmt_ratio(e.get("comp_bf16_vs_timm_comp")),
                    " / ".join(f"{r.compile_sec[k]:.0f}" for k in r.compile_sec if k.startswith("vz_")),
                ]
            )
        out.append(
            _table(
                [
                    "model",
                    "compiled fp32 ÷ timm default",
                    "compiled bf16 ÷ timm default",
                    "compiled fp32 ÷ timm compiled fp32",
                    "compiled bf16 ÷ timm compiled bf16",
                    "compile s (fp32 / bf16)",
                ],
                rows,
            )
        )
    trains = [r for r in results if r.train_ratios or r.memory]
    if trains:
        out += ["", "## Training (one SGD step; speed ratio; peak memory ratio)", ""]
        modes = list(trains[0].train_ratios)
        header = ["model"]
        for m in modes:
            header += [f"timm s/step ({m})", f"speed ÷ timm ({m})"]
        mem_modes = sorted({m for r in trains for m in r.memory})
        header += [f"peak memory ÷ timm ({m if 'RSS' in m else f'{m}, heap'})" for m in mem_modes]
        rows = []
        for r in trains:
            row = [r.name]
            for m in modes:
                row += [f"{r.train_sec.get(m, float('nan')):.2f}", _fmt_ratio(r.train_ratios.get(m))]
            for m in mem_modes:
                mem = r.memory.get(m, {})
                if "timm" in mem and "visionzoo" in mem:
                    vz_mb, timm_mb = mem["visionzoo"], mem["timm"]
                    row.append(f"{vz_mb / timm_mb:.3f} ({vz_mb:.0f} / {timm_mb:.0f} MB)")
                else:
                    row.append("-")
            rows.append(row)
        out.append(_table(header, rows))
    creates = [r for r in results if r.create_ratios]
    if creates:
        out += ["", "## Model creation", ""]
        rows = [
            [
                r.name,
                f"{r.create_sec['timm']:.3f}",
                _fmt_ratio(r.create_ratios["random"]),
                f"{r.create_sec['timm_pretrained']:.3f}",
                f"{r.create_sec['visionzoo_pretrained']:.3f}",
                _fmt_ratio(r.create_ratios["pretrained"]),
            ]
            for r in creates
        ]
        out.append(
            _table(
                [
                    "model",
                    "timm create s",
                    "create speed ÷ timm",
                    "timm pretrained s",
                    "visionzoo pretrained s",
                    "pretrained (local safetensors) speed ÷ timm",
                ],
                rows,
            )
        )
    flops = [r for r in results if r.gflops_per_img and r.ips]
    if flops and peaks:
        title = "## Achieved GFLOP/s (FLOPs counted by torch's FlopCounterMode, fused CPU attention included)"
        out += ["", title, ""]
        rows = []
        for r in flops:

            def cell(key: str, peak: str, r: ModelResult = r) -> str:
                if key not in r.ips or peak not in peaks:
                    return "-"
                g = r.gflops_per_img * r.ips[key]
                return f"{g:.0f} ({100 * g / peaks[peak]:.0f}%)"

            rows.append(
                [
                    r.name,
                    f"{r.gflops_per_img:.2f}",
                    cell("timm", "fp32"),
                    cell("vz_opt_fp32", "fp32"),
                    cell("timm_cl_bf16", "bf16"),
                    cell("vz_opt_bf16", "bf16"),
                    cell("vz_comp_bf16", "bf16"),
                ]
            )
        out.append(
            _table(
                [
                    "model",
                    "GFLOP/img",
                    "timm default (% fp32 peak)",
                    "optimised fp32 (% fp32 peak)",
                    "timm bf16 + cl (% bf16 peak)",
                    "optimised bf16 (% bf16 peak)",
                    "compiled bf16 (% bf16 peak)",
                ],
                rows,
            )
        )
    traffic = [r for r in results if r.mbytes_per_img and r.ips]
    if traffic and "copy GB/s" in peaks:
        out += [
            "",
            "## Achieved memory traffic (bytes operators read and write, an upper bound on DRAM traffic)",
            "",
        ]
        rows = []
        for r in traffic:

            def gbs(key: str, r: ModelResult = r) -> str:
                if key not in r.ips or r.mbytes_per_img is None:
                    return "-"
                g = r.mbytes_per_img * r.ips[key] / 1e3
                return f"{g:.1f} ({100 * g / peaks['copy GB/s']:.0f}%)"

            rows.append(
                [r.name, f"{r.mbytes_per_img:.0f}", gbs("timm"), gbs("visionzoo"), gbs("vz_opt_fp32")]
            )
        out.append(
            _table(
                ["model", "MB/img", "timm default GB/s (% copy bw)", "default GB/s", "optimised fp32 GB/s"],
                rows,
            )
        )
    lats = [r for r in results if r.latency_ratios]
    if lats:
        out += ["", "## Batch-1 latency (speed ratio: > 1 means visionzoo answers sooner)", ""]
        rows = [
            [
                r.name,
                f"{1e3 * r.latency_sec['timm']:.1f}",
                _fmt_ratio(r.latency_ratios["default"]),
                _fmt_ratio(r.latency_ratios["opt_fp32"]),
            ]
            for r in lats
        ]
        out.append(_table(["model", "timm default ms", "default ÷ timm", "optimised fp32 ÷ timm"], rows))
    accs = [r for r in results if r.accuracy]
    if accs:
        out += [
            "",
            f"## Accuracy on real photos ({args.photos} crops of sample photos, see benchmarks/photos.py)",
            "",
            "`init`: the weights `create_model` builds (classifier bias zeroed). `calibrated`: random",
            "weights with BatchNorm statistics set from the photos, a harsh stand-in for trained weights",
            "(none are available offline). In parentheses: agreement on the crops where fp32's top-1",
            f"margin is at least {TIE} logit standard deviations (the rest are near-ties). timm's bf16",
            "model on the same weights is shown for comparison.",
            "",
        ]
        rows = []
        for r in accs:
            a = r.accuracy
            row = [r.name]
            for w in ("init", "calibrated"):
                row += [
                    f"{a.get(f'{w}_fp32_rel_err', float('nan')):.1e}",
                    f"{100 * a.get(f'{w}_bf16_top1', float('nan')):.1f}% "
                    f"({100 * a.get(f'{w}_bf16_clear_top1', float('nan')):.1f}%)",
                    f"{a.get(f'{w}_bf16_cos_min', float('nan')):.5f}",
                    f"{100 * a.get(f'{w}_timm_bf16_top1', float('nan')):.1f}% / "
                    f"{a.get(f'{w}_timm_bf16_cos_min', float('nan')):.5f}",
                ]
            rows.append(row)
        header = ["model"]
        for w in ("init", "calibrated"):
            header += [
                f"{w}: fp32 opt rel err",
                f"{w}: bf16 top-1 agree (clear crops)",
                f"{w}: bf16 min cos",
                f"{w}: timm bf16 top-1 / min cos",
            ]
        out.append(_table(header, rows))
    if imports:
        med = {k: _median(v) for k, v in imports.items()}
        out += ["", "## Import time (fresh interpreter each, in-process timer)", ""]
        out.append(
            _table(
                [
                    "import torch s",
                    "import visionzoo s",
                    "import timm s",
                    "visionzoo ÷ torch",
                    "timm ÷ torch",
                    "visionzoo speed ÷ timm",
                ],
                [
                    [
                        f"{med['torch']:.2f}",
                        f"{med['visionzoo']:.2f}",
                        f"{med['timm']:.2f}",
                        _fmt_ratio(ratio(imports["visionzoo"], imports["torch"])),
                        _fmt_ratio(ratio(imports["timm"], imports["torch"])),
                        _fmt_ratio(ratio(imports["visionzoo"], imports["timm"], invert=True)),
                    ]
                ],
            )
        )
        out += ["", "## Import cost as families are added", ""]
        out.append(
            _table(
                [
                    "process: import torch s",
                    "process: import visionzoo + create_model('resnet18') s",
                    "÷ import torch",
                    "first create_model (densenet121) after import, 5 families s",
                    "with 25 more families registered s",
                    "ratio",
                ],
                [
                    [
                        f"{med['process: import torch']:.2f}",
                        f"{med['process: visionzoo create resnet18']:.2f}",
                        _fmt_ratio(
                            ratio(
                                imports["process: visionzoo create resnet18"],
                                imports["process: import torch"],
                            )
                        ),
                        f"{med['first create: 5 families']:.3f}",
                        f"{med['first create: +25 synthetic families']:.3f}",
                        _fmt_ratio(
                            ratio(
                                imports["first create: +25 synthetic families"],
                                imports["first create: 5 families"],
                            )
                        ),
                    ]
                ],
            )
        )
    notes = [f"- {r.name}: {n}" for r in results for n in r.notes]
    if notes:
        out += ["", "## Notes", "", *notes]
    out += [
        "",
        "## Targets",
        "",
        "met: every round on the target's side; NOT met: no round is; not shown: the rounds straddle",
        "the target (not met: equal programs would measure on both sides of it).",
        "",
        *targets(results, imports, peaks),
    ]
    return "\n".join(out)


def _verdict(r: Ratio, target: float, *, at_most: bool = False, shown: str | None = None) -> str:
    """Judge a measured ratio against its target by all of its rounds, not by its median.

    ``met`` only when every round is on the target's side; ``NOT met`` when none is; a range
    that straddles the target is ``NOT met: not shown ...``: two programs that are equal would
    land on either side of it, so a median past the target proves nothing.
    """
    if at_most:
        if r.high <= target:
            return "met"
        if r.low > target:
            return "NOT met"
        return f"NOT met: not shown {shown or f'<= {target:g}x'}"
    if r.low >= target:
        return "met"
    if r.high < target:
        return "NOT met"
    return f"NOT met: not shown {shown or ('faster' if target == 1.0 else f'>= {target:g}x')}"


def _best_verdict(ratios: list[Ratio | None], target: float) -> str | None:
    """The best verdict among the measured contenders (None if none was measured)."""
    verdicts = [_verdict(r, target) for r in ratios if r is not None]
    if not verdicts:
        return None
    return min(verdicts, key=lambda v: (v != "met", v == "NOT met"))


def _peak_fraction(r: ModelResult | None, key: str, peak: float | None) -> Ratio | None:
    """Model FLOPs x img/s ÷ the matmul peak, with its range over the rounds."""
    if r is None or not r.gflops_per_img or key not in r.ips or not peak:
        return None
    per_img = r.gflops_per_img / peak
    low, high = r.ips_range.get(key, (r.ips[key], r.ips[key]))
    return Ratio(per_img * r.ips[key], per_img * low, per_img * high)


def _fmt_fraction(f: Ratio) -> str:
    return f"{100 * f.median:.0f}% ({100 * f.low:.0f}-{100 * f.high:.0f}%)"


def targets(
    results: list[ModelResult], imports: dict[str, list[float]] | None, peaks: dict[str, float]
) -> list[str]:
    """The issues' targets, each with the measured value (median and range over the rounds) and
    a verdict: met / NOT met / NOT met: not shown ... (the rounds straddle it) / not measured."""
    by = {r.name: r for r in results}
    lines = []

    def mark(state: str | None, text: str) -> None:
        lines.append(f"- [{state or 'not measured'}] {text}")

    for name in FOCUS:
        r = by.get(name)
        e = r.eval_ratios if r else {}
        a = r.accuracy if r else {}
        opt, comp = e.get("opt_fp32"), e.get("comp_fp32")
        mark(
            _best_verdict([opt, comp], 1.8),
            f"{name}: optimised fp32 >= 1.8x timm default (got {_fmt_ratio(opt)}, "
            f"compiled {_fmt_ratio(comp)})",
        )
        err = a.get("init_fp32_rel_err")
        mark(
            None if err is None else "met" if err <= 1e-4 else "NOT met",
            f"{name}: optimised fp32 outputs within 1e-4 relative of the model's "
            f"(got {'-' if err is None else f'{err:.1e}'})",
        )
        opt, comp = e.get("opt_bf16"), e.get("comp_bf16")
        mark(
            _best_verdict([opt, comp], 3.5),
            f"{name}: optimised bf16 >= 3.5x timm default fp32 (got {_fmt_ratio(opt)}, "
            f"compiled {_fmt_ratio(comp)})",
        )
        for w in ("init", "calibrated"):
            top1, cos = a.get(f"{w}_bf16_top1"), a.get(f"{w}_bf16_cos_min")
            clear = a.get(f"{w}_bf16_clear_top1", float("nan"))
            ok = None if top1 is None or cos is None else top1 >= 0.99 and cos >= 0.999
            got = (
                "-"
                if top1 is None or cos is None
                else f"{100 * top1:.1f}%, {100 * clear:.1f}% on clear crops, min cos {cos:.5f}"
            )
            mark(
                None if ok is None else "met" if ok else "NOT met",
                f"{name}: bf16 top-1 agreement >= 99% and cosine >= 0.999 on photos, {w} weights (got {got})",
            )
    for name in RESNET50_CLASS:
        f = _peak_fraction(by.get(name), "vz_opt_bf16", peaks.get("bf16"))
        text = f"{name}: optimised bf16 >= 70% of the bf16 matmul peak"
        if f is None:
            mark(None, text)
        else:
            mark(_verdict(f, 0.7, shown="at 70%"), f"{text} (got {_fmt_fraction(f)})")
    for name in VIT_TARGETS:
        for key, precision in (("vz_opt_fp32", "fp32"), ("vz_opt_bf16", "bf16")):
            f = _peak_fraction(by.get(name), key, peaks.get(precision))
            text = f"{name}: optimised {precision} >= 80% of the {precision} matmul peak"
            if f is None:
                mark(None, text)
            else:
                mark(_verdict(f, 0.8, shown="at 80%"), f"{text} (got {_fmt_fraction(f)})")
    for r in results:
        if "default" in r.eval_ratios:
            d = r.eval_ratios["default"]
            mark(_verdict(d, 1.0), f"{r.name}: default eval >= 1.0x timm (got {_fmt_ratio(d)})")
        if "default" in r.train_ratios:
            t = r.train_ratios["default"]
            mark(_verdict(t, 1.0), f"{r.name}: default train step >= 1.0x timm (got {_fmt_ratio(t)})")
        for mode, mem in r.memory.items():
            if "timm" in mem and "visionzoo" in mem and "RSS" not in mode:
                # one measurement per library (bytes malloc handed out): more is more, by any margin
                vz_mb, timm_mb = mem["visionzoo"], mem["timm"]
                mark(
                    "met" if vz_mb <= timm_mb else "NOT met",
                    f"{r.name}: peak training memory ({mode}, heap) <= 1.0x timm "
                    f"(got {vz_mb / timm_mb:.4f}: {vz_mb:.1f} / {timm_mb:.1f} MB)",
                )
    for name in CNN_MODELS:
        r = by.get(name)
        e = r.eval_ratios if r else {}
        folded, vs_folded = e.get("timm_folded"), e.get("opt_fp32_vs_timm_folded")
        mark(
            None if vs_folded is None else _verdict(vs_folded, 1.0),
            f"{name}: optimised fp32 above timm's default by at least what folding and "
            f"reparameterisation remove: optimised ÷ timm folded >= 1.0x (got {_fmt_ratio(vs_folded)}; "
            f"timm folded ÷ timm default {_fmt_ratio(folded)}, optimised ÷ timm default "
            f"{_fmt_ratio(e.get('opt_fp32'))})",
        )
        f = _peak_fraction(r, "vz_opt_fp32", peaks.get("fp32"))
        if f is not None:
            lines.append(
                f"- [measured] {name}: optimised fp32 reaches {_fmt_fraction(f)} of the fp32 matmul peak"
            )
    for name in PRETRAINED_TARGETS:
        r = by.get(name)
        p = r.create_ratios.get("pretrained") if r else None
        mark(
            None if p is None else _verdict(p, 3.0),
            f"{name}: create_model(pretrained=True) from local safetensors >= 3x faster than timm "
            f"(got {_fmt_ratio(p)})",
        )
    if imports:
        q = ratio(imports["visionzoo"], imports["torch"])
        mark(_verdict(q, 1.10, at_most=True), f"import visionzoo <= 1.10x import torch (got {_fmt_ratio(q)})")
    return lines


# --- main ------------------------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--models",
        default="seed",
        help="comma-separated model names and groups: 'seed' (the seed families' models, the "
        f"default: {', '.join(DEFAULT_MODELS)}), 'families' (issues 13-15: {', '.join(FAMILY_MODELS)}), "
        f"'cnns' (issue 26: {', '.join(CNN_MODELS)})",
    )
    p.add_argument("--rounds", type=int, default=5, help="interleaved rounds per measurement (default 5)")
    p.add_argument("--iters", type=int, default=3, help="forward calls per eval measurement (default 3)")
    p.add_argument("--batch-size", type=int, default=8, help="eval batch (default 8)")
    p.add_argument("--train-batch-size", type=int, default=8, help="train batch (default 8)")
    p.add_argument("--img-size", type=int, default=224, help="input size for speed runs (default 224)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch threads (default: all)")
    p.add_argument(
        "--photos", type=int, default=100, help="photo crops for the accuracy section (default 100)"
    )
    p.add_argument("--sections", default=",".join(SECTIONS), help=f"subset of: {','.join(SECTIONS)}")
    p.add_argument(
        "--train-modes",
        default="default,cl-bf16",
        help="training settings to time and measure: default, cl-bf16, ckpt, compiled (inductor; "
        "timed only, not in the memory section) (default: default,cl-bf16)",
    )
    p.add_argument("--markdown", metavar="PATH", help="also write the report to PATH")
    args = p.parse_args(argv)
    args.models = [n for m in args.models.split(",") if m for n in MODEL_GROUPS.get(m, (m,))]
    args.sections = [s for s in args.sections.split(",") if s]
    args.train_modes = [m for m in args.train_modes.split(",") if m]
    bad = [s for s in args.sections if s not in SECTIONS]
    if bad:
        p.error(f"unknown sections {bad}; valid: {', '.join(SECTIONS)}")
    bad = [m for m in args.train_modes if m not in TRAIN_MODES]
    if bad:
        p.error(f"unknown train modes {bad}; valid: {', '.join(TRAIN_MODES)}")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    import timm

    import visionzoo
    from visionzoo.optimize import supported_precisions

    context = {
        "cpu": cpu_name(),
        "timm": timm.__version__,
        "visionzoo": visionzoo.__version__,
        "load_start": load_average(),
    }
    bf16 = "bf16" in supported_precisions("cpu")
    train_modes = [m for m in args.train_modes if m != "cl-bf16" or bf16]
    peaks: dict[str, float] = {}
    if "flops" in args.sections:
        log("measuring matmul peak")
        peaks["fp32"] = matmul_peak(torch.float32)
        if bf16:
            peaks["bf16"] = matmul_peak(torch.bfloat16)
        log("measuring copy bandwidth")
        peaks["copy GB/s"] = copy_bandwidth()
    imports = None
    if "import" in args.sections:
        log("timing imports")
        imports = bench_import(args)
    results = []
    for name in args.models:
        if not visionzoo.is_model(name):
            print(f"note: {name} is not registered in visionzoo yet; skipped", flush=True)
            continue
        if not timm.is_model(name):
            print(f"note: timm has no {name}; skipped", flush=True)
            continue
        res = ModelResult(name)
        start = time.perf_counter()
        sections: dict[str, Callable[[], None]] = {
            "eval": lambda res=res: bench_eval(res, args, bf16),
            "latency": lambda res=res: bench_latency(res, args),
            "compiled": lambda res=res: bench_compiled(res, args, bf16),
            "train": lambda res=res: bench_train(res, args, train_modes),
            "memory": lambda res=res: bench_memory(res, args, [m for m in train_modes if m in MEMORY_MODES]),
            "create": lambda res=res: bench_create(res, args),
            "flops": lambda res=res: bench_flops(res, args),
            "accuracy": lambda res=res: bench_accuracy(res, args, bf16),
        }
        for section, fn in sections.items():
            if section in args.sections:
                log(f"{name}: {section}")
                fn()
        log(f"{name}: done in {time.perf_counter() - start:.0f} s")
        results.append(res)
    context["load_end"] = load_average()
    report = render(results, args, peaks, imports, context)
    print(report, flush=True)
    if args.markdown:
        Path(args.markdown).write_text(report + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
