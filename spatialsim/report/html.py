"""Self-contained HTML pages: one file that opens in any browser with no network.

Figures are PNGs embedded as ``data:`` URIs, tables are HTML tables, the style sheet is
inline and there is no script, so a report can be mailed, archived or opened from a
read-only share and shows the same thing everywhere. The pages' contents are in
:mod:`spatialsim.report.pages`.
"""

from __future__ import annotations

import base64
import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2em auto;
max-width:72em;padding:0 1.5em;color:#212529;background:#fff}
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:1.8em;
border-bottom:1px solid #dee2e6;padding-bottom:.2em}
.sub{color:#495057;margin-top:0}
table{border-collapse:collapse;margin:.6em 0 1em}
th,td{padding:.25em .7em;border-bottom:1px solid #e9ecef;text-align:left}
th{background:#f1f3f5;font-weight:600}td.n,th.n{text-align:right;
font-variant-numeric:tabular-nums}
.headline td.n{font-size:1.15em;font-weight:600}
figure{margin:1em 0}figure img{max-width:100%;height:auto;border:1px solid #e9ecef}
figcaption{color:#495057;font-size:.92em}
ul.words li{margin:.2em 0}.note{color:#495057;font-size:.92em}
footer{margin-top:2.5em;color:#868e96;font-size:.85em}
"""


def esc(value: Any) -> str:
    """``value`` as HTML text."""
    return html.escape(str(value), quote=True)


def _cell(value: Any) -> tuple[str, bool]:
    """(HTML text, numeric) of a table cell."""
    if isinstance(value, bool) or value is None:
        return esc("" if value is None else value), False
    if isinstance(value, int):
        return f"{value:,}", True
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a report cell is {value}; reports carry finite numbers only")
        return (f"{value:,.3f}" if abs(value) < 1e6 else f"{value:,.0f}"), True
    text = str(value)
    numeric = bool(text) and text.lstrip("+-").replace(",", "").replace(".", "", 1)[:1].isdigit()
    return esc(text), numeric


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], cls: str = "") -> str:
    """An HTML table; numbers (and cells that read as numbers) are right-aligned."""
    out = [f'<table class="{esc(cls)}">' if cls else "<table>", "<thead><tr>"]
    numeric_cols = [False] * len(header)
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            text, numeric = _cell(value)
            numeric_cols[i] = numeric_cols[i] or numeric
            cells.append(f'<td class="n">{text}</td>' if numeric else f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    out += [(f'<th class="n">{esc(h)}</th>' if n else f"<th>{esc(h)}</th>")
            for h, n in zip(header, numeric_cols, strict=True)]  # fmt: skip
    out += ["</tr></thead><tbody>", *body, "</tbody></table>"]
    return "".join(out)


def figure(path: Path, caption: str) -> str:
    """A PNG file embedded in the page, with its caption."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return (
        f'<figure><img alt="{esc(caption)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{esc(caption)}</figcaption></figure>"
    )


def link(href: str, text: str) -> str:
    """A link to a file beside the page (relative, so the folder can move)."""
    return f'<a href="{esc(href)}">{esc(text)}</a>'


def page(title: str, subtitle: str, sections: Sequence[tuple[str, str]], footer: str) -> str:
    """The whole document: a title, a subtitle and ``(heading, HTML)`` sections."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="sub">{esc(subtitle)}</p>',
    ]
    for heading, body in sections:
        parts.append(f"<h2>{esc(heading)}</h2>{body}" if heading else body)
    parts.append(f"<footer>{esc(footer)}</footer></body></html>")
    return "\n".join(parts) + "\n"
