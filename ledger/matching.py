"""Which ledger entries a bank line may be, and how sure: the pure rules of matching.

An entry of a place is suggested for a bank line of that place when its amount in the place
is the line's (same direction, same minor units) and its date lies within ``window`` days
of the line's booking date. Suggestions are ranked up when the bank's texts (reference and
description) carry the entry's number (its seq), the proposal number it pays under, or the
counterparty's pseudonym; then by the days between the dates; then oldest entry first.

A ``Matcher`` is built once from a place's candidate entries (sorted by date) and sweeps a
statement's lines in date order, so each line costs O(k) for the k entries of its amount
within its window, not O(n): a 50,000-line statement matched against a 50,000-entry place
stays linear.

A confirmed match joins lines and entries whose amounts add up (``check_match``): one line
may cover several entries and one entry several lines; a match is complete when the lines'
total is the entries' total, and its lines never exceed its entries.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Collection, Iterable, Sequence
from datetime import date

import msgspec

from ledger.errors import InvalidInput

DEFAULT_WINDOW_DAYS = 5
MAX_WINDOW_DAYS = 60
SUGGESTIONS = 3

# Why a suggestion ranks where it does; the weights decide the order.
NUMBER, PROPOSAL, PSEUDONYM = "entry number", "proposal number", "pseudonym"
WEIGHTS = {NUMBER: 4, PROPOSAL: 2, PSEUDONYM: 2}

# A number standing alone in a bank text ("#12", "proposal 12", "12"), not part of a longer
# code ("CV-2611-0002", "3B", "12.50").
_NUMBER = re.compile(r"(?<![\w.,/-])#?(\d{1,15})(?![\w.,/-]|[.,]\d)")


# Matching makes a few objects per line and per entry of a statement of up to 50,000 lines:
# as Structs that the garbage collector does not track (they hold no cycles), building them
# does not set off collections that rescan everything made before (bench matching).
class Candidate(msgspec.Struct, frozen=True, gc=False):
    """An entry as matching sees it: its signed amount in the place (money in positive)."""

    seq: int
    amount: int
    occurred_on: date
    proposal: int | None = None
    counterparty: str | None = None


class Suggestion(msgspec.Struct, frozen=True, gc=False):
    seq: int
    days: int  # between the entry's date and the line's booking date
    reasons: tuple[str, ...] = ()

    @property
    def score(self) -> int:
        return sum(WEIGHTS[reason] for reason in self.reasons)


class LineText(msgspec.Struct, frozen=True, gc=False):
    """What of a bank line matching reads: amount, date, and its texts lower-cased."""

    amount: int
    booked_on: date
    text: str = ""
    numbers: frozenset[int] = frozenset()

    @classmethod
    def of(cls, amount: int, booked_on: date, *texts: str | None) -> LineText:
        text = " ".join(t for t in texts if t).lower()
        numbers = frozenset(int(n) for n in _NUMBER.findall(text)) if text else frozenset()
        return cls(amount, booked_on, text, numbers)


def check_window(days: int) -> int:
    if not 0 <= days <= MAX_WINDOW_DAYS:
        raise InvalidInput(
            f"The matching window is from 0 to {MAX_WINDOW_DAYS} days.",
            field="match_window_days",
        )
    return days


def _carries(text: str, word: str) -> bool:
    """Whether ``text`` (lower case) holds ``word`` standing alone."""
    word = word.lower()
    start = text.find(word)
    while start >= 0:
        end = start + len(word)
        before = text[start - 1] if start else " "
        after = text[end] if end < len(text) else " "
        if not before.isalnum() and not after.isalnum():
            return True
        start = text.find(word, start + 1)
    return False


def reasons(line: LineText, candidate: Candidate) -> tuple[str, ...]:
    """What in the line's texts points to this entry."""
    found: list[str] = []
    if candidate.seq in line.numbers:
        found.append(NUMBER)
    if candidate.proposal is not None and candidate.proposal in line.numbers:
        found.append(PROPOSAL)
    if candidate.counterparty and _carries(line.text, candidate.counterparty):
        found.append(PSEUDONYM)
    return tuple(found)


class Matcher:
    """Suggestions for bank lines among a place's candidate entries.

    ``suggest_all`` sweeps the lines in date order over the entries in date order, keeping
    only the entries within the window of the current day, by amount: each entry enters
    and leaves the window once, so a statement of n lines against n entries costs O(n log n)
    for the two sorts and O(n + k) after, and what the sweep touches at any moment is a few
    days of entries, whatever the size of the place (bench matching)."""

    def __init__(self, candidates: Iterable[Candidate], window_days: int = DEFAULT_WINDOW_DAYS):
        self.window = window_days
        entries = sorted((c for c in candidates if c.amount), key=lambda c: (c.occurred_on, c.seq))
        self._entries = entries
        self._days = [entry.occurred_on.toordinal() for entry in entries]

    def suggest(
        self,
        line: LineText,
        *,
        rejected: Collection[int] = (),
        limit: int = SUGGESTIONS,
    ) -> tuple[Suggestion, ...]:
        """The best ``limit`` entries for ``line``, best first (none rejected for it)."""
        return self.suggest_all([line], [rejected], limit=limit)[0]

    def suggest_all(
        self,
        lines: Sequence[LineText],
        rejected: Sequence[Collection[int]] | None = None,
        *,
        limit: int = SUGGESTIONS,
    ) -> list[tuple[Suggestion, ...]]:
        """``suggest`` for each of ``lines`` (``rejected[i]``: the entries refused for
        ``lines[i]``), in the order of ``lines``."""
        found: list[tuple[Suggestion, ...]] = [()] * len(lines)
        entries, days, window = self._entries, self._days, self.window
        # The entries within the window of the current day, by amount, oldest first.
        near: dict[int, deque[int]] = {}
        entered = left = 0
        for index in sorted(range(len(lines)), key=lambda i: lines[i].booked_on):
            line = lines[index]
            day = line.booked_on.toordinal()
            while entered < len(entries) and days[entered] <= day + window:
                near.setdefault(entries[entered].amount, deque()).append(entered)
                entered += 1
            while left < entered and days[left] < day - window:
                # The oldest entry still near is the oldest of its amount.
                same = near[entries[left].amount]
                same.popleft()
                if not same:
                    del near[entries[left].amount]
                left += 1
            same_amount = near.get(line.amount)
            if not same_amount:
                continue
            refused = rejected[index] if rejected is not None else ()
            ranked = [
                Suggestion(entry.seq, abs(days[i] - day), reasons(line, entry))
                for i, entry in ((i, entries[i]) for i in same_amount)
                if entry.seq not in refused
            ]
            ranked.sort(key=lambda s: (-s.score, s.days, s.seq))
            found[index] = tuple(ranked[:limit])
        return found


def check_match(line_amounts: Sequence[int], entry_amounts: Sequence[int]) -> bool:
    """Whether lines may be matched with entries: all in one direction, and the lines add
    up to no more than the entries (more lines may come). True when they add up exactly
    (the match is complete). Raises InvalidInput naming ``entries`` otherwise."""
    if not entry_amounts:
        raise InvalidInput("Name at least one entry.", field="entries")
    if any(amount == 0 for amount in entry_amounts):
        raise InvalidInput(
            "An entry that moves no money in this place matches no bank line.", field="entries"
        )
    signs = {amount > 0 for amount in [*line_amounts, *entry_amounts]}
    if len(signs) > 1:
        raise InvalidInput(
            "Money in matches money in, and money out money out: the line and the entries "
            "go different ways.",
            field="entries",
        )
    lines, entries = abs(sum(line_amounts)), abs(sum(entry_amounts))
    if lines > entries:
        raise InvalidInput(
            "The entries add up to less than the bank lines: name every entry the money was for.",
            field="entries",
        )
    return lines == entries
