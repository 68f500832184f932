"""Helpers shared by the subcommands: errors, model loading, devices, output files, tables."""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import os
import shutil
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = [
    "CLIError",
    "RunFailed",
    "add_common",
    "add_device",
    "add_engine",
    "add_model_source",
    "atomic_write",
    "check_positive",
    "check_writable_file",
    "format_table",
    "load_model",
    "maybe_optimize",
    "note",
    "resolve_device",
    "user_values",
]


class CLIError(Exception):
    """Bad input: reported as one line on stderr with exit code 2."""


class RunFailed(Exception):
    """The work failed for a reason the message states (not bad input, not a bug): one line, exit 1."""


@contextlib.contextmanager
def user_values(what: str = "") -> Iterator[None]:
    """Around a library call whose ``ValueError`` / ``TypeError`` can only come from values the
    user typed, make it bad input (exit 2); ``what`` prefixes the message when it does not
    name the flag itself."""
    try:
        yield
    except (ValueError, TypeError) as e:
        text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise CLIError(f"{what}: {text}" if what else text) from e


def check_positive(**values: float | None) -> None:
    """``--name must be > 0`` for each given value (``img_size=...``) that is not."""
    for name, value in values.items():
        if value is not None and value <= 0:
            raise CLIError(f"--{name.replace('_', '-')} must be > 0, got {value}")


def note(message: str) -> None:
    """A status line on stderr (stdout stays clean for results and ``--json``)."""
    print(f"visionzoo: {message}", file=sys.stderr, flush=True)


# --- arguments ------------------------------------------------------------------------------------
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


# --- models ---------------------------------------------------------------------------------------
def checkpoint_folder(path: Path) -> Path | None:
    """The saved-model folder ``path`` names: itself, or ``best/`` / ``last/`` of a run folder."""
    if not path.is_dir():
        return None
    if (path / "config.json").is_file():
        return path
    for sub in ("best", "last"):
        if (path / sub / "config.json").is_file():
            return path / sub
    raise CLIError(
        f"checkpoint folder {path} has no config.json (nor best/ or last/ with one); "
        "pass a folder written by `visionzoo train` or save_pretrained, or a weights file"
    )


def saved_architecture(folder: Path) -> str:
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        return str(config["architecture"])
    except (OSError, ValueError, KeyError) as e:
        raise CLIError(f"{folder / 'config.json'} is not a valid model config: {e}") from None


def _arch(name: str) -> str:
    from ..registry import resolve_model_name

    return resolve_model_name(name)[0]


def check_model_name(model_name: str) -> None:
    """Check a ``--model`` the user typed before anything is asked of them: an unknown name
    raises ``UnknownModelError``; a ``local-dir:`` folder must exist."""
    from ..registry import resolve_model_name

    if model_name.startswith(("hf-hub:", "hf_hub:")):
        return  # resolved (or refused) against the Hub when the model is built
    if model_name.startswith("local-dir:"):
        folder = Path(model_name.partition(":")[2]).expanduser()
        if not folder.is_dir():
            raise CLIError(f"--model {model_name}: folder {folder} not found")
        return
    resolve_model_name(model_name)


def load_model(
    model_name: str | None,
    *,
    pretrained: bool = False,
    checkpoint: str | None = None,
    require_weights: str | None = None,
    refuse_non_finite: bool = False,
    **kwargs: Any,
) -> nn.Module:
    """Build the model the command line names, with its weights.

    What the user typed (``--model``, ``--checkpoint``) is checked before what they left out.

    Args:
        model_name: ``--model``; may be omitted with a checkpoint folder.
        pretrained: ``--pretrained``.
        checkpoint: ``--checkpoint``: a saved-model / run folder, or a weights file.
        require_weights: refuse random weights, naming the command in the message.
        refuse_non_finite: weights holding NaN/Inf are bad input (one line naming the tensors),
            for commands whose output would be garbage (predict, validate).
        **kwargs: model arguments (``num_classes``, ``in_chans``...).
    """
    from ..integrity import NonFiniteWeightsWarning

    if model_name is not None:
        check_model_name(model_name)
    with warnings.catch_warnings(record=refuse_non_finite) as caught:
        if refuse_non_finite:
            warnings.simplefilter("always", NonFiniteWeightsWarning)
        model = _load_model(
            model_name,
            pretrained=pretrained,
            checkpoint=checkpoint,
            require_weights=require_weights,
            **kwargs,
        )
    for w in caught or []:
        if isinstance(w.message, NonFiniteWeightsWarning):
            tensors = w.message.tensors
            more = f" and {len(tensors) - 3} more" if len(tensors) > 3 else ""
            raise CLIError(
                f"the weights hold NaN/Inf values in {len(tensors)} tensor(s) "
                f"({', '.join(tensors[:3])}{more}); the outputs would be meaningless"
            )
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return model


def _load_model(
    model_name: str | None,
    *,
    pretrained: bool,
    checkpoint: str | None,
    require_weights: str | None,
    **kwargs: Any,
) -> nn.Module:
    from .. import create_model
    from ..builder import load_state_dict_into
    from ..hub import WeightsUnavailable, load_state_dict

    if checkpoint is None:
        if model_name is None:
            raise CLIError("pass --model NAME (see `visionzoo list`) or --checkpoint PATH")
        if require_weights and not pretrained and not model_name.startswith(("local-dir:", "hf-hub:")):
            raise CLIError(
                f"{require_weights} needs trained weights: add --pretrained, or --checkpoint PATH "
                "for weights you trained"
            )
        advice = (
            f"On the command line: --model {model_name} --checkpoint path/to/weights, "
            "or --checkpoint FOLDER (saved by save_pretrained or `visionzoo train`)"
        )
        try:
            return create_model(model_name, pretrained=pretrained, **kwargs)
        except WeightsUnavailable as e:  # (other WeightsErrors are one line, exit 2, as they are)
            raise CLIError(f"{_one_line(e)}. {advice}") from None
    path = Path(checkpoint).expanduser()
    if not path.exists():
        raise CLIError(f"checkpoint not found: {path}")
    folder = checkpoint_folder(path)
    if folder is not None:
        saved = saved_architecture(folder)
        if model_name is not None and _arch(model_name) != saved:
            raise CLIError(
                f"checkpoint {folder} is a {saved!r} model, not {_arch(model_name)!r}; "
                f"drop --model or pass --model {saved}"
            )
        # weights that do not fit the architecture its config names: StateDictMismatchError (exit 2)
        return create_model(f"local-dir:{folder}", pretrained=True, **kwargs)
    if model_name is None:
        raise CLIError(f"--checkpoint {path} is a weights file: also pass --model NAME (its architecture)")
    state_dict = load_state_dict(path)
    model = create_model(model_name, **_shape_kwargs(model_name, state_dict, kwargs))
    load_state_dict_into(model, state_dict, source=f"checkpoint {path}")
    return model


def _one_line(e: BaseException) -> str:
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    return lines[0].rstrip(".") if lines else type(e).__name__


def _shape_kwargs(
    model_name: str, state_dict: Mapping[str, torch.Tensor], kwargs: dict[str, Any]
) -> dict[str, Any]:
    """Class count and input channels read off a weights file, so a fine-tune loads as is."""
    from ..adapt import as_names
    from ..registry import get_pretrained_cfg

    cfg = get_pretrained_cfg(model_name)
    out = dict(kwargs)
    if cfg is None:
        return out
    for name in as_names(cfg.classifier)[:1]:
        w = state_dict.get(f"{name}.weight")
        if w is not None and w.ndim >= 2:
            out.setdefault("num_classes", int(w.shape[0]))
    for name in as_names(cfg.first_conv)[:1]:
        w = state_dict.get(f"{name}.weight")
        if w is not None and w.ndim == 4:
            out.setdefault("in_chans", int(w.shape[1]))
    return out


def model_in_chans(model: nn.Module) -> int:
    from ..model import model_in_chans as in_chans  # (lazy: keeps `visionzoo --help` fast)

    return in_chans(model)


_warned_optimize = False


ENGINE_CHOICES = ("torch", "onnxruntime", "openvino", "auto")


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


def maybe_optimize(
    model: nn.Module,
    *,
    enabled: bool,
    precision: str = "fp32",
    channels_last: bool | None = None,
    compile: bool = False,
    engine: str | None = None,
    calibration: str | None = None,
    batch_size: int = 1,
) -> nn.Module:
    """Apply :func:`visionzoo.optimize.optimize_for_inference` (BN folding, precision, memory
    format, compile, another engine), or, with ``enabled=False`` (``--no-optimize``), only what
    was asked for. No ``engine``: torch, and for int8 the first installed of torch (torchao) and
    ONNX Runtime (the engine that ran is in the note this prints)."""
    global _warned_optimize
    if engine is None:
        engine = "torch"
        if precision == "int8":
            from ..engines import available_engines

            engine = next(iter(available_engines("int8")), "torch")
    if engine != "torch" or precision == "int8":
        from ..engines import EngineUnavailable
        from ..optimize import optimize_for_inference

        if precision == "int8" and not calibration:
            raise CLIError("--precision int8 needs --calibration DATA (e.g. digits:train or an image folder)")
        try:
            fast = optimize_for_inference(
                model,
                precision=precision,
                engine=engine,
                calibration=calibration,
                batch_size=batch_size,
            )
        except EngineUnavailable as e:
            raise CLIError(str(e)) from None
        note(fast.engine_report.summary())  # type: ignore[union-attr,operator]
        return fast
    if enabled:
        try:
            from ..optimize import optimize_for_inference
        except ImportError:
            if not _warned_optimize:
                note("visionzoo.optimize is not available in this install; running the model unoptimized")
                _warned_optimize = True
        else:
            return optimize_for_inference(
                model, precision=precision, channels_last=channels_last, compile=compile
            )
    dtype = precision_dtype(precision)
    if dtype != torch.float32:
        model = model.to(dtype)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    if compile:
        return torch.compile(model)  # type: ignore[return-value]
    return model


# int8 engines take and give fp32 tensors
PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16, "int8": torch.float32}


def precision_dtype(name: str) -> torch.dtype:
    try:
        return PRECISIONS[name]
    except KeyError:
        raise CLIError(f"unknown precision {name!r}; valid: {', '.join(PRECISIONS)}") from None


# --- files ----------------------------------------------------------------------------------------
def check_writable_file(path: Path, *, what: str = "output") -> None:
    """Fail early (before any work) when ``path`` cannot be written."""
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise CLIError(f"{what} {path} is a folder; give a file name")
    if not parent.is_dir():
        raise CLIError(f"{what} folder {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise CLIError(f"{what} folder {parent} is not writable")


def nearest_existing(path: Path) -> Path:
    """``path`` or its closest ancestor that exists (where a new folder would be created)."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def check_dir_creatable(path: Path, *, what: str = "output folder") -> None:
    """Fail early, writing nothing, when ``path`` could not be created or written."""
    base = nearest_existing(path)
    if not base.is_dir():
        raise CLIError(f"{what} {path} is not writable: {base} is a file, not a folder")
    if not os.access(base, os.W_OK | os.X_OK):  # also False on a read-only file system, even for root
        raise CLIError(f"{what} {path} is not writable: no write permission on {base} (or read-only disk)")


def check_free_space(path: Path, needed: int, *, what: str = "output folder", detail: str = "") -> None:
    """Fail early, writing nothing, when the disk holding ``path`` has less than ``needed`` bytes free."""
    base = nearest_existing(path)
    free = shutil.disk_usage(base).free
    if free < needed:
        raise CLIError(
            f"{what} {path}: not enough free space ({format_bytes(free)} free, the run needs about "
            f"{format_bytes(needed)}{detail}); free some space or choose another folder"
        )


def format_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def fsync_path(path: Path) -> None:
    """Flush a file, or a folder's entries, to disk (folders: POSIX only; elsewhere a no-op)."""
    if path.is_dir() and os.name != "posix":
        return  # Windows cannot open a folder to flush it
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def check_writable_dir(path: Path, *, what: str = "output folder") -> None:
    """Create ``path`` if needed and prove it is writable with a probe file."""
    if path.exists() and not path.is_dir():
        raise CLIError(f"{what} {path} exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise CLIError(f"{what} {path} is not writable: {e.strerror or e}") from None


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Write via a temporary name in the same folder, fsync and rename, so readers never see a
    partial file (not even after a power cut) and a failure leaves nothing behind."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        write(tmp)
        fsync_path(tmp)
        os.replace(tmp, path)
        fsync_path(path.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    def write(p: Path) -> None:
        p.write_text(text, encoding="utf-8")

    atomic_write(path, write)


def rows_to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    buf = io.StringIO()
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r if k not in keys]
    writer = csv.DictWriter(buf, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_results(path: Path, rows: Sequence[Mapping[str, Any]]) -> None:
    """``.csv`` -> one row per record; anything else -> JSON (one record, or a list)."""
    if path.suffix.lower() == ".csv":
        atomic_write_text(path, rows_to_csv(rows))
    else:
        atomic_write_text(path, json.dumps(rows[0] if len(rows) == 1 else list(rows), indent=2) + "\n")


def format_table(rows: Sequence[Sequence[Any]], headers: Sequence[str], *, right: Sequence[bool] = ()) -> str:
    """Plain aligned columns; ``right[i]`` right-aligns column i (numbers)."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for n, r in enumerate(cells):
        parts = [
            c.rjust(w) if i < len(right) and right[i] else c.ljust(w)
            for i, (c, w) in enumerate(zip(r, widths))
        ]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def fmt_num(value: float | None, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{value:.{digits}f}"


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    if not n:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(old)
