"""Run the real app in uvicorn subprocesses (one or several workers) for tests that need real processes."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def live_app(database_url: str, var_dir: Path, *, workers: int = 1, extra_env: dict | None = None,
             via_cli: bool = False) -> Iterator[str]:
    """Serve denhub on a free port until the block ends; yields the base URL. `via_cli`: started as an operator
    would, with `denhub serve` (its uvicorn options), instead of uvicorn's own command line."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ, "DENHUB_DATABASE_URL": database_url, "DENHUB_VAR_DIR": str(var_dir), "DENHUB_ENV": "test",
        "DENHUB_SECRET_KEY": "live-test-secret-key-long-enough-0123456789abcdef", "DENHUB_BASE_URL": base,
        **(extra_env or {}),
    }
    # A long keep-alive: on a loaded machine (tests run in parallel) a worker that stalls for the default 5 s
    # closes the idle connections of a test's client pool as the client reuses them (uvloop runs its timers
    # before reading), and the client sees a connection closed without a response.
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "denhub.app:app_factory", "--host", "127.0.0.1",
           "--port", str(port), "--workers", str(workers), "--log-level", "warning", "--no-access-log",
           "--timeout-keep-alive", "60", "--no-proxy-headers"]  # as `denhub serve`: DENHUB_TRUSTED_PROXIES decides
    if via_cli:
        cmd = [sys.executable, "-m", "denhub.cli", "serve", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers)]
    log = open(var_dir / f"uvicorn-{port}.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"server did not start: {(var_dir / f'uvicorn-{port}.log').read_text()[-2000:]}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
