"""statement withdrawals: an import taken back stays on record

``statement_withdrawals``: one row each time a steward withdraws a place's latest import
(the wrong file, or the wrong place) before any of its lines was matched or reconciled: the
import's number, the file's SHA-256, its period and counts, who imported it and when, who
withdrew it and when. The import's row and the lines it brought are deleted.
Append-only: a trigger refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL). Nothing in
the log changes.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07 04:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE = "statement_withdrawals"


def _fk(column: str, referred: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{referred}.id"], name=op.f(f"fk_{TABLE}_{column}_{referred}")
    )


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("group_id", BIG_ID, nullable=False),
        sa.Column("place_id", BIG_ID, nullable=False),
        sa.Column("statement_id", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("format", sa.String(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.Column("new_lines", sa.Integer(), nullable=False),
        sa.Column("imported_by", BIG_ID, nullable=True),
        sa.Column("imported_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("withdrawn_by", BIG_ID, nullable=True),
        sa.Column("withdrawn_at", DateTimeUTC(timezone=True), nullable=False),
        _fk("group_id", "groups"),
        _fk("place_id", "places"),
        _fk("imported_by", "users"),
        _fk("withdrawn_by", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
    )
    op.create_index(op.f(f"ix_{TABLE}_place_id"), TABLE, ["place_id"])
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
    op.drop_index(op.f(f"ix_{TABLE}_place_id"), table_name=TABLE)
    op.drop_table(TABLE)
