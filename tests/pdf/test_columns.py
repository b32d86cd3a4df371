"""The statement's text grid: wrapping, widths and harmless member text (no database)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.documents.columns import FSI, PDI, Column, Grid, clean, text_width, wrap

GRID = Grid(
    [
        Column("#", 3, align_right=True),
        Column("Amount", 8, align_right=True),
        Column("Counterparty", 12, free_text=True),
        Column("Memo", 20, free_text=True),
    ]
)


def visible(line: str) -> str:
    return line.replace(FSI, "").replace(PDI, "")


@given(st.text(max_size=300), st.integers(min_value=1, max_value=40))
def test_wrapped_lines_never_exceed_the_column_and_keep_every_word(text: str, width: int) -> None:
    lines = wrap(clean(text), width)
    assert all(text_width(line) <= width or len(line) == 1 for line in lines)
    assert "".join("".join(lines).split()) == "".join(clean(text).split())


def test_a_word_longer_than_the_column_is_cut_onto_continuation_lines() -> None:
    assert wrap("short " + "x" * 25, 10) == ["short", "x" * 10, "x" * 10, "x" * 5]


def test_rows_keep_their_columns_whatever_the_memo() -> None:
    lines = GRID.row(["12", "+40.00", "R-17", "Rent support for March, paid to the landlord"])
    assert len(lines) == 3
    first = visible(lines[0])
    assert first.startswith(" 12    +40.00  R-17          Rent support for")
    for continuation in lines[1:]:
        assert visible(continuation).startswith(" " * (3 + 2 + 8 + 2 + 12 + 2))
    assert all(text_width(visible(line)) <= GRID.width for line in lines)


def test_free_text_is_isolated_so_right_to_left_text_cannot_reorder_other_columns() -> None:
    (line,) = GRID.row(["3", "-12.50", "R-2", "تبرع من الجيران"])
    assert f"{FSI}تبرع من الجيران{PDI}" in line
    assert f"{FSI}R-2{PDI}" in line
    assert line.index("-12.50") < line.index(FSI)


def test_control_and_bidi_override_characters_are_shown_not_obeyed() -> None:
    (line,) = GRID.row(["1", "1.00", "R-1", "one\ntwo\u202ethree\x07"])
    assert "\n" not in line
    assert "one two\ufffdthree\ufffd" in line
    assert "\u202e" not in line


def test_wide_characters_take_two_cells() -> None:
    assert text_width("家計") == 4
    assert text_width("e\u0301") == 1
    assert wrap("家計簿家計簿", 5) == ["家計", "簿家", "計簿"]


def test_the_heading_lines_up_with_the_rows() -> None:
    heading = GRID.heading()
    (row,) = GRID.row(["12", "+40.00", "R-17", "Rent"])
    assert heading == "  #    Amount  Counterparty  Memo"
    assert heading.index("Memo") == visible(row).index("Rent")
    assert heading.index("Counterparty") == visible(row).index("R-17")
