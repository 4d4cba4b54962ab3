"""FullyConnected, Conv2D, Pool2D, Flatten and BatchNorm1D against the course-format fixtures:
the forward output, dL/dX and every parameter's gradient; for BatchNorm1D also its cache, its
running statistics and its evaluation mode."""

import numpy as np

try:
    from . import utils as course
except ImportError:  # loaded as a top-level module (python -m unittest, from inside tests/)
    import utils as course


class TestFullyConnected(course.LayerForwardBackwardTest):
    LayerCls = course.find("layers", "FullyConnected")
    parameters = ("W", "b")


class TestConv2D(course.LayerForwardBackwardTest):
    LayerCls = course.find("layers", "Conv2D")
    parameters = ("W", "b")


class TestPool2D(course.LayerForwardBackwardTest):
    LayerCls = course.find("layers", "Pool2D")


class TestFlatten(course.LayerForwardBackwardTest):
    LayerCls = course.find("layers", "Flatten")


class TestBatchNorm1D(course.LayerForwardBackwardTest):
    """Training mode with the fixture's gamma, beta and running statistics; backward from the
    cache the test writes by hand (X, X_hat, mu, var), as the course's tests do."""

    LayerCls = course.find("layers", "BatchNorm1D")
    parameters = ("gamma", "beta")

    def build(self, i, config):
        layer, inputs = super().build(i, config)
        layer.cache["running_mu"] = self.get(i, "running_mu")
        layer.cache["running_var"] = self.get(i, "running_var")
        return layer, inputs

    def test_backward(self):
        for i, config in self.each_case():
            layer, _ = self.build(i, config)
            for key in ("X_hat", "mu", "var"):
                layer.cache[key] = self.get(i, key)
            layer.cache["X"] = self.get(i, "input")[0]
            dX = layer.backward(self.get(i, "upstream_grad"))
            course.assert_close(dX, self.get(i, "backward"), "backward: dL/dX")
            for name in self.parameters:
                course.assert_close(
                    layer.gradients[name], self.get(i, f"d{name}"), f"gradients[{name!r}]"
                )

    def test_forward_caches_the_batch_statistics(self):
        for i, config in self.each_case():
            layer, inputs = self.build(i, config)
            layer.forward(*inputs)
            for key in ("X_hat", "mu", "var"):
                course.assert_close(layer.cache[key], self.get(i, key), f"cache[{key!r}]")

    def test_running_statistics_average_the_batches(self):
        """running = momentum * running + (1 - momentum) * the batch's (biased) statistic."""
        for i, config in self.each_case():
            layer, inputs = self.build(i, config)
            layer.forward(*inputs)
            for key in ("running_mu", "running_var"):
                course.assert_close(layer.cache[key], self.get(i, f"new_{key}"), f"cache[{key!r}]")

    def test_test_mode_uses_the_running_statistics(self):
        for i, config in self.each_case():
            layer, inputs = self.build(i, config)
            layer.cache["running_mu"] = self.get(i, "new_running_mu")
            layer.cache["running_var"] = self.get(i, "new_running_var")
            out = layer.forward(*inputs, mode="test")
            course.assert_close(out, self.get(i, "test_output"), "forward(X, mode='test')")
            assert np.all(np.isfinite(out))
