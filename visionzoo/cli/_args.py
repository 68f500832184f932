"""Arguments the subcommands share (``--device``, ``--model`` / ``--checkpoint``, ``--engine``...)
and the checks of what the user typed into them."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

import torch

from ..engines import ENGINES
from ._errors import CLIError

__all__ = [
    "ENGINE_CHOICES",
    "PRECISIONS",
    "add_common",
    "add_device",
    "add_engine",
    "add_model_source",
    "check_positive",
    "one_line_errors",
    "precision_dtype",
    "resolve_device",
]


def check_positive(**values: float | None) -> None:
    """``--name must be > 0`` for each given value (``img_size=...``) that is not."""
    for name, value in values.items():
        if value is not None and value <= 0:
            raise CLIError(f"--{name.replace('_', '-')} must be > 0, got {value}")


def one_line_errors(parser: argparse.ArgumentParser) -> None:
    """Make ``parser``'s own errors (an unknown choice, a value that is not a number) one line
    naming the value and what is valid, exit code 2, like the library's user-facing errors:
    argparse would print the usage block first."""

    def error(message: str) -> NoReturn:
        print(f"{parser.prog}: error: {message}", file=sys.stderr)
        raise SystemExit(2)

    parser.error = error  # type: ignore[method-assign]


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="show full tracebacks and debug messages on errors"
    )


def add_device(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        default=None,
        help="cpu, cuda, cuda:1, mps... (default: cuda when available, else cpu; "
        "under torchrun each process takes cuda:LOCAL_RANK)",
    )


def add_model_source(parser: argparse.ArgumentParser, *, model_required: bool = False) -> None:
    parser.add_argument(
        "--model",
        "-m",
        required=model_required,
        help="registered name (optionally arch.tag), hf-hub:org/repo or local-dir:PATH",
    )
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--pretrained", action="store_true", help="load the model's published weights")
    group.add_argument(
        "--checkpoint",
        "-c",
        metavar="PATH",
        help="a folder written by `visionzoo train` (best/, last/ or the run folder) or by "
        "save_pretrained, or a weights file (.safetensors/.pth) for --model",
    )


def resolve_device(name: str | None) -> torch.device:
    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as e:
        raise CLIError(f"unknown device {name!r}: {e}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise CLIError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
    return device


ENGINE_CHOICES = ENGINES  # the engine table's names, and auto


def add_engine(p: argparse.ArgumentParser, *, extra: tuple[str, ...] = ()) -> None:
    """``--engine`` (and ``--calibration`` for int8) of predict / validate / benchmark."""
    p.add_argument(
        "--engine",
        choices=ENGINE_CHOICES + extra,
        default=None,
        help="inference engine: torch (default; for --precision int8 PyTorch's PT2E quantisation, pip "
        "install 'visionzoo[torchao]', else ONNX Runtime), onnxruntime or openvino (the model "
        "exported to ONNX and run by that runtime; pip install 'visionzoo[onnx]' / '[openvino]'), "
        "auto (time the installed ones and keep the fastest; ONNX Runtime unless another is >5%% "
        "faster); every engine is checked against the eager model"
        + ("; all: a table of every engine and precision on this machine" if "all" in extra else ""),
    )
    p.add_argument(
        "--calibration",
        metavar="DATA",
        help="calibration images for --precision int8 (a dataset spec, e.g. digits:train or a folder)",
    )


PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16, "int8": torch.float32}


def precision_dtype(name: str) -> torch.dtype:
    try:
        return PRECISIONS[name]
    except KeyError:
        raise CLIError(f"unknown precision {name!r}; valid: {', '.join(PRECISIONS)}") from None
