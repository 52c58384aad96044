"""The model card: one Markdown page per registered version, from what it recorded.

What a person needs before trusting a version's predictions: whether it passed its quality
gate (and each check against its threshold), per-class precision and recall, the calibration
of P(SEV1)+P(SEV2), p10-p90 coverage, and the forward folds it was judged on (fold mean and
spread against every baseline). Written to the reports folder by `models train` and `models
card` (served by `GET /api/v1/reports`), and shown by the models notebook.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from models.folds import folds_table, per_fold_table


def _num(v: object, digits: int = 3) -> str:
    return f"{v:.{digits}f}" if isinstance(v, int | float) else "n/a"


def _limit(v: object) -> str:
    if isinstance(v, list):
        return " - ".join(_num(x, 2) for x in v)
    return _num(v)


def card_name(name: str, version: int) -> str:
    """The report's file name (only characters the reports listing accepts)."""
    return f"model-card-{re.sub(r'[^A-Za-z0-9._-]', '-', name)}-v{version}.md"


def card_markdown(name: str, version: int, metrics: dict[str, Any], status: str = "") -> str:
    lines = [f"# Model card: {name} version {version}", ""]
    if status:
        lines += [f"Status in the registry: **{status}**.", ""]
    windows = metrics.get("windows") or {}
    if windows:
        lines += [
            f"Trained on {windows.get('train_incidents')} incidents opened "
            f"{(windows.get('train_opened') or ['?', '?'])[0]} .. "
            f"{(windows.get('train_opened') or ['?', '?'])[1]} (as of "
            f"{windows.get('train_as_of')}); evaluated on {windows.get('test_incidents')} opened "
            f"after ({windows.get('test_resolved')} resolved by {windows.get('test_as_of')}).",
            "",
        ]
    gate = metrics.get("gate")
    lines += ["## Quality gate", ""]
    if not gate:
        lines += [
            "No evaluation was recorded: the version is **below its gate** and the response "
            "policies do not act on its predictions.",
            "",
        ]
    else:
        verdict = "passed" if gate.get("passed") else "**failed**: policies skip its predictions"
        lines += [
            f"Gate {verdict}.",
            "",
            "| check | value | limit | ok |",
            "| --- | --- | --- | --- |",
        ]
        for check, c in (gate.get("checks") or {}).items():
            lines.append(
                f"| {check} | {_num(c.get('value'))} | {_limit(c.get('limit'))} | "
                f"{'yes' if c.get('ok') else 'NO'} |"
            )
        lines.append("")
    ev = metrics.get("evaluation") or {}
    if ev:
        lines += [
            "## Per class (evaluation window)",
            "",
            "| severity | support | predicted | precision | recall | F1 |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for sev, c in (ev.get("per_class") or {}).items():
            lines.append(
                f"| {sev} | {c['support']} | {c['predicted']} | {_num(c['precision'])} | "
                f"{_num(c['recall'])} | {_num(c['f1'])} |"
            )
        sev_m, ttr = ev.get("severity") or {}, ev.get("ttr") or {}
        cal = ev.get("calibration") or {}
        lines += [
            "",
            f"macro-F1 {_num(sev_m.get('macro_f1'))} (always the commonest class: "
            f"{_num(ev.get('majority_macro_f1'))}), AUC SEV1+2 {_num(sev_m.get('auc_high'))}.",
            "",
            "## Calibration of P(SEV1)+P(SEV2)",
            "",
            f"Expected calibration error {_num(cal.get('ece_high'))}, Brier score "
            f"{_num(cal.get('brier'))}; per class ECE "
            + ", ".join(f"{k} {_num(v)}" for k, v in (cal.get("ece_by_class") or {}).items())
            + ".",
            "",
            "| mean predicted | observed share | incidents |",
            "| --- | --- | --- |",
        ]
        for b in cal.get("high_severity_bins") or []:
            lines.append(f"| {_num(b['predicted'])} | {_num(b['observed'])} | {b['count']} |")
        lines += [
            "",
            "## Time to resolve",
            "",
            f"MAE of the p50 {_num(ttr.get('mae_hours'), 1)} h, median AE "
            f"{_num(ttr.get('median_ae_hours'), 1)} h, C-index {_num(ttr.get('c_index'))}, "
            f"p10-p90 coverage {_num(ttr.get('coverage_p10_p90'), 2)} (nominal 0.80), spread of "
            f"the p50 (std of log1p hours) {_num((ev.get('spread') or {}).get('p50_log_std'))}.",
            "",
        ]
    folds = metrics.get("folds")
    lines += ["## Forward folds", ""]
    if folds and folds.get("per_fold"):
        bar = folds.get("bar") or {}
        lines += [
            "Fold mean ± spread (folds won / folds), each fold trained on everything before "
            "its cut-off and tested on the week after it:",
            "",
            folds_table(folds["summary"]),
            "",
            f"Bar (beats every baseline on the fold mean; coverage 0.70-0.90 on every fold): "
            f"{'met' if bar.get('passed') else 'not met'} {bar.get('checks', {})}.",
            "",
            per_fold_table(folds["per_fold"]),
            "",
        ]
    else:
        lines += ["No forward folds were recorded for this version.", ""]
    return "\n".join(lines)


def write_card(
    folder: Path, name: str, version: int, metrics: dict[str, Any], status: str = ""
) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / card_name(name, version)
    path.write_text(card_markdown(name, version, metrics, status), encoding="utf-8")
    return path
