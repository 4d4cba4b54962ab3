"""CrossEntropy and L2 (the course's 1/(2m)) against the course-format fixtures."""

try:
    from . import utils as course
except ImportError:  # loaded as a top-level module (python -m unittest, from inside tests/)
    import utils as course


class TestCrossEntropy(course.LossTest):
    LayerCls = course.find("losses", "CrossEntropy")


class TestL2(course.LossTest):
    LayerCls = course.find("losses", "L2")
