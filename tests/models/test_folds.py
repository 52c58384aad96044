"""Rolling-origin folds inside one export: where they cut, what they may see, how they add up."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl

from models import folds, servicenow_history
from tests.models.test_cli import DATA


def test_cutoffs_step_back_from_the_midnight_after_the_export():
    cuts = folds.fold_cutoffs(datetime(2016, 4, 17, 23, 58), 3, 7.0)
    assert cuts == [
        (datetime(2016, 3, 28), datetime(2016, 4, 4)),
        (datetime(2016, 4, 4), datetime(2016, 4, 11)),
        (datetime(2016, 4, 11), datetime(2016, 4, 18)),
    ]
    assert folds.fold_cutoffs(datetime(2016, 4, 18), 1, 7.0)[0][1] == datetime(2016, 4, 18)


def test_each_fold_trains_on_the_past_and_tests_on_the_next_week_only():
    events = servicenow_history.read_events(DATA)
    events = events.filter(pl.col("number").str.slice(3).cast(pl.Int64) % 5 == 0)
    dev = servicenow_history.as_of(events, datetime(2016, 4, 18))
    found = folds.servicenow_folds(dev, 3, 7.0)
    assert [f.cutoff for f in found] == [
        datetime(2016, 3, 28),
        datetime(2016, 4, 4),
        datetime(2016, 4, 11),
    ]
    previous = 0
    for f in found:
        train, test = f.data.train, f.data.test
        assert train.as_of == f.cutoff and max(i.opened_at for i in train.incidents) < f.cutoff
        assert len(train) > previous  # expanding window
        previous = len(train)
        opened = [i.opened_at for i in test.incidents]
        assert min(opened) >= f.cutoff and max(opened) < f.until
        # Outcomes as they stood at the end of the fold's week: nothing resolved later counts.
        assert test.as_of < f.until
        ends = test.opened() + (test.outcomes.duration_hours * 3600).astype("timedelta64[s]")
        assert np.all(ends[test.outcomes.observed] <= np.datetime64(f.until, "s"))


def _fold(jax_f1: float, trees_f1: float, jax_mae: float, trees_mae: float) -> dict:
    def block(f1, mae, cov):
        return {
            "severity": {"macro_f1": f1, "auc_high": 0.7},
            "ttr": {"mae_hours": mae, "c_index": 0.6, "coverage_p10_p90": cov},
        }

    return {**block(jax_f1, jax_mae, 0.8), "baselines": {"trees": block(trees_f1, trees_mae, 0.6)}}


def test_summary_means_spreads_and_wins():
    per_fold = [_fold(0.5, 0.4, 10.0, 12.0), _fold(0.3, 0.4, 10.0, 9.0), _fold(0.4, 0.4, 8, 9)]
    s = folds.summarize(per_fold)
    f1 = s["jax"]["macro_f1"]
    assert abs(f1["mean"] - 0.4) < 1e-12 and abs(f1["std"] - 0.1) < 1e-12
    assert (f1["wins"], s["trees"]["macro_f1"]["wins"]) == (2, 2)  # the tie counts for both
    assert (s["jax"]["mae_hours"]["wins"], s["trees"]["mae_hours"]["wins"]) == (2, 1)
    assert s["jax"]["coverage_p10_p90"]["wins"] == 3  # nearest the nominal 0.80
    bar = folds.bar_check(s, per_fold)
    assert not bar["passed"] and not bar["checks"]["macro_f1"]  # a tied mean is no win
    assert bar["checks"]["mae_hours"] and bar["checks"]["coverage_every_fold"]
    assert "0.400 ± 0.100 (2/3)" in folds.folds_table(s)
