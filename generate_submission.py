"""Generate the code appendix of the write-up from the project's source.

    python generate_submission.py --format markdown --heading_level 1 --output appendix.md
    python generate_submission.py --format latex --heading_level 2 --output appendix.tex

It extracts the implemented pieces (numpy activations, layers, losses, the model's forward /
backward / predict, the autograd bridge, the Lightning MLP and CNN) into sections. The list of
pieces lives in lightning_hw/submission.py (PIECES).

Markdown: headings '#' ... '###' starting at --heading_level, code in ```python fences; the file
renders on its own. LaTeX: \\section / \\subsection / \\subsubsection starting at --heading_level
(1 = \\section), code in lstlisting environments; meant for \\input{} in a document that loads
\\usepackage{listings}.
"""

import argparse
import os
import sys

from lightning_hw.submission import generate
from numpy_nn.logs import atomic_write


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--format", choices=("latex", "markdown"), default="markdown", help="output format"
    )
    p.add_argument(
        "--heading_level",
        type=int,
        choices=(1, 2, 3),
        default=1,
        help="level of the top heading: 1 = '#' or \\section, 2 = '##' or \\subsection, ...",
    )
    p.add_argument("--output", default="-", help="file to write (default: standard output)")
    args = p.parse_args(argv)
    text = generate(args.format, args.heading_level)
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    directory = os.path.dirname(os.path.abspath(args.output))
    if not os.path.isdir(directory):
        print(
            f"error: cannot write {args.output}: directory {directory} does not exist",
            file=sys.stderr,
        )
        return 2

    def write(tmp):
        with open(tmp, "w") as f:
            f.write(text)

    atomic_write(args.output, write)
    print(f"wrote {args.output} ({args.format}, {text.count(chr(10))} lines)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
