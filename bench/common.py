"""The shared harness for benchmarks: wrk, free ports, a throwaway demo database, uvicorn servers, results.

A benchmark module uses it like this:

    port = free_port()
    with demo_database(base_url=f"http://127.0.0.1:{port}") as db:
        with serve("denhub.app:app_factory", env=db.env, port=port) as server:
            result = run_wrk(server.url + "/", connections=64, threads=2, duration=10).check()
    emit("listing_rps", result.rps, "req/s")
    record("listing_rps", result.rps, "req/s", command=bench_command("listing"), note="...")

Every server is started the same way (`python -m uvicorn --factory`, 1 worker, no access log, log level
warning) so that ratios between two servers compare the apps, not the server settings.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import fcntl
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS_MD = PROJECT_ROOT / "BENCHMARKS.md"
OUT_DIR = PROJECT_ROOT / "bench" / "out"  # git-ignored: server logs, the BENCHMARKS.md lock

HOST = "127.0.0.1"
TABLE_START = "<!-- bench:table:start (rows are written by bench/common.py record(); edit the text, not the rows) -->"
TABLE_END = "<!-- bench:table:end -->"
COLUMNS = ("measure", "value", "unit", "target", "date", "command", "note")


class BenchError(RuntimeError):
    """A benchmark could not produce a meaningful figure (setup failed, errors under load, wrong page)."""


def log(message: str) -> None:
    """Progress for people; stdout is kept for the `BENCH` lines."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def emit(name: str, value: float, unit: str) -> None:
    """Print one result in the machine-readable form `BENCH <name> <value> <unit>`."""
    print(f"BENCH {name} {format_value(value)} {unit}", flush=True)


def format_value(value: float) -> str:
    if isinstance(value, int) or (abs(value) >= 100 and float(value).is_integer()):
        return str(int(value))
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


# --- wrk -------------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    """The path to wrk, installing Debian's package first if it is missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if not shutil.which("apt-get"):
        raise BenchError("wrk is not installed and there is no apt-get; install wrk (https://github.com/wg/wrk)")
    prefix: list[str] = []
    if os.geteuid() != 0:
        if not shutil.which("sudo"):
            raise BenchError("wrk is not installed; run `apt-get install wrk` as root")
        prefix = ["sudo", "-n"]
    log("wrk not found; installing Debian's package")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        done = subprocess.run(prefix + command, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            raise BenchError(f"`{' '.join(prefix + command)}` failed:\n{done.stdout}{done.stderr}")
    found = shutil.which("wrk")
    if not found:
        raise BenchError("apt-get installed wrk but it is not on PATH")
    return found


# Appended to every wrk script. Each wrk thread has its own Lua state; `done` runs once at the end with
# the merged figures. A script given to run_wrk() may define its own `done`: it still runs, after ours.
_DONE_LUA = r"""
local __bench_user_done = done
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_WRK requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d status=%d timeout=%d "
    .. "p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f\n",
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
  if __bench_user_done then __bench_user_done(summary, latency, requests) end
end
"""


@dataclasses.dataclass(frozen=True)
class WrkResult:
    url: str
    command: str
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    non_2xx_3xx: int  # wrk counts every status >= 400 here
    socket_errors: int  # connect + read + write
    timeouts: int
    output: str  # wrk's full stdout, for scripts that print their own figures in `done`

    @property
    def summary(self) -> str:
        return (f"{self.rps:.0f} req/s, p50 {self.p50_ms:.2f} ms, p99 {self.p99_ms:.2f} ms, "
                f"{self.requests} requests, {self.non_2xx_3xx} non-2xx/3xx, {self.socket_errors} socket errors, "
                f"{self.timeouts} timeouts")

    def check(self, *, allow_status_errors: bool = False) -> "WrkResult":
        """Fail loudly when the figure would be meaningless: error pages, nothing done, broken sockets."""
        if self.requests == 0:
            raise BenchError(f"wrk completed no requests against {self.url}\n{self.output}")
        if self.non_2xx_3xx and not allow_status_errors:
            raise BenchError(f"{self.non_2xx_3xx} of {self.requests} responses from {self.url} were not 2xx/3xx; "
                             "a benchmark of an error page is meaningless")
        if self.socket_errors + self.timeouts > max(10, self.requests // 1000):
            raise BenchError(f"wrk saw {self.socket_errors} socket errors and {self.timeouts} timeouts "
                             f"against {self.url} ({self.requests} requests)")
        return self


def run_wrk(
    url: str,
    *,
    connections: int = 64,
    threads: int = 2,
    duration: float = 10,
    lua_script: str | Path | None = None,
    timeout: float = 5,
    headers: Sequence[str] = (),
) -> WrkResult:
    """Load `url` with wrk and return its figures; `lua_script` is Lua source or a path to a .lua file."""
    wrk = ensure_wrk()
    user_lua = ""
    if isinstance(lua_script, Path) or (isinstance(lua_script, str) and lua_script.endswith(".lua")
                                        and "\n" not in lua_script):
        user_lua = Path(lua_script).read_text(encoding="utf-8")
    elif lua_script:
        user_lua = str(lua_script)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-wrk-", delete=False) as script:
        script.write(user_lua + "\n" + _DONE_LUA)
    try:
        command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration:g}s", f"--timeout={timeout:g}s",
                   "-s", script.name]
        for header in headers:
            command += ["-H", header]
        command.append(url)
        done = subprocess.run(command, capture_output=True, text=True, timeout=duration + timeout + 60)
    finally:
        os.unlink(script.name)
    shown = " ".join(Path(c).name if i == 0 else c for i, c in enumerate(command))
    match = re.search(r"^BENCH_WRK (.*)$", done.stdout, re.MULTILINE)
    if done.returncode != 0 or not match:
        raise BenchError(f"`{shown}` failed (exit {done.returncode}):\n{done.stdout}{done.stderr}")
    f = {k: float(v) for k, v in (pair.split("=") for pair in match.group(1).split())}
    duration_s = f["duration_us"] / 1e6
    return WrkResult(
        url=url,
        command=shown,
        requests=int(f["requests"]),
        duration_s=duration_s,
        rps=f["requests"] / duration_s if duration_s else 0.0,
        p50_ms=f["p50_us"] / 1000,
        p90_ms=f["p90_us"] / 1000,
        p99_ms=f["p99_us"] / 1000,
        max_ms=f["max_us"] / 1000,
        non_2xx_3xx=int(f["status"]),
        socket_errors=int(f["connect"] + f["read"] + f["write"]),
        timeouts=int(f["timeout"]),
        output=done.stdout,
    )


def median_result(results: Sequence[WrkResult]) -> WrkResult:
    """The run with the median requests/sec (the upper median for an even count)."""
    ordered = sorted(results, key=lambda r: r.rps)
    return ordered[len(ordered) // 2]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# --- servers and databases -------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _denhub_command() -> list[str]:
    """The project's `denhub` script from the running virtualenv (or its module when there is none)."""
    for candidate in (Path(sys.executable).parent / "denhub", PROJECT_ROOT / ".venv" / "bin" / "denhub"):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate)]
    return [sys.executable, "-m", "denhub.cli"]


def clean_env(**overrides: str) -> dict[str, str]:
    """The current environment without any DENHUB_* variable, plus `overrides`.

    Inherited settings (a developer's DENHUB_DATABASE_URL, a test's PostgreSQL URL) must never leak
    into a benchmark.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("DENHUB_")}
    env.update(overrides)
    return env


@dataclasses.dataclass(frozen=True)
class DemoDatabase:
    directory: Path
    url: str
    env: dict[str, str]  # pass to serve() and to any `denhub` command that should use this database


@contextlib.contextmanager
def demo_database(*, base_url: str = "http://127.0.0.1:8000", demo: bool = True,
                  **settings: str) -> Iterator[DemoDatabase]:
    """A fresh SQLite database in a temporary directory: migrated, with the demo programme loaded.

    The environment is a production one (random secret key). Extra keyword arguments become DENHUB_*
    settings, e.g. `listing_cache_seconds="0"`.
    """
    with tempfile.TemporaryDirectory(prefix="denhub-bench-") as tmp:
        directory = Path(tmp)
        url = f"sqlite+aiosqlite:///{directory / 'denhub.sqlite3'}"
        env = clean_env(
            DENHUB_DATABASE_URL=url,
            DENHUB_VAR_DIR=str(directory / "var"),
            DENHUB_ENV="production",
            DENHUB_SECRET_KEY=secrets.token_urlsafe(36),  # 48 characters
            DENHUB_BASE_URL=base_url,
            **{f"DENHUB_{k.upper()}": str(v) for k, v in settings.items()},
        )
        steps = [["db", "upgrade"]] + ([["demo"]] if demo else [])
        for args in steps:
            done = subprocess.run(_denhub_command() + args, env=env, cwd=PROJECT_ROOT,
                                  capture_output=True, text=True, timeout=300)
            if done.returncode != 0:
                raise BenchError(f"`denhub {' '.join(args)}` failed (exit {done.returncode}):\n"
                                 f"{done.stdout}{done.stderr}")
        yield DemoDatabase(directory=directory, url=url, env=env)


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
        """CPU time (user + system) the server process has used so far; 0.0 where /proc is missing.

        CPU per request moves far less than requests/s when other programs load the machine: a useful
        second opinion on a noisy run.
        """
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

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


@dataclasses.dataclass(frozen=True)
class Page:
    status: int
    headers: dict[str, str]  # lower-case names
    body: str


def fetch(url: str, *, headers: dict[str, str] | None = None, timeout: float = 10) -> Page:
    """One GET with urllib. Redirects are not followed: a 3xx comes back as it is."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003
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


# --- BENCHMARKS.md ---------------------------------------------------------------------------------


def bench_command(name: str) -> str:
    """How this benchmark was started, as someone would type it."""
    settings = " ".join(f"{k}={v}" for k, v in sorted(os.environ.items())
                        if k.startswith("BENCH_") and k != "BENCH_POSTGRES_URL")
    command = "make bench" if os.environ.get("MAKELEVEL") else f".venv/bin/python -m bench {name}"
    return f"{settings} {command}" if settings else command


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ").strip()


def _split_row(line: str) -> list[str]:
    cells = re.split(r"(?<!\\)\|", line.strip().strip("|"))
    return [c.strip().replace("\\|", "|") for c in cells]


_DEFAULT_DOC = f"""# Benchmarks

Run them all with `make bench` (or one with `.venv/bin/python -m bench <name>`).
Rows are written by the benchmarks themselves; each keeps its latest figure.

{TABLE_START}
{TABLE_END}
"""


def record(name: str, value: float, unit: str, command: str, note: str = "", *, target: str = "",
           path: Path = BENCHMARKS_MD) -> None:
    """Write or update the row for `name` in the BENCHMARKS.md table, keeping every other row and all text.

    An empty `target` keeps the target already in the table.
    """
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with open(OUT_DIR / f"{path.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        text = path.read_text(encoding="utf-8") if path.exists() else _DEFAULT_DOC
        if TABLE_START not in text or TABLE_END not in text:
            text = text.rstrip("\n") + f"\n\n{TABLE_START}\n{TABLE_END}\n"
        before, rest = text.split(TABLE_START, 1)
        table_text, after = rest.split(TABLE_END, 1)
        rows: list[dict[str, str]] = []
        for line in table_text.strip().splitlines():
            cells = _split_row(line)
            if not line.strip().startswith("|") or cells[0] == COLUMNS[0] or set("".join(cells)) <= set("-: "):
                continue
            rows.append(dict(zip(COLUMNS, cells + [""] * (len(COLUMNS) - len(cells)))))
        new = {
            "measure": name, "value": format_value(value), "unit": unit, "target": target,
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "command": f"`{command}`",
            "note": note,
        }
        for row in rows:
            if row["measure"] == name:
                new["target"] = new["target"] or row.get("target", "")
                row.update(new)
                break
        else:
            rows.append(new)
        lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "|".join("---" for _ in COLUMNS) + "|"]
        lines += ["| " + " | ".join(_cell(row[c]) for c in COLUMNS) + " |" for row in rows]
        text = before + TABLE_START + "\n" + "\n".join(lines) + "\n" + TABLE_END + after
        tmp = path.with_suffix(".md.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
