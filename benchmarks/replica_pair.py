"""A private PostgreSQL primary and its streaming standby (initdb in a temporary folder, `pg_basebackup -R`, free
ports on loopback): for the replica benchmark and tests/test_replica.py. The machine's own server is never touched.
As root the clusters belong to `nobody` (initdb refuses root)."""

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path


def binaries() -> str | None:
    """The newest PostgreSQL server's bin folder (Debian's layout), or the one on PATH, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]))
    found = found or [p for p in [shutil.which("initdb")] if p]
    return os.path.dirname(found[-1]) if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Pair:
    """A primary and its streaming standby, private to the caller: in a temp dir, on free ports, sockets in the
    temp dir. `extra` adds server settings to both (e.g. shared_buffers)."""

    def __init__(self, bin_dir: str, extra: tuple[str, ...] = ()):
        self.bin = bin_dir
        self.extra = extra
        self.dir = tempfile.mkdtemp(prefix="replica-pair-")
        os.chmod(self.dir, 0o755)
        self.user = "nobody" if os.geteuid() == 0 else None
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
        self.primary_port, self.standby_port = free_port(), free_port()
        self.primary, self.standby = f"{self.dir}/primary", f"{self.dir}/standby"

    def run(self, *args):
        command = [f"{self.bin}/{args[0]}", *args[1:]]
        if self.user:
            command = ["runuser", "-u", self.user, "--", *command]
        subprocess.run(command, check=True, capture_output=True, cwd=self.dir, timeout=120)

    def options(self, port: int) -> str:
        settings = ["listen_addresses=127.0.0.1", "fsync=off", "full_page_writes=off", *self.extra]
        return f"-p {port} -k {self.dir} " + " ".join(f"-c {setting}" for setting in settings)

    def start(self):
        self.run("initdb", "-D", self.primary, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.run("pg_ctl", "-D", self.primary, "-o", self.options(self.primary_port), "-l", f"{self.dir}/p.log", "-w",
                 "start")  # fmt: skip
        self.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary_port), "-U", "postgres", "-D",
                 self.standby, "-R", "-X", "stream", "--no-sync")  # fmt: skip
        self.run("pg_ctl", "-D", self.standby, "-o", self.options(self.standby_port), "-l", f"{self.dir}/s.log", "-w",
                 "start")  # fmt: skip

    def url(self, port: int, name: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{port}/{name}"

    def primary_pid(self) -> int | None:
        """The primary's postmaster: its CPU and its reaped backends' are the primary's work (/proc)."""
        with contextlib.suppress(OSError, ValueError, IndexError):
            return int(Path(self.primary, "postmaster.pid").read_text().split()[0])
        return None

    def stop(self):
        for data in (self.standby, self.primary):
            with contextlib.suppress(Exception):
                self.run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.dir, ignore_errors=True)
