"""`incident-service models evaluate-servicenow` on two exports it has never seen: the real
ServiceNow history split by time into an earlier and a later export (a sample, to stay fast)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

from models import servicenow_history

pytestmark = pytest.mark.slow  # one of the suite's long files: scheduled first

DATA = (
    Path(__file__).resolve().parents[1]
    / "data"
    / ("servicenow_incident_events_until_2016-05-01.csv.zip")
)


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real command, in its own process (its logging set-up is its own business)."""
    return subprocess.run(
        [sys.executable, "-m", "incident_cli", "models", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=None if env is None else {**os.environ, **env},
    )


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> tuple[Path, Path]:
    events = servicenow_history.read_events(DATA)
    # One incident in six, whole (every event row of the ones kept), from 2016-03-15 on.
    sample = events.filter(
        (pl.col("number").str.slice(3).cast(pl.Int64) % 6 == 0)
        & (pl.col("opened_at") >= datetime(2016, 3, 15))
    )
    folder = tmp_path_factory.mktemp("exports")
    earlier, later = folder / "until_2016-04-10.csv.zip", folder / "until_2016-05-01.csv.zip"
    servicenow_history.write_export(
        servicenow_history.as_of(sample, datetime(2016, 4, 10)), earlier
    )
    servicenow_history.write_export(sample, later)
    return earlier, later


def test_evaluate_servicenow_prints_the_metrics_object(exports):
    earlier, later = exports
    # A lighter configuration than the default (fewer ensemble members and epochs), to keep
    # the suite fast; the full one is run by `benchmarks/models.py` and in docs/models.md.
    light = (
        '{"ensemble": 2, "max_epochs": 15, "censored_weights": [1.0, 0.0],'
        ' "recency_half_lives": [7.0], "class_weight_powers": [0.5, 1.0]}'
    )
    done = run_cli(
        "evaluate-servicenow",
        "--train",
        str(earlier),
        "--test",
        str(later),
        "--config",
        light,
        "--folds",
        "2",
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    # The shape it always had, plus the forward folds inside the training export.
    assert set(result) == {"severity", "ttr", "baselines", "folds"}
    per_fold = result["folds"]["per_fold"]
    assert [f["cutoff"][:10] for f in per_fold] == ["2016-03-27", "2016-04-03"]
    for fold in per_fold:
        assert set(result) - {"folds"} <= set(fold)
        assert set(fold["baselines"]) == set(result["baselines"])
        # Each fold tests the week after its cut-off, never later than the training export.
        assert fold["windows"]["test_opened"][0] >= fold["cutoff"]
        assert fold["windows"]["test_opened"][1] < fold["test_until"]
        assert fold["windows"]["test_as_of"] <= fold["test_until"]
    summary = result["folds"]["summary"]
    assert summary["jax"]["macro_f1"]["folds"] == 2
    assert set(summary["jax"]["macro_f1"]) == {"mean", "std", "min", "max", "wins", "folds"}
    assert set(result["folds"]["bar"]["checks"]) == {
        "macro_f1",
        "auc_high",
        "mae_hours",
        "c_index",
        "coverage_every_fold",
    }
    assert set(result["severity"]) == {"macro_f1", "auc_high", "recall"}
    assert set(result["severity"]["recall"]) == {
        "SEV1_CRITICAL",
        "SEV2_HIGH",
        "SEV3_MEDIUM",
        "SEV4_LOW",
    }
    assert set(result["ttr"]) == {
        "mae_hours",
        "median_ae_hours",
        "log_rmse",
        "c_index",
        "coverage_p10_p90",
    }
    names = {
        "majority_class",
        "training_median",
        "hist_gradient_boosting",
        "hist_gradient_boosting_tuned",
        "lifelines_aft",
    }
    assert set(result["baselines"]) == names
    for block in result["baselines"].values():
        assert block["severity"] is None or set(block["severity"]) == set(result["severity"])
        assert block["ttr"] is None or set(block["ttr"]) == set(result["ttr"])
    # Learnt something real on data it never saw: better than the trivial baselines.
    majority = result["baselines"]["majority_class"]["severity"]
    median = result["baselines"]["training_median"]["ttr"]
    assert result["severity"]["macro_f1"] > majority["macro_f1"] + 0.05
    assert result["severity"]["auc_high"] > 0.65
    assert result["ttr"]["mae_hours"] < median["mae_hours"]
    assert result["ttr"]["c_index"] > 0.55
    assert 0.5 < result["ttr"]["coverage_p10_p90"] < 0.95


def test_config_overrides_are_checked():
    done = run_cli("evaluate-servicenow", "--train", "a", "--test", "b", "--config", '{"x": 1}')
    assert done.returncode == 2 and "keys among" in done.stderr


def test_evaluate_servicenow_refuses_a_test_export_with_nothing_later(exports):
    earlier, _ = exports
    done = run_cli("evaluate-servicenow", "--train", str(earlier), "--test", str(earlier))
    assert done.returncode == 2 and "nothing to evaluate on" in done.stderr


def test_train_list_and_rollback_share_one_model_name():
    import argparse

    from incident_cli.models import register_cli
    from models.registry import DEFAULT_NAME
    from models.service_records import SERVICE_MODEL

    parser = argparse.ArgumentParser()
    register_cli(parser.add_subparsers())
    names = {
        parser.parse_args(["models", *argv]).name
        for argv in (["train", "--servicenow", "x.zip"], ["list"], ["rollback"])
    }
    assert names == {SERVICE_MODEL} and DEFAULT_NAME == SERVICE_MODEL


def test_train_registers_its_evaluation_and_gate_and_writes_the_model_card(
    exports, database_url, tmp_path
):
    earlier, _ = exports
    # Its own name: the session's database is shared, and the API serves "incident-service".
    name = f"test-cli-{secrets.token_hex(4)}"
    env = {"DATABASE_URL": database_url, "REPORTS_DIR": str(tmp_path)}
    light = '{"ensemble": 2, "max_epochs": 10, "recency_half_lives": [0.0]}'
    args = ["--servicenow", str(earlier), "--cutoff", "2016-04-03", "--config", light]
    done = run_cli("train", *args, "--folds", "0", "--name", name, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"registered version 1 of {name}: promoted" in done.stdout
    card = (tmp_path / f"model-card-{name}-v1.md").read_text()
    assert "## Quality gate" in card and "| SEV1_CRITICAL |" in card
    assert "No forward folds were recorded" in card
    listed = run_cli("list", "--name", name, env=env)
    assert listed.returncode == 0 and (
        "gate passed" in listed.stdout or "below its gate" in listed.stdout
    )
    (tmp_path / f"model-card-{name}-v1.md").unlink()
    rewritten = run_cli("card", "--version", "1", "--name", name, env=env)
    assert rewritten.returncode == 0, rewritten.stderr[-2000:]
    assert (
        "Status in the registry: **active**" in (tmp_path / f"model-card-{name}-v1.md").read_text()
    )
    missing = run_cli("card", "--version", "9", "--name", name, env=env)
    assert missing.returncode == 1 and "has no version 9" in missing.stderr
