"""What every benchmark needs: its settings, progress lines, results (`BENCH` lines and the BENCHMARKS.md
table) and the CPU time of processes.

The rest of the harness, by concept:
  bench/wrk.py        running wrk and reading its figures (and the Lua helpers the scripts share)
  bench/servers.py    free ports, uvicorn servers, one-off requests, signing in as a browser does
  bench/databases.py  throwaway databases: SQLite with the demo programme, or a new PostgreSQL database
  bench/load.py       runs of wrk against servers side by side: warm-ups, alternated pairs, CPU per request

A benchmark module uses them like this:

    port = free_port()
    with demo_database(base_url=f"http://127.0.0.1:{port}") as db, \\
            serve("denhub.app:app_factory", env=db.env, port=port) as app, \\
            serve("bench.hello:app_factory", env=db.env) as hello:
        rounds = Rounds({"listing": Contender(app, get_load(app.url + "/", connections=64, threads=2)),
                         "hello": Contender(hello, get_load(hello.url + "/", connections=64, threads=2))})
        rounds.warm_up(3)
        rounds.alternate(runs=5, seconds=5)
    emit("listing_vs_hello", rounds.ratio("listing", "hello"), "ratio")
    record("listing_vs_hello", rounds.ratio("listing", "hello"), "ratio", command=bench_command("listing"),
           note="...")
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import re
import statistics
import sys
from collections.abc import Sequence
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


def setting(name: str, default: float) -> float:
    """The environment's BENCH_<name>, for a quick look with other values (the notes then say so)."""
    raw = os.environ.get(f"BENCH_{name}")
    return float(raw) if raw else default


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# --- processes -------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) process `pid` has used so far; None where /proc does not have it.

    CPU per request moves far less than requests/s when other programs load the machine: a useful
    second opinion on a noisy run.
    """
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(root: int) -> set[int]:
    """`root` and every process descended from it, from /proc."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid and child not in tree]
        tree.update(children)
        frontier += children
    return tree


def tree_cpu_seconds(root: int) -> float:
    """CPU time of `root` and its live descendants (uvicorn --workers forks them; so do badge workers)."""
    return sum(filter(None, (cpu_seconds(pid) for pid in process_tree(root))))


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


def _say_if_missed(name: str, value: float, target: str) -> None:
    bound = re.fullmatch(r"([<>]=)\s*([0-9.]+)", target.strip())
    if bound and (value > float(bound[2]) if bound[1] == "<=" else value < float(bound[2])):
        log(f"{name} {format_value(value)} misses the target {target}")


def record(name: str, value: float, unit: str, command: str, note: str = "", *, target: str = "",
           path: Path = BENCHMARKS_MD) -> None:
    """Write or update the row for `name` in the BENCHMARKS.md table, keeping every other row and all text.

    An empty `target` keeps the target already in the table. A figure that misses a target of the form
    "<= N" or ">= N" is said so on stderr.
    """
    _say_if_missed(name, value, target)
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
