"""Model families, one module each. Importing this package registers them all."""

from . import cspnet, densenet, inception_v3, resnet, xception_aligned

__all__ = ["cspnet", "densenet", "inception_v3", "resnet", "xception_aligned"]
