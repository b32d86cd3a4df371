"""The differences between two versions of a proposal: word by word, line by line, and
field by field, as the pages show them."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

from app.presenters.formatting import Formatter
from ledger.models import Fund
from proposals.models import ProposalVersion

# Lines of unchanged text shown around each change of a body.
DIFF_CONTEXT = 2
# Below this likeness two lines are shown as replaced whole, not word by word.
WORD_DIFF_LIKENESS = 0.4


@dataclass(frozen=True, slots=True)
class DiffPart:
    text: str
    changed: bool


@dataclass(frozen=True, slots=True)
class DiffLine:
    """One line of a body's diff: ``same``, ``removed``, ``added``, or a ``gap`` standing
    for ``skipped`` unchanged lines."""

    kind: str
    parts: list[DiffPart]
    skipped: int = 0


_WORD = re.compile(r"\s+|\w+|[^\w\s]")


def word_diff(before: str, after: str) -> tuple[list[DiffPart], list[DiffPart]]:
    """The two texts cut into words, each marked changed or not (for one line or a title)."""
    old, new = _WORD.findall(before), _WORD.findall(after)
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    if matcher.ratio() < WORD_DIFF_LIKENESS:
        return [DiffPart(before, True)], [DiffPart(after, True)]
    removed: list[DiffPart] = []
    added: list[DiffPart] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if i2 > i1:
            removed.append(DiffPart("".join(old[i1:i2]), tag != "equal"))
        if j2 > j1:
            added.append(DiffPart("".join(new[j1:j2]), tag != "equal"))
    return removed, added


def text_diff(before: str, after: str, *, context: int = DIFF_CONTEXT) -> list[DiffLine]:
    """Line by line, with the changed words of a changed line marked, and long unchanged
    stretches folded into gaps; empty when nothing changed."""
    old, new = before.splitlines(), after.splitlines()
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    lines: list[DiffLine] = []
    shown_to = 0  # old lines up to here are shown or folded already
    for group in matcher.get_grouped_opcodes(context):
        start = group[0][1]
        if start > shown_to:
            lines.append(DiffLine("gap", [], skipped=start - shown_to))
        for tag, i1, i2, j1, j2 in group:
            if tag == "equal":
                lines.extend(DiffLine("same", [DiffPart(line, False)]) for line in old[i1:i2])
                continue
            if tag == "replace" and i2 - i1 == j2 - j1:
                pairs = [word_diff(a, b) for a, b in zip(old[i1:i2], new[j1:j2], strict=True)]
                lines.extend(DiffLine("removed", removed) for removed, _ in pairs)
                lines.extend(DiffLine("added", added) for _, added in pairs)
                continue
            lines.extend(DiffLine("removed", [DiffPart(line, True)]) for line in old[i1:i2])
            lines.extend(DiffLine("added", [DiffPart(line, True)]) for line in new[j1:j2])
        shown_to = group[-1][2]
    if lines and shown_to < len(old):
        lines.append(DiffLine("gap", [], skipped=len(old) - shown_to))
    return lines


@dataclass(frozen=True, slots=True)
class FieldChange:
    """A field an amendment changed, before and after, as people read it."""

    label: str
    before: list[DiffPart]
    after: list[DiffPart]


def _money(fmt: Formatter, fund: Fund | None, amount: int | None) -> str:
    if fund is None or amount is None:
        return ""
    return fmt.money(amount, fund.currency)


def field_changes(
    before: ProposalVersion, after: ProposalVersion, fmt: Formatter
) -> list[FieldChange]:
    """What changed between two versions, apart from the body (which ``text_diff`` shows)."""
    t = fmt.translate  # the labels in the reader's language
    changes: list[FieldChange] = []
    if before.title != after.title:
        removed, added = word_diff(before.title, after.title)
        changes.append(FieldChange(t("Title"), removed, added))
    pairs = (
        (
            t("Amount"),
            _money(fmt, before.fund, before.amount),
            _money(fmt, after.fund, after.amount),
        ),
        (
            t("Fund"),
            before.fund.name if before.fund else "",
            after.fund.name if after.fund else "",
        ),
        (t("Paid to"), before.counterparty or "", after.counterparty or ""),
    )
    none = t("none")
    for label, old, new in pairs:
        if old != new:
            changes.append(
                FieldChange(label, [DiffPart(old or none, True)], [DiffPart(new or none, True)])
            )
    return changes
