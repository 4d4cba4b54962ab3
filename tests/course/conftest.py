"""In this repository the conformance suite runs against numpy_nn: the name the suite imports,
``neural_networks`` (the handout's), is mapped to numpy_nn and each of its modules, unless a
package of that name is importable already (a student's, for the grader)."""

import importlib
import importlib.util
import pkgutil
import sys

if importlib.util.find_spec("neural_networks") is None:
    import numpy_nn

    sys.modules["neural_networks"] = numpy_nn
    for module in pkgutil.iter_modules(numpy_nn.__path__):
        sys.modules[f"neural_networks.{module.name}"] = importlib.import_module(
            f"numpy_nn.{module.name}"
        )
