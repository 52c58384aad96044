"""Every route of the console, for `create_app` to mount (one list, one line a module)."""

from __future__ import annotations

from litestar.types import ControllerRouterHandler

from incident_service.console.assets import console_asset
from incident_service.console.incident_routes import INCIDENT_ROUTES
from incident_service.console.list_routes import IncidentListPages
from incident_service.console.mine_routes import mine
from incident_service.console.oidc_routes import OidcPages
from incident_service.console.oncall_routes import ONCALL_ROUTES
from incident_service.console.signin_routes import SIGNIN_ROUTES

CONSOLE_ROUTES: list[ControllerRouterHandler] = [
    console_asset,
    IncidentListPages,
    *INCIDENT_ROUTES,
    mine,
    *ONCALL_ROUTES,
    *SIGNIN_ROUTES,
    OidcPages,
]
