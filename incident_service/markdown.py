"""Markdown written by people (notes, stakeholder updates, post-mortems, chat), rendered
to HTML that is safe to put in a page.

A leaf: imports no domain. CommonMark with raw HTML off: a `<script>`, an `<img
onerror=...>` or any other tag in the source comes out as text (`&lt;script&gt;`), never as
markup; markdown-it's link check refuses `javascript:`, `vbscript:`, `file:` and `data:`
URLs (but `data:image/{gif,png,jpeg,webp}` images), leaving such a link as its source text.
The source is what is stored; the HTML is rendered when it is shown.
"""

from __future__ import annotations

from markdown_it import MarkdownIt

# One parser for the process: built once, it is only read when rendering.
_MARKDOWN = MarkdownIt("commonmark", {"html": False})


def render(source: str) -> str:
    """The HTML of `source` (CommonMark, raw HTML escaped, unsafe links refused)."""
    html: str = _MARKDOWN.render(source)
    return html
