"""The bridge: numpy_nn layers as torch modules, with their hand-derived backward.

``NumpyLayerFunction`` is a ``torch.autograd.Function`` whose forward calls the numpy layer's
``forward`` and whose backward calls its ``backward``, handing torch dL/dX and the parameter
gradients. ``NumpyModule`` wraps any numpy_nn layer (FullyConnected, Conv2D, Pool2D, Flatten,
BatchNorm1D/2D, Dropout) as an ``nn.Module``:

- its ``nn.Parameter``s *are* the layer's arrays (``torch.from_numpy`` shares memory, nothing is
  copied per step), so torch optimizers, state_dict save/load, Lightning checkpoints and DDP's
  gradient averaging all work on them unchanged; layers without parameters expose none;
- BatchNorm's running mean and variance (its cache's ``running_mu`` and ``running_var``) are
  registered buffers, under PyTorch's names ``running_mean`` and ``running_var``: they are in
  the state_dict and in every checkpoint;
- the module's ``training`` flag sets the numpy layer's mode (``set_mode``) at every call, so
  ``module.train()`` / ``.eval()`` and Lightning (which restores ``training`` flags directly)
  both switch BatchNorm and Dropout;
- Dropout draws each mask from a numpy generator seeded from torch's RNG, so
  ``seed_everything`` fixes the masks.

Inputs arrive in the layer's own layout (NHWC for image layers): the network converts NCHW
batches once, at its first step (``lightning_hw.networks.stack``).

CPU only: numpy cannot read CUDA memory, so a CUDA input (or a module moved to CUDA) raises a
clear error instead of silently copying to the host and back every step.
"""

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable

from numpy_nn.base import Layer
from numpy_nn.normalization import BatchNorm1D
from numpy_nn.regularization import Dropout


def _as_numpy(t: torch.Tensor, what: str) -> np.ndarray:
    if t.device.type != "cpu":
        raise RuntimeError(
            f"NumpyModule got {what} on {t.device}: numpy layers run on the CPU only; "
            "train the numpy backend with --trainer.accelerator cpu (or use backend: torch on a GPU)"
        )
    return t.detach().numpy()


def _own(array: np.ndarray, *others: np.ndarray) -> torch.Tensor:
    """A tensor of ``array`` that shares memory with none of ``others`` (copied only if needed)."""
    if any(np.may_share_memory(array, o) for o in others):  # bounds only: cheap, never misses
        array = array.copy()
    return torch.from_numpy(np.ascontiguousarray(array))


class NumpyLayerFunction(torch.autograd.Function):
    """y = layer.forward(x) in numpy; backward = layer.backward, returning (dX, None, None, *dparams)."""

    @staticmethod
    def forward(ctx, x, layer: Layer, names: Sequence[str], *params):
        # Bind the layer to the current parameter tensors (views, no copy), so it always computes
        # with exactly what the optimizer and state_dict see, even after .to(dtype) or a reload.
        layer.parameters = OrderedDict(
            (n, _as_numpy(p, f"parameter {n}")) for n, p in zip(names, params)
        )
        x_np = _as_numpy(x, "an input")
        out = layer.forward(x_np)
        # The cache belongs to this call: keep it on ctx so that several forwards (e.g. a module
        # used twice in one graph) each get their own backward.
        ctx.layer, ctx.names, ctx.cache = layer, names, OrderedDict(layer.cache)
        ctx.params = layer.parameters
        y = _own(out, x_np)  # a view of the input (Flatten) would alias it behind torch's back
        # An output the backward still reads (Pool2D's Y, a linear layer's Z) is handed over
        # without a copy and saved, so torch's version counter turns an in-place change of it
        # before the backward into an error instead of a wrong gradient.
        cached = [v for v in layer.cache.values() if isinstance(v, np.ndarray)]
        if any(np.may_share_memory(out, v) for v in cached):
            ctx.save_for_backward(y)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        _ = ctx.saved_tensors  # raises if a saved output was changed in place
        layer = ctx.layer
        layer.cache, layer.parameters = ctx.cache, ctx.params
        grad_np = _as_numpy(grad_out, "a gradient")
        if not ctx.needs_input_grad[0] and layer.skips_input_gradient:  # e.g. the data's layer
            layer.backward(grad_np, input_gradient=False)
            grad_in = None
        else:
            grad_in = _own(layer.backward(grad_np), grad_np)
        grads = [torch.from_numpy(np.ascontiguousarray(layer.gradients[n])) for n in ctx.names]
        return (grad_in, None, None, *grads)


# numpy_nn's cache keys of running statistics -> the buffers' names (PyTorch's)
BUFFER_NAMES = {"running_mu": "running_mean", "running_var": "running_var"}


def numpy_dtype(dtype: torch.dtype) -> np.dtype:
    """The numpy dtype of a torch floating dtype (float32 -> float32, float64 -> float64)."""
    return torch.empty((), dtype=dtype).numpy().dtype


class NumpyModule(nn.Module):
    """A numpy_nn layer as an ``nn.Module``.

    ``input_shape`` is a batch shape in the layer's layout, such as ``(1, n_in)`` or
    ``(1, height, width, channels)``; the layer's lazy ``_init_parameters`` runs here if it has
    not yet (so a seeded layer draws the same weights it would in numpy_nn), the arrays are cast
    to ``dtype`` and registered as parameters (and BatchNorm's running statistics as buffers)
    sharing their memory.
    """

    def __init__(
        self, layer: Layer, input_shape: Sequence[int], dtype: torch.dtype = torch.float32
    ):
        super().__init__()
        self.layer = layer
        init = getattr(layer, "_init_parameters", None)
        if init is not None and not layer.parameters:
            init(tuple(input_shape))
        np_dtype = numpy_dtype(dtype)
        self.names = tuple(layer.parameters)
        for name in self.names:
            array = np.ascontiguousarray(layer.parameters[name], dtype=np_dtype)
            layer.parameters[name] = array
            frozen = not layer.trainable  # a frozen layer's arrays are used, never learned
            self.register_parameter(
                name, nn.Parameter(torch.from_numpy(array), requires_grad=not frozen)
            )
        self.running_keys = tuple(getattr(layer, "running_keys", ()))
        for key in self.running_keys:
            array = np.ascontiguousarray(layer.cache[key], dtype=np_dtype)
            self.register_buffer(BUFFER_NAMES[key], torch.from_numpy(array))
        self.train(layer.training)

    @property
    def is_normalization(self) -> bool:
        """True for BatchNorm: the Classifier's ``norm_lr_scale`` applies to its parameters."""
        return isinstance(self.layer, BatchNorm1D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        params = [getattr(self, n) for n in self.names]
        if params and x.dtype != params[0].dtype:
            x = x.to(params[0].dtype)
        layer = self.layer
        layer.set_mode("train" if self.training else "test")
        if isinstance(layer, Dropout) and self.training:
            # one draw from torch's RNG seeds this call's mask: seed_everything fixes the masks
            layer.rng = np.random.default_rng(int(torch.randint(0, 2**62, ()).item()))
        buffers = [getattr(self, BUFFER_NAMES[k]) for k in self.running_keys]
        for key, buffer in zip(self.running_keys, buffers):
            # compute with (and update) exactly the statistics the state_dict holds
            layer.cache[key] = _as_numpy(buffer, f"buffer {BUFFER_NAMES[key]}")
        y = NumpyLayerFunction.apply(x, layer, self.names, *params)
        for key, buffer in zip(self.running_keys, buffers):
            new = layer.cache[key]
            if not np.may_share_memory(new, buffer.numpy()):
                buffer.copy_(torch.from_numpy(np.asarray(new, dtype=buffer.numpy().dtype)))
        return y

    def extra_repr(self) -> str:
        layer = self.layer
        parts = [type(layer).__name__]
        if layer.n_in is not None or layer.n_out is not None:
            parts.append(f"n_in={layer.n_in}, n_out={layer.n_out}")
        for attr in ("kernel_shape", "stride", "pad", "mode", "p", "eps", "momentum"):
            if hasattr(layer, attr):
                parts.append(f"{attr}={getattr(layer, attr)}")
        if layer.activation is not None:
            parts.append(f"activation={type(layer.activation).__name__}")
        return ", ".join(parts)
