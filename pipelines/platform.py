"""Platform data from the drop folder: the service catalog, teams, deploys and alerts.

A user feeds in their own by putting files in the drop folder (``DATA_DIR/platform`` by
default; see docs/analytics.md):

================  ===================================================================
file              columns (header row; extra columns are kept, missing optional = null)
================  ===================================================================
``teams.csv``     team, utc_offset_h (optional, default 0)
``services.csv``  service, team, tier (1-3), depends_on (``;``-separated, optional)
``deploys.csv``   deploy_id, service, deployed_at (ISO 8601), change_type (optional)
``alerts.csv``    alert_id, service, received_at (ISO 8601), severity, summary
================  ===================================================================

Each may also be given as ``.json`` (an array of objects with the same fields). A file
that is absent leaves its table empty; a file with a missing required column or a bad
value is refused with a `DropFolderError` that names the file, the column and the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl


class DropFolderError(ValueError):
    """A drop-folder file that cannot be loaded; the message names file, column and row."""


@dataclass(frozen=True)
class DropFile:
    name: str
    required: tuple[str, ...]
    timestamps: tuple[str, ...] = ()
    integers: tuple[str, ...] = ()
    lists: tuple[str, ...] = ()


DROP_FILES: tuple[DropFile, ...] = (
    DropFile("teams", ("team",), integers=("utc_offset_h",)),
    DropFile("services", ("service", "team", "tier"), integers=("tier",), lists=("depends_on",)),
    DropFile("deploys", ("deploy_id", "service", "deployed_at"), timestamps=("deployed_at",)),
    DropFile("alerts", ("alert_id", "service", "received_at"), timestamps=("received_at",)),
)


def read_drop_file(folder: Path, spec: DropFile) -> pl.DataFrame | None:
    """The file's rows, typed and checked; None when the file is not there."""
    csv_path, json_path = folder / f"{spec.name}.csv", folder / f"{spec.name}.json"
    if csv_path.exists():
        path = csv_path
        frame = pl.read_csv(csv_path, infer_schema=False)
    elif json_path.exists():
        path = json_path
        frame = pl.read_json(json_path, infer_schema_length=None)
        frame = frame.with_columns(pl.all().cast(pl.String))
    else:
        return None
    missing = [c for c in spec.required if c not in frame.columns]
    if missing:
        msg = f"{path.name}: missing required column(s) {', '.join(missing)}"
        raise DropFolderError(msg)
    for column in spec.required:
        bad = frame.with_row_index("row").filter(
            pl.col(column).is_null() | (pl.col(column).str.strip_chars() == "")
        )
        if bad.height:
            msg = f"{path.name}: column {column} is empty on row {int(bad['row'][0]) + 1}"
            raise DropFolderError(msg)
    return _typed(frame, spec, path.name)


def _typed(frame: pl.DataFrame, spec: DropFile, name: str) -> pl.DataFrame:
    for column in spec.integers:
        if column not in frame.columns:
            frame = frame.with_columns(
                pl.lit(0 if column == "utc_offset_h" else None).alias(column)
            )
        frame = _cast(frame, column, pl.Int32(), name)
    for column in spec.timestamps:
        parsed = frame[column].str.to_datetime(time_zone="UTC", strict=False)
        _check(frame, column, parsed, name)
        frame = frame.with_columns(parsed.alias(column))
    for column in spec.lists:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit("").alias(column))
        frame = frame.with_columns(
            pl.col(column)
            .fill_null("")
            .str.split(";")
            .list.eval(pl.element().str.strip_chars().filter(pl.element() != ""))
        )
    return frame


def _cast(frame: pl.DataFrame, column: str, dtype: pl.DataType, name: str) -> pl.DataFrame:
    parsed = frame[column].cast(dtype, strict=False)
    _check(frame, column, parsed, name)
    return frame.with_columns(parsed.alias(column))


def _check(frame: pl.DataFrame, column: str, parsed: pl.Series, name: str) -> None:
    bad = (parsed.is_null() & frame[column].is_not_null()).arg_true()
    if bad.len():
        row = int(bad[0])
        msg = (
            f"{name}: column {column} has an invalid value {frame[column][row]!r} on row {row + 1}"
        )
        raise DropFolderError(msg)


def read_drop_folder(folder: Path) -> dict[str, pl.DataFrame | None]:
    """Every drop file, by table name (``None`` for a file that is absent)."""
    return {spec.name: read_drop_file(folder, spec) for spec in DROP_FILES}
