"""What the course's handout calls things: numpy_nn ships as its ``neural_networks`` package."""

PACKAGE = "neural_networks"  # the handout's package: hw3/neural_networks/, students' code


def handout_names(text: str) -> str:
    """``text`` with numpy_nn renamed to the handout's ``neural_networks`` (what hw3/ ships),
    also inside longer names (``run_numpy_nn``): every shipped file is renamed alike."""
    return text.replace("numpy_nn", PACKAGE)


SUITE = ("__init__.py", "utils.py", "test_activations.py", "test_layers.py", "test_losses.py")


def course_suite(root) -> dict[str, bytes]:
    """The conformance suite in the course's layout, as hw3/ and the starter ship it
    (``tests/...``): the tests of ``tests/course``, and the cases and fixtures the grader keeps
    in ``grading/course`` (as ``tests/cases.py`` and ``tests/data/``, the course's folder
    name); not this repository's conftest or fixture generator."""
    from pathlib import Path

    suite, course = Path(root) / "tests" / "course", Path(root) / "grading" / "course"
    members = {f"tests/{name}": (suite / name).read_bytes() for name in SUITE}
    members["tests/cases.py"] = (course / "cases.py").read_bytes()
    for fixture in sorted((course / "fixtures").glob("*.npz")):
        members[f"tests/data/{fixture.name}"] = fixture.read_bytes()
    return members
