"""``bank``: reading a 50,000-line bank statement CSV against the ``csv`` module alone.

A CSV statement of 50,000 lines (``--quick``: 10,000) is generated the way a European bank
exports one: UTF-8, semicolons, dates as ``dd.mm.yyyy``, amounts with a decimal comma and
``.`` between thousands, money in positive and out negative, a running balance, names with
accents, a reference and a purpose, a year of days. Then, alternating, in this process:

- **baseline**: the file's bytes decoded and split into rows by the standard library's
  ``csv.reader`` (``list(...)``): the least any CSV import has to do;
- **parse**: ``ledger.statements.parse_statement`` with the file's mapping: decoding, rows,
  dates, amounts to minor units, the running balance checked line by line, texts cleaned,
  and every line's fingerprint (SHA-256): the whole ``Statement``.

Before the rounds the objects the process already holds are frozen out of the garbage
collector's sight (``gc.freeze``): ``python -m bench`` imports the whole app, and rescanning
it would slow whichever pass allocates more containers (the baseline's 50,000 row lists).

Figures: CPU time of each (best of the rounds; process CPU time is not inflated by other
work on a shared machine the way wall time is), microseconds per line, and the ratio.
Target: parsing within 5x of the baseline. The whole import (the lines stored in a
database too) is ``bench import``'s to measure, matching lines with entries
``bench matching``'s.
"""

from __future__ import annotations

import csv
import gc
import io
import random
import time
from datetime import date, timedelta

from bench.common import Result, progress
from ledger.statements import CsvMapping, parse_statement

FULL_LINES = 50_000
QUICK_LINES = 10_000
ROUNDS = 5
TARGET = 5.0
MAPPING = CsvMapping(
    date="Buchungstag",
    date_format="%d.%m.%Y",
    value_date="Valuta",
    counterparty="Name",
    description=("Verwendungszweck",),
    reference="Referenz",
    amount="Betrag",
    balance="Saldo",
    currency="Währung",
    decimal_mark=",",
    thousands_separator=".",
    delimiter=";",
)
_NAMES = (
    "María López",
    "Jonas Weiß",
    "Zoë Ångström",
    "Berg Hausverwaltung GmbH",
    "Biomarkt Nord",
    "Amadou Diallo",
    "Łucja Nowak",
    "Stadtwerke",
)
_PURPOSES = ("Spende", "Donation November", "Rent relief flat 3B", "Groceries pantry", "Fee")


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    whole, fraction = divmod(abs(cents), 100)
    return f"{sign}{whole:,}".replace(",", ".") + f",{fraction:02d}"


def generate(lines: int, seed: int = 13) -> bytes:
    """A statement CSV of ``lines`` lines over a year, its balance never below zero."""
    rng = random.Random(seed)
    rows = ["Buchungstag;Valuta;Name;Verwendungszweck;Referenz;Betrag;Währung;Saldo"]
    balance = 1_000_000
    start = date(2026, 1, 1)
    for number in range(lines):
        day = start + timedelta(days=number * 365 // lines)
        amount = rng.choice((1, 1, -1)) * rng.randint(100, 60_000)
        if balance + amount < 0:
            amount = -amount
        balance += amount
        booked = day.strftime("%d.%m.%Y")
        purpose = f"{rng.choice(_PURPOSES)} {number % 97}"
        rows.append(
            f"{booked};{booked};{rng.choice(_NAMES)};{purpose};CV-{number:07d};"
            f"{_money(amount)};EUR;{_money(balance)}"
        )
    return ("\n".join(rows) + "\n").encode("utf-8")


def _baseline(data: bytes) -> int:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline=""), delimiter=";"))
    return len(rows) - 1


def _parse(data: bytes) -> int:
    return len(parse_statement(data, currency="EUR", mapping=MAPPING).lines)


def _cpu(function: object, data: bytes) -> tuple[float, float, int]:
    assert callable(function)
    wall, cpu = time.perf_counter(), time.process_time()
    count = function(data)
    return time.process_time() - cpu, time.perf_counter() - wall, count


def run(engine: str = "sqlite", quick: bool = False) -> Result:
    """``engine`` is ignored: parsing touches no database."""
    size = QUICK_LINES if quick else FULL_LINES
    result = Result("bank", "no db")
    data = generate(size)
    progress(f"generated a CSV statement of {size:,} lines ({len(data) / 1e6:.1f} MB)")
    _parse(data)  # warm-up: imports, regular expressions, caches
    # What the process already holds (``python -m bench`` imports the whole app) is moved out
    # of the collector's sight, so neither pass pays for rescanning objects not its own.
    gc.collect()
    gc.freeze()
    baseline_cpu: list[float] = []
    baseline_wall: list[float] = []
    parse_cpu: list[float] = []
    parse_wall: list[float] = []
    for _ in range(ROUNDS):
        cpu, wall, count = _cpu(_baseline, data)
        assert count == size
        baseline_cpu.append(cpu)
        baseline_wall.append(wall)
        cpu, wall, count = _cpu(_parse, data)
        assert count == size
        parse_cpu.append(cpu)
        parse_wall.append(wall)
    gc.unfreeze()
    best_baseline, best_parse = min(baseline_cpu), min(parse_cpu)
    result.figure("lines", f"{size:,}")
    result.figure(
        "baseline: csv.reader, CPU (best)",
        f"{best_baseline * 1000:.1f} ms, {best_baseline / size * 1e6:.2f} µs/line",
    )
    result.figure(
        "parse_statement, CPU (best)",
        f"{best_parse * 1000:.1f} ms, {best_parse / size * 1e6:.2f} µs/line",
    )
    result.figure(
        "wall (best): baseline, parse_statement, ratio",
        f"{min(baseline_wall) * 1000:.1f} ms, {min(parse_wall) * 1000:.1f} ms, "
        f"{min(parse_wall) / min(baseline_wall):.2f}x",
    )
    ratio = best_parse / best_baseline
    result.check("parse / csv.reader (CPU)", ratio, f"<= {TARGET:g}x", ratio <= TARGET)
    return result


if __name__ == "__main__":
    import sys

    run(quick="--quick" in sys.argv[1:])
