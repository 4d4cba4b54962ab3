"""Run logging: hyperparameters (JSON), per-epoch curves, learned parameters (.npz), plots (PNG).

A run lives in ``save_dir/model_name/``:
    hyperparameters.json   model_args and data_args
    log.json               per-epoch loss and error, train and validation
    parameters.npz         the learned arrays (W0, b0, W1, ...)
    parameters_epochN.npz  the same, saved by the model's save_parameters(N)
    test_predictions.npz   the test split's predictions, loss and error (test(save_predictions=True))
    results.json           final figures (written by the caller via save_results)
    loss.png, error.png    train and validation curves
Every file is written to a temporary name first and renamed, so no half-written file is left.
These small writers are numpy_nn's own, beside ``plumbing/files.py``'s: numpy_nn ships alone to
students (as ``neural_networks``) and imports nothing of the project's.
"""

import json
import os
import tempfile


def atomic_write(path: str, write) -> None:
    """Call ``write(tmp_path)`` then rename tmp_path to ``path`` (same directory, so it is atomic)."""
    directory = os.path.dirname(os.path.abspath(path))
    suffix = os.path.splitext(path)[1]  # keep the extension: np.savez and savefig look at it
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=suffix)
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the usual permissions
        os.replace(tmp, path)
    except BaseException as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        if isinstance(e, OSError) and e.filename is None:  # a full disk: say which file
            raise OSError(e.errno, e.strerror, path) from e
        raise


def write_json(path: str, obj) -> None:
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2, default=str)
            f.write("\n")

    atomic_write(path, write)


def plot_curves(path: str, curves: dict, ylabel: str, title: str | None = None) -> None:
    """One PNG with a line per entry of ``curves`` ({label: per-epoch values}); the arguments of
    ``lightning_hw.io.plot_curves``, whose own copy lets numpy_nn stand alone."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for label, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=120))
    plt.close(fig)


class Logger:
    """Collects per-epoch logs from ``NeuralNetwork.train`` and saves/plots them."""

    def __init__(
        self,
        model_name: str,
        model_args: dict,
        data_args: dict,
        save: bool = False,
        plot: bool = False,
        save_dir: str = "experiments/",
    ):
        self.model_name = model_name
        self.model_args, self.data_args = model_args, data_args
        self.save, self.plot = save, plot
        self.save_dir = os.path.join(save_dir, model_name)
        self.log = {"loss": {"train": [], "validate": []}, "error": {"train": [], "validate": []}}
        self.counter = 0
        if save or plot:
            os.makedirs(self.save_dir, exist_ok=True)
        if save:
            write_json(
                os.path.join(self.save_dir, "hyperparameters.json"),
                {"model_args": model_args, "data_args": data_args},
            )

    def push(self, log: dict) -> None:
        """Append one epoch's ``{"loss": {"train", "validate"}, "error": {...}}``."""
        for kind, splits in log.items():
            for split, value in splits.items():
                self.log[kind][split].append(float(value))
        self.counter += 1
        if self.save:
            write_json(os.path.join(self.save_dir, "log.json"), self.log)

    def end(self, parameters: dict) -> None:
        """At the end of training: save the learned parameters and draw the plots."""
        self.save_parameters(parameters)
        if self.plot:
            self.plot_curves()

    def plot_curves(self) -> None:
        """loss.png and error.png, each with the train and validation curves."""
        for kind in ("loss", "error"):
            plot_curves(
                os.path.join(self.save_dir, f"{kind}.png"),
                {"train": self.log[kind]["train"], "validation": self.log[kind]["validate"]},
                kind,
                title=f"{self.model_name}: {kind}",
            )

    def save_parameters(self, parameters: dict) -> None:
        """The learned arrays as ``parameters.npz`` (keys W0, b0, ...), when saving."""
        if self.save:
            self.write_arrays("parameters.npz", parameters)

    def write_arrays(self, filename: str, arrays: dict) -> str:
        """``arrays`` (name: array) as ``filename`` (.npz) in the run folder; returns its path."""
        import numpy as np

        os.makedirs(self.save_dir, exist_ok=True)
        path = os.path.join(self.save_dir, filename)
        atomic_write(path, lambda tmp: np.savez(tmp, **arrays))
        return path

    def save_results(self, results: dict) -> None:
        """Final figures as ``results.json``."""
        if self.save:
            write_json(os.path.join(self.save_dir, "results.json"), results)
