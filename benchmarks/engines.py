"""Engines x precisions on this machine: ``python -m benchmarks.engines [--models a,b] [--batches 1,8]``.

For each model and batch size: images/s of timm's default, ONNX Runtime's plain session on the
exported file (default session options with torch's thread count), and each engine behind
``optimize_for_inference`` (``torch``, ``onnxruntime``, ``openvino`` where installed, ``auto``, and
``int8`` through ONNX Runtime), as ratios against timm's default and against the plain ONNX
Runtime session, with the fraction of the measured fp32 matmul peak each reaches (model FLOPs x
img/s / peak). Contenders are timed interleaved (each round runs all of them once, the order
alternating), medians of ``--rounds`` rounds.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from .run import _randomize, cpu_name, matmul_peak
from .timing import interleaved, time_calls

DEFAULT_MODELS = ("resnet50d", "cspdarknet53", "densenet121", "inception_v3")


def _plain_session(model: nn.Module, x: torch.Tensor, folder: Path) -> Callable[[torch.Tensor], object]:
    import onnxruntime as ort

    from visionzoo.engines import export_onnx

    path = folder / "plain.onnx"
    export_onnx(model, x, path)
    options = ort.SessionOptions()
    # default options but the thread count: ORT's default (every core, its own affinity) would
    # escape a pinned run (taskset) and compare two cores against one
    options.intra_op_num_threads = torch.get_num_threads()
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return lambda t: session.run(None, {name: t.numpy()})


def bench_model(name: str, batch: int, rounds: int, peak: float) -> list[str]:
    import timm
    from torch.utils.flop_counter import FlopCounterMode

    import visionzoo

    ours = visionzoo.create_model(name).eval()
    _randomize(ours)
    theirs = timm.create_model(name).eval()
    theirs.load_state_dict(ours.state_dict())
    size = ours.pretrained_cfg.input_size
    x = torch.randn(batch, *size)
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        ours(x[:1])
    gflop = counter.get_total_flops() / 1e9
    calib = torch.randn(32, *size)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs: dict[str, Callable[[torch.Tensor], object]] = {"timm default": theirs}
        runs["onnxruntime plain"] = _plain_session(ours, x, folder)
        from visionzoo.engines import available_engines

        for engine in (*available_engines(), "auto"):
            runs[engine] = visionzoo.optimize_for_inference(
                ours, engine=engine, batch_size=batch, engine_cache_dir=tmp
            )
        runs["int8 (onnxruntime)"] = visionzoo.optimize_for_inference(
            ours, precision="int8", engine="onnxruntime", calibration=calib, engine_cache_dir=tmp
        )
        chosen = getattr(runs["auto"], "engine_report", None)

        def timer(fn: Callable[[torch.Tensor], object]) -> Callable[[], float]:
            def once() -> float:
                with torch.inference_mode():
                    fn(x)
                    return time_calls(lambda: fn(x), 3)

            return once

        secs = interleaved({k: timer(v) for k, v in runs.items()}, rounds)
    med = {k: statistics.median(v) for k, v in secs.items()}
    rows = []
    for k, s in med.items():
        ips = batch / s
        rows.append(
            f"| {name} | {batch} | {k} | {ips:.1f} | {med['timm default'] / s:.2f} | "
            f"{med['onnxruntime plain'] / s:.2f} | {gflop * ips / peak:.0%} |"
        )
    if chosen is not None:
        rows.append(f"| {name} | {batch} | (auto chose {chosen.engine}) | | | | |")
    return rows


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(DEFAULT_MODELS))
    p.add_argument("--batches", default="1,8")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    peak = matmul_peak(torch.float32)
    out = [
        f"CPU: {cpu_name()}, {torch.get_num_threads()} threads; fp32 matmul peak {peak:.0f} GFLOP/s",
        "",
        "| model | batch | engine | img/s | ÷ timm default | ÷ ORT plain | of fp32 peak |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in args.models.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            rows = bench_model(name, batch, args.rounds, peak)
            out += rows
            print("\n".join(rows), flush=True)
    print("\n".join(out))


if __name__ == "__main__":
    main()
