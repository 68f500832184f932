"""Model families, one module each. Importing this package registers them all."""

from . import resnet

__all__ = ["resnet"]
