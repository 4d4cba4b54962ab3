"""Train the two-layer network on Iris, written the handout's way: AttrDicts of layer, optimizer,
model, data and log arguments, then Logger, initialize_model, initialize_dataset, model.train and
model.test.

    python train_ffnn.py                       # defaults from numpy_nn/experiment.py (DEFAULTS)
    python train_ffnn.py --lr 0.1 --hidden 50 --activation tanh
    python train_ffnn.py --sweep               # ours: lr {0.001, 0.01, 0.1} x hidden {5, 25, 100}

Each run is saved to experiments/<model name>/ (hyperparameters.json, log.json, results.json,
parameters.npz, loss.png, error.png); the sweep writes experiments/sweep/results.md and loss.png.
This file is the one Iris run: its command line, the sweep, `train.py compare`, the report and
the benchmarks all call ``train``.
"""

import sys
import time

import numpy as np

from numpy_nn import experiment
from numpy_nn.datasets import initialize_dataset
from numpy_nn.logs import Logger
from numpy_nn.models import initialize_model
from numpy_nn.utils import AttrDict


def setup(
    options: experiment.Options = experiment.DEFAULTS,
    save_dir: str = "experiments",
    save: bool = False,
):
    """Steps 1-6 of the handout's script: (model, dataset, logger) for ``options``; with
    ``save``, the logger saves and plots the run under ``save_dir``/<model name>/."""
    options.validate()

    # Step 1: one AttrDict per layer. n_out of the last layer is set by the dataset (3 classes).
    layer_1 = AttrDict(
        {
            "name": "fully_connected",
            "activation": options.activation,
            "weight_init": options.weight_init,
            "n_out": options.hidden,
        }
    )
    layer_out = AttrDict(
        {
            "name": "fully_connected",
            "activation": "softmax",
            "weight_init": options.weight_init,
            "n_out": None,
        }
    )

    # Step 2: the layers, in order.
    layer_args = [layer_1, layer_out]

    # Step 3: the optimizer, model, data and log arguments.
    optimizer_args = AttrDict(
        {
            "name": "SGD" if options.optimizer == "sgd" else options.optimizer,
            "lr": options.lr,
            "lr_scheduler": "constant",
            "lr_decay": None,
            "stage_length": None,
            "staircase": None,
            "clip_norm": None,
            "momentum": options.momentum if options.optimizer == "sgd" else None,
        }
    )
    model_args = AttrDict(
        {
            "name": "feed_forward",
            "loss": "cross_entropy",
            "layer_args": layer_args,
            "optimizer_args": optimizer_args,
            "seed": options.seed,
        }
    )
    data_args = AttrDict({"name": "iris", "batch_size": options.batch_size})
    log_args = AttrDict({"save": save, "plot": save, "save_dir": save_dir})

    # Step 4: the random seed (numpy_nn also takes it as the model's and the dataset's seed).
    np.random.seed(model_args.seed)  # noqa: NPY002 (the handout's global seed)

    # Step 5: the model's name, its folder under save_dir.
    model_name = options.run_name

    # Step 6: the logger, the model and the dataset.
    logger = Logger(
        model_name=model_name,
        model_args=model_args,
        data_args=data_args,
        save=log_args.save,
        plot=log_args.plot,
        save_dir=log_args.save_dir,
    )
    model = initialize_model(
        name=model_args.name,
        loss=model_args.loss,
        layer_args=model_args.layer_args,
        optimizer_args=model_args.optimizer_args,
        logger=logger,
        seed=model_args.seed,
    )
    dataset = initialize_dataset(
        name=data_args.name, batch_size=data_args.batch_size, seed=model_args.seed
    )
    return model, dataset, logger


def train(
    options: experiment.Options = experiment.DEFAULTS,
    save_dir: str = "experiments",
    progress: bool = False,
) -> dict:
    """The handout's script: Steps 1-6 (``setup``), then Step 7. Returns the run's results
    (``numpy_nn.experiment.summarize``) and ``run_dir``, where it was saved."""
    model, dataset, logger = setup(options, save_dir, save=True)

    # Step 7: train, then test.
    start = time.perf_counter()
    log = model.train(dataset, epochs=options.epochs, progress=progress)
    seconds = time.perf_counter() - start
    test_log = model.test(dataset)  # {"loss": ..., "error": ...}
    results = experiment.summarize(model, dataset, log, seconds, options, test_log)
    logger.save_results(results)
    results["run_dir"] = logger.save_dir
    return results


if __name__ == "__main__":
    from commands.ffnn import main  # the command line and its error policy

    sys.exit(main())
