"""`incident-service`: the service's commands plus analytics, models and notebooks.

The only module that imports the service, the pipelines and the models together (the
import-linter contracts in `.importlinter` keep it so).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from incident_cli.models import register_cli as models_cli
from incident_service import cli as service_cli
from pipelines.cli import register_cli as analytics_cli
from pipelines.notebooks_cli import register_cli as notebooks_cli

GROUPS: tuple[service_cli.CommandGroup, ...] = (analytics_cli, models_cli, notebooks_cli)


def build_parser() -> argparse.ArgumentParser:
    return service_cli.build_parser(GROUPS)


def main(argv: Sequence[str] | None = None) -> int:
    return service_cli.main(argv, GROUPS, _missing_group)


# The commands whose libraries come with dependency groups (pyproject.toml) that `make run`
# does not install: the groups each needs, and the make target that installs them.
_OPTIONAL_COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "analytics": (("analytics", "ml"), "make dagster"),
    "models": (("ml",), "make install"),
    "notebooks": (("analytics", "ml", "notebooks"), "make notebooks"),
}
_OWN_PACKAGES = {"incident_cli", "incident_service", "models", "pipelines"}


def _missing_group(command: str, exc: ModuleNotFoundError) -> str | None:
    """One line saying how to install what `command` lacks, when a library of its
    dependency groups is missing (a missing module of our own stays a traceback)."""
    needs = _OPTIONAL_COMMANDS.get(command)
    missing = (exc.name or "").partition(".")[0]
    if needs is None or not missing or missing in _OWN_PACKAGES:
        return None
    groups, target = needs
    by = "`make install` (every group)"
    if target != "make install":
        by = f"`{target}` or {by}"
    flags = " ".join(f"--group {g}" for g in groups)
    return (
        f"incident-service {command}: {missing} is not installed; it comes with the dependency "
        f"group{'s' if len(groups) > 1 else ''} {', '.join(groups)}, installed by {by} or "
        f"`uv sync --frozen --inexact --no-default-groups {flags}`"
    )


if __name__ == "__main__":
    sys.exit(main())
