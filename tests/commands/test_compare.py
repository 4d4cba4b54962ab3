"""commands/compare.py's plot: titled by its config, every run visible where the curves coincide."""

from matplotlib.axes import Axes

from commands import compare
from lightning_hw import io


def test_the_plot_shows_every_run_where_they_coincide(tmp_path, monkeypatch):
    drawn = {}
    monkeypatch.setattr(
        compare,
        "plot_curves",
        lambda path, lines, ylabel, title, styles, **kw: drawn.update(
            lines=lines, title=title, styles=styles
        ),
    )
    same = ([1.0, 0.5, 0.2], [1.1, 0.6, 0.3])
    curves = {"numpy_nn": same, "lightning numpy": same, "lightning torch": same}
    compare._plot(curves, str(tmp_path / "c.png"), "iris_compare")
    assert drawn["title"].startswith("iris_compare: numpy_nn vs lightning numpy vs lightning torch")
    assert "coincide" in drawn["title"]
    widths = [drawn["styles"][f"{run} train"]["linewidth"] for run in curves]
    markers = {drawn["styles"][f"{run} train"]["marker"] for run in curves}
    assert widths == sorted(widths, reverse=True) and len(set(widths)) == 3 and len(markers) == 3
    apart = {"numpy_nn": same, "lightning torch": ([1.0, 0.4, 0.1], [1.1, 0.6, 0.3])}
    compare._plot(apart, str(tmp_path / "c.png"), "iris_compare")
    assert "coincide" not in drawn["title"]


def test_a_one_epoch_curve_says_it_is_one_point(tmp_path, monkeypatch):
    said = []
    monkeypatch.setattr(Axes, "text", lambda self, x, y, s, **kw: said.append(s))
    io.plot_curves(tmp_path / "one.png", {"train": [0.5], "test": [0.6]}, "loss", "one epoch")
    assert said == ["one epoch: each line is a single point"] and (tmp_path / "one.png").exists()
