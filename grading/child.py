"""What runs in the sandbox: one stage of one graded piece of the student's code, on the
grader's inputs.

    python -I child.py request.txt inputs.npz FD --limits AS,CPU,FSIZE,NPROC [--uid N]

It imports numpy, the student's ``neural_networks`` (beside it) and, for a layer or the network,
``standins`` (beside it); nothing else of the grader's. The request and its inputs hold inputs
only (data, upstream gradients, parameters, configurations): no value the student's code must
produce is in this process, so nothing done here can find one. The grader computes every
expected value outside, from the same inputs.

Where a piece calls other pieces, those are stand-ins that compute from what they are given
(``standins.py``: the activation inside a layer, the layers and the loss inside the network), so
a piece is graded on its own code alone; they record how they were called, for the feedback.

Before anything else it sets its own limits (``--limits``: address space, CPU seconds, file
size, processes) and, started as root, becomes its sandbox user (``--uid``), so the grader runs
no Python code between fork and exec.

Sub-parts run one at a time, each in its own ``try`` (an exception costs that sub-part, named
with the student's file and line), every case of one sub-part before the next sub-part. As each
sub-part of a case finishes, its arrays and the report so far go to the grader through the pipe
``FD`` (records: a kind byte, an 8-byte length, the bytes), and a record names the sub-part in
progress before it starts. A stage stopped by its time limit keeps every sub-part it finished,
and the grader can say which one was running.
"""

import ast
import importlib
import io
import json
import os
import sys
import traceback
from collections import OrderedDict


def confine(argv: list) -> None:
    """``--limits AS,CPU,FSIZE,NPROC``: this process's limits, hard, before any student code
    runs; ``--uid N`` (a sandbox run as root): then become user N, so the process limit holds
    and no capability is left."""
    import resource

    if "--limits" in argv:
        memory, cpu, fsize, nproc = (int(v) for v in argv[argv.index("--limits") + 1].split(","))
        for kind, value in (
            (resource.RLIMIT_AS, memory),
            (resource.RLIMIT_FSIZE, fsize),
            (resource.RLIMIT_CORE, 0),
            (resource.RLIMIT_NPROC, nproc),
        ):
            resource.setrlimit(kind, (value, value))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    if "--uid" in argv:
        uid = int(argv[argv.index("--uid") + 1])
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


if __name__ == "__main__":
    confine(sys.argv)

import numpy as np  # noqa: E402 - after giving up root

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = "neural_networks"
H = 1e-6  # central-difference step (float64 inputs)


# -- the course's environment ------------------------------------------------------------------
def numpy_as_the_course_had_it() -> None:
    """Names numpy 2 removed that code written for the course's numpy 1 uses: each behaves as
    it did there (``np.product`` is ``np.prod``, ``np.int`` is ``int``, ...)."""
    aliases = {
        "product": np.prod,
        "cumproduct": np.cumprod,
        "sometrue": np.any,
        "alltrue": np.all,
        "int": int,
        "float": float,
        "bool": bool,
        "object": object,
        "complex": complex,
        "str": str,
        "unicode": str,
        "float_": np.float64,
        "complex_": np.complex128,
        "string_": np.bytes_,
        "unicode_": np.str_,
        "round_": np.round,
        "NaN": np.nan,
        "NAN": np.nan,
        "Inf": np.inf,
        "Infinity": np.inf,
        "infty": np.inf,
        "PINF": np.inf,
        "NINF": -np.inf,
        "PZERO": 0.0,
        "NZERO": -0.0,
        "row_stack": np.vstack,
        "asfarray": lambda a, dtype=np.float64: np.asarray(a, dtype=dtype),
        "asscalar": lambda a: np.asarray(a).item(),
        "msort": lambda a: np.sort(a, axis=0),
        "in1d": lambda a, b, **k: np.isin(np.ravel(a), b, **k),
        "trapz": getattr(np, "trapezoid", None),
    }
    for name, value in aliases.items():
        try:
            getattr(np, name)
        except AttributeError:
            setattr(np, name, value)


class AttrDict(dict):
    """The handout's AttrDict: a dict whose keys are also attributes."""

    def __getattr__(self, key):
        try:
            return self[key]
        except KeyError:
            raise AttributeError(key) from None

    def __setattr__(self, key, value):
        self[key] = value


# -- what went wrong, in a student's words -----------------------------------------------------
class Wrong(Exception):
    """A result of the wrong kind (None, ..., text): the one line that says so."""


HANDOUT_MODULES = {  # the handout's own files, where a student's code is
    f"{m}.py"
    for m in ("activations", "layers", "losses", "models", "optimizers", "schedulers", "weights")
}


def where(exc: BaseException) -> str:
    """The student's nearest frame: the innermost in one of the handout's modules
    (``neural_networks/layers.py:52 in forward``), and the innermost in the package when that is
    another file (``..., via neural_networks/helpers.py:7 in f``)."""
    frames = traceback.extract_tb(exc.__traceback__)
    mine = [f for f in frames if f"{os.sep}{PACKAGE}{os.sep}" in f.filename]
    if not mine:
        return ""
    theirs = [f for f in mine if os.path.basename(f.filename) in HANDOUT_MODULES]
    nearest = (theirs or mine)[-1]
    text = _frame(nearest)
    return text if nearest is mine[-1] else f"{text}, via {_frame(mine[-1])}"


def _frame(f) -> str:
    rel = f.filename[f.filename.rindex(f"{os.sep}{PACKAGE}{os.sep}") + 1 :]
    return f"{rel}:{f.lineno} in {f.name}"


def describe(exc: BaseException) -> str:
    """One line for an exception: the kind, its message, where in the student's code."""
    if isinstance(exc, Wrong):
        return str(exc)
    if isinstance(exc, SystemExit):
        return "called sys.exit" + (f" ({where(exc)})" if where(exc) else "")
    if isinstance(exc, ModuleNotFoundError) and exc.name and not exc.name.startswith(PACKAGE):
        top = exc.name.split(".")[0]
        return f"environment: the module {top!r} is not installed where the grader runs code"
    if isinstance(exc, NotImplementedError):
        text = "not implemented (raises NotImplementedError)"
    else:
        message = (str(exc).strip().splitlines() or [""])[0].replace(HERE + os.sep, "")
        text = f"{type(exc).__name__}: {message}"[:240].rstrip(": ")
    at = where(exc)
    return f"{text} ({at})" if at else text


def as_array(value, what: str) -> np.ndarray:
    """``value`` as a float64 array, or Wrong naming what came back instead."""
    if value is None:
        raise Wrong(f"{what} returned None (not implemented, or a missing return?)")
    if value is Ellipsis:
        raise Wrong(f"{what} returned ... (the starter's placeholder: not implemented)")
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, np.ndarray) for v in value):
        shapes = {v.shape for v in value}
        if len(shapes) != 1:
            raise Wrong(f"{what} returned a list of arrays of different shapes {sorted(shapes)}")
        return np.stack([np.asarray(v, dtype=np.float64) for v in value])
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise Wrong(f"{what} returned {type(value).__name__}, not an array of numbers") from None
    return array


# -- what goes back ----------------------------------------------------------------------------
class Reply:
    """Arrays and report lines, sent to the grader (the pipe ``fd``) as each sub-part of each
    case finishes."""

    def __init__(self, fd: int):
        self.fd, self.arrays, self.report = fd, {}, {}

    def put(self, case: str, name: str, value, what: str) -> np.ndarray:
        array = as_array(value, what)
        self.arrays[f"{case}/{name}"] = array
        return array

    def fail(self, case: str, part: str, message: str) -> None:
        self.report.setdefault(case, {}).setdefault(part, message)

    def unit(self, case: str, part: str):
        """``with reply.unit(case, part): ...``: marks it running, catches what it raises
        into the report, and writes what it gave."""
        reply = self

        class Unit:
            def __enter__(self):
                reply._send(b"U", json.dumps({"case": case, "part": part}).encode())
                return self

            def __exit__(self, kind, exc, tb):
                if exc is not None:
                    reply.fail(case, part, describe(exc))
                reply.flush()
                return exc is not None and not isinstance(exc, KeyboardInterrupt)

        return Unit()

    def flush(self) -> None:
        if self.arrays:
            buffer = io.BytesIO()
            np.savez(buffer, **self.arrays)
            self._send(b"A", buffer.getvalue())
            self.arrays = {}
        self._send(b"R", json.dumps(self.report).encode())

    def _send(self, kind: bytes, data: bytes) -> None:
        record = memoryview(kind + len(data).to_bytes(8, "big") + data)
        while record:
            record = record[os.write(self.fd, record) :]


def note(reply: Reply, case: str, part: str, standin) -> None:
    """What a stand-in activation noted about how it was called (codes the grader words)."""
    if standin is not None and standin.notes:
        reply.fail(case, f"{part}:standin", ",".join(standin.notes))
        standin.notes.clear()


# -- the pieces --------------------------------------------------------------------------------
def module(name: str):
    return importlib.import_module(f"{PACKAGE}.{name}")


def find(name: str, cls: str):
    """The class ``cls`` of the student's module ``name``, or Wrong saying it is missing."""
    try:
        return getattr(module(name), cls)
    except AttributeError:
        raise Wrong(f"{PACKAGE}/{name}.py defines no {cls}") from None


def numerical(f, x: np.ndarray, upstream: np.ndarray) -> np.ndarray:
    """d sum(f(x) * upstream) / dx by central differences, one entry at a time."""
    grad = np.zeros_like(x)
    flat, g = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + H
        up = np.sum(as_array(f(x), "forward") * upstream)
        flat[i] = keep - H
        down = np.sum(as_array(f(x), "forward") * upstream)
        flat[i] = keep
        g[i] = (up - down) / (2 * H)
    return grad


def activation(req: dict, a: dict, reply: Reply) -> None:
    cls = req["cls"]
    acts = {c["name"]: find("activations", cls)() for c in req["cases"]}
    for part, run in (("forward", _activation_forward), ("backward", _activation_backward)):
        for c in req["cases"]:
            with reply.unit(c["name"], part):
                run(acts[c["name"]], cls, a[c["name"]], c["name"], reply)


def _activation_forward(act, cls, a, case, reply):
    reply.put(case, "Y", act.forward(a["Z"].copy()), f"{cls}.forward")


def _activation_backward(act, cls, a, case, reply):
    reply.put(case, "dZ", act.backward(a["Z"].copy(), a["dY"].copy()), f"{cls}.backward")


def loss(req: dict, a: dict, reply: Reply) -> None:
    cls = req["cls"]
    for part, name, method in (("forward", "loss", "forward"), ("backward", "grad", "backward")):
        for c in req["cases"]:
            mine = a[c["name"]]
            with reply.unit(c["name"], part):
                fn = find("losses", cls)(req["name"])
                value = getattr(fn, method)(mine["Y"].copy(), mine["Y_hat"].copy())
                reply.put(c["name"], name, value, f"{cls}.{method}")


# -- layers ------------------------------------------------------------------------------------
def _new_layer(req: dict, config: dict):
    """The student's layer, its activation (if any) the stand-in of the same name."""
    import standins

    lay = find("layers", req["cls"])(**config)
    standin = None
    if config.get("activation") is not None:
        standin = standins.Activation(config["activation"])
        lay.activation = standin
    if hasattr(lay, "init_weights"):  # any initializer will do: the grader sets the values
        lay.init_weights = lambda shape, *args, **kwargs: np.full(shape, 0.01)
    return lay, standin


def _install(lay, a: dict, names: list) -> None:
    """The grader's parameter values, in place of whatever the first forward pass built."""
    if not isinstance(getattr(lay, "parameters", None), dict):
        lay.parameters = OrderedDict()
    for name in names:
        lay.parameters[name] = a[f"param_{name}"].copy()
    grads = getattr(lay, "gradients", None)
    if not isinstance(grads, dict) or set(grads) != set(names):
        lay.gradients = OrderedDict((n, np.zeros_like(a[f"param_{n}"])) for n in names)
    if getattr(lay, "n_in", 0) is None and "n_in" in a:
        lay.n_in = int(a["n_in"])


def _mode(req: dict) -> dict:
    return {"mode": "train"} if req["cls"] == "BatchNorm1D" else {}


def _built(req: dict, case: dict, a: dict, reply=None, tolerate: bool = False) -> tuple:
    """The case's layer; with parameters, after its first forward (which builds them, as the
    course's tests do) and with the grader's values installed. The shapes it built go back when
    ``reply`` is given (the parameters sub-part); ``tolerate``: that first forward may fail."""
    lay, standin = _new_layer(req, case.get("config", {}))
    names = req.get("parameters", [])
    if not names:
        return lay, standin
    try:
        lay.forward(a["X"].copy(), **_mode(req))
        if reply is not None:
            _shapes(lay, req, case["name"], names, reply)
    except Exception:
        if not tolerate:
            raise
    finally:
        if names:
            _install(lay, a, names)
        if isinstance(getattr(lay, "cache", None), dict):  # batch norm's running statistics
            for key in ("running_mu", "running_var"):
                if f"cache_{key}" in a:
                    lay.cache[key] = a[f"cache_{key}"].copy()
    return lay, standin


def _shapes(lay, req: dict, case: str, names: list, reply: Reply) -> None:
    for name in names:
        reply.put(case, f"shape_{name}", np.shape(lay.parameters[name]), "parameters")
        reply.put(case, f"gshape_{name}", np.shape(lay.gradients[name]), "gradients")
    if req["cls"] == "BatchNorm1D":
        for key in ("running_mu", "running_var"):
            reply.put(case, f"shape_{key}", np.shape(lay.cache[key]), f"cache[{key!r}]")


def layer(req: dict, a: dict, reply: Reply) -> None:
    """A layer's stage: "forward" (its parameters, forward, and batch norm's statistics and
    evaluation), "backward" (dL/dX and the parameters' gradients, then the ungraded gradient
    check), or "all" (forward then backward on the same layers: pooling, Flatten, Elman)."""
    stage, cases, built = req.get("stage", "all"), req["cases"], {}
    if stage in ("forward", "all"):
        for c in cases if req.get("parameters") else ():
            with reply.unit(c["name"], "parameters"):
                built[c["name"]] = None
                built[c["name"]] = _built(req, c, a[c["name"]], reply)
        _forward(req, cases, a, built, reply)
    if stage == "backward":
        built = {c["name"]: None for c in cases}
    if stage in ("backward", "all"):
        _backward(req, cases, a, built, reply)
        if "check" in a:
            with reply.unit("check", "gradient check"):
                _gradient_check(req, a["check"], reply)


def _forward(req: dict, cases: list, a: dict, built: dict, reply: Reply) -> None:
    for c in cases:
        case, mine = c["name"], a[c["name"]]
        with reply.unit(case, "forward"):
            if built.get(case) is None:
                built[case] = _built(req, c, mine)
            lay, standin = built[case]
            reply.put(
                case, "Y", lay.forward(mine["X"].copy(), **_mode(req)), f"{req['cls']}.forward"
            )
        note(reply, case, "forward", built[case][1] if built.get(case) else None)
    if req["cls"] == "BatchNorm1D":
        _batchnorm_after(cases, a, built, reply)


def _batchnorm_after(cases: list, a: dict, built: dict, reply: Reply) -> None:
    """Batch norm's running statistics after the training forward, then evaluation mode from
    the grader's running statistics (whatever the training forward left there)."""
    for c in cases:
        with reply.unit(c["name"], "running statistics"):
            lay = built[c["name"]][0]
            for key in ("running_mu", "running_var"):
                reply.put(c["name"], key, lay.cache[key], f"cache[{key!r}]")
    for c in cases:
        mine = a[c["name"]]
        with reply.unit(c["name"], "evaluation"):
            lay = built[c["name"]][0]
            for key in ("running_mu", "running_var"):
                lay.cache[key] = mine[f"eval_{key}"].copy()
            Y = lay.forward(mine["X"].copy(), mode="test")
            reply.put(c["name"], "Y_test", Y, "forward(X, mode='test')")


def _backward(req: dict, cases: list, a: dict, built: dict, reply: Reply) -> None:
    names = req.get("parameters", [])
    for c in cases:
        case, mine = c["name"], a[c["name"]]
        standin = None
        with reply.unit(case, "backward"):
            if built.get(case) is None:  # a fresh layer: the student's own forward fills its cache
                built[case] = _built(req, c, mine, tolerate=True)
                _own_forward(req, built[case][0], mine)
            lay, standin = built[case]
            if standin is not None:
                standin.notes.clear()  # what forward did was said with forward
            _set_cache(lay, mine, req.get("restore", False))
            reply.put(case, "dX", lay.backward(mine["dY"].copy()), f"{req['cls']}.backward")
            for name in names:
                reply.put(case, f"d{name}", lay.gradients[name], f"gradients[{name!r}]")
        note(reply, case, "backward", standin)


def _own_forward(req: dict, lay, mine: dict) -> None:
    """The student's forward, to fill its cache for backward (its result is graded in the
    forward stage; what it raises there is said there)."""
    try:
        lay.forward(mine["X"].copy(), **_mode(req))
    except Exception:  # noqa: BLE001, S110 - backward may still run on the grader's cache
        pass


def _set_cache(lay, mine: dict, restore: bool) -> None:
    """The grader's values for the cache entries the handout names: batch norm's always (the
    course's test sets them by hand), X and Z only when ``restore`` (the student's forward was
    wrong: backward is then graded on its own code, not on that forward's cache). A cache entry
    of the student's own making (another kind of value) is left as it is."""
    cache = getattr(lay, "cache", None)
    if not isinstance(cache, dict):
        return
    for key in [k[len("cache_") :] for k in mine if k.startswith("cache_")]:
        if key.startswith("running"):
            continue
        value, old = mine[f"cache_{key}"], cache.get(key)
        if key in ("X", "Z"):
            if not restore:
                continue
            empty = old is None or (isinstance(old, (list, tuple)) and not old)
            if not (empty or (isinstance(old, np.ndarray) and old.shape == value.shape)):
                continue
        cache[key] = value.copy()


def _gradient_check(req: dict, a: dict, reply: Reply) -> None:
    """The student's backward against central differences of the student's own forward, on a
    small case (not graded: it tells a wrong backward from a wrong forward)."""
    config = {k: v for k, v in req["check_config"].items()}
    lay, _ = _new_layer(req, config)
    names = req.get("parameters", [])
    lay.forward(a["X"].copy())
    for name in names:
        lay.parameters[name] = a[f"param_{name}"].copy()
    lay.forward(a["X"].copy())
    analytic = as_array(lay.backward(a["dY"].copy()), "backward")
    reply.put("check", "analytic", analytic, "backward")
    reply.put("check", "numeric", numerical(lay.forward, a["X"].copy(), a["dY"]), "")


# -- the network -------------------------------------------------------------------------------
def network(req: dict, a: dict, reply: Reply) -> None:
    """The student's NeuralNetwork, built the handout's way, with stand-ins for its layers,
    loss and optimizer: only its own forward, backward and predict are graded. backward is
    given the target Y and its own forward's output (or, when that gave none usable, an ``out``
    of the grader's: ``standins.backward_out``)."""
    import standins

    calls, net = standins.Calls(), None
    with reply.unit("net", "setup"):
        net = _network(req, a["net"], calls)
    if net is None:
        return
    mine, given = a["net"], {}
    steps = [
        ("forward", "out", lambda: net.forward(mine["X"].copy()), "NeuralNetwork.forward"),
        (
            "backward",
            "loss",
            lambda: net.backward(
                mine["Y"].copy(), standins.backward_out(given.get("out"), mine["O"]).copy()
            ),
            "NeuralNetwork.backward",
        ),
    ]
    if req.get("predict"):
        steps.append(("predict", None, lambda: net.predict(mine["X"].copy(), mine["Y"].copy()), ""))
    for part, name, call, what in steps:
        calls.clear()
        with reply.unit("net", part):
            got = call()
            if name is None:  # predict: (Y_hat, loss)
                if not isinstance(got, tuple) or len(got) != 2:
                    raise Wrong("NeuralNetwork.predict should return (Y_hat, loss)")
                reply.put("net", "predict_out", got[0], "predict's Y_hat")
                reply.put("net", "predict_loss", got[1], "predict's loss")
            else:
                given[name] = reply.put("net", name, got, what)
        _record(reply, part, calls)
        reply.flush()


def _network(req: dict, a: dict, calls):
    import standins

    layers, losses, optimizers = module("layers"), module("losses"), module("optimizers")
    del layers, losses, optimizers  # imported first, as the handout's models.py does
    models = module("models")
    n = len(req["layer_args"])
    stand_ins = [standins.Layer(i, a[f"W{i}"], a[f"b{i}"], a[f"d{i}"], calls) for i in range(n)]
    queue = iter(stand_ins)
    loss_standin = standins.Loss(a["w"], a["u"], calls)
    models.initialize_layer = lambda *args, **kwargs: next(queue)
    models.initialize_loss = lambda *args, **kwargs: loss_standin
    models.initialize_optimizer = lambda *args, **kwargs: standins.Optimizer()
    net = models.NeuralNetwork(
        loss="cross_entropy",
        layer_args=[AttrDict(x) for x in req["layer_args"]],
        optimizer_args=AttrDict(req["optimizer_args"]),
        logger=None,
        seed=0,
    )
    net.layers = list(stand_ins)  # the handout's train() adds the output layer: all are here
    net.loss = loss_standin
    return net


KIND_CODES = {"forward": 0, "backward": 1, "loss": 2, "dloss": 3}


def _record(reply: Reply, part: str, calls) -> None:
    """The calls the stand-ins received during ``part``, as rows (kind, layer, number of
    arguments), each argument as an array beside them (``net/<part>_arg_<call>_<argument>``)."""
    rows = []
    for k, (kind, i, args) in enumerate(calls.calls):
        for j, arg in enumerate(args):
            reply.arrays[f"net/{part}_arg_{k:03d}_{j}"] = arg
        rows.append([KIND_CODES[kind], i, len(args)])
    reply.arrays[f"net/{part}_log"] = np.array(rows, dtype=np.float64).reshape(-1, 3)
    reply.arrays[f"net/{part}_more"] = np.asarray(float(calls.more))


# -- Iris, the handout's way -------------------------------------------------------------------
def iris(req: dict, a: dict, reply: Reply) -> None:
    """The handout's train_ffnn.py on the course's Iris split (datasets/iris/ in the working
    folder, its test labels a placeholder): the trained network's output on the test flowers."""
    models, datasets = module("models"), module("datasets")
    np.random.seed(req["seed"])  # noqa: NPY002 - the handout's script seeds the global state
    with reply.unit("iris", "train"):
        net = models.initialize_model(
            name="feed_forward",
            loss=req["loss"],
            layer_args=[AttrDict(x) for x in req["layer_args"]],
            optimizer_args=AttrDict(req["optimizer_args"]),
            logger=None,
        )
        dataset = datasets.initialize_dataset(name="iris", batch_size=req["batch_size"])
        net.train(dataset, req["epochs"])
        test = dataset.test  # the handout's Data keeps its array as data_
        X = getattr(test, "data_", None)
        X = getattr(test, "data", None) if X is None else X
        reply.put("iris", "out", net.forward(X), "the trained network's forward")


KINDS = {"activation": activation, "layer": layer, "loss": loss, "network": network, "iris": iris}


def _by_case(arrays: dict) -> dict:
    """{case: {name: array}} from the inputs' "<case>/<name>" keys."""
    out = {}
    for key, value in arrays.items():
        case, _, name = key.partition("/")
        out.setdefault(case, {})[name] = value
    return out


def main() -> None:
    sys.path.insert(0, HERE)  # python -I leaves it out: the student's package is beside us
    request_path, inputs_path, fd = sys.argv[1:4]
    with open(request_path) as f:
        req = ast.literal_eval(f.read())  # literals only, tuples kept
    with np.load(inputs_path, allow_pickle=False) as z:
        arrays = _by_case({k: z[k] for k in z.files})
    numpy_as_the_course_had_it()
    reply = Reply(int(fd))
    try:
        KINDS[req["kind"]](req, arrays, reply)
    except BaseException as e:  # noqa: BLE001 - sys.exit and KeyboardInterrupt too
        where = "import" if isinstance(e, (ImportError, SyntaxError)) else "setup"
        reply.fail("*", where, describe(e))
    reply.flush()


if __name__ == "__main__":
    main()
