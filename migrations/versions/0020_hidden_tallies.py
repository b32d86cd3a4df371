"""hidden tallies: a group may keep responses and counts hidden until a round closes

``group_rules.hide_tally_until_close`` is the group's setting; each round keeps the value
it opened with (``rounds.tally_hidden``), so a change of setting never reveals, nor hides
after the fact, a round whose members responded under the other rule.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 02:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch: on SQLite a batch copies the table and would drop
    # the triggers that keep closed rounds final (0017).
    op.add_column(
        "group_rules",
        sa.Column("hide_tally_until_close", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "rounds",
        sa.Column("tally_hidden", sa.Boolean(), server_default=sa.false(), nullable=False),
    )


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN on both engines (SQLite 3.35+): no table rebuild.
    op.drop_column("rounds", "tally_hidden")
    op.drop_column("group_rules", "hide_tally_until_close")
