"""bank statements: a place's imported statements, their lines, and matches with entries

``statement_settings``: per place, the saved CSV mapping and the matching window.
``bank_statements``: one row per import (the file is kept in the file store under its
SHA-256, never in the database). ``bank_lines``: each booking once per place (unique
fingerprint), whatever files carried it. ``bank_matches`` with ``bank_match_lines`` and
``bank_match_entries``: what stewards confirmed is the same money (a line or an entry is in
one match at most). ``rejected_suggestions``: entries a steward said are not a line.
Nothing in the log changes.

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 05:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(table: str, column: str, referred: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{referred}.id"], name=op.f(f"fk_{table}_{column}_{referred}")
    )


def upgrade() -> None:
    op.create_table(
        "statement_settings",
        sa.Column("place_id", BIG_ID, nullable=False),
        sa.Column("group_id", BIG_ID, nullable=False),
        sa.Column("csv_mapping", sa.Text(), nullable=True),
        sa.Column("match_window_days", sa.Integer(), nullable=True),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        _fk("statement_settings", "place_id", "places"),
        _fk("statement_settings", "group_id", "groups"),
        sa.PrimaryKeyConstraint("place_id", name=op.f("pk_statement_settings")),
    )
    op.create_table(
        "bank_statements",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("group_id", BIG_ID, nullable=False),
        sa.Column("place_id", BIG_ID, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("variant", sa.String(length=40), nullable=True),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("opening_on", sa.Date(), nullable=True),
        sa.Column("opening", sa.BigInteger(), nullable=True),
        sa.Column("closing_on", sa.Date(), nullable=True),
        sa.Column("closing", sa.BigInteger(), nullable=True),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("new_lines", sa.Integer(), nullable=False),
        sa.Column("imported_by", BIG_ID, nullable=True),
        sa.Column("imported_at", DateTimeUTC(timezone=True), nullable=False),
        _fk("bank_statements", "group_id", "groups"),
        _fk("bank_statements", "place_id", "places"),
        _fk("bank_statements", "imported_by", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_statements")),
    )
    op.create_index("ix_bank_statements_place", "bank_statements", ["place_id", "id"])
    op.create_table(
        "bank_lines",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("group_id", BIG_ID, nullable=False),
        sa.Column("place_id", BIG_ID, nullable=False),
        sa.Column("statement_id", BIG_ID, nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("value_on", sa.Date(), nullable=True),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("counterparty", sa.Text(), nullable=True),
        sa.Column("reference", sa.Text(), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=200), nullable=True),
        _fk("bank_lines", "group_id", "groups"),
        _fk("bank_lines", "place_id", "places"),
        _fk("bank_lines", "statement_id", "bank_statements"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_lines")),
        sa.UniqueConstraint(
            "place_id", "fingerprint", name=op.f("uq_bank_lines_place_id_fingerprint")
        ),
    )
    op.create_index("ix_bank_lines_place_day", "bank_lines", ["place_id", "booked_on"])
    op.create_table(
        "bank_matches",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("group_id", BIG_ID, nullable=False),
        sa.Column("place_id", BIG_ID, nullable=False),
        sa.Column("confirmed_by", BIG_ID, nullable=True),
        sa.Column("confirmed_at", DateTimeUTC(timezone=True), nullable=False),
        _fk("bank_matches", "group_id", "groups"),
        _fk("bank_matches", "place_id", "places"),
        _fk("bank_matches", "confirmed_by", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_matches")),
    )
    op.create_table(
        "bank_match_lines",
        sa.Column("line_id", BIG_ID, nullable=False),
        sa.Column("match_id", BIG_ID, nullable=False),
        _fk("bank_match_lines", "line_id", "bank_lines"),
        _fk("bank_match_lines", "match_id", "bank_matches"),
        sa.PrimaryKeyConstraint("line_id", name=op.f("pk_bank_match_lines")),
    )
    op.create_index(
        op.f("ix_bank_match_lines_match_id"), "bank_match_lines", ["match_id"]
    )
    op.create_table(
        "bank_match_entries",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("match_id", BIG_ID, nullable=False),
        sa.Column("group_id", BIG_ID, nullable=False),
        sa.Column("entry_seq", sa.BigInteger(), nullable=False),
        _fk("bank_match_entries", "match_id", "bank_matches"),
        _fk("bank_match_entries", "group_id", "groups"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bank_match_entries")),
        sa.UniqueConstraint(
            "group_id", "entry_seq", name=op.f("uq_bank_match_entries_group_id_entry_seq")
        ),
    )
    op.create_index(
        op.f("ix_bank_match_entries_match_id"), "bank_match_entries", ["match_id"]
    )
    op.create_table(
        "rejected_suggestions",
        sa.Column("line_id", BIG_ID, nullable=False),
        sa.Column("entry_seq", sa.BigInteger(), nullable=False),
        sa.Column("rejected_by", BIG_ID, nullable=True),
        sa.Column("rejected_at", DateTimeUTC(timezone=True), nullable=False),
        _fk("rejected_suggestions", "line_id", "bank_lines"),
        _fk("rejected_suggestions", "rejected_by", "users"),
        sa.PrimaryKeyConstraint("line_id", "entry_seq", name=op.f("pk_rejected_suggestions")),
    )


def downgrade() -> None:
    op.drop_table("rejected_suggestions")
    op.drop_index(op.f("ix_bank_match_entries_match_id"), table_name="bank_match_entries")
    op.drop_table("bank_match_entries")
    op.drop_index(op.f("ix_bank_match_lines_match_id"), table_name="bank_match_lines")
    op.drop_table("bank_match_lines")
    op.drop_table("bank_matches")
    op.drop_index("ix_bank_lines_place_day", table_name="bank_lines")
    op.drop_table("bank_lines")
    op.drop_index("ix_bank_statements_place", table_name="bank_statements")
    op.drop_table("bank_statements")
    op.drop_table("statement_settings")
