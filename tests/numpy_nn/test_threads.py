"""Elementwise passes split over threads (numpy_nn/threads.py) give the same bits as in one piece,
and an error in a thread's part is raised to the caller."""

import numpy as np
import pytest

from numpy_nn import threads
from numpy_nn.layers import initialize_layer

CASES = [
    ("pool2d", {"kernel_shape": 2, "stride": 2, "mode": "max"}, (7, 8, 8, 3)),
    ("pool2d", {"kernel_shape": 3, "stride": 2, "mode": "max", "pad": 1}, (7, 9, 9, 3)),
    ("pool2d", {"kernel_shape": 3, "stride": 1, "mode": "average"}, (5, 6, 6, 2)),
    (
        "conv2d",
        {"n_out": 4, "kernel_shape": 3, "activation": "relu", "algorithm": "winograd", "seed": 0},
        (7, 7, 6, 3),
    ),
]


def _run(kind, options, shape, mode):
    rng = np.random.default_rng(0)
    X = rng.normal(size=shape).round(1)  # ties, for max pooling's first-maximum rule
    layer = initialize_layer(kind, **options)
    layer.set_mode("train")
    Y = layer.forward(X)
    dX = layer.backward(rng.normal(size=Y.shape))
    layer.set_mode(mode)
    Y2 = layer.forward(X + 1)
    return [Y, dX, Y2, layer.backward(np.ones_like(Y2)), *layer.gradients.values()]


@pytest.mark.parametrize("kind, options, shape", CASES, ids=lambda c: str(c))
@pytest.mark.parametrize("mode", ["train", "test"])
def test_threaded_passes_give_the_same_bits(kind, options, shape, mode, monkeypatch):
    monkeypatch.setattr(threads, "MIN_BYTES", 1 << 60)  # one piece
    whole = _run(kind, options, shape, mode)
    monkeypatch.setattr(threads, "MIN_BYTES", 0)
    monkeypatch.setattr(threads, "CORES", 3)  # uneven parts, whatever this machine has
    monkeypatch.setattr(threads, "_pool", None)
    parts = _run(kind, options, shape, mode)
    for a, b in zip(whole, parts, strict=True):
        np.testing.assert_array_equal(a, b)


def test_an_error_in_a_part_reaches_the_caller(monkeypatch):
    monkeypatch.setattr(threads, "MIN_BYTES", 0)
    monkeypatch.setattr(threads, "CORES", 2)
    seen = []

    def work(part):
        seen.append(part)
        if part.start:
            raise ValueError("the second half failed")

    with pytest.raises(ValueError, match="second half"):
        threads.over_batch(work, 10, 1)
    assert sorted(p.start for p in seen) == [0, 5]
