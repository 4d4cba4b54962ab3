"""Every case of the conformance suite, in the course's format: a test class's cases are
``itertools.product(LayerConfigs, BatchSizes, InputSizes)``, case ``i`` stored under ``"{i}..."``
in ``fixtures/<TestClassName>.npz`` (``data/`` in hw3/tests, the course's name). ``generate_fixtures.py`` (PyTorch) and the tests both read this
module, so a case changes in one place.

The layer configurations and input sizes are the handout's; the batch sizes of the image layers
are smaller than the handout's 16 and 24, so that every fixture together stays a few MB.
"""

ACTIVATIONS = {  # test class -> the activation's class name in neural_networks.activations
    "TestLinear": "Linear",
    "TestSigmoid": "Sigmoid",
    "TestTanH": "TanH",
    "TestReLU": "ReLU",
    "TestSoftMax": "SoftMax",
    "TestArcTan": "ArcTan",
}
ACTIVATION_CASES = {"LayerConfigs": [{}], "BatchSizes": [1, 17, 64], "InputSizes": [(5,), (37,)]}

LAYER_CASES = {
    "TestFullyConnected": {
        "LayerConfigs": [
            {"n_out": 128, "activation": "relu"},
            {"n_out": 37, "activation": "tanh"},
            {"n_out": 256, "activation": "tanh"},
        ],
        "BatchSizes": [72],
        "InputSizes": [(61,), (311,)],
    },
    "TestConv2D": {
        "LayerConfigs": [
            {"n_out": 32, "kernel_shape": (3, 3), "activation": "relu"},
            {"n_out": 32, "kernel_shape": (3, 5), "activation": "relu"},
            {"n_out": 7, "kernel_shape": (5, 5), "activation": "relu", "stride": 1},
            {"n_out": 7, "kernel_shape": (5, 5), "activation": "relu", "stride": 2},
            {"n_out": 18, "kernel_shape": (3, 3), "activation": "tanh", "stride": 3},
        ],
        "BatchSizes": [2],
        "InputSizes": [(16, 16, 3), (32, 24, 21)],
    },
    "TestPool2D": {
        "LayerConfigs": [
            {"kernel_shape": (3, 3), "mode": "max", "stride": 2},
            {"kernel_shape": (2, 2), "mode": "max", "stride": 2},
            {"kernel_shape": (2, 2), "mode": "average"},
            {"kernel_shape": (3, 5), "mode": "max", "stride": 4, "pad": "valid"},
            {"kernel_shape": (5, 5), "mode": "average", "pad": 2},
        ],
        "BatchSizes": [3],
        "InputSizes": [(12, 12, 8), (44, 48, 4)],
    },
    "TestFlatten": {
        "LayerConfigs": [{"keep_dim": "first"}],
        "BatchSizes": [1, 5],
        "InputSizes": [(4, 3, 2), (7, 6)],
    },
    "TestBatchNorm1D": {
        "LayerConfigs": [{"momentum": 0.95, "eps": 1e-8}, {"momentum": 0.9, "eps": 1e-5}],
        "BatchSizes": [2, 32, 100],
        "InputSizes": [(7,), (64,)],
    },
}

LOSSES = {"TestCrossEntropy": "CrossEntropy", "TestL2": "L2"}  # test class -> loss class
LOSS_CASES = {  # the handout's losses take their name
    "TestCrossEntropy": {"LayerConfigs": [{"name": "cross_entropy"}]},
    "TestL2": {"LayerConfigs": [{"name": "l2"}]},
}
LOSS_SIZES = {"BatchSizes": [1, 13, 50], "InputSizes": [(3,), (10,)]}


def cases(spec: dict):
    """(i, config, batch size, input size) of every case of a test class, in the stored order."""
    from itertools import product

    grid = product(spec["LayerConfigs"], spec["BatchSizes"], spec["InputSizes"])
    for i, (config, batch, size) in enumerate(grid):
        yield i, config, batch, tuple(size)


def spec_of(test_class: str) -> dict:
    if test_class in ACTIVATIONS:
        return ACTIVATION_CASES
    if test_class in LOSSES:
        return {**LOSS_CASES[test_class], **LOSS_SIZES}
    return LAYER_CASES[test_class]
