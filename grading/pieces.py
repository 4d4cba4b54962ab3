"""The graded pieces: what each one runs in the sandbox and how its result is judged.

Every implementation piece is checked three ways: the course's fixtures (computed by PyTorch;
``tests/course``, as the course's tests compare them, to 4 decimals), random batched float64
inputs against the reference (numpy_nn, run here in the grader's process), and a
central-difference gradient check of the student's own backward on a small batch. A piece
passes when every comparison is within its tolerance; its result names the largest error and
the shapes it was tried on. Points are all or nothing per piece (``grading/config.yaml``).
"""

import importlib.util
import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
COURSE = next(p for p in (HERE / "course", HERE.parent / "tests" / "course") if p.is_dir())
FIXTURE_DIR = COURSE / "data" if (COURSE / "data").is_dir() else COURSE / "fixtures"
TOLERANCE = 1e-6  # random float64 inputs against the reference, and the gradient check
FIXTURE_DECIMAL = 4  # the course's assert_almost_equal


def _cases():
    spec = importlib.util.spec_from_file_location("course_cases", COURSE / "cases.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CASES = _cases()


@dataclass
class Result:
    name: str
    points: float
    max_points: float
    passed: bool
    output: str  # the one line a student reads
    max_error: float = float("nan")
    shapes: list = field(default_factory=list)


def relative_error(actual, expected) -> float:
    """max |a - e| / max(1, max |e|); inf for a wrong shape or a non-finite value."""
    a, e = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        if a.size != e.size:
            return float("inf")
        a = a.reshape(e.shape)  # a bias gradient (n,) for (1, n)
    if not np.all(np.isfinite(a)):
        return float("inf")
    return float(
        np.max(np.abs(a - e), initial=0.0) / max(1.0, float(np.max(np.abs(e), initial=0.0)))
    )


def gradcheck_error(numerical, analytic) -> float:
    """||num - ana|| / ||num + ana|| (utils.check_gradients' measure); inf when malformed."""
    n, a = np.asarray(numerical, dtype=np.float64), np.asarray(analytic, dtype=np.float64)
    if n.shape != a.shape or not np.all(np.isfinite(a)):
        return float("inf")
    denominator = np.linalg.norm(n + a)
    return float(np.linalg.norm(n - a) / denominator) if denominator > 0 else 0.0


class Check:
    """Collects comparisons: the worst error against each tolerance, and what was compared."""

    def __init__(self):
        self.worst, self.failures, self.shapes = 0.0, [], []

    def compare(self, what: str, actual, expected, tolerance: float, shape) -> None:
        error = relative_error(actual, expected)
        self._record(what, error, tolerance, shape, np.shape(actual), np.shape(expected))

    def gradient(self, what: str, numerical, analytic, shape) -> None:
        error = gradcheck_error(numerical, analytic)
        self._record(what, error, TOLERANCE, shape, np.shape(analytic), np.shape(numerical))

    def _record(self, what, error, tolerance, shape, got, want) -> None:
        self.shapes.append(tuple(int(s) for s in shape))
        self.worst = max(self.worst, error)
        if not error <= tolerance:
            detail = (
                f"shape {got}, expected {want}" if got != want
                else "NaN or inf in the result" if error == float("inf") else f"error {error:.2e}"
            )  # fmt: skip
            self.failures.append(f"{what} on input {tuple(shape)}: {detail}")


def _fixture(test: str) -> dict:
    path = FIXTURE_DIR / f"{test}.npz"
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _case_configs(test: str) -> list[dict]:
    spec = CASES.LAYER_CASES[test]
    product = itertools.product(spec["LayerConfigs"], spec["BatchSizes"], spec["InputSizes"])
    return [dict(config) for config, _, _ in product]


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# -- activations -------------------------------------------------------------------------------
def activation_task(cls: str):
    """(request, inputs, expected): the fixture's cases, random (64, 37) and a small gradcheck."""
    import numpy_nn.activations as reference

    fixture, inputs, expected, cases = _fixture(f"Test{cls}"), {}, {}, []
    n = len({k.rstrip("abcdefghijklmnopqrstuvwxyz_") for k in fixture})
    for i in range(n):
        p = f"f{i}_"
        cases.append(p)
        inputs[p + "Z"], inputs[p + "dY"] = fixture[f"{i}input"][0], fixture[f"{i}upstream_grad"]
        expected[p + "Y"], expected[p + "dZ"] = fixture[f"{i}output"], fixture[f"{i}backward"]
    rng, act = _rng(), getattr(reference, cls)()
    Z, dY = rng.standard_normal((64, 37)), rng.standard_normal((64, 37))
    inputs.update(
        r_Z=Z, r_dY=dY, r_Zsmall=rng.standard_normal((6, 5)), r_dYsmall=rng.standard_normal((6, 5))
    )
    expected.update(r_Y=act.forward(Z.copy()), r_dZ=act.backward(Z.copy(), dY))
    # large inputs (|z| ~ 750, where exp overflows): a stable implementation stays finite
    big = np.where(rng.random((8, 10)) < 0.5, -1, 1) * (750 + 50 * rng.standard_normal((8, 10)))
    inputs.update(b_Z=big, b_dY=rng.standard_normal(big.shape))
    expected.update(b_Y=act.forward(big.copy()), b_dZ=act.backward(big.copy(), inputs["b_dY"]))
    return {"kind": "activation", "cls": cls, "cases": [*cases, "r_", "b_"]}, inputs, expected


def judge(expected: dict, got: dict, inputs: dict) -> Check:
    """Compare every expected array (fixtures to 4 decimals, random inputs to 1e-6) and every
    gradient check the child computed."""
    check = Check()
    for key, want in expected.items():
        case = key.split("_", 1)[0] + "_"
        tolerance = 1.5 * 10.0**-FIXTURE_DECIMAL if case.startswith("f") else TOLERANCE
        shape = next((v.shape for k, v in inputs.items() if k.startswith(case)), ())
        check.compare(key, got.get(key), want, tolerance, shape)
    for key in got:
        if key.split("_", 1)[-1].startswith("num_"):
            case, name = key.split("_", 1)[0] + "_", key.split("num_", 1)[1]
            small = next(
                (v.shape for k, v in inputs.items() if k.startswith(case) and "small" in k), ()
            )
            check.gradient(
                f"gradient check of d{name[1:] or name}",
                got[key],
                got.get(case + "ana_" + name),
                small,
            )
    return check


# -- layers ------------------------------------------------------------------------------------
LAYERS = {  # class: (params, random config and input, gradient-check config and input)
    "FullyConnected": (("W", "b"), ({"n_out": 37, "activation": "tanh"}, (64, 61)),
                       ({"n_out": 3, "activation": "tanh"}, (4, 5))),
    "Conv2D": (("W", "b"), ({"n_out": 6, "kernel_shape": (3, 3), "activation": "relu", "stride": 2},
                            (4, 9, 9, 3)),
               ({"n_out": 2, "kernel_shape": (3, 3), "activation": "tanh", "pad": "same"}, (2, 4, 4, 2))),
    "Pool2D": ((), ({"kernel_shape": (2, 2), "mode": "max", "stride": 2}, (4, 8, 8, 3)),
               ({"kernel_shape": (2, 2), "mode": "average", "stride": 1}, (2, 4, 4, 2))),
    "BatchNorm1D": (("gamma", "beta"), ({"momentum": 0.9, "eps": 1e-5}, (32, 7)),
                    ({"momentum": 0.9, "eps": 1e-5}, (6, 4))),
}  # fmt: skip


def _reference_layer(cls: str, config: dict, X: np.ndarray, rng):
    """numpy_nn's layer, built on X, with random parameters of its shapes."""
    import numpy_nn.layers as reference

    layer = getattr(reference, cls)(**config)
    layer.forward(X.copy())
    params = {k: rng.standard_normal(v.shape) * 0.5 for k, v in layer.parameters.items()}
    for k, v in params.items():
        layer.parameters[k] = v.copy()
    return layer, params


def layer_task(cls: str):
    params, (config, shape), (small_config, small_shape) = LAYERS[cls]
    fixture, inputs, expected, configs = _fixture(f"Test{cls}"), {}, {}, {}
    for i, case_config in enumerate(_case_configs(f"Test{cls}")):
        p = f"f{i}_"
        configs[p] = case_config
        inputs[p + "X"], inputs[p + "dY"] = fixture[f"{i}input"][0], fixture[f"{i}upstream_grad"]
        inputs.update({f"{p}param_{k}": fixture[f"{i}{k}"] for k in params})
        expected.update({p + "Y": fixture[f"{i}output"], p + "dX": fixture[f"{i}backward"]})
        expected.update({f"{p}d{k}": fixture[f"{i}d{k}"] for k in params})
    rng = _rng()
    X = rng.standard_normal(shape)
    ref, values = _reference_layer(cls, config, X, rng)
    Y = ref.forward(X.copy())
    dY = rng.standard_normal(Y.shape)
    expected.update({"r_Y": Y, "r_dX": ref.backward(dY.copy())})
    expected.update({f"r_d{k}": ref.gradients[k] for k in params})
    inputs.update({"r_X": X, "r_dY": dY, **{f"r_param_{k}": v for k, v in values.items()}})
    small = rng.standard_normal(small_shape)
    small_ref, small_values = _reference_layer(cls, small_config, small, rng)
    inputs.update(
        {"g_X": small, "g_Xsmall": small, "g_dY": np.ones(small_ref.forward(small).shape)}
    )
    inputs["g_dYsmall"] = rng.standard_normal(inputs["g_dY"].shape)
    inputs.update({f"g_small_{k}": v for k, v in small_values.items()})
    inputs.update({f"g_param_{k}": v for k, v in small_values.items()})
    configs.update({"r_": config, "g_": small_config})
    request = {"kind": "layer", "cls": cls, "configs": configs, "cases": [*configs]}
    return request, inputs, expected


# -- the loss and the network -----------------------------------------------------------------
def _one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    return np.eye(k)[labels]


def loss_task(cls: str = "CrossEntropy"):
    import numpy_nn.losses as reference

    fixture, inputs, expected = _fixture(f"Test{cls}"), {}, {}
    n = len({k.rstrip("abcdefghijklmnopqrstuvwxyz_") for k in fixture})
    for i in range(n):
        p = f"f{i}_"
        inputs[p + "Y"], inputs[p + "Y_hat"] = fixture[f"{i}input"][0], fixture[f"{i}input"][1]
        expected[p + "loss"], expected[p + "grad"] = fixture[f"{i}output"], fixture[f"{i}backward"]
    rng, name = _rng(), "cross_entropy" if cls == "CrossEntropy" else "l2"
    ref = getattr(reference, cls)(name)
    logits = rng.standard_normal((32, 10))
    Y, Yh = (
        _one_hot(rng.integers(0, 10, 32), 10),
        np.exp(logits) / np.exp(logits).sum(1, keepdims=True),
    )
    small = np.exp(logits[:4, :3]) / np.exp(logits[:4, :3]).sum(1, keepdims=True)
    inputs.update(
        r_Y=Y, r_Y_hat=Yh, r_Y_small=_one_hot(np.array([0, 2, 1, 2]), 3), r_Y_hat_small=small
    )
    expected.update(r_loss=np.asarray(ref.forward(Y, Yh.copy())), r_grad=ref.backward(Y, Yh.copy()))
    request = {
        "kind": "loss",
        "cls": cls,
        "name": name,
        "cases": [*(f"f{i}_" for i in range(n)), "r_"],
    }
    return request, inputs, expected


NETWORK = [
    {"name": "fully_connected", "activation": "relu", "weight_init": "xavier_uniform", "n_out": 8},
    {
        "name": "fully_connected",
        "activation": "softmax",
        "weight_init": "xavier_uniform",
        "n_out": 3,
    },
]
OPTIMIZER = {"name": "SGD", "lr": 0.01, "lr_scheduler": "constant", "lr_decay": None,
             "stage_length": None, "staircase": None, "clip_norm": None, "momentum": 0.9}  # fmt: skip


def network_task():
    """NeuralNetwork.forward and .backward: the output, the loss and every gradient."""
    from numpy_nn.models import NeuralNetwork
    from numpy_nn.utils import AttrDict

    rng = _rng()
    X, Y = rng.standard_normal((16, 4)), _one_hot(rng.integers(0, 3, 16), 3)
    net = NeuralNetwork(
        "cross_entropy", [AttrDict(a) for a in NETWORK], AttrDict(OPTIMIZER), seed=0
    )
    net.forward(X)
    inputs = {"r_X": X, "r_Y": Y}
    for i, layer in enumerate(net.layers):
        for name, value in layer.parameters.items():
            inputs[f"r_p{i}_{name}"] = layer.parameters[name] = (
                rng.standard_normal(value.shape) * 0.5
            )
    out = net.forward(X)
    expected = {"out": out, "loss": np.asarray(net.backward(Y, out))}
    for i, layer in enumerate(net.layers):
        expected.update({f"d{i}_{k}": v for k, v in layer.gradients.items()})
    request = {
        "kind": "network",
        "layer_args": NETWORK,
        "optimizer_args": OPTIMIZER,
        "cases": ["r_"],
    }
    return request, inputs, {f"r_{k}": v for k, v in expected.items()}


def iris_task():
    from numpy_nn.experiment import DEFAULTS, handout_args

    model_args, data_args = handout_args(DEFAULTS)
    request = {"kind": "iris", "layer_args": [dict(a) for a in model_args.layer_args],
               "optimizer_args": dict(model_args.optimizer_args), "seed": DEFAULTS.seed,
               "batch_size": data_args.batch_size, "epochs": DEFAULTS.epochs}  # fmt: skip
    return request, {"unused": np.zeros(1)}, {}
