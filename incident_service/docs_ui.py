"""The OpenAPI docs page (Swagger UI at /docs) from packaged assets: nothing from a CDN,
so the page works on a machine without internet.

The Swagger UI files come from the `swagger-ui-bundle-v2` package (Swagger UI 5, which
reads the OpenAPI 3.1 document Litestar writes) and are served from `ASSETS_PATH`, a
fixed list of files with their content types (the answers carry `nosniff`, so a wrong
type would be refused by the browser). They are public whatever `PUBLIC_DOCS` says: a
browser fetches a page's scripts without its API key, and they hold nothing of ours. The
page's one inline script (Litestar's, with the document in it) is allowed by its hash
(`observability.docs_policy`); its scripts and style come from here ('self').
"""

from __future__ import annotations

from pathlib import Path

from litestar.openapi.plugins import SwaggerRenderPlugin
from swagger_ui_bundle import swagger_ui_path

from incident_service.packaged import packaged_files

ASSETS_PATH = "/docs/assets"
# name -> content type: what the page uses, nothing else of the package (its index.html
# and initializer point at a demo document on the internet).
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui-standalone-preset.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
}
# The files change only with the package; a day keeps reloads cheap and upgrades visible.
docs_asset = packaged_files(
    ASSETS_PATH,
    Path(str(swagger_ui_path)),
    _ASSETS,
    cache="public, max-age=86400",
    what="docs asset",
    max_name=100,
)


def swagger_plugin() -> SwaggerRenderPlugin:
    """Litestar's Swagger UI page at /docs, pointed at the packaged assets."""
    return SwaggerRenderPlugin(
        path="/",
        js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        css_url=f"{ASSETS_PATH}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS_PATH}/favicon-32x32.png'>",
    )
