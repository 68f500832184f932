"""The model a command runs: built from ``--model`` / ``--checkpoint`` with its weights, then
optimised for inference (or not, with ``--no-optimize``)."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ._args import precision_dtype
from ._errors import CLIError
from ._output import note

__all__ = [
    "check_model_name",
    "checkpoint_folder",
    "load_model",
    "maybe_optimize",
    "model_in_chans",
    "saved_architecture",
]


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
