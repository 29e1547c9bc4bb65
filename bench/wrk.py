"""wrk, the load generator: installing it, running it, reading its figures, and the Lua the scripts share.

Each wrk thread has its own Lua state. A script numbers its threads with THREADS_LUA (each gets `tid`,
1 upwards, and the main state keeps them in `threads`) and reports what its threads counted with
tally_lua(), read back with tally().
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.common import BenchError, log


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
        done = subprocess.run(prefix + command, env=env, capture_output=True, text=True, check=False)
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

THREADS_LUA = """
local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
"""


def lua_string(value: str) -> str:
    """`value` as a Lua string literal (a JSON string is one, for the ASCII text the scripts carry)."""
    return json.dumps(value)


def tally_lua(tag: str, counters: Sequence[str]) -> str:
    """A `done` that sums the thread globals `counters` over the threads and writes `<tag> name=N ...`."""
    return f"""
function done(summary, latency, requests)
  local parts = {{}}
  for _, name in ipairs({{{", ".join(lua_string(c) for c in counters)}}}) do
    local total = 0
    for _, thread in ipairs(threads) do total = total + thread:get(name) end
    parts[#parts + 1] = string.format("%s=%d", name, total)
  end
  io.write({lua_string(tag)} .. " " .. table.concat(parts, " ") .. "\\n")
end
"""


def tally(output: str, tag: str) -> dict[str, int]:
    """What tally_lua(tag, ...) wrote in wrk's output."""
    match = re.search(rf"^{re.escape(tag)} (.*)$", output, re.MULTILINE)
    if not match:
        raise BenchError(f"wrk did not report {tag}:\n{output}")
    return {k: int(v) for k, v in (pair.split("=") for pair in match.group(1).split())}


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

    def check(self, *, allow_status_errors: bool = False) -> WrkResult:
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
        done = subprocess.run(command, capture_output=True, text=True, timeout=duration + timeout + 60,
                              check=False)
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
