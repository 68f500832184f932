"""Model families, one module each. Importing this package registers them all."""

from . import resnet, xception_aligned

__all__ = ["resnet", "xception_aligned"]
