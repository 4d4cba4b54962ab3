"""The Iris feed-forward network: n_features -> hidden (activation) -> n_classes logits.

A ``LayerStack`` of two numpy_nn ``FullyConnected`` layers: ``backend="numpy"`` runs them through
the autograd bridge, ``backend="torch"`` is the twin (``nn.Linear`` + the torch activation). Both
draw their initial weights exactly as numpy_nn's own trainer does from the same ``seed``
(``numpy_nn.models.NeuralNetwork`` derives one seed per layer), so all three implementations
start from the same point. The output layer emits logits; the Classifier's cross-entropy
(log-softmax inside) plays the role of numpy_nn's softmax layer + CrossEntropy.
"""

from lightning_hw.networks.stack import LayerStack


class IrisFFNN(LayerStack):
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
        fc = {"name": "fully_connected", "weight_init": weight_init}
        layers = [
            {**fc, "n_out": hidden, "activation": activation},
            {**fc, "n_out": n_classes, "activation": "linear"},
        ]
        super().__init__(layers, (n_features,), backend, seed, dtype)
