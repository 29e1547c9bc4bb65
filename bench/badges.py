"""500 name badges with their QR codes, against the same sheets without the QR images, in the same run.

Measures
  badges_500_vs_text_only  seconds for 500 badges on 10-up A4 sheets with QR codes, rendered the way the app
                           and `denhub badges` do it (kernel.badges: chunks of sheets on worker processes,
                           merged), divided by seconds for the same sheets without QR images rendered the
                           straightforward way (one document, one process, through kernel.pdf);
                           target <= 1.5
  badges_500_peak_rss_mb   peak resident memory of the process tree rendering the 500 badges with QR codes:
                           the parent plus every worker and helper process, each at its own peak (VmHWM),
                           summed, so an upper bound; target <= 400
  badges_500_qr_vs_text_parallel  the same QR render over the text-only sheets rendered the same parallel way:
                           what the QR codes themselves cost (for information, no target)
  badges_500_cpu_vs_text_only     CPU seconds of the whole process tree for the QR render over CPU seconds of
                           the text-only one-document render: the work done, whatever else the machine runs
                           (the scheduler gives a session its share: two workers are only faster than one
                           process while cores are free)

Each figure comes from a fresh child process (`python -m bench.badges --child time|rss`), so that one
measurement's memory does not count in another's. The worker pool is started and its fonts loaded before
the clock starts (the app keeps its pool between jobs); every run uses new ticket codes, so no QR code comes
from a cache. Runs alternate (QR first, then text first, ...) and the ratio is the median of the pairs.

Settings (environment): BENCH_RUNS (5 pairs), BENCH_BADGES (500).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from bench.common import (
    PROJECT_ROOT,
    BenchError,
    bench_command,
    cpu_seconds,
    emit,
    log,
    median,
    process_tree,
    record,
)

TARGET_RATIO = 1.5
TARGET_RSS_MB = 400
FIRST = ["Eleanor", "সুমাইয়া", "Muhammad", "Ann", "Rahim", "Zoë", "Łukasz", "Priya", "মোহাম্মদ", "Grace",
         "Oluwaseun"]
LAST = ["Whitfield-Okafor", "বেগম", "Abdul-Kareem Chowdhury", "Lee", "Uddin", "Brontë", "Wiśniewski", "Patel",
        "আব্দুল করিম", "O'Neill", "Adeyemi"]
ORGANISATIONS = ["Handsworth Community Kitchen", "", "Soho House Museum", "বাংলা স্কুল বার্মিংহাম",
                 "Bike Kitchen CIC"]
EVENT_TITLE = "বাংলা মাস: Bangla Month festival night"


def _badges(n: int, run: int) -> list:
    from kernel.badges import BadgeData
    from ticketing.signing import generate_keypair, initials, sign_ticket

    private, _public = generate_keypair()
    badges = []
    for i in range(n):
        name = f"{FIRST[i % len(FIRST)]} {LAST[(i * 7) % len(LAST)]}"
        payload = sign_ticket(private, ticket_code=f"R{run:02d}B{i:06d}X{os.getpid()}", event_id=4242,
                              ticket_type_id=7, initials=initials(name))
        organisation = ORGANISATIONS[i % len(ORGANISATIONS)]
        badges.append(BadgeData(name=name, organisation=organisation, role="attendee",
                                event_title=EVENT_TITLE, qr_payload=payload, ticket_type_id=7))
    return badges


def _warm() -> None:
    from kernel.badges import render_badges

    render_badges(_badges(40, 99), "sheet", parallel=True, chunk_sheets=1)


def _timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and its live descendants) for fn()."""
    pids = process_tree(os.getpid())
    before = _cpu_seconds(pids)
    started = time.perf_counter()
    fn()
    wall = time.perf_counter() - started
    after = _cpu_seconds(pids)
    return wall, sum(after[pid] - before.get(pid, 0.0) for pid in after)


def _cpu_seconds(pids: set[int]) -> dict[int, float]:
    """{pid: CPU seconds so far} for those of `pids` still running."""
    return {pid: seconds for pid in pids if (seconds := cpu_seconds(pid)) is not None}


def _child_time(n: int, runs: int) -> dict:
    import io

    from pypdf import PdfReader

    from kernel.badges import render_badges

    _warm()
    render_badges(_badges(20, 98), "sheet", with_qr=False, parallel=False)  # this process's renderer, too
    pairs = []
    for run in range(runs):
        badges = _badges(n, run)
        result = {}

        def qr(badges=badges, result=result):
            pdf = render_badges(badges, "sheet", title="Badges")
            result["pages"] = len(PdfReader(io.BytesIO(pdf)).pages)

        def text(badges=badges):
            render_badges(badges, "sheet", with_qr=False, parallel=False)

        def text_parallel(badges=badges):
            render_badges(badges, "sheet", with_qr=False, parallel=True)

        order = [("qr", qr), ("text", text)] if run % 2 == 0 else [("text", text), ("qr", qr)]
        times, cpu = {}, {}
        for name, fn in [*order, ("text_parallel", text_parallel)]:
            times[name], cpu[name] = _timed(fn)
        if result["pages"] != -(-n // 10):
            raise BenchError(f"{n} badges came out on {result['pages']} pages")
        pairs.append({**times, **{f"cpu_{name}": value for name, value in cpu.items()}})
        print(f"bench: run {run + 1}/{runs}: QR parallel {times['qr']:.2f} s ({cpu['qr']:.2f} s CPU), "
              f"text one document {times['text']:.2f} s ({cpu['text']:.2f} s CPU), text parallel "
              f"{times['text_parallel']:.2f} s ({cpu['text_parallel']:.2f} s CPU), load average "
              f"{os.getloadavg()[0]:.1f}", file=sys.stderr, flush=True)
    return {"pairs": pairs, "cpus": os.cpu_count()}


def _tree_peak_kb(root: int) -> tuple[int, int]:
    """(sum of VmHWM over `root` and its descendants, processes counted), from /proc."""
    tree = process_tree(root)
    total = 0
    for pid in tree:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total, len(tree)


def _child_rss(n: int) -> dict:
    import resource

    from kernel.badges import render_badges

    _warm()
    badges = _badges(n, 0)
    render_badges(badges, "sheet", title="Badges")
    total_kb, processes = _tree_peak_kb(os.getpid())
    if total_kb == 0:  # no /proc: the largest single process instead (an under-estimate)
        total_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                       resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return {"peak_kb": total_kb, "processes": processes}


def _run_child(mode: str, n: int, runs: int) -> dict:
    done = subprocess.run([sys.executable, "-m", "bench.badges", "--child", mode, str(n), str(runs)],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=3600, check=False)
    sys.stderr.write("".join(line + "\n" for line in done.stderr.splitlines() if line.startswith("bench:")))
    if done.returncode != 0:
        raise BenchError(f"bench.badges --child {mode} failed (exit {done.returncode}):\n"
                         f"{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    n = int(os.environ.get("BENCH_BADGES") or 500)
    runs = int(os.environ.get("BENCH_RUNS") or 5)
    log(f"rendering {n} badges, {runs} alternated pairs (QR parallel vs text-only one document)")
    timing = _run_child("time", n, runs)
    pairs = timing["pairs"]
    ratio = median([p["qr"] / p["text"] for p in pairs])
    same_path = median([p["qr"] / p["text_parallel"] for p in pairs])
    cpu_ratio = median([p["cpu_qr"] / p["cpu_text"] for p in pairs])
    qr_s, text_s = median([p["qr"] for p in pairs]), median([p["text"] for p in pairs])
    log("measuring peak memory in a fresh process")
    rss = _run_child("rss", n, 1)
    peak_mb = rss["peak_kb"] / 1024

    emit(f"badges_{n}_vs_text_only", ratio, "ratio")
    emit(f"badges_{n}_peak_rss_mb", peak_mb, "MB")
    emit(f"badges_{n}_qr_vs_text_parallel", same_path, "ratio")
    emit(f"badges_{n}_cpu_vs_text_only", cpu_ratio, "ratio")

    command = bench_command("badges")
    where = f"{timing['cpus']} CPUs, load average {os.getloadavg()[0]:.1f}"
    record(f"badges_{n}_vs_text_only", ratio, "ratio", command,
           f"median of {runs} pairs; {n} badges on 10-up A4 sheets: with QR codes (PNG, parallel chunks of "
           f"3 sheets) {qr_s:.2f} s, without QR images as one document {text_s:.2f} s; {where}",
           target=f"<= {TARGET_RATIO}")
    record(f"badges_{n}_peak_rss_mb", peak_mb, "MB", command,
           f"sum of VmHWM over the {rss['processes']} processes of the tree (parent, workers, forkserver, "
           f"resource tracker) rendering {n} badges with QR codes; an upper bound",
           target=f"<= {TARGET_RSS_MB}")
    record(f"badges_{n}_qr_vs_text_parallel", same_path, "ratio", command,
           f"median of {runs} pairs; the QR render over text-only sheets rendered the same parallel way: "
           "what the QR codes cost on the production path")
    record(f"badges_{n}_cpu_vs_text_only", cpu_ratio, "ratio", command,
           f"median of {runs} pairs; CPU seconds of the process tree (parent and workers) for the QR render "
           f"over CPU seconds of the text-only one-document render; {where}")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--child":
        mode, count = sys.argv[2], int(sys.argv[3])
        result = _child_time(count, int(sys.argv[4])) if mode == "time" else _child_rss(count)
        print(json.dumps(result))
    else:
        main()
