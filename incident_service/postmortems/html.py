"""Self-contained HTML pages with plotly charts: the JS is inlined, user text escaped.

Nothing may be fetched at view time (no CDN, no network), so every page carries
plotly.js itself. All text that came from people or integrations goes through
`esc` (or `markdown_to_html`, which escapes before it formats).

Every page runs exactly two scripts, the same on every page: plotly.js and `_DRAW`, which
draws each chart from its JSON data block (`figure_div`). So one Content-Security-Policy
(`content_security_policy`) names both by hash and nothing else can run, whatever text a
page holds: it is sent as a header by the API and carried in the page itself as a
`<meta>` for copies opened from disk.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from functools import cache

import plotly.graph_objects as go
import plotly.io
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


# Draws every chart from its data block once the document is parsed.
_DRAW = (
    'document.addEventListener("DOMContentLoaded", () => {'
    ' for (const block of document.querySelectorAll("script[data-chart]")) {'
    " const fig = JSON.parse(block.textContent);"
    " Plotly.newPlot(block.dataset.chart, fig.data, fig.layout, {responsive: true}); } });"
)


def _sha256(script: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"


@cache
def _policy() -> str:
    # Styles stay open: plotly sets inline styles and adds <style> rules as it draws.
    return (
        f"default-src 'none'; script-src {_sha256(_plotly_js())} {_sha256(_DRAW)};"
        " style-src 'unsafe-inline'; img-src data: blob:; font-src data:;"
        " base-uri 'none'; form-action 'none'"
    )


def content_security_policy() -> str:
    """The header for every page `page` builds: its two scripts only, never framed."""
    return _policy() + "; frame-ancestors 'none'"


def _json_block(data: str) -> str:
    # Inside <script> nothing is decoded: escape what could end the block or open a
    # comment; JSON reads the escapes back as the same characters.
    return data.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def figure_div(fig: go.Figure, div_id: str) -> str:
    """A chart's div and its data; `_DRAW` (in `page`) draws it. The data is a JSON block,
    which never runs, so the page's policy need not allow a script per chart."""
    fig.update_layout(template="plotly_white", height=380, margin={"l": 60, "r": 20, "t": 50})
    data = plotly.io.to_json(fig, validate=True)
    return (
        f'<div class="chart"><div id="{esc(div_id)}" class="plotly-graph-div"'
        ' style="height:380px; width:100%;"></div>'
        f'<script type="application/json" data-chart="{esc(div_id)}">{_json_block(data)}'
        "</script></div>"
    )


def page(title: str, body: str) -> str:
    """A complete HTML document: `body` is already-safe HTML."""
    # The <meta> policy (frame-ancestors is header-only) comes before any script, so it
    # governs the page when it is opened as a file too.
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(_policy())}">'
        f"<title>{esc(title)}</title><style>{_STYLE}</style>"
        f"<script>{_plotly_js()}</script><script>{_DRAW}</script></head>\n"
        f"<body>\n{body}\n</body></html>\n"
    )


def table(headers: list[str], rows: list[list[object]]) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


# Characters that could start Markdown markup anywhere in a line, backslash-escaped.
# (With "[" escaped no "(" can start a link's target, nor "!" an image.)
_MD_PUNCT = re.compile(r"([\\`*_\[\]#|~])")
# A list item or block quote when at the start of a line (after "- " too).
_MD_LINE_START = re.compile(r"^(\s*[-+]|\s*\d+)([ .)])")


def md_text(value: object) -> str:
    """User text as Markdown that shows it literally: one line (no heading, list or code
    block of its own), HTML characters as entities (no tag, no `onerror`), Markdown
    punctuation escaped (no link, image or emphasis: no `javascript:` URL)."""
    text = " ".join(("" if value is None else str(value)).splitlines())
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _MD_PUNCT.sub(r"\\\1", text)
    return _MD_LINE_START.sub(_escape_line_start, text)


def _escape_line_start(m: re.Match[str]) -> str:
    lead, after = m.group(1), m.group(2)
    if lead.endswith(("-", "+")):  # "- x": a list item
        return lead[:-1] + "\\" + lead[-1] + after
    return lead + ("\\" + after if after in ".)" else after)  # "1. x": an ordered one


# Our Markdown's inline syntax: a backslash escape, the entities `md_text` writes, code,
# bold. Anything else is text.
_INLINE = re.compile(r"\\([!-/:-@\[-`{-~])|&(amp|lt|gt|quot|#39);|`([^`]+)`|\*\*(.+?)\*\*")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "#39": "'"}
_CELL_BORDER = re.compile(r"(?<!\\)\|")


def markdown_to_html(markdown: str) -> str:
    """The small Markdown subset our reports write: headings, lists, tables, paragraphs.

    Every character of text is escaped as it is output, so nothing in it can become markup.
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
                inner = lines[i].strip().removeprefix("|")
                inner = inner[:-1] if inner.endswith("|") and not inner.endswith("\\|") else inner
                cells = [c.strip() for c in _CELL_BORDER.split(inner)]
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
    out: list[str] = []
    at = 0
    for m in _INLINE.finditer(text):
        out.append(esc(text[at : m.start()]))
        escaped, entity, code, bold = m.groups()
        if escaped is not None:
            out.append(esc(escaped))
        elif entity is not None:
            out.append(esc(_ENTITIES[entity]))
        elif code is not None:
            # In a table a code span's pipes are escaped too.
            out.append(f"<code>{esc(code.replace(chr(92) + '|', '|'))}</code>")
        else:
            out.append(f"<strong>{_inline(bold)}</strong>")
        at = m.end()
    out.append(esc(text[at:]))
    return "".join(out)
