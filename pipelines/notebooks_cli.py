"""`incident-service notebooks demo`: what `make notebooks` needs before it opens them.

A warehouse (`pipelines.notebook_queries.warehouse_path()`): when there is none, a demo one of
seeded synthetic history with every SQL model built. Model versions (`MODELS_DIR`, else
``DATA_DIR/models``, or the registry): when there are none, two demo versions trained on
the first 70% of that history, so the model notebook has a later window to judge them on.
"""

from __future__ import annotations

import argparse
import time

from incident_service.config import Settings


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    from pipelines import notebook_queries

    started = time.perf_counter()

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", flush=True)

    path = notebook_queries.warehouse_path()
    if path.exists() and not args.force:
        say(f"warehouse: {path} (exists, kept)")
    else:
        say(f"warehouse: generating {args.incidents} synthetic incidents into {path}")
        counts = notebook_queries.build_demo_warehouse(
            path, incidents=args.incidents, seed=args.seed
        )
        say(f"warehouse: {len(counts)} SQL models built")
    if args.no_models:
        return 0

    from models import diagnostics
    from models.config import get_config

    versions, where = diagnostics.available_versions()
    if versions and not args.force:
        say(f"models: {len(versions)} version(s) found ({where}), kept")
        return 0
    with notebook_queries.reading(path) as duck:
        frame = notebook_queries.incidents_for_models(duck, notebook_queries.sources(duck)[0])
    history = diagnostics.history_from_incidents(frame, diagnostics.window_end(frame))
    cutoff = diagnostics.default_cutoff(history)
    train = diagnostics.time_split(history, cutoff).train
    folder = diagnostics.models_dir()
    # Two bounded configurations (the machine is shared): a small one and a larger ensemble.
    configs = [
        get_config().replace(hash_dim=2048, hidden=16, max_epochs=8, ensemble=1),
        get_config().replace(hidden=32, max_epochs=12, ensemble=2),
    ]
    for number, config in enumerate(configs, start=1):
        say(f"models: training demo version {number} of {len(configs)} on {len(train)} incidents")
        path_v = diagnostics.train_version(
            train, folder, "incident-models", number, config, lambda m: say(f"  {m}")
        )
        say(f"models: wrote {path_v}")
    return 0


def register_cli(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    notebooks = sub.add_parser("notebooks", help="the marimo notebooks' data")
    commands = notebooks.add_subparsers(dest="notebooks_command", required=True, metavar="COMMAND")
    demo = commands.add_parser(
        "demo",
        help="generate a demo warehouse and demo model versions when there are none",
    )
    demo.add_argument("--incidents", type=int, default=3000, help="synthetic incidents (3000)")
    demo.add_argument("--seed", type=int, default=7)
    demo.add_argument("--force", action="store_true", help="regenerate even if present")
    demo.add_argument("--no-models", action="store_true", help="the warehouse only")
    demo.set_defaults(func=_demo)
