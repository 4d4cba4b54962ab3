"""The course's test layout: a ``LayerTest`` base (unittest) and one fixture per test class,
``data/<TestClassName>.npz`` (in its repository, the grader's ``grading/course/``, with the
cases), run against whatever package named ``neural_networks`` is
importable: the reference package in its repository (its ``conftest.py`` maps the name), the
copy shipped in hw3/, or a student's package for the grader.

    python -m unittest discover -s tests     # from hw3/ (or: python -m unittest, from hw3/tests/)

Case ``i`` of a test class is the i-th element of ``itertools.product(LayerConfigs,
BatchSizes, InputSizes)`` (``cases.py``); every comparison is ``assert_almost_equal(...,
decimal=4)``, as the course's tests do. A class the package does not define (Conv2D in a fall
semester's package) is skipped, not failed.
"""

import functools
import importlib
import importlib.util
import sys
import unittest
from pathlib import Path

import numpy as np
from numpy.testing import assert_almost_equal

HERE = Path(__file__).resolve().parent
if importlib.util.find_spec("neural_networks") is None:  # run from inside hw3/tests/
    sys.path.insert(0, str(HERE.parent))

# hw3/tests/ holds cases.py and data/; this repository keeps both with the grader
COURSE = HERE if (HERE / "cases.py").is_file() else HERE.parents[1] / "grading" / "course"
_spec = importlib.util.spec_from_file_location("course_cases", COURSE / "cases.py")
cases = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(cases)

DECIMAL = 4
FIXTURES = HERE / "data" if (HERE / "data").is_dir() else COURSE / "fixtures"


def find(module: str, name: str):
    """``neural_networks.<module>.<name>``, or None when the package does not define it."""
    return getattr(importlib.import_module(f"neural_networks.{module}"), name, None)


def assert_close(actual, expected, what: str) -> None:
    """``assert_almost_equal(decimal=4)``; an array of the right size in another shape (a bias
    gradient (n,) for (1, n)) is compared in the expected shape."""
    actual = np.asarray(actual, dtype=np.float64)
    if actual.shape != expected.shape and actual.size == expected.size:
        actual = actual.reshape(expected.shape)
    assert_almost_equal(actual, expected, decimal=DECIMAL, err_msg=what)


def _naming_the_case(test):
    """``test`` (a method that loops over ``each_case``), its failure naming the case it
    failed on: one failure per test (a body not written yet fails once, not once per case)."""

    @functools.wraps(test)
    def run(self):
        try:
            return test(self)
        except Exception as e:
            case = getattr(self, "case", None)
            if case is not None:
                where = "case {}: config {}, batch {}, input {}".format(*case)
                if isinstance(e, AssertionError) and e.args:
                    e.args = (f"{where}\n{e.args[0]}", *e.args[1:])
                elif hasattr(e, "add_note"):  # Python 3.11
                    e.add_note(where)
            raise

    return run


class LayerTest(unittest.TestCase):
    """One test class per layer, activation or loss: ``LayerCls`` is built from each
    configuration and checked against the fixture's cases."""

    LayerCls = None  # the class under test, e.g. find("layers", "Conv2D")
    parameters = ()  # what the fixture sets before the second forward, e.g. ("W", "b")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        for name, test in list(vars(cls).items()):
            if name.startswith("test") and callable(test):
                setattr(cls, name, _naming_the_case(test))

    @classmethod
    def setUpClass(cls):
        if cls.LayerCls is None:
            raise unittest.SkipTest(f"neural_networks has no {cls.__name__[len('Test') :]}")
        with np.load(FIXTURES / f"{cls.__name__}.npz", allow_pickle=False) as f:
            cls.fixture = {k: f[k].astype(np.float64) for k in f.files}

    def each_case(self):
        """(i, config) of every case in turn; the one in progress is ``self.case``, which a
        failure names."""
        for i, config, batch, size in cases.cases(cases.spec_of(type(self).__name__)):
            self.case = (i, config, batch, size)
            yield i, config
        self.case = None

    def get(self, i: int, key: str) -> np.ndarray:
        return self.fixture[f"{i}{key}"].copy()

    def build(self, i: int, config: dict):
        """The layer after one forward (its lazy parameters exist), then the fixture's
        parameters; returns (layer, the stacked forward arguments)."""
        layer = self.LayerCls(**config)
        inputs = self.get(i, "input")
        layer.forward(*inputs)
        for name in self.parameters:
            layer.parameters[name] = self.get(i, name)
        return layer, inputs


class ActivationTest(LayerTest):
    def test_forward(self):
        for i, config in self.each_case():
            out = self.LayerCls(**config).forward(*self.get(i, "input"))
            assert_close(out, self.get(i, "output"), "forward")

    def test_backward(self):
        for i, config in self.each_case():
            act = self.LayerCls(**config)
            dZ = act.backward(*self.get(i, "input"), dY=self.get(i, "upstream_grad"))
            assert_close(dZ, self.get(i, "backward"), "backward: dL/dZ")


class LayerForwardBackwardTest(LayerTest):
    def test_forward(self):
        for i, config in self.each_case():
            layer, inputs = self.build(i, config)
            assert_close(layer.forward(*inputs), self.get(i, "output"), "forward")

    def test_backward(self):
        for i, config in self.each_case():
            layer, inputs = self.build(i, config)
            layer.forward(*inputs)
            dX = layer.backward(self.get(i, "upstream_grad"))
            assert_close(dX, self.get(i, "backward"), "backward: dL/dX")
            for name in self.parameters:
                assert_close(layer.gradients[name], self.get(i, f"d{name}"), f"gradients[{name!r}]")


class LossTest(LayerTest):
    def test_forward(self):
        for i, config in self.each_case():
            loss = self.LayerCls(**config).forward(*self.get(i, "input"))
            assert_close(loss, self.get(i, "output"), "forward: the loss")

    def test_backward(self):
        for i, config in self.each_case():
            grad = self.LayerCls(**config).backward(*self.get(i, "input"))
            assert_close(grad, self.get(i, "backward"), "backward: dL/dY_hat")
