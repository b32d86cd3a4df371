"""urgent decisions in the log: the minute as it stood when an urgent proposal passed early

An urgent proposal that passes early authorises money before its round closes, so its
decision joins the log at once (a decision leaf closed_by "urgent"); the leaf states the
SHA-256 of the minute at that moment, which ``rounds.urgent_minute`` keeps so that anyone
handed it can check it. The round's own minute is still written when it closes.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 03:15:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN, not a batch: on SQLite a batch copies the table and would drop the
    # triggers that keep closed rounds final (0017).
    op.add_column("rounds", sa.Column("urgent_minute", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("rounds", "urgent_minute")
