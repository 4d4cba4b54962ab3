"""What runs in the sandbox: one graded piece's student code, on the inputs the grader chose.

    python -I child.py request.json inputs.npz outputs.npz

It imports only numpy and the student's ``neural_networks`` (the folder beside it, in a fresh
temporary copy). It computes what the student's code gives — forward and backward, and a
central-difference gradient of the student's own forward — and writes plain arrays; the grader
compares them with the reference in its own process, so nothing done here (a patched numpy, a
printed verdict) can change a score. Any exception, ``sys.exit`` included, is written as the
piece's one-line reason.
"""

import importlib
import json
import os
import sys

import numpy as np

H = 1e-6  # the central-difference step (float64 inputs)


def numerical(f, x: np.ndarray, upstream: np.ndarray) -> np.ndarray:
    """d sum(f(x) * upstream) / dx by central differences, one entry at a time."""
    grad = np.zeros_like(x)
    flat, g = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + H
        up = np.sum(np.asarray(f(x), dtype=np.float64) * upstream)
        flat[i] = keep - H
        down = np.sum(np.asarray(f(x), dtype=np.float64) * upstream)
        flat[i] = keep
        g[i] = (up - down) / (2 * H)
    return grad


def activation(req: dict, a: dict) -> dict:
    cls = getattr(importlib.import_module("neural_networks.activations"), req["cls"])
    act = cls()
    Z, dY = a["Z"], a["dY"]
    out = {"Y": act.forward(Z.copy()), "dZ": act.backward(Z.copy(), dY)}
    if "Zsmall" in a:  # the gradient check
        out["num_dZ"] = numerical(act.forward, a["Zsmall"].copy(), a["dYsmall"])
        out["ana_dZ"] = act.backward(a["Zsmall"].copy(), a["dYsmall"])
    return out


def _layer(req: dict, X: np.ndarray, params: dict):
    layers = importlib.import_module("neural_networks.layers")
    layer = getattr(layers, req["cls"])(**req.get("config", {}))
    layer.forward(X.copy())  # builds the parameters
    for name, value in params.items():
        layer.parameters[name] = value.copy()
    return layer


def layer(req: dict, a: dict) -> dict:
    params = {k[len("param_") :]: v for k, v in a.items() if k.startswith("param_")}
    lay = _layer(req, a["X"], params)
    out = {"Y": lay.forward(a["X"].copy())}
    out["dX"] = lay.backward(a["dY"].copy())
    out.update({f"d{k}": lay.gradients[k] for k in params})
    if "Xsmall" in a:
        small = {k[len("small_") :]: v for k, v in a.items() if k.startswith("small_")}
        lay = _layer(req, a["Xsmall"], small)
        out["ana_dX"] = (lay.forward(a["Xsmall"].copy()), lay.backward(a["dYsmall"].copy()))[1]
        out["num_dX"] = numerical(lambda x: lay.forward(x), a["Xsmall"].copy(), a["dYsmall"])
    return out


def loss(req: dict, a: dict) -> dict:
    cls = getattr(importlib.import_module("neural_networks.losses"), req["cls"])
    fn = cls(req["name"])
    Y, Yh = a["Y"], a["Y_hat"]
    out = {
        "loss": np.asarray(fn.forward(Y, Yh.copy()), dtype=np.float64),
        "grad": fn.backward(Y, Yh.copy()),
    }
    if "Y_hat_small" in a:  # the gradient check
        Ys = a["Y_small"]
        out["num_grad"] = numerical(
            lambda y: fn.forward(Ys, y), a["Y_hat_small"].copy(), np.ones(())
        )
        out["ana_grad"] = fn.backward(Ys, a["Y_hat_small"].copy())
    return out


def network(req: dict, a: dict) -> dict:
    """The handout's NeuralNetwork: forward, the loss, backward, every layer's gradients."""
    models = importlib.import_module("neural_networks.models")
    utils = importlib.import_module("neural_networks.utils")
    layer_args = [utils.AttrDict(x) for x in req["layer_args"]]
    net = models.NeuralNetwork(loss="cross_entropy", layer_args=layer_args,
                               optimizer_args=utils.AttrDict(req["optimizer_args"]), seed=0)  # fmt: skip
    out = net.forward(a["X"].copy())
    for i, lay in enumerate(net.layers):
        for name in lay.parameters:
            lay.parameters[name] = a[f"p{i}_{name}"].copy()
    result = {"out": net.forward(a["X"].copy())}
    result["loss"] = np.asarray(net.backward(a["Y"], result["out"]), dtype=np.float64)
    for i, lay in enumerate(net.layers):
        for name, grad in lay.gradients.items():
            result[f"d{i}_{name}"] = grad
    del out
    return result


def iris(req: dict, a: dict) -> dict:
    """The handout's train_ffnn.py hyperparameters on Iris: the test error."""
    models = importlib.import_module("neural_networks.models")
    datasets = importlib.import_module("neural_networks.datasets")
    utils = importlib.import_module("neural_networks.utils")
    np.random.seed(req["seed"])  # noqa: NPY002 - the handout's script seeds the global state
    layer_args = [utils.AttrDict(x) for x in req["layer_args"]]
    net = models.initialize_model(name="feed_forward", loss="cross_entropy", layer_args=layer_args,
                                  optimizer_args=utils.AttrDict(req["optimizer_args"]), seed=req["seed"])  # fmt: skip
    dataset = datasets.initialize_dataset(name="iris", batch_size=req["batch_size"])
    net.train(dataset, epochs=req["epochs"])
    X, Y = dataset.test.data, dataset.test.labels
    out = net.forward(X)
    error = float(np.mean(np.argmax(out, axis=1) != np.argmax(Y, axis=1)))
    return {"test_error": np.asarray(error)}


KINDS = {"activation": activation, "layer": layer, "loss": loss, "network": network, "iris": iris}


def main() -> None:
    sys.path.insert(
        0, os.path.dirname(os.path.abspath(__file__))
    )  # -I leaves it out: the copy beside
    request_path, inputs_path, outputs_path = sys.argv[1:4]
    with open(request_path) as f:
        req = json.load(f)
    with np.load(inputs_path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    try:
        out = {}
        for case in req.get("cases", [""]):  # each case's arrays are named "<case><name>"
            mine = {k[len(case) :]: v for k, v in arrays.items() if k.startswith(case)}
            config = req.get("configs", {}).get(case, req.get("config", {}))
            got = KINDS[req["kind"]]({**req, "config": config}, mine)
            out.update({case + k: np.asarray(v, dtype=np.float64) for k, v in got.items()})
        np.savez(outputs_path, **out)
    except BaseException as e:  # noqa: BLE001 - sys.exit and KeyboardInterrupt are the student's too
        what = "called sys.exit" if isinstance(e, SystemExit) else type(e).__name__
        line = (str(e).splitlines() or [""])[0][:200]
        np.savez(outputs_path, error=np.asarray(f"{what}: {line}".rstrip(": ")))


if __name__ == "__main__":
    main()
