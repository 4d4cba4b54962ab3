"""``nn-gradcheck`` (also ``python -m numpy_nn.gradcheck``): every hand-derived gradient of
numpy_nn against central differences, in float64, as one table; exit status 1 if any fails."""

from commands.entry import argument_parser, run_main
from numpy_nn.gradcheck import report


def main(argv=None) -> int:
    argument_parser("nn-gradcheck", __doc__).parse_args(argv)
    return run_main(report)
