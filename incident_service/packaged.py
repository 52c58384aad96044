"""A route serving files shipped in a package (the console's scripts and styles, the docs
page's Swagger UI): a fixed list of names with their content types, nothing else of the
folder, public (a browser fetches a page's scripts before anything else, and they hold
nothing of ours) and cached for a while (they change only with a release).
"""

# No `from __future__ import annotations` here: Litestar reads the handler's annotations
# through the module's globals, and the path parameter's bound is this call's own.
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated

from litestar import Response, get
from litestar.exceptions import NotFoundException
from litestar.handlers import HTTPRouteHandler
from litestar.params import PathParameter


def packaged_files(
    path: str,
    folder: Path,
    types: Mapping[str, str],
    *,
    cache: str,
    what: str,
    max_name: int,
) -> HTTPRouteHandler:
    """`GET {path}/{name}`: `folder`'s file `name` if `types` names it (name -> content
    type; the answers carry `nosniff`, so a wrong type would be refused), else a 404
    "no {what} ...". `cache` is the answers' Cache-Control."""

    @functools.cache
    def read(name: str) -> bytes:
        return (folder / name).read_bytes()

    @get(
        f"{path}/{{name:str}}", opt={"public": True}, include_in_schema=False, sync_to_thread=False
    )
    def packaged_file(name: Annotated[str, PathParameter(max_length=max_name)]) -> Response[bytes]:
        media_type = types.get(name)
        if media_type is None:
            msg = f"no {what} {name!r}"
            raise NotFoundException(msg)
        return Response(read(name), media_type=media_type, headers={"Cache-Control": cache})

    return packaged_file
