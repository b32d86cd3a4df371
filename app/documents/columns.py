"""Rows of fixed-width columns as plain text, for the statement's monospaced bands.

WeasyPrint's cost follows the number of boxes it lays out, so long statements print rows as
lines of pre-formatted text rather than table cells (one line box per printed line instead of
seven cell boxes, each with its own line). This module lays those lines out: every column
gets a width in character cells, long text wraps inside its column onto continuation lines,
and words longer than a column are cut, so nothing ever runs past the page edge.

Member text is made harmless for a text grid: control characters and explicit bidi controls
become spaces or U+FFFD (a memo cannot break the grid with a newline, nor reverse what
follows it with an override), and each piece of free text is wrapped in a
Unicode bidi isolate (FSI ... PDI), so right-to-left text (Arabic, Hebrew) reads correctly in
its own column and can never reorder the neighbouring columns. The output is plain text: the
template escapes it.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

FSI = "\u2068"  # first strong isolate
PDI = "\u2069"  # pop directional isolate
_SPACES = {"\t", "\n", "\r", "\x0b", "\x0c", "\u2028", "\u2029", "\x85"}
# Explicit embeddings, overrides and isolates: member text may not reorder what is printed.
_BIDI_CONTROLS = {chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A))}


@dataclass(frozen=True, slots=True)
class Column:
    """A column of the grid: its heading, width in character cells and alignment.

    ``free_text`` columns hold member text: wrapped, cleaned and bidi-isolated (and always
    aligned left)."""

    heading: str
    width: int
    align_right: bool = False
    free_text: bool = False


def clean(text: str) -> str:
    """Member text for one logical line: whitespace controls become spaces; other control
    characters and explicit bidi controls (overrides, embeddings, isolates) become U+FFFD,
    shown but never obeyed."""
    out = []
    for char in text:
        if char in _SPACES:
            out.append(" ")
        elif char in _BIDI_CONTROLS or unicodedata.category(char) == "Cc":
            out.append("\ufffd")
        else:
            out.append(char)
    return "".join(out)


@cache
def cell_width(char: str) -> int:
    """Character cells a character takes in a monospaced font: 2 for wide East Asian
    characters, 0 for combining marks and invisible format characters, else 1."""
    if unicodedata.combining(char) or unicodedata.category(char) in ("Mn", "Me", "Cf"):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def text_width(text: str) -> int:
    if text.isascii():  # nearly every value: one cell per character
        return len(text)
    return sum(map(cell_width, text))


def wrap(text: str, width: int) -> list[str]:
    """Greedy word wrap to ``width`` cells; a word longer than a line is cut where it must."""
    if width < 1:
        raise ValueError("a column is at least one character wide")
    lines: list[str] = []
    line, used = "", 0
    for word in text.split():
        size = text_width(word)
        if line and used + 1 + size <= width:
            line, used = f"{line} {word}", used + 1 + size
            continue
        if line:
            lines.append(line)
            line, used = "", 0
        while size > width:
            head, head_size = _cut(word, width)
            lines.append(head)
            word, size = word[len(head) :], size - head_size
        line, used = word, size
    if line or not lines:
        lines.append(line)
    return lines


def _cut(word: str, width: int) -> tuple[str, int]:
    """The longest prefix of ``word`` that fits ``width`` cells (at least one character)."""
    used = 0
    for index, char in enumerate(word):
        size = cell_width(char)
        if used + size > width and index > 0:
            return word[:index], used
        used += size
    return word, used


def _pad(text: str, width: int, align_right: bool) -> str:
    gap = " " * max(0, width - text_width(text))
    return gap + text if align_right else text + gap


@dataclass(frozen=True, slots=True)
class Grid:
    """Columns separated by ``gap`` cells; lines carry no trailing blanks."""

    columns: Sequence[Column]
    gap: int = 2

    @property
    def width(self) -> int:
        return sum(c.width for c in self.columns) + self.gap * (len(self.columns) - 1)

    def heading(self) -> str:
        """The headings line (our own words: no isolates needed)."""
        return self._join([c.heading for c in self.columns], isolate=False)

    def row(self, values: Sequence[str]) -> list[str]:
        """One row as one or more printed lines (more when free text wraps)."""
        cells: list[list[str]] = []
        for column, value in zip(self.columns, values, strict=True):
            if column.free_text:
                cells.append(wrap(clean(value), column.width))
            else:
                cells.append([value])
        height = max(len(cell) for cell in cells)
        return [
            self._join([cell[i] if i < len(cell) else "" for cell in cells]) for i in range(height)
        ]

    def _join(self, values: Sequence[str], *, isolate: bool = True) -> str:
        out: list[str] = []
        at = 0  # the cell where the next visible character goes
        blank = 0  # blank cells owed before it
        for index, (column, value) in enumerate(zip(self.columns, values, strict=True)):
            if index:
                blank += self.gap
            size = text_width(value)
            padding = max(0, column.width - size)
            if column.align_right:
                blank += padding
            if value:
                out.append(" " * blank)
                # The isolate is invisible and takes no cell; the padding stays outside it.
                out.append(f"{FSI}{value}{PDI}" if isolate and column.free_text else value)
                at, blank = at + blank + size, 0
            if not column.align_right:
                blank += padding
        return "".join(out)


def fit_widths(
    headings: Sequence[str], values: Sequence[Sequence[str]], caps: Sequence[int | None]
) -> list[int]:
    """Per column, the widest of its heading and values, capped where a cap is given."""
    widths = [text_width(h) for h in headings]
    for row in values:
        for index, value in enumerate(row):
            widths[index] = max(widths[index], text_width(value))
    return [w if cap is None else min(w, cap) for w, cap in zip(widths, caps, strict=True)]
