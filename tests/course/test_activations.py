"""Every activation's forward and backward against the course-format fixtures."""

try:
    from . import utils as course
except ImportError:  # loaded as a top-level module (python -m unittest, from inside tests/)
    import utils as course


class TestLinear(course.ActivationTest):
    LayerCls = course.find("activations", "Linear")


class TestSigmoid(course.ActivationTest):
    LayerCls = course.find("activations", "Sigmoid")


class TestTanH(course.ActivationTest):
    LayerCls = course.find("activations", "TanH")


class TestReLU(course.ActivationTest):
    LayerCls = course.find("activations", "ReLU")


class TestSoftMax(course.ActivationTest):
    LayerCls = course.find("activations", "SoftMax")


class TestArcTan(course.ActivationTest):
    LayerCls = course.find("activations", "ArcTan")
