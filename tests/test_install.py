"""What `make run` installs and loads: the service alone, none of the analytics, ML or
notebook libraries (pyproject.toml's dependency groups)."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Import names and distribution names of the groups `make run` leaves out. plotly is not
# among them: the API renders post-mortem pages with it.
HEAVY_MODULES = (
    "jax",
    "jaxlib",
    "optax",
    "sklearn",
    "lifelines",
    "dagster",
    "duckdb",
    "polars",
    "pyarrow",
    "sqlglot",
    "marimo",
    "pandas",
    "scipy",
)
HEAVY_DISTRIBUTIONS = {
    "jax",
    "jaxlib",
    "optax",
    "scikit-learn",
    "lifelines",
    "dagster",
    "dagster-webserver",
    "duckdb",
    "polars",
    "pyarrow",
    "sqlglot",
    "marimo",
    "pandas",
    "scipy",
}

# The service's entry points, the scorer and its model loading path, and the parser with
# `--help` of every subcommand, in a fresh interpreter.
_PROBE = """
import contextlib, io, json, sys
import incident_service.app, incident_service.worker, incident_cli.main
import incident_service.predictions.scorer, models.serving, models.service_records
parser = incident_cli.main.build_parser()
commands = [["--help"]]
for action in parser._subparsers._group_actions:
    for name, sub in action.choices.items():
        commands.append([name, "--help"])
        for inner in getattr(sub._subparsers, "_group_actions", []):
            commands += [[name, leaf, "--help"] for leaf in inner.choices]
for argv in commands:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        incident_cli.main.build_parser().parse_args(argv)
print(json.dumps({"loaded": sorted(m for m in HEAVY if m in sys.modules),
                  "commands": [" ".join(c) for c in commands]}))
"""


def test_service_imports_none_of_the_optional_groups() -> None:
    out = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY_MODULES!r}\n{_PROBE}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    probe = json.loads(out)
    assert probe["loaded"] == []
    # The probe walked every subcommand, the ones of the optional groups included.
    assert {"serve --help", "worker --help", "models train --help", "analytics run --help"} <= set(
        probe["commands"]
    )


def _lock_closure(lock: dict, roots: list[dict]) -> set[str]:
    """Every distribution `roots` (uv.lock dependency entries) pull in, extras followed;
    markers are ignored, so this over-counts rather than misses."""
    packages: dict[str, list[dict]] = {}
    for package in lock["package"]:
        packages.setdefault(package["name"], []).append(package)
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        dep = todo.pop()
        key = dep["name"] + "".join(f"[{e}]" for e in dep.get("extra", []))
        if key in seen:
            continue
        seen.add(key)
        for package in packages[dep["name"]]:
            todo += package.get("dependencies", [])
            for extra in dep.get("extra", []):
                todo += package.get("optional-dependencies", {}).get(extra, [])
    return {key.split("[")[0] for key in seen}


def _project(lock: dict) -> dict:
    return next(p for p in lock["package"] if p["name"] == "incident-service")


def test_the_service_installs_none_of_the_optional_groups() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    service = _lock_closure(lock, _project(lock)["dependencies"])
    assert service & HEAVY_DISTRIBUTIONS == set()
    assert {"litestar", "psycopg", "dbos", "numpy", "plotly"} <= service


def test_the_groups_hold_what_their_make_targets_run() -> None:
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    groups = _project(lock)["dev-dependencies"]
    closure = {name: _lock_closure(lock, deps) for name, deps in groups.items()}
    assert {"dagster", "dagster-webserver", "duckdb", "polars"} <= closure["analytics"]
    # The training code reads ServiceNow exports with Polars.
    assert {"jax", "optax", "scikit-learn", "lifelines", "polars"} <= closure["ml"]
    assert "marimo" in closure["notebooks"]


# Each optional library is made missing, as in an environment `make run` installed.
_BLOCKED = """
import importlib.abc, sys
class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in HEAVY:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, Missing())
from incident_cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize(
    ("argv", "hint"),
    [
        (["analytics", "run"], "make dagster"),
        (["models", "evaluate-servicenow", "--train", "a.zip", "--test", "b.zip"], "--group ml"),
        (["notebooks", "demo"], "make notebooks"),
    ],
)
def test_a_missing_group_is_one_line_naming_how_to_install_it(
    argv: list[str], hint: str, tmp_path: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"HEAVY = {HEAVY_MODULES!r}\n{_BLOCKED}", *argv],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path), "LOG_LEVEL": "WARNING"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "is not installed" in lines[0]
    assert hint in lines[0]
    assert "make install" in lines[0]


def test_make_help_and_targets_use_the_host_and_ports_given() -> None:
    ports = ["HOST=0.0.0.0", "PORT=9123", "DAGSTER_PORT=3123", "NOTEBOOKS_PORT=2123"]
    shown = subprocess.run(
        ["make", "-s", "help", *ports], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert "http://0.0.0.0:9123" in shown
    assert "http://127.0.0.1:3123" in shown
    assert "http://127.0.0.1:2123" in shown
    assert "$(" not in shown
    # -n prints the commands without running them (nor the installs they depend on).
    for target, expected in [("dagster", "-p 3123"), ("notebooks", "--port 2123")]:
        planned = subprocess.run(
            ["make", "-n", target, *ports], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        assert expected in planned
