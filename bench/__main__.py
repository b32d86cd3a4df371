"""``python -m bench [NAME ...] [--engine sqlite|postgres] [--quick]``: run the benches.

Each bench prints its figures, the ratio to a baseline measured in the same run, and its
target with PASS or MISS. Benches only report: the exit status is 0 whatever they measure
(1 only when a bench could not run at all; the others still run and print).
"""

from __future__ import annotations

import argparse
import logging
import platform
import time
import traceback
from collections.abc import Callable

from bench import append, bank, bank_import, bundle, matching, pages, reads, statement, verify
from bench.common import ENGINES, Result, load_average

BENCHES: dict[str, Callable[[str, bool], Result]] = {
    "append": append.run,
    "verify": verify.run,
    "reads": reads.run,
    "pages": pages.run,
    "bundle": bundle.run,
    "statement": statement.run,
    "bank": bank.run,
    "import": bank_import.run,
    "matching": matching.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"benches to run: {', '.join(BENCHES)} (all)"
    )
    parser.add_argument("--engine", choices=ENGINES, default="sqlite")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smaller sizes (verify, reads and pages: 100,000 entries instead of 1M; "
        "bundle: 20,000 instead of 100,000; statement: 2,000 instead of 10,000; "
        "bank and import: 10,000 CSV lines instead of 50,000; matching: 1,000 and 10,000 "
        "lines instead of 5,000 and 50,000)",
    )
    args = parser.parse_args(argv)
    # The app logs every request httpx makes at INFO; that is not what is measured.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    unknown = [name for name in args.names if name not in BENCHES]
    if unknown:
        parser.error(f"unknown bench {', '.join(unknown)}; choose from {', '.join(BENCHES)}")
    names = args.names or list(BENCHES)
    print(
        f"Common Purse benches on {args.engine}{' (quick)' if args.quick else ''}; "
        f"Python {platform.python_version()}, {platform.machine()}",
        flush=True,
    )
    results = []
    failed: list[str] = []
    for name in names:
        print(f"\n{name} ({args.engine}; load average {load_average()})", flush=True)
        started = time.perf_counter()
        try:
            results.append(BENCHES[name](args.engine, args.quick))
        except Exception:  # a broken bench must not hide the others' figures
            traceback.print_exc()
            print(f"  {name}: FAILED (no figures)", flush=True)
            failed.append(name)
            continue
        print(
            f"  ({time.perf_counter() - started:.0f} s; load average now {load_average()})",
            flush=True,
        )
    print("\nSummary")
    for result in results:
        for label, ratio, target, met in result.checks:
            print(
                f"  {result.name:<9} {result.engine:<9} {label:<48} {ratio:6.2f}x "
                f"target {target:<8} {'PASS' if met else 'MISS'}"
            )
    for name in failed:
        print(f"  {name:<9} {args.engine:<9} FAILED: see the error above")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
