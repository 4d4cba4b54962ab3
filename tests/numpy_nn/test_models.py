"""The network end to end: backward against torch, training, seeding and the handout's flaws."""

import numpy as np
import pytest
import torch

from numpy_nn.datasets import initialize_dataset
from numpy_nn.experiment import DEFAULTS
from numpy_nn.logs import Logger
from numpy_nn.models import initialize_model
from numpy_nn.utils import AttrDict
from train_ffnn import setup

LAYERS = [
    {"name": "fully_connected", "n_out": 8, "activation": "tanh"},
    {"name": "fully_connected", "activation": "softmax"},
]


def _model(seed=0, **opt):
    return initialize_model(
        "feed_forward", "cross_entropy", LAYERS, {"name": "sgd", "lr": 0.1, **opt}, seed=seed
    )


def test_backward_matches_torch_for_the_whole_network(rng):
    model = _model()
    model._initialize_layers(out_dim=3)
    X, labels = rng.normal(size=(7, 4)), rng.integers(3, size=7)
    Y = np.eye(3)[labels]
    loss = model.backward(Y, model.forward(X))
    params = [torch.tensor(p, requires_grad=True) for p in model.parameters().values()]
    W0, b0, W1, b1 = params
    logits = torch.tanh(torch.tensor(X) @ W0 + b0) @ W1 + b1
    t = torch.nn.functional.cross_entropy(logits, torch.tensor(labels))
    t.backward()
    np.testing.assert_allclose(loss, t.item(), rtol=1e-12)
    grads = [g for layer in model.layers for g in layer.gradients.values()]
    for ours, p in zip(grads, params):
        np.testing.assert_allclose(ours, p.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_backward_skips_the_datas_gradient_in_the_first_layer(rng):
    """Nothing needs dL/dX of the data; every other layer still hands its dL/dX on."""
    model = _model()
    model._initialize_layers(out_dim=3)
    asked = []
    for layer in model.layers:
        real = layer.backward

        def spy(grad, real=real, **kwargs):
            asked.append(kwargs.get("input_gradient", True))
            return real(grad, **kwargs)

        layer.backward = spy
    X, Y = rng.normal(size=(7, 4)), np.eye(3)[rng.integers(3, size=7)]
    model.backward(Y, model.forward(X))
    assert asked == [True, False]  # last layer first


def test_default_run_reaches_the_target_test_error():
    model, data, _ = setup(DEFAULTS)
    model.train(data, DEFAULTS.epochs)
    error = model.test(data)["error"]
    assert error <= 0.1, f"test error {error:.3f}"  # the course's split: 3 of 30 flowers


def test_training_twice_continues_with_one_output_layer():
    model = _model()
    data = initialize_dataset("iris", batch_size=16, seed=0)
    model.train(data, 2)
    first = model.layers[-1]
    model.train(data, 2)
    assert len(model.layers) == 2 and model.layers[-1] is first
    assert len(model.epoch_log["loss"]["train"]) == 4


def test_same_seed_same_numbers_different_seed_different_numbers():
    def curve(seed):
        model, data, _ = setup(DEFAULTS.__class__(seed=seed, epochs=5))
        return model.train(data, 5)["loss"]["train"]

    assert curve(1) == curve(1)
    assert curve(1) != curve(2)


def test_predict_and_error():
    model = _model()
    data = initialize_dataset("iris", batch_size=16, seed=0)
    model.train(data, 1)
    Y_hat, loss = model.predict(data.test.data, data.test.labels)
    assert Y_hat.shape == (30, 3) and np.isfinite(loss)
    np.testing.assert_allclose(Y_hat.sum(axis=1), 1.0)
    assert model.error(np.eye(3), np.eye(3)) == 0.0
    assert model.error(np.eye(3), np.eye(3)[[1, 2, 0]]) == 1.0


def test_nan_loss_stops_with_the_step():
    layers = [
        {"name": "fully_connected", "n_out": 8, "activation": "linear"},
        {"name": "fully_connected", "activation": "linear"},
    ]
    model = initialize_model("feed_forward", "l2", layers, {"name": "sgd", "lr": 1e10}, seed=0)
    data = initialize_dataset("iris", batch_size=16, seed=0)
    with pytest.raises(FloatingPointError, match=r"loss became .* at epoch \d+, step \d+"):
        with np.errstate(all="ignore"):
            model.train(data, 5)


def test_bad_input():
    model = _model()
    model._initialize_layers(out_dim=3)
    with pytest.raises(ValueError, match="NaN"):
        model.forward(np.full((2, 4), np.nan))
    with pytest.raises(ValueError, match="non-positive|positive number"):
        _model(lr=-1.0)
    with pytest.raises(ValueError, match="unknown optimizer"):
        initialize_model("feed_forward", "cross_entropy", LAYERS, {"name": "bogus", "lr": 0.1})
    with pytest.raises(ValueError, match="unknown loss"):
        initialize_model("feed_forward", "hinge", LAYERS, {"name": "sgd", "lr": 0.1})


def _handout_model(seed=None, **schedule):
    """A network built the handout's way: AttrDict layer_args through initialize_model."""
    layer_args = [
        AttrDict(
            {
                "name": "fully_connected",
                "activation": "relu",
                "weight_init": "xavier_uniform",
                "n_out": 25,
            }
        ),
        AttrDict(
            {
                "name": "fully_connected",
                "activation": "softmax",
                "weight_init": "xavier_uniform",
                "n_out": None,
            }
        ),  # n_out: from the dataset
    ]
    optimizer_args = AttrDict(
        {
            "name": "SGD",
            "lr": 0.05,
            "lr_decay": 0.99,
            "stage_length": 1000,
            "staircase": True,
            "clip_norm": None,
            "momentum": 0.9,
            **schedule,
        }
    )
    model_args = AttrDict(
        {
            "name": "feed_forward",
            "loss": "cross_entropy",
            "layer_args": layer_args,
            "optimizer_args": optimizer_args,
            "seed": seed,
        }
    )
    return initialize_model(
        name=model_args.name,
        loss=model_args.loss,
        layer_args=model_args.layer_args,
        optimizer_args=model_args.optimizer_args,
        seed=model_args.seed,
    )


def test_handout_way_with_a_constant_schedule_is_todays_default_run():
    model, data, _ = setup(DEFAULTS)
    model.train(data, DEFAULTS.epochs)
    ours = model.test(data)
    handout = _handout_model(seed=0, lr_scheduler="constant")
    handout.train(initialize_dataset("iris", batch_size=16, seed=0), epochs=100)
    theirs = handout.test(initialize_dataset("iris", batch_size=16, seed=0))
    assert theirs == ours and ours["error"] == pytest.approx(3 / 30)  # 3 of 30 flowers wrong


def test_handout_way_with_an_exponential_schedule():
    model = _handout_model(seed=0, lr_scheduler="exponential", lr_decay=0.5, stage_length=50)
    data = initialize_dataset("iris", batch_size=16, seed=0)
    model.train(data, epochs=100)
    assert model.optimizer.learning_rate(99) == pytest.approx(0.025)  # halved after 50 epochs
    assert model.test(data)["error"] <= 0.1


def test_handout_script_seeds_everything_with_np_random_seed():
    """The handout's train_ffnn.py calls np.random.seed(seed) and passes no other seed."""

    def once():
        np.random.seed(3)  # noqa: NPY002
        model = _handout_model(lr_scheduler="constant")
        data = initialize_dataset(name="iris", batch_size=16)
        model.train(data, epochs=30)
        return model.test(data)

    first = once()
    assert once() == first and first["error"] <= 0.1


def test_test_with_predictions_and_save_parameters_write_to_the_run_folder(tmp_path):
    logger = Logger("run", {}, {}, save_dir=str(tmp_path))
    model = _model()
    model.logger = logger
    data = initialize_dataset("iris", batch_size=16, seed=0)
    model.train(data, 2)
    log = model.test(data, save_predictions=True)
    assert set(log) == {"loss", "error", "prediction"} and log["prediction"].shape == (30, 3)
    saved = np.load(tmp_path / "run" / "test_predictions.npz", allow_pickle=False)
    np.testing.assert_array_equal(saved["prediction"], log["prediction"])
    path = model.save_parameters(2)
    assert path.endswith("parameters_epoch2.npz")
    assert set(np.load(path, allow_pickle=False)) == {"W0", "b0", "W1", "b1"}
    model.logger = None
    with pytest.raises(ValueError, match="save_parameters writes to the run's folder"):
        model.save_parameters(3)
