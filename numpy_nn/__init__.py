"""numpy_nn: a feed-forward network in plain numpy with hand-derived gradients.

Modules, one idea each: activations, layers, losses, weights, optimizers, models, datasets,
logs, gradcheck, experiment (the Iris run and sweep behind train_ffnn.py). No torch anywhere.
"""
