"""The automated-response lifecycle table, checked move by move."""

from __future__ import annotations

import pytest

from incident_service.errors import InvalidTransition
from incident_service.responses import repository
from incident_service.responses.lifecycle import ALLOWED, check_moves, may_move, sources
from incident_service.vocabulary import ResponseStatus as R

MOVES = {
    (R.PENDING, R.IN_PROGRESS),
    (R.PENDING, R.SUCCEEDED),
    (R.PENDING, R.FAILED),
    (R.PENDING, R.SKIPPED),
    (R.IN_PROGRESS, R.SUCCEEDED),
    (R.IN_PROGRESS, R.FAILED),
    (R.IN_PROGRESS, R.SKIPPED),
    (R.SUCCEEDED, R.FAILED),
    (R.FAILED, R.PENDING),
    (R.SKIPPED, R.PENDING),
}


@pytest.mark.parametrize("current", list(R))
@pytest.mark.parametrize("target", list(R))
def test_each_move_is_allowed_exactly_when_the_table_says(current: R, target: R) -> None:
    expected = current == target or (current, target) in MOVES
    assert may_move(current, target) is expected
    assert (target in ALLOWED[current]) is ((current, target) in MOVES)
    if expected:
        check_moves([current], target)
    else:
        with pytest.raises(InvalidTransition, match=f"from {current} to {target}"):
            check_moves([current], target)


def test_retry_and_cancel_start_from_what_the_table_allows() -> None:
    assert sources(R.PENDING) == [R.FAILED, R.SKIPPED]
    assert sources(R.SKIPPED) == [R.PENDING, R.IN_PROGRESS]


def test_a_move_the_table_forbids_is_refused_before_any_sql() -> None:
    with pytest.raises(InvalidTransition) as refused:
        repository.Move("INC-1-R1", [R.SUCCEEDED, R.FAILED], R.SKIPPED)
    assert refused.value.status_code == 409
    assert refused.value.extra == {"execution_status": "succeeded"}
