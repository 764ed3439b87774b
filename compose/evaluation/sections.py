"""Sections of the HTML report that read plain report dicts: threshold curves and the annotation audit.

Figures are `matplotlib.figure.Figure` objects rendered to PNG data URIs; pyplot and the
process-wide backend are never touched.
"""

from __future__ import annotations

import base64
import html
import io
from typing import Any

from compose.curves import Curve, draw
from compose.errors import ComposeError

#: Issues shown per group in the report (the CSV/JSON output of `compose audit` has them all).
AUDIT_ROWS = 25


STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.better{font-weight:bold;color:#0a6b2d}
.warn{background:#fff4d6;border-left:4px solid #e0a800;padding:.4em .8em;margin:.3em 0}
img{max-width:100%;display:block;margin:.5em 0}
.curves img.curve{display:inline-block;width:32%;margin:.2em}.note{color:#555;font-size:.92em}
"""


def require_matplotlib() -> None:
    """Raise one clear ComposeError, saying how to install it, when matplotlib is missing."""
    figure_class()


def figure_class() -> Any:
    """`matplotlib.figure.Figure` (a figure that renders itself, with no backend switch and no pyplot)."""
    try:
        import matplotlib  # noqa: F401 - first, so a missing package is found even if a submodule is cached
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ComposeError("the HTML report needs matplotlib, which is not installed; install it with "
                           "`pip install 'compose-groups[report]'` (or `pip install matplotlib`)") from exc
    return Figure


def figure_uri(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def curves_html(curves: dict[str, list[dict[str, Any]]]) -> str:
    """One chart per binary group, multilabel label and multiclass group, the live decision marked."""
    if not any(curves.values()):
        return ""
    esc = html.escape
    parts = ["<h2>Threshold curves</h2><p class='note'>Precision and recall against the decision threshold "
             "(binary groups, each label of a multilabel group) and accuracy and coverage against the "
             "confidence cut-off (multiclass groups), on the evaluated rows; the dashed line is the live "
             "decision. <code>compose tune --curve</code> prints the same as a table.</p><div class='curves'>"]
    for group, items in curves.items():
        for item in items:
            curve = Curve(**{k: item[k] for k in ("group", "label", "kind", "live", "x", "series", "support")})
            alt = f"{group} {curve.label or 'confidence'} curve"
            parts.append(f'<img class="curve" alt="{esc(alt)}" src="{figure_uri(draw(curve))}">')
    parts.append("</div>")
    return "".join(parts)


def audit_html(audit: dict[str, Any] | None) -> str:
    """The annotation audit: per group the most suspect annotations, ranked."""
    if not audit:
        return ""
    esc = html.escape
    parts = [f"<h2>Annotation audit</h2><p class='note'>Out-of-fold scores and confident learning on "
             f"{esc(str(audit.get('source', '')))}: annotations that look wrong, most suspect first.</p>"]
    for group, g in audit.get("groups", {}).items():
        issues = g.get("issues", [])
        parts.append(f"<h3>{esc(group)} <span class='note'>({esc(g['type'])}, {g['rows']} rows, "
                     f"{len(issues)} flagged)</span></h3>")
        if not issues:
            continue
        parts.append("<table><tr><th>id</th><th>row</th><th>kind</th><th>given</th><th>suggested</th>"
                     "<th>p(suggested)</th><th>p(given)</th></tr>")
        parts.extend(f"<tr><td>{esc(str(i['id']))}</td><td>{i['row']}</td><td>{esc(i['kind'])}</td>"
                     f"<td>{esc(i['given'])}</td><td>{esc(i['suggested'])}</td><td>{i['confidence']:.3f}</td>"
                     f"<td>{i['given_score']:.3f}</td></tr>" for i in issues[:AUDIT_ROWS])
        parts.append("</table>")
        if len(issues) > AUDIT_ROWS:
            parts.append(f"<p class='note'>... and {len(issues) - AUDIT_ROWS} more.</p>")
    return "".join(parts)
