"""The console's static files (htmx, its SSE extension, the style sheets), from the package
(`packaged.py`: only these names, with their content types, public)."""

from __future__ import annotations

from pathlib import Path

from incident_service.packaged import packaged_files

STATIC_PATH = "/ui/static"
_ASSETS = {
    "htmx.min.js": "text/javascript; charset=utf-8",
    "htmx-sse.min.js": "text/javascript; charset=utf-8",
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
    "list.css": "text/css; charset=utf-8",
    "incident.css": "text/css; charset=utf-8",
    "oncall.css": "text/css; charset=utf-8",
    "signin.css": "text/css; charset=utf-8",
}
# The files change only with a release; an hour keeps reloads cheap and upgrades visible.
console_asset = packaged_files(
    STATIC_PATH,
    Path(__file__).parent / "static",
    _ASSETS,
    cache="public, max-age=3600",
    what="console asset",
    max_name=64,
)
