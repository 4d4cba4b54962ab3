"""The write-up, by the homework's questions: ``report/report.md`` (+ PNGs), ``report.html``
(self-contained, math typeset as MathML at build time: no internet needed), ``report.tex`` (the
same sections and figures, for LaTeX/Overleaf) and, with ``--pdf``, ``report.pdf`` printed by
headless Chromium.

    python -m deliverables.report --output report/ [--pdf] [--draft] [--allow-missing]
                                  [--student student.yaml] [--answers answers.md]

First the cover page (``deliverables/student.py``: name, SID, collaborators, the course's
certification); then the assignment's questions: 3.1 activation functions, 3.2 fully-connected
layer, 3.3 softmax, 3.4 cross-entropy (the derivations, from docs/derivations.md, with pointers
to the code), 3.5 two-layer networks (the Iris run, the lr x hidden sweep and its comment), 4.1
the Fashion-MNIST MLP, 4.2 the CIFAR-10 CNN (curves, test accuracy, pictures, the written answer
and the measured ablation); then extra sections that are not course questions (numpy layers
inside Lightning and the three-way comparison, the derivations of the later layers), the
references (``[@key]``, deliverables/references.yaml) and the code appendix, one question's code
per page (``deliverables/appendix.py``). Every question starts a new printed page. The written
answers are the student's ``answers.md`` (``deliverables/answers.py`` writes missing ones from
the measurements).

A final report needs a name and runs of the homework's length; ``--draft`` builds without them,
and says so on the cover page, in the text and on the curves. A missing input stops the build
with a message naming the command that creates it; ``--allow-missing`` builds the rest and says
what is absent (a missing extra is left out).
"""

import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from commands.entry import UserError, argument_parser, run_main
from deliverables import answers as written
from deliverables import appendix, references, render, student
from deliverables.questions import question, questions
from deliverables.shown import PLAIN_LOSS, ROOT, TEST_SPLIT, Shown, resolved_config, shown, trained
from lightning_hw import runs
from lightning_hw.callbacks import plot_history
from numpy_nn.experiment import DEFAULTS
from plumbing.files import atomic_path, output_folder, staged_folder, write_bytes, write_text
from plumbing.handout import handout_names

TITLE = "CS189 homework: neural networks"

DOCS = ROOT / "docs"  # derivations.md, the figures it shows


@dataclass
class Section:
    title: str
    body: str = ""
    images: list[Path] = field(default_factory=list)
    missing: str | None = None  # what is missing and the command that creates it
    number: str = ""  # the course's question number ("3.1"), "" for the rest
    new_page: bool = True  # starts a new page in print
    after: str = ""  # text that follows the images
    required: bool = True  # a course question: missing, it stops the build (extras are left out)
    plain: bool = False  # no heading of its own (the cover page)

    @property
    def heading(self) -> str:
        return f"{self.number} {self.title}".strip()


def _missing(what: str, command: str) -> str:
    return f"{what} not found: create it with `{command}`"


def two_layer_section(experiments: Path, answer: str | None) -> Section:
    """3.5: the default Iris network (the package's own loop), the lr x hidden sweep and the
    written comment on it."""
    s = Section(question("3.5").title, number="3.5")
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
        f"One hidden layer, trained by the package's own loop (`train_ffnn.py`; {opts}) on the "
        f"Iris data [@iris]. Test error: **{r['test_error']:.3f}** "
        f"({round(r['test_error'] * 30)} of the 30 test flowers).\n\n"
        "| split | loss | error |\n|---|---:|---:|\n"
        + "".join(
            f"| {k} | {r[k + '_loss']:.4f} | {r[k + '_error']:.3f} |\n"
            for k in ("train", "val", "test")
        )
        + "\n### Learning rate x hidden units\n\n"
        + _demote(_untitled((sweep / "results.md").read_text()), 2)
    )
    s.images = [run / "loss.png", run / "error.png", sweep / "loss.png"]
    if answer:
        s.after = f"### How the learning rate and the hidden size moved the test error\n\n{answer}"
    return s


def _untitled(md: str) -> str:
    """A document without its ``# title`` line: the report's own heading stands for it."""
    return re.sub(r"\A\s*# [^\n]*\n+", "", md)


def compare_section(logs: Path) -> Section:
    """Extra: the Iris network three ways (the numpy package, its layers in Lightning, torch)."""
    s = Section("Extra: numpy layers inside Lightning, and torch (Iris)", required=False)
    compare = logs / "iris_compare"
    if (compare / "comparison.md").exists():
        s.body = (
            "Not a course question. The same network from the same seed: the numpy package's own "
            "loop, its layers run inside Lightning through a `torch.autograd.Function` "
            "(`lightning_hw/bridge.py`, appendix *Extra: numpy layers inside PyTorch*), and the "
            "torch-native twin.\n\n" + (compare / "comparison.md").read_text()
        )
        s.images = [compare / "comparison.png"]
    else:
        s.missing = _missing(
            "the Iris comparison", "python train.py compare --config configs/iris_compare.yaml"
        )
    return s


@dataclass
class ShownRun:
    """A shown experiment's run, as the report presents it."""

    entry: Shown
    run: Path | None
    flag: str | None = None  # a brief run's flag (drafts only)
    answer: str | None = None  # the written answer for its question


def vision_section(logs: Path, docs: Path, shown_run: ShownRun, scratch: Path) -> Section:
    """4.1 / 4.2: the newest finished run of a shown experiment: its numbers, its pictures and
    the written answer (4.2: then the measured ablation). A brief run (a draft) is flagged in
    the text and on its curves."""
    entry, run = shown_run.entry, shown_run.run
    s = Section(entry.title, number=entry.question)
    if run is None:
        s.missing = _missing(
            f"a finished {entry.title} run", f"python train.py --config {entry.config}"
        )
        return s
    test = json.loads((run / "test_metrics.json").read_text())
    h = json.loads((run / "metrics.json").read_text())
    other = h.get("val_label", "validation")  # "test": the configs validate on the test split
    nan = float("nan")
    best = max(h["val/acc"]) if h["val/acc"] else nan
    where = TEST_SPLIT if other == "test" else "The curves called *validation* are held-out images."
    shown_at = run.relative_to(logs.parent) if run.is_relative_to(logs.parent) else run
    flag = f"**DRAFT: {shown_run.flag}.**\n\n" if shown_run.flag else ""
    s.body = (
        f"{flag}Run `{shown_at}`: {trained(h)}, {sum(h['seconds']):.0f} s of training. "
        f"{where} {PLAIN_LOSS}\n\n"
        "| metric | value |\n|---|---:|\n"
        f"| test accuracy (final weights) | {test.get('test/acc', nan):.4f} |\n"
        f"| test loss | {test.get('test/loss', nan):.4f} |\n"
        f"| best {other} accuracy after an epoch | {best:.4f} |\n"
        f"| final train accuracy (during the epoch) | {(h['train/acc'] or [nan])[-1]:.4f} |\n\n"
        "The confusion matrix of the test split (rows: true class, columns: predicted) and the "
        "first misclassified test images (titled predicted / true) follow the curves."
    )
    curves = [run / "loss.png", run / "accuracy.png"]
    if shown_run.flag and h["val/acc"]:  # the curves say it too
        folder = scratch / run.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        n = runs.trained_epochs(h)
        title = f"{run.parent.name}: DRAFT, {n} of {entry.min_epochs} epochs"
        curves = [Path(p) for p in plot_history(h, folder, title)]
    s.images = curves + [run / "confusion_matrix.png", run / "misclassified.png"]
    after = [f"### The network and its training\n\n{shown_run.answer}" if shown_run.answer else ""]
    if entry.ablation:
        after.append(ablation_section(docs / entry.ablation))
    s.after = "\n\n".join(a for a in after if a)
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
    """Section ``number`` of docs/derivations.md ("## 2. Elementwise activations" -> its body),
    its references to other sections renumbered as the report shows them (``renumber``)."""
    for heading, body in derivations.items():
        if heading.startswith(f"{number}. "):
            return renumber(_demote(body.strip(), 1))
    raise KeyError(f"docs/derivations.md has no section {number}")


CITED = re.compile(r"\b([Ss]ections?) (\d+)(?:(–|-| and | or )(\d+))?\b(?!\.\d)")


def renumber(text: str) -> str:
    """ "section 4" (docs/derivations.md's numbering) -> "section 3.4", the question the report
    shows that derivation under; the later layers keep their numbers (the report's "5. Mean
    squared error"...). A range of two ("sections 2–3") becomes "sections 3.1 and 3.3"."""
    where = {k: number for number, _, parts, _ in DERIVED for k in parts}

    def one(n: str) -> str:
        return where.get(int(n), n)

    def cite(m: re.Match) -> str:
        word, first, joint, second = m.groups()
        if second is None:
            return f"{word} {one(first)}"
        if joint in "–-" and int(second) - int(first) > 1:
            return (
                m.group(0) if int(first) not in where else f"{word} {one(first)} to {one(second)}"
            )
        joint = " and " if joint in "–-" else joint
        return f"{word} {one(first)}{joint}{one(second)}"

    return CITED.sub(cite, text)


# the derivation questions (deliverables/questions.yaml): number, title, sections, code pointer
DERIVED = [(q.number, q.title, q.derivations, q.code) for q in questions() if q.derivations]


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


def ablation_section(path: Path) -> str:
    """The measured ablation's table and how it was measured (docs/cifar_ablation.md, written
    by ``python -m bench.cifar_ablation``), for 4.2."""
    if not path.exists():
        return ""
    table = written.ablation_table(path.read_text())
    if not table:
        return ""
    _, how = written.ablation(path)
    return f"### The measured ablation\n\n{how[:1].upper() + how[1:]}.\n\n{table}"


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


def appendix_sections(configs: dict[str, str]) -> list[Section]:
    """The code appendix: its table of contents, then one section (and page) per question of
    ``appendix.APPENDIX``, each file once; a shown experiment's YAML is its run's resolved
    config (``configs``: {shown key: YAML})."""
    out = [Section("Code appendix", appendix.contents(configs))]
    for section, note, items in appendix.groups(configs):
        body = "\n".join(appendix.listing_markdown(item, 3) for item in items)
        out.append(Section(f"Appendix {section}", (f"{note}\n\n" if note else "") + body))
    return out


@dataclass
class Inputs:
    """What the report is built from, and how strictly."""

    experiments: Path  # numpy_nn runs (train_ffnn.py)
    logs: Path  # Lightning runs
    docs: Path  # derivations.md, cifar_ablation.md
    who: student.Student = field(default_factory=student.Student)
    draft: bool = False  # brief runs and no name allowed, and flagged
    accept_short: bool = False  # runs shorter than one epoch allowed (drafts allow them too)
    answers: Path | None = None  # answers.md; None: the generated answers, kept in no file


def shown_runs(inputs: Inputs) -> list[ShownRun]:
    """Each shown experiment's newest finished run, brief ones refused unless a draft."""
    found = []
    for entry in shown():
        run = entry.latest_run(inputs.logs, inputs.accept_short or inputs.draft)
        found.append(ShownRun(entry, run, entry.check_full(run, inputs.draft) if run else None))
    return found


@dataclass
class Collected:
    sections: list[Section]
    notes: list[str]  # for the student: answers written, or written from older measurements
    answers_text: str | None  # answers.md's new text (sections added), written with the report


def written_answers(inputs: Inputs, found: list[ShownRun]):
    """({question: answer} from answers.md, or generated for the missing ones; the notes;
    answers.md's new text or None)."""
    have = {r.entry: r.run for r in found if r.run is not None}
    generated = written.generate(inputs.experiments, have, inputs.docs)
    if inputs.answers is None:
        return {q: text for q, (_, _, text) in generated.items()}, [], None
    return written.sync(inputs.answers, generated)


def collect(inputs: Inputs, scratch: Path) -> Collected:
    """Every section in order, with what to tell the student."""
    docs = inputs.docs
    found = shown_runs(inputs)
    answers, notes, answers_text = written_answers(inputs, found)
    for r in found:
        r.answer = answers.get(r.entry.question)
    cover = Section("Cover page", student.cover_markdown(inputs.who, TITLE, inputs.draft))
    cover.new_page, cover.plain = False, True
    notation = Section("Notation")
    if (docs / "derivations.md").exists():
        notation.body = doc_sections(docs / "derivations.md")[""].strip()
    configs = {r.entry.key: resolved_config(r.run) for r in found if r.run is not None}
    sections = [
        cover,
        notation,
        *derivation_sections(docs),
        two_layer_section(inputs.experiments, answers.get("3.5")),
        *(vision_section(inputs.logs, docs, r, scratch) for r in found),
        *extra_sections(inputs.logs, docs),
    ]
    sections += [references_section(sections), *appendix_sections(configs)]
    return Collected(sections, notes, answers_text)


def references_section(sections: list[Section]) -> Section:
    """Numbers the ``[@key]`` citations of every section (in place) and lists the sources."""
    known = references.load()
    texts = [t for s in sections for t in (s.body, s.after)]
    cited, order = references.cite(texts, known)
    for s, (body, after) in zip(sections, zip(cited[::2], cited[1::2])):
        s.body, s.after = body, after
    return Section("References", references.references_markdown(order, known))


def _image_name(section: Section, img: Path) -> str:
    """``<section>_<file>``, with the run's folder too where two of its images share a name."""
    slug = re.sub(r"[^a-z0-9]+", "_", section.title.lower()).strip("_")
    if sum(i.name == img.name for i in section.images) > 1:
        return f"{slug}_{img.parent.name}_{img.name}"
    return f"{slug}_{img.name}"


def section_markdown(s: Section) -> str:
    """A section's Markdown: heading, body (or what is missing), its images; the numpy package
    called by its shipped name, ``neural_networks``."""
    out = [] if s.plain else [f"## {s.heading}\n"]
    if s.missing:
        out.append(f"*Missing: {s.missing}.*\n")
        return handout_names("\n".join(out))
    out.append(s.body.strip() + "\n")
    out += [f"![{img.stem}]({_image_name(s, img)})\n" for img in s.images if img.exists()]
    if s.after:
        out.append(s.after.strip() + "\n")
    return handout_names("\n".join(out))


def to_markdown(sections: list[Section]) -> str:
    return "\n".join(section_markdown(s) for s in sections)


# -- HTML and LaTeX: both by pandoc from the same Markdown (deliverables/render.py) -----------
def paged_markdown(sections: list[Section]) -> str:
    """The report's Markdown with each new-page section marked as such for print and LaTeX."""
    parts = [section_markdown(s) for s in sections]
    return "\n".join(render.page(md) if s.new_page else md for s, md in zip(sections, parts))


def to_html(sections: list[Section], image_dir: Path) -> str:
    """Self-contained HTML: every new-page section in a ``<div class="page">`` (a new printed
    page), images embedded, math as MathML, code highlighted."""
    return render.to_html(paged_markdown(sections), TITLE, image_dir)


def to_latex(sections: list[Section]) -> str:
    """report.tex: the same sections and figures (the PNGs beside it), each question on a new
    page; compiles with xelatex or lualatex."""
    return render.to_latex(paged_markdown(sections))


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
    *,
    who: student.Student | None = None,
    draft: bool = False,
    answers: Path | None = None,
    student_file: Path | None = None,
) -> dict:
    """Write the report into ``output``; a final one (not ``draft``) needs ``who.name`` (from
    ``student_file``) and full runs. ``answers``: the student's answers.md (missing sections are
    added to it)."""
    if output.exists() and not output.is_dir():
        raise UserError(f"--output {output} is a file: pass a folder for report.md and report.html")
    output_folder(output)  # nor under a file
    who = who or student.Student()
    inputs = Inputs(experiments, logs, docs, who, draft, accept_short, answers)
    with tempfile.TemporaryDirectory() as scratch:
        got = collect(inputs, Path(scratch))
        sections = got.sections
        missing = [s.missing for s in sections if s.missing and s.required]
        if missing and not allow_missing:
            raise UserError(
                f"report not built: {'; '.join(missing)}; or pass --allow-missing to build the rest"
            )
        left_out = [f"left out: {s.missing}" for s in sections if s.missing and not s.required]
        sections = [s for s in sections if s.required or not s.missing]  # absent extras: left out
        student.require_name(who, student_file, draft)
        write_report(output, sections)
    if got.answers_text is not None:
        write_text(answers, got.answers_text)
    result = {"missing": missing, "written": True, "sections": [s.heading for s in sections]}
    result.update(notes=left_out + got.notes, pdf=None)
    if pdf:
        browser = find_browser()
        if browser is None:
            raise UserError(
                f"report.pdf not written: no Chromium found (install the Debian packages "
                f"`chromium fonts-dejavu-extra`: sudo apt-get install chromium fonts-dejavu-extra); "
                f"{output / 'report.html'} was written"
            )
        print_pdf(output / "report.html", output / "report.pdf", browser)
        result["pdf"] = output / "report.pdf"
    return result


def write_report(output: Path, sections: list[Section]) -> None:
    """report.md, .html, .tex and the PNGs they show, written aside and moved into ``output``
    when all are written (``staged_folder``): a full disk leaves the earlier report as it was."""
    with staged_folder(output) as stage:
        for s in sections:
            for img in s.images:
                if img.exists():
                    write_bytes(stage / _image_name(s, img), img.read_bytes())
        write_text(stage / "report.md", to_markdown(sections))
        write_text(stage / "report.html", to_html(sections, stage))
        write_text(stage / "report.tex", to_latex(sections))


def build_parser():
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
    p.add_argument("--docs", default=str(DOCS), help="folder holding derivations.md")
    p.add_argument(
        "--accept-short", action="store_true", help="show runs shorter than one full epoch"
    )
    add_student_arguments(p)
    p.add_argument(
        "--answers",
        default="answers.md",
        help="your written answers (default answers.md; "
        "missing sections are written there from the measurements)",
    )
    return p


def make(output: Path, *args, draft: bool = False, **kwargs) -> int:
    """``build`` (the same arguments), then say what was written and, on stderr, what is
    missing and what to look at."""
    r = build(output, *args, draft=draft, **kwargs)
    for m in r["missing"]:
        print(f"missing: {m}", file=sys.stderr)
    for note in r["notes"]:
        print(note, file=sys.stderr)
    written = "report.md, report.html, report.tex" + (", report.pdf" if r["pdf"] else "")
    print(
        f"wrote {written} in {output}/{' (a DRAFT)' if draft else ''} ({len(r['sections'])} sections)"
    )
    return 0


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    paths = map(Path, (a.output, a.experiments, a.logs, a.docs))
    return run_main(
        lambda: make(
            *paths,
            a.allow_missing,
            a.pdf,
            a.accept_short,
            who=student.load(a.student, a.name, a.sid, a.collaborators),
            draft=a.draft,
            answers=Path(a.answers),
            student_file=a.student,
        )
    )


def add_student_arguments(p) -> None:
    """--student, --name, --sid, --collaborators and --draft (the report and the hand-in)."""
    p.add_argument(
        "--student", default="student.yaml", help="name, sid, collaborators (default student.yaml)"
    )
    p.add_argument("--name", default=None, help="your name (overrides student.yaml)")
    p.add_argument("--sid", default=None, help="your student ID (optional)")
    p.add_argument("--collaborators", default=None, help='with whom you worked: "none" or "A, B"')
    p.add_argument(
        "--draft",
        action="store_true",
        help="a draft: no name needed, brief runs flagged not refused",
    )


def student_of(args) -> student.Student:
    who = student.load(args.student, args.name, args.sid, args.collaborators)
    student.require_name(who, args.student, args.draft)
    return who


if __name__ == "__main__":
    sys.exit(main())
