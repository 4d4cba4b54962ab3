"""The write-up, assembled from existing runs: ``report/report.md`` (+ PNGs) and ``report/report.html``.

    python -m deliverables.report --output report/ [--allow-missing]

Sections: the Iris run and sweep (numpy_nn), the Iris numpy-vs-torch comparison, Fashion-MNIST
and CIFAR-10 curves and accuracies (the newest complete run of each), the derivations
(docs/derivations.md) and the code appendix. A missing input stops the build with a message
naming the command that creates it; ``--allow-missing`` builds the rest and says what is absent.
The HTML is self-contained (images inlined); math is left as LaTeX between $ signs.
"""

import base64
import html
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from commands.entry import UserError, argument_parser, run_main
from deliverables.appendix import markdown as code_appendix
from lightning_hw.io import write_bytes, write_text
from numpy_nn.experiment import DEFAULTS

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Section:
    title: str
    body: str = ""
    images: list[Path] = field(default_factory=list)
    missing: str | None = None  # what is missing and the command that creates it


# The experiments each section reports: exact names, so that e.g. fashion_cnn_numpy's runs never
# stand in for the MLP's.
EXPERIMENTS = {"fashion": ("fashion_mlp",), "cifar": ("cifar_cnn", "cifar_cnn94")}


def latest_run(logs: Path, experiments: tuple[str, ...]) -> Path | None:
    """Newest ``logs/<one of experiments>/version_N`` holding a finished run."""
    runs = [
        d
        for name in experiments
        for d in (logs / name).glob("version_*")
        if (d / "test_metrics.json").exists() and (d / "metrics.json").exists()
    ]
    return max(runs, key=lambda d: d.stat().st_mtime) if runs else None


def _missing(what: str, command: str) -> str:
    return f"{what} not found: create it with `{command}`"


def iris_sections(experiments: Path, logs: Path) -> list[Section]:
    run = experiments / DEFAULTS.run_name
    s1 = Section("Iris: the numpy network")
    if (run / "results.json").exists():
        r = json.loads((run / "results.json").read_text())
        opts = ", ".join(f"{k}={v}" for k, v in r["options"].items())
        s1.body = (
            f"One hidden layer, trained by numpy_nn's own loop ({opts}).\n\n"
            "| split | loss | error |\n|---|---:|---:|\n"
            + "".join(
                f"| {k} | {r[k + '_loss']:.4f} | {r[k + '_error']:.3f} |\n"
                for k in ("train", "val", "test")
            )
        )
        s1.images = [run / "loss.png", run / "error.png"]
    else:
        s1.missing = _missing("the default Iris run", "python train_ffnn.py")

    s2 = Section("Iris: learning rate x hidden units")
    sweep = experiments / "sweep"
    if (sweep / "results.md").exists():
        s2.body = _demote((sweep / "results.md").read_text())
        s2.images = [sweep / "loss.png"]
    else:
        s2.missing = _missing("the Iris sweep", "python train_ffnn.py --sweep")

    s3 = Section("Iris: numpy_nn, numpy layers in Lightning, and torch")
    compare = logs / "iris_compare"
    if (compare / "comparison.md").exists():
        s3.body = (
            "The same network from the same seed: numpy_nn's own loop, numpy_nn's layers run inside "
            "Lightning through a `torch.autograd.Function`, and the torch-native twin.\n\n"
            + (compare / "comparison.md").read_text()
        )
        s3.images = [compare / "comparison.png"]
    else:
        s3.missing = _missing(
            "the Iris comparison", "python train.py compare --config configs/iris_compare.yaml"
        )
    return [s1, s2, s3]


def vision_section(logs: Path, dataset: str, title: str, config: str) -> Section:
    s = Section(title)
    run = latest_run(logs, EXPERIMENTS[dataset])
    if run is None:
        s.missing = _missing(f"a finished {title} run", f"python train.py --config {config}")
        return s
    test = json.loads((run / "test_metrics.json").read_text())
    h = json.loads((run / "metrics.json").read_text())
    other = h.get("val_label", "validation")  # "test": the configs validate on the test split
    best = max(h["val/acc"]) if h["val/acc"] else float("nan")
    where = (
        "the official test split, evaluated after every epoch (the configs validate on it, as "
        "the assignment does; the final weights are tested, none is chosen by this curve)"
        if other == "test"
        else "held-out validation images"
    )
    s.body = (
        f"Run `{run.relative_to(logs.parent) if run.is_relative_to(logs.parent) else run}`: "
        f"{len(h['val/acc'])} epochs, {sum(h['seconds']):.0f} s of training. "
        f"The curves called *{other}* are {where}. Both loss curves are plain cross-entropy, "
        "also where training minimizes a label-smoothed loss.\n\n"
        "| metric | value |\n|---|---:|\n"
        f"| test accuracy (final weights) | {test.get('test/acc', float('nan')):.4f} |\n"
        f"| test loss | {test.get('test/loss', float('nan')):.4f} |\n"
        f"| best {other} accuracy after an epoch | {best:.4f} |\n"
        f"| final train accuracy (during the epoch) | {h['train/acc'][-1]:.4f} |\n\n"
        "The confusion matrix of the test split (rows: true class, columns: predicted) and the "
        "first misclassified test images (titled predicted / true) follow the curves."
    )
    s.images = [
        run / name
        for name in ("loss.png", "accuracy.png", "confusion_matrix.png", "misclassified.png")
    ]
    return s


def _demote(md: str, by: int = 2) -> str:
    """Push a document's headings down ``by`` levels, so it nests under a report section."""
    return re.sub(r"^(#+)", lambda m: m.group(1) + "#" * by, md, flags=re.M)


def collect(experiments: Path, logs: Path, docs: Path) -> list[Section]:
    sections = iris_sections(experiments, logs)
    sections.append(
        vision_section(logs, "fashion", "Fashion-MNIST MLP", "configs/fashion_mlp.yaml")
    )
    sections.append(vision_section(logs, "cifar", "CIFAR-10 CNN", "configs/cifar_cnn.yaml"))
    deriv = Section("Derivations")
    if (docs / "derivations.md").exists():
        deriv.body = _demote((docs / "derivations.md").read_text().split("\n", 1)[1], 1)
    else:
        deriv.missing = f"{docs / 'derivations.md'} not found (it ships with the project)"
    sections.append(deriv)
    sections.append(Section("Code appendix", _demote(code_appendix(1).split("\n", 1)[1], 1)))
    return sections


def to_markdown(sections: list[Section]) -> str:
    out = ["# Neural networks: report\n"]
    for s in sections:
        out.append(f"## {s.title}\n")
        if s.missing:
            out.append(f"*Missing: {s.missing}.*\n")
            continue
        out.append(s.body.strip() + "\n")
        out += [f"![{img.stem}]({_image_name(s, img)})\n" for img in s.images if img.exists()]
    return "\n".join(out)


def _image_name(section: Section, img: Path) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", section.title.lower()).strip("_")
    return f"{slug}_{img.name}"


def to_html(md_text: str, image_dir: Path) -> str:
    """Self-contained HTML: python-markdown for the text, images inlined as data URIs, and the
    $...$ / $$...$$ math protected from Markdown so it stays readable LaTeX."""
    import markdown

    maths: list = []

    def stash(m):
        maths.append(m.group(0))
        return f"MATHSTASH{len(maths) - 1}END"  # letters only: Markdown leaves it alone

    protected = re.sub(r"\$\$.+?\$\$|\$[^$\n]+?\$", stash, md_text, flags=re.S)
    body = markdown.markdown(protected, extensions=["tables", "fenced_code"])
    body = re.sub(r"MATHSTASH(\d+)END", lambda m: html.escape(maths[int(m.group(1))]), body)

    def inline(m):
        path = image_dir / html.unescape(m.group(1))
        if not path.exists():
            return m.group(0)
        data = base64.b64encode(path.read_bytes()).decode()
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="([^"]+\.png)"', inline, body)
    style = (
        "body{font-family:sans-serif;max-width:60rem;margin:2rem auto;line-height:1.45;padding:0 1rem}"
        "table{border-collapse:collapse}td,th{border:1px solid #bbb;padding:.25rem .6rem}"
        "pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;font-size:.8rem}img{max-width:100%}"
        "@media print{pre{white-space:pre-wrap}}"
    )
    return (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>Neural networks: report</title>"
        f"<style>{style}</style></head><body>\n{body}\n</body></html>\n"
    )


def build(
    output: Path, experiments: Path, logs: Path, docs: Path, allow_missing: bool = False
) -> dict:
    sections = collect(experiments, logs, docs)
    missing = [s.missing for s in sections if s.missing]
    if missing and not allow_missing:
        raise UserError(
            f"report not built: {'; '.join(missing)}; or pass --allow-missing to build the rest"
        )
    if output.exists() and not output.is_dir():
        raise UserError(f"--output {output} is a file: pass a folder for report.md and report.html")
    output.mkdir(parents=True, exist_ok=True)
    for s in sections:
        for img in s.images:
            if img.exists():
                write_bytes(output / _image_name(s, img), img.read_bytes())
    md_text = to_markdown(sections)
    write_text(output / "report.md", md_text)
    write_text(output / "report.html", to_html(md_text, output))
    return {"missing": missing, "written": True, "sections": [s.title for s in sections]}


def main(argv=None) -> int:
    p = argument_parser("python -m deliverables.report", __doc__)
    p.add_argument(
        "--output", default="report", help="folder for report.md, report.html and the PNGs"
    )
    p.add_argument("--allow-missing", action="store_true", help="build what exists, note the rest")
    p.add_argument(
        "--experiments", default="experiments", help="numpy_nn runs (default experiments/)"
    )
    p.add_argument(
        "--logs", default="lightning_logs", help="Lightning runs (default lightning_logs/)"
    )
    p.add_argument("--docs", default=str(ROOT / "docs"), help="folder holding derivations.md")
    args = p.parse_args(argv)

    def body() -> int:
        paths = (args.output, args.experiments, args.logs, args.docs)
        r = build(*map(Path, paths), args.allow_missing)
        for m in r["missing"]:
            print(f"missing: {m}", file=sys.stderr)
        sections = len(r["sections"])
        print(f"wrote {Path(args.output) / 'report.md'} and report.html ({sections} sections)")
        return 0

    return run_main(body)


if __name__ == "__main__":
    sys.exit(main())
