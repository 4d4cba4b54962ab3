"""The write-up, by the homework's questions: ``report/report.md`` (+ PNGs), ``report.html``
(self-contained, math typeset as MathML at build time: no internet needed), ``report.tex`` (the
same sections and figures, for LaTeX/Overleaf) and, with ``--pdf``, ``report.pdf`` printed by
headless Chromium.

    python -m deliverables.report --output report/ [--allow-missing] [--pdf]

Sections follow the assignment: 3.1 activation functions, 3.2 fully-connected layer, 3.3
softmax, 3.4 cross-entropy (the derivations, from docs/derivations.md, with pointers to the
code), 3.5 two-layer networks (the Iris run and the lr x hidden sweep), 4.1 the Fashion-MNIST MLP,
4.2 the CIFAR-10 CNN (curves, test accuracy, pictures, and its design from docs/cifar_cnn.md's
measured ablation); then extra sections that are not course questions (numpy layers inside
Lightning and the three-way comparison, the derivations of the later layers), then the code
appendix, one question's code per page. Every question starts a new printed page.

A missing input stops the build with a message naming the command that creates it;
``--allow-missing`` builds the rest and says what is absent.
"""

import base64
import html
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from commands.entry import UserError, argument_parser, run_main
from deliverables.appendix import PIECES, source
from deliverables.shown import PLAIN_LOSS, TEST_SPLIT, Shown, shown
from deliverables.tex import PREAMBLE, markdown_to_latex
from lightning_hw.io import atomic_path, output_folder, write_bytes, write_text
from numpy_nn.experiment import DEFAULTS

ROOT = Path(__file__).resolve().parents[1]
TITLE = "Neural networks: report"


@dataclass
class Section:
    title: str
    body: str = ""
    images: list[Path] = field(default_factory=list)
    missing: str | None = None  # what is missing and the command that creates it
    number: str = ""  # the course's question number ("3.1"), "" for the rest
    new_page: bool = True  # starts a new page in print
    after: str = ""  # text that follows the images

    @property
    def heading(self) -> str:
        return f"{self.number} {self.title}".strip()


def _missing(what: str, command: str) -> str:
    return f"{what} not found: create it with `{command}`"


def two_layer_section(experiments: Path) -> Section:
    """3.5: the default Iris network (numpy_nn's own loop) and the lr x hidden sweep."""
    s = Section("Two-layer networks", number="3.5")
    run, sweep = experiments / DEFAULTS.run_name, experiments / "sweep"
    missing = []
    if not (run / "results.json").exists():
        missing.append(_missing("the default Iris run", "python train_ffnn.py"))
    if not (sweep / "results.md").exists():
        missing.append(_missing("the Iris sweep", "python train_ffnn.py --sweep"))
    if missing:
        s.missing = "; ".join(missing)
        return s
    r = json.loads((run / "results.json").read_text())
    opts = ", ".join(f"{k}={v}" for k, v in r["options"].items())
    s.body = (
        "### The default network on Iris\n\n"
        f"One hidden layer, trained by numpy_nn's own loop ({opts}). Test error: "
        f"**{r['test_error']:.3f}** ({round(r['test_error'] * 30)} of the 30 test flowers).\n\n"
        "| split | loss | error |\n|---|---:|---:|\n"
        + "".join(
            f"| {k} | {r[k + '_loss']:.4f} | {r[k + '_error']:.3f} |\n"
            for k in ("train", "val", "test")
        )
        + "\n### Learning rate x hidden units\n\n"
        + _demote((sweep / "results.md").read_text(), 2)
    )
    s.images = [run / "loss.png", run / "error.png", sweep / "loss.png"]
    return s


def compare_section(logs: Path) -> Section:
    """Extra: the Iris network three ways (numpy_nn, numpy layers in Lightning, torch)."""
    s = Section("Extra: numpy layers inside Lightning, and torch (Iris)")
    compare = logs / "iris_compare"
    if (compare / "comparison.md").exists():
        s.body = (
            "Not a course question. The same network from the same seed: numpy_nn's own loop, "
            "numpy_nn's layers run inside Lightning through a `torch.autograd.Function` "
            "(`lightning_hw/bridge.py`, appendix *Extra: numpy layers inside PyTorch*), and the "
            "torch-native twin.\n\n" + (compare / "comparison.md").read_text()
        )
        s.images = [compare / "comparison.png"]
    else:
        s.missing = _missing(
            "the Iris comparison", "python train.py compare --config configs/iris_compare.yaml"
        )
    return s


def vision_section(logs: Path, docs: Path, shown: Shown, accept_short: bool = False) -> Section:
    """4.1 / 4.2: the newest finished run of a shown experiment: its numbers and pictures."""
    s = Section(shown.title, number=shown.question)
    run = shown.latest_run(logs, accept_short)
    if run is None:
        s.missing = _missing(
            f"a finished {shown.title} run", f"python train.py --config {shown.config}"
        )
        return s
    test = json.loads((run / "test_metrics.json").read_text())
    h = json.loads((run / "metrics.json").read_text())
    other = h.get("val_label", "validation")  # "test": the configs validate on the test split
    nan = float("nan")
    best = max(h["val/acc"]) if h["val/acc"] else nan
    where = TEST_SPLIT if other == "test" else "The curves called *validation* are held-out images."
    s.body = (
        f"Run `{run.relative_to(logs.parent) if run.is_relative_to(logs.parent) else run}`: "
        f"{len(h['val/acc'])} epoch{'s' * (len(h['val/acc']) != 1)}, "
        f"{sum(h['seconds']):.0f} s of training. {where} {PLAIN_LOSS}\n\n"
        "| metric | value |\n|---|---:|\n"
        f"| test accuracy (final weights) | {test.get('test/acc', float('nan')):.4f} |\n"
        f"| test loss | {test.get('test/loss', float('nan')):.4f} |\n"
        f"| best {other} accuracy after an epoch | {best:.4f} |\n"
        f"| final train accuracy (during the epoch) | {(h['train/acc'] or [nan])[-1]:.4f} |\n\n"
        "The confusion matrix of the test split (rows: true class, columns: predicted) and the "
        "first misclassified test images (titled predicted / true) follow the curves."
    )
    s.images = [
        run / name
        for name in ("loss.png", "accuracy.png", "confusion_matrix.png", "misclassified.png")
    ]
    if shown.design:
        s.after = network_design(docs / shown.design)
    return s


def _demote(md: str, by: int = 2) -> str:
    """Push a document's headings down ``by`` levels, so it nests under a report section."""
    return re.sub(r"^(#+)", lambda m: m.group(1) + "#" * by, md, flags=re.M)


def doc_sections(path: Path) -> dict[str, str]:
    """A Markdown document's ``## `` sections: {heading text: body}; "" holds what precedes them."""
    parts = re.split(r"^## (.+)$", path.read_text(), flags=re.M)
    found = {"": parts[0].split("\n", 1)[1] if parts[0].startswith("# ") else parts[0]}
    found.update({parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)})
    return found


def _derivation(derivations: dict, number: int) -> str:
    """Section ``number`` of docs/derivations.md ("## 2. Elementwise activations" -> its body)."""
    for heading, body in derivations.items():
        if heading.startswith(f"{number}. "):
            return _demote(body.strip(), 1)
    raise KeyError(f"docs/derivations.md has no section {number}")


# question -> (derivation sections, where the code is)
DERIVED = [
    (
        "3.1",
        "Activation functions",
        (2,),
        "`numpy_nn/activations.py`: `ReLU.forward` and `ReLU.backward` (and Sigmoid, TanH, ArcTan)",
    ),
    (
        "3.2",
        "Fully-connected layer",
        (1,),
        "`numpy_nn/layers.py`: `FullyConnected.forward` and `FullyConnected.backward`",
    ),
    ("3.3", "Softmax", (3,), "`numpy_nn/activations.py`: `SoftMax.backward`"),
    (
        "3.4",
        "Cross-entropy",
        (4,),
        "`numpy_nn/losses.py`: `CrossEntropy.forward` and `CrossEntropy.backward`",
    ),
]


def derivation_sections(docs: Path) -> list[Section]:
    path = docs / "derivations.md"
    if not path.exists():
        missing = f"{path} not found (it ships with the project)"
        return [Section(t, number=n, missing=missing) for n, t, _, _ in DERIVED]
    derivations = doc_sections(path)
    out = []
    for number, title, parts, code in DERIVED:
        body = "\n\n".join(_derivation(derivations, k) for k in parts)
        body += (
            f"\n\n*Code:* {code}; every gradient is checked against central differences by "
            f"`python -m numpy_nn.gradcheck`. Listing: appendix {number}."
        )
        out.append(Section(title, body, number=number))
    return out


def network_design(path: Path) -> str:
    """A design page's network and its measured ablation (docs/cifar_cnn.md, for 4.2)."""
    if not path.exists():
        return ""
    parts = doc_sections(path)
    keep = [h for h in parts if h.startswith(("The network", "Why each choice helps"))]
    return "\n\n".join(f"### {h}\n\n{_demote(parts[h].strip(), 2)}" for h in keep)


def extra_sections(logs: Path, docs: Path) -> list[Section]:
    later = Section("Extra: derivations of the later layers")
    path = docs / "derivations.md"
    if path.exists():
        derivations = doc_sections(path)
        numbers = sorted(int(h.split(".")[0]) for h in derivations if re.match(r"^\d+\. ", h))
        done = {k for _, _, parts, _ in DERIVED for k in parts}
        later.body = "\n\n".join(
            f"### {h}\n\n{_derivation(derivations, n)}"
            for n in numbers
            if n not in done
            for h in derivations
            if h.startswith(f"{n}. ")
        )
    else:
        later.missing = f"{path} not found (it ships with the project)"
    return [compare_section(logs), later]


def appendix_sections() -> list[Section]:
    """The code appendix, one section (and page) per question of ``PIECES``."""
    groups: dict[str, list] = {}
    for section, title, dotted in PIECES:
        groups.setdefault(section, []).append((title, dotted))
    out = []
    for section, items in groups.items():
        body = "\n\n".join(
            f"### {title}\n\n`{dotted}`\n\n```python\n{source(dotted)}```"
            for title, dotted in items
        )
        out.append(Section(f"Appendix {section}", body))
    return out


def collect(experiments: Path, logs: Path, docs: Path, accept_short: bool = False) -> list[Section]:
    notation = Section("Notation", new_page=False)
    if (docs / "derivations.md").exists():
        notation.body = doc_sections(docs / "derivations.md")[""].strip()
    return [
        notation,
        *derivation_sections(docs),
        two_layer_section(experiments),
        *(vision_section(logs, docs, entry, accept_short) for entry in shown()),
        *extra_sections(logs, docs),
        *appendix_sections(),
    ]


def _image_name(section: Section, img: Path) -> str:
    """``<section>_<file>``, with the run's folder too where two of its images share a name."""
    slug = re.sub(r"[^a-z0-9]+", "_", section.title.lower()).strip("_")
    if sum(i.name == img.name for i in section.images) > 1:
        return f"{slug}_{img.parent.name}_{img.name}"
    return f"{slug}_{img.name}"


def section_markdown(s: Section) -> str:
    """A section's Markdown: heading, body (or what is missing), its images."""
    out = [f"## {s.heading}\n"]
    if s.missing:
        out.append(f"*Missing: {s.missing}.*\n")
        return "\n".join(out)
    out.append(s.body.strip() + "\n")
    out += [f"![{img.stem}]({_image_name(s, img)})\n" for img in s.images if img.exists()]
    if s.after:
        out.append(s.after.strip() + "\n")
    return "\n".join(out)


def to_markdown(sections: list[Section]) -> str:
    return "\n".join([f"# {TITLE}\n"] + [section_markdown(s) for s in sections])


# -- HTML: Markdown -> HTML with python-markdown, LaTeX math -> MathML with latex2mathml --------
MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$", flags=re.S)
CODE = re.compile(r"^```.*?^```[ \t]*$|`[^`\n]+`", flags=re.S | re.M)


def formulas(md_text: str) -> list[str]:
    """The LaTeX formulas of a Markdown text, code blocks and code spans left out."""
    return MATH.findall(CODE.sub("", md_text))


def to_mathml(formula: str) -> str:
    """``$...$`` (inline) or ``$$...$$`` (display) -> a MathML ``<math>`` element."""
    from latex2mathml.converter import convert

    display = formula.startswith("$$")
    latex = formula[2:-2] if display else formula[1:-1]
    return convert(latex.strip(), display="block" if display else "inline")


def markdown_html(md_text: str) -> str:
    """Markdown -> HTML, each formula typeset as MathML (code keeps its dollar signs), Python
    code highlighted by Pygments."""
    import markdown

    kept: list[str] = []

    def keep(m):
        kept.append(m.group(0))
        return f"KEPTSTASH{len(kept) - 1}END"  # letters only: Markdown leaves it alone

    code_free = CODE.sub(keep, md_text)
    maths: list[str] = []

    def stash(m):
        maths.append(to_mathml(m.group(0)))
        return f"MATHSTASH{len(maths) - 1}END"

    protected = MATH.sub(stash, code_free)
    protected = re.sub(r"KEPTSTASH(\d+)END", lambda m: kept[int(m.group(1))], protected)
    body = markdown.markdown(
        protected,
        extensions=["tables", "fenced_code", "codehilite"],
        # Pygments colours inlined (no stylesheet to ship), the language as the fence names it
        extension_configs={"codehilite": {"noclasses": True, "guess_lang": False}},
    )
    return re.sub(r"MATHSTASH(\d+)END", lambda m: maths[int(m.group(1))], body)


STYLE = (
    "body{font-family:sans-serif;max-width:60rem;margin:2rem auto;line-height:1.45;padding:0 1rem}"
    "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #bbb;padding:.25rem .6rem}"
    "pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;font-size:.8rem;line-height:1.3}"
    "code{font-family:'DejaVu Sans Mono',Menlo,Consolas,monospace}"
    "img{max-width:100%}math[display=block]{margin:.6rem 0}"
    "section.page{break-before:page}"
    "@media print{body{margin:0;max-width:none}pre{white-space:pre-wrap;break-inside:auto}"
    "img{max-height:45vh}h2,h3{break-after:avoid}}"
)


def to_html(sections: list[Section], image_dir: Path) -> str:
    """Self-contained HTML: every section a ``<section>`` (class ``page``: a new printed page),
    images inlined as data URIs, math as MathML."""
    parts = []
    for s in sections:
        cls = ' class="page"' if s.new_page else ""
        parts.append(f"<section{cls}>\n{markdown_html(section_markdown(s))}\n</section>")
    body = "\n".join(parts)

    def inline(m):
        path = image_dir / html.unescape(m.group(1))
        if not path.exists():
            return m.group(0)
        data = base64.b64encode(path.read_bytes()).decode()
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="([^"]+\.png)"', inline, body)
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{TITLE}</title>"
        f"<style>{STYLE}</style></head><body>\n<h1>{TITLE}</h1>\n{body}\n</body></html>\n"
    )


def to_latex(sections: list[Section]) -> str:
    """report.tex: the same sections and figures (the PNGs beside it), each question on a new
    page; compiles with pdflatex (amsmath, amssymb, graphicx, listings, geometry)."""
    out = [PREAMBLE, "\\title{" + TITLE + "}\n\\date{}\n\\begin{document}\n\\maketitle\n"]
    for s in sections:
        if s.new_page:
            out.append("\\clearpage\n")
        out.append(markdown_to_latex(section_markdown(s), top=2))
    out.append("\\end{document}\n")
    return "\n".join(out)


# -- PDF: headless Chromium prints report.html --------------------------------------------------
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def print_pdf(html_path: Path, pdf_path: Path, browser: str) -> None:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium (no header or footer); the PDF
    appears at once, complete, or not at all."""
    with atomic_path(pdf_path) as tmp, tempfile.TemporaryDirectory() as profile:
        cmd = [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-pdf-header-footer",
            f"--user-data-dir={profile}",
            f"--print-to-pdf={tmp}",
            html_path.resolve().as_uri(),
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not tmp.exists() or tmp.stat().st_size == 0:
            lines = (done.stderr or done.stdout or "no output").strip().splitlines()
            raise UserError(f"{browser} could not print {html_path}: {lines[-1]}")


def build(
    output: Path,
    experiments: Path,
    logs: Path,
    docs: Path,
    allow_missing: bool = False,
    pdf: bool = False,
    accept_short: bool = False,
) -> dict:
    if output.exists() and not output.is_dir():
        raise UserError(f"--output {output} is a file: pass a folder for report.md and report.html")
    output_folder(output)  # nor under a file
    sections = collect(experiments, logs, docs, accept_short)
    missing = [s.missing for s in sections if s.missing]
    if missing and not allow_missing:
        raise UserError(
            f"report not built: {'; '.join(missing)}; or pass --allow-missing to build the rest"
        )
    output.mkdir(parents=True, exist_ok=True)
    for s in sections:
        for img in s.images:
            if img.exists():
                write_bytes(output / _image_name(s, img), img.read_bytes())
    write_text(output / "report.md", to_markdown(sections))
    write_text(output / "report.html", to_html(sections, output))
    write_text(output / "report.tex", to_latex(sections))
    result = {"missing": missing, "written": True, "sections": [s.heading for s in sections]}
    result["pdf"] = None
    if pdf:
        browser = find_browser()
        if browser is None:
            raise UserError(
                f"report.pdf not written: no Chromium found (install the Debian package "
                f"`chromium`: sudo apt-get install chromium); {output / 'report.html'} was written"
            )
        print_pdf(output / "report.html", output / "report.pdf", browser)
        result["pdf"] = output / "report.pdf"
    return result


def main(argv=None) -> int:
    p = argument_parser("python -m deliverables.report", __doc__)
    p.add_argument(
        "--output", default="report", help="folder for report.md, .html, .tex and the PNGs"
    )
    p.add_argument("--allow-missing", action="store_true", help="build what exists, note the rest")
    p.add_argument(
        "--pdf", action="store_true", help="also print report.pdf with headless Chromium"
    )
    p.add_argument(
        "--experiments", default="experiments", help="numpy_nn runs (default experiments/)"
    )
    p.add_argument(
        "--logs", default="lightning_logs", help="Lightning runs (default lightning_logs/)"
    )
    p.add_argument("--docs", default=str(ROOT / "docs"), help="folder holding derivations.md")
    p.add_argument(
        "--accept-short", action="store_true", help="show runs shorter than one full epoch"
    )
    args = p.parse_args(argv)

    def body() -> int:
        paths = (args.output, args.experiments, args.logs, args.docs)
        r = build(*map(Path, paths), args.allow_missing, args.pdf, args.accept_short)
        for m in r["missing"]:
            print(f"missing: {m}", file=sys.stderr)
        out = Path(args.output)
        written = "report.md, report.html, report.tex" + (", report.pdf" if r["pdf"] else "")
        print(f"wrote {written} in {out}/ ({len(r['sections'])} sections)")
        return 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
