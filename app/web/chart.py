"""A fund's balance over time as a small server-rendered SVG, and its text alternative.

One fund per chart, so nothing depends on telling colours apart: a step line (the balance
holds until the next entry), a lightly shaded area under it, labelled axes, and a caption
that says in words what the line shows. A table of month-end balances goes with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from babel.dates import format_skeleton

from app.presenters.formatting import Formatter
from ledger.queries import BalancePoint

WIDTH, HEIGHT = 400, 190
MIN_DAYS = 7
LEFT, RIGHT, TOP, BOTTOM = 56, 392, 12, 160


@dataclass(frozen=True, slots=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True, slots=True)
class Chart:
    line: str  # SVG path of the step line
    area: str  # SVG path of the area under it
    y_ticks: list[Tick]
    x_ticks: list[Tick]
    zero_y: float
    summary: str
    months: list[tuple[str, str]]  # (month, balance at its end), newest last
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = RIGHT
    top: int = TOP
    bottom: int = BOTTOM


def _nice_step(span: int) -> int:
    """A round step (1, 2 or 5 times a power of ten) giving about four intervals."""
    raw = max(span / 4, 1)
    power = 1
    while power * 10 <= raw:
        power *= 10
    for multiple in (1, 2, 5, 10):
        if multiple * power >= raw:
            return multiple * power
    return 10 * power


def balance_chart(
    points: Sequence[BalancePoint],
    *,
    today: date,
    fmt: Formatter,
    currency: str,
    fund_name: str,
    complete: bool,
) -> Chart | None:
    """The chart of ``points`` (oldest first) up to ``today``; None without any entry."""
    if not points:
        return None

    def money(minor: int) -> str:
        return fmt.money(minor, currency)

    day = fmt.day
    start, end = points[0].on, max(today, points[-1].on)
    if complete and (end - start).days < MIN_DAYS:
        # Nothing moved before the first entry: a short history is drawn from a week back.
        start = end - timedelta(days=MIN_DAYS)
    span = max((end - start).days, 1)
    low = min(0, *(p.balance for p in points))
    high = max(0, *(p.balance for p in points))
    step = _nice_step(high - low)
    bottom_value = (low // step) * step
    top_value = -(-high // step) * step
    if top_value == bottom_value:
        top_value = bottom_value + step

    def x(day: date) -> float:
        return round(LEFT + (day - start).days / span * (RIGHT - LEFT), 1)

    def y(value: int) -> float:
        share = (value - bottom_value) / (top_value - bottom_value)
        return round(BOTTOM - share * (BOTTOM - TOP), 1)

    commands = [f"M{x(start)},{y(points[0].balance)}"]
    for point in points[1:]:
        commands.append(f"H{x(point.on)}V{y(point.balance)}")
    commands.append(f"H{RIGHT}")
    line = "".join(commands)
    zero_y = y(0)
    area = f"{line}V{zero_y}H{x(start)}Z"

    y_ticks = [
        Tick(y(value), fmt.money_short(value, currency))
        for value in range(bottom_value, top_value + 1, step)
    ]
    middle = start + (end - start) / 2
    x_ticks = [Tick(LEFT, day(start)), Tick((LEFT + RIGHT) / 2, day(middle)), Tick(RIGHT, day(end))]

    highest = max(points, key=lambda p: p.balance)
    lowest = min(points, key=lambda p: p.balance)
    t = fmt.translate  # the chart's words are in its reader's language, as its money
    values = {
        "fund": fund_name,
        "first": day(points[0].on),
        "last": day(end),
        "start": money(points[0].balance),
        "now": money(points[-1].balance),
        "highest": money(highest.balance),
        "highest_on": day(highest.on),
        "lowest": money(lowest.balance),
        "lowest_on": day(lowest.on),
        "n": len(points) - 1,
    }
    if complete:
        text = t(
            "Balance of %(fund)s since its first entry, from %(first)s to %(last)s: "
            "%(start)s at the start, %(now)s now; highest %(highest)s on %(highest_on)s, "
            "lowest %(lowest)s on %(lowest_on)s."
        )
    else:
        text = t(
            "Balance of %(fund)s over its last %(n)s entries, from %(first)s to %(last)s: "
            "%(start)s at the start, %(now)s now; highest %(highest)s on %(highest_on)s, "
            "lowest %(lowest)s on %(lowest_on)s."
        )
    summary = text % values
    months: dict[tuple[int, int], int] = {}
    for point in points:
        months[(point.on.year, point.on.month)] = point.balance
    month_rows = [
        (format_skeleton("yMMM", date(year, mon, 1), locale=fmt.locale), money(value))
        for (year, mon), value in months.items()
    ]
    return Chart(
        line=line,
        area=area,
        y_ticks=y_ticks,
        x_ticks=x_ticks,
        zero_y=zero_y,
        summary=summary,
        months=month_rows[-12:],
    )
