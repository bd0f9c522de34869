"""``curves.png``: loss and metric curves over the training steps (matplotlib, Agg canvas)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

from hookwise_logging._records import INDEX_COLUMNS, Row

PREFIXES = ("train", "val", "test")


def panel_name(key: str) -> str:
    """The panel a key is drawn in: its name without the ``train/``/``val/``/``test/``
    prefix, so ``train/loss`` and ``val/loss`` share the ``loss`` panel."""
    head, sep, rest = key.partition("/")
    return rest if sep and head in PREFIXES else key


def group_series(rows: Sequence[Row]) -> dict[str, dict[str, tuple[list[int], list[float]]]]:
    """``{panel: {key: (steps, values)}}``: the ``loss`` panel first, then the other panels
    whose name contains "loss", then the rest, each group in the order keys appeared."""
    panels: dict[str, dict[str, tuple[list[int], list[float]]]] = {}
    for row in rows:
        step = int(row["step"])
        for key, value in row.items():
            if key in INDEX_COLUMNS:
                continue
            steps, values = panels.setdefault(panel_name(key), {}).setdefault(key, ([], []))
            steps.append(step)
            values.append(float(value))
    order = sorted(panels, key=lambda name: (name != "loss", "loss" not in name.lower()))
    return {name: panels[name] for name in order}


def plot_curves(rows: Sequence[Row], path: Path) -> list[str]:
    """Draw every logged key against the step into ``path`` (a PNG, written atomically).

    :returns: the panel titles, in drawing order (empty when there was nothing to draw; no
        file is written then).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    panels = group_series(rows)
    if not panels:
        return []
    columns = min(3, len(panels))
    lines = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(5.0 * columns, 3.4 * lines), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(lines, columns, squeeze=False)
    for index, (title, series) in enumerate(panels.items()):
        ax = axes[index // columns][index % columns]
        for key, (steps, values) in series.items():
            few = len(steps) < 50
            ax.plot(steps, values, label=key, marker="o" if few else None, markersize=3)
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    for index in range(len(panels), lines * columns):
        axes[index // columns][index % columns].set_visible(False)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    figure.savefig(temporary, format="png")
    os.replace(temporary, path)
    return list(panels)
