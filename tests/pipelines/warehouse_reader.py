"""A notebook session in a process of its own, as
`python -m tests.pipelines.warehouse_reader MODE WAREHOUSE STOP_FILE RESULT_FILE`:

- ``reads``: the notebooks' reading functions in a loop until told to stop, each read
  opening the warehouse and closing it as the notebooks' cells do.
- ``holds``: one read held open the whole session (a long query in a cell). A process of
  its own: DuckDB shares one open database among the connections of a process to the
  same file, so a held read would pin the loop's reads to its snapshot too.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from pipelines import notebook_queries


def reads(path: Path, stop: Path) -> dict[str, object]:
    done, errors, most_service = 0, [], 0
    while not stop.exists():
        try:
            with notebook_queries.reading(path) as duck:
                notebook_queries.options(duck)
                notebook_queries.trend(duck, notebook_queries.Filters(), by="team")
                service = duck.execute(
                    "select count(*) from fct_incidents where source_system = 'service'"
                ).fetchall()[0][0]
            done += 1
            most_service = max(most_service, int(service))
        except Exception as exc:  # every failure is reported to the test
            errors.append(f"{type(exc).__name__}: {exc}")
        time.sleep(0.2)
    return {"reads": done, "errors": errors, "most_service": most_service}


def holds(path: Path, stop: Path) -> dict[str, object]:
    with notebook_queries.reading(path) as held:
        while not stop.exists():
            time.sleep(0.2)
        return {"held_rows": held.execute("select count(*) from fct_incidents").fetchall()[0][0]}


if __name__ == "__main__":
    mode, path, stop, result = sys.argv[1], *map(Path, sys.argv[2:5])
    outcome = reads(path, stop) if mode == "reads" else holds(path, stop)
    result.write_text(json.dumps(outcome))
