"""The console's static files (htmx, its SSE extension, the style sheet), from the package.

A fixed list of names with their content types: nothing else under the folder is served,
and the answers carry `nosniff`. Public, like the docs' assets: a browser fetches a page's
scripts before anything else, and they hold nothing of ours.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter

STATIC_PATH = "/ui/static"
_FOLDER = Path(__file__).parent / "static"
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
_CACHE = "public, max-age=3600"


@functools.cache
def _read(name: str) -> bytes:
    return (_FOLDER / name).read_bytes()


@get(
    f"{STATIC_PATH}/{{name:str}}",
    opt={"public": True},
    include_in_schema=False,
    sync_to_thread=False,
)
def console_asset(name: Annotated[str, PathParameter(max_length=64)]) -> Response[bytes]:
    media_type = _ASSETS.get(name)
    if media_type is None:
        raise NotFoundException(f"no console asset {name!r}")
    return Response(_read(name), media_type=media_type, headers={"Cache-Control": _CACHE})
