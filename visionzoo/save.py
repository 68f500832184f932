"""Saving: a model as a folder in timm's Hub layout, and the atomic folder writer under it.

:func:`save_pretrained` writes ``config.json`` and ``model.safetensors``, the layout
``local-dir:PATH`` and the Hub read back (:mod:`visionzoo.hub`). :func:`write_folder` replaces a
folder as a whole: the new content is written into a fresh sibling folder, flushed to disk and
swapped in by one rename, so a reader, a crash or a kill sees the complete old folder or the
complete new one, and concurrent writers each swap in a complete folder (the last one wins).
What a killed writer leaves is cleaned up by the next write, or by :func:`recover_folder`.
`visionzoo train` writes its ``last/`` and ``best/`` checkpoint folders with it too.
"""

from __future__ import annotations

import contextlib
import copy
import errno
import json
import os
import re
import secrets
import shutil
import socket
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from torch import nn

from .fileio import commit, fsync_path
from .pretrained import SOURCE_KEYS, cfg_as_built

__all__ = [
    "CONFIG_NAME",
    "SAFE_WEIGHTS_NAME",
    "TORCH_WEIGHTS_NAME",
    "recover_folder",
    "save_config_for_hf",
    "save_for_hf",
    "save_pretrained",
    "write_folder",
]

# The files of a saved folder (timm's Hub layout), which visionzoo.hub reads back.
SAFE_WEIGHTS_NAME = "model.safetensors"
CONFIG_NAME = "config.json"
TORCH_WEIGHTS_NAME = "pytorch_model.bin"  # timm's save_for_hf default (torch.save of the state dict)
# published results in our configs, not fields of timm's: left out of a saved config.json
_RESULTS = ("top1", "top5", "param_count")


def save_pretrained(
    model: nn.Module, save_directory: str | os.PathLike[str], *, model_args: Mapping[str, Any] | None = None
) -> Path:
    """Write ``config.json`` and ``model.safetensors`` in the layout of timm's Hub repos.

    The folder loads back with ``create_model("local-dir:PATH", pretrained=True)`` (in timm too),
    and can be uploaded to the Hub as is. The save is atomic as a folder: both files are written
    into a fresh sibling folder which is then swapped with ``save_directory`` in one rename, so
    after a save, a crash or a kill at any point the folder holds the complete old save or the
    complete new one. Other files already in the folder are kept. Concurrent savers (every DDP
    rank, two scripts) each swap in a complete save; the last one wins. Leftovers of a killed
    saver are removed by the next save.

    The config saved is the model's as built (``create_model`` writes its channels, mean/std and a
    token model's input size into ``model.pretrained_cfg``), so a model with ``in_chans != 3``
    saves that many of each and loads back with them; a config edited afterwards to other
    mean/std lengths is fitted by the same rule (:func:`~visionzoo.pretrained.channel_stats`).
    """
    from safetensors.torch import save_file

    cfg = getattr(model, "pretrained_cfg", None)
    if cfg is None or not cfg.architecture:
        raise ValueError("save_pretrained needs a model built by create_model (it has no pretrained_cfg)")
    cfg = cfg_as_built(cfg, in_chans=int(cfg.input_size[0]))
    cfg_dict = cfg.to_dict(remove_source=True)
    for key in (*_RESULTS, "label_offset"):
        cfg_dict.pop(key, None)
    num_classes = int(getattr(model, "num_classes", cfg.num_classes))
    if num_classes != cfg.num_classes:
        for key in ("label_names", "label_descriptions"):
            cfg_dict.pop(key, None)
    cfg_dict["num_classes"] = num_classes
    in_chans = int(cfg.input_size[0])
    config: dict[str, Any] = {
        "architecture": cfg_dict.pop("architecture"),
        "num_classes": num_classes,
        "num_features": int(getattr(model, "num_features", 0)),
    }
    pool = getattr(model, "global_pool", None) or getattr(getattr(model, "head", None), "global_pool", None)
    pool_type = pool if isinstance(pool, str) else getattr(pool, "pool_type", "")  # token models: a str
    if pool_type:
        config["global_pool"] = pool_type
    args = dict(model_args or {})
    if in_chans != 3:
        args.setdefault("in_chans", in_chans)
    if isinstance(pool, str) and hasattr(model, "fc_norm"):  # a token model's pooling is structure
        args.setdefault("global_pool", pool)
        args.setdefault("fc_norm", not isinstance(getattr(model, "fc_norm"), nn.Identity))  # noqa: B009
    if args:
        config["model_args"] = args
    config["pretrained_cfg"] = cfg_dict
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    text = json.dumps(config, indent=2, default=list)

    def write(folder: Path) -> None:
        save_file(tensors, str(folder / SAFE_WEIGHTS_NAME), metadata={"format": "pt"})
        (folder / CONFIG_NAME).write_text(text, encoding="utf-8")

    write_folder(Path(save_directory), write)
    return Path(save_directory)


def save_config_for_hf(
    model: nn.Module,
    config_path: str | os.PathLike[str],
    model_config: Mapping[str, Any] | None = None,
    model_args: Mapping[str, Any] | None = None,
    data_config: Mapping[str, Any] | None = None,
) -> None:
    """Write timm's ``config.json`` for the model as it is now (timm's rules).

    ``model_args``: the arguments that rebuild it (``get_model_args``: those ``create_model``
    recorded, training-only rates left out, plus its current channels, classes, pooling and
    size); a value that is not JSON (a layer class) needs a replacement here (a name), and one
    that contradicts the model raises ``ValueError``. ``data_config``: the preprocessing the
    weights are meant for, resolved against the model (``resolve_input_data_config``); it
    replaces the source's test-time size / crop unless those are given too.
    """
    from .data.config import resolve_input_data_config
    from .model_input import _get_global_pool, get_model_args, get_model_input_config

    extra = copy.deepcopy(dict(model_config or {}))
    source: Mapping[str, Any] = getattr(model, "pretrained_cfg", None) or {}
    # where the weights came from is not where they will be: the source keys go
    # (and our published results are no timm config field: timm's loader would refuse them)
    skip = SOURCE_KEYS | set(_RESULTS)
    cfg: dict[str, Any] = {k: v for k, v in dict(source).items() if k not in skip and v is not None}
    cfg.update(extra.pop("pretrained_cfg", {}))
    current = get_model_input_config(model)
    export_args = dict(extra.pop("model_args", {}))
    export_args.update(model_args or {})
    args = get_model_args(model, export_args)
    for key, value in args.items():
        try:
            json.dumps(value)
        except (TypeError, ValueError) as e:
            msg = f"Model argument {key!r} is not serializable; provide a model_args replacement"
            raise ValueError(msg) from e
    cfg.update(resolve_input_data_config(model, args=data_config, pretrained_cfg=cfg))
    data = dict(data_config or {})
    if data.get("test_input_size") is not None:
        cfg["test_input_size"] = tuple(data["test_input_size"])
        cfg.pop("test_pool_size", None)
    elif data.get("input_size") is not None or data.get("img_size") is not None:
        cfg.pop("test_input_size", None)
        cfg.pop("test_pool_size", None)
    if data.get("test_crop_pct") is not None:
        cfg["test_crop_pct"] = data["test_crop_pct"]
    elif data.get("crop_pct") is not None:
        cfg.pop("test_crop_pct", None)
    cfg["fixed_input_size"] = current["fixed_input_size"]
    cfg["first_conv"] = current["first_conv"]
    cfg["custom_load"] = False  # the export is a native state dict
    cfg.pop("label_offset", None)  # already applied to the classifier
    if tuple(cfg["input_size"][1:]) != tuple(source.get("input_size", cfg["input_size"])[1:]):
        cfg["pool_size"] = None
    for key in ("test_input_size", "min_input_size"):
        if cfg.get(key):
            cfg[key] = (current["input_size"][0], *cfg[key][1:])
    if current["fixed_input_size"]:
        cfg.pop("test_input_size", None)
    num_classes = int(getattr(model, "num_classes", cfg.get("num_classes", 0)))
    if num_classes != cfg.get("num_classes"):
        for key in ("label_names", "label_descriptions"):
            cfg.pop(key, None)
    cfg["num_classes"] = num_classes
    config: dict[str, Any] = {"architecture": cfg.pop("architecture")}
    config["num_classes"] = extra.pop("num_classes", num_classes)
    if config["num_classes"] != num_classes:
        raise ValueError(f"export num_classes={config['num_classes']} is not the model's {num_classes}")
    config["num_features"] = extra.pop("num_features", int(getattr(model, "num_features", 0)))
    pool = extra.pop("global_pool", _get_global_pool(model))
    if isinstance(pool, str) and pool:
        config["global_pool"] = pool
    if "labels" in extra:  # timm's deprecated name
        extra.setdefault("label_names", extra.pop("labels"))
    for key in ("label_names", "label_descriptions"):
        value = extra.pop(key, None)
        if value:
            config[key] = value
    if args:
        config["model_args"] = args
    config["pretrained_cfg"] = cfg
    config.update(extra)
    Path(config_path).write_text(json.dumps(config, indent=2, default=list), encoding="utf-8")


def save_for_hf(
    model: nn.Module,
    save_directory: str | os.PathLike[str],
    model_config: Mapping[str, Any] | None = None,
    model_args: Mapping[str, Any] | None = None,
    safe_serialization: bool | str = False,
    data_config: Mapping[str, Any] | None = None,
) -> None:
    """timm's Hub export: the weights (``model.safetensors`` with ``safe_serialization=True``,
    ``pytorch_model.bin`` with False, both with ``'both'``) and :func:`save_config_for_hf`'s
    ``config.json``, written into ``save_directory`` as one atomic folder swap (other files kept).
    ``local-dir:`` / ``hf-hub:`` names build the model back as it is now."""
    import torch
    from safetensors.torch import save_file

    if safe_serialization not in (True, False, "both"):
        raise ValueError(f"safe_serialization must be True, False or 'both', got {safe_serialization!r}")
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}

    def write(folder: Path) -> None:
        if safe_serialization is True or safe_serialization == "both":
            save_file(tensors, str(folder / SAFE_WEIGHTS_NAME), metadata={"format": "pt"})
        if safe_serialization is False or safe_serialization == "both":
            torch.save(tensors, folder / TORCH_WEIGHTS_NAME)
        save_config_for_hf(model, folder / CONFIG_NAME, model_config, model_args, data_config)

    write_folder(Path(save_directory), write)


# Temporary folders are ".NAME.vzsave-HOST-PID-RANDOM" siblings of the folder they replace.
_SAVE_MARK = ".vzsave-"
# What older savers and the safetensors library (Rust tempfile: ".tmpXXXXXX") leave when killed.
_STALE_FILE = re.compile(r"^\.(tmp[A-Za-z0-9]{6}|.+\.tmp|vzsave-.*)$")


def write_folder(folder: Path, write: Callable[[Path], None], *, keep_other_files: bool = True) -> Path:
    """Fill a fresh sibling of ``folder`` with ``write(tmp)`` and swap it in as a whole.

    Args:
        folder: the folder to replace (created if missing; a link: what it points at).
        write: fills the empty folder it is given.
        keep_other_files: files already in ``folder`` that ``write`` does not write are kept (a
            README beside a saved model); False: the folder holds exactly what ``write`` wrote
            (a training checkpoint, where a file of an older save would not match the rest).

    Returns ``folder``. Raises ``NotADirectoryError`` when ``folder`` is a file.
    """
    folder = Path(os.path.realpath(Path(folder).expanduser()))  # a link: replace what it points at
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"cannot save into {folder}: it is a file, not a folder")
    parent = folder.parent
    parent.mkdir(parents=True, exist_ok=True)
    recover_folder(folder)
    try:
        tmp = _make_dir(parent, f".{folder.name}{_SAVE_MARK}{_host()}-{os.getpid()}-")
    except PermissionError:
        return _write_in_place(
            folder, write, f"its parent {parent} is not writable", keep_other_files=keep_other_files
        )
    try:
        write(tmp)
        if keep_other_files:
            _carry_over(folder, tmp)
        for f in tmp.iterdir():
            fsync_path(f)
        fsync_path(tmp)
        in_cwd = _is_cwd(folder)
        try:
            _swap_in(tmp, folder)
        except OSError as e:
            if e.errno not in (errno.EBUSY, errno.EXDEV, errno.EPERM):
                raise
            return _write_in_place(
                folder, write, f"it cannot be renamed ({e.strerror})", keep_other_files=keep_other_files
            )
        fsync_path(parent)
        if in_cwd:  # the working directory was the old folder: follow the new one
            os.chdir(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the new folder's temp, or the old save after a swap
    return folder


def _make_dir(parent: Path, prefix: str) -> Path:
    """A new folder ``parent/prefixRANDOM`` with the usual permissions (``tempfile.mkdtemp``'s are
    owner-only, and the temporary folder becomes the saved one)."""
    for _ in range(100):
        path = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, f"no free temporary name {prefix}... in {parent}")


def _swap_in(tmp: Path, folder: Path) -> None:
    """Put ``tmp`` at ``folder`` in one rename; afterwards ``tmp`` holds the previous folder."""
    for _ in range(100):  # other savers may move the folder between two of these steps
        try:
            os.rename(tmp, folder)  # no folder yet, or an empty one: replaced atomically
            return
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
        result = _exchange(tmp, folder)
        if result is True:
            return
        if result is None:  # no atomic exchange here: two renames (a crash between them leaves
            old = tmp.with_name(tmp.name + ".old")  # the previous save aside; the next save restores it)
            try:
                os.rename(folder, old)
            except FileNotFoundError:
                continue
            try:
                os.rename(tmp, folder)
            except OSError as e:
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                    os.rename(old, folder)
                    raise
                # another saver's complete folder got there first: it stands
            shutil.rmtree(old, ignore_errors=True)
            return
    raise OSError(errno.EAGAIN, f"could not swap {tmp} into {folder}: it kept changing")


_libc: Any = None


def _exchange(a: Path, b: Path) -> bool | None:
    """Atomically exchange two paths (Linux ``renameat2(RENAME_EXCHANGE)``). True when done,
    False when ``b`` vanished meanwhile, None when this system cannot."""
    global _libc
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(_libc, "renameat2", None)
    if renameat2 is None:
        return None
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err == errno.ENOENT:
        return False
    if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return None
    raise OSError(err, os.strerror(err), str(b))


def _carry_over(folder: Path, tmp: Path) -> None:
    """Keep the folder's other files (a README, training state) in the new save, as hard links."""
    try:
        entries = list(os.scandir(folder))
    except (FileNotFoundError, NotADirectoryError):
        return
    for entry in entries:
        target = tmp / entry.name
        if target.exists() or _STALE_FILE.match(entry.name):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.copytree(entry.path, target, symlinks=True, copy_function=_link_or_copy)
            elif entry.is_symlink():
                os.symlink(os.readlink(entry.path), target)
            else:
                _link_or_copy(entry.path, target)
        except FileNotFoundError:  # removed meanwhile (another saver swapped the folder)
            continue


def _link_or_copy(src: str, dst: str | Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def recover_folder(folder: Path) -> None:
    """Finish what killed writers of ``folder`` left, before reading it.

    The temporary folders beside it of writers that are gone (this host: the process is dead;
    another host sharing the file system: older than a day) are removed. A writer killed between its two
    renames (systems without an atomic exchange) leaves no ``folder``: its new folder, complete
    before the old one was moved aside, is put in place (the old one if the new one is missing).
    """
    host = _host()
    pattern = re.compile(rf"^\.(.*){re.escape(_SAVE_MARK)}([A-Za-z0-9]+)-(\d+)-")
    try:
        siblings = sorted(os.scandir(folder.parent), key=lambda e: not e.name.endswith(".old"))
    except OSError:
        return
    for entry in siblings:
        m = pattern.match(entry.name)
        if m is None:
            continue
        if m.group(2) == host:
            stale = not _pid_alive(int(m.group(3)))
        else:
            try:
                stale = time.time() - entry.stat(follow_symlinks=False).st_mtime > 86400
            except FileNotFoundError:
                continue
        if not stale:
            continue
        if m.group(1) == folder.name and entry.name.endswith(".old") and not folder.exists():
            new = entry.path.removesuffix(".old")
            with contextlib.suppress(OSError):
                os.rename(new, folder)  # the rename the writer did not get to
            if not folder.exists():
                with contextlib.suppress(OSError):
                    os.rename(entry.path, folder)
                    continue
        shutil.rmtree(entry.path, ignore_errors=True)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _write_in_place(folder: Path, write: Callable[[Path], None], why: str, *, keep_other_files: bool) -> Path:
    """Fallback when the folder cannot be replaced as a whole: each file atomically, in turn
    (without ``keep_other_files``, the files ``write`` did not write are removed last)."""
    warnings.warn(
        f"saving into {folder} file by file, not as a whole folder, because {why}; a crash between "
        "the files can leave one new and one old",
        RuntimeWarning,
        stacklevel=3,
    )
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f"{_SAVE_MARK}{os.getpid()}-", dir=folder))
    try:
        write(tmp)
        written = sorted(tmp.iterdir(), key=lambda p: p.name == CONFIG_NAME)  # config last
        for f in written:
            commit(f, folder / f.name, sync_folder=False)  # the folder is flushed once, below
        if not keep_other_files:
            keep = {f.name for f in written} | {tmp.name}
            for entry in os.scandir(folder):
                if entry.name not in keep:
                    _remove(entry)
        fsync_path(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def _remove(entry: os.DirEntry[str]) -> None:
    if entry.is_dir(follow_symlinks=False):
        shutil.rmtree(entry.path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)


def _is_cwd(folder: Path) -> bool:
    try:
        return os.path.samefile(folder, os.getcwd())
    except OSError:
        return False
