"""Self-contained HTML pages with plotly charts: the JS is inlined, user text escaped.

Nothing may be fetched at view time (no CDN, no network), so every page carries
plotly.js itself. All text that came from people or integrations goes through
`esc` (or `markdown_to_html`, which escapes before it formats).
"""

from __future__ import annotations

import html
import re
from functools import cache

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

_STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 1100px;
       padding: 0 1rem; color: #1d2330; }
h1 { font-size: 1.6rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #dde; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #ccd; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f3f4f8; } code { background: #f3f4f8; padding: 0 .2rem; }
.chart { margin: 1rem 0; }
"""


def esc(text: object) -> str:
    return html.escape("" if text is None else str(text), quote=True)


@cache
def _plotly_js() -> str:
    # A literal "</script" inside the library would end the tag early; it has none today,
    # but the escape keeps that true for any version.
    js: str = get_plotlyjs()
    return js.replace("</script", "<\\/script")


def figure_div(fig: go.Figure, div_id: str) -> str:
    """A chart's div and its drawing script (plotly.js itself comes once, in `page`)."""
    fig.update_layout(template="plotly_white", height=380, margin={"l": 60, "r": 20, "t": 50})
    div: str = fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id)
    return f'<div class="chart">{div}</div>'


def page(title: str, body: str) -> str:
    """A complete HTML document: `body` is already-safe HTML."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{_STYLE}</style>"
        f"<script>{_plotly_js()}</script></head>\n<body>\n{body}\n</body></html>\n"
    )


def table(headers: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_INLINE_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")


def markdown_to_html(markdown: str) -> str:
    """The small Markdown subset our reports write: headings, lists, tables, paragraphs.

    Text is escaped first, then formatted, so nothing in it can become markup.
    """
    out: list[str] = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            level = min(len(line) - len(line.lstrip("#")), 6)
            out.append(f"<h{level}>{_inline(line[level:].strip())}</h{level}>")
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                cells = [c.strip() for c in lines[i].strip().strip("|").split("|")]
                if not all(set(c) <= {"-", ":", " "} for c in cells):
                    rows.append(cells)
                i += 1
            head = "".join(f"<th>{_inline(c)}</th>" for c in rows[0]) if rows else ""
            body = "".join(
                "<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in r) + "</tr>" for r in rows[1:]
            )
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            continue
        elif line.startswith(("- ", "* ")):
            items = []
            while i < len(lines) and lines[i].startswith(("- ", "* ")):
                items.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
            continue
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
        i += 1
    return "\n".join(out)


def _inline(text: str) -> str:
    escaped = esc(text)
    escaped = _INLINE_CODE.sub(r"<code>\1</code>", escaped)
    return _BOLD.sub(r"<strong>\1</strong>", escaped)
