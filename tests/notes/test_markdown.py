"""The Markdown renderer every module shows people's text with: hostile input stays text."""

from __future__ import annotations

import re

import pytest

from incident_service.markdown import render


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        '<a href="javascript:alert(1)">x</a>',
        "<iframe src=https://evil.example></iframe>",
        "[click](javascript:alert(1))",
        "[click](JavaScript:alert(1))",
        "[click](  javascript:alert(1) )",
        "![x](javascript:alert(1))",
        "[click](vbscript:msgbox(1))",
        "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        '[x](https://ok.example "t" onclick="alert(1)")',
        "<svg/onload=alert(1)>",
        "`<script>` and **<b onmouseover=alert(1)>bold</b>**",
    ],
)
def test_hostile_markdown_renders_as_text(source: str) -> None:
    html = render(source).lower()
    # Every tag in the output is one CommonMark itself writes, with no event handler ...
    tags = re.findall(r"<\s*/?\s*([a-z0-9]+)([^>]*)>", html)
    assert {name for name, _ in tags} <= {"p", "a", "code", "strong", "em"}, html
    assert not [attrs for _, attrs in tags if re.search(r"\bon[a-z]+\s*=", attrs)], html
    # ... and no link or image to a script or a document.
    for scheme in ("javascript:", "vbscript:", "data:"):
        assert f'href="{scheme}' not in html and f'src="{scheme}' not in html, html


def test_markdown_is_rendered() -> None:
    html = render("**bold** and [a link](https://example.com/x) and `code`\n\n- one\n- two")
    assert "<strong>bold</strong>" in html
    assert '<a href="https://example.com/x">a link</a>' in html
    assert "<code>code</code>" in html and "<li>one</li>" in html
    assert render("<script>x</script>") == "<p>&lt;script&gt;x&lt;/script&gt;</p>\n"
