"""The benchmarks: ``SUITES`` lists the sections in report order, each a function returning its
markdown section, in a module per family (machine.py: the CPU, the speed reference, timing)."""

from bench.accuracy import cifar, fashion, iris, numpy_cnns
from bench.bridge import bridge_cnn, bridge_overhead
from bench.conv_algorithms import algorithms
from bench.eager import conv, numpy_vs_torch
from bench.grading_speed import grading
from bench.runtime import allocator, precision
from bench.steps import profile, twins
from bench.torch_step import torch_step

SUITES = {
    "numpy": numpy_vs_torch,
    "bridge": bridge_overhead,
    "fashion": fashion,
    "cifar": cifar,
    "iris": iris,
    "conv": conv,
    "bridge_cnn": bridge_cnn,
    "precision": precision,
    "allocator": allocator,
    "grading": grading,
    "profile": profile,
    "twins": twins,
    "numpy_cnns": numpy_cnns,
    "conv_algorithms": algorithms,
    "torch_step": torch_step,
}
