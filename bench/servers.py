"""Servers under test: free ports, uvicorn in a subprocess, one-off requests, signing in as a browser does.

Every server is started the same way (`python -m uvicorn --factory`, 1 worker unless asked, no access log,
log level warning) so that ratios between two servers compare the apps, not the server settings.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from bench.common import HOST, OUT_DIR, PROJECT_ROOT, BenchError, cpu_seconds, tree_cpu_seconds


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def clean_env(**overrides: str) -> dict[str, str]:
    """The current environment without any DENHUB_* variable, plus `overrides`.

    Inherited settings (a developer's DENHUB_DATABASE_URL, a test's PostgreSQL URL) must never leak
    into a benchmark.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("DENHUB_")}
    env.update(overrides)
    return env


def _denhub_command() -> list[str]:
    """The project's `denhub` script from the running virtualenv (or its module when there is none)."""
    for candidate in (Path(sys.executable).parent / "denhub", PROJECT_ROOT / ".venv" / "bin" / "denhub"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    return [sys.executable, "-m", "denhub.cli"]


def denhub(args: list[str], *, env: dict[str, str]) -> None:
    """Run `denhub <args>` (a migration, the demo data) with `env`; a BenchError with its output if it fails."""
    done = subprocess.run(_denhub_command() + args, env=env, cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=300, check=False)
    if done.returncode != 0:
        raise BenchError(f"`denhub {' '.join(args)}` failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")


@dataclasses.dataclass(frozen=True)
class Server:
    app: str
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def cpu_seconds(self) -> float:
        """CPU time (user + system) the server process has used so far; 0.0 where /proc is missing."""
        return cpu_seconds(self.process.pid) or 0.0

    def tree_cpu_seconds(self) -> float:
        """CPU time of the server and its worker processes (uvicorn --workers forks them)."""
        return tree_cpu_seconds(self.process.pid)

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@contextlib.contextmanager
def serve(app: str, *, env: dict[str, str] | None = None, port: int | None = None, workers: int = 1,
          factory: bool = True, ready_path: str = "/", startup_timeout: float = 30) -> Iterator[Server]:
    """Run `uvicorn <app>` in a subprocess until the block ends; ready once `ready_path` answers at all."""
    port = port or free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--host", HOST, "--port", str(port),
               "--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    if factory:
        command.append("--factory")
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    log_path = OUT_DIR / f"server-{app.replace(':', '-').replace('.', '-')}-{port}.log"
    with open(log_path, "w", encoding="utf-8") as log_file:
        process = subprocess.Popen(command, env=env if env is not None else clean_env(), cwd=PROJECT_ROOT,
                                   stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(app=app, port=port, process=process, log_path=log_path)
    finished = False
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise BenchError(f"`{' '.join(command)}` exited with {process.returncode}:\n{server.log_text()}")
            try:
                with urllib.request.urlopen(server.url + ready_path, timeout=2):
                    break
            except urllib.error.HTTPError:
                break  # it answered: the server is up, whatever the page says
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                if time.monotonic() > deadline:
                    raise BenchError(f"{app} did not answer on {server.url} within {startup_timeout:g} s:\n"
                                     f"{server.log_text()}") from None
                time.sleep(0.1)
        yield server
        finished = True
    finally:
        _stop(process)
        if finished and not server.log_text().strip():
            log_path.unlink(missing_ok=True)  # keep only logs with something in them


# --- requests --------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Page:
    status: int
    headers: dict[str, str]  # lower-case names
    body: str


def fetch(url: str, *, headers: dict[str, str] | None = None, timeout: float = 10) -> Page:
    """One GET with urllib. Redirects are not followed: a 3xx comes back as it is."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with opener.open(request, timeout=timeout) as response:
            return Page(response.status, {k.lower(): v for k, v in response.headers.items()},
                        response.read().decode("utf-8", errors="replace"))
    except urllib.error.HTTPError as exc:
        return Page(exc.code, {k.lower(): v for k, v in exc.headers.items()},
                    exc.read().decode("utf-8", errors="replace"))


def sign_in(base: str, *, email: str, password: str, next_path: str) -> tuple[str, str]:
    """(Cookie header, HTML of `next_path`) for an account, through the login form as a phone signs in."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    login_page = opener.open(f"{base}/login", timeout=10).read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', login_page)
    if not csrf:
        raise BenchError("the login page has no CSRF token")
    form = urllib.parse.urlencode({"email": email, "password": password, "csrf_token": csrf.group(1),
                                   "next": next_path}).encode()
    response = opener.open(f"{base}/login", data=form, timeout=10)
    page = response.read().decode()
    if not response.url.endswith(next_path):
        raise BenchError(f"signing in did not open {next_path} (ended at {response.url})")
    return "; ".join(f"{c.name}={c.value}" for c in jar), page


def post_json(url: str, body: dict, *, cookie: str, csrf: str) -> dict:
    """One JSON POST as the app's scripts send it (X-CSRF-Token header, session cookie); the JSON answer."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={
        "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": csrf, "Cookie": cookie})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())
