"""The feed-forward network: a list of layers, a loss and an optimizer, and its training loop."""

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from numpy_nn.datasets import Dataset
from numpy_nn.layers import initialize_layer
from numpy_nn.losses import initialize_loss
from numpy_nn.optimizers import initialize_optimizer


def derived_seeds(seed: int | None, n: int) -> list:
    """n independent integer seeds from one seed (None stays fresh entropy)."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


class NeuralNetwork:
    """A stack of layers trained by mini-batch gradient descent.

    ``layer_args`` is a list of keyword dicts for ``initialize_layer``; the last one may omit
    ``n_out``, which ``train`` then sets to the dataset's number of classes (once: training again
    continues with the same output layer). ``seed`` fixes everything random in the model: every
    layer's initial weights (and numpy's legacy global generator, for code that uses it).
    """

    def __init__(
        self,
        loss: str,
        layer_args: Sequence[dict],
        optimizer_args: dict,
        logger=None,
        seed: int | None = None,
    ):
        if not layer_args:
            raise ValueError("layer_args is empty: give at least the output layer")
        self.n_layers = len(layer_args)
        self.layer_args = [dict(a) for a in layer_args]
        self.logger = logger
        self.seed = seed
        if seed is not None:
            np.random.seed(seed % 2**32)  # noqa: NPY002 (legacy global, for handout code)
        self.layer_seeds = derived_seeds(seed, self.n_layers)
        self.epoch_log = {
            "loss": {"train": [], "validate": []},
            "error": {"train": [], "validate": []},
        }
        self.loss = initialize_loss(loss)
        optimizer_args = dict(optimizer_args)
        self.optimizer = initialize_optimizer(optimizer_args.pop("name"), **optimizer_args)
        self.layers = []
        self._initialize_layers()

    def _initialize_layers(self, out_dim: int | None = None) -> None:
        """Build the layers not built yet; the output layer needs ``n_out`` or ``out_dim``."""
        while len(self.layers) < self.n_layers:
            i = len(self.layers)
            args = dict(self.layer_args[i])
            args.setdefault("name", "fully_connected")
            widths = args["name"] in ("fully_connected", "conv2d")
            if widths and args.get("n_out") is None:
                if i < self.n_layers - 1:
                    raise ValueError(f"layer {i} needs n_out (only the output layer may omit it)")
                if out_dim is None:
                    return  # output width comes from the dataset in train()
                args["n_out"] = out_dim
            self.layers.append(initialize_layer(seed=self.layer_seeds[i], **args))

    def set_mode(self, mode: str) -> None:
        """``"train"`` or ``"test"`` for every layer (BatchNorm's statistics, Dropout)."""
        for layer in self.layers:
            layer.set_mode(mode)

    def forward(self, X: np.ndarray) -> np.ndarray:
        """The network's output for a batch X (n, d), or (n, h, w, c) images."""
        X = np.asarray(X)
        if not np.all(np.isfinite(X)):
            raise ValueError("input X contains NaN or inf: clean or impute the data first")
        if len(self.layers) < self.n_layers:
            raise RuntimeError(
                "the output layer has no n_out yet: give it one, or call train() first"
            )
        Y = X
        for layer in self.layers:
            Y = layer.forward(Y)
        return Y

    def backward(self, target: np.ndarray, out: np.ndarray) -> float:
        """Backpropagate the loss of ``out`` against ``target`` through every layer; return the loss.

        Chain rule, last layer first: each layer turns dL/d(its output) into dL/d(its input),
        filling its parameter gradients on the way.
        """
        loss = self.loss.forward(target, out)
        grad = self.loss.backward(target, out)
        for layer in reversed(self.layers[1:]):
            grad = layer.backward(grad)
        first = self.layers[0]  # its input is the data: nothing needs dL/dX there
        if first.skips_input_gradient:
            first.backward(grad, input_gradient=False)
        else:
            first.backward(grad)
        return loss

    def update(self, epoch: int | None = None) -> None:
        """One optimizer step on every parameter, in place, then clear the gradients."""
        for i, layer in enumerate(self.layers):
            for name, param in layer.parameters.items():
                self.optimizer.step(f"{name}{i}", param, layer.gradients[name], epoch)
            layer.clear_gradients()

    def error(self, target: np.ndarray, out: np.ndarray) -> float:
        """Fraction of rows whose arg-max prediction differs from the one-hot target's class."""
        return float(np.mean(np.argmax(out, axis=1) != np.argmax(target, axis=1)))

    def predict(self, X: np.ndarray, Y: np.ndarray, batch_size: int = 1000):
        """(predictions, loss) on a whole set, in evaluation mode and in batches of
        ``batch_size`` (bounded memory for image layers); the training mode is restored."""
        modes = [layer.training for layer in self.layers]
        self.set_mode("test")
        try:
            outs = [self.forward(X[i : i + batch_size]) for i in range(0, len(X), batch_size)]
        finally:
            for layer, mode in zip(self.layers, modes):
                layer.training = mode
        Y_hat = np.concatenate(outs)
        return Y_hat, self.loss.forward(Y, Y_hat)

    def parameters(self) -> "OrderedDict[str, np.ndarray]":
        """Every learned array by unique name (``W0``, ``b0``, ``W1``, ...)."""
        return OrderedDict(
            (f"{name}{i}", p)
            for i, layer in enumerate(self.layers)
            for name, p in layer.parameters.items()
        )

    def train(self, dataset: Dataset, epochs: int, progress: bool = False) -> dict:
        """Train for ``epochs`` passes over ``dataset.train``; log train and validation loss/error.

        Train figures are the example-weighted means of the mini-batch losses and errors seen
        during the epoch; validation figures are computed on the whole split after it.
        Returns ``epoch_log``. A NaN or inf loss stops training with a FloatingPointError.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
        self._initialize_layers(dataset.out_dim)
        bar = range(epochs)
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(bar, desc="epochs", unit="epoch")
        step = 0
        for epoch in bar:
            self.set_mode("train")
            total_loss = total_err = 0.0
            for X, Y in dataset.train.sample():
                out = self.forward(X)
                loss = self.backward(Y, out)
                step += 1
                if not np.isfinite(loss):
                    raise FloatingPointError(
                        f"loss became {loss} at epoch {epoch + 1}, step {step}: "
                        "lower the learning rate or enable clip_norm"
                    )
                total_loss += loss * len(X)
                total_err += self.error(Y, out) * len(X)
                self.update(epoch)
            val_out, val_loss = self.predict(dataset.validate.data, dataset.validate.labels)
            log = {
                "loss": {"train": total_loss / len(dataset.train), "validate": val_loss},
                "error": {
                    "train": total_err / len(dataset.train),
                    "validate": self.error(dataset.validate.labels, val_out),
                },
            }
            for kind in ("loss", "error"):
                for split in ("train", "validate"):
                    self.epoch_log[kind][split].append(log[kind][split])
            if self.logger is not None:
                self.logger.push(log)
            if progress:
                bar.set_postfix(
                    loss=f"{log['loss']['train']:.4f}", val_err=f"{log['error']['validate']:.3f}"
                )
        if self.logger is not None:
            self.logger.end(self.parameters())
        return self.epoch_log

    def test(self, dataset: Dataset):
        """(test loss, test error) on ``dataset.test``."""
        out, loss = self.predict(dataset.test.data, dataset.test.labels)
        return loss, self.error(dataset.test.labels, out)


def initialize_model(
    name: str,
    loss: str,
    layer_args: Sequence[dict],
    optimizer_args: dict,
    logger=None,
    seed: int | None = None,
) -> NeuralNetwork:
    """Build a model by name (``"feed_forward"``, alias ``"ffnn"``)."""
    if str(name).lower() not in ("feed_forward", "ffnn", "neural_network"):
        raise ValueError(f"unknown model {name!r}: choose 'feed_forward'")
    return NeuralNetwork(loss, layer_args, optimizer_args, logger=logger, seed=seed)
