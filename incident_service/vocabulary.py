"""The words the records are written in: severities, incident statuses, response statuses.

A leaf: imported by every domain, importing nothing of the service. The database's CHECK
constraints on these columns are generated from here (`check_constraints`, written out
as migration 0080_vocabulary_checks.sql, and again by 0091_merge.sql when MERGED came),
and tests compare both the newest such migration and the live database with these enums,
so the two cannot drift apart.
"""

from __future__ import annotations

from enum import StrEnum


class IncidentSeverity(StrEnum):
    """Most severe first: the order is meaningful (a suggestion "more severe" than the
    declared severity comes earlier)."""

    SEV1_CRITICAL = "SEV1_CRITICAL"
    SEV2_HIGH = "SEV2_HIGH"
    SEV3_MEDIUM = "SEV3_MEDIUM"
    SEV4_LOW = "SEV4_LOW"


class IncidentStatus(StrEnum):
    """In lifecycle order (`incidents.lifecycle` has the moves)."""

    OPEN = "OPEN"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    INVESTIGATING = "INVESTIGATING"
    IDENTIFIED = "IDENTIFIED"
    MONITORING = "MONITORING"
    RESOLVED = "RESOLVED"
    CLOSED = "CLOSED"
    # Folded into another incident by a merge (`merged_into`): terminal, reached only
    # through POST /api/v1/incidents/{id}/merge, never by a status change.
    MERGED = "MERGED"


class ResponseStatus(StrEnum):
    """An automated response's `execution_status` (`responses.lifecycle` has the moves)."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


# (table, constraint, column, vocabulary): every column whose values are one of these.
CHECKED: tuple[tuple[str, str, str, type[StrEnum]], ...] = (
    ("incidents", "incidents_severity_check", "severity", IncidentSeverity),
    ("incidents", "incidents_status_check", "status", IncidentStatus),
    ("automated_responses", "automated_responses_status_check", "execution_status", ResponseStatus),
)


def in_list(vocabulary: type[StrEnum]) -> str:
    """`('A', 'B', ...)`: the values as an SQL list (they are identifiers: no quoting)."""
    return "(" + ", ".join(f"'{v.value}'" for v in vocabulary) + ")"


def check_constraints() -> str:
    """The SQL that (re)creates every CHECK of `CHECKED`: the newest vocabulary migration's text."""
    statements = [
        f"alter table {table}\n"
        f"    drop constraint if exists {name},\n"
        f"    add constraint {name} check ({column} in {in_list(vocabulary)});\n"
        for table, name, column, vocabulary in CHECKED
    ]
    return "\n".join(statements)
