"""jtoolkit: PyTorch's basics toolkit as pure JAX, with torch's names and numbers.

Submodules mirror torch's layout and are imported on first use::

    >>> import jtoolkit as jtk
    >>> jtk.tensor_ops.mm([[1, 2], [3, 4]], [[1, 0], [0, 1]]).tolist()
    [[1, 2], [3, 4]]
"""

import importlib

__version__ = "0.1.0"

_SUBMODULES = (
    "tensor_ops",
    "autodiff",
    "losses",
    "functional",
    "optim",
    "schedules",
    "data",
    "models",
    "checkpoint",
    "train",
    "launch",
)

__all__ = ["__version__", *_SUBMODULES]


def __getattr__(name: str):
    """Import ``jtoolkit.<name>`` lazily, so ``import jtoolkit`` stays cheap."""
    if name in _SUBMODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
