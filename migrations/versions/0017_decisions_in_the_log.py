"""decisions in the log: a payment names its decision leaf; closed rounds are final

Closing a round appends a decision leaf to the group's log (leaf version 3, see
ledger.decisions), and a payment written since names the decision leaf it is made under
(entries.decided_in). Entries written before keep their leaves.

A closed round is the record of a decision: the database refuses UPDATE and DELETE of a
round once it is closed (closing is the one update an open round gets). Responses were
append-only already (migration 0001). A response added to a closed round is refused by the
service, not by a trigger: a logical restore inserts the rounds before their responses.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 12:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SQLITE_TRIGGERS = {
    "rounds_refuse_update_closed": (
        "BEFORE UPDATE ON rounds WHEN OLD.closed_at IS NOT NULL "
        "BEGIN SELECT RAISE(ABORT, 'closed rounds are final: UPDATE is refused'); END"
    ),
    "rounds_refuse_delete_closed": (
        "BEFORE DELETE ON rounds WHEN OLD.closed_at IS NOT NULL "
        "BEGIN SELECT RAISE(ABORT, 'closed rounds are final: DELETE is refused'); END"
    ),
}

_POSTGRES_FUNCTIONS = """
CREATE FUNCTION commonpurse_refuse_closed_round() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF OLD.closed_at IS NOT NULL THEN
        RAISE EXCEPTION 'closed rounds are final: % is refused', TG_OP
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF TG_OP = 'DELETE' THEN
        RETURN OLD;
    END IF;
    RETURN NEW;
END $$
"""


def upgrade() -> None:
    # A nullable column without a default: no row is rewritten (nor any trigger fired).
    op.add_column("entries", sa.Column("decided_in", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        for name, body in _SQLITE_TRIGGERS.items():
            op.execute(f"CREATE TRIGGER {name} {body}")
        return
    op.execute(_POSTGRES_FUNCTIONS)
    op.execute(
        "CREATE TRIGGER rounds_refuse_change_closed BEFORE UPDATE OR DELETE ON rounds "
        "FOR EACH ROW EXECUTE FUNCTION commonpurse_refuse_closed_round()"
    )
    op.execute(
        "CREATE TRIGGER rounds_refuse_truncate BEFORE TRUNCATE ON rounds "
        "FOR EACH STATEMENT EXECUTE FUNCTION commonpurse_refuse_change()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in _SQLITE_TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    else:
        op.execute("DROP TRIGGER IF EXISTS rounds_refuse_truncate ON rounds")
        op.execute("DROP TRIGGER IF EXISTS rounds_refuse_change_closed ON rounds")
        op.execute("DROP FUNCTION IF EXISTS commonpurse_refuse_closed_round()")
    # Plain ALTER TABLE ... DROP COLUMN on both engines (SQLite 3.35+): no table rebuild.
    op.drop_column("entries", "decided_in")
