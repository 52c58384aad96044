"""The drop folder: files typed and loaded, bad ones refused naming file, column and row."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.platform import DROP_FILES, DropFolderError, read_drop_file, read_drop_folder
from pipelines.servicenow_export import ServiceNowExportError, read_export

SERVICES = next(s for s in DROP_FILES if s.name == "services")
DEPLOYS = next(s for s in DROP_FILES if s.name == "deploys")


def test_csv_and_json_files_are_typed(tmp_path: Path) -> None:
    (tmp_path / "services.csv").write_text(
        "service,team,tier,depends_on,owner_email\n"
        "checkout,payments,1,auth; db ,a@example.com\nauth,identity,2,,\n"
    )
    (tmp_path / "deploys.json").write_text(
        '[{"deploy_id": "D1", "service": "checkout", "deployed_at": "2025-01-07T10:00:00Z"}]'
    )
    frames = read_drop_folder(tmp_path)
    services = frames["services"]
    assert services is not None
    assert services["tier"].to_list() == [1, 2]
    assert services["depends_on"].to_list() == [["auth", "db"], []]
    assert "owner_email" in services.columns  # extra columns are kept
    deploys = frames["deploys"]
    assert (
        deploys is not None
        and str(deploys["deployed_at"].dtype) == "Datetime(time_unit='us', time_zone='UTC')"
    )
    assert frames["teams"] is None and frames["alerts"] is None


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("service,team\ncheckout,payments\n", "missing required column(s) tier"),
        (
            "service,team,tier\ncheckout,payments,high\n",
            "column tier has an invalid value 'high' on row 1",
        ),
        (
            "service,team,tier\ncheckout,payments,1\n,payments,2\n",
            "column service is empty on row 2",
        ),
    ],
)
def test_bad_files_are_refused_by_name(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "services.csv").write_text(content)
    with pytest.raises(DropFolderError) as caught:
        read_drop_file(tmp_path, SERVICES)
    assert str(caught.value) == f"services.csv: {message}"


def test_bad_timestamp_is_refused(tmp_path: Path) -> None:
    (tmp_path / "deploys.csv").write_text("deploy_id,service,deployed_at\nD1,checkout,yesterday\n")
    with pytest.raises(
        DropFolderError, match="deployed_at has an invalid value 'yesterday' on row 1"
    ):
        read_drop_file(tmp_path, DEPLOYS)


def test_servicenow_export_is_checked(tmp_path: Path) -> None:
    bad = tmp_path / "not_an_export.csv"
    bad.write_text("number,state\nINC1,New\n")
    with pytest.raises(ServiceNowExportError, match="missing incident_state"):
        read_export(bad)
