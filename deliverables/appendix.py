"""Generate the code appendix of the write-up from the project's source.

    python generate_submission.py --format markdown --heading_level 1 --output appendix.md
    python generate_submission.py --format latex --heading_level 2 --output appendix.tex

``PIECES`` is the one list of what goes in: (section, subsection, dotted name); every name must
resolve to a class, function or method (a test imports each one). Sections follow the
homework's questions (3.1 activation functions ... 4.2 the CIFAR-10 CNN), then the extras (the
autograd bridge, numpy_nn's image layers).

Markdown: headings '#' ... '###' starting at --heading_level, code in ```python fences; the file
renders on its own. LaTeX: \\section / \\subsection / \\subsubsection starting at --heading_level
(1 = \\section), code in lstlisting environments; meant for \\input{} in a document that loads
\\usepackage{listings}.
"""

import importlib
import inspect
import sys
import textwrap

from commands.entry import argument_parser, run_main
from deliverables.tex import ascii_only, tex_escape
from lightning_hw.io import output_file, write_text

PIECES = [
    # the homework's questions, in order; the report puts each group on a page of its own
    ("3.1 Activation functions", "Sigmoid", "numpy_nn.activations.Sigmoid"),
    ("3.1 Activation functions", "TanH", "numpy_nn.activations.TanH"),
    ("3.1 Activation functions", "ReLU", "numpy_nn.activations.ReLU"),
    ("3.1 Activation functions", "ArcTan", "numpy_nn.activations.ArcTan"),
    ("3.2 Fully-connected layer", "Layer", "numpy_nn.base.Layer"),
    ("3.2 Fully-connected layer", "WeightedLayer", "numpy_nn.base.WeightedLayer"),
    ("3.2 Fully-connected layer", "FullyConnected", "numpy_nn.layers.FullyConnected"),
    ("3.2 Fully-connected layer", "initialize_weights", "numpy_nn.weights.initialize_weights"),
    ("3.3 Softmax", "SoftMax", "numpy_nn.activations.SoftMax"),
    ("3.4 Cross-entropy", "CrossEntropy", "numpy_nn.losses.CrossEntropy"),
    ("3.4 Cross-entropy", "L2", "numpy_nn.losses.L2"),
    ("3.5 Two-layer networks", "SGD", "numpy_nn.optimizers.SGD"),
    ("3.5 Two-layer networks", "NeuralNetwork.forward", "numpy_nn.models.NeuralNetwork.forward"),
    ("3.5 Two-layer networks", "NeuralNetwork.backward", "numpy_nn.models.NeuralNetwork.backward"),
    ("3.5 Two-layer networks", "NeuralNetwork.update", "numpy_nn.models.NeuralNetwork.update"),
    ("3.5 Two-layer networks", "NeuralNetwork.predict", "numpy_nn.models.NeuralNetwork.predict"),
    ("3.5 Two-layer networks", "NeuralNetwork.train", "numpy_nn.models.NeuralNetwork.train"),
    ("4.1 Fashion-MNIST MLP", "Classifier", "lightning_hw.classifier.Classifier"),
    ("4.1 Fashion-MNIST MLP", "MLP", "lightning_hw.networks.mlp.MLP"),
    ("4.2 CIFAR-10 CNN", "CifarCNN", "lightning_hw.networks.cnn.CifarCNN"),
    ("4.2 CIFAR-10 CNN", "ConvGroup", "lightning_hw.networks.cnn.ConvGroup"),
    # not course questions
    (
        "Extra: numpy layers inside PyTorch",
        "NumpyLayerFunction",
        "lightning_hw.bridge.NumpyLayerFunction",
    ),
    ("Extra: numpy layers inside PyTorch", "NumpyModule", "lightning_hw.bridge.NumpyModule"),
    ("Extra: image layers in numpy", "Conv2D", "numpy_nn.conv.Conv2D"),
    ("Extra: image layers in numpy", "Pool2D", "numpy_nn.conv.Pool2D"),
    ("Extra: image layers in numpy", "Flatten", "numpy_nn.layers.Flatten"),
    ("Extra: image layers in numpy", "BatchNorm1D", "numpy_nn.normalization.BatchNorm1D"),
    ("Extra: image layers in numpy", "Dropout", "numpy_nn.regularization.Dropout"),
]


def resolve(dotted: str):
    """Import ``package.module.Name[.attr]``: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for attr in parts[i:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(f"cannot import {dotted}")


def source(dotted: str) -> str:
    return textwrap.dedent(inspect.getsource(resolve(dotted))).rstrip() + "\n"


def _grouped():
    sections: dict = {}
    for section, title, dotted in PIECES:
        sections.setdefault(section, []).append((title, dotted))
    return sections


def markdown(heading_level: int = 1) -> str:
    h = "#" * heading_level
    out = [f"{h} Code appendix\n"]
    for section, items in _grouped().items():
        out.append(f"{h}# {section}\n")
        for title, dotted in items:
            out.append(f"{h}## {title}\n\n`{dotted}`\n\n```python\n{source(dotted)}```\n")
    return "\n".join(out)


LATEX_LEVELS = ("section", "subsection", "subsubsection", "paragraph", "subparagraph")


def latex(heading_level: int = 1) -> str:
    """Headings from \\section (level 1) down; listings in ``lstlisting`` (needs \\usepackage{listings})."""
    top, sub, subsub = LATEX_LEVELS[heading_level - 1 : heading_level + 2]
    out = [f"\\{top}{{Code appendix}}\n"]
    for section, items in _grouped().items():
        out.append(f"\\{sub}{{{tex_escape(section)}}}\n")
        for title, dotted in items:
            code = ascii_only(source(dotted))
            if "\\end{lstlisting}" in code:
                raise ValueError(f"{dotted} contains \\end{{lstlisting}} and cannot be listed")
            out.append(
                f"\\{subsub}{{{tex_escape(title)}}}\n\\texttt{{{tex_escape(dotted)}}}\n\n"
                f"\\begin{{lstlisting}}[language=Python]\n{code}\\end{{lstlisting}}\n"
            )
    return "\n".join(out)


def generate(fmt: str, heading_level: int = 1) -> str:
    if fmt not in ("markdown", "latex"):
        raise ValueError(f"unknown format {fmt!r}: choose markdown or latex")
    if heading_level not in (1, 2, 3):
        raise ValueError(f"heading_level must be 1, 2 or 3, got {heading_level}")
    return markdown(heading_level) if fmt == "markdown" else latex(heading_level)


def main(argv=None) -> int:
    p = argument_parser("generate_submission.py", __doc__)
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

    def body() -> int:
        if args.output != "-":
            output_file(args.output)  # refused before any work
        text = generate(args.format, args.heading_level)
        if args.output == "-":
            sys.stdout.write(text)
            return 0
        write_text(args.output, text)
        print(f"wrote {args.output} ({args.format}, {text.count(chr(10))} lines)")
        return 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
