"""numpy_nn: a feed-forward network in plain numpy with hand-derived gradients; the handout's
``neural_networks`` package (hw3.zip ships it under that name), with its names and conventions.

Modules, one idea each: activations, layers (every layer; the image layers are written in conv,
normalization and regularization), losses, weights, optimizers, schedulers, models, datasets,
logs, utils (the handout's helpers), gradcheck, experiment (the Iris run and sweep behind
train_ffnn.py), fashion_cnn (train_cnn.py). No torch anywhere.
"""
