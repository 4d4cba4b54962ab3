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


# With BLAS on one core (OPENBLAS_NUM_THREADS=1, as train.py runs numpy backends) the layers share
# their products out too: the same values as in one piece up to the order of the per-thread sums.
PRODUCT_CASES = [
    ("conv2d", {"n_out": 4, "kernel_shape": 3, "activation": "relu", "seed": 0}, (7, 6, 5, 3)),
    (
        "conv2d",
        {"n_out": 3, "kernel_shape": 2, "stride": 2, "activation": "tanh", "seed": 1},
        (5, 8, 8, 2),
    ),
    (
        "conv2d",
        {"n_out": 4, "kernel_shape": 3, "activation": "relu", "algorithm": "winograd", "seed": 0},
        (7, 7, 6, 3),
    ),
    ("fully_connected", {"n_out": 5, "activation": "relu", "seed": 0}, (9, 7)),
]


@pytest.mark.parametrize("kind, options, shape", PRODUCT_CASES, ids=lambda c: str(c))
@pytest.mark.parametrize("keep_cols", [True, False])
def test_products_shared_out_equal_one_piece(kind, options, shape, keep_cols, monkeypatch):
    if not keep_cols:  # columns recomputed chunk by chunk, one example per chunk
        from numpy_nn.conv import Conv2D

        monkeypatch.setattr(Conv2D, "keep_cols_bytes", 1)
        monkeypatch.setattr(Conv2D, "max_chunk_bytes", 1)
    rng = np.random.default_rng(0)
    X, dY = rng.normal(size=shape), None

    def run():
        layer = initialize_layer(kind, **options)
        Y = layer.forward(X)
        dX = layer.backward(dY if dY is not None else np.ones_like(Y) + Y)
        return [Y, dX, *layer.gradients.values()]

    monkeypatch.setattr(threads, "BLAS_ONE_CORE", False)
    whole = run()
    monkeypatch.setattr(threads, "BLAS_ONE_CORE", True)
    monkeypatch.setattr(threads, "MIN_BYTES", 0)
    monkeypatch.setattr(threads, "CORES", 3)
    monkeypatch.setattr(threads, "_pool", None)
    parts = run()
    assert len(whole) == len(parts) >= 3
    for a, b in zip(whole, parts, strict=True):
        np.testing.assert_allclose(b, a, rtol=1e-12, atol=1e-13)


def test_matmul_shares_rows_only_when_blas_is_on_one_core(monkeypatch):
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(7, 5)).astype(np.float32), rng.normal(size=(5, 3))
    calls = []
    real = threads.over_batch
    monkeypatch.setattr(threads, "over_batch", lambda *a: calls.append(a[1]) or real(*a))
    monkeypatch.setattr(threads, "MIN_BYTES", 0)
    monkeypatch.setattr(threads, "CORES", 2)
    monkeypatch.setattr(threads, "BLAS_ONE_CORE", False)
    np.testing.assert_array_equal(threads.matmul(A, B), A @ B)
    assert calls == []  # BLAS's own threads share the one product
    monkeypatch.setattr(threads, "BLAS_ONE_CORE", True)
    out = threads.matmul(A, B)
    assert calls == [7] and out.dtype == np.float64
    np.testing.assert_allclose(out, A @ B, rtol=1e-12)


@pytest.mark.parametrize(
    "env, one_core",
    [
        ({}, False),
        ({"OPENBLAS_NUM_THREADS": "1"}, True),
        ({"OPENBLAS_NUM_THREADS": "2", "OMP_NUM_THREADS": "1"}, False),  # OpenBLAS's own first
        ({"OMP_NUM_THREADS": "1"}, True),
        ({"MKL_NUM_THREADS": " 1 "}, True),
    ],
)
def test_blas_on_one_core_read_from_the_environment(env, one_core):
    import os
    import subprocess
    import sys

    names = ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")
    clean = {k: v for k, v in os.environ.items() if k not in names}
    code = "from numpy_nn import threads; print(threads.BLAS_ONE_CORE)"
    out = subprocess.run(
        [sys.executable, "-c", code], env={**clean, **env}, capture_output=True, text=True
    )
    assert out.stdout.strip() == str(one_core), out.stderr
