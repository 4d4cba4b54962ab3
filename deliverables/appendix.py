"""Generate the code appendix of the write-up: all the code that reproduces the results, as
shipped in hw3/ (``numpy_nn`` under the handout's name, ``neural_networks``).

    python generate_submission.py --format markdown --heading_level 1 --output appendix.md
    python generate_submission.py --format latex --heading_level 2 --output appendix.tex

``APPENDIX`` is what goes in, question by question (the questions' own lists in
``deliverables/questions.yaml``, then the extras and the shared code here): whole files (``*.py``, each
listed once, under the first question that needs it), single classes or functions (a dotted
name, where a question's code sits in an earlier file), and ``config:<entry>``, the YAML of a
shown experiment (``deliverables/shown.yaml``): the run's resolved config in the report; here,
without a run, the experiment file and the fragments it builds on. Together they hold every
module that ``train_ffnn.py`` and ``train.py`` load (a test checks it).

Markdown: headings '#' ... '###' starting at --heading_level, code in fences; the file renders on
its own. LaTeX: the same text converted by pandoc (``deliverables/render.py``): \\section /
\\subsection / \\subsubsection starting at --heading_level (1 = \\section), code in lstlisting
environments; meant for \\input{} in a document that loads \\usepackage{listings} and
\\usepackage{hyperref} (the contents' links), compiled
with xelatex or lualatex.
"""

import importlib
import inspect
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from commands.configs import fragments
from commands.entry import argument_parser, run_main
from deliverables import render
from deliverables.questions import questions
from deliverables.shown import shown
from plumbing.files import output_file, write_text
from plumbing.handout import handout_names

ROOT = Path(__file__).resolve().parents[1]
SHARED = "Shared code: entry points, errors, files, runs"
EXTRAS: list[tuple[str, tuple[str, ...]]] = [
    # not course questions
    ("Extra: numpy layers inside PyTorch", (
        "lightning_hw/bridge.py", "lightning_hw/networks/stack.py", "lightning_hw/networks/iris.py",
        "lightning_hw/datamodules/iris.py", "commands/compare.py",
    )),
    ("Extra: image layers in numpy", (
        "numpy_nn/conv.py", "numpy_nn/normalization.py", "numpy_nn/regularization.py",
        "numpy_nn/recurrent.py", "numpy_nn/threads.py", "numpy_nn/winograd.py",
    )),
    # what every command shares, once, at the end
    (SHARED, (
        "commands/entry.py", "commands/quiet.py", "commands/allocator.py",
        "lightning_hw/precision.py", "lightning_hw/seeding.py", "lightning_hw/runs.py",
        "lightning_hw/io.py", "lightning_hw/checkpoints.py",
        "lightning_hw/networks/base.py", "lightning_hw/networks/__init__.py",
        "lightning_hw/datamodules/__init__.py", "lightning_hw/__init__.py", "commands/__init__.py",
        "plumbing/__init__.py", "plumbing/errors.py", "plumbing/files.py", "plumbing/handout.py",
        "plumbing/paths.py", "plumbing/settings.py",
    )),
]  # fmt: skip
# the homework's questions (deliverables/questions.yaml), each on a page of its own, then the rest
APPENDIX: list[tuple[str, tuple[str, ...]]] = [
    (q.heading, q.appendix) for q in questions()
] + EXTRAS
NOTES = {q.heading: q.appendix_note for q in questions() if q.appendix_note} | {
    SHARED: "What every command above shares: the error policy, quiet output, atomic files, the "
    "run-folder layout, precision and seeding, checkpoints, and the packages' `__init__.py`.",
}  # a line under a question's heading


@dataclass(frozen=True)
class Listing:
    title: str  # Markdown: a path as shipped in hw3/, or a name and its file, as code

    @property
    def anchor(self) -> str:
        """The heading's id, for the appendix's table of contents."""
        return "code-" + re.sub(r"[^a-z0-9._]+", "-", self.title.lower()).strip("-")

    language: str  # python or yaml
    code: str


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


def config_text(key: str) -> tuple[str, str]:
    """(title, text) of a shown experiment's files: the experiment and the fragments it builds
    on, as written (the report shows a run's resolved config instead)."""
    entry = next(e for e in shown() if e.key == key)
    path = ROOT / entry.config
    parts = [*fragments(path), path]
    text = "\n".join(f"# --- {p.relative_to(ROOT)}\n{p.read_text().rstrip()}\n" for p in parts)
    return f"`{entry.config}` and the fragments it builds on", text


def listing(item: str, configs: dict[str, str] | None = None) -> Listing:
    """One entry of ``APPENDIX``; ``configs`` ({shown key: resolved YAML}) replaces a config item."""
    if item.startswith("config:"):
        key = item.split(":", 1)[1]
        if configs and key in configs:
            title = f"{next(e for e in shown() if e.key == key).title}: the run's resolved config"
            return Listing(title, "yaml", configs[key])
        title, text = config_text(key)
        return Listing(title, "yaml", text)
    if item.endswith(".py"):
        code = handout_names((ROOT / item).read_text())
        return Listing(f"`{handout_names(item)}`", "python", code)
    obj = resolve(item)
    where = Path(inspect.getfile(obj)).resolve().relative_to(ROOT).as_posix()
    title = f"`{obj.__qualname__}` (`{handout_names(where)}`)"
    return Listing(title, "python", handout_names(source(item)))


def groups(configs: dict[str, str] | None = None) -> list[tuple[str, str, list[Listing]]]:
    """(question, its note, its listings), in order."""
    return [
        (section, NOTES.get(section, ""), [listing(i, configs) for i in items])
        for section, items in APPENDIX
    ]


def contents(configs=None) -> str:
    """The appendix's table of contents: each question and the code listed for it, as links."""
    lines = []
    for section, _, items in groups(configs):
        links = ", ".join(f"[{item.title}](#{item.anchor})" for item in items)
        lines.append(f"- **{section}**: {links}")
    return "\n".join(lines) + "\n"


def listing_markdown(item: Listing, level: int) -> str:
    """One listing: its heading (with the id ``contents`` links to) and its code."""
    fence = "`" * max([3] + [len(m) + 1 for m in re.findall(r"`{3,}", item.code)])
    return (
        f"{'#' * level} {item.title} {{#{item.anchor}}}\n\n"
        f"{fence}{item.language}\n{item.code.rstrip()}\n{fence}\n"
    )


def markdown(heading_level: int = 1, configs=None) -> str:
    """The appendix in pandoc's Markdown (headings carry ids for the contents' links)."""
    h = "#" * heading_level
    out = [f"{h} Code appendix\n", contents(configs)]
    for section, note, items in groups(configs):
        out.append(f"{h}# {section}\n" + (f"\n{note}\n" if note else ""))
        out += [listing_markdown(item, heading_level + 2) for item in items]
    return "\n".join(out)


def latex(heading_level: int = 1, configs=None) -> str:
    """The same appendix as LaTeX for ``\\input`` (pandoc, ``deliverables/render.py``): headings
    from \\section (level 1) down, code in ``lstlisting`` (needs \\usepackage{listings} and
    hyperref, and
    xelatex or lualatex for the code's few non-ASCII symbols)."""
    return render.to_latex(markdown(heading_level, configs), document=False)


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
