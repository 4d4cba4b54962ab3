"""The written answers, generated from the measurements and kept in a file the student owns.

``answers.md`` has one section per question (``## 3.5``, ``## 4.1``, ``## 4.2``); the report puts
each under its question. A missing file or section is written from the measurements (the sweep,
the runs' resolved configs and results, the CIFAR ablation) when the report is built, and the
report says so; after that the text is the student's: edit it freely, the next build keeps it.
Each generated section records the measurements it was written from (a digest in an HTML
comment): when they change, the report warns that the section may quote old numbers; delete the
section to have it written again. Cite a source as ``[@key]`` (deliverables/references.yaml).
"""

import hashlib
import json
import re
from pathlib import Path

from commands.configs import run_config
from deliverables import questions as homework
from deliverables.shown import trained

HEADER = (
    "<!-- Your written answers. The report puts each section under its question. They were\n"
    "     first written from your measurements: edit them freely; the next build keeps your\n"
    "     text. Delete a section to have it written again from the current measurements.\n"
    "     Cite a source as [@key] (deliverables/references.yaml). -->\n"
)
# the measurements a section was written from, and (newer files) a fingerprint of the text written
MEASURED = re.compile(r"<!-- measured: ([0-9a-f]+)(?: generated: ([0-9a-f]+))? -->\n?")


def digest(*parts) -> str:
    """A short fingerprint of the measurements an answer is written from."""
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:12]


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values)


def _trend(first: float, last: float, what: str) -> str:
    if abs(last - first) < 1e-9:
        return f"left {what} unchanged"
    return f"{'lowered' if last < first else 'raised'} {what} from {first:.3f} to {last:.3f}"


def _by(runs: list[dict], key: str) -> dict:
    """{value of option ``key``: the runs with it}, in increasing order."""
    groups: dict = {}
    for r in sorted(runs, key=lambda r: r["options"][key]):
        groups.setdefault(r["options"][key], []).append(r)
    return groups


def _effect(groups: dict, field: str, name: str, unit) -> str:
    """One option's effect on the mean test error (over the other option's values)."""
    err = {v: _mean(r["test_error"] for r in rs) for v, rs in groups.items()}
    listed = ", ".join(f"{e:.3f} ({unit(v)})" for v, e in err.items())
    (first, last) = (next(iter(err)), list(err)[-1])
    if first == last:
        return f"Only one {name} was tried ({unit(first)}): test error {err[first]:.3f}."
    loss = {v: _mean(r["val_loss"] for r in rs) for v, rs in groups.items()}
    slow = (
        ": the smallest rate had not converged in the same number of steps"
        if loss[first] > loss[last]
        else ""
    )
    return (
        f"Averaged over the other option, the mean test error was {listed}: going from {unit(first)} "
        f"to {unit(last)} {_trend(err[first], err[last], 'it')}; the final validation loss went "
        f"from {loss[first]:.3f} to {loss[last]:.3f}{slow if field == 'lr' else ''}."
    )


def sweep_answer(results: dict) -> str:
    """3.5: how the learning rate and the hidden size moved the test error in this sweep, and
    how the best setting was chosen (ties stated, and how they were broken)."""
    from numpy_nn.datasets import load_iris

    runs, n_test = results["runs"], len(load_iris()["test"][0])  # the split's own size
    lr = _effect(_by(runs, "lr"), "lr", "learning rate", lambda v: f"lr {v:g}")
    hidden = _effect(_by(runs, "hidden"), "hidden", "hidden size", lambda v: f"{v} hidden units")
    return (
        f"**Learning rate.** {lr}\n\n**Hidden size.** {hidden} The test split is small "
        f"({n_test} flowers): an error of {1 / n_test:.3f} is one misclassified flower.\n\n"
        "**The choice.** " + _choice(runs)
    )


def _choice(runs: list[dict]) -> str:
    """How the best setting was picked, by validation only."""
    low = min(r["best_val_error"] for r in runs)
    tied = [r for r in runs if r["best_val_error"] == low]
    best = min(tied, key=lambda r: r["val_loss"])
    o = best["options"]
    pick = f"lr {o['lr']:g} with {o['hidden']} hidden units"
    if len(tied) == 1:
        why = f"The lowest validation error ({low:.3f}) picks {pick}"
    else:
        why = (
            f"{len(tied)} of the {len(runs)} settings tie at the lowest validation error "
            f"({low:.3f}); the tie is broken by the lowest final validation loss, which picks {pick} "
            f"(validation loss {best['val_loss']:.4f})"
        )
    return f"{why}. Its test error is {best['test_error']:.3f}; the test split played no part in the choice."


def _init(config: dict, *keys: str) -> dict:
    node = config
    for k in keys:
        node = node.get(k) or {}
    return node.get("init_args", node)


def _schedule(sched: dict) -> str:
    if not sched:
        return "the learning rate stays constant"
    s = sched.get("init_args", {})
    if sched.get("class_path", "").endswith("WarmupLinearDecay"):
        return (
            f"the learning rate rises linearly from {s.get('start_factor', 0):g} times its peak "
            f"over the first {s.get('warmup_fraction', 0):.0%} of the steps, then falls linearly to 0"
        )
    return f"the learning rate follows {sched['class_path']}"


def _training(config: dict, history: dict) -> str:
    """How this run trained: its epochs (``trained``), and the optimizer, schedule, loss and data
    of its resolved config, in one paragraph."""
    model, data = config["model"], _init(config, "data")
    opt = model["optimizer"]
    o = opt.get("init_args", {})
    name = opt["class_path"].rsplit(".", 1)[-1]
    momentum = (
        f", {'Nesterov ' if o.get('nesterov') else ''}momentum {o['momentum']:g}"
        if o.get("momentum")
        else ""
    )
    schedule = _schedule(model.get("lr_scheduler") or {})
    smoothing = model.get("label_smoothing") or 0
    loss = f"cross-entropy with label smoothing {smoothing:g}" if smoothing else "cross-entropy"
    flip, shift = data.get("flip"), data.get("translate") or 0
    augment = [
        f"{'alternating' if flip == 'alternating' else 'random'} horizontal flips" if flip else "",
        f"random translations of up to {shift} pixels" if shift else "",
    ]
    augment = " and ".join(a for a in augment if a) or "no augmentation"
    return (
        f"This run trained for {trained(history)} with {name} (peak learning rate {o['lr']:g}{momentum}, weight "
        f"decay {o.get('weight_decay', 0):g}) on batches of {data['batch_size']}; {schedule}. It "
        f"minimizes {loss}, with {augment}."
    )


NAN = float("nan")  # a metric a run did not log


def _results(test: dict, history: dict, noisy: str) -> str:
    """The run's results; ``noisy``: what was on while the training accuracy was measured
    (dropout, augmentation)."""
    head = (
        f"Test accuracy of the final weights: **{test.get('test/acc', NAN):.2%}** (test loss "
        f"{test.get('test/loss', NAN):.4f})"
    )
    if not history["val/acc"] or not history["train/acc"]:  # a run stopped inside its first epoch
        return head + "; no epoch was completed."
    other = history.get("val_label", "validation")
    return (
        f"{head}; the best {other} accuracy after an epoch was {max(history['val/acc']):.2%}, and "
        f"the training accuracy of the last epoch {history['train/acc'][-1]:.2%} (measured during "
        f"the epoch, {noisy})."
    )


def mlp_answer(config: dict, test: dict, history: dict) -> str:
    """4.1: the MLP and its training, from its resolved config and its results."""
    net = _init(config, "model", "network")
    sizes = [net.get("in_features", 784), *net["hidden"], net.get("num_classes", 10)]
    params = sum(a * b + b for a, b in zip(sizes, sizes[1:]))
    layers = " -> ".join(map(str, sizes))
    dropout = net.get("dropout") or 0
    text = (
        f"The network is a multi-layer perceptron with fully-connected layers only: {layers} "
        f"({params:,} parameters). Each image is flattened to {sizes[0]} values, normalized by the "
        f"training set's mean and standard deviation; every hidden layer is followed by ReLU"
        + (f" and dropout with probability {dropout:g} [@dropout]" if dropout else "")
        + ", and the last layer gives the 10 class scores. "
        + _training(config, history)
        + " Fashion-MNIST [@fashion_mnist] has 60,000 training and 10,000 test images."
    )
    during = "with dropout on" if dropout else "as the weights changed"
    return text + "\n\n" + _results(test, history, during)


def ablation(path: Path) -> tuple[dict[str, tuple[float, float, float]], str]:
    """The measured ablation (docs/cifar_ablation.md, written by ``python -m bench.cifar_ablation``):
    ({variant: (mean test accuracy, its sd over seeds, change in points)}, how it was
    measured), or ({}, "")."""
    if not path.exists():
        return {}, ""
    text = path.read_text()
    rows = {}
    for variant, acc, sd, change in re.findall(
        r"^\| ([^|]+?) \| ([\d.]+) ± ([\d.]+) \| ([^|]*)\|", ablation_table(text), re.M
    ):
        rows[variant] = (float(acc), float(sd), float(change.replace("pt", "").strip() or 0))
    epochs, seeds = re.search(r"(\d+) epochs", text), re.search(r"(\d+) seeds", text)
    sizes = re.search(r"trained on ([\d,]+) \S+ training images and tested on ([\d,]+)", text)
    how = "each row removes one ingredient from the recipe"
    if epochs and seeds and sizes:
        how += (
            f"; {seeds.group(1)} seeds each, {epochs.group(1)} epochs on a subset of "
            f"{sizes.group(1)} training images, tested on {sizes.group(2)} test images"
        )
    return rows, how


def ablation_table(text: str) -> str:
    """The first ``| variant | ...`` table of an ablation page ("" if none)."""
    table = re.search(r"^\| variant \|.*?(?=\n\n|\Z)", text, flags=re.M | re.S)
    return table.group(0) if table else ""


# (the ablation row that removes it, or None; when it applies to a resolved config; the text)
CNN_PARTS = [
    (
        "whitening",
        lambda c: True,
        "The first layer is a fixed {k}x{k} convolution, not trained: its filters are the "
        "eigenvectors of the covariance of {k}x{k} patches of training images, scaled by one over "
        "the square root of their eigenvalue, in both signs (patch whitening, as in airbench "
        "[@airbench]). The next layer sees decorrelated inputs of unit variance from the first step, "
        "so a high learning rate is usable at once.",
    ),
    (
        None,
        lambda c: True,
        "Three groups of {w0}, {w1} and {w2} channels follow; each is a 3x3 convolution, 2x2 "
        "max-pooling, batch normalization [@batchnorm] and GELU [@gelu], then a second 3x3 "
        "convolution, batch normalization and GELU. The convolutions start as the identity (dirac "
        "initialization) and batch normalization has a fixed scale and a learned bias; a last "
        "max-pooling, a linear layer without bias and a factor of {scale:.3g} give the class "
        "scores, small at the start.",
    ),
    (
        "flip",
        lambda c: c["flip"],
        "Training images are mirrored: {flip}; CIFAR-10 [@cifar10] has 50,000 training images, few "
        "enough for the network to memorize them.",
    ),
    (
        "translate",
        lambda c: c["translate"],
        "They are also shifted by up to {translate} pixels (reflect padding), another augmentation.",
    ),
    (
        "test-time",
        lambda c: c["tta"],
        "At test time the scores of each image, its mirror and its 1-pixel shifted copies are "
        "averaged (test-time augmentation).",
    ),
    (
        "label smoothing",
        lambda c: c["smoothing"],
        "The training target puts {keep:g} on the true class and spreads {smoothing:g} over all "
        "classes (label smoothing [@label_smoothing]): the logits stay bounded at a large learning rate.",
    ),
    (
        "BatchNorm-bias",
        lambda c: c["norm_lr"] != 1,
        "The batch-normalization biases learn {norm_lr:g} times faster than the weights, with their "
        "weight decay divided by as much (airbench's rule).",
    ),
]
CHANGE = (
    "In the project's recorded ablation, removing it {verb} the test accuracy by {points:.2f} "
    "points ({base:.2%} -> {acc:.2%}){noise}."
)
NOISE = ", within the seed-to-seed spread ({spread:.1f} points)"


def _spread(base: tuple, row: tuple) -> float:
    """Two standard deviations over seeds, in points: smaller changes are noise."""
    return 200 * max(base[1], row[1])


def _cnn_facts(config: dict) -> dict:
    net, data, model = _init(config, "model", "network"), _init(config, "data"), config["model"]
    w = list(net.get("widths", (64, 256, 256)))
    flip = data.get("flip")
    smoothing = model.get("label_smoothing") or 0
    return {
        "k": net.get("whiten_kernel", 2),
        "w0": w[0],
        "w1": w[1],
        "w2": w[2],
        "scale": net.get("scaling_factor", 1 / 9),
        "translate": data.get("translate") or 0,
        "flip": "each image in every other epoch, a seeded half of them in the first "
        "(airbench's alternating flip [@airbench])"
        if flip == "alternating"
        else "each image with probability 1/2 in every epoch",
        "tta": net.get("tta_level", 0),
        "smoothing": smoothing,
        "keep": 1 - smoothing,
        "norm_lr": model.get("norm_lr_scale", 1.0),
    }


def _measured(rows: dict, part: str | None) -> str:
    found = [(v, r) for v, r in rows.items() if part and part.lower() in v.lower()]
    base = next((r for v, r in rows.items() if v.startswith("baseline")), None)
    if not found or base is None:
        return ""
    _, row = found[0]
    acc, _, change = row
    spread = _spread(base, row)
    noise = NOISE.format(spread=spread) if abs(change) < spread else ""
    verb = "lowered" if change < 0 else "raised"
    return " " + CHANGE.format(verb=verb, points=abs(change), base=base[0], acc=acc, noise=noise)


def cnn_answer(config: dict, test: dict, history: dict, ablation_path: Path) -> str:
    """4.2: the network and each choice of its recipe, in prose, with what each contributed in
    the measured ablation."""
    facts, (rows, how) = _cnn_facts(config), ablation(ablation_path)
    parts = [
        text.format(**facts) + _measured(rows, row)
        for row, applies, text in CNN_PARTS
        if applies(facts)
    ]
    lookahead = next((r for v, r in rows.items() if "lookahead" in v.lower()), None)
    callbacks = str(config.get("trainer", {}).get("callbacks") or "")
    if lookahead and "Lookahead" not in callbacks:
        parts.append(
            "The recorded ablation's recipe also averaged the weights with Lookahead "
            f"[@lookahead] as airbench does; removing it changed the accuracy by "
            f"{lookahead[2]:+.2f} points, no gain, so this recipe leaves it out."
        )
    text = (
        "The design follows airbench [@airbench], re-implemented in this project's code and trained "
        "from scratch. "
        + " ".join(parts[:2])
        + "\n\n"
        + " ".join(parts[2:])
        + "\n\n"
        + _training(config, history)
    )
    if rows:
        text += (
            f" The effects above are not from this run: they are the project's recorded ablation "
            f"(`docs/cifar_ablation.md`, measured by `python -m bench.cifar_ablation`): {how}."
        )
    return text + "\n\n" + _results(test, history, "on augmented images")


def parse(text: str) -> dict[str, tuple[str | None, str, str | None]]:
    """answers.md -> {question: (the digest it was written from, or None; its text; the
    fingerprint of the text as generated, or None)}."""
    found = {}
    for part in re.split(r"^## ", text, flags=re.M)[1:]:
        heading, _, body = part.partition("\n")
        question = heading.split()[0] if heading.split() else ""
        m = MEASURED.search(body)
        measured, generated = (m.group(1), m.group(2)) if m else (None, None)
        found[question] = (measured, MEASURED.sub("", body).strip(), generated)
    return found


def section(question: str, title: str, measured: str, text: str) -> str:
    mark = f"<!-- measured: {measured} generated: {digest(text.strip())} -->"
    return f"## {question} {title}\n{mark}\n\n{text.strip()}\n"


def untouched(text: str, generated_now: str, generated_then: str | None) -> bool:
    """Is a section still word for word generated text: today's, or what was written then?"""
    return text == generated_now.strip() or digest(text) == generated_then


UNCHANGED = (
    "{path} {question} is still the generated text: the cover page certifies your answers are "
    "in your own words, so rewrite it there"
)


def sync(
    path: Path, generated: dict[str, tuple[str, str, str]]
) -> tuple[dict[str, str], list[str], str | None]:
    """(the answers to show, {question: text}; what to tell the student; the new text of
    ``path``, or None when it keeps its text). ``generated``: {question: (title, digest, text)}
    from the current measurements. Sections missing from ``path`` are added (the file is
    created if needed); the student's text is never overwritten; a section written from other
    measurements, and one still word for word the generated text, is named in a note."""
    existing = parse(path.read_text()) if path.exists() else {}
    answers, notes, added, unchanged = {}, [], [], []
    for question, (title, measured, text) in generated.items():
        if question not in existing:
            added.append(section(question, title, measured, text))
            answers[question] = text
            continue
        was, answers[question], then = existing[question]
        if untouched(answers[question], text, then):
            unchanged.append(question)
        if was is not None and was != measured:
            notes.append(
                f"{path} {question} was written from other measurements than the current ones: "
                "check its numbers, or delete the section to have it written again"
            )
    answers.update({q: t for q, (_, t, _) in existing.items() if q not in answers})
    notes += [UNCHANGED.format(path=path, question=q) for q in unchanged]
    if not added:
        return answers, notes, None
    before = path.read_text().rstrip() + "\n\n" if path.exists() else HEADER + "\n"
    notes.append(f"wrote {len(added)} answer(s) to {path} from the measurements: edit them there")
    return answers, notes, before + "\n".join(added)


def generate(experiments: Path, shown_runs: dict, docs: Path) -> dict[str, tuple[str, str, str]]:
    """{question: (title, digest, text)} for every question whose measurements exist: 3.5 from
    the sweep, and each shown run whose network this module can describe (MLP, CifarCNN)."""
    out = {}
    sweep = experiments / "sweep" / "results.json"
    if sweep.exists():
        results = json.loads(sweep.read_text())
        out["3.5"] = (
            homework.question("3.5").answer,
            digest(results),
            sweep_answer(results),
        )
    for entry, run in shown_runs.items():
        config = run_config(run)
        test = json.loads((run / "test_metrics.json").read_text())
        history = json.loads((run / "metrics.json").read_text())
        network = config["model"]["network"]["class_path"].rsplit(".", 1)[-1]
        facts = (config["model"], config.get("data"), test, history["val/acc"])
        if network == "MLP":
            text = mlp_answer(config, test, history)
        elif network == "CifarCNN":
            ablated = docs / "cifar_ablation.md"
            text = cnn_answer(config, test, history, ablated)
            facts += (ablated.read_text() if ablated.exists() else "",)
        else:
            continue
        out[entry.question] = (homework.question(entry.question).answer, digest(*facts), text)
    return out
