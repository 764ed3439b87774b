"""A self-contained HTML report of an evaluation: one file, every image embedded as a data URI.

It shows the baseline table (composed vs monolithic, when a baseline was run), then per group a
confusion matrix (multiclass and binary groups; one panel per model) and per-label precision and
recall bars. Figures are `matplotlib.figure.Figure` objects rendered straight to PNG, without
pyplot: the process-wide backend is never switched and no figure is left registered anywhere.
matplotlib is an optional dependency (the `report` extra).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from compose.data.io import atomic_write
from compose.evaluation.hierarchy import hierarchy_html
from compose.evaluation.sections import STYLE, audit_html, curves_html, figure_class

if TYPE_CHECKING:
    from compose.evaluation.evaluator import EvaluationReport

def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _confusion_figure(figure: Any, group: str, panels: list[tuple[str, dict[str, Any]]]) -> str:
    """One heat map per model: rows true labels, columns predicted (+ none, several), row-normalised."""
    k = len(panels[0][1]["labels"])
    fig = figure(figsize=(min(4 + 0.55 * k, 9) * len(panels), 1.5 + 0.5 * k))
    axes = fig.subplots(1, len(panels), squeeze=False)
    for ax, (title, cm) in zip(axes[0], panels, strict=True):
        counts = np.asarray(cm["matrix"], dtype=float)
        share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(cm["columns"])), cm["columns"], rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(k), cm["labels"], fontsize=8)
        ax.set_xlabel("predicted")
        if ax is axes[0][0]:
            ax.set_ylabel("true")
        ax.set_title(f"{group}: {title}", fontsize=10)
        if k <= 12:
            for i in range(k):
                for j in range(counts.shape[1]):
                    if counts[i, j]:
                        ax.text(j, i, str(int(counts[i, j])), ha="center", va="center", fontsize=7,
                                color="white" if share[i, j] > 0.6 else "black")
    return _png(fig)


def _bars_figure(figure: Any, group: str, models: list[tuple[str, dict[str, Any]]]) -> str:
    """Precision and recall per label, one pair of bars per model."""
    labels = list(models[0][1]["per_label"])
    x = np.arange(len(labels))
    width = 0.8 / (2 * len(models))
    fig = figure(figsize=(max(6.0, 0.45 * len(labels) * len(models) + 2), 3.4))
    ax = fig.subplots()
    colours = [("#1f5fa8", "#7fb2e5"), ("#b3541e", "#f0a678")]
    for m, (name, metrics) in enumerate(models):
        per = metrics["per_label"]
        for s, stat in enumerate(("precision", "recall")):
            offset = (2 * m + s - len(models) + 0.5) * width
            ax.bar(x + offset, [per[lab][stat] for lab in labels], width, label=f"{name} {stat}",
                   color=colours[m % 2][s])
    ax.set_xticks(x, [f"{lab}\n(n={models[0][1]['per_label'][lab]['support']})" for lab in labels],
                  rotation=45 if len(labels) > 6 else 0, ha="right" if len(labels) > 6 else "center", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title(f"{group}: precision and recall per label", fontsize=10)
    ax.legend(fontsize=8, ncol=2 * len(models), loc="lower center", bbox_to_anchor=(0.5, 1.08))
    return _png(fig)


def _cell(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.4f}"
    return "-" if x is None else html.escape(str(x))


def _comparison_table(report: EvaluationReport) -> str:
    head = ("<tr><th>group</th><th>kind</th><th>n</th><th>metric</th><th>composed</th><th>monolithic</th>"
            "<th>monolithic, argmax per group</th><th>invalid rate, composed</th><th>invalid rate, monolithic</th>"
            "</tr>")
    body = []
    for r in report["comparison"]:
        c, m = r["composed"], r["monolithic"]
        win_c = ' class="better"' if c is not None and m is not None and c > m else ""
        win_m = ' class="better"' if c is not None and m is not None and m > c else ""
        body.append(f"<tr><td>{_cell(r['group'])}</td><td>{_cell(r['kind'])}</td><td>{r['n']}</td>"
                    f"<td>{_cell(r['metric'])}</td><td{win_c}>{_cell(c)}</td><td{win_m}>{_cell(m)}</td>"
                    f"<td>{_cell(r['monolithic_argmax_accuracy'])}</td>"
                    f"<td>{_cell(r['composed_invalid_rate'])}</td><td>{_cell(r['monolithic_invalid_rate'])}</td></tr>")
    return f"<table>{head}{''.join(body)}</table>"


_KEYS = {"multiclass": ["accuracy", "balanced_accuracy", "macro_f1", "argmax_accuracy", "abstain_rate",
                        "invalid_combination_rate"],
         "binary": ["accuracy", "precision", "recall", "f1", "roc_auc", "average_precision",
                    "invalid_combination_rate"],
         "multilabel": ["micro_f1", "macro_f1", "hamming_loss", "subset_accuracy", "jaccard", "macro_roc_auc"]}


def _metrics_table(models: list[tuple[str, dict[str, Any]]]) -> str:
    keys = _KEYS[models[0][1]["kind"]]
    head = "<tr><th>model</th><th>n</th>" + "".join(f"<th>{k}</th>" for k in keys) + "</tr>"
    rows = "".join(f"<tr><td>{html.escape(name)}</td><td>{m['n']}</td>" + "".join(f"<td>{_cell(m.get(k))}</td>"
                                                                                   for k in keys) + "</tr>"
                   for name, m in models)
    return f"<table>{head}{rows}</table>"


def render_html(report: EvaluationReport, trees: dict[str, Any] | None = None) -> str:
    """The report as one HTML document whose images are embedded as data:image/png;base64 URIs.

    `trees` (a schema's `hierarchies`) draws each hierarchy group's tree with its per-node accuracy.
    """
    figure = figure_class()
    esc = html.escape
    base = report.get("baseline")
    parts = [f"<h1>Evaluation of {esc(report.get('model', ''))} release {esc(report['release'])}</h1>",
             f"<p>{report['rows']} rows of the <b>{esc(report['split'])}</b> split (the training holdout rule: "
             f"{esc(str(report.get('holdout_rule', {}).get('rows', 'a stable row hash')))}).</p>"]
    parts.extend(f'<div class="warn">{esc(w)}</div>' for w in report.get("warnings", []))
    if base:
        parts.append("<h2>Composed vs monolithic</h2>")
        parts.append(f"<p class='note'>Monolithic baseline: one one-vs-rest model, {base['tags']} tags on the "
                     f"features {esc(', '.join(base['features']))}, threshold {base['threshold']}, fitted on "
                     f"{base['train_rows']} training-split rows in {base['fit_seconds']:.1f}s. Missing labels: "
                     f"{esc(base['missing_labels_note'])}. An invalid combination is a multiclass or binary group "
                     "left with no label (without abstaining) or with several. The argmax column repairs the "
                     "monolithic model by giving each multiclass or binary group its top-scoring tag.</p>")
        parts.append(_comparison_table(report))
    merged = report["merged"]
    parts.append("<h2>Merged result</h2><table><tr><th>model</th><th>rows</th><th>subset accuracy</th>"
                 "<th>Hamming loss</th><th>abstain rate</th><th>invalid-combination rate</th></tr>")
    for name, m in [("composed", merged)] + ([("monolithic", base["merged"])] if base else []):
        parts.append(f"<tr><td>{name}</td><td>{m['rows']}</td><td>{_cell(m['subset_accuracy'])}</td>"
                     f"<td>{_cell(m['hamming_loss'])}</td><td>{_cell(m['abstain_rate'])}</td>"
                     f"<td>{_cell(m['invalid_combination_rate'])}</td></tr>")
    parts.append("</table>")
    for group, m in report["groups"].items():
        parts.append(f"<h2>{esc(group)} <span class='note'>({esc(m['kind'])}, {m.get('n', 0)} labelled rows)"
                     "</span></h2>")
        if m.get("n", 0) == 0:
            parts.append("<p>No labelled rows in this split.</p>")
            continue
        models = [("composed", m)]
        if base and base["groups"].get(group, {}).get("n"):
            models.append(("monolithic", base["groups"][group]))
        parts.append(_metrics_table(models))
        if "confusion_matrix" in m:
            src = _confusion_figure(figure, group, [(name, x["confusion_matrix"]) for name, x in models])
            parts.append(f'<img alt="{esc(group)} confusion matrix" src="{src}">')
        parts.append(f'<img alt="{esc(group)} precision and recall" src="{_bars_figure(figure, group, models)}">')
    parts.append(hierarchy_html(report.get("hierarchical", {}), trees))
    parts.append(curves_html(report.get("curves", {})))
    parts.append(audit_html(report.get("audit")))
    if report.get("monitoring"):
        from compose.evaluation.monitor_section import monitoring_html

        parts.append(monitoring_html(report.get("monitoring")))
    title = f"compose evaluation: {report.get('model', '')} {report['release']}"
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{esc(title)}</title>"
            f"<style>{STYLE}</style></head><body>{''.join(parts)}</body></html>\n")


def write_html(report: EvaluationReport, path: str | Path, trees: dict[str, Any] | None = None) -> Path:
    """Write `render_html(report)` to `path` (through a temporary file, so no half-written report)."""
    return atomic_write(path, render_html(report, trees))
