"""Global layer switches: scriptable, exportable, no-JIT (the names timm code calls).

Every visionzoo layer scripts (``torch.jit.script``), FX-traces and exports in any mode, so these
switches change no layer today; they exist so code written for timm (``with set_scriptable(True):
model = create_model(...)``) runs unchanged, and so a layer factory that must choose between a
fast and a scriptable/exportable form has one place to ask.

Like timm's, each setter applies when it is constructed and, used as a context manager, restores
the previous values on exit::

    with set_layer_config(scriptable=True, exportable=True):
        model = visionzoo.create_model("resnet50")
"""

from __future__ import annotations

from types import TracebackType

__all__ = [
    "is_exportable",
    "is_no_jit",
    "is_scriptable",
    "set_exportable",
    "set_layer_config",
    "set_no_jit",
    "set_scriptable",
]

_FLAGS: dict[str, bool] = {
    "scriptable": False,
    "exportable": False,
    "no_jit": False,
    "no_activation_jit": False,
}


def is_scriptable() -> bool:
    """True while layers are asked to be TorchScript-compatible."""
    return _FLAGS["scriptable"]


def is_exportable() -> bool:
    """True while layers are asked to be ONNX/``torch.export``-compatible."""
    return _FLAGS["exportable"]


def is_no_jit() -> bool:
    """True while layers are asked not to use JIT-scripted helper functions."""
    return _FLAGS["no_jit"]


class set_layer_config:
    """Set any of the switches (None leaves one as it is); restores the old values on ``__exit__``.

    Args:
        scriptable: layers must be TorchScript-compatible.
        exportable: layers must be export-compatible.
        no_jit: layers must not use JIT-scripted helpers.
        no_activation_jit: activations must not use JIT-scripted forms (timm's switch; every
            activation here is plain PyTorch, so it is recorded and read by nothing).
    """

    def __init__(
        self,
        scriptable: bool | None = None,
        exportable: bool | None = None,
        no_jit: bool | None = None,
        no_activation_jit: bool | None = None,
    ) -> None:
        self.prev = dict(_FLAGS)
        values = {
            "scriptable": scriptable,
            "exportable": exportable,
            "no_jit": no_jit,
            "no_activation_jit": no_activation_jit,
        }
        for name, value in values.items():
            if value is None:
                continue
            if not isinstance(value, bool):
                raise TypeError(f"{name} must be a bool or None, got {value!r}")
            _FLAGS[name] = value

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _FLAGS.update(self.prev)


class set_scriptable(set_layer_config):
    """``set_layer_config(scriptable=mode)``."""

    def __init__(self, mode: bool) -> None:
        super().__init__(scriptable=mode)


class set_exportable(set_layer_config):
    """``set_layer_config(exportable=mode)``."""

    def __init__(self, mode: bool) -> None:
        super().__init__(exportable=mode)


class set_no_jit(set_layer_config):
    """``set_layer_config(no_jit=mode)``."""

    def __init__(self, mode: bool) -> None:
        super().__init__(no_jit=mode)
