"""rules that fit the amount: a table of tiers; urgent proposals

A group may keep a table of tiers (JSON, amounts in the group's currency): the tier of a
round's amount is chosen when the round opens and kept on the round (``rounds.tier``).
An urgent proposal (``proposals.urgent``) may pass early (``rounds.urgent_passed_at``)
and is confirmed, or not, when its round closes at the ordinary deadline.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("group_rules") as table:
        table.add_column(sa.Column("tiers", sa.Text(), server_default="[]", nullable=False))
    with op.batch_alter_table("proposals") as table:
        table.add_column(
            sa.Column("urgent", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("rounds") as table:
        table.add_column(sa.Column("tier", sa.Text(), nullable=True))
        table.add_column(sa.Column("urgent_passed_at", DateTimeUTC(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rounds") as table:
        table.drop_column("urgent_passed_at")
        table.drop_column("tier")
    with op.batch_alter_table("proposals") as table:
        table.drop_column("urgent")
    with op.batch_alter_table("group_rules") as table:
        table.drop_column("tiers")
