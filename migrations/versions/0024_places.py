"""places: where a group's money is held, beside what it is for

``places`` holds each group's places (a bank account, a cash box) with their kept balance;
every group gets its default place here, slug "bank" ("Bank account", in the group's
currency), holding what all its funds hold: every entry written before places is in it.
It may go below zero only where a fund of the group may (the sum of the funds could), so
every log written before keeps verifying. ``entries.place_id``: an entry's place (NULL,
as for every entry before this migration: the default place); ``to_place_id`` and ``moved``:
a move's second place and amount. No stored entry or leaf is rewritten.

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 04:50:00
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "places",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("group_id", BIG_ID, nullable=False),
        sa.Column("slug", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("allow_negative", sa.Boolean(), nullable=False),
        sa.Column("balance", sa.BigInteger(), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], name=op.f("fk_places_group_id_groups")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_places")),
        sa.UniqueConstraint("group_id", "slug", name=op.f("uq_places_group_id_slug")),
    )
    # Plain ADD COLUMN (no table rebuild): entries keep their append-only triggers. SQLite
    # takes a column's foreign key only written in the column's own clause.
    for column in ("place_id", "to_place_id"):
        name = op.f(f"fk_entries_{column}_places")
        if op.get_bind().dialect.name == "sqlite":
            op.execute(
                f"ALTER TABLE entries ADD COLUMN {column} INTEGER "
                f"CONSTRAINT {name} REFERENCES places (id)"
            )
        else:
            op.add_column("entries", sa.Column(column, BIG_ID, nullable=True))
            op.create_foreign_key(name, "entries", "places", [column], ["id"])
    op.add_column("entries", sa.Column("moved", sa.BigInteger(), nullable=True))
    # Every group's default place holds what its funds hold.
    op.execute(
        sa.text(
            "INSERT INTO places (group_id, slug, name, currency, is_default, allow_negative, "
            "balance, created_at) "
            "SELECT groups.id, 'bank', 'Bank account', groups.currency, :true, "
            "EXISTS (SELECT 1 FROM funds WHERE funds.group_id = groups.id "
            "AND funds.allow_negative = :true), "
            "COALESCE((SELECT SUM(funds.balance) FROM funds WHERE funds.group_id = groups.id), 0), "
            ":now FROM groups"
        ).bindparams(
            sa.bindparam("true", True, type_=sa.Boolean()),
            sa.bindparam("now", datetime.now(UTC), type_=DateTimeUTC(timezone=True)),
        )
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # A column with a foreign key cannot be dropped in place on SQLite: the table is
        # rebuilt, and its append-only triggers (which a rebuild drops) made again.
        with op.batch_alter_table("entries") as table:
            table.drop_column("moved")
            table.drop_column("to_place_id")
            table.drop_column("place_id")
        for action in ("UPDATE", "DELETE"):
            op.execute(f"DROP TRIGGER IF EXISTS entries_refuse_{action.lower()}")
            op.execute(
                f"CREATE TRIGGER entries_refuse_{action.lower()} BEFORE {action} ON entries "
                f"BEGIN SELECT RAISE(ABORT, 'entries are append-only: {action} is refused'); END"
            )
    else:
        op.drop_constraint(op.f("fk_entries_to_place_id_places"), "entries", type_="foreignkey")
        op.drop_constraint(op.f("fk_entries_place_id_places"), "entries", type_="foreignkey")
        op.drop_column("entries", "moved")
        op.drop_column("entries", "to_place_id")
        op.drop_column("entries", "place_id")
    op.drop_table("places")
