"""A PostgreSQL server of a test's own, to crash and restart without touching the shared one.

Built on pgserver's bundled binaries (the same embedded PostgreSQL `make run` uses), in a
temporary folder, listening on a Unix socket only.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pgserver
from pgserver._commands import pg_ctl  # type: ignore[attr-defined]


class ThrowawayPostgres:
    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="pg-throwaway-"))
        self.pgdata = self.root / "data"
        server = pgserver.get_server(self.pgdata, cleanup_mode=None)  # type: ignore[attr-defined]
        self.url: str = server.get_uri()
        self._user: str | None = server.system_user
        self._socket_dir = parse_qs(urlsplit(self.url).query)["host"][0]

    def crash(self) -> None:
        """Stop as a crash would: no checkpoint, clients cut off mid-statement."""
        pg_ctl(["-w", "-m", "immediate", "stop"], pgdata=self.pgdata, user=self._user, timeout=30)

    def start(self) -> None:
        pg_ctl(
            [
                "-w",
                "-o",
                '-h ""',
                "-o",
                f"-k {self._socket_dir}",
                "-l",
                str(self.pgdata / "log"),
                "start",
            ],
            pgdata=self.pgdata,
            user=self._user,
            timeout=60,
        )

    def destroy(self) -> None:
        # It may be stopped already (a test that failed between crash and start).
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pg_ctl(
                ["-w", "-m", "immediate", "stop"], pgdata=self.pgdata, user=self._user, timeout=30
            )
        shutil.rmtree(self.root, ignore_errors=True)
