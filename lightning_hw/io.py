"""Files the Lightning side writes: the plots. Every file goes through the ground floor's
``plumbing.files.atomic_path`` (a crash never leaves a half-written file behind)."""

import os

from plumbing.files import atomic_path


def save_figure(fig, path: str | os.PathLike, dpi: int = 120) -> None:
    """Save a matplotlib figure as PNG."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi)


def new_figure(figsize=(6, 4), **subplots):
    """A figure and its axes, outside pyplot: it needs no display, and it leaves pyplot's backend
    alone (a notebook that trains keeps showing its own plots inline). ``subplots`` (nrows,
    ncols, squeeze, ...) go to ``Figure.subplots``."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(**subplots)


def plot_curves(
    path: str | os.PathLike,
    curves: dict,
    ylabel: str,
    title: str | None = None,
    styles: dict | None = None,
    log_scale: bool = False,
    figsize=(6, 4),
) -> None:
    """One PNG with a line per entry of ``curves`` ({label: per-epoch values}, a list from epoch 1
    or a dict {epoch: value} for a curve measured after some epochs only); ``styles`` maps a
    label to matplotlib line options (color, linestyle, ...)."""
    from matplotlib.ticker import MaxNLocator

    fig, ax = new_figure(figsize)
    one_epoch = max((len(v) for v in curves.values()), default=0) == 1
    for label, values in curves.items():
        style = {"marker": "o", "markersize": 3} if len(values) <= 30 else {}  # short runs: visible
        style.update((styles or {}).get(label, {}))
        if one_epoch:
            style.update(markersize=8, markevery=None)
        if isinstance(values, dict):
            ax.plot(list(values), list(values.values()), label=label, **style)
        else:
            ax.plot(range(1, len(values) + 1), values, label=label, **style)
    ax.set(xlabel="epoch", ylabel=ylabel, title=title or "")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs, never 2.5
    if one_epoch:  # a single point per line, not a curve: say so, on a whole-epoch axis
        ax.set_xlim(0, 2), ax.set_xticks([0, 1, 2])
        ax.text(
            0.5,
            0.04,
            "one epoch: each line is a single point",
            transform=ax.transAxes,
            ha="center",
            fontsize=9,
            color="0.35",
        )
    if log_scale:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8 if len(curves) > 4 else None)
    fig.tight_layout()
    save_figure(fig, path)
