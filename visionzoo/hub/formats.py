"""Weight file formats, told apart by content, not by suffix.

safetensors files are checked against their own header (every byte accounted for) and read into
memory the tensors own; PyTorch zip or legacy pickle files are read with
``torch.load(weights_only=True)``, which never runs code from the file, under one allow-list of
the globals a checkpoint may import (timm's ``train.py`` also stores its ``argparse.Namespace``).
Loaded tensors own their memory (a model does not change or crash when its file is later
rewritten); ``mmap=True`` opts in to zero-copy, memory-mapped loading.

The bottom layer of :mod:`visionzoo.hub`: it imports neither the downloads nor the sources.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import sys
import threading
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..save import SAFE_WEIGHTS_NAME, TORCH_WEIGHTS_NAME

__all__ = [
    "TORCH_WEIGHTS_NAME",
    "WeightsError",
    "WeightsNotFoundError",
    "clean_state_dict",
    "load_checkpoint_file",
    "load_state_dict",
    "load_state_dict_from_path",
    "read_checkpoint",
    "read_torch_checkpoint",
    "verify_weights_file",
]

_CHECKPOINT_KEYS = ("state_dict", "model", "module", "model_state")  # model_state: pycls
_EMA_KEYS = ("state_dict_ema", "model_ema", "ema", "state_dict_ema_orig")
_TORCH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt", ".tar")


class WeightsError(RuntimeError):
    """Weights that cannot be found, read or trusted; the message says what to do."""


class WeightsNotFoundError(WeightsError, FileNotFoundError):
    """No file (or no weights file in a folder) where one was named: also a
    ``FileNotFoundError``, which timm's loaders raise there."""


# DDP's and torch.compile's wrappers, in either order (timm's list)
_WRAPPER_PREFIXES = ("_orig_mod.", "module.", "_orig_mod.")


def clean_state_dict(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """Drop the prefixes DataParallel/DDP (``module.``) and ``torch.compile`` (``_orig_mod.``)
    put before every key of the model they wrap."""
    out = {}
    for k, v in state_dict.items():
        for prefix in _WRAPPER_PREFIXES:
            k = k.removeprefix(prefix)
        out[k] = v
    return out


_MAX_HEADER = 100 * 1024 * 1024  # the safetensors library's own limit
_ST_DTYPES: dict[str, torch.dtype] = {
    name: dtype
    for name, dtype in (
        ("BOOL", torch.bool),
        ("U8", torch.uint8),
        ("I8", torch.int8),
        ("I16", torch.int16),
        ("U16", getattr(torch, "uint16", None)),
        ("I32", torch.int32),
        ("U32", getattr(torch, "uint32", None)),
        ("I64", torch.int64),
        ("U64", getattr(torch, "uint64", None)),
        ("F16", torch.float16),
        ("BF16", torch.bfloat16),
        ("F32", torch.float32),
        ("F64", torch.float64),
        ("C64", torch.complex64),
        ("F8_E4M3", getattr(torch, "float8_e4m3fn", None)),
        ("F8_E5M2", getattr(torch, "float8_e5m2", None)),
    )
    if dtype is not None
}


class _Corrupt(ValueError):
    """A file that does not parse as the format it was read as (internal; becomes WeightsError)."""


def _sniff(path: Path) -> str | None:
    """``"safetensors"``, ``"zip"`` (torch.save), ``"pickle"`` (legacy torch.save) or ``None``."""
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(9)
    if len(head) == 9 and head[8:9] == b"{" and 8 + int.from_bytes(head[:8], "little") <= size:
        return "safetensors"
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if head[:1] == b"\x80":  # pickle protocol >= 2, as torch.save writes
        return "pickle"
    return None


def _named_format(path: Path) -> str | None:
    if path.suffix == ".safetensors":
        return "safetensors"
    return "torch" if path.suffix in _TORCH_SUFFIXES else None


def _describe_start(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(64)
    text = head.lstrip().lower()
    if text.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body")):
        return "an HTML page, not weights (a login or error page served instead of the file?)"
    return f"it starts with {head[:16]!r}"


@dataclass(frozen=True)
class _TensorEntry:
    name: str
    dtype: torch.dtype | None
    shape: tuple[int, ...]
    begin: int
    end: int


def _safetensors_layout(f: Any, size: int) -> tuple[list[_TensorEntry], int]:
    """The tensor table of a safetensors file and where its data starts, checked against the file
    size (every byte accounted for, no overlaps, sizes that fit each dtype and shape)."""
    head = f.read(8)
    if len(head) < 8:
        raise _Corrupt(f"{size} bytes is shorter than the 8-byte header length")
    n = int.from_bytes(head, "little")
    if n > _MAX_HEADER or 8 + n > size:
        raise _Corrupt(f"header length {n} does not fit a file of {size} bytes")
    try:
        header = json.loads(f.read(n))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise _Corrupt(f"header is not JSON: {e}") from None
    if not isinstance(header, dict):
        raise _Corrupt(f"header is a JSON {type(header).__name__}, not an object")
    entries = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = (int(x) for x in info["data_offsets"])
            shape = tuple(int(s) for s in info["shape"])
            dtype_name = str(info["dtype"])
        except (KeyError, TypeError, ValueError):
            raise _Corrupt(f"header entry {name!r} is malformed: {info!r}") from None
        if begin < 0 or end < begin or any(s < 0 for s in shape):
            raise _Corrupt(f"header entry {name!r} has offsets {begin}..{end} and shape {shape}")
        dtype = _ST_DTYPES.get(dtype_name)
        if dtype is not None:
            numel = 1
            for s in shape:
                numel *= s
            if numel * dtype.itemsize != end - begin:
                raise _Corrupt(f"{name!r}: {end - begin} bytes do not hold a {dtype_name} tensor of {shape}")
        entries.append(_TensorEntry(name, dtype, shape, begin, end))
    entries.sort(key=lambda entry: entry.begin)
    expected = 0
    for entry in entries:
        if entry.begin != expected:
            raise _Corrupt(f"{entry.name!r} starts at byte {entry.begin} of the data, expected {expected}")
        expected = entry.end
    data = size - 8 - n
    if expected != data:
        raise _Corrupt(f"the header describes {expected} bytes of tensor data, the file holds {data}")
    return entries, 8 + n


def _read_safetensors(path: Path, mmap: bool) -> dict[str, torch.Tensor]:
    """Read every tensor into memory it owns (one sequential read into each tensor's storage),
    or memory-map the file with ``mmap``.

    NOTE: not one read into one flat buffer with the tensors as views of it: the cost is the
    first touch of fresh memory, not the number of reads (resnet50, 100 MB: 117-148 ms into a
    new buffer, 16-25 ms into touched memory, 34 ms per tensor, where the allocator reuses
    freed memory), and views would keep the whole buffer alive for any one tensor.
    """
    with path.open("rb", buffering=0) as f:
        entries, start = _safetensors_layout(f, os.fstat(f.fileno()).st_size)
        if mmap or sys.byteorder != "little" or any(entry.dtype is None for entry in entries):
            from safetensors import SafetensorError
            from safetensors.torch import load_file

            try:
                tensors = load_file(str(path), device="cpu")
            except (SafetensorError, OSError, ValueError) as e:
                raise _Corrupt(str(e)) from None
            return tensors if mmap else {k: v.clone() for k, v in tensors.items()}
        out: dict[str, torch.Tensor] = {}
        f.seek(start)
        for entry in entries:  # in file order: one sequential read
            tensor = torch.empty(entry.shape, dtype=entry.dtype)
            if entry.end > entry.begin:
                view = tensor.view(-1).view(torch.uint8).numpy().data
                filled = 0
                while filled < len(view):
                    got = f.readinto(view[filled:])
                    if not got:  # the file shrank while it was read
                        raise _Corrupt(f"the file ended inside tensor {entry.name!r}")
                    filled += got
            out[entry.name] = tensor
        return out


# --- pickles: what a torch checkpoint may import --------------------------------------------------
# Beyond torch's own tensor/storage/dtype rebuilders (the torch.* names its weights-only loader
# allows), a checkpoint needs only these. timm's train.py also stores its argparse.Namespace.
_PLAIN_GLOBALS = frozenset(
    {
        "collections.OrderedDict",
        "collections.Counter",
        "builtins.set",
        "builtins.bytearray",
        "builtins.complex",
        "_codecs.encode",
    }
)
_TRAINING_GLOBALS = frozenset({"argparse.Namespace"})
_namespace_lock = threading.Lock()


def _torch_allowed_globals() -> frozenset[str]:
    """The ``torch.*`` globals torch's weights-only loader accepts."""
    try:
        from torch._weights_only_unpickler import _get_allowed_globals

        return frozenset(name for name in _get_allowed_globals() if name.startswith("torch."))
    except (ImportError, AttributeError):  # pragma: no cover - older/newer torch: its rebuilders
        return frozenset()


def _is_safe_global(name: str, torch_names: frozenset[str]) -> bool:
    if name in _PLAIN_GLOBALS or name in _TRAINING_GLOBALS:
        return True
    if torch_names:
        return name in torch_names
    return name.startswith(("torch._utils._rebuild_", "torch._tensor._rebuild_")) or (
        name.startswith("torch.") and name.count(".") == 1
    )


def _pickle_globals(path: Path) -> set[str] | None:
    """The ``module.name`` globals a checkpoint's pickle(s) would import, read without
    unpickling; ``None`` when the stream does not parse at all."""
    import pickletools

    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                name = next(n for n in zf.namelist() if n.endswith("data.pkl"))
                data = zf.read(name)
        else:
            data = path.read_bytes()
    except (OSError, StopIteration, zipfile.BadZipFile):
        return None
    stream, found, parsed = io.BytesIO(data), set(), 0
    while stream.tell() < len(data):  # legacy torch files hold several pickles in a row
        strings: list[str] = []
        try:
            for op, arg, _ in pickletools.genops(stream):
                if isinstance(arg, str):
                    strings.append(arg)
                if op.name in ("GLOBAL", "INST") and isinstance(arg, str):
                    found.add(arg.replace(" ", "."))
                elif op.name == "STACK_GLOBAL" and len(strings) >= 2:
                    found.add(f"{strings[-2]}.{strings[-1]}")
        except Exception:  # the raw storage bytes after the last pickle, or a damaged stream
            break
        parsed += 1
    if not parsed:
        return None
    # protocol-2 pickles spell Python 3 modules the Python 2 way; unpickling maps them back
    renamed = {"__builtin__": "builtins", "copy_reg": "copyreg"}
    return {renamed.get(g.partition(".")[0], g.partition(".")[0]) + "." + g.partition(".")[2] for g in found}


def _unsafe_globals(found: set[str]) -> list[str]:
    torch_names = _torch_allowed_globals()
    return sorted(g for g in found if not _is_safe_global(g, torch_names))


def read_torch_checkpoint(path: str | os.PathLike[str], *, mmap: bool = False) -> Any:
    """A torch checkpoint as saved (a dict with ``state_dict``, ``optimizer``, ``epoch``, ...), read
    weights-only: tensors and plain data, plus the run's ``argparse.Namespace`` of a training
    checkpoint (timm's ``train.py`` stores one), nothing that could run code.

    Raises:
        pickle.UnpicklingError: the file imports anything else.
    """
    path = Path(path)
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap and zipfile.is_zipfile(path))
    except pickle.UnpicklingError:
        found = _pickle_globals(path)
        if found is None or _unsafe_globals(found) or not found & _TRAINING_GLOBALS:
            raise
    # A training checkpoint (timm's train.py stores its argparse.Namespace): allowed for this load
    # only, and serialised, because torch's safe-globals list is process-wide.
    with _namespace_lock:
        if argparse.Namespace in torch.serialization.get_safe_globals():
            return torch.load(path, map_location="cpu", weights_only=True, mmap=False)
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=False)


def _unwrap_checkpoint(obj: Any, path: Path, use_ema: bool) -> dict[str, torch.Tensor]:
    """Find the state dict inside a training checkpoint (``{"state_dict": ..., "optimizer": ...}``)."""
    if not isinstance(obj, Mapping):
        raise WeightsError(f"{path} holds a {type(obj).__name__}, not a state dict")
    # use_ema as timm's: the EMA weights where the checkpoint has them, else the model's
    keys = (_EMA_KEYS + _CHECKPOINT_KEYS) if use_ema else _CHECKPOINT_KEYS
    for key in keys:
        inner = obj.get(key)
        if isinstance(inner, Mapping) and inner and all(isinstance(k, str) for k in inner):
            obj = inner
            break
    tensors = {k: v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if not tensors:
        raise WeightsError(f"{path} contains no tensors; is it a model checkpoint?")
    return clean_state_dict(tensors)


def _check_file(path: Path) -> None:
    if not path.exists():
        raise WeightsNotFoundError(f"weights file not found: {path}")
    if path.is_dir():
        raise WeightsError(
            f"expected a weights file but {path} is a folder; pass the file inside it, "
            f"or create_model('local-dir:{path}') for a folder saved by save_pretrained"
        )
    if path.stat().st_size == 0:
        raise WeightsError(f"weights file {path} is empty (0 bytes); re-download or re-save it")


def _corrupt_safetensors(path: Path, detail: str) -> WeightsError:
    return WeightsError(
        f"{path} is not a valid safetensors file (truncated or corrupt: {detail}); "
        "delete it and download or save it again"
    )


def load_checkpoint_file(
    path: str | os.PathLike[str], *, use_ema: bool = False, mmap: bool = False
) -> dict[str, torch.Tensor]:
    """Read a state dict from a safetensors or PyTorch file (told apart by content), unwrapping
    training checkpoints.

    Args:
        path: the file.
        use_ema: take the EMA weights of a training checkpoint.
        mmap: memory-map the file instead of reading it (zero-copy). The tensors then share
            memory with the file: rewriting or truncating it while they live changes them or
            crashes the process (SIGBUS), so only use it for files nothing will write to.

    Raises:
        WeightsError: missing, empty, truncated or corrupt files, and pickles that would need to
            run code to load (those are refused, never executed).
    """
    path = Path(path)
    if path.suffix == ".npz":  # JAX/Flax (big_vision) arrays under their parameter paths
        _check_file(path)
        return _load_npz(path)
    obj, is_safetensors = _read_checked(path, mmap)
    return clean_state_dict(obj) if is_safetensors else _unwrap_checkpoint(obj, path, use_ema)


def read_checkpoint(path: str | os.PathLike[str]) -> Any:
    """What a safetensors or PyTorch file holds, as saved (a training checkpoint stays a dict with
    ``state_dict``, ``optimizer``, ``epoch``, ...), after the checks :func:`load_checkpoint_file`
    makes: pickles are read weights-only, and a file that would need code to load is refused.

    Raises:
        WeightsError: missing, empty, truncated or corrupt files, and unsafe pickles.
    """
    return _read_checked(Path(path), False)[0]


def _read_checked(path: Path, mmap: bool) -> tuple[Any, bool]:
    """The file's contents and whether it was safetensors; every failure a WeightsError."""
    _check_file(path)
    kind, named = _sniff(path), _named_format(path)
    if kind == "safetensors" or (kind is None and named == "safetensors"):
        try:
            return _read_safetensors(path, mmap), True
        except _Corrupt as e:
            raise _corrupt_safetensors(path, str(e)) from None
    if kind is None:
        what = "PyTorch checkpoint" if named == "torch" else "weights file (safetensors or PyTorch)"
        raise WeightsError(
            f"{path} could not be read as a {what} (truncated or corrupt: {_describe_start(path)}); "
            "delete it and download or save it again"
        )
    if named == "safetensors":
        raise WeightsError(
            f"{path} is named .safetensors but holds a PyTorch {kind} checkpoint, which needs "
            "unpickling; it is not loaded under a name that promises a format without pickle. "
            "If you trust the file, rename it to .pth"
        )
    try:
        return read_torch_checkpoint(path, mmap=mmap), False
    except pickle.UnpicklingError as e:
        found = _pickle_globals(path)
        unsafe = _unsafe_globals(found or set())
        if not unsafe:
            raise WeightsError(
                f"{path} could not be read as a PyTorch checkpoint (truncated or corrupt: "
                f"{_unpickling_detail(e)}); delete it and download or save it again"
            ) from None
        raise WeightsError(
            f"refusing to load {path}: it needs arbitrary unpickling, which can run code hidden in the "
            f"file (it imports {', '.join(unsafe[:5])}). Only plain tensor checkpoints are "
            "loaded; no automatic unsafe pickle fallback is performed. If you trust the file, "
            "convert it once: `sd = torch.load(path, weights_only=False)`, "
            "then `safetensors.torch.save_file(sd, 'model.safetensors')`"
        ) from None
    except Exception as e:  # a damaged stream fails in many ways (IndexError, struct.error...)
        raise WeightsError(
            f"{path} could not be read as a PyTorch checkpoint (truncated or corrupt: "
            f"{_first_line(e)}); delete it and download or save it again"
        ) from e


def _load_npz(path: Path) -> dict[str, torch.Tensor]:
    """Arrays of a ``.npz`` archive as tensors, keys unchanged; object arrays (pickles) refused."""
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: torch.from_numpy(np.array(archive[key])) for key in archive.files}
    except ValueError as e:  # numpy's refusal of object arrays
        raise WeightsError(
            f"refusing to load {path}: it holds pickled objects ({e}); only arrays are read"
        ) from e
    except (OSError, zipfile.BadZipFile) as e:
        raise WeightsError(f"{path} is not a valid .npz archive (truncated or corrupt: {e})") from e


def _unpickling_detail(e: BaseException) -> str:
    """The specific reason inside torch's long weights-only error message."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    for ln in lines:
        if "GLOBAL" in ln or "global" in ln or "Unsupported" in ln or "load key" in ln:
            return ln
    return lines[-1] if lines else type(e).__name__


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def verify_weights_file(path: str | os.PathLike[str], *, name: str | None = None) -> None:
    """Check that ``path`` parses as the format ``name`` (default: the file's own name) says,
    without loading its tensors: a safetensors header whose sizes match the file, a torch zip
    whose members are intact (CRC) with a pickle that parses, or a legacy torch pickle that loads.

    Raises:
        WeightsError: what is wrong, e.g. a cut file or an HTML page instead of weights.
    """
    path = Path(path)
    named = _named_format(Path(name or path.name))
    if path.stat().st_size == 0:
        raise WeightsError("it is empty (0 bytes)")
    kind = _sniff(path)
    if kind is None and named == "safetensors":
        with path.open("rb") as f:  # for the precise reason
            try:
                _safetensors_layout(f, path.stat().st_size)
            except _Corrupt as e:
                raise WeightsError(f"not a valid safetensors file ({e}; {_describe_start(path)})") from None
    if kind is None:
        raise WeightsError(f"not a weights file: {_describe_start(path)}")
    if named == "safetensors" and kind != "safetensors":
        raise WeightsError(f"named .safetensors but it is a PyTorch {kind} file")
    if kind == "safetensors":
        with path.open("rb") as f:
            try:
                _safetensors_layout(f, path.stat().st_size)
            except _Corrupt as e:
                raise WeightsError(f"not a valid safetensors file ({e})") from None
    elif kind == "zip":
        try:
            with zipfile.ZipFile(path) as zf:
                bad = zf.testzip()
                if bad is not None:
                    raise WeightsError(f"zip member {bad} fails its CRC check")
                if not any(n.endswith("data.pkl") for n in zf.namelist()):
                    raise WeightsError("a zip file, but not one torch.save wrote (no data.pkl)")
        except (zipfile.BadZipFile, OSError, EOFError) as e:
            raise WeightsError(f"not a valid PyTorch zip checkpoint ({e})") from None
        if _pickle_globals(path) is None:
            raise WeightsError("its pickle does not parse")
    else:
        load_checkpoint_file(path)  # legacy pickles have no index: load to check


# timm's choice of the weights file in a folder: these names first, then by extension
_PREFERRED_FILES = (
    SAFE_WEIGHTS_NAME,
    TORCH_WEIGHTS_NAME,
    "pytorch_model.pth",
    "model.pth",
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
    "open_clip_pytorch_model.pth",
)
_EXT_PRIORITY = (".safetensors", ".pth", ".pth.tar", ".bin")


def _weights_in_folder(folder: Path) -> Path:
    """The weights file of a folder, as timm picks it: a known name, else the first file (by
    name) of the first extension present, safetensors first, with a warning when several match."""
    for name in _PREFERRED_FILES:
        if (folder / name).is_file():
            return folder / name
    for ext in _EXT_PRIORITY:
        files = sorted(p for p in folder.glob(f"*{ext}") if p.is_file())
        if len(files) > 1:
            names = ", ".join(f.name for f in files)
            warnings.warn(
                f"several {ext} weights files in {folder} ({names}); using {files[0].name}", stacklevel=3
            )
        if files:
            return files[0]
    raise WeightsNotFoundError(
        f"no {SAFE_WEIGHTS_NAME} or {TORCH_WEIGHTS_NAME} in folder {folder}, nor any other "
        f"*{', *'.join(_EXT_PRIORITY)} file"
    )


def load_state_dict(
    checkpoint_path: str | os.PathLike[str],
    use_ema: bool = True,
    device: str | torch.device = "cpu",
    weights_only: bool = True,
    *,
    mmap: bool = False,
) -> dict[str, torch.Tensor]:
    """A state dict from a weights file, or from the weights file in a saved-model folder
    (timm's call and defaults).

    Args:
        checkpoint_path: a safetensors or PyTorch file (training checkpoints are unwrapped), or a
            folder (its file chosen as :func:`load_state_dict_from_path` does).
        use_ema: take a training checkpoint's EMA weights where it has them (as timm does).
        device: where the tensors go.
        weights_only: accepted for timm's signature; files are always read weights-only, so a
            pickle that would run code is refused either way (see :func:`read_torch_checkpoint`).
        mmap: map the file instead of reading it (see :func:`load_checkpoint_file`).

    Raises:
        WeightsNotFoundError: nothing at ``checkpoint_path`` (also a ``FileNotFoundError``).
        WeightsError: damaged or unsafe files.
    """
    if not isinstance(weights_only, bool):
        raise TypeError(f"weights_only must be a bool, got {weights_only!r}")
    path = Path(checkpoint_path)
    if path.is_dir():
        path = _weights_in_folder(path)
    state_dict = load_checkpoint_file(path, use_ema=use_ema, mmap=mmap)
    if torch.device(device) != torch.device("cpu"):
        state_dict = {k: v.to(device) for k, v in state_dict.items()}
    return state_dict


def load_state_dict_from_path(
    path: str | os.PathLike[str], weights_only: bool = True
) -> dict[str, torch.Tensor]:
    """The state dict in a folder (timm's ``_hub`` call): ``model.safetensors`` and timm's other
    known names first, then the first ``*.safetensors``, ``*.pth``, ``*.pth.tar`` or ``*.bin``
    file, in that order, with a warning when several files of that extension match.

    Raises:
        WeightsNotFoundError: ``path`` is no folder, or holds no weights file (timm raises a
            ``RuntimeError`` there; this error is one).
    """
    folder = Path(path)
    if not folder.is_dir():
        what = "is a file, not a folder; use load_state_dict for a file" if folder.exists() else "not found"
        raise WeightsNotFoundError(f"weights folder {folder}: {what}")
    return load_state_dict(_weights_in_folder(folder), use_ema=True, weights_only=weights_only)
