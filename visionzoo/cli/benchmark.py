"""``visionzoo benchmark``: inference or training throughput, latency, memory and achieved FLOP/s."""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from typing import Any

import torch
from torch import nn

from ._args import add_common, add_device, add_engine, check_positive, precision_dtype, resolve_device
from ._errors import CLIError, user_values
from ._model import load_model, maybe_optimize, model_in_chans
from ._output import format_table


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "benchmark",
        help="measure img/s, ms/step, peak memory and achieved GFLOP/s",
        description="Time a model on random input: inference (optimised with visionzoo.optimize "
        "unless --no-optimize) or, with --train, forward + backward + SGD step. Reports images/s, "
        "milliseconds per step, peak memory (CUDA allocator peak on GPUs; the process's peak "
        "resident set on CPU) and achieved GFLOP/s (torch's flop counter x steps / time).",
    )
    p.add_argument("--model", "-m", required=True, help="registered name, hf-hub:org/repo or local-dir:PATH")
    p.add_argument(
        "--checkpoint", "-c", metavar="PATH", help="weights to load (throughput does not depend on them)"
    )
    p.add_argument("--batch-size", "-b", type=int, default=32, help="images per step (default 32)")
    p.add_argument("--img-size", type=int, help="input size (default: the model's config)")
    p.add_argument(
        "--precision",
        choices=("fp32", "bf16", "fp16", "int8"),
        default="fp32",
        help="compute precision (int8: quantised after training for --engine, with --calibration)",
    )
    p.add_argument("--channels-last", action="store_true", help="channels-last memory format")
    p.add_argument("--compile", action="store_true", help="torch.compile the model")
    p.add_argument("--train", action="store_true", help="time training steps instead of inference")
    p.add_argument("--steps", type=int, default=20, help="timed steps (default 20)")
    p.add_argument("--warmup", type=int, default=5, help="untimed warm-up steps (default 5)")
    p.add_argument("--no-optimize", action="store_true", help="inference: run the model as built")
    add_engine(p, extra=("all",))
    p.add_argument("--json", action="store_true", help="print a JSON object")
    add_device(p)
    add_common(p)
    p.set_defaults(func=run)


def _matmul_peak_gflops() -> float:
    """Best fp32 GFLOP/s of 2048x2048 matmuls here: the yardstick for the engine table."""
    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    torch.mm(a, b)
    best = 0.0
    for _ in range(3):
        start = time.perf_counter()
        torch.mm(a, b)
        best = max(best, 2 * 2048**3 / (time.perf_counter() - start) / 1e9)
    return best


def _engine_table(model: nn.Module, x: torch.Tensor, args: argparse.Namespace) -> int:
    """``--engine all``: img/s of every installed engine x precision, and the fraction of the
    measured fp32 matmul peak each reaches."""
    from ..engines import available_engines
    from ..optimize import optimize_for_inference, supported_precisions

    flops = count_flops(model, x)
    peak = _matmul_peak_gflops()
    calibration = args.calibration or torch.randn(16, *x.shape[1:])
    combos: list[tuple[str, str]] = [
        ("torch", p) for p in ("fp32", "bf16", "fp16") if p in supported_precisions("cpu")
    ]
    combos += [(e, "fp32") for e in available_engines() if e != "torch"]
    combos += [(e, "int8") for e in available_engines("int8")]
    rows = []
    for engine, precision in combos:
        net = optimize_for_inference(
            model,
            engine=engine,
            precision=precision,
            calibration=calibration if precision == "int8" else None,
            batch_size=x.shape[0],
        )
        xin = x.to(next((p.dtype for p in net.parameters()), torch.float32)) if engine == "torch" else x
        with torch.inference_mode():
            for _ in range(args.warmup):
                net(xin)
            start = time.perf_counter()
            for _ in range(args.steps):
                net(xin)
            elapsed = time.perf_counter() - start
        gflops = flops * args.steps / elapsed / 1e9
        rows.append([engine, precision, f"{x.shape[0] * args.steps / elapsed:.1f}", f"{gflops / peak:.0%}"])
    print(f"{args.model}, batch {x.shape[0]}, {x.shape[-1]}px; fp32 matmul peak {peak:.0f} GFLOP/s")
    print(format_table(rows, ["engine", "precision", "img/s", "of fp32 matmul peak"]))
    return 0


def _cpu_attention_flops(query: Any, key: Any, value: Any, *_: Any, **__: Any) -> int:
    from torch.utils.flop_counter import sdpa_flop_count

    return int(sdpa_flop_count(query, key, value))


def _cpu_attention_backward_flops(grad_out: Any, query: Any, key: Any, value: Any, *_: Any, **__: Any) -> int:
    from torch.utils.flop_counter import sdpa_backward_flop_count

    return int(sdpa_backward_flop_count(grad_out, query, key, value))


def count_flops(model: nn.Module, x: torch.Tensor, *, train: bool = False) -> int:
    """FLOPs of one forward (``train``: forward and backward) of ``model`` on ``x``, by torch's
    flop counter, with the CPU's fused attention kernel counted too: torch's counter has no
    formula for it, so a ViT's attention matmuls (4-9% of its FLOPs) would go uncounted."""
    from torch.utils.flop_counter import FlopCounterMode

    aten = torch.ops.aten
    mapping = {
        aten._scaled_dot_product_flash_attention_for_cpu: _cpu_attention_flops,
        aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_attention_backward_flops,
    }
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        if train:
            model(x).float().sum().backward()
        else:
            with torch.inference_mode():
                model(x)
    if train:
        model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _peak_memory_mb(device: torch.device) -> tuple[float, str]:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20, "CUDA allocator peak"
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20, "process peak RSS"


def run(args: argparse.Namespace) -> int:
    from ..data import resolve_model_data_config

    for name in ("batch_size", "steps"):
        if getattr(args, name) < 1:
            raise CLIError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(args, name)}")
    if args.warmup < 0:
        raise CLIError(f"--warmup must be >= 0, got {args.warmup}")
    check_positive(img_size=args.img_size)
    device = resolve_device(args.device)
    dtype = precision_dtype(args.precision)
    model = load_model(args.model, checkpoint=args.checkpoint)
    with user_values():
        cfg = resolve_model_data_config(model, {"img_size": args.img_size})
    size = (model_in_chans(model), *cfg["input_size"][1:])
    model.to(device)
    x = torch.randn(args.batch_size, *size, device=device)
    if args.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)

    if args.train:
        model.train()
        if args.channels_last:
            model.to(memory_format=torch.channels_last)
        flops = count_flops(model, x, train=True)
        opt = torch.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9)
        net = torch.compile(model) if args.compile else model
        amp = torch.autocast(device.type, dtype=dtype) if dtype != torch.float32 else None

        def step() -> None:
            opt.zero_grad(set_to_none=True)
            if amp is not None:
                with torch.autocast(device.type, dtype=dtype):
                    out = net(x)
            else:
                out = net(x)
            out.float().mean().backward()
            opt.step()
    else:
        model.eval()
        flops = count_flops(model, x)
        if args.engine == "all":
            return _engine_table(model, x, args)
        net = maybe_optimize(
            model,
            enabled=not args.no_optimize,
            precision=args.precision,
            channels_last=args.channels_last or None,
            compile=args.compile,
            engine=args.engine,
            calibration=args.calibration,
            batch_size=args.batch_size,
        )
        xin = x.to(next((p.dtype for p in net.parameters()), dtype))

        def step() -> None:
            with torch.inference_mode():
                net(xin)

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for _ in range(args.warmup):
        step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    _sync(device)
    elapsed = time.perf_counter() - start
    peak, peak_kind = _peak_memory_mb(device)
    ms = 1000 * elapsed / args.steps
    record = {
        "model": args.model,
        "mode": "train" if args.train else "inference",
        "device": str(device),
        "batch_size": args.batch_size,
        "img_size": size[-1],
        "precision": args.precision,
        "channels_last": args.channels_last,
        "compile": args.compile,
        "optimized": not args.train and not args.no_optimize,
        "img_per_sec": round(args.batch_size * args.steps / elapsed, 2),
        "ms_per_step": round(ms, 3),
        "gflop_per_step": round(flops / 1e9, 3),
        "achieved_gflops": round(flops * args.steps / elapsed / 1e9, 2),
        "peak_memory_mb": round(peak, 1),
        "peak_memory_kind": peak_kind,
        "threads": torch.get_num_threads(),
    }
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        print(
            f"{record['model']} {record['mode']} on {record['device']} ({record['precision']}, batch "
            f"{record['batch_size']}, {size[-1]}px{', channels-last' if args.channels_last else ''}"
            f"{', compiled' if args.compile else ''}):\n"
            f"  {record['img_per_sec']:.1f} img/s   {record['ms_per_step']:.2f} ms/step   "
            f"{record['achieved_gflops']:.1f} GFLOP/s achieved ({record['gflop_per_step']:.2f} GFLOP/step)   "
            f"peak memory {record['peak_memory_mb']:.0f} MiB ({peak_kind})"
        )
    return 0
