"""The graded pieces: what each asks the student's code (requests and their inputs, which
``child.py`` runs in the sandbox) and what the reference, numpy_nn, run here, says it must give.

Only inputs go into the sandbox (data, upstream gradients, parameters, configurations, the
stand-ins' own parameters): every expected value stays here. Where one sub-part's input would
be another's answer (a layer's pre-activation Z, which backward may be given when forward was
wrong), the piece runs in stages, one sandbox run each, and no stage is given an answer of the
sub-parts it reports (``tests/grading/test_inputs_only.py`` checks every array of every stage).

Every piece is checked on the course's fixtures (PyTorch's numbers, to 4 decimals, as the
course's tests compare them) and on random float64 batches against the reference (to 1e-4 of
the largest value: the course's 4 decimals, so a student's epsilon in a logarithm passes),
chosen away from ties and kinks: no input of ReLU is 0, no two values in a pooling window are
equal. A comparison belongs to a sub-part (forward, dX, dW, ...), which has its own points
(``config.yaml``). Where the handouts leave a convention open, each accepted answer is listed
(``Compare.accept``); likely mistakes have their own words (``Compare.mistakes``).
"""

import itertools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from grading import standins
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
    shape: bool = False  # want is a shape: compared exactly (its length too), said as a tuple


@dataclass
class Stage:
    """One sandbox run of a piece: its request, its inputs (arrays, and files laid out in its
    working folder) and the sub-parts judged from its reply."""

    request: dict
    inputs: dict
    parts: tuple
    files: dict = field(default_factory=dict)
    restore_unless: str = ""  # the request's "restore" is set when this sub-part failed
    # {case: {convention: inputs}}: the inputs that follow the convention the student's forward
    # took in the stage before (a padding rule changes the output's shape, so dY's)
    variants: dict = field(default_factory=dict)


@dataclass
class Task:
    """One piece: its stages, and what must come back."""

    piece: str
    stages: list
    compares: list
    extra: dict = field(default_factory=dict)  # what a piece's own judge needs

    @property
    def parts(self) -> tuple:
        """The sub-parts, in the order they are reported."""
        return tuple(p for s in self.stages for p in s.parts)

    @property
    def cases(self) -> dict:
        """{case name: words for it}, to say which case a stopped stage was running."""
        out = {}
        for stage in self.stages:
            for case in stage.request.get("cases", []):
                out[case["name"]] = case.get("about", "")
        return out


def one_stage(piece, request, inputs, compares, parts, extra=None, files=None) -> Task:
    return Task(piece, [Stage(request, inputs, tuple(parts), files or {})], compares, extra or {})


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


def _about(shape, config: dict | None = None) -> str:
    """A case in words, so that a student can make it: the batch, and the layer's settings."""
    words = f"a batch of {_size(shape)}"
    if config:
        words += " with " + ", ".join(f"{k}={v!r}" for k, v in config.items())
    return words


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
    if cls == "ReLU":
        backward.append(
            (
                "multiplied dY by sign(Z): the negative side is not zeroed (ReLU's derivative is "
                "0 where z < 0, not -1)",
                dY * np.sign(Z),
            )
        )
    if cls == "SoftMax" and len(Z) > 1:  # on one row, these two and other mistakes coincide
        backward.append(
            ("used only the diagonal of the softmax Jacobian, dY s (1 - s)", dY * S * (1 - S))
        )
        backward.append(
            (
                "summed dY s over axis 0 (the batch); each row is its own softmax: sum over "
                "axis 1, s (dY - sum(dY s, axis=1))",
                S * (dY - np.sum(dY * S, axis=0, keepdims=True)),
            )
        )
    if cls == "SoftMax":
        for shifted in (np.exp(Z - Z.max()), np.exp(Z - Z.max(axis=1, keepdims=True))):
            forward.append(
                ("normalized over the batch (axis 0) instead of each row", shifted / shifted.sum(0))
            )
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
    request = {"kind": "activation", "cls": cls, "cases": cases}
    extra = {}
    if cls == "SoftMax":  # the handout hints at the stable form: said, not scored
        big = rng.standard_normal((8, 10)) * 50 + 750
        inputs["big/Z"], inputs["big/dY"] = big, rng.standard_normal(big.shape)
        request["cases"].append({"name": "big", "about": _about(big.shape)})
        extra["stable"] = act.forward(big.copy())
    return one_stage(
        f"activations.{cls}", request, inputs, compares, ("forward", "backward"), extra
    )


def _activation_case(name, cls, act, Z, dY, inputs, compares, fixture=None, i=None) -> dict:
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
    return {"name": name, "about": _about(Z.shape)}


# -- layers ------------------------------------------------------------------------------------
def _weighted(cls, case, config, X, params, dY, compares, stages, fixture=None) -> None:
    """A FullyConnected or Conv2D case: the reference's output and gradients (or the fixture's).
    The forward stage gets X and the parameters; the backward stage also dY and, for when the
    forward was wrong, the cache a correct forward leaves (X and the pre-activation Z)."""
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
    given = {f"{case}/X": X, f"{case}/n_in": np.asarray(X.shape[-1])}
    given.update({f"{case}/param_{k}": v for k, v in params.items()})
    forward, backward = stages
    forward.inputs.update(given)
    backward.inputs.update({**given, f"{case}/dY": dY, f"{case}/cache_X": X, f"{case}/cache_Z": Z})
    for stage in stages:
        stage.request["cases"].append(
            {"name": case, "config": config, "about": _about(X.shape, config)}
        )
    _layer_compares(cls, case, X, Y, dX, grads, compares, fixture is not None, config)
    db = compares[-1]
    axes = tuple(range(1, dZ.ndim))  # the wrong ones: each example's own, not the batch
    db.mistakes += [
        (
            f"summed over axis {axes if len(axes) > 1 else axes[0]} (each example's values); db "
            f"sums dL/dZ over {'axis 0, the batch' if dZ.ndim == 2 else 'the batch and both spatial axes, (0, 1, 2)'}",
            dZ.sum(axis=axes, keepdims=keep),
        )
        for keep in (True, False)
    ]


def _weighted_stages(cls: str, names: list) -> list:
    request = {"kind": "layer", "cls": cls, "parameters": names}
    return [
        Stage({**request, "stage": "forward", "cases": []}, {}, ("parameters", "forward")),
        Stage(
            {**request, "stage": "backward", "cases": []},
            {},
            tuple(f"d{n}" for n in ["X", *names]),
            restore_unless="forward",
        ),
    ]


def _gradient_check(stage: Stage, rng, config: dict, shape: tuple, params: dict) -> None:
    """The ungraded check, last in the stage and small: the student's backward against central
    differences of the student's own forward."""
    import numpy_nn.layers as reference

    X = _negative_first(rng, shape, 1.0) if params else _distinct(rng, shape)
    layer = getattr(reference, stage.request["cls"])(**config)
    if params:
        layer.forward(X.copy())
        layer.parameters.update({k: v.copy() for k, v in params.items()})
    out_shape = layer.forward(X.copy()).shape
    stage.request["check_config"] = config
    stage.inputs.update({"check/X": X, "check/dY": rng.standard_normal(out_shape)})
    stage.inputs.update({f"check/param_{k}": v for k, v in params.items()})


def call(cls: str, config: dict | None) -> str:
    """The layer as the student would build it: ``Conv2D(n_out=4, kernel_shape=(2, 3), ...)``."""
    return f"{cls}({', '.join(f'{k}={v!r}' for k, v in (config or {}).items())})"


def _layer_compares(cls, case, X, Y, dX, grads, compares, fixture: bool, config=None) -> None:
    size, m, layer = f"a batch of {_size(X.shape)}", X.shape[0], call(cls, config)
    compares.append(
        Compare("forward", f"{case}/Y", Y, f"{layer}.forward for {size}", fixture, batch=m)
    )
    compares.append(
        Compare("dX", f"{case}/dX", dX, f"{layer}.backward: dL/dX for {size}", fixture, batch=m)
    )
    for k, g in grads.items():
        compares.append(
            Compare(
                f"d{k}",
                f"{case}/d{k}",
                g,
                f"{layer}.backward: gradients[{k!r}] for {size}",
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
                    accept=(
                        [("a bias of shape (n_out,)", np.asarray(shape[-1:]))] if k == "b" else []
                    )
                    + (
                        [("gradients not arrays until backward fills them", np.zeros(0))]
                        if kind == "gshape"
                        else []
                    ),
                    shape=True,
                )
            )


def fully_connected_task(semester: Semester) -> Task:
    fixture, compares = _fixture("TestFullyConnected"), []
    stages = _weighted_stages("FullyConnected", ["W", "b"])
    for i, config in _fixture_cases("TestFullyConnected"):
        X, dY = fixture[f"{i}input"][0], fixture[f"{i}upstream_grad"]
        params = {"W": fixture[f"{i}W"], "b": fixture[f"{i}b"]}
        _weighted("FullyConnected", f"f{i}", config, X, params, dY, compares, stages, fixture)
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
        _weighted("FullyConnected", f"r{j}", config, X, params, dY, compares, stages)
        _parameter_shapes(
            "FullyConnected", f"r{j}", ("W", "b"), ((n_in, n_out), (1, n_out)), compares
        )
    check = {"n_out": 3, "activation": "tanh"}
    params = {"W": rng.standard_normal((4, 3)) * 0.5, "b": rng.standard_normal((1, 3)) * 0.5}
    _gradient_check(stages[1], rng, check, (2, 4), params)
    return Task("layers.FullyConnected", stages, compares)


def _handout_allows(config: dict, semester: Semester) -> bool:
    """Whether the layout's handout takes this config's padding: its pad2d takes no "valid"
    (and students' naive Conv2D there reads any other pad as "valid")."""
    return semester.conv != "compute_pad" or config.get("pad", "same") != "valid"


def _pads(config: dict, shape: tuple, semester: Semester) -> dict:
    """{convention: (rows, columns) of padding} the layout's handout allows for this config,
    beyond the reference's (k-1)//2: its compute_pad reading X as (n, rows, cols, channels),
    and as (n, channels, rows, cols), as two of three such handouts did (only "same" at
    stride > 1 tells them apart)."""
    if semester.conv != "compute_pad" or config.get("pad", "same") != "same":
        return {}
    (kh, kw), s = config["kernel_shape"], config.get("stride", 1)
    readings = {
        "the handout's compute_pad": (shape[1], shape[2]),
        "the handout's compute_pad reading X as (n, channels, rows, cols)": (shape[2], shape[3]),
    }
    out = {}
    for words, (rows, cols) in readings.items():
        pads = (int(((s - 1) * rows - s + kh) / 2), int(((s - 1) * cols - s + kw) / 2))
        if pads != ((kh - 1) // 2, (kw - 1) // 2) and pads not in out.values() and min(pads) >= 0:
            out[words] = pads
    return out


def _alternatives(cls, case, config, X, params, dY_rng, semester, compares, stages) -> None:
    """The answers under each other padding rule the handout allows, accepted beside the
    reference's; the backward stage's dY and cache for each (the output's shape follows it)."""
    import numpy_nn.activations as acts
    import numpy_nn.layers as reference

    for words, pads in _pads(config, X.shape, semester).items():
        linear = getattr(reference, cls)(**{**config, "activation": "linear", "pad": pads})
        linear.forward(X.copy())
        linear.parameters.update({k: v.copy() for k, v in params.items()})
        Z = linear.forward(X.copy())
        act = acts.initialize_activation(config["activation"])
        dY = dY_rng.standard_normal(Z.shape)
        dX = linear.backward(act.backward(Z.copy(), dY.copy()))
        answers = {"Y": act.forward(Z.copy()), "dX": dX}
        answers.update({f"d{k}": linear.gradients[k] for k in params})
        for c in compares:
            if c.key.startswith(f"{case}/") and c.key.split("/")[1] in answers:
                c.accept.append((words, answers[c.key.split("/")[1]]))
        variants = stages[1].variants.setdefault(case, {})
        variants[words] = {f"{case}/dY": dY, f"{case}/cache_Z": Z}


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
    fixture, compares = _fixture("TestConv2D"), []
    stages = _weighted_stages("Conv2D", ["W", "b"])
    others = _rng("Conv2D padding rules")
    for i, config in _fixture_cases("TestConv2D"):
        if not _handout_allows(config, semester):
            continue
        X, dY = fixture[f"{i}input"][0], fixture[f"{i}upstream_grad"]
        params = {"W": fixture[f"{i}W"], "b": fixture[f"{i}b"]}
        _weighted("Conv2D", f"f{i}", config, X, params, dY, compares, stages, fixture)
        _alternatives("Conv2D", f"f{i}", config, X, params, others, semester, compares, stages)
    rng = _rng("Conv2D")
    for j, (config, shape) in enumerate(CONV_RANDOM):
        if not _handout_allows(config, semester):
            continue
        (kh, kw), c_in, n_out = config["kernel_shape"], shape[-1], config["n_out"]
        X = _negative_first(rng, shape, 1.0)
        params = {
            "W": rng.standard_normal((kh, kw, c_in, n_out)) * 0.4,
            "b": rng.standard_normal((1, n_out)) * 0.3,
        }
        dY = rng.standard_normal(_conv_output_shape(config, X, params))
        _weighted("Conv2D", f"r{j}", config, X, params, dY, compares, stages)
        _parameter_shapes(
            "Conv2D", f"r{j}", ("W", "b"), ((kh, kw, c_in, n_out), (1, n_out)), compares
        )
        _alternatives("Conv2D", f"r{j}", config, X, params, others, semester, compares, stages)
    check = {"n_out": 2, "kernel_shape": (3, 3), "activation": "tanh", "stride": 1, "pad": "same"}
    params = {"W": rng.standard_normal((3, 3, 2, 2)) * 0.4, "b": rng.standard_normal((1, 2)) * 0.3}
    _gradient_check(stages[1], rng, check, (1, 4, 3, 2), params)
    return Task("layers.Conv2D", stages, compares)


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


def _plain_layer(cls: str) -> Stage:
    """A layer without parameters or activation: forward, then backward on the same layers."""
    request = {"kind": "layer", "cls": cls, "parameters": [], "stage": "all", "cases": []}
    return Stage(request, {}, ("forward", "dX"))


def _plain_case(stage, cls, case, config, X, Y, dX, dY, compares, fixture) -> None:
    stage.inputs.update({f"{case}/X": X, f"{case}/dY": dY})
    stage.request["cases"].append(
        {"name": case, "config": config, "about": _about(X.shape, config)}
    )
    _layer_compares(cls, case, X, Y, dX, {}, compares, fixture, config)


def pool2d_task(semester: Semester) -> Task:
    import numpy_nn.layers as reference

    fixture, compares, stage = _fixture("TestPool2D"), [], _plain_layer("Pool2D")
    for i, config in _fixture_cases("TestPool2D"):
        X, dY = fixture[f"{i}input"][0], fixture[f"{i}upstream_grad"]
        _no_ties(X, config)
        Y, dX = fixture[f"{i}output"], fixture[f"{i}backward"]
        _plain_case(stage, "Pool2D", f"f{i}", config, X, Y, dX, dY, compares, True)
    rng = _rng("Pool2D")
    for j, (config, shape) in enumerate(POOL_RANDOM):
        X = _distinct(rng, shape)
        layer = reference.Pool2D(**config)
        Y = layer.forward(X.copy())
        dY = rng.standard_normal(Y.shape)
        dX = layer.backward(dY.copy())
        _plain_case(stage, "Pool2D", f"r{j}", config, X, Y, dX, dY, compares, False)
    check = {"kernel_shape": (2, 2), "mode": "max", "stride": 2}
    _gradient_check(stage, rng, check, (1, 4, 4, 2), {})
    return Task("layers.Pool2D", [stage], compares)


def _no_ties(X: np.ndarray, config: dict) -> None:
    """The fixture's generator promises no tied maximum in any pooling window: hold it to it."""
    if config.get("mode", "max") == "max":
        flat = X.reshape(len(X), -1, X.shape[-1])
        for n, c in itertools.product(range(flat.shape[0]), range(flat.shape[2])):
            assert len(np.unique(flat[n, :, c])) == flat.shape[1], "tied values in a fixture"


def flatten_task(semester: Semester) -> Task:
    fixture, compares, stage = _fixture("TestFlatten"), [], _plain_layer("Flatten")
    for i, config in _fixture_cases("TestFlatten"):
        X, dY = fixture[f"{i}input"][0], fixture[f"{i}upstream_grad"]
        Y, dX = fixture[f"{i}output"], fixture[f"{i}backward"]
        _plain_case(stage, "Flatten", f"f{i}", config, X, Y, dX, dY, compares, True)
    return Task("layers.Flatten", [stage], compares)


def batchnorm_task(semester: Semester) -> Task:
    """Forward stage: the parameters' shapes, the training forward from the grader's gamma,
    beta and running statistics, the running statistics after it (the handout's moving average,
    or its first batch's statistics), evaluation mode from other running statistics of the
    grader's. Backward stage (not needed for full credit): the cache set by hand, as the
    course's test does, for a batch of its own (so no answer of the forward stage is in it)."""
    fixture, compares = _fixture("TestBatchNorm1D"), []
    request = {"kind": "layer", "cls": "BatchNorm1D", "parameters": ["gamma", "beta"]}
    parts = ("parameters", "forward", "running statistics", "evaluation")
    forward = Stage({**request, "stage": "forward", "cases": []}, {}, parts)
    backward = Stage(
        {**request, "stage": "backward", "restore": True, "cases": []}, {}, ("backward",)
    )
    rng = _rng("BatchNorm1D")
    for i, config in _fixture_cases("TestBatchNorm1D"):
        X = fixture[f"{i}input"][0]
        about = {"name": f"f{i}", "config": config, "about": _about(X.shape, config)}
        forward.request["cases"].append(about)
        forward.inputs.update(_batchnorm_forward(f"f{i}", config, fixture, i, rng, compares))
    for j, config in enumerate(CASES.spec_of("TestBatchNorm1D")["LayerConfigs"]):
        X = rng.standard_normal((9 + 4 * j, 5 + j)) * 2 + 0.5
        backward.request["cases"].append(
            {"name": f"r{j}", "config": config, "about": _about(X.shape, config)}
        )
        backward.inputs.update(_batchnorm_backward(f"r{j}", config, X, rng, compares))
    return Task("layers.BatchNorm1D", [forward, backward], compares)


def _batchnorm_forward(p: str, config: dict, fixture: dict, i: int, rng, compares: list) -> dict:
    """The forward stage's inputs of a fixture case and its comparisons (the course's numbers;
    evaluation mode computed by the reference from the grader's running statistics)."""
    from numpy_nn.normalization import BatchNorm1D

    X, n = fixture[f"{i}input"][0], fixture[f"{i}input"][0].shape[1]
    size, layer = f"a batch of {_size(X.shape)}", call("BatchNorm1D", config)
    given = {
        f"{p}/X": X,
        f"{p}/n_in": np.asarray(n),
        f"{p}/eval_running_mu": rng.standard_normal((1, n)),
        f"{p}/eval_running_var": rng.uniform(0.5, 2.0, (1, n)),
    }
    given.update({f"{p}/param_{k}": fixture[f"{i}{k}"] for k in ("gamma", "beta")})
    given.update({f"{p}/cache_{k}": fixture[f"{i}{k}"] for k in ("running_mu", "running_var")})
    reference = BatchNorm1D(**config)
    reference.forward(X.copy())
    reference.parameters.update(gamma=given[f"{p}/param_gamma"], beta=given[f"{p}/param_beta"])
    reference.cache.update(running_mu=given[f"{p}/eval_running_mu"])
    reference.cache.update(running_var=given[f"{p}/eval_running_var"])
    compares += [
        Compare("forward", f"{p}/Y", fixture[f"{i}output"], f"{layer}.forward for {size}", True),
        Compare(
            "evaluation",
            f"{p}/Y_test",
            reference.forward(X.copy(), mode="test"),
            f"{layer}.forward(X, mode='test') for {size}",
        ),
    ]
    for key, stat in (("running_mu", "mu"), ("running_var", "var")):
        compares.append(
            Compare(
                "running statistics",
                f"{p}/{key}",
                fixture[f"{i}new_{key}"],
                f"cache[{key!r}] after a training forward of {size}",
                True,
                accept=[("the first batch's statistics", fixture[f"{i}{stat}"])],
            )
        )
    compares += _bn_shapes(p, n)
    return given


def _batchnorm_backward(p: str, config: dict, X, rng, compares: list) -> dict:
    """A batch of the backward stage's own: its cache (X, X_hat, mu, var) as the reference's
    training forward leaves it, set by hand; the gradients the reference gives."""
    from numpy_nn.normalization import BatchNorm1D

    n = X.shape[1]
    gamma, beta = rng.uniform(0.5, 1.5, (1, n)), rng.standard_normal((1, n)) * 0.3
    reference = BatchNorm1D(**config)
    reference.forward(X.copy())
    reference.parameters.update(gamma=gamma, beta=beta)
    reference.forward(X.copy(), mode="train")
    dY = rng.standard_normal(X.shape)
    dX = reference.backward(dY.copy())
    given = {f"{p}/X": X, f"{p}/dY": dY, f"{p}/n_in": np.asarray(n)}
    given.update({f"{p}/param_gamma": gamma, f"{p}/param_beta": beta})
    given.update({f"{p}/cache_{k}": reference.cache[k] for k in ("X", "X_hat", "mu", "var")})
    size = f"a batch of {_size(X.shape)} (the cache set by hand)"
    layer = call("BatchNorm1D", config)
    compares.append(Compare("backward", f"{p}/dX", dX, f"{layer}.backward: dL/dX for {size}"))
    for k in ("gamma", "beta"):
        compares.append(
            Compare(
                "backward",
                f"{p}/d{k}",
                reference.gradients[k],
                f"{layer}.backward: gradients[{k!r}] for {size}",
            )
        )
    return given


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
                shape=True,
            )
        )
    return out


ELMAN_RANDOM = [
    ({"n_out": 5, "activation": "tanh"}, (4, 3, 6)),
    ({"n_out": 3, "activation": "relu"}, (2, 4, 5)),
    ({"n_out": 4, "activation": "sigmoid"}, (3, 2, 1)),
]


def elman_task(semester: Semester) -> Task:
    import numpy_nn.layers as reference

    rng, compares = _rng("Elman"), []
    names = ["W", "U", "b"]
    request = {"kind": "layer", "cls": "Elman", "parameters": names, "stage": "all", "cases": []}
    parts = ("parameters", "forward", "dX", "dW", "dU", "db")
    stage = Stage(request, {}, parts)
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
        dX = np.stack(layer.backward(dY.copy()))
        grads = {k: layer.gradients[k] for k in params}
        stage.inputs.update({f"{case}/X": X, f"{case}/dY": dY, f"{case}/n_in": np.asarray(n_in)})
        stage.inputs.update({f"{case}/param_{k}": v for k, v in params.items()})
        request["cases"].append({"name": case, "config": config, "about": _about(shape, config)})
        _layer_compares("Elman", case, X, Y, dX, grads, compares, False, config)
        dx = compares[-1 - len(grads)]
        dx.accept += [
            ("the steps in reverse order", dX[::-1]),
            ("an array shaped like X instead of a list", np.moveaxis(dX, 0, -1)),
        ]
        dx.what = (
            f"{call('Elman', config)}.backward: the list of dL/dX_t for a batch of {_size(shape)}"
        )
        shapes = ((n_in, n_out), (n_out, n_out), (1, n_out))
        _parameter_shapes("Elman", case, names, shapes, compares)
    return Task("layers.Elman", [stage], compares)


# -- losses ------------------------------------------------------------------------------------
def loss_task(cls: str, semester: Semester) -> Task:
    import numpy_nn.losses as reference

    name = {"CrossEntropy": "cross_entropy", "L2": "l2"}[cls]
    ref = getattr(reference, cls)(name)
    fixture, inputs, compares, cases = _fixture(f"Test{cls}"), {}, [], []
    for i, _ in _fixture_cases(f"Test{cls}"):
        Y, Yh = fixture[f"{i}input"][0], fixture[f"{i}input"][1]
        expected = (fixture[f"{i}output"], fixture[f"{i}backward"])
        _loss_case(cls, f"f{i}", Y, Yh, ref, inputs, compares, expected)
        cases.append({"name": f"f{i}", "about": _about(Y.shape)})
    rng = _rng(cls)
    for j, (n, k) in enumerate(((32, 10), (5, 3), (1, 4))):
        if cls == "CrossEntropy":
            Y = np.eye(k)[rng.integers(0, k, n)]
            logits = rng.standard_normal((n, k))
            Yh = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
        else:
            Y, Yh = rng.standard_normal((n, k)), rng.standard_normal((n, k))
        _loss_case(cls, f"r{j}", Y, Yh, ref, inputs, compares)
        cases.append({"name": f"r{j}", "about": _about(Y.shape)})
    request = {"kind": "loss", "cls": cls, "name": name, "cases": cases}
    return one_stage(f"losses.{cls}", request, inputs, compares, ("forward", "backward"))


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
    """NeuralNetwork.forward, .backward (and .predict where students write it) with computing
    stand-ins for its layers and loss (``standins.Layer``, ``standins.Loss``): the network's own
    code alone is graded. backward is given the target and an ``out`` of the grader's own, so
    it is graded apart from forward."""
    rng = _rng("NeuralNetwork")
    X, Y = rng.standard_normal((16, 4)), np.eye(3)[rng.integers(0, 3, 16)]
    O = rng.uniform(0.05, 1.0, (16, 3))  # noqa: E741 - the out given to backward
    layers = [
        (
            rng.standard_normal((n_in, n_out)) * 0.6,
            rng.standard_normal((1, n_out)) * 0.3,
            rng.uniform(0.5, 1.5, n_out),
        )
        for n_in, n_out, _ in NETWORK
    ]
    w, u = rng.uniform(0.5, 1.5, 3), rng.uniform(-0.5, 0.5, 3)
    inputs = {"net/X": X, "net/Y": Y, "net/O": O, "net/w": w, "net/u": u}
    for i, (W, b, d) in enumerate(layers):
        inputs.update({f"net/W{i}": W, f"net/b{i}": b, f"net/d{i}": d})
    outputs = standins.network(X, layers)
    out = outputs[-1]
    request = {
        "kind": "network",
        "layer_args": _network_args(semester),
        "optimizer_args": semester.optimizer,
        "predict": bool(semester.model.get("predict")),
        "cases": [{"name": "net", "about": f"a batch of {_size(X.shape)} through 3 layers"}],
    }
    compares = [
        Compare("forward", "net/out", out, "NeuralNetwork.forward: the last layer's output"),
        Compare(
            "backward",
            "net/loss",
            np.asarray(standins.loss_forward(Y, O, w, u)),
            "NeuralNetwork.backward(target, out): the loss it returns",
        ),
    ]
    parts = ("forward", "backward")
    if request["predict"]:
        loss = np.asarray(standins.loss_forward(Y, out, w, u))
        compares += [
            Compare("predict", "net/predict_out", out, "NeuralNetwork.predict: Y_hat"),
            Compare("predict", "net/predict_loss", loss, "NeuralNetwork.predict: the loss"),
        ]
        parts += ("predict",)
    extra = {"X": X, "Y": Y, "O": O, "outputs": outputs, "layers": layers, "w": w, "u": u}
    return one_stage("models.NeuralNetwork", request, inputs, compares, parts, extra)


def _network_args(semester: Semester) -> list:
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
    return args


# -- Iris, the handout's way -------------------------------------------------------------------
def iris_files() -> dict[str, bytes]:
    """The course's Iris split where the handout's datasets.py reads it, its test labels a
    placeholder of the same shape and kind (one-hot float64, drawn apart from the true ones):
    the grader scores the trained network's output on the test flowers itself."""
    import io

    folder = Path(__file__).resolve().parents[1] / "numpy_nn" / "iris"
    files = {f"datasets/iris/{p.name}": p.read_bytes() for p in sorted(folder.glob("*.npy"))}
    truth = np.load(folder / "iris_test_labels.npy", allow_pickle=False)
    buffer = io.BytesIO()
    np.save(buffer, iris_placeholder(truth))
    files["datasets/iris/iris_test_labels.npy"] = buffer.getvalue()
    return files


def iris_placeholder(truth: np.ndarray) -> np.ndarray:
    """Labels of ``truth``'s shape and kind that a network could copy and still fail: each row
    one-hot, drawn from a fixed seed, and checked to be wrong on most flowers."""
    rng = _rng("iris placeholder")
    placeholder = np.eye(truth.shape[1])[rng.integers(0, truth.shape[1], len(truth))]
    agree = float(np.mean(np.argmax(placeholder, 1) == np.argmax(truth, 1)))
    assert agree < 0.5, "the placeholder must be wrong on most test flowers"
    return placeholder.astype(truth.dtype)


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
        "cases": [{"name": "iris", "about": "the handout's train_ffnn.py"}],
    }
    labels = np.argmax(load_iris()["test"][1], axis=1)
    extra = {"labels": labels, "spec": spec}
    return one_stage("iris", request, {}, [], ("test error",), extra, iris_files())


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
