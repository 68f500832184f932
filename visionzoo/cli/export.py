"""``visionzoo export``: ONNX or ``torch.export`` program, run and compared with the eager model."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ._args import add_common, add_model_source, check_positive
from ._errors import CLIError, RunFailed, user_values
from ._files import check_writable_file
from ._model import load_model, model_in_chans
from ._output import note

_FORMATS = ("onnx", "exported-program")


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "export",
        help="export to ONNX or a torch.export program, checked against eager",
        description="Export a model for deployment: 'onnx' (torch.onnx dynamo exporter; needs onnx "
        "and onnxscript, and onnxruntime to run the check: pip install 'visionzoo[onnx]') or "
        "'exported-program' (torch.export, saved as .pt2 and loadable with torch.export.load). "
        "The batch dimension is dynamic unless --batch-size fixes it. The exported file is loaded "
        "back, run on random input (batches of 1 and 3 when dynamic) and compared with the eager "
        "model; if they disagree beyond --atol/--rtol nothing is written. The file is written "
        "under a temporary name and renamed, so no partial file is left behind.",
    )
    add_model_source(p)
    p.add_argument("--format", "-f", choices=_FORMATS, required=True, help="onnx or exported-program")
    p.add_argument("--output", "-o", required=True, metavar="PATH", help="file to write (.onnx / .pt2)")
    p.add_argument("--img-size", type=int, help="input size (default: the model's config)")
    batch = p.add_mutually_exclusive_group()
    batch.add_argument(
        "--batch-size", "-b", type=int, help="fix the batch dimension at this size (default: dynamic)"
    )
    batch.add_argument("--dynamic-batch", action="store_true", help="dynamic batch dimension (the default)")
    p.add_argument("--opset", type=int, help="ONNX opset version (default: the exporter's)")
    p.add_argument("--atol", type=float, default=1e-4, help="absolute tolerance of the check (default 1e-4)")
    p.add_argument("--rtol", type=float, default=1e-4, help="relative tolerance of the check (default 1e-4)")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    add_common(p)
    p.set_defaults(func=run)


def _export_onnx(model: nn.Module, x: torch.Tensor, path: Path, *, dynamic: bool, opset: int | None) -> Any:
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise CLIError("ONNX export needs onnx and onnxscript: pip install 'visionzoo[onnx]'") from None
    kwargs: dict[str, Any] = {"input_names": ["input"], "output_names": ["logits"], "dynamo": True}
    if dynamic:
        kwargs["dynamic_shapes"] = {"x": {0: torch.export.Dim("batch")}}
    if opset is not None:
        kwargs["opset_version"] = opset
    with contextlib.redirect_stdout(sys.stderr):  # the exporter's progress lines; stdout is for results
        torch.onnx.export(model, (x,), str(path), **kwargs)


def _run_onnx(path: Path, x: torch.Tensor) -> torch.Tensor | None:
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return torch.from_numpy(session.run(None, {name: x.numpy()})[0])


def _export_program(model: nn.Module, x: torch.Tensor, path: Path, *, dynamic: bool) -> None:
    shapes = {"x": {0: torch.export.Dim("batch")}} if dynamic else None
    program = torch.export.export(model, (x,), dynamic_shapes=shapes)
    torch.export.save(program, str(path))


def _run_program(path: Path, x: torch.Tensor) -> torch.Tensor:
    program = torch.export.load(str(path))
    with torch.no_grad():
        return program.module()(x)


def run(args: argparse.Namespace) -> int:
    from ..data import resolve_model_data_config

    output = Path(args.output).expanduser()
    check_writable_file(output)
    if args.batch_size is not None and args.batch_size < 1:
        raise CLIError(f"--batch-size must be >= 1, got {args.batch_size}")
    check_positive(img_size=args.img_size)
    dynamic = args.batch_size is None
    model = load_model(args.model, pretrained=args.pretrained, checkpoint=args.checkpoint)
    model.eval()
    with user_values():
        cfg = resolve_model_data_config(model, {"img_size": args.img_size})
    size = (model_in_chans(model), *cfg["input_size"][1:])
    gen = torch.Generator().manual_seed(0)
    # a dynamic batch is traced at 2 (torch.export specialises 0 and 1) and checked at 1 and 3
    x = torch.randn(2 if dynamic else args.batch_size, *size, generator=gen)
    checks = [torch.randn(n, *size, generator=gen) for n in (1, 3)] if dynamic else [x]
    with torch.no_grad():
        expected = [model(c) for c in checks]

    # written in a temporary folder under the final name (ONNX external data files refer to
    # it), checked, then moved into place
    tmp_dir = output.with_name(f".{output.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp_dir, ignore_errors=True)
    tmp_dir.mkdir()
    tmp = tmp_dir / output.name
    try:
        if args.format == "onnx":
            _export_onnx(model, x, tmp, dynamic=dynamic, opset=args.opset)
            got = [_run_onnx(tmp, c) for c in checks]
            checker: str | None = "onnxruntime"
            if got[0] is None:
                import onnx

                onnx.checker.check_model(str(tmp))
                checker = None
        else:
            _export_program(model, x, tmp, dynamic=dynamic)
            got = [_run_program(tmp, c) for c in checks]  # type: ignore[misc]
            checker = "torch.export.load"
        max_err = 0.0
        if checker is not None:
            for e, g in zip(expected, got):
                assert g is not None  # checker is set only when the file was run
                if g.shape != e.shape:
                    raise RunFailed(
                        f"exported model gives shape {tuple(g.shape)}, eager {tuple(e.shape)}; "
                        "nothing written"
                    )
                max_err = max(max_err, (g.float() - e.float()).abs().max().item())
                if not torch.allclose(g.float(), e.float(), atol=args.atol, rtol=args.rtol):
                    raise RunFailed(
                        f"exported model disagrees with eager: max abs difference {max_err:.3g} "
                        f"(atol {args.atol}, rtol {args.rtol}); nothing written"
                    )
        written = sorted(tmp_dir.iterdir(), key=lambda f: f == tmp)  # side files (ONNX data) first
        for f in written:
            os.replace(f, output.parent / f.name)
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)
    summary = {
        "output": str(output),
        "format": args.format,
        "input_shape": [("batch" if dynamic else args.batch_size), *size],
        "checked_batches": [c.shape[0] for c in checks] if checker else [],
        "checked_with": checker,
        "max_abs_diff": max_err if checker else None,
        "files": [str(output.parent / f.name) for f in written],
        "bytes": sum((output.parent / f.name).stat().st_size for f in written),
    }
    if checker is None:
        note(
            "onnxruntime is not installed: the ONNX graph was validated but not run (pip install onnxruntime)"
        )
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        shape = "x".join(map(str, summary["input_shape"]))
        check = f"checked with {checker}: max abs diff {max_err:.2e}" if checker else "not run"
        print(f"wrote {output} ({args.format}, input {shape}, {summary['bytes'] / 2**20:.1f} MiB); {check}")
    return 0
