"""The served model in Dagster: training it from the warehouse, and checking its
predictions against what happened (calibration and drift). Assets in `assets.py`; the
computation in plain functions (`history.py`, `training.py`, `calibration.py`,
`calibration_report.py`)."""
