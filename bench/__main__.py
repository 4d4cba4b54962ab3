"""``make bench``: every benchmark, results written to docs/benchmarks.md.

    python -m bench                 # all but the long CIFAR runs (see --cifar)
    python -m bench --cifar         # also train the default CIFAR-10 config (~20 min here) and
                                    # the numpy-backed one, two seeds (~30 min)
    python -m bench --cifar94       # also the >= 94% config (~13 min more)
    python -m bench --only numpy,bridge
    python -m bench --reference     # this machine's speed reference alone (compare with the docs')

Each comparison runs in one process, interleaved (A, B, A, B, ...), and reports medians.
"""

import datetime
import os
import platform
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import machine, runtime, suites  # noqa: E402
from commands.allocator import keep_freed_memory  # noqa: E402
from commands.entry import UserError, argument_parser, run_main  # noqa: E402
from plumbing.files import output_file, write_text  # noqa: E402
from plumbing.paths import resolve_data_dir  # noqa: E402


def environment() -> str:
    import numpy as np
    import torch

    try:
        from threadpoolctl import threadpool_info

        blas = "; ".join(
            f"{i['internal_api']} {i.get('version')} ({i['num_threads']} threads)"
            for i in threadpool_info()
            if i["user_api"] == "blas"
        )
    except ImportError:
        blas = "threadpoolctl not installed"
    return "\n".join(
        [
            f"- last run: {datetime.datetime.now().isoformat(timespec='seconds')} (each section "
            "gives the date it was measured)",
            f"- CPU: {machine.cpu_model()}, {os.cpu_count()} cores; {machine.cpu_features()}",
            f"- oneDNN ISA cap: {os.environ.get('ONEDNN_MAX_CPU_ISA', '(unset)')}",
            f"- python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}",
            f"- torch threads: {torch.get_num_threads()}; numpy BLAS: {blas}",
            f"- OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}",
        ]
    )


def _number(key: str) -> int:
    """A section's number ("## 10." -> 10): sections in numeric order."""
    digits = "".join(ch for ch in key if ch.isdigit())
    return int(digits) if digits else 0


def _sections(doc: str) -> dict:
    """{"## 1. ": text, ...}: the numbered result sections of an earlier benchmarks.md."""
    body = doc.split("## Before and after")[0]
    parts = ["## " + p for p in body.split("\n## ")[1:]]
    return {p[:6]: p.strip() for p in parts if p[3:4].isdigit()}


def main(argv=None) -> int:
    p = argument_parser("python -m bench", __doc__)
    p.add_argument(
        "--only", default="", help="comma-separated subset of: " + ", ".join(suites.SUITES)
    )
    p.add_argument("--cifar", action="store_true", help="train the default CIFAR-10 config")
    p.add_argument("--cifar94", action="store_true", help="train the >= 94%% CIFAR-10 config")
    p.add_argument(
        "--data_dir", default=None, help="default: $DATA_DIR, else ../shared/data if present"
    )
    p.add_argument("--out", default=str(ROOT / "docs" / "benchmarks.md"))
    p.add_argument(
        "--reference",
        action="store_true",
        help="print this machine's speed reference (the figures beside every timing) and exit",
    )
    args = p.parse_args(argv)
    if args.reference:
        print(machine.reference_text(machine.speed_reference()).replace(" just before", ""))
        return 0
    return run_main(lambda: run(args))


def run(args) -> int:
    output_file(args.out)  # refused before minutes of benchmarks
    keep_freed_memory()  # as train.py does: the timings are what a user's run gets
    data_dir = args.data_dir or os.environ.get("DATA_DIR")
    if data_dir is None and (ROOT.parent / "shared" / "data").is_dir():
        data_dir = str(ROOT.parent / "shared" / "data")
    unknown = set(args.only.split(",")) - set(suites.SUITES) if args.only else set()
    if unknown:
        raise UserError(
            f"--only {args.only}: no benchmark named {', '.join(sorted(unknown))}; "
            f"choose from {', '.join(suites.SUITES)}"
        )
    names = [n for n in suites.SUITES if not args.only or n in args.only.split(",")]
    previous = Path(args.out).read_text() if Path(args.out).exists() else ""
    sections = _sections(previous)  # suites not rerun keep their last results
    for name in names:
        if name == "cifar" and not (args.cifar or args.cifar94):
            continue
        missing = [
            f
            for f in runtime.DATASETS.get(name, ())
            if not (resolve_data_dir(data_dir) / f).is_dir()
        ]
        if missing:
            folder = missing[0]
            print(
                f"== {name}: skipped, {folder}/ is not in {resolve_data_dir(data_dir)} "
                "(pass --data_dir or set DATA_DIR); its section keeps its last results",
                flush=True,
            )
            continue
        print(f"== {name}", flush=True)
        suite = suites.SUITES[name]
        reference = machine.speed_reference()  # taken right before, beside the section's figures
        result = suite(data_dir=data_dir, cifar=args.cifar, cifar94=args.cifar94, previous=sections)
        text = machine.dated(result, reference)
        print(text, flush=True)
        sections[text.split("\n", 1)[0][:6]] = text
    doc = "# Benchmarks\n\nWritten by `make bench` (`python -m bench`); timings on the CPU.\n\n"
    doc += (
        environment()
        + "\n\n"
        + "\n\n".join(sections[k] for k in sorted(sections, key=_number))
        + "\n"
    )
    if "## Before and after" in previous:  # keep the hand-written optimization log
        doc += "\n" + previous[previous.index("## Before and after") :]
    write_text(args.out, doc)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
