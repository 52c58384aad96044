"""The ServiceNow history importer: the incident event-log export, loaded as it is.

The export (one row per update of an incident, 36 columns, ``d/m/YYYY HH:MM``
timestamps, ``?`` for missing) goes into ``servicenow.incident_events`` with every
column kept as text and two of ours added: ``_row`` (the line's position in the file,
which orders an incident's updates when timestamps tie) and ``_source`` (the file name).
Typing, the ``?`` convention and the mapping onto our incident model are the SQL
models' job (``stg_servicenow__incident_events``, ``int_servicenow__incidents``), so
the raw rows stay exactly as the team exported them.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import polars as pl

EXPECTED_COLUMNS = (
    "number", "incident_state", "active", "reassignment_count", "reopen_count",
    "sys_mod_count", "made_sla", "caller_id", "opened_by", "opened_at", "sys_created_by",
    "sys_created_at", "sys_updated_by", "sys_updated_at", "contact_type", "location",
    "category", "subcategory", "u_symptom", "cmdb_ci", "impact", "urgency", "priority",
    "assignment_group", "assigned_to", "knowledge", "u_priority_confirmation", "notify",
    "problem_id", "rfc", "vendor", "caused_by", "closed_code", "resolved_by",
    "resolved_at", "closed_at",
)  # fmt: skip


class ServiceNowExportError(ValueError):
    """The file is not a ServiceNow incident event-log export."""


def read_export(path: Path) -> pl.DataFrame:
    """The export's rows as text (a ``.csv`` or a ``.zip`` holding one ``.csv``)."""
    if path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            names = [n for n in archive.namelist() if n.endswith(".csv")]
            if len(names) != 1:
                msg = f"{path.name}: expected one .csv inside, found {len(names)}"
                raise ServiceNowExportError(msg)
            data = archive.read(names[0])
    else:
        data = path.read_bytes()
    frame = pl.read_csv(io.BytesIO(data), infer_schema=False)
    missing = [c for c in EXPECTED_COLUMNS if c not in frame.columns]
    if missing:
        msg = f"{path.name}: not an incident event-log export; missing {', '.join(missing)}"
        raise ServiceNowExportError(msg)
    return frame.with_row_index("_row", offset=1).with_columns(
        pl.col("_row").cast(pl.Int64), pl.lit(path.name).alias("_source")
    )
