"""Run every benchmark in turn (`python -m bench`) or the ones named (`python -m bench listing`).

Exits non-zero if any benchmark fails; the others still run. A new benchmark is a module in this package
with a `main()` function, added to BENCHMARKS below.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback

from bench.common import log

BENCHMARKS = [
    "listing",
    "flash_sale",
    "badges",
    "checkin",
    "judging",
    "export_stall",
]


def main(argv: list[str]) -> int:
    names = argv or BENCHMARKS
    unknown = [n for n in names if n not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark {', '.join(unknown)}; choose from: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        log(f"--- {name}")
        started = time.monotonic()
        try:
            importlib.import_module(f"bench.{name}").main()
        except KeyboardInterrupt:
            raise
        except BaseException:  # noqa: BLE001 - report every failure, including SystemExit, then go on
            traceback.print_exc()
            failed.append(name)
        log(f"--- {name} {'FAILED' if name in failed else 'done'} in {time.monotonic() - started:.0f} s")
    if failed:
        log(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
