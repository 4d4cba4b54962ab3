"""The bridge: numpy_nn layers as torch modules, with their hand-derived backward.

``NumpyLayerFunction`` is a ``torch.autograd.Function`` whose forward calls the numpy layer's
``forward`` and whose backward calls its ``backward``, handing torch dL/dX and the parameter
gradients. ``NumpyModule`` wraps a layer as an ``nn.Module`` whose ``nn.Parameter``s *are* the
layer's arrays (``torch.from_numpy`` shares memory, nothing is copied per step), so torch
optimizers, state_dict save/load, Lightning checkpoints and DDP's gradient averaging all work on
them unchanged.

CPU only: numpy cannot read CUDA memory, so a CUDA input (or a module moved to CUDA) raises a
clear error instead of silently copying to the host and back every step.
"""

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable

from numpy_nn.layers import Layer


def _as_numpy(t: torch.Tensor, what: str) -> np.ndarray:
    if t.device.type != "cpu":
        raise RuntimeError(
            f"NumpyModule got {what} on {t.device}: numpy layers run on the CPU only; "
            "train the numpy backend with --trainer.accelerator cpu (or use backend: torch on a GPU)"
        )
    return t.detach().numpy()


class NumpyLayerFunction(torch.autograd.Function):
    """y = layer.forward(x) in numpy; backward = layer.backward, returning (dX, None, None, *dparams)."""

    @staticmethod
    def forward(ctx, x, layer: Layer, names: Sequence[str], *params):
        # Bind the layer to the current parameter tensors (views, no copy), so it always computes
        # with exactly what the optimizer and state_dict see, even after .to(dtype) or a reload.
        layer.parameters = OrderedDict(
            (n, _as_numpy(p, f"parameter {n}")) for n, p in zip(names, params)
        )
        out = layer.forward(_as_numpy(x, "an input"))
        # The cache belongs to this call: keep it on ctx so that several forwards (e.g. a module
        # used twice in one graph) each get their own backward.
        ctx.layer, ctx.names, ctx.cache = layer, names, OrderedDict(layer.cache)
        ctx.params = layer.parameters
        if any(out is v for v in layer.cache.values()):
            out = out.copy()  # never hand torch an array the backward still needs
        return torch.from_numpy(out)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        layer = ctx.layer
        layer.cache, layer.parameters = ctx.cache, ctx.params
        grad_in = layer.backward(_as_numpy(grad_out, "a gradient"))
        grads = [torch.from_numpy(np.ascontiguousarray(layer.gradients[n])) for n in ctx.names]
        return (torch.from_numpy(np.ascontiguousarray(grad_in)), None, None, *grads)


def numpy_dtype(dtype: torch.dtype) -> np.dtype:
    """The numpy dtype of a torch floating dtype (float32 -> float32, float64 -> float64)."""
    return torch.empty((), dtype=dtype).numpy().dtype


class NumpyModule(nn.Module):
    """A numpy_nn layer as an ``nn.Module``.

    ``input_shape`` is a batch shape such as ``(1, n_in)``; the layer's lazy ``_init_parameters``
    runs here (so a seeded layer draws the same weights it would in numpy_nn), the arrays are cast
    to ``dtype`` and registered as ``nn.Parameter``s sharing their memory.
    """

    def __init__(
        self, layer: Layer, input_shape: Sequence[int], dtype: torch.dtype = torch.float32
    ):
        super().__init__()
        self.layer = layer
        if not layer.parameters:
            layer._init_parameters(tuple(input_shape))
        np_dtype = numpy_dtype(dtype)
        self.names = tuple(layer.parameters)
        for name in self.names:
            array = np.ascontiguousarray(layer.parameters[name], dtype=np_dtype)
            layer.parameters[name] = array
            self.register_parameter(name, nn.Parameter(torch.from_numpy(array)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        params = [getattr(self, n) for n in self.names]
        if x.dtype != params[0].dtype:
            x = x.to(params[0].dtype)
        return NumpyLayerFunction.apply(x, self.layer, self.names, *params)

    def extra_repr(self) -> str:
        layer = self.layer
        act = type(layer.activation).__name__ if layer.activation is not None else "-"
        return f"{type(layer).__name__}(n_in={layer.n_in}, n_out={layer.n_out}, activation={act})"
