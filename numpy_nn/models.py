"""The feed-forward network: a list of layers, a loss and an optimizer, and its training loop."""

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from numpy_nn.datasets import Dataset
from numpy_nn.layers import initialize_layer
from numpy_nn.losses import initialize_loss
from numpy_nn.optimizers import initialize_optimizer
from numpy_nn.utils import seed_or_global


def derived_seeds(seed: int | None, n: int) -> list:
    """n independent integer seeds from one seed (None stays fresh entropy)."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(n)]


class NeuralNetwork:
    """A stack of layers trained by mini-batch gradient descent.

    ``layer_args`` is a list of keyword dicts for ``initialize_layer``; the last one may omit
    ``n_out``, which ``train`` then sets to the dataset's number of classes (once: training again
    continues with the same output layer). ``seed`` fixes everything random in the model: every
    layer's initial weights (and numpy's legacy global generator, for code that uses it); without
    one, the layers' seeds come from that global generator, so the handout's
    ``np.random.seed(...)`` fixes them.
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
        self.layer_seeds = derived_seeds(seed_or_global(seed), self.n_layers)
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
        """One optimizer step on every parameter of a trainable layer, in place, then clear the
        gradients (a frozen layer's parameters stay as they are)."""
        for i, layer in enumerate(self.layers):
            for name, param in layer.parameters.items() if layer.trainable else ():
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
        during the epoch; validation figures (when the dataset has a validation split) are
        computed on the whole split after it. The optimizer's schedule sees the epoch, counted
        from 0. Returns ``epoch_log``. A NaN or inf loss stops training with a
        FloatingPointError.
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
            for X, Y in dataset.train.batches():
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
            log = {
                "loss": {"train": total_loss / len(dataset.train)},
                "error": {"train": total_err / len(dataset.train)},
            }
            if dataset.validate is not None:
                val = dataset.validate
                val_out, log["loss"]["validate"] = self.predict(val.data, val.labels)
                log["error"]["validate"] = self.error(val.labels, val_out)
            for kind, splits in log.items():
                for split, value in splits.items():
                    self.epoch_log[kind][split].append(value)
            if self.logger is not None:
                self.logger.push(log)
            if progress:
                shown = {"loss": f"{log['loss']['train']:.4f}"}
                if "validate" in log["error"]:
                    shown["val_err"] = f"{log['error']['validate']:.3f}"
                bar.set_postfix(shown)
        if self.logger is not None:
            self.logger.end(self.parameters())
        return self.epoch_log

    def test(self, dataset: Dataset, save_predictions: bool = False) -> dict:
        """``{"loss": ..., "error": ...}`` on ``dataset.test`` (the handout's test log; loss and
        error of the whole split). With ``save_predictions`` the log also holds the
        predictions (n, k), and all three are saved to the logger's run folder as
        ``test_predictions.npz``."""
        if dataset.test is None:
            raise ValueError("the dataset has no test split: give test_set and test_labels")
        out, loss = self.predict(dataset.test.data, dataset.test.labels)
        log = {"loss": loss, "error": self.error(dataset.test.labels, out)}
        if save_predictions:
            log["prediction"] = out
            self._require_logger("save_predictions").write_arrays("test_predictions.npz", log)
        return log

    def save_parameters(self, epoch) -> str:
        """Save every parameter (``W0``, ``b0``, ...) to ``parameters_epoch{epoch}.npz`` in the
        logger's run folder; returns its path."""
        name = f"parameters_epoch{epoch}.npz"
        return self._require_logger("save_parameters").write_arrays(name, self.parameters())

    def _require_logger(self, what: str):
        if self.logger is None:
            raise ValueError(f"{what} writes to the run's folder: build the model with a Logger")
        return self.logger


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
