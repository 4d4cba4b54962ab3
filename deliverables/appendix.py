"""Generate the code appendix of the write-up from the project's source.

    python generate_submission.py --format markdown --heading_level 1 --output appendix.md
    python generate_submission.py --format latex --heading_level 2 --output appendix.tex

``PIECES`` is the one list of what goes in: (section, subsection, dotted name); every name must
resolve to a class, function or method (a test imports each one). It extracts the implemented pieces (numpy activations, layers, losses, the model's forward /
backward / predict, the autograd bridge, the Lightning MLP and CNN) into sections.

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
from lightning_hw.io import write_text

PIECES = [
    ("numpy network: activations", "Sigmoid", "numpy_nn.activations.Sigmoid"),
    ("numpy network: activations", "TanH", "numpy_nn.activations.TanH"),
    ("numpy network: activations", "ReLU", "numpy_nn.activations.ReLU"),
    ("numpy network: activations", "ArcTan", "numpy_nn.activations.ArcTan"),
    ("numpy network: activations", "SoftMax", "numpy_nn.activations.SoftMax"),
    ("numpy network: layers", "Layer", "numpy_nn.base.Layer"),
    ("numpy network: layers", "WeightedLayer", "numpy_nn.base.WeightedLayer"),
    ("numpy network: layers", "FullyConnected", "numpy_nn.layers.FullyConnected"),
    ("numpy network: image layers", "Conv2D", "numpy_nn.conv.Conv2D"),
    ("numpy network: image layers", "Pool2D", "numpy_nn.conv.Pool2D"),
    ("numpy network: image layers", "Flatten", "numpy_nn.layers.Flatten"),
    ("numpy network: image layers", "BatchNorm1D", "numpy_nn.normalization.BatchNorm1D"),
    ("numpy network: image layers", "Dropout", "numpy_nn.regularization.Dropout"),
    ("numpy network: losses", "CrossEntropy", "numpy_nn.losses.CrossEntropy"),
    ("numpy network: losses", "L2", "numpy_nn.losses.L2"),
    (
        "numpy network: weights and optimizer",
        "initialize_weights",
        "numpy_nn.weights.initialize_weights",
    ),
    ("numpy network: weights and optimizer", "SGD", "numpy_nn.optimizers.SGD"),
    ("numpy network: the model", "NeuralNetwork.forward", "numpy_nn.models.NeuralNetwork.forward"),
    (
        "numpy network: the model",
        "NeuralNetwork.backward",
        "numpy_nn.models.NeuralNetwork.backward",
    ),
    ("numpy network: the model", "NeuralNetwork.update", "numpy_nn.models.NeuralNetwork.update"),
    ("numpy network: the model", "NeuralNetwork.predict", "numpy_nn.models.NeuralNetwork.predict"),
    ("numpy network: the model", "NeuralNetwork.train", "numpy_nn.models.NeuralNetwork.train"),
    ("numpy layers inside PyTorch", "NumpyLayerFunction", "lightning_hw.bridge.NumpyLayerFunction"),
    ("numpy layers inside PyTorch", "NumpyModule", "lightning_hw.bridge.NumpyModule"),
    ("PyTorch Lightning", "Classifier", "lightning_hw.classifier.Classifier"),
    ("PyTorch Lightning", "Fashion-MNIST MLP", "lightning_hw.networks.mlp.MLP"),
    ("PyTorch Lightning", "CIFAR-10 CNN", "lightning_hw.networks.cnn.CifarCNN"),
    ("PyTorch Lightning", "CIFAR-10 CNN: building blocks", "lightning_hw.networks.cnn.ConvGroup"),
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


_TEX_SPECIALS = {
    "\\": r"\textbackslash{}",
    "_": r"\_",
    "&": r"\&",
    "%": r"\%",
    "#": r"\#",
    "$": r"\$",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\^{}",
}
# listings cannot typeset multi-byte UTF-8: spell the few symbols our docstrings use in ASCII
_ASCII = {
    "⊙": "(.)",
    "Σ": "Sigma",
    "Λ": "Lambda",
    "±": "+/-",
    "σ": "sigma",
    "∂": "d",
    "≈": "~=",
    "→": "->",
    "≤": "<=",
    "≥": ">=",
    "×": "x",
    "−": "-",
    "²": "^2",
}


def _tex_escape(text: str) -> str:
    return "".join(_TEX_SPECIALS.get(ch, ch) for ch in text)


def _ascii(code: str) -> str:
    return "".join(_ASCII.get(ch, ch if ord(ch) < 128 else "?") for ch in code)


def latex(heading_level: int = 1) -> str:
    """Headings from \\section (level 1) down; listings in ``lstlisting`` (needs \\usepackage{listings})."""
    top, sub, subsub = LATEX_LEVELS[heading_level - 1 : heading_level + 2]
    out = [f"\\{top}{{Code appendix}}\n"]
    for section, items in _grouped().items():
        out.append(f"\\{sub}{{{_tex_escape(section)}}}\n")
        for title, dotted in items:
            code = _ascii(source(dotted))
            if "\\end{lstlisting}" in code:
                raise ValueError(f"{dotted} contains \\end{{lstlisting}} and cannot be listed")
            out.append(
                f"\\{subsub}{{{_tex_escape(title)}}}\n\\texttt{{{_tex_escape(dotted)}}}\n\n"
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
