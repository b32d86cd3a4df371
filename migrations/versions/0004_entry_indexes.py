"""entry indexes: by day for the public ledger's date filter, by proposal for payments

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 00:20:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_entries_group_day", "entries", ["group_id", "occurred_on", "seq"])
    op.create_index("ix_entries_group_proposal", "entries", ["group_id", "proposal_number"])


def downgrade() -> None:
    op.drop_index("ix_entries_group_proposal", table_name="entries")
    op.drop_index("ix_entries_group_day", table_name="entries")
