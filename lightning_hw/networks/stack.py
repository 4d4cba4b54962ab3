"""``LayerStack``: a network from a list of numpy_nn layer specs, in two backends that start
from identical weights.

    layers: [{name: conv2d, n_out: 16, kernel_shape: 3, activation: relu}, {name: pool2d, ...},
             {name: batchnorm2d}, {name: flatten}, {name: fully_connected, n_out: 10}]

A spec is what ``numpy_nn.layers.initialize_layer`` takes (the format of numpy_nn's own
``NeuralNetwork``), and layer i draws its weights from the i-th seed derived from ``seed``, as
numpy_nn's trainer does, so all three implementations start from the same point.

``backend="numpy"``: each numpy_nn layer runs through the autograd bridge (``NumpyModule``).
Image layers work in NHWC, so the network's first step turns the DataModule's NCHW batches into
NHWC (a view, no copy); nothing else converts layouts.

``backend="torch"``: the torch-native twin, NCHW throughout: ``nn.Conv2d``, ``nn.MaxPool2d`` /
``nn.AvgPool2d``, ``nn.BatchNorm1d/2d`` (with numpy_nn's momentum convention and running
variance), ``nn.Dropout``, ``nn.Linear`` and the activation, with the
numpy layers' initial weights copied in (W (kh, kw, c_in, c_out) -> (c_out, c_in, kh, kw)).
Flatten moves channels last before flattening, so the twin's features come in numpy's (h, w, c)
order and the first dense layer's weights copy unchanged.

The last layer emits logits (activation ``linear``); the Classifier's cross-entropy applies the
softmax. ``tta_level`` sets the test-time augmentation of ``evaluate`` (as ``CifarCNN``'s).
"""

from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lightning_hw.bridge import NumpyModule
from lightning_hw.networks.base import Network
from lightning_hw.seeding import current_seed
from numpy_nn.conv import Conv2D, Pool2D, whitening_filters
from numpy_nn.layers import LAYERS, FullyConnected, Layer, initialize_layer
from numpy_nn.models import derived_seeds
from numpy_nn.normalization import BatchNorm1D, BatchNorm2D

BACKENDS = ("numpy", "torch")
TORCH_ACTIVATIONS = {
    "linear": nn.Identity,
    "identity": nn.Identity,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
}


class ArcTan(nn.Module):
    def forward(self, x):
        return torch.atan(x)


def torch_activation(name: str) -> nn.Module:
    if name == "arctan":
        return ArcTan()
    if name not in TORCH_ACTIVATIONS:
        choices = ", ".join([*TORCH_ACTIVATIONS, "arctan"])
        raise ValueError(f"unknown activation {name!r}: choose one of {choices}")
    return TORCH_ACTIVATIONS[name]()


class ToChannelsLast(nn.Module):
    """(n, c, h, w) -> (n, h, w, c): the numpy layers' NHWC layout (a view)."""

    def forward(self, x):
        return x.permute(0, 2, 3, 1)


class FlattenHWC(nn.Module):
    """Flatten NCHW images in numpy's NHWC order (h, w, c), so dense weights match numpy_nn's."""

    def forward(self, x):
        return (x.permute(0, 2, 3, 1) if x.ndim == 4 else x).flatten(1)


class BiasedRunningVariance:
    """torch's batch norm with numpy_nn's (the handout's) running variance: the moving average
    of the *biased* batch variance v. With m torch's momentum and n the values per channel,
    torch averages the unbiased v n / (n - 1): r_t = (1 - m) r + m v n / (n - 1). The handout's
    r' = (1 - m) r + m v is r_t - m v / (n - 1) = r_t - (r_t - (1 - m) r) / n: torch's own
    update, made on a copy of r (autograd keeps it), then this channel-sized correction."""

    def forward(self, x):
        if not (self.training and self.track_running_stats):
            return super().forward(x)
        self._check_input_dim(x)
        self.num_batches_tracked.add_(1)
        r_t = self.running_var.clone()  # torch updates (and keeps for backward) this copy
        y = F.batch_norm(
            x, self.running_mean, r_t, self.weight, self.bias, True, self.momentum, self.eps
        )
        n = x.numel() // x.shape[1]
        with torch.no_grad():
            self.running_var.copy_(r_t - (r_t - (1 - self.momentum) * self.running_var) / n)
        return y


class BiasedBatchNorm1d(BiasedRunningVariance, nn.BatchNorm1d):
    pass


class BiasedBatchNorm2d(BiasedRunningVariance, nn.BatchNorm2d):
    pass


def _tensor(array: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(array)).to(dtype)


def _weighted_twin(layer: Layer, dtype: torch.dtype) -> list[nn.Module]:
    """``nn.Linear`` or ``nn.Conv2d`` holding the layer's weights, then its activation."""
    p = layer.parameters
    if isinstance(layer, FullyConnected):
        module = nn.utils.skip_init(nn.Linear, layer.n_in, layer.n_out, dtype=dtype)
        weight = p["W"].T  # nn.Linear stores W^T (out x in)
    else:
        module = nn.utils.skip_init(
            nn.Conv2d,
            layer.n_in,
            layer.n_out,
            layer.kernel_shape,
            layer.stride,
            layer.pad,
            dtype=dtype,
        )
        weight = p["W"].transpose(3, 2, 0, 1)  # (kh, kw, c_in, c_out) -> (c_out, c_in, kh, kw)
    with torch.no_grad():  # skip_init draws nothing: torch's RNG (batch order) is left alone
        module.weight.copy_(_tensor(weight, dtype))
        module.bias.copy_(_tensor(p["b"][0], dtype))
    return [module, torch_activation(layer.activation_name)]


class ElmanTwin(nn.Module):
    """numpy_nn's ``Elman`` in torch: s_t = f(X_t W + s_{t-1} U + b) from s_0 = 0, inputs
    (batch, n_in, T), the last state out; ``nn.RNN`` computes the same for tanh and relu
    (weight_ih = W^T, weight_hh = U^T), this loop for every activation."""

    def __init__(self, W: torch.Tensor, U: torch.Tensor, b: torch.Tensor, activation: str):
        super().__init__()
        self.W, self.U, self.b = nn.Parameter(W), nn.Parameter(U), nn.Parameter(b)
        self.activation = torch_activation(activation)

    def forward(self, x):
        s = x.new_zeros(x.shape[0], self.W.shape[1])
        for t in range(x.shape[2]):
            s = self.activation(x[:, :, t] @ self.W + s @ self.U + self.b)
        return s


def _elman_twin(layer: Layer, dtype: torch.dtype) -> list[nn.Module]:
    p = {k: _tensor(v, dtype) for k, v in layer.parameters.items()}
    return [ElmanTwin(p["W"], p["U"], p["b"], layer.activation_name)]


def _pool_twin(layer: Pool2D, dtype: torch.dtype) -> list[nn.Module]:
    if layer.mode == "max":
        return [nn.MaxPool2d(layer.kernel_shape, layer.stride, layer.pad)]
    return [nn.AvgPool2d(layer.kernel_shape, layer.stride, layer.pad, count_include_pad=True)]


def _batchnorm_twin(layer: BatchNorm1D, dtype: torch.dtype) -> list[nn.Module]:
    cls = BiasedBatchNorm2d if isinstance(layer, BatchNorm2D) else BiasedBatchNorm1d
    # numpy_nn's momentum weighs the running statistics' past, torch's the new batch
    module = cls(layer.n_in, eps=layer.eps, momentum=1 - layer.momentum, dtype=dtype)
    with torch.no_grad():
        module.weight.copy_(_tensor(layer.parameters["gamma"][0], dtype))
        module.bias.copy_(_tensor(layer.parameters["beta"][0], dtype))
    return [module]


# The torch twin of each numpy_nn layer kind, by its name in numpy_nn.layers.LAYERS (a test
# checks that every kind has one).
TWINS: dict[str, Callable[[Layer, torch.dtype], list[nn.Module]]] = {
    "fully_connected": _weighted_twin,
    "conv2d": _weighted_twin,
    "pool2d": _pool_twin,
    "flatten": lambda layer, dtype: [FlattenHWC()],
    "batchnorm1d": _batchnorm_twin,
    "batchnorm2d": _batchnorm_twin,
    "dropout": lambda layer, dtype: [nn.Dropout(layer.p)],
    "elman": _elman_twin,
}


def torch_twin(layer: Layer, dtype: torch.dtype) -> list[nn.Module]:
    """The torch modules computing what ``layer`` computes, from its current parameters."""
    kind = next((name for name, cls in LAYERS.items() if type(layer) is cls), None)
    if kind not in TWINS:
        raise ValueError(f"no torch twin for {type(layer).__name__}")
    modules = TWINS[kind](layer, dtype)
    for module in modules if not layer.trainable else ():
        module.requires_grad_(False)  # frozen, as the numpy layer is
    return modules


def build_layers(specs: Sequence[dict], seed: int) -> list[Layer]:
    """numpy_nn layers from specs, layer i seeded with the i-th seed derived from ``seed``."""
    if not specs:
        raise ValueError("layers is empty: give at least the output layer")
    seeds = derived_seeds(seed, len(specs))
    layers = []
    for i, spec in enumerate(specs):
        spec = dict(spec)
        name = spec.pop("name", None)
        if name is None:
            raise ValueError(f"layer {i} has no name: write e.g. {{name: conv2d, n_out: 16, ...}}")
        layers.append(initialize_layer(name, seed=seeds[i], **spec))
    last = layers[-1]
    if getattr(last, "activation_name", "linear") not in ("linear", "identity"):
        raise ValueError(
            f"the last layer must output logits (activation: linear), not {last.activation_name}: "
            "the Classifier's cross-entropy applies the softmax"
        )
    return layers


def trace_shapes(layers: Sequence[Layer], input_shape: Sequence[int]) -> list[tuple]:
    """Each layer's input batch shape, from a forward pass of zeros in evaluation mode (which
    also creates every lazy parameter, in float64)."""
    x = np.zeros((2, *input_shape))
    shapes = []
    for i, layer in enumerate(layers):
        shapes.append(x.shape)
        training = layer.training
        layer.set_mode("test")
        try:
            x = layer.forward(x)
        except ValueError as e:
            raise ValueError(
                f"layer {i} ({type(layer).__name__}) on input {x.shape}: {e}"
            ) from None
        finally:
            layer.set_mode("train" if training else "test")
    return shapes


class LayerStack(Network):
    """``layers`` (numpy_nn specs) on inputs of ``input_shape``, in the ``backend`` asked for."""

    def __init__(
        self,
        layers: list[dict],
        input_shape: Sequence[int],
        backend: str = "numpy",
        seed: int | None = None,
        dtype: str = "float32",
        tta_level: int = 0,
    ):
        """
        Args:
            layers: numpy_nn layer specs, e.g. ``{name: conv2d, n_out: 16, kernel_shape: 3,
                activation: relu, weight_init: he_uniform}``; the last one outputs the logits.
            input_shape: one example as the DataModule yields it: (channels, height, width) for
                images, (features,) for vectors.
            backend: ``numpy`` (numpy_nn's layers through the bridge, CPU only) or ``torch``.
            seed: the initial weights' seed; null takes the one ``seed_everything`` set.
            dtype: ``float32`` or ``float64`` (the gradient and twin tests use float64).
            tta_level: test-time augmentation of ``evaluate``: 0 none, 1 mirror, 2 mirror and
                1-pixel translations (images only).
        """
        super().__init__()
        if seed is None:  # one seed fixes everything: take the one seed_everything() set
            seed = current_seed()
            self.init_args["seed"] = seed
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}: choose 'numpy' or 'torch'")
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be float32 or float64, got {dtype!r}")
        self.set_tta_level(tta_level)
        input_shape = tuple(int(s) for s in input_shape)
        if len(input_shape) not in (1, 3):
            raise ValueError(
                f"input_shape must be (channels, height, width) or (features,), got {input_shape}"
            )
        self.backend = backend
        images = len(input_shape) == 3
        numpy_layers = build_layers(layers, seed)
        c, *hw = input_shape
        shapes = trace_shapes(numpy_layers, (*hw, c) if images else input_shape)
        torch_dtype = getattr(torch, dtype)
        if backend == "numpy":
            modules = [ToChannelsLast()] if images else []
            modules += [NumpyModule(l, s, torch_dtype) for l, s in zip(numpy_layers, shapes)]
        else:
            modules = [m for layer in numpy_layers for m in torch_twin(layer, torch_dtype)]
        self.layers = nn.Sequential(*modules)
        self.dtype = torch_dtype
        self.first = numpy_layers[0]  # numpy_nn's first layer (the numpy backend trains it)

    @torch.no_grad()
    def fit_whitening(self, images: torch.Tensor, eps: float = 5e-4) -> None:
        """Set the first layer to whiten the patches of ``images`` (n, c, h, w), as the torch
        CNN's is (``numpy_nn.conv.whitening_filters``; the ``FitWhitening`` callback calls this
        before training). The layer must be a frozen ``conv2d`` of 2 kh kw c filters, no
        padding, linear: ``{name: conv2d, n_out: 24, kernel_shape: 2, activation: linear,
        trainable: false}`` for 3 channels. Its stride is free: the filters whiten every kh x kw
        patch (stride 1's); with stride = kernel it reads non-overlapping patches of the same
        statistics, an invertible map of the image to a coarser, decorrelated grid."""
        layer, c = self.first, images.shape[1]
        if not (isinstance(layer, Conv2D) and not layer.trainable):
            raise ValueError("fit_whitening needs a frozen conv2d (trainable: false) first")
        kh, kw = layer.kernel_shape
        if layer.n_out != 2 * kh * kw * c or layer.pad != (0, 0):
            raise ValueError(
                f"fit_whitening: the first conv2d needs n_out {2 * kh * kw * c} (both signs of "
                f"{kh * kw * c} patch directions) and pad: valid"
            )
        W, b = whitening_filters(images.permute(0, 2, 3, 1).double().cpu().numpy(), (kh, kw), eps)
        if self.backend == "numpy":  # the module's parameters share these arrays
            layer.parameters["W"][...], layer.parameters["b"][...] = W, b
            return
        conv = next(m for m in self.layers if isinstance(m, nn.Conv2d))
        conv.weight.copy_(torch.from_numpy(W).permute(3, 2, 0, 1))
        conv.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x.to(self.dtype))  # batches arrive as float32
