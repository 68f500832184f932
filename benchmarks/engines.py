"""Engines x precisions on this machine: ``python -m benchmarks.engines [--models a,b] [--batches 1,8]``.

For each model and batch size: images/s of timm's default, ONNX Runtime's plain session on the
exported file (default session options with torch's thread count), and each engine behind
``optimize_for_inference`` (``torch``, ``onnxruntime``, ``openvino`` where installed, ``auto``,
and ``int8`` on each engine that has it here: torch's PT2E, ONNX Runtime, OpenVINO), as ratios
against timm's default, against the plain ONNX Runtime session and against our fp32 path (the
``torch`` engine: int8's target), with the fraction of the measured fp32 matmul peak each reaches
(model FLOPs x img/s / peak). Contenders are timed interleaved (each round runs all of them once,
the order alternating), medians of ``--rounds`` rounds; each ratio is the median of the per-round
ratios with their range. ``--contenders`` times a subset (timm's default and the plain session
are always timed: they are the ratios' denominators). After the table, issue 16's targets per
model and batch, judged by every round as ``benchmarks.run`` judges its own.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from .run import _fmt_ratio, _randomize, _verdict, cpu_name, matmul_peak
from .timing import interleaved, ratio, time_calls

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


BASELINES = ("timm default", "onnxruntime plain")


def engine_targets(name: str, batch: int, secs: dict[str, list[float]]) -> list[str]:
    """Issue 16's targets for one model and batch from the per-round seconds of each contender:
    ``auto`` at least ONNX Runtime's plain session, the fastest int8 at least 1.5x our fp32 path."""
    lines = []
    if "auto" in secs:
        r = ratio(secs["auto"], secs["onnxruntime plain"], invert=True)
        lines.append(
            f"- [{_verdict(r, 1.0)}] {name}, batch {batch}: auto >= 1.0x ONNX Runtime's plain session "
            f"(got {_fmt_ratio(r)})"
        )
    int8 = [k for k in secs if k.startswith("int8 (")]
    if int8 and "torch" in secs:
        fastest = min(int8, key=lambda k: statistics.median(secs[k]))
        r = ratio(secs[fastest], secs["torch"], invert=True)
        lines.append(
            f"- [{_verdict(r, 1.5)}] {name}, batch {batch}: int8 >= 1.5x our fp32 (torch) where the CPU "
            f"has int8 dot products (fastest: {fastest}, got {_fmt_ratio(r)})"
        )
    return lines


def bench_model(
    name: str, batch: int, rounds: int, peak: float, contenders: set[str] | None = None
) -> tuple[list[str], list[str]]:
    """The table rows for one model and batch, and its target lines."""
    import timm

    import visionzoo
    from visionzoo.cli.benchmark import count_flops

    ours = visionzoo.create_model(name).eval()
    _randomize(ours)
    theirs = timm.create_model(name).eval()
    theirs.load_state_dict(ours.state_dict())
    size = ours.pretrained_cfg.input_size
    x = torch.randn(batch, *size)
    gflop = count_flops(ours, x[:1]) / 1e9
    calib = torch.randn(32, *size)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs: dict[str, Callable[[torch.Tensor], object]] = {"timm default": theirs}
        runs["onnxruntime plain"] = _plain_session(ours, x, folder)
        from visionzoo.engines import available_engines

        def wanted(label: str) -> bool:
            return contenders is None or label in contenders

        for engine in (*available_engines(), "auto"):
            if wanted(engine):
                runs[engine] = visionzoo.optimize_for_inference(
                    ours, engine=engine, batch_size=batch, engine_cache_dir=tmp
                )
        refused = []
        for engine in available_engines("int8"):
            if wanted(f"int8 ({engine})"):
                try:
                    runs[f"int8 ({engine})"] = visionzoo.optimize_for_inference(
                        ours, precision="int8", engine=engine, calibration=calib, engine_cache_dir=tmp
                    )
                except ValueError as e:  # the build's check refused it: a row that says why
                    refused.append(f"| {name} | {batch} | int8 ({engine}) refused: {e} | | | | | |")
        chosen = getattr(runs.get("auto"), "engine_report", None)

        def timer(fn: Callable[[torch.Tensor], object]) -> Callable[[], float]:
            def once() -> float:
                with torch.inference_mode():
                    fn(x)
                    return time_calls(lambda: fn(x), 3)

            return once

        secs = interleaved({k: timer(v) for k, v in runs.items()}, rounds)
    rows = []

    def vs(k: str, base: str) -> str:  # speed of k ÷ speed of base, per round
        return _fmt_ratio(ratio(secs[k], secs[base], invert=True)) if base in secs else "-"

    for k, t in secs.items():
        ips = batch / statistics.median(t)
        rows.append(
            f"| {name} | {batch} | {k} | {ips:.1f} | {vs(k, 'timm default')} | "
            f"{vs(k, 'onnxruntime plain')} | {vs(k, 'torch')} | {gflop * ips / peak:.0%} |"
        )
    rows += refused
    if chosen is not None:
        timed = ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in sorted(chosen.seconds_per_batch.items()))
        rows.append(f"| {name} | {batch} | (auto chose {chosen.engine}; its timing: {timed}) | | | | | |")
    return rows, engine_targets(name, batch, secs)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(DEFAULT_MODELS))
    p.add_argument("--batches", default="1,8")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument(
        "--contenders",
        default=None,
        help="comma-separated subset, e.g. 'auto,int8 (openvino)' (default: all); "
        f"{' and '.join(BASELINES)} are always timed",
    )
    args = p.parse_args(argv)
    contenders = None if args.contenders is None else set(args.contenders.split(","))
    peak = matmul_peak(torch.float32)
    out = [
        f"CPU: {cpu_name()}, {torch.get_num_threads()} threads; fp32 matmul peak {peak:.0f} GFLOP/s",
        "",
        "Ratios: median of the per-round ratios (range over the rounds).",
        "",
        "| model | batch | engine | img/s | ÷ timm default | ÷ ORT plain | ÷ ours fp32 (torch) "
        "| of fp32 peak |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines = []
    for name in args.models.split(","):
        for batch in (int(b) for b in args.batches.split(",")):
            rows, marks = bench_model(name, batch, args.rounds, peak, contenders)
            out += rows
            lines += marks
            print("\n".join(rows), flush=True)
    out += ["", "Targets (met: every round on the target's side; not shown: the rounds straddle it):"]
    out += ["", *lines]
    print("\n".join(out))


if __name__ == "__main__":
    main()
