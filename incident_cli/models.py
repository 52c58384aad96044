"""`incident-service models ...`: train, evaluate on ServiceNow exports, list, roll back.

Registered by `incident_cli.main`. It sits above both the `models` package and the service:
the registry lives in the service's database (its URL and migrations come from the service).
Heavy imports (JAX) happen inside the handlers, so `--help` stays fast and the service never
loads them.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from incident_service.config import Settings

    SubParsers = argparse._SubParsersAction[argparse.ArgumentParser]


def _progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def _evaluate_servicenow(args: argparse.Namespace, settings: Settings) -> int:
    from models import folds, servicenow_history
    from models.config import get_config
    from models.evaluate import public_json, servicenow_exports, train_and_evaluate

    _progress(f"reading {args.train} and {args.test}")
    train_events = servicenow_history.read_events(args.train)
    data = servicenow_exports(train_events, servicenow_history.read_events(args.test))
    if len(data.test) == 0:
        print(
            f"{args.test} has no incident opened after {args.train} was exported "
            f"({data.train.as_of:%Y-%m-%d %H:%M}): nothing to evaluate on",
            file=sys.stderr,
        )
        return 2
    _progress(f"training on {len(data.train)} incidents, testing on {len(data.test)}")
    config = get_config().replace(seed=args.seed, **args.config)
    # The forward folds inside the training export first: they are what choices are made
    # on; the test export is the window nothing was chosen on.
    inside = folds.servicenow_folds(train_events, args.folds, args.fold_days)
    per_fold = folds.fold_metrics(config, inside, _progress)
    summary = folds.summarize(per_fold)
    _progress("fold means (wins/folds):\n" + folds.folds_table(summary))
    metrics = train_and_evaluate(config, data, _progress)
    result = public_json(metrics) | {
        "folds": {
            "per_fold": per_fold,
            "summary": summary,
            "bar": folds.bar_check(summary, per_fold),
        }
    }
    print(json.dumps(result))
    return 0


def _evaluate_folds(args: argparse.Namespace, settings: Settings) -> int:
    from models import folds, servicenow_history
    from models.config import get_config

    config = get_config().replace(seed=args.seed, **args.config)
    inside = folds.servicenow_folds(
        servicenow_history.read_events(args.servicenow), args.folds, args.fold_days
    )
    per_fold = folds.fold_metrics(config, inside, _progress)
    summary = folds.summarize(per_fold)
    print(folds.folds_table(summary))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(
                {
                    "per_fold": per_fold,
                    "summary": summary,
                    "bar": folds.bar_check(summary, per_fold),
                },
                out,
                indent=2,
            )
    return 0


def _cut_export(args: argparse.Namespace, settings: Settings) -> int:
    from models import servicenow_history

    events = servicenow_history.read_events(args.servicenow)
    servicenow_history.write_export(servicenow_history.as_of(events, args.until), args.out)
    print(f"wrote {args.out}: the export as it stood at {args.until:%Y-%m-%d %H:%M}")
    return 0


def _default_cutoff(opened: list[datetime]) -> datetime:
    """Midnight before the median opening: about half the history trains, half tests."""
    middle = sorted(opened)[len(opened) // 2]
    return middle.replace(hour=0, minute=0, second=0, microsecond=0)


def _train(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    from incident_service.db import resolve_database_url
    from incident_service.migrate import apply_migrations
    from models import card, folds, registry, servicenow_history
    from models.config import get_config
    from models.evaluate import (
        evaluate_artifact,
        metrics_table,
        public_json,
        servicenow_time_split,
        train_evaluate_artifact,
    )

    events = servicenow_history.read_events(args.servicenow)
    whole = servicenow_history.to_history(events)
    cutoff = args.cutoff or _default_cutoff([i.opened_at for i in whole.incidents])
    data = servicenow_time_split(events, cutoff)
    _progress(
        f"train: {len(data.train)} incidents opened before {cutoff:%Y-%m-%d %H:%M}; "
        f"test: {len(data.test)} opened after"
    )
    config = get_config().replace(seed=args.seed, **args.config)
    fold_block = None
    if args.folds:
        # The forward folds inside the training window, recorded with the version (its card).
        inside = folds.servicenow_folds(servicenow_history.as_of(events, cutoff), args.folds, 7.0)
        per_fold = folds.fold_metrics(config, inside, _progress)
        summary = folds.summarize(per_fold)
        fold_block = {
            "per_fold": per_fold,
            "summary": summary,
            "bar": folds.bar_check(summary, per_fold),
        }
        print(folds.folds_table(summary))
    artifact, metrics = train_evaluate_artifact(config, data, _progress)
    print(metrics_table(metrics))
    print(f"trained in {metrics['train_seconds']} s")
    stored = public_json(metrics) | {
        "windows": metrics["windows"],
        "evaluation": metrics["evaluation"],
        "gate": metrics["gate"],
    }
    if fold_block is not None:
        stored["folds"] = fold_block
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(stored, out, indent=2)
    if not args.register:
        return 0
    url = resolve_database_url(settings)
    apply_migrations(url)
    first = data.train.incidents[0].opened_at if data.train.incidents else None
    window = (first, data.train.incidents[-1].opened_at if first else None, data.train.as_of)
    own = {"severity": metrics["severity"], "ttr": metrics["ttr"]}
    with psycopg.connect(url) as conn:
        version = registry.register(conn, artifact, stored, window, args.actor, args.name)
        current = registry.active(conn, args.name)
        # The active version is judged on this run's evaluation window, like the candidate.
        incumbent = evaluate_artifact(current[1], data.test) if current else None
        decision = registry.promote_if_better(conn, version, own, incumbent, args.actor, args.name)
    state = "promoted" if decision.promote else "kept as a candidate"
    gate = cast("dict[str, Any]", metrics["gate"])
    verdict = "passes" if gate["passed"] else f"is below its gate ({', '.join(gate['failed'])})"
    print(f"registered version {version} of {args.name}: {state} ({decision.reason}); it {verdict}")
    status = "active" if decision.promote else "candidate"
    path = card.write_card(Path(settings.reports_dir), args.name, version, stored, status)
    print(f"model card: {path}")
    return 0


def _card(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    from incident_service.db import resolve_database_url
    from models import card, registry

    with psycopg.connect(resolve_database_url(settings)) as conn:
        found = [v for v in registry.versions(conn, args.name) if v.version == args.version]
    if not found:
        print(f"model {args.name} has no version {args.version}", file=sys.stderr)
        return 1
    v = found[0]
    path = card.write_card(Path(settings.reports_dir), v.name, v.version, v.metrics, v.status)
    print(path)
    return 0


def _list(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    from incident_service.db import resolve_database_url
    from models import registry

    with psycopg.connect(resolve_database_url(settings)) as conn:
        for v in registry.versions(conn, args.name):
            sev, ttr = v.metrics.get("severity") or {}, v.metrics.get("ttr") or {}
            gate = v.metrics.get("gate") or {}
            verdict = (
                "gate passed"
                if gate.get("passed")
                else f"below its gate ({', '.join(gate.get('failed') or ['none recorded'])})"
            )
            print(
                f"{v.version:4d} {v.status:9s} trained to {v.train_as_of:%Y-%m-%d %H:%M} "
                f"macro-F1 {sev.get('macro_f1', float('nan')):.3f} "
                f"MAE {ttr.get('mae_hours', float('nan')):.1f} h  {verdict}  by {v.created_by}"
            )
    return 0


def _rollback(args: argparse.Namespace, settings: Settings) -> int:
    import psycopg

    from incident_service.db import resolve_database_url
    from models import registry

    with psycopg.connect(resolve_database_url(settings)) as conn:
        try:
            version = registry.rollback(conn, args.actor, args.name)
        except LookupError as exc:
            print(str(exc), file=sys.stderr)
            return 1
    print(f"active version is now {version}")
    return 0


def _overrides(text: str) -> dict[str, object]:
    from dataclasses import fields

    from models.config import ModelConfig

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"--config must be a JSON object: {exc}"
        raise argparse.ArgumentTypeError(msg) from exc
    known = {f.name: f.type for f in fields(ModelConfig)}
    if not isinstance(value, dict) or not set(value) <= set(known):
        msg = f"--config takes a JSON object with keys among: {', '.join(sorted(known))}"
        raise argparse.ArgumentTypeError(msg)
    # JSON lists stand for the config's tuples.
    return {k: tuple(v) if isinstance(v, list) else v for k, v in value.items()}


def _datetime(text: str) -> datetime:
    try:
        return datetime.fromisoformat(text)
    except ValueError as exc:
        msg = f"not an ISO date or datetime: {text!r}"
        raise argparse.ArgumentTypeError(msg) from exc


# One model name throughout: `train`, `list` and `rollback` act on the model the API serves
# (models.service_records.SERVICE_MODEL, also trained by the Dagster asset `incident_model`)
# unless told otherwise.
NAME_HELP = "the registry name (default: the model the API serves)"

CONFIG_HELP = (
    'JSON overrides of models.config.ModelConfig, e.g. \'{"ensemble": 2, "max_epochs": 20}\''
)


def register_cli(sub: SubParsers) -> None:
    """Add `models` and its subcommands to the `incident-service` parser."""
    from models.service_records import SERVICE_MODEL

    models = sub.add_parser("models", help="train, evaluate and manage the severity/TTR models")
    msub = models.add_subparsers(dest="models_command", required=True, metavar="COMMAND")

    train = msub.add_parser(
        "train",
        help="train on a ServiceNow export split by time, print every metric and baseline, "
        "register the version and promote it if it beats the active one",
    )
    train.add_argument("--servicenow", required=True, help="the export zip (.csv.zip)")
    train.add_argument(
        "--cutoff", type=_datetime, help="train before, test after (default: median opening)"
    )
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--config", type=_overrides, default={}, help=CONFIG_HELP)
    train.add_argument("--json", help="also write the metrics JSON to this file")
    train.add_argument("--actor", default="cli", help="recorded as who registered it")
    train.add_argument("--name", default=SERVICE_MODEL, help=NAME_HELP)
    train.add_argument(
        "--folds",
        type=int,
        default=5,
        help="forward folds inside the training window, recorded with the version (0: none)",
    )
    train.add_argument(
        "--no-register", dest="register", action="store_false", help="do not touch the database"
    )
    train.set_defaults(func=_train)

    evaluate = msub.add_parser(
        "evaluate-servicenow",
        help="train on one ServiceNow export, evaluate on another; print one JSON object",
    )
    evaluate.add_argument("--train", required=True, help="export zip to train on")
    evaluate.add_argument("--test", required=True, help="later export zip to evaluate on")
    evaluate.add_argument("--seed", type=int, default=0)
    evaluate.add_argument("--config", type=_overrides, default={}, help=CONFIG_HELP)
    evaluate.add_argument(
        "--folds", type=int, default=5, help="forward folds inside the training export"
    )
    evaluate.add_argument("--fold-days", type=float, default=7.0, help="days each fold tests")
    evaluate.set_defaults(func=_evaluate_servicenow)

    inside = msub.add_parser(
        "evaluate-folds",
        help="the forward folds inside one ServiceNow export only (where choices are made)",
    )
    inside.add_argument("--servicenow", required=True, help="the export zip (.csv.zip)")
    inside.add_argument("--seed", type=int, default=0)
    inside.add_argument("--config", type=_overrides, default={}, help=CONFIG_HELP)
    inside.add_argument("--folds", type=int, default=5, help="forward folds")
    inside.add_argument("--fold-days", type=float, default=7.0, help="days each fold tests")
    inside.add_argument("--json", help="also write the folds JSON to this file")
    inside.set_defaults(func=_evaluate_folds)

    cut = msub.add_parser(
        "cut-export",
        help="write a ServiceNow export as it stood at a moment (to hold a final window out)",
    )
    cut.add_argument("--servicenow", required=True, help="the export zip (.csv.zip)")
    cut.add_argument("--until", required=True, type=_datetime, help="the moment (ISO 8601)")
    cut.add_argument("--out", required=True, help="the export zip to write")
    cut.set_defaults(func=_cut_export)

    model_card = msub.add_parser(
        "card", help="write a registered version's model card to the reports folder"
    )
    model_card.add_argument("--version", type=int, required=True)
    model_card.add_argument("--name", default=SERVICE_MODEL, help=NAME_HELP)
    model_card.set_defaults(func=_card)

    listing = msub.add_parser("list", help="every registered version, newest first")
    listing.add_argument("--name", default=SERVICE_MODEL, help=NAME_HELP)
    listing.set_defaults(func=_list)

    rollback = msub.add_parser("rollback", help="reactivate the previously active version")
    rollback.add_argument("--actor", default="cli", help="recorded as who rolled back")
    rollback.add_argument("--name", default=SERVICE_MODEL, help=NAME_HELP)
    rollback.set_defaults(func=_rollback)
