"""Response policies: a versioned file of conditions that choose ordered actions.

A policy's `when` is a tree of `all` / `any` / `not` over leaves `{field, op, value}`.
Fields are dotted paths into a context with namespaces: `incident.*` (severity,
assigned_team, affected_services, labels.<name>, title) today, and `predicted.*` once the
models publish predictions (e.g. `predicted.sev1_probability >= 0.8`): a new namespace is
one more key in the context, nothing here changes. A leaf whose field is missing is false,
and the decision says so.

Evaluation is pure: the same incident and file always give the same decision, which is
recorded (matched policies with the reasons, and the first failing condition of the rest).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_POLICY_FILE = Path(__file__).parent / "response_policies.yaml"

Op = Literal[
    "eq", "ne", "in", "not_in", "contains", "contains_any", "gt", "gte", "lt", "lte", "glob"
]
_MISSING = object()


class Leaf(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    field: Annotated[str, Field(pattern=r"^(incident|predicted)(\.[A-Za-z0-9_\-]+)+$")]
    op: Op
    value: Any

    @model_validator(mode="after")
    def _value_fits_op(self) -> Leaf:
        if self.op in ("in", "not_in", "contains_any") and not isinstance(self.value, list):
            msg = f"op {self.op!r} needs a list value"
            raise ValueError(msg)
        if self.op in ("gt", "gte", "lt", "lte") and not isinstance(self.value, int | float):
            msg = f"op {self.op!r} needs a number"
            raise ValueError(msg)
        return self


class All(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    all: list[Condition] = Field(min_length=1)


class Any_(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    any: list[Condition] = Field(min_length=1)


class Not(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    not_: Condition = Field(alias="not")


Condition = Leaf | All | Any_ | Not


class ActionSpec(BaseModel):
    """One action a policy takes, with how hard to try."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Annotated[str, Field(min_length=1, max_length=100)]
    params: dict[str, Any] = Field(default_factory=dict)
    max_attempts: Annotated[int, Field(ge=1, le=20)] = 3
    deadline_s: Annotated[float, Field(gt=0, le=3600)] = 60.0
    # When this action fails for good, the actions after it are skipped.
    stop_on_failure: bool = False


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,99}$")]
    description: str = ""
    when: Condition | None = None  # no condition: always matches
    actions: list[ActionSpec] = Field(min_length=1)
    # A matching policy with `final: true` ends the evaluation (later policies not applied).
    final: bool = False


class PolicyFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Annotated[str, Field(min_length=1, max_length=100)]
    policies: list[Policy]

    @model_validator(mode="after")
    def _unique_ids(self) -> PolicyFile:
        ids = [p.id for p in self.policies]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            msg = f"duplicate policy ids: {', '.join(dupes)}"
            raise ValueError(msg)
        return self


class PolicyFileError(ValueError):
    """The policy file cannot be used; the message names the file and the problem."""


@dataclass(frozen=True, slots=True)
class ChosenAction:
    position: int
    policy_id: str
    spec: ActionSpec


@dataclass(frozen=True, slots=True)
class Decision:
    policy_version: str
    actions: list[ChosenAction]
    matched: list[dict[str, Any]] = field(default_factory=list)
    not_matched: list[dict[str, Any]] = field(default_factory=list)


def load_policies(path: Path | None, known_actions: Iterable[str]) -> PolicyFile:
    """Read and validate the file; unknown action types are refused at load, not at run."""
    path = path or DEFAULT_POLICY_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        loaded = PolicyFile.model_validate(raw)
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        msg = f"response policy file {path}: {exc}"
        raise PolicyFileError(msg) from exc
    known = set(known_actions)
    unknown = sorted({a.type for p in loaded.policies for a in p.actions} - known)
    if unknown:
        msg = f"response policy file {path}: unknown action types {unknown}; known: {sorted(known)}"
        raise PolicyFileError(msg)
    return loaded


@lru_cache(maxsize=8)
def cached_policies(path: Path | None, known_actions: frozenset[str]) -> PolicyFile:
    return load_policies(path, known_actions)


def incident_context(
    *,
    severity: str,
    assigned_team: str,
    affected_services: list[str],
    labels: Mapping[str, str],
    title: str,
    predicted: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The namespaces conditions can read. `predicted` is empty until models feed it."""
    return {
        "incident": {
            "severity": severity,
            "assigned_team": assigned_team,
            "affected_services": list(affected_services),
            "labels": dict(labels),
            "title": title,
        },
        "predicted": dict(predicted or {}),
    }


def decide(policies: PolicyFile, context: Mapping[str, Any]) -> Decision:
    """Which policies match, in file order, and the actions they choose (deduplicated)."""
    actions: list[ChosenAction] = []
    seen: set[tuple[str, str]] = set()
    matched: list[dict[str, Any]] = []
    not_matched: list[dict[str, Any]] = []
    below = _below_gate(context)
    for policy in policies.policies:
        if below and policy.when is not None and _reads_predictions(policy.when):
            # A model that failed its quality gate is shown, never acted on.
            not_matched.append({"policy": policy.id, "why": [below]})
            continue
        if policy.when is None:
            ok, reasons = True, ["no condition"]
        else:
            ok, reasons = _eval(policy.when, context)
        if not ok:
            not_matched.append({"policy": policy.id, "why": reasons})
            continue
        matched.append({"policy": policy.id, "why": reasons})
        for spec in policy.actions:
            key = (spec.type, repr(sorted(spec.params.items())))
            if key in seen:  # two policies asking for the same action: do it once
                continue
            seen.add(key)
            actions.append(ChosenAction(len(actions) + 1, policy.id, spec))
        if policy.final:
            break
    return Decision(policies.version, actions, matched, not_matched)


def _below_gate(context: Mapping[str, Any]) -> str | None:
    """'model below its gate (...)' when predictions are present from a version that did not
    pass its quality gate (or recorded none), else None."""
    predicted = context.get("predicted") or {}
    if not predicted:
        return None
    gate = predicted.get("model_gate")
    if isinstance(gate, Mapping) and gate.get("passed") is True:
        return None
    failed = gate.get("failed") if isinstance(gate, Mapping) else None
    detail = ", ".join(str(f) for f in failed) if failed else "no recorded gate"
    return f"model below its gate ({detail}): policy skipped"


def _reads_predictions(cond: Condition) -> bool:
    if isinstance(cond, All):
        return any(_reads_predictions(c) for c in cond.all)
    if isinstance(cond, Any_):
        return any(_reads_predictions(c) for c in cond.any)
    if isinstance(cond, Not):
        return _reads_predictions(cond.not_)
    return cond.field.startswith("predicted.")


def _lookup(context: Mapping[str, Any], dotted: str) -> Any:
    node: Any = context
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return _MISSING
        node = node[part]
    return node


def _eval(cond: Condition, ctx: Mapping[str, Any]) -> tuple[bool, list[str]]:
    """(matched, reasons): every reason for a match, the first failure for a miss."""
    if isinstance(cond, All):
        reasons: list[str] = []
        for sub in cond.all:
            ok, why = _eval(sub, ctx)
            if not ok:
                return False, why
            reasons.extend(why)
        return True, reasons
    if isinstance(cond, Any_):
        misses: list[str] = []
        for sub in cond.any:
            ok, why = _eval(sub, ctx)
            if ok:
                return True, why
            misses.extend(why)
        return False, [f"none of: {'; '.join(misses)}"]
    if isinstance(cond, Not):
        ok, why = _eval(cond.not_, ctx)
        return (not ok), [f"not ({'; '.join(why)})"]
    return _leaf(cond, ctx)


def _leaf(leaf: Leaf, ctx: Mapping[str, Any]) -> tuple[bool, list[str]]:
    actual = _lookup(ctx, leaf.field)
    if actual is _MISSING:
        return False, [f"{leaf.field} is missing"]
    ok = _compare(leaf.op, actual, leaf.value)
    verdict = "" if ok else "not "
    return ok, [f"{leaf.field}={actual!r} {verdict}{leaf.op} {leaf.value!r}"]


def _compare(op: str, actual: Any, expected: Any) -> bool:
    try:
        if op == "eq":
            return bool(actual == expected)
        if op == "ne":
            return bool(actual != expected)
        if op == "in":
            return actual in expected
        if op == "not_in":
            return actual not in expected
        if op == "contains":
            return isinstance(actual, list | str) and expected in actual
        if op == "contains_any":
            return isinstance(actual, list) and any(v in actual for v in expected)
        if op == "glob":
            return isinstance(actual, str) and fnmatch.fnmatchcase(actual, str(expected))
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            return False
        number = float(actual)
        limits = {
            "gt": number > expected,
            "gte": number >= expected,
            "lt": number < expected,
            "lte": number <= expected,
        }
        return bool(limits[op])
    except TypeError:  # e.g. an unhashable value; a condition that cannot hold is false
        return False
