"""The monitoring section of the HTML report: per group, served labels against the holdout's, and confidence.

`monitoring_html(report)` renders the dict of `compose.evaluation.monitoring.monitor` (the
evaluation report includes it under its `monitoring` key); `write_monitor_html` writes it as a
page of its own, as `compose monitor --html` does. Figures are `matplotlib.figure.Figure` objects
rendered to PNG data URIs; pyplot and the process-wide backend are never touched.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from compose.data.io import atomic_write
from compose.evaluation.sections import STYLE, figure_uri, require_matplotlib


def _figure(group: str, g: dict[str, Any]) -> str:
    """Two panels: the share of each label served and on the holdout, and the confidence histogram."""
    from matplotlib.figure import Figure

    served, held = g["labels"], g["holdout"].get("labels", {})
    labels = sorted(set(served) | set(held), key=lambda k: -served.get(k, 0))
    fig = Figure(figsize=(10, 3.2))
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 2]})
    x = np.arange(len(labels))
    for offset, counts, name, colour in ((-0.2, served, f"served (n={sum(served.values())})", "#1f5fa8"),
                                         (0.2, held, f"holdout (n={sum(held.values())})", "#b0b0b0")):
        total = max(sum(counts.values()), 1)
        left.bar(x + offset, [counts.get(k, 0) / total for k in labels], 0.4, label=name, color=colour)
    left.set_xticks(x, labels, rotation=45 if len(labels) > 5 else 0, ha="right" if len(labels) > 5 else "center",
                    fontsize=8)
    drift = g["drift"]
    score = "-" if drift["score"] is None else f"{drift['score']:.3f}"
    left.set_title(f"{group} ({g['release']}): label shares, drift {score}"
                   f"{' FLAGGED' if drift['flagged'] else ''}", fontsize=10, color="#b00020" if drift["flagged"]
                   else "black")
    left.legend(fontsize=8)
    hist = g["confidence"]
    edges = hist["edges"]
    right.bar(edges[:-1], hist["counts"], width=np.diff(edges), align="edge", color="#7fb2e5", edgecolor="white")
    acc = g["holdout"].get("accuracy")
    if hist["mean"] is not None:
        right.axvline(hist["mean"], color="#1f5fa8", linestyle="-", label=f"mean confidence {hist['mean']:.2f}")
    if acc is not None:
        right.axvline(acc, color="#b3541e", linestyle="--", label=f"holdout accuracy {acc:.2f}")
    right.set_xlim(0, 1)
    right.set_title(f"{group}: confidence", fontsize=10)
    if hist["mean"] is not None or acc is not None:
        right.legend(fontsize=8, loc="upper left")
    return figure_uri(fig)


def _row(group: str, g: dict[str, Any]) -> str:
    def pct(x: float) -> str:
        return f"{x:.1%}"

    drift, real, shares = g["drift"], g["realized"], g["shares"]
    cls = ' class="flag"' if drift["flagged"] else ""
    cells = [html.escape(group), html.escape(g["release"]), str(g["n"]),
             "-" if drift["score"] is None else f"{drift['score']:.3f}", f"{drift['threshold']:g}",
             "-" if g["confidence"]["mean"] is None else f"{g['confidence']['mean']:.3f}",
             "-" if g["holdout"].get("accuracy") is None else f"{g['holdout']['accuracy']:.3f}",
             pct(shares["abstained"] + shares["rejected"] + shares["below_threshold"]), pct(shares["review"]),
             pct(shares["gated_off"]), "-" if real["accuracy"] is None else f"{real['accuracy']:.3f} ({real['n']})"]
    return f"<tr{cls}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def monitoring_html(report: dict[str, Any] | None) -> str:
    """The section: a table of every group, then its two plots."""
    if not report or not report.get("groups"):
        return ""
    require_matplotlib()
    esc = html.escape
    since = f" since {esc(report['since'])}" if report.get("since") else ""
    parts = [f"<h2>Monitoring</h2><p class='note'>{report['rows']} served rows{since}, from the answers "
             "<code>compose serve --capture</code> kept. Drift is the Jensen-Shannon distance between the labels "
             "served and the labels the release predicts on the group version's holdout (gated-off rows left "
             "out); a group is flagged over its <code>monitor: {drift: ...}</code> threshold.</p>",
             "<table><tr><th>group</th><th>release</th><th>n</th><th>drift</th><th>threshold</th>"
             "<th>mean confidence</th><th>holdout accuracy</th><th>no label</th><th>review</th><th>gated off</th>"
             "<th>realized accuracy (n)</th></tr>"]
    parts.extend(_row(group, g) for group, g in report["groups"].items())
    parts.append("</table>")
    for group, g in report["groups"].items():
        parts.append(f'<img alt="{esc(group)} monitoring" src="{_figure(group, g)}">')
    return "".join(parts)


def write_monitor_html(report: dict[str, Any], path: str | Path) -> Path:
    """The monitoring section as a page of its own."""
    title = f"compose monitor: {report.get('model', '')}"
    body = monitoring_html(report) or "<p>No served answers in this window.</p>"
    return atomic_write(path, f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}"
                              f"</title><style>{STYLE}.flag td{{background:#fde2e4}}</style></head><body>"
                              f"<h1>{html.escape(title)}</h1>{body}</body></html>\n")
