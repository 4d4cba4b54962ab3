"""The grader on handout-style packages of every layout (tests/grading/handouts.py): a correct
package gets its semester's full marks in all three forms (the package folder, the release
folder around it, a zip of that); each kind of mistake students make loses exactly the
sub-parts it breaks, with a line that names its cause; what a semester never asked is neither
graded nor counted."""

import zipfile

import pytest

from grading import grader, semesters
from grading.submission import Submission, locate
from tests.grading import handouts

CONFIG = grader.load_config()


def _grade(folder, only=(), semester=None):
    return grader.grade(
        Submission(folder / "neural_networks", folder), None, CONFIG, semester, only
    )


def _by_name(grade) -> dict:
    return {r.name: r for r in grade.results}


def _zip(folder, path):
    with zipfile.ZipFile(path, "w") as z:
        for f in sorted(folder.rglob("*")):
            if f.is_file():
                z.write(f, f"code/{f.relative_to(folder)}")
    return path


EXPECTED = {  # layout: (maximum, pieces graded for points, pieces checked for no points)
    "A": (
        90,
        {
            "activations.Sigmoid",
            "activations.ReLU",
            "activations.SoftMax",
            "layers.FullyConnected",
            "layers.Conv2D",
            "layers.Pool2D",
            "losses.CrossEntropy",
            "models.NeuralNetwork",
            "iris",
        },
        {"activations.Linear", "activations.TanH", "activations.ArcTan", "layers.Flatten"},
    ),
    "B": (
        100,
        {
            "activations.Sigmoid",
            "activations.ReLU",
            "activations.SoftMax",
            "layers.FullyConnected",
            "layers.Conv2D",
            "layers.Pool2D",
            "losses.CrossEntropy",
            "losses.L2",
            "models.NeuralNetwork",
            "iris",
        },
        {"activations.Linear", "activations.TanH", "activations.ArcTan", "layers.Flatten"},
    ),
    "C": (
        92,
        {
            "activations.ReLU",
            "activations.SoftMax",
            "layers.FullyConnected",
            "layers.Elman",
            "layers.Conv2D",
            "losses.CrossEntropy",
            "losses.L2",
            "models.NeuralNetwork",
            "iris",
        },
        {"activations.Linear", "activations.TanH"},  # Sigmoid: optional and not written
    ),
    "old": (
        70,
        {
            "activations.Sigmoid",
            "activations.ReLU",
            "activations.SoftMax",
            "layers.FullyConnected",
            "losses.CrossEntropy",
            "models.NeuralNetwork",
            "iris",
        },
        {"activations.Identity", "activations.TanH"},
    ),
}


@pytest.mark.parametrize("layout", list(EXPECTED))
def test_a_correct_package_gets_full_marks_in_every_form(tmp_path, layout):
    maximum, graded, checked = EXPECTED[layout]
    folder = handouts.release(layout, tmp_path / "code", init=layout != "C")  # C: no __init__.py
    forms = {
        "folder": Submission(folder / "neural_networks", None),
        "release": locate(folder, tmp_path / "s1"),
        "zip": locate(_zip(folder, tmp_path / "hw3.zip"), tmp_path / "s2"),
    }
    for form, submission in forms.items():
        grade = grader.grade(submission, None, CONFIG)
        results = _by_name(grade)
        assert grade.semester.name == layout, (form, grade.semester.how)
        assert grade.score == grade.total == maximum, (form, grader.table(grade))
        assert {r.name for r in grade.results if r.max_points > 0} == graded, form
        assert {r.name for r in grade.results if r.status in ("provided", "optional")} == checked
        assert "ArcTan" in str(results) or layout in ("C", "old")  # never asked: not listed


def test_the_first_line_names_the_semester_and_how_it_was_chosen(tmp_path):
    folder = handouts.release("B", tmp_path)
    grade = _grade(folder, only=("activations.ReLU",))
    assert (
        grade.heading().startswith("Semester: layout B")
        and "recognised from its files" in grade.heading()
    )
    forced = _grade(folder, only=("activations.ReLU",), semester="old")
    assert forced.semester.name == "old" and "--semester" in forced.heading()
    assert set(semesters.names()) == {"A", "A-fc", "hw3", "B", "C", "old"}


MISTAKES = [  # (layout, what, {marker: line}, piece, failed sub-parts, words in the line)
    (
        "A",
        "np.vectorize applies the activation one number at a time",
        {"@fc-forward-out": "out = np.vectorize(self.activation)(Z)"},
        "layers.FullyConnected",
        {"forward"},
        "its activation was given a single number, not all of the pre-activation Z at once",
    ),
    (
        "A",
        "the activation's output cached as Z and passed to its backward",
        {"@fc-forward-out": "out = Z = self.activation(Z)"},
        "layers.FullyConnected",
        {"dX", "dW", "db"},
        "its activation's backward was given the activation's output (what forward returned), not the pre-activation Z",
    ),
    (
        "A",
        "a transposed dW",
        {"@fc-backward-dW": "dW = (X.T @ dZ).T"},
        "layers.FullyConnected",
        {"dW"},
        "where (61, 128) is expected; likely cause: transposed",
    ),
    (
        "B",
        "dW divided by the batch size",
        {"@fc-backward-dW": "dW = X.T @ dZ / X.shape[0]"},
        "layers.FullyConnected",
        {"dW"},
        "divided by the batch size",
    ),
    (
        "B",
        "the bias left out of Z",
        {"@fc-forward-Z": "Z = X @ W"},
        "layers.FullyConnected",
        {"forward"},
        "FullyConnected(n_out=128, activation='relu').forward",
    ),
    (
        "A",
        "a backward that skips layer 0",
        {"@net-backward-loop": "for layer in self.layers[:0:-1]:"},
        "models.NeuralNetwork",
        {"backward"},
        "layer 0's backward was never called",
    ),
    (
        "old",
        "a forward that skips the last layer",
        {"@net-forward-loop": "for layer in self.layers[:-1]:"},
        "models.NeuralNetwork",
        {"forward", "predict"},
        "layer 2's forward was never called",
    ),
    (
        "B",
        "cross-entropy's backward as softmax and cross-entropy together",
        {"@ce-backward": "return (Y_hat - Y) / m"},
        "losses.CrossEntropy",
        {"backward"},
        "the gradient of softmax and cross-entropy together",
    ),
    (
        "C",
        "cross-entropy summed over the batch",
        {"@ce-forward": "return -np.sum(Y * np.log(Y_hat))"},
        "losses.CrossEntropy",
        {"forward"},
        "summed over the batch where it should average",
    ),
    (
        "B",
        "L2 without its 1/2",
        {"@l2-forward": "return np.sum((Y - Y_hat) ** 2) / Y.shape[0]"},
        "losses.L2",
        {"forward"},
        "off by a constant factor of 2",
    ),
    (
        "A",
        "the sign of ReLU's backward flipped",
        {"@relu-backward": "return -dY * (Z >= 0)"},
        "activations.ReLU",
        {"backward"},
        "the sign is flipped",
    ),
    (
        "A",
        "Sigmoid's backward without dY",
        {"@sigmoid-backward": "return s * (1 - s)"},
        "activations.Sigmoid",
        {"backward"},
        "did not multiply by the upstream gradient dY",
    ),
    (
        "old",
        "Sigmoid left as the starter's ...",
        {"@sigmoid-forward": "return ...", "@sigmoid-backward": "return ..."},
        "activations.Sigmoid",
        {"forward", "backward"},
        "the starter's placeholder",
    ),
    (
        "A",
        "softmax over the wrong axis",
        {"@softmax-forward": "return e / np.sum(e, axis=0, keepdims=True)"},
        "activations.SoftMax",
        {"forward", "backward"},
        "normalized over the batch (axis 0)",
    ),
    (
        "A",
        "a ReLU that raises",
        {"@relu-forward": "return np.maximum(0, Z, axis=1)"},
        "activations.ReLU",
        {"forward"},
        "neural_networks/activations.py:",
    ),
    (
        "B",
        "a max-pool backward that spreads to every input",
        {"@pool-backward-mask": "mask[n] = 1"},
        "layers.Pool2D",
        {"dX"},
        "Pool2D(kernel_shape=(3, 3), mode='max', stride=2).backward: dL/dX",
    ),
    (
        "A",
        "a conv forward without its bias",
        {"@conv-forward-bias": "Z = Z"},
        "layers.Conv2D",
        {"forward"},
        "Conv2D(n_out=32, kernel_shape=(3, 3), activation='relu').forward",
    ),
    (
        "C",
        "Elman's dU transposed",
        {"@elman-dU": "dU += (self.cache['s'][t].T @ dZ).T"},
        "layers.Elman",
        {"dU"},
        "transposed",
    ),
    (
        "C",
        "Elman's dX list in reverse time order (accepted)",
        {"@elman-dX": "dLdX.append(dZ @ W.T)"},
        "layers.Elman",
        set(),
        "the steps in reverse order",
    ),
    (
        "B",
        "code written for numpy 1 (np.product, np.float)",
        {"@fc-forward-Z": "Z = np.dot(X, W).astype(np.float) + b * np.product((1,))"},
        "layers.FullyConnected",
        set(),
        "",
    ),
    (
        "A",
        "a library the course's environment lacks",
        {"@relu-forward": "import seaborn; return np.maximum(0, Z)"},
        "activations.ReLU",
        {"forward"},
        "environment: the module 'seaborn' is not installed",
    ),
    (
        "A",
        "an epsilon in cross-entropy's logarithm (accepted)",
        {
            "@ce-forward": "return -np.sum(Y * np.log(Y_hat + 1e-8)) / m",
            "@ce-backward": "return -Y / (m * (Y_hat + 1e-8))",
        },
        "losses.CrossEntropy",
        set(),
        "",
    ),
    (
        "B",
        "a ReLU that gives NaN for negative inputs",
        {"@relu-forward": "return np.sqrt(Z) * 0 + np.maximum(0, Z)"},
        "activations.ReLU",
        {"forward"},
        "NaN or inf in",
    ),
    (
        "old",
        "db summed over everything",
        {"@fc-backward-db": "db = np.sum(dZ)"},
        "layers.FullyConnected",
        {"db"},
        "shape () where (1, 128) is expected",
    ),
    (
        "A",
        "ReLU's backward as dY * sign(Z)",
        {"@relu-backward": "return dY * np.sign(Z)"},
        "activations.ReLU",
        {"backward"},
        "the negative side is not zeroed",
    ),
    (
        "A",
        "db summed over axis 1",
        {"@fc-backward-db": "db = np.sum(dZ, axis=1, keepdims=True)"},
        "layers.FullyConnected",
        {"db"},
        "summed over axis 1 (each example's values); db sums dL/dZ over axis 0, the batch",
    ),
    (
        "A",
        "softmax's backward summed over axis 0 (named on a batch of many rows)",
        {"@softmax-backward": "return s * (dY - np.sum(dY * s, axis=0, keepdims=True))"},
        "activations.SoftMax",
        {"backward"},
        "summed dY s over axis 0 (the batch)",
    ),
    (
        "A",
        "a Conv2D that slices [pad:-pad]: empty with pad='valid'",
        {"@conv-backward-dX": "dX = dXp[:, ph:-ph, pw:-pw, :]"},
        "layers.Conv2D",
        {"dX"},
        "pad='valid').backward: dL/dX for a batch of 2 x 6 x 5 x 3: shape (2, 0, 0, 3)",
    ),
    (
        "A",
        "ReLU's derivative at 0 taken as 0 (either is right)",
        {"@relu-backward": "return dY * (Z > 0)"},
        "activations.ReLU",
        set(),
        "",
    ),
]


@pytest.mark.parametrize(
    "layout, what, mistake, piece, parts, words", MISTAKES, ids=[m[1] for m in MISTAKES]
)
def test_each_mistake_loses_exactly_the_sub_parts_it_breaks(
    tmp_path, layout, what, mistake, piece, parts, words
):
    folder = handouts.release(layout, tmp_path, mistakes=mistake)
    result = _by_name(_grade(folder, only=(piece,)))[piece]
    failed = {line.split(":")[0] for line in result.output.splitlines() if not result.passed}
    points = CONFIG["points"][piece]
    assert failed == parts, result.output
    assert result.points == sum(v for k, v in points.items() if k not in parts), result.output
    assert words in result.output, result.output
    assert "/tmp" not in result.output and "grade-" not in result.output


def test_a_broken_layer_does_not_cost_the_network_too(tmp_path):
    """No double penalty: the network is graded with stand-ins for its layers and loss."""
    folder = handouts.release(
        "A",
        tmp_path,
        mistakes={"@fc-backward-dX": "dX = dZ @ W", "@ce-backward": "return Y / Y_hat"},
    )
    results = _by_name(
        _grade(
            folder, only=("layers.FullyConnected", "losses.CrossEntropy", "models.NeuralNetwork")
        )
    )
    assert not results["layers.FullyConnected"].passed and not results["losses.CrossEntropy"].passed
    assert results["models.NeuralNetwork"].passed, results["models.NeuralNetwork"].output


def test_a_piece_the_semester_never_asked_is_not_graded(tmp_path):
    """No ArcTan in C or old, no Conv2D in old, no L2 in A: not in the maximum; A's BatchNorm1D
    is graded only where the package has it."""
    for layout in ("C", "old"):
        grade = _grade(handouts.release(layout, tmp_path / layout), only=("activations.ArcTan",))
        assert grade.results == [] and grade.total == 0
    plain = _by_name(_grade(handouts.release("A", tmp_path / "a")))
    assert "layers.BatchNorm1D" not in plain and "losses.L2" not in plain
    with_bn = _grade(
        handouts.release("A", tmp_path / "bn", batchnorm=True), only=("layers.BatchNorm1D",)
    )
    assert [(r.name, r.points, r.max_points) for r in with_bn.results] == [
        ("layers.BatchNorm1D", 10, 10)
    ]


def test_iris_runs_the_handouts_way_and_a_broken_package_fails_it(tmp_path):
    good = _by_name(_grade(handouts.release("old", tmp_path / "good"), only=("iris",)))["iris"]
    assert good.passed and "flowers" in good.output
    broken = handouts.release(
        "B", tmp_path / "bad", mistakes={"@fc-backward-dW": "dW = 0 * X.T @ dZ"}
    )
    bad = _by_name(_grade(broken, only=("iris",)))["iris"]
    assert not bad.passed and bad.points == 0 and "test error" in bad.output


def test_the_iris_bound_holds_for_correct_packages_over_seeds():
    """Calibration of iris_max_test_error: the handout's run (raw features, its
    hyperparameters) with correct code, seeds 0-4, stays within it."""
    import numpy as np

    from numpy_nn.datasets import initialize_dataset
    from numpy_nn.models import initialize_model
    from numpy_nn.utils import AttrDict

    sem, errors = semesters.load()["B"], []
    for seed in range(5):
        np.random.seed(seed)  # noqa: NPY002 - the handout's script seeds the global state
        layers = [AttrDict(a) for a in sem.iris["layers"]]
        model = initialize_model("feed_forward", "cross_entropy", layers, AttrDict(sem.optimizer))
        data = initialize_dataset("iris", sem.iris["batch_size"], standardize=False)
        model.train(data, sem.iris["epochs"])
        errors.append(model.test(data)["error"])
    assert max(errors) <= CONFIG["iris_max_test_error"], errors


C_PADDING = {  # (a layout C package's change, whether its Conv2D is right)
    "the handout's compute_pad": ({}, True),
    "compute_pad reading X as (n, channels, rows, cols)": (
        {"utils/convolution.py": ("n, rows, cols, c = X.shape", "n, c, rows, cols = X.shape")},
        True,
    ),
    "layout A's (k - 1) // 2": (
        {
            "layers.py": (
                "pad2d(X, self.pad, self.kernel_shape, self.stride)",
                "pad2d(X, ((self.kernel_shape[0] - 1) // 2, (self.kernel_shape[1] - 1) // 2)"
                ' if self.pad == "same" else self.pad, self.kernel_shape, self.stride)',
            )
        },
        True,
    ),
    "layout A's shape with the values shifted": (
        {
            "layers.py": (
                "        Xp, p = pad2d(X, self.pad, self.kernel_shape, self.stride)\n        s = self.stride\n        rows",
                "        Xp = np.pad(X, ((0, 0), (0, 2 * ((kernel_height - 1) // 2)),"
                " (0, 2 * ((kernel_width - 1) // 2)), (0, 0)))\n        s = self.stride\n        rows",
            )
        },
        False,
    ),
}


@pytest.mark.parametrize("name", list(C_PADDING))
def test_layout_cs_conv2d_is_graded_at_every_stride_under_each_padding_rule(tmp_path, name):
    """Layout C's handout pads "same" with its compute_pad (larger than (k - 1) // 2 at stride
    > 1); either reading of X.shape and layout A's rule are accepted, a value wrong under every
    rule fails (it passed when stride > 1 was not graded)."""
    edits, right = C_PADDING[name]
    folder = handouts.release("C", tmp_path)
    for module, (old, new) in edits.items():
        path = folder / "neural_networks" / module
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new))
    result = _by_name(_grade(folder, only=("layers.Conv2D",)))["layers.Conv2D"]
    task = grader.reference("layers.Conv2D", semesters.load()["C"])
    strides = {c["config"].get("stride", 1) for c in task.stages[0].request["cases"]}
    assert strides >= {1, 2, 3}  # every stride of the cases is graded
    if right:
        assert result.passed and result.points == 10, result.output
    else:
        assert "forward" in {line.split(":")[0] for line in result.output.splitlines()}
        assert result.points < 10


GENERATE_SUBMISSION = '''"""The handout's generate_submission.py (its list is what matters here)."""

student_implementations = {
    "Activations": ["activations.ReLU", "activations.SoftMax"],
    "Layers": ["layers.FullyConnected"],
    "Loss": ["losses.CrossEntropy"],
    "Model": ["models.NeuralNetwork.forward", "models.NeuralNetwork.backward",
              "models.NeuralNetwork.predict"],
}
'''


def test_a_variant_without_convolutions_is_not_charged_for_them(tmp_path):
    """A layout A handout whose layers.py has only FullyConnected (no Conv2D or Pool2D class, its
    factory one branch): recognised as that variant, never charged for convolutions."""
    folder = handouts.release("A", tmp_path)
    (folder / "neural_networks" / "layers.py").write_text(handouts.variant_layers())
    grade = _grade(folder)
    names = {r.name for r in grade.results if r.max_points > 0}
    assert grade.semester.name == "A-fc", grade.heading()
    assert not names & {"layers.Conv2D", "layers.Pool2D"} and "layers.FullyConnected" in names
    assert grade.score == grade.total == 65, grader.table(grade)


def test_the_handouts_generate_submission_decides_what_is_graded(tmp_path):
    folder = handouts.release("A", tmp_path)
    (folder / "generate_submission.py").write_text(GENERATE_SUBMISSION)
    grade = _grade(folder)
    graded = {r.name for r in grade.results if r.max_points > 0}
    assert graded == {
        "activations.ReLU",
        "activations.SoftMax",
        "layers.FullyConnected",
        "losses.CrossEntropy",
        "models.NeuralNetwork",
        "iris",
    }, grader.table(grade)
    assert "generate_submission.py's student_implementations" in grade.heading().splitlines()[0]
    absent = {r.name for r in grade.results if "not in this handout" in r.output}
    assert absent >= {"activations.Sigmoid", "layers.Conv2D", "layers.Pool2D"}
    chosen = _grade(folder, semester="A")  # the staff's --semester: the profile alone decides
    assert "layers.Conv2D" in {r.name for r in chosen.results if r.max_points > 0}


def test_a_class_deleted_but_still_in_its_factory_is_charged(tmp_path):
    folder = handouts.release("A", tmp_path)
    path = folder / "neural_networks" / "layers.py"
    text = path.read_text()
    start, end = text.index("\nclass Pool2D(Layer):"), text.index("\nclass Flatten(Layer):")
    path.write_text(text[:start] + text[end:])
    result = _by_name(_grade(folder, only=("layers.Pool2D",)))["layers.Pool2D"]
    assert result.max_points == 10 and result.points == 0 and "defines no Pool2D" in result.output


def test_a_network_whose_backward_reads_its_own_forward_passes(tmp_path):
    """As the course's tests chain them, backward is given its own forward's output; one that
    reads a cache of it instead of ``out`` is right (and so is one that uses ``out``)."""
    folder = handouts.release("A", tmp_path)
    path = folder / "neural_networks" / "models.py"
    old = (
        "            X = layer.forward(X)\n        return X\n\n    def backward(self, target, out):\n"
        "        ### YOUR CODE HERE ###\n        L = self.loss.forward(target, out)\n"
        "        dLdY = self.loss.backward(target, out)\n"
    )
    new = (
        "            X = layer.forward(X)\n        self.cached = X\n        return X\n\n"
        "    def backward(self, target, out):\n        L = self.loss.forward(target, self.cached)\n"
        "        dLdY = self.loss.backward(target, self.cached)\n"
    )
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new))
    result = _by_name(_grade(folder, only=("models.NeuralNetwork",)))["models.NeuralNetwork"]
    assert result.passed and result.points == 15, result.output
