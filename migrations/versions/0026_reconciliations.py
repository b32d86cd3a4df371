"""reconciliations: a place's books agreed with its bank statement through a day

A reconciliation is a leaf of its own in the group's log (kind "reconciliation", leaf
version 7, ledger.canonical); ``reconciliations`` holds what that leaf states (the place,
the day, the closing balance, the number of statement lines, the statement file's SHA-256)
and the statement it was closed against, and is append-only like entries. A closed
reconciliation is never reopened. ``places.reconciled_through``: the day of the place's
last reconciliation (NULL: never reconciled), read with the place under the append lock, so
an entry dated into a reconciled period is refused without another query.

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE = "reconciliations"


def upgrade() -> None:
    # Plain ADD COLUMN: nullable, no table rebuild.
    op.add_column("places", sa.Column("reconciled_through", sa.Date(), nullable=True))
    op.create_table(
        TABLE,
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("group_id", BIG_ID, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("place_id", BIG_ID, nullable=False),
        sa.Column("through", sa.Date(), nullable=False),
        sa.Column("closing_balance", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("lines", sa.BigInteger(), nullable=False),
        sa.Column("statement_id", BIG_ID, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("recorded_by", BIG_ID, nullable=True),
        sa.Column("recorded_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_reconciliations_group_id_groups")
        ),
        sa.ForeignKeyConstraint(
            ["place_id"], ["places.id"], name=op.f("fk_reconciliations_place_id_places")
        ),
        sa.ForeignKeyConstraint(
            ["statement_id"],
            ["bank_statements.id"],
            name=op.f("fk_reconciliations_statement_id_bank_statements"),
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_reconciliations_recorded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reconciliations")),
        sa.UniqueConstraint("group_id", "seq", name=op.f("uq_reconciliations_group_id_seq")),
        sa.UniqueConstraint(
            "place_id", "through", name=op.f("uq_reconciliations_place_id_through")
        ),
    )
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {TABLE}_refuse_{action.lower()} BEFORE {action} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{TABLE} are append-only: {action} is refused'); END"
            )
    else:
        op.execute(
            f"CREATE TRIGGER {TABLE}_refuse_change BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION commonpurse_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_refuse_truncate BEFORE TRUNCATE ON {TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION commonpurse_refuse_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_refuse_{action}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_refuse_change ON {TABLE}")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_refuse_truncate ON {TABLE}")
    op.drop_table(TABLE)
    # Not batch mode: SQLite 3.35+ drops a plain column in place.
    op.execute("ALTER TABLE places DROP COLUMN reconciled_through")
