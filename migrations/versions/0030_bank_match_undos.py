"""bank match undos: a line taken out of a confirmed match stays on record

``bank_match_undos``: one row each time a steward takes a bank line out of a confirmed match
(the wrong entry was confirmed), before a reconciliation closed over the line's day: the
entries the match named, who confirmed it and when, who took it back and when.
Append-only, like the log's tables: a trigger refuses UPDATE and DELETE (and TRUNCATE on
PostgreSQL). Nothing in the log changes.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07 04:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE = "bank_match_undos"


def _fk(column: str, referred: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{referred}.id"], name=op.f(f"fk_{TABLE}_{column}_{referred}")
    )


def upgrade() -> None:
    op.create_table(
        TABLE,
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("group_id", BIG_ID, nullable=False),
        sa.Column("line_id", BIG_ID, nullable=False),
        sa.Column("entries", sa.Text(), nullable=False),
        sa.Column("confirmed_by", BIG_ID, nullable=True),
        sa.Column("confirmed_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("undone_by", BIG_ID, nullable=True),
        sa.Column("undone_at", DateTimeUTC(timezone=True), nullable=False),
        _fk("group_id", "groups"),
        _fk("line_id", "bank_lines"),
        _fk("confirmed_by", "users"),
        _fk("undone_by", "users"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{TABLE}")),
    )
    op.create_index(op.f(f"ix_{TABLE}_line_id"), TABLE, ["line_id"])
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
    op.drop_index(op.f(f"ix_{TABLE}_line_id"), table_name=TABLE)
    op.drop_table(TABLE)
