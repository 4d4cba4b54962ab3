"""Clear errors for a layer, activation or loss called the wrong way.

Without them a wrong call fails far from its cause: ``backward`` before ``forward`` is a
``KeyError: 'X'``, an upstream gradient of the wrong shape a broadcast error inside the
activation, a single example given to ``SoftMax`` an ``AxisError``, and an array of ``None``
silently becomes NaN. Each check below names the layer, the argument, the shapes and what to do.
They cost a few microseconds a call (a dtype and a shape compared), nothing beside the math.
"""

import numpy as np

# dtype kinds a layer computes with: bool, signed and unsigned integers, floats.
NUMERIC_KINDS = "biuf"


def numeric(a, where: str, name: str) -> np.ndarray:
    """``a`` as an array of numbers; anything else (objects, strings, complex) is a TypeError."""
    a = np.asarray(a)
    if a.dtype.kind not in NUMERIC_KINDS:
        raise TypeError(
            f"{where}: {name} must be an array of real numbers, got dtype {a.dtype}"
            f" (shape {a.shape}); convert it first, e.g. np.asarray({name}, dtype=np.float64)"
        )
    return a


def batch(a, where: str, name: str, layout: str) -> np.ndarray:
    """A numeric batch with as many axes as ``layout`` names, e.g. ``"(n, k)"``."""
    a = numeric(a, where, name)
    ndim = layout.count(",") + 1
    if a.ndim != ndim:
        hint = f"; for one example pass {name}[None]" if a.ndim == ndim - 1 else ""
        raise ValueError(
            f"{where}: {name} must be a batch of shape {layout}, got shape {a.shape}{hint}"
        )
    return a


def same_shape(dY, Z, where: str, dY_name: str = "dY", Z_name: str = "Z") -> np.ndarray:
    """The upstream gradient ``dY`` has the shape of what it is the gradient of."""
    dY = numeric(dY, where, dY_name)
    if dY.shape != np.shape(Z):
        raise ValueError(
            f"{where}: {dY_name} has shape {dY.shape} but {Z_name} has shape {np.shape(Z)};"
            f" pass the gradient of the loss with respect to the output, one entry per output"
        )
    return dY


def saved(layer, *keys: str) -> tuple:
    """What ``forward`` saved in ``layer.cache`` for ``backward`` (an empty cache entry is ``[]``)."""
    values = tuple(layer.cache.get(k, []) for k in keys)
    if any(isinstance(v, list) and not v for v in values):
        raise RuntimeError(
            f"{type(layer).__name__}.backward was called before forward: call forward on a"
            " batch first (backward uses what forward saved in the cache), then backward with"
            " the gradient of that batch's output"
        )
    return values
