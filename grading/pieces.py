"""The graded pieces: what each asks the student's code (a request and its inputs, which
``child.py`` runs in the sandbox) and what the reference, numpy_nn, run here, says it must give.

Every piece is checked on the course's fixtures (PyTorch's numbers, to 4 decimals, as the
course's tests compare them) and on random float64 batches against the reference (to 1e-4 of the largest value: the course's 4 decimals, so a student's epsilon in a logarithm passes),
chosen away from ties and kinks: no input of ReLU is 0, no two values in a pooling window are
equal. A comparison belongs to a sub-part (forward, dX, dW, ...), which has its own points
(``config.yaml``). Where the handouts leave a convention open, each accepted answer is listed
(``Compare.accept``); likely mistakes have their own words (``Compare.mistakes``).
"""

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grading.semesters import Semester

COURSE = Path(__file__).resolve().parent / "course"  # the course-format cases and fixtures
FIXTURE_DIR = COURSE / "fixtures"
TOLERANCE = 1e-4  # random float64 inputs against the reference, relative to max(1, max |expected|)
FIXTURE_TOLERANCE = 1.5e-4  # the course's assert_almost_equal(decimal=4), on values of order 1


@dataclass
class Compare:
    """One array the student's code must give."""

    part: str  # the sub-part it counts for
    key: str  # "<case>/<name>" among the child's arrays
    want: np.ndarray
    what: str  # in words: "dL/dZ for a batch of 64 x 37"
    fixture: bool = False  # the course's fixture: to 4 decimals
    accept: list = field(default_factory=list)  # (convention, array): also right
    mistakes: list = field(default_factory=list)  # (likely cause, array)
    inputs: str = ""  # the input's range, for a NaN or inf
    batch: int = 0  # the batch size m, to name a factor of m (0: want's first axis)


@dataclass
class Task:
    """One piece: the request for the sandbox, its inputs, and what must come back."""

    piece: str
    request: dict
    inputs: dict
    compares: list
    parts: tuple  # the sub-parts, in the order they are reported
    extra: dict = field(default_factory=dict)  # what a piece's own judge needs


def _fixture(test: str) -> dict:
    with np.load(FIXTURE_DIR / f"{test}.npz", allow_pickle=False) as z:
        return {k: z[k].astype(np.float64) for k in z.files}


def _cases():
    import importlib.util

    spec = importlib.util.spec_from_file_location("course_cases", COURSE / "cases.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CASES = _cases()


def _fixture_cases(test: str) -> list[tuple[int, dict]]:
    spec = CASES.spec_of(test)
    return [(i, dict(config)) for i, config, _, _ in CASES.cases(spec)]


def _rng(piece: str) -> np.random.Generator:
    import zlib

    return np.random.default_rng(zlib.crc32(piece.encode()))


def _size(shape) -> str:
    return " x ".join(str(s) for s in shape)


def _range(*arrays) -> str:
    return f"inputs in [{min(a.min() for a in arrays):.3g}, {max(a.max() for a in arrays):.3g}]"


# -- activations -------------------------------------------------------------------------------
REFERENCE_ACTIVATION = {"Identity": "Linear"}  # the old handout's name for it
FIXTURE_OF = {"Identity": "TestLinear"}


def _negative_first(rng, shape, scale=2.0) -> np.ndarray:
    """Normal values with the first one negative (np.vectorize infers its output type from it)."""
    Z = rng.standard_normal(shape) * scale
    Z.flat[0] = -abs(Z.flat[0]) - 0.5
    return Z


def _activation_mistakes(cls: str, act, Z, dY) -> tuple[list, list]:
    """(forward, backward): likely mistakes, each (its cause in words, what it gives)."""
    S = act.forward(Z.copy())
    backward = [
        ("did not multiply by the upstream gradient dY", act.backward(Z.copy(), np.ones_like(dY))),
        ("returned dY unchanged: the activation's derivative is missing", dY),
    ]
    forward = []
    if cls == "SoftMax":
        backward.append(
            ("used only the diagonal of the softmax Jacobian, dY s (1 - s)", dY * S * (1 - S))
        )
        E = np.exp(Z - Z.max())
        forward.append(("normalized over the batch (axis 0) instead of each row", E / E.sum(0)))
    return forward, backward


def activation_task(cls: str, semester: Semester) -> Task:
    import numpy_nn.activations as reference

    act = getattr(reference, REFERENCE_ACTIVATION.get(cls, cls))()
    fixture, inputs, compares, cases = _fixture(FIXTURE_OF.get(cls, f"Test{cls}")), {}, [], []
    for i, _ in _fixture_cases(FIXTURE_OF.get(cls, f"Test{cls}")):
        Z, dY = fixture[f"{i}input"][0], fixture[f"{i}upstream_grad"]
        cases.append(_activation_case(f"f{i}", cls, act, Z, dY, inputs, compares, fixture, i))
    rng = _rng(cls)
    for name, shape in (("r0", (64, 37)), ("r1", (1, 5)), ("r2", (17, 10))):
        Z, dY = _negative_first(rng, shape), rng.standard_normal(shape)
        cases.append(_activation_case(name, cls, act, Z, dY, inputs, compares))
    request = {"kind": "activation", "cls": cls, "cases": [{"name": c} for c in cases]}
    extra = {}
    if cls == "SoftMax":  # the handout hints at the stable form: said, not scored
        big = rng.standard_normal((8, 10)) * 50 + 750
        inputs["big/Z"], inputs["big/dY"] = big, rng.standard_normal(big.shape)
        request["cases"].append({"name": "big"})
        extra["stable"] = act.forward(big.copy())
    return Task(f"activations.{cls}", request, inputs, compares, ("forward", "backward"), extra)


def _activation_case(name, cls, act, Z, dY, inputs, compares, fixture=None, i=None) -> str:
    inputs[f"{name}/Z"], inputs[f"{name}/dY"] = Z, dY
    Y = fixture[f"{i}output"] if fixture else act.forward(Z.copy())
    dZ = fixture[f"{i}backward"] if fixture else act.backward(Z.copy(), dY.copy())
    forward, backward = _activation_mistakes(cls, act, Z, dY)
    compares.append(
        Compare(
            "forward",
            f"{name}/Y",
            Y,
            f"{cls}.forward for a batch of {_size(Z.shape)}",
            fixture is not None,
            mistakes=forward,
            inputs=_range(Z),
        )
    )
    compares.append(
        Compare(
            "backward",
            f"{name}/dZ",
            dZ,
            f"{cls}.backward: dL/dZ for a batch of {_size(Z.shape)}",
            fixture is not None,
            mistakes=backward,
            inputs=_range(Z),
        )
    )
    return name


# -- layers ------------------------------------------------------------------------------------
def _replay_inputs(prefix: str, steps: list) -> dict:
    """The calls a correct layer makes to its activation: (Z, Y, dY, dZ) of each step."""
    out = {}
    for t, step in enumerate(steps):
        for n, v in zip(("Z", "Y", "dY", "dZ"), step):
            out[f"{prefix}/act_{n}_{t:03d}"] = np.asarray(v, dtype=np.float64)
    return out


def _weighted(cls: str, case: str, config: dict, X, params, dY, compares, inputs, fixture=None):
    """A FullyConnected or Conv2D case: the reference's output and gradients (or the fixture's),
    and the replayed activation."""
    import numpy_nn.activations as acts
    import numpy_nn.layers as reference

    linear = getattr(reference, cls)(**{**config, "activation": "linear"})
    linear.forward(X.copy())
    for k, v in params.items():
        linear.parameters[k] = v.copy()
    Z = linear.forward(X.copy())
    act = acts.initialize_activation(config["activation"])
    Y, dZ = act.forward(Z.copy()), act.backward(Z.copy(), dY.copy())
    dX = linear.backward(dZ.copy())
    grads = {k: linear.gradients[k] for k in params}
    if fixture is not None:
        i = int(case[1:])
        Y, dX = fixture[f"{i}output"], fixture[f"{i}backward"]
        grads = {k: fixture[f"{i}d{k}"] for k in params}
    inputs.update({f"{case}/X": X, f"{case}/dY": dY, f"{case}/n_in": np.asarray(X.shape[-1])})
    inputs.update({f"{case}/param_{k}": v for k, v in params.items()})
    inputs.update({f"{case}/cache_X": X, f"{case}/cache_Z": Z})
    inputs.update(_replay_inputs(case, [(Z, Y, dY, dZ)]))
    _layer_compares(cls, case, X, Y, dX, grads, compares, fixture is not None)


def _layer_compares(cls, case, X, Y, dX, grads, compares, fixture: bool) -> None:
    size, m = f"a batch of {_size(X.shape)}", X.shape[0]
    compares.append(
        Compare("forward", f"{case}/Y", Y, f"{cls}.forward for {size}", fixture, batch=m)
    )
    compares.append(
        Compare("dX", f"{case}/dX", dX, f"{cls}.backward: dL/dX for {size}", fixture, batch=m)
    )
    for k, g in grads.items():
        compares.append(
            Compare(
                f"d{k}",
                f"{case}/d{k}",
                g,
                f"{cls}.backward: gradients[{k!r}] for {size}",
                fixture,
                batch=m,
            )
        )


def _parameter_shapes(cls, case, names, shapes, compares) -> None:
    for k, shape in zip(names, shapes):
        for kind, label in (("shape", "parameters"), ("gshape", "gradients")):
            compares.append(
                Compare(
                    "parameters",
                    f"{case}/{kind}_{k}",
                    np.asarray(shape),
                    f"{cls}: the shape of {label}[{k!r}] after the first forward",
                    accept=[("a bias of shape (n_out,)", np.asarray(shape[-1:]))]
                    if k == "b"
                    else [],
                )
            )


def fully_connected_task(semester: Semester) -> Task:
    fixture, inputs, compares, cases = _fixture("TestFullyConnected"), {}, [], []
    for i, config in _fixture_cases("TestFullyConnected"):
        X, dY = fixture[f"{i}input"][0], fixture[f"{i}upstream_grad"]
        params = {"W": fixture[f"{i}W"], "b": fixture[f"{i}b"]}
        _weighted("FullyConnected", f"f{i}", config, X, params, dY, compares, inputs, fixture)
        cases.append({"name": f"f{i}", "config": config})
    rng = _rng("FullyConnected")
    for j, (act, n_in, n_out, n) in enumerate(
        [("relu", 61, 37, 64), ("tanh", 5, 3, 4), ("softmax", 20, 10, 32), ("sigmoid", 7, 9, 1)]
    ):
        config = {"n_out": n_out, "activation": act}
        X = _negative_first(rng, (n, n_in), 1.0)
        params = {
            "W": rng.standard_normal((n_in, n_out)) * 0.5,
            "b": rng.standard_normal((1, n_out)) * 0.5,
        }
        dY = rng.standard_normal((n, n_out))
        _weighted("FullyConnected", f"r{j}", config, X, params, dY, compares, inputs)
        _parameter_shapes(
            "FullyConnected", f"r{j}", ("W", "b"), ((n_in, n_out), (1, n_out)), compares
        )
        cases.append({"name": f"r{j}", "config": config})
    request = {"kind": "layer", "cls": "FullyConnected", "parameters": ["W", "b"], "cases": cases}
    parts = ("parameters", "forward", "dX", "dW", "db")
    return Task("layers.FullyConnected", request, inputs, compares, parts)


def _same_rule_agrees(config: dict, semester: Semester) -> bool:
    """Whether the layout's handout settles this config's padding as the reference does. Its
    compute_pad differs at stride > 1, its pad2d takes no "valid", and students' naive Conv2D
    there reads any other pad as "valid": only "same" at stride 1 is the handout's own case."""
    if semester.conv != "compute_pad":
        return True
    return config.get("pad", "same") == "same" and config.get("stride", 1) == 1


CONV_RANDOM = [  # (config, input shape): strides, odd and even kernels, every kind of padding
    (
        {"n_out": 6, "kernel_shape": (3, 3), "activation": "relu", "stride": 1, "pad": "same"},
        (3, 7, 6, 2),
    ),
    (
        {"n_out": 4, "kernel_shape": (2, 3), "activation": "tanh", "stride": 2, "pad": 1},
        (2, 9, 8, 3),
    ),
    (
        {"n_out": 3, "kernel_shape": (3, 3), "activation": "sigmoid", "stride": 2, "pad": "same"},
        (2, 7, 7, 2),
    ),
    (
        {"n_out": 2, "kernel_shape": (4, 2), "activation": "relu", "stride": 1, "pad": "valid"},
        (2, 6, 5, 3),
    ),
    (
        {"n_out": 3, "kernel_shape": (5, 3), "activation": "tanh", "stride": 1, "pad": "same"},
        (2, 6, 7, 4),
    ),
]


def conv2d_task(semester: Semester) -> Task:
    fixture, inputs, compares, cases = _fixture("TestConv2D"), {}, [], []
    for i, config in _fixture_cases("TestConv2D"):
        if not _same_rule_agrees(config, semester):
            continue
        X, dY = fixture[f"{i}input"][0], fixture[f"{i}upstream_grad"]
        params = {"W": fixture[f"{i}W"], "b": fixture[f"{i}b"]}
        _weighted("Conv2D", f"f{i}", config, X, params, dY, compares, inputs, fixture)
        cases.append({"name": f"f{i}", "config": config})
    rng = _rng("Conv2D")
    for j, (config, shape) in enumerate(CONV_RANDOM):
        if not _same_rule_agrees(config, semester):
            continue
        (kh, kw), c_in, n_out = config["kernel_shape"], shape[-1], config["n_out"]
        X = _negative_first(rng, shape, 1.0)
        params = {
            "W": rng.standard_normal((kh, kw, c_in, n_out)) * 0.4,
            "b": rng.standard_normal((1, n_out)) * 0.3,
        }
        dY = rng.standard_normal(_conv_output_shape(config, X, params))
        _weighted("Conv2D", f"r{j}", config, X, params, dY, compares, inputs)
        _parameter_shapes(
            "Conv2D", f"r{j}", ("W", "b"), ((kh, kw, c_in, n_out), (1, n_out)), compares
        )
        cases.append({"name": f"r{j}", "config": config})
    request = {"kind": "layer", "cls": "Conv2D", "parameters": ["W", "b"], "cases": cases}
    return Task(
        "layers.Conv2D", request, inputs, compares, ("parameters", "forward", "dX", "dW", "db")
    )


def _conv_output_shape(config, X, params) -> tuple:
    import numpy_nn.layers as reference

    layer = reference.Conv2D(**{**config, "activation": "linear"})
    layer.forward(X.copy())
    layer.parameters.update({k: v.copy() for k, v in params.items()})
    return layer.forward(X.copy()).shape


POOL_RANDOM = [
    ({"kernel_shape": (2, 2), "mode": "max", "stride": 2}, (2, 8, 6, 3)),
    ({"kernel_shape": (3, 3), "mode": "max", "stride": 1}, (2, 6, 7, 2)),
    ({"kernel_shape": (3, 3), "mode": "average", "stride": 1, "pad": "same"}, (2, 5, 5, 2)),
    ({"kernel_shape": 2, "mode": "average", "stride": 2}, (1, 6, 6, 4)),
]


def _distinct(rng, shape) -> np.ndarray:
    """Every value different (no ties for a maximum), none near another: 0.01 apart."""
    values = rng.permutation(int(np.prod(shape))) * 0.01 - 0.005 * int(np.prod(shape))
    return values.reshape(shape)


def pool2d_task(semester: Semester) -> Task:
    import numpy_nn.layers as reference

    fixture, inputs, compares, cases = _fixture("TestPool2D"), {}, [], []
    for i, config in _fixture_cases("TestPool2D"):
        X, dY = fixture[f"{i}input"][0], fixture[f"{i}upstream_grad"]
        _no_ties(X, config)
        inputs.update({f"f{i}/X": X, f"f{i}/dY": dY})
        _layer_compares(
            "Pool2D", f"f{i}", X, fixture[f"{i}output"], fixture[f"{i}backward"], {}, compares, True
        )
        cases.append({"name": f"f{i}", "config": config})
    rng = _rng("Pool2D")
    for j, (config, shape) in enumerate(POOL_RANDOM):
        X = _distinct(rng, shape)
        layer = reference.Pool2D(**config)
        Y = layer.forward(X.copy())
        dY = rng.standard_normal(Y.shape)
        inputs.update({f"r{j}/X": X, f"r{j}/dY": dY})
        _layer_compares("Pool2D", f"r{j}", X, Y, layer.backward(dY.copy()), {}, compares, False)
        cases.append({"name": f"r{j}", "config": config})
    request = {"kind": "layer", "cls": "Pool2D", "parameters": [], "cases": cases}
    return Task("layers.Pool2D", request, inputs, compares, ("forward", "dX"))


def _no_ties(X: np.ndarray, config: dict) -> None:
    """The fixture's generator promises no tied maximum in any pooling window: hold it to it."""
    if config.get("mode", "max") == "max":
        flat = X.reshape(len(X), -1, X.shape[-1])
        for n, c in itertools.product(range(flat.shape[0]), range(flat.shape[2])):
            assert len(np.unique(flat[n, :, c])) == flat.shape[1], "tied values in a fixture"


def flatten_task(semester: Semester) -> Task:
    fixture, inputs, compares, cases = _fixture("TestFlatten"), {}, [], []
    for i, config in _fixture_cases("TestFlatten"):
        X, dY = fixture[f"{i}input"][0], fixture[f"{i}upstream_grad"]
        inputs.update({f"f{i}/X": X, f"f{i}/dY": dY})
        _layer_compares(
            "Flatten",
            f"f{i}",
            X,
            fixture[f"{i}output"],
            fixture[f"{i}backward"],
            {},
            compares,
            True,
        )
        cases.append({"name": f"f{i}", "config": config})
    request = {"kind": "layer", "cls": "Flatten", "parameters": [], "cases": cases}
    return Task("layers.Flatten", request, inputs, compares, ("forward", "dX"))


def batchnorm_task(semester: Semester) -> Task:
    """Training forward with given gamma, beta and running statistics; the running statistics
    after it (the handout's moving average, or its first batch's statistics); evaluation with
    the grader's running statistics; backward from the cache set by hand, as the course's test
    does (not needed for full credit)."""
    fixture, inputs, compares, cases = _fixture("TestBatchNorm1D"), {}, [], []
    for i, config in _fixture_cases("TestBatchNorm1D"):
        inputs.update(_batchnorm_inputs(f"f{i}", fixture, i))
        compares += _batchnorm_compares(f"f{i}", fixture, i)
        cases.append({"name": f"f{i}", "config": config})
    request = {
        "kind": "layer",
        "cls": "BatchNorm1D",
        "parameters": ["gamma", "beta"],
        "cases": cases,
    }
    parts = ("parameters", "forward", "running statistics", "evaluation", "backward")
    return Task("layers.BatchNorm1D", request, inputs, compares, parts)


def _batchnorm_inputs(p: str, fixture: dict, i: int) -> dict:
    """A case's input, parameters, running statistics before and after, and the cache the
    backward reads (set by hand, as the course's test does)."""
    X = fixture[f"{i}input"][0]
    out = {
        f"{p}/X": X,
        f"{p}/dY": fixture[f"{i}upstream_grad"],
        f"{p}/n_in": np.asarray(X.shape[1]),
        f"{p}/cache_X": X,
        f"{p}/cache_X_hat": fixture[f"{i}X_hat"],
        f"{p}/cache_mu": fixture[f"{i}mu"],
        f"{p}/cache_var": fixture[f"{i}var"],
    }
    out.update({f"{p}/param_{k}": fixture[f"{i}{k}"] for k in ("gamma", "beta")})
    for key in ("running_mu", "running_var"):
        out[f"{p}/cache_{key}"] = fixture[f"{i}{key}"]
        out[f"{p}/eval_{key}"] = fixture[f"{i}new_{key}"]
    return out


def _batchnorm_compares(p: str, fixture: dict, i: int) -> list:
    X = fixture[f"{i}input"][0]
    size = f"a batch of {_size(X.shape)}"
    out = [
        Compare(
            "forward",
            f"{p}/Y",
            fixture[f"{i}output"],
            f"BatchNorm1D.forward (training) for {size}",
            True,
        ),
        Compare(
            "evaluation",
            f"{p}/Y_test",
            fixture[f"{i}test_output"],
            f"BatchNorm1D.forward(X, mode='test') for {size}",
            True,
        ),
        Compare(
            "backward",
            f"{p}/dX",
            fixture[f"{i}backward"],
            f"BatchNorm1D.backward: dL/dX for {size}",
            True,
        ),
    ]
    for key, stat in (("running_mu", "mu"), ("running_var", "var")):
        out.append(
            Compare(
                "running statistics",
                f"{p}/{key}",
                fixture[f"{i}new_{key}"],
                f"cache[{key!r}] after a training forward of {size}",
                True,
                accept=[("the first batch's statistics", fixture[f"{i}{stat}"])],
            )
        )
    for k in ("gamma", "beta"):
        out.append(
            Compare(
                "backward",
                f"{p}/d{k}",
                fixture[f"{i}d{k}"],
                f"BatchNorm1D.backward: gradients[{k!r}] for {size}",
                True,
            )
        )
    return out + _bn_shapes(p, X.shape[1])


def _bn_shapes(case: str, n: int) -> list:
    out = []
    for key in ("gamma", "beta", "running_mu", "running_var"):
        name = f"shape_{key}"
        out.append(
            Compare(
                "parameters",
                f"{case}/{name}",
                np.asarray((1, n)),
                f"BatchNorm1D: the shape of {key} after _init_parameters",
                accept=[("shape (n,)", np.asarray((n,)))],
            )
        )
    return out


ELMAN_RANDOM = [
    ({"n_out": 5, "activation": "tanh"}, (4, 3, 6)),
    ({"n_out": 3, "activation": "relu"}, (2, 4, 5)),
    ({"n_out": 4, "activation": "sigmoid"}, (3, 2, 1)),
]


def elman_task(semester: Semester) -> Task:
    import numpy_nn.activations as acts
    import numpy_nn.layers as reference

    rng, inputs, compares, cases = _rng("Elman"), {}, [], []
    for j, (config, shape) in enumerate(ELMAN_RANDOM):
        case, n_in, n_out = f"r{j}", shape[1], config["n_out"]
        X = _negative_first(rng, shape, 1.0)
        params = {
            "W": rng.standard_normal((n_in, n_out)) * 0.5,
            "U": rng.standard_normal((n_out, n_out)) * 0.4,
            "b": rng.standard_normal((1, n_out)) * 0.3,
        }
        layer = reference.Elman(**config)
        layer.forward(X.copy())
        layer.parameters.update({k: v.copy() for k, v in params.items()})
        Y = layer.forward(X.copy())
        dY = rng.standard_normal(Y.shape)
        steps = _elman_steps(layer, dY, acts.initialize_activation(config["activation"]))
        dX = np.stack(layer.backward(dY.copy()))
        grads = {k: layer.gradients[k] for k in params}
        inputs.update({f"{case}/X": X, f"{case}/dY": dY, f"{case}/n_in": np.asarray(n_in)})
        inputs.update({f"{case}/param_{k}": v for k, v in params.items()})
        inputs.update(_replay_inputs(case, steps))
        _layer_compares("Elman", case, X, Y, dX, grads, compares, False)
        compares[-1 - len(grads)].accept += [
            ("the steps in reverse order", dX[::-1]),
            ("an array shaped like X instead of a list", np.moveaxis(dX, 0, -1)),
        ]
        compares[
            -1 - len(grads)
        ].what = f"Elman.backward: the list of dL/dX_t for a batch of {_size(shape)}"
        _parameter_shapes(
            "Elman", case, ("W", "U", "b"), ((n_in, n_out), (n_out, n_out), (1, n_out)), compares
        )
        cases.append({"name": case, "config": config})
    request = {"kind": "layer", "cls": "Elman", "parameters": ["W", "U", "b"], "cases": cases}
    return Task(
        "layers.Elman", request, inputs, compares, ("parameters", "forward", "dX", "dW", "dU", "db")
    )


def _elman_steps(layer, dY, act) -> list:
    """(Z_t, s_t, dS_t, dZ_t) of every step, as a correct backward walks them."""
    Z, s, U = layer.cache["Z"], layer.cache["s"], layer.parameters["U"]
    steps, dS = [], dY
    for t in reversed(range(len(Z))):
        dZ = act.backward(Z[t].copy(), dS.copy())
        steps.append((Z[t], s[t + 1], dS, dZ))
        dS = dZ @ U.T
    return steps[::-1]


# -- losses ------------------------------------------------------------------------------------
def loss_task(cls: str, semester: Semester) -> Task:
    import numpy_nn.losses as reference

    name = {"CrossEntropy": "cross_entropy", "L2": "l2"}[cls]
    ref = getattr(reference, cls)(name)
    fixture, inputs, compares, cases = _fixture(f"Test{cls}"), {}, [], []
    for i, _ in _fixture_cases(f"Test{cls}"):
        Y, Yh = fixture[f"{i}input"][0], fixture[f"{i}input"][1]
        _loss_case(
            cls,
            f"f{i}",
            Y,
            Yh,
            ref,
            inputs,
            compares,
            (fixture[f"{i}output"], fixture[f"{i}backward"]),
        )
        cases.append({"name": f"f{i}"})
    rng = _rng(cls)
    for j, (n, k) in enumerate(((32, 10), (5, 3), (1, 4))):
        if cls == "CrossEntropy":
            Y = np.eye(k)[rng.integers(0, k, n)]
            logits = rng.standard_normal((n, k))
            Yh = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        else:
            Y, Yh = rng.standard_normal((n, k)), rng.standard_normal((n, k))
        _loss_case(cls, f"r{j}", Y, Yh, ref, inputs, compares)
        cases.append({"name": f"r{j}"})
    request = {"kind": "loss", "cls": cls, "name": name, "cases": cases}
    return Task(f"losses.{cls}", request, inputs, compares, ("forward", "backward"))


def _loss_case(cls, case, Y, Yh, ref, inputs, compares, fixture=None) -> None:
    inputs.update({f"{case}/Y": Y, f"{case}/Y_hat": Yh})
    J, grad = (
        fixture if fixture else (np.asarray(ref.forward(Y, Yh.copy())), ref.backward(Y, Yh.copy()))
    )
    n = len(Y)
    mistakes = []
    if cls == "CrossEntropy":
        mistakes.append(
            (
                "returned (Y_hat - Y)/m, the gradient of softmax and cross-entropy "
                "together with respect to the logits; this backward is dL/dY_hat = "
                "-Y/(m Y_hat)",
                (Yh - Y) / n,
            )
        )
    size = f"a batch of {_size(Y.shape)}"
    compares.append(
        Compare(
            "forward",
            f"{case}/loss",
            np.asarray(J, dtype=np.float64).reshape(()),
            f"{cls}.forward for {size}",
            fixture is not None,
            batch=n,
        )
    )
    compares.append(
        Compare(
            "backward",
            f"{case}/grad",
            grad,
            f"{cls}.backward: dL/dY_hat for {size}",
            fixture is not None,
            mistakes=mistakes,
            batch=n,
        )
    )


# -- the network -------------------------------------------------------------------------------
NETWORK = [(4, 8, "relu"), (8, 6, "tanh"), (6, 3, "softmax")]  # (n_in, n_out, activation)


def network_task(semester: Semester) -> Task:
    """NeuralNetwork.forward, .backward (and .predict where students write it) with stand-ins
    replaying the reference's layers and loss: the network's own code alone is graded."""
    inputs = _network_arrays(_rng("NeuralNetwork"))
    out, loss = inputs["net/out"], inputs["net/loss"].reshape(())
    args = [
        {
            "name": "fully_connected",
            "activation": semester.activation_name(a),
            "weight_init": "xavier_uniform",
            "n_out": o,
        }
        for _, o, a in NETWORK
    ]
    args[-1]["n_out"] = None  # as the handout's train_ffnn.py: train() sets it from the data
    predict = semester.model.get("predict")
    request = {
        "kind": "network",
        "layer_args": args,
        "optimizer_args": semester.optimizer,
        "predict": bool(predict),
        "cases": [{"name": "net"}],
    }
    compares = [
        Compare("forward", "net/out", out, "NeuralNetwork.forward: the last layer's output"),
        Compare("backward", "net/loss", loss, "NeuralNetwork.backward: the loss it returns"),
    ]
    parts = ("forward", "backward")
    if predict:
        compares += [
            Compare("predict", "net/predict_out", out, "NeuralNetwork.predict: Y_hat"),
            Compare("predict", "net/predict_loss", loss, "NeuralNetwork.predict: the loss"),
        ]
        parts += ("predict",)
    extra = {"layers": len(NETWORK), "predict": predict}
    return Task("models.NeuralNetwork", request, inputs, compares, parts, extra)


def _network_arrays(rng) -> dict:
    """What the stand-ins replay: each layer's input, output, parameters, dL/dY, dL/dX and
    gradients, and the loss, computed by the reference."""
    import numpy_nn.layers as reference
    from numpy_nn.losses import CrossEntropy

    X, Y = rng.standard_normal((16, 4)), np.eye(3)[rng.integers(0, 3, 16)]
    inputs, layers, h = {"net/X": X, "net/Y": Y}, [], X
    for i, (n_in, n_out, act) in enumerate(NETWORK):
        layer = reference.FullyConnected(n_out, act)
        layer.forward(h)
        W, b = rng.standard_normal((n_in, n_out)) * 0.5, rng.standard_normal((1, n_out)) * 0.3
        layer.parameters.update(W=W, b=b)
        inputs[f"net/X{i}"], h = h, layer.forward(h)
        inputs[f"net/Y{i}"] = h
        inputs.update({f"net/p{i}_{k}": v for k, v in layer.parameters.items()})
        layers.append(layer)
    loss = CrossEntropy()
    inputs.update({"net/out": h, "net/loss": np.asarray(loss.forward(Y, h))})
    grad = inputs["net/dout"] = loss.backward(Y, h)
    for i in reversed(range(len(layers))):
        inputs[f"net/dY{i}"] = grad
        grad = inputs[f"net/dX{i}"] = layers[i].backward(grad)
        inputs.update({f"net/d{i}_{k}": v for k, v in layers[i].gradients.items()})
    return inputs


# -- Iris, the handout's way -------------------------------------------------------------------
def iris_task(semester: Semester) -> Task:
    from numpy_nn.datasets import load_iris

    spec = semester.iris
    args = [{**a, "activation": semester.activation_name(a["activation"])} for a in spec["layers"]]
    request = {
        "kind": "iris",
        "layer_args": args,
        "optimizer_args": semester.optimizer,
        "loss": spec["loss"],
        "batch_size": spec["batch_size"],
        "epochs": spec["epochs"],
        "seed": spec["seed"],
        "cases": [{"name": "iris"}],
    }
    labels = np.argmax(load_iris()["test"][1], axis=1)
    return Task(
        "iris",
        request,
        {"iris/unused": np.zeros(1)},
        [],
        ("test error",),
        {"labels": labels, "spec": spec},
    )


# -- which task a piece is ---------------------------------------------------------------------
def task(piece: str, semester: Semester) -> Task:
    module, _, cls = piece.partition(".")
    if module == "activations":
        return activation_task(cls, semester)
    if module == "losses":
        return loss_task(cls, semester)
    builders = {
        "layers.FullyConnected": fully_connected_task,
        "layers.Conv2D": conv2d_task,
        "layers.Pool2D": pool2d_task,
        "layers.Flatten": flatten_task,
        "layers.BatchNorm1D": batchnorm_task,
        "layers.Elman": elman_task,
        "models.NeuralNetwork": network_task,
        "iris": iris_task,
    }
    return builders[piece](semester)
