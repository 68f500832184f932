"""The ``visionzoo`` command: list, info, predict, validate, train, benchmark, pick, export.

Run ``visionzoo COMMAND --help`` for each command's options. Exit codes follow the error's
type, never its text:

* 2, one line: bad input, raised as one of the library's user-facing errors (:class:`CLIError`,
  ``DatasetError``, ``UnknownModelError``, ``WeightsError``, ``StateDictMismatchError``), before
  any work starts and leaving no partial output behind; ``--verbose`` adds the traceback.
* 1, one line: the work failed for a stated reason (:class:`RunFailed`, e.g. training diverged)
  or the system refused (an ``OSError`` such as a full disk).
* 1, with the traceback: anything else is a bug in visionzoo, and the last line says so.

Multi-process training: ``torchrun --nproc_per_node=N -m visionzoo train ...``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import traceback
from collections.abc import Sequence

from ._errors import CLIError, RunFailed

__all__ = ["CLIError", "RunFailed", "build_parser", "main"]

BUG_REPORT = "this is a bug in visionzoo, not in your input: please report it on the visionzoo issue tracker"

_EPILOG = """examples:
  visionzoo list 'resnet*' --pretrained --sort top1
  visionzoo info resnet50
  visionzoo predict cat.jpg --model resnet50 --pretrained
  visionzoo train digits --model resnet10t --img-size 32 --epochs 10 --output runs/digits
  visionzoo predict photos/ --checkpoint runs/digits/best --topk 1
  visionzoo validate imagenet/val --model resnet50 --pretrained --results r.csv
  visionzoo benchmark --model resnet50 --batch-size 64 --precision bf16
  visionzoo pick 'resnet*' 'efficientnet*' --pretrained --max-latency-ms 20 --plot pick.png
  visionzoo export --checkpoint runs/digits/best --format onnx --output digits.onnx
"""


def build_parser() -> argparse.ArgumentParser:
    from . import benchmark, export, info, list_models, pick, predict, train, validate

    parser = argparse.ArgumentParser(
        prog="visionzoo",
        description="PyTorch image models: list, inspect, classify, evaluate, train, measure, pick, export.",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from .. import __version__

    parser.add_argument("--version", action="version", version=f"visionzoo {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (list_models, info, predict, validate, train, benchmark, pick, export):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``visionzoo`` console script and ``python -m visionzoo``.

    Returns:
        The exit code: 0 success, 1 failure during the work (or a bug), 2 bad input, 130 interrupted.
    """
    parser = build_parser()
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.command is None:
        parser.print_help()
        return 2
    verbose = bool(getattr(args, "verbose", False))
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="visionzoo: %(message)s",
        stream=sys.stderr,
    )
    return _run(args, verbose)


def _user_errors() -> tuple[type[BaseException], ...]:
    """The library's own user-facing error types: bad input, reported in one line, exit 2."""
    from ..data.datasets import DatasetError
    from ..hub import WeightsError
    from ..integrity import StateDictMismatchError
    from ..registry import UnknownModelError

    return (CLIError, DatasetError, UnknownModelError, WeightsError, StateDictMismatchError)


def _run(args: argparse.Namespace, verbose: bool) -> int:
    prog = f"visionzoo {args.command}"
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        message = _one_line(e)
        hint = "" if verbose else " (run with --verbose for the traceback)"
        if isinstance(e, _user_errors()):
            if verbose:
                traceback.print_exc()
            print(f"{prog}: error: {message}", file=sys.stderr)
            return 2
        if isinstance(e, (RunFailed, OSError)):
            if verbose:
                traceback.print_exc()
            print(f"{prog}: failed: {message}{hint}", file=sys.stderr)
            return 1
        traceback.print_exc()
        print(f"{prog}: internal error ({type(e).__name__}): {BUG_REPORT}", file=sys.stderr)
        return 1


def _one_line(e: BaseException) -> str:
    if isinstance(e, KeyError) and len(e.args) == 1:
        text = str(e.args[0])
    else:
        text = str(e)
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(e).__name__
