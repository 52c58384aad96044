"""Rendering a console page: the template engine, the page's security headers and the
values every page carries (who is signed in, the CSRF token of the session).

Pages set their own Content-Security-Policy (the response middleware then leaves it): only
this origin's scripts, styles and connections, no inline script, forms that post here only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from litestar import Request
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Template
from litestar.template.config import TemplateConfig

TEMPLATES = Path(__file__).parent / "templates"

POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {"Content-Security-Policy": POLICY, "Cache-Control": "no-store"}


def template_config() -> TemplateConfig[JinjaTemplateEngine]:
    """The one template engine of the app (autoescaping on: every value is text)."""
    return TemplateConfig(directory=TEMPLATES, engine=JinjaTemplateEngine)


def page(
    request: Request[Any, Any, Any],
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> Template:
    """`template` rendered with `context` plus what every page needs: `principal` (who is
    calling), `csrf` (the session's token, empty for an API key) and `path`."""
    state = request.state
    values = {
        "principal": state.get("principal"),
        "csrf": state.get("csrf_token", ""),
        "path": request.url.path,
        **(context or {}),
    }
    return Template(
        template_name=template, context=values, status_code=status_code, headers=HEADERS
    )
