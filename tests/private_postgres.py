"""A PostgreSQL cluster of the test's own (initdb in a temporary folder, a free port on loopback), for tests that
crash or restart the database: the machine's server is shared and is never stopped or reconfigured."""

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import pytest


def binaries() -> Path | None:
    """The newest PostgreSQL server's bin folder (Debian's layout), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


class PrivateCluster:
    def __init__(self, bin_dir: Path, port: int):
        self.bin = bin_dir
        self.port = port
        self.folder = Path(tempfile.mkdtemp(prefix="pg-private-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        # initdb refuses root: as root (CI) the cluster belongs to the postgres user.
        self.run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.run_as:
            shutil.chown(self.folder, "postgres")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def command(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [*self.run_as, str(self.bin / tool), *args], capture_output=True, text=True, check=check, timeout=120
        )

    def init(self) -> None:
        self.command("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        settings = [
            f"port = {self.port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.folder}'",
            "max_connections = 40",
            "shared_buffers = 32MB",
            "fsync = on",
            "synchronous_commit = on",
        ]
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n".join(settings) + "\n")

    def start(self) -> None:
        self.command("pg_ctl", "start", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60")
        deadline = time.monotonic() + 30
        while True:
            try:
                psycopg.connect(self.url, connect_timeout=2).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def crash(self) -> None:
        """As a power cut looks to PostgreSQL: no shutdown checkpoint, what was not in the WAL on disk is gone."""
        self.command("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")

    def stop(self) -> None:
        self.command("pg_ctl", "stop", "-D", str(self.data), "-m", "fast", "-w", check=False)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def private_cluster(port: int) -> PrivateCluster:
    """A started cluster, or the test skipped with the reason."""
    bin_dir = binaries()
    if bin_dir is None or not (bin_dir / "initdb").exists():
        pytest.skip("os binários do servidor PostgreSQL (initdb, pg_ctl) não estão instalados")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        pytest.skip("initdb não roda como root e não há runuser para rodá-lo como postgres")
    cluster = PrivateCluster(bin_dir, port)
    try:
        cluster.init()
        cluster.start()
    except (subprocess.CalledProcessError, psycopg.OperationalError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        cluster.stop()
        cluster.remove()
        pytest.skip(f"não foi possível iniciar um PostgreSQL próprio: {detail[-300:]}")
    return cluster
