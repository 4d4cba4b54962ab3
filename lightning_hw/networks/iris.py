"""The Iris feed-forward network in two backends that start from identical weights.

``backend="numpy"``: numpy_nn ``FullyConnected`` layers run through the autograd bridge.
``backend="torch"``: ``nn.Linear`` + the torch activation.
Both draw their initial weights exactly as numpy_nn's own trainer does from the same ``seed``
(``numpy_nn.models.NeuralNetwork`` derives one seed per layer), so all three implementations
start from the same point. The output layer emits logits; the Classifier's cross-entropy
(log-softmax inside) plays the role of numpy_nn's softmax layer + CrossEntropy.
"""

import torch
from torch import nn

from lightning_hw.bridge import NumpyModule
from lightning_hw.networks.base import Network
from numpy_nn.layers import FullyConnected
from numpy_nn.models import derived_seeds

TORCH_ACTIVATIONS = {
    "linear": nn.Identity,
    "identity": nn.Identity,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "arctan": None,  # no nn module: wrapped below
}


class _ArcTan(nn.Module):
    def forward(self, x):
        return torch.atan(x)


def _torch_activation(name: str) -> nn.Module:
    if name not in TORCH_ACTIVATIONS:
        raise ValueError(
            f"unknown hidden activation {name!r}: choose one of {', '.join(TORCH_ACTIVATIONS)}"
        )
    cls = TORCH_ACTIVATIONS[name]
    return _ArcTan() if cls is None else cls()


class IrisFFNN(Network):
    """n_features -> hidden (activation) -> n_classes logits."""

    def __init__(
        self,
        backend: str = "numpy",
        hidden: int = 25,
        activation: str = "relu",
        weight_init: str = "xavier_uniform",
        n_features: int = 4,
        n_classes: int = 3,
        seed: int | None = None,
        dtype: str = "float32",
    ):
        super().__init__()
        if seed is None:  # one seed fixes everything: take the one seed_everything() set
            seed = torch.initial_seed() % 2**32
            self.init_args["seed"] = seed
        if backend not in ("numpy", "torch"):
            raise ValueError(f"unknown backend {backend!r}: choose 'numpy' or 'torch'")
        self.backend = backend
        torch_dtype = getattr(torch, dtype)
        seeds = derived_seeds(seed, 2)
        layers = [
            FullyConnected(hidden, activation, weight_init, seed=seeds[0]),
            FullyConnected(n_classes, "linear", weight_init, seed=seeds[1]),
        ]
        shapes = [(1, n_features), (1, hidden)]
        if backend == "numpy":
            self.layers = nn.Sequential(
                *(NumpyModule(l, s, torch_dtype) for l, s in zip(layers, shapes))
            )
        else:
            linears = []
            for layer, shape in zip(layers, shapes):
                layer._init_parameters(shape)
                # skip_init: no random draw, so both backends leave torch's RNG (batch order) alone
                lin = nn.utils.skip_init(nn.Linear, shape[1], layer.n_out, dtype=torch_dtype)
                with torch.no_grad():  # nn.Linear stores W^T (out x in) and a flat bias
                    lin.weight.copy_(torch.from_numpy(layer.parameters["W"].T.copy()))
                    lin.bias.copy_(torch.from_numpy(layer.parameters["b"][0].copy()))
                linears.append(lin)
            self.layers = nn.Sequential(linears[0], _torch_activation(activation), linears[1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)
