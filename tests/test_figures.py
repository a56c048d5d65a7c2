"""Every figure of every shipped instance is fit for a paper.

Each instance runs shrunk as in ``test_instance_regression.py`` (same edits),
its report writes its figures, and every matplotlib Figure that
:func:`gridgames.plotting.save_figure` writes is captured and checked:

* every axes has a title, or the figure a suptitle;
* every axis that shows tick labels has a label with a unit in parentheses or
  brackets (unitless quantities say ``(–)``; categorical axes need a label only);
* legends lie inside the figure and cover no plotted data point or line;
* tick labels of one axis do not overlap each other;
* no text sticks out of the figure (nothing clipped in the PNG);
* a series of one or two points is drawn with markers (no line chart of one point).

The checks are written here, independently of the layout code in
``gridgames/plotting.py``; ``test_checks_catch_bad_figures`` shows each can fail.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from gridgames.models.instance import registered_models
from gridgames.plotting import capture_figures, pyplot, save_figure
from test_instance_regression import CASES, _instance

UNIT = re.compile(r"\(.+\)|\[.+\]")
PAD = 1.0   # pixels of tolerance


def _renderer(fig: Any) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    if not hasattr(fig.canvas, "get_renderer"):   # closed by save_figure: give it an Agg canvas again
        FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def _inside(box: Any, outer: Any) -> bool:
    return (box.x0 >= outer.x0 - PAD and box.y0 >= outer.y0 - PAD and box.x1 <= outer.x1 + PAD
            and box.y1 <= outer.y1 + PAD)


def _overlap(a: Any, b: Any) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > PAD and min(a.y1, b.y1) - max(a.y0, b.y0) > PAD


def _visible_ticklabels(axis: Any, renderer: Any) -> list[Any]:
    ax = axis.axes
    if not axis.get_visible():
        return []
    box = ax.get_window_extent(renderer)
    out = []
    for tick in axis.get_major_ticks():
        label = tick.label1
        if not (label.get_visible() and tick.get_visible() and label.get_text()):
            continue
        ext = label.get_window_extent(renderer)
        lo, hi = (box.x0, box.x1) if axis is ax.xaxis else (box.y0, box.y1)
        mid = (ext.x0 + ext.x1) / 2 if axis is ax.xaxis else (ext.y0 + ext.y1) / 2
        if lo - PAD <= mid <= hi + PAD:
            out.append(ext)
    return out


def _is_reference(line: Any, ax: Any) -> bool:
    """axhline/axvline: drawn in a blended axes/data transform, not data."""
    return not line.get_transform().contains_branch(ax.transData)


def _data_hits(ax: Any, legend_box: Any) -> list[str]:
    hits = []
    for line in ax.get_lines():
        if not line.get_visible() or _is_reference(line, ax):
            continue
        path = line.get_transform().transform_path(line.get_path())
        if line.get_linestyle() in ("None", "", " ", "none"):
            pts = path.vertices
            if np.any((pts[:, 0] > legend_box.x0) & (pts[:, 0] < legend_box.x1)
                      & (pts[:, 1] > legend_box.y0) & (pts[:, 1] < legend_box.y1)):
                hits.append(f"points of {line.get_label()!r}")
        elif path.intersects_bbox(legend_box, filled=False):
            hits.append(f"line {line.get_label()!r}")
    for patch in ax.patches:
        if type(patch).__name__ == "Rectangle" and patch.get_visible() and patch.get_height() != 0 \
                and patch.get_transform().contains_branch(ax.transData):
            if _overlap(patch.get_window_extent(), legend_box):
                hits.append(f"bar {patch.get_label()!r}")
    for coll in ax.collections:
        if coll.get_visible() and type(coll).__name__ in ("PolyCollection", "FillBetweenPolyCollection"):
            for path in coll.get_paths():
                if path.transformed(coll.get_transform()).intersects_bbox(legend_box, filled=True):
                    hits.append("filled area")
                    break
    return hits


def _twins(ax: Any, fig: Any) -> list[Any]:
    return [other for other in fig.axes if other is not ax
            and np.allclose(other.get_position().bounds, ax.get_position().bounds)]


def figure_problems(fig: Any) -> list[str]:
    """Everything wrong with one drawn figure, as readable lines (empty: fit for a paper)."""
    renderer = _renderer(fig)
    fig_box = fig.bbox
    problems = []
    suptitle = fig._suptitle is not None and fig._suptitle.get_text()
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible() or not ax.axison:
            continue
        name = f"axes {i} ({ax.get_title() or 'untitled'})"
        twins = _twins(ax, fig)
        if not (ax.get_title() or suptitle or any(t.get_title() for t in twins)):
            problems.append(f"{name}: no title and no suptitle")
        for axis, which in ((ax.xaxis, "x"), (ax.yaxis, "y")):
            labels = _visible_ticklabels(axis, renderer)
            if not labels:
                continue
            text = axis.get_label().get_text()
            categorical = not all(re.fullmatch(r"[−\-+0-9.,e%:/ ]+|\d{4}-\d\d(-\d\d)?|[A-Z][a-z]{2} \d+|\d+ [A-Z][a-z]{2}",
                                               t.get_text()) for t in axis.get_ticklabels() if t.get_text())
            if not text:
                problems.append(f"{name}: {which} axis has no label")
            elif not categorical and not UNIT.search(text):
                problems.append(f"{name}: {which} label {text!r} has no unit in () or []")
            boxes = sorted(labels, key=lambda b: b.x0 if which == "x" else b.y0)
            for a, b in zip(boxes, boxes[1:]):
                if _overlap(a, b):
                    problems.append(f"{name}: overlapping {which} tick labels")
                    break
        for line in ax.get_lines():
            n = len(line.get_xdata()) if np.ndim(line.get_xdata()) else 1
            if not _is_reference(line, ax) and n <= 2 and line.get_marker() in ("None", "", " ", None):
                problems.append(f"{name}: {n}-point series {line.get_label()!r} drawn as a line without markers")
        legend = ax.get_legend()
        if legend is not None and legend.get_visible():
            box = legend.get_window_extent(renderer)
            if not _inside(box, fig_box):
                problems.append(f"{name}: legend outside the figure (clipped)")
            for host in [ax, *twins]:
                hits = _data_hits(host, box)
                if hits:
                    problems.append(f"{name}: legend covers data ({', '.join(sorted(set(hits))[:3])})")
    for legend in fig.legends:
        if not _inside(legend.get_window_extent(renderer), fig_box):
            problems.append("figure legend outside the figure (clipped)")
    ticks = {id(t.label1) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
             for t in axis.get_major_ticks() + axis.get_minor_ticks()}
    ticks |= {id(t.label2) for ax in fig.axes for axis in (ax.xaxis, ax.yaxis)
              for t in axis.get_major_ticks() + axis.get_minor_ticks()}
    shown = [box for ax in fig.axes if ax.axison for axis in (ax.xaxis, ax.yaxis)
             for box in _visible_ticklabels(axis, renderer)]
    if any(not _inside(box, fig_box) for box in shown):
        problems.append("tick labels clipped by the figure edge")
    for text in fig.findobj(lambda a: hasattr(a, "get_text") and hasattr(a, "get_window_extent")):
        if id(text) in ticks:
            continue
        if text.get_visible() and text.get_text().strip() and getattr(text, "figure", None) is fig:
            box = text.get_window_extent(renderer)
            if box.width > 0 and not _inside(box, fig_box):
                problems.append(f"text {text.get_text()[:30]!r} clipped by the figure edge")
    return problems


#: extra shrunk variants: one buyer count (a one-point series), a non-paper Stackelberg day
VARIANTS: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "microgrid_one_count": ("microgrid_paper", {"market.buyer_counts": [40]}, {}),
    "stackelberg_other_day": ("stackelberg_bpat", {}, {"day": "2021-03-10"}),
}
FAST = ["dispatch_small", "stackelberg_bpat", "tou_community", "microgrid_paper", "rtp_district",
        "stackelberg_bpat-days"]


def _render(case: str, tmp_path: Path) -> list[tuple[Any, Path]]:
    base, extra_edits, extra_options = VARIANTS.get(case, (case, {}, {}))
    instance = _instance(base, tmp_path)
    for dotted, value in extra_edits.items():
        *sections, key = dotted.split(".")
        node = instance.data
        for s in sections:
            node = node[s]
        node[key] = value
    _, options, _ = CASES[base]
    options = {**options, **extra_options}
    if instance.model == "tou_pricing" and "city" in instance.data:
        options["out"] = tmp_path / "city"
    report = registered_models()[instance.model].run(instance, **options)
    with capture_figures() as figures:
        report.write(tmp_path / "out")
    return figures


@pytest.mark.parametrize("case", [*FAST, *VARIANTS, pytest.param("rtp_household", marks=pytest.mark.slow)])
def test_every_figure_of_the_instance_is_fit_for_a_paper(case, tmp_path):
    figures = _render(case, tmp_path)
    if case != "rtp_district":   # the district draws with its own chunks; at least one figure each
        assert figures, f"{case}: no figure drawn"
    problems = [f"{path.name}: {p}" for fig, path in figures for p in figure_problems(fig)]
    assert not problems, "\n".join(problems)


def test_checks_catch_bad_figures(tmp_path):
    """Each check fails on a figure made to break it (so the test above can fail)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(3, 2))
    x = np.linspace(0, 1, 50)
    ax.plot(x, np.full_like(x, 0.9), label="a long label that sits right on the data")
    ax.plot([0.5], [0.5], label="one point")
    ax.legend(loc="upper right", bbox_to_anchor=(1.6, 1.0))
    ax.set_xticks(np.linspace(0, 1, 30), [f"label {i}" for i in range(30)])
    fig.canvas.draw()
    problems = "\n".join(figure_problems(fig))
    for expected in ("no title", "x axis has no label", "y axis has no label", "legend outside",
                     "overlapping x tick labels", "1-point series", "clipped by the figure edge"):
        assert expected in problems, (expected, problems)
    fig2, ax2 = plt.subplots()
    ax2.plot(x, x, label="diagonal")
    ax2.legend(loc="center")
    ax2.set(title="t", xlabel="time", ylabel="load (MW)")
    problems = "\n".join(figure_problems(fig2))
    assert "legend covers data" in problems and "'time' has no unit" in problems
    plt.close(fig)
    plt.close(fig2)


def test_save_figure_moves_a_covering_legend_and_rotates_crowded_ticks(tmp_path):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(4, 3))
    x = np.linspace(0, 1, 40)
    ax.plot(x, x, label="diagonal")
    ax.plot(x, 1 - x, label="anti-diagonal")
    ax.legend(loc="center")
    ax.set_xticks(np.linspace(0, 1, 12), [f"household {i}" for i in range(12)])
    ax.set(title="t", xlabel="household (–)", ylabel="load (MW)")
    with capture_figures() as seen:
        save_figure(fig, tmp_path / "x.png")
    assert (tmp_path / "x.png").is_file() and seen
    assert figure_problems(seen[0][0]) == []


def test_forecast_value_figure_is_fit_for_a_paper(tmp_path):
    from gridgames.models.forecast_value import plot_value
    summary = pd.DataFrame({"stackelberg_company_gain_change": [-1200.0, -300.0, -4100.0],
                            "stackelberg_abs_bill_change": [2500.0, 900.0, 5200.0],
                            "rtp_abs_bill_change": [1800.0, 700.0, 3900.0],
                            "stackelberg_price_change": [3.1, 1.2, 6.4], "rtp_price_change": [2.2, 0.8, 5.0]},
                           index=["naive-24", "sarima", "lstm"])
    with capture_figures() as seen:
        plot_value(summary, tmp_path / "value.png", period="test")
    assert len(seen) == 1 and figure_problems(seen[0][0]) == []


#: shipped instances whose figures are not rendered above, and why
NOT_RENDERED = {
    "tou_city": "draws no figure (tables and resumable seller-day results only)",
    "microgrid_margins": "its figures are the microgrid figures of one buyer count (variant microgrid_one_count); "
                         "the margin stage adds a table, no figure, and its joint solve takes minutes",
}


def test_every_shipped_instance_is_rendered_or_excused():
    from gridgames.data.bundled import instance_names
    rendered = {c for c in FAST if c in CASES} | {"rtp_household"}
    missing = sorted(set(instance_names()) - rendered - set(NOT_RENDERED))
    assert not missing, f"shipped instances whose figures no test renders: {missing}"


def test_crowded_minor_tick_labels_of_a_short_log_axis_are_dropped(tmp_path):
    """A log axis over 0.26-4.3 s labels its minor ticks 3×10⁻¹, 4×10⁻¹ ... on top of each other (review 9)."""
    from gridgames.plotting import settle_layout

    fig, ax = pyplot().subplots(figsize=(6, 4))
    ax.scatter([0.26, 1.55, 4.3], [5e-16, 4e-8, 1.7e-9])
    ax.set(xscale="log", yscale="log", xlabel="wall time (s)", ylabel="gap")
    settle_layout(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    labels = [t for t in ax.get_xticklabels() + ax.get_xticklabels(minor=True) if t.get_visible() and t.get_text()]
    boxes = sorted((t.get_window_extent(renderer) for t in labels), key=lambda b: b.x0)
    assert all(min(a.x1, b.x1) - max(a.x0, b.x0) <= 0.5 for a, b in zip(boxes, boxes[1:]))
    pyplot().close(fig)
