"""Child processes the commands and tests start (a worker, a server)."""

import subprocess


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    """Ask the process to end (SIGTERM, so it shuts down cleanly); kill it if it has not after `timeout` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
