"""A throwaway PostgreSQL cluster for the notifier's tests: initdb + pg_ctl in a temporary
folder, on 127.0.0.1 and a free port, one per session; a fresh database per test.

Skips with the reason when Debian's `postgresql` package is absent (.ci/run installs it). As
root, the server runs as the `postgres` user (initdb refuses root).
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.procs import free_port

BIN_DIRS = [Path(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)]
USER, PASSWORD = "inferwatch", "s3cr3t-pw"  # trust auth: the password only tests redaction
_names = itertools.count()


def _binary(name: str) -> str | None:
    for d in BIN_DIRS:
        if (d / name).exists():
            return str(d / name)
    return shutil.which(name)


@dataclass
class PgServer:
    data: Path
    port: int
    pg_ctl: str
    as_user: list[str]

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://{USER}:{PASSWORD}@127.0.0.1:{self.port}/{db}"

    def ctl(self, *args: str, timeout: float = 60) -> None:
        subprocess.run([*self.as_user, self.pg_ctl, "-D", str(self.data), "-w", *args],
                       check=True, timeout=timeout, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        self.ctl("stop", "-m", "fast")

    def start(self) -> None:
        self.ctl("start", "-l", str(self.data / "log"))

    def sql(self, statement: str, db: str = "postgres") -> list[tuple]:
        import psycopg

        with psycopg.connect(self.url(db), autocommit=True, connect_timeout=5) as conn:
            cur = conn.execute(statement)
            return cur.fetchall() if cur.description else []

    def new_database(self) -> str:
        name = f"t{os.getpid()}_{next(_names)}"
        self.sql(f"CREATE DATABASE {name}")
        return self.url(name)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    initdb, pg_ctl = _binary("initdb"), _binary("pg_ctl")
    if initdb is None or pg_ctl is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) not installed: Debian's postgresql "
                    "package; .ci/run installs it")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg not installed (pip install 'psycopg[binary,pool]')")
    # not under pytest's temporary root: that is private to the user running the tests
    root = Path(tempfile.mkdtemp(prefix="inferwatch-pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        as_user = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
    data = root / "data"
    subprocess.run([*as_user, initdb, "-D", str(data), "-U", USER, "--auth=trust", "-E", "UTF8",
                    "--no-sync"], check=True, timeout=120, stdout=subprocess.DEVNULL)
    port = free_port()
    with open(data / "postgresql.conf", "a", encoding="utf-8") as conf:
        conf.write(f"\nport = {port}\nlisten_addresses = '127.0.0.1'\nfsync = off\n"
                   f"unix_socket_directories = '{root}'\nmax_connections = 200\n"
                   "synchronous_commit = off\nfull_page_writes = off\n")
    server = PgServer(data, port, pg_ctl, as_user)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    """A fresh database on the session's server."""
    return pg_server.new_database()
