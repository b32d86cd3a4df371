"""entries: the indexes by proposal and by policy end with the entry's number

``ix_entries_group_proposal`` (group, proposal number) and ``ix_entries_group_policy``
(group, policy number) become (group, proposal number, seq) and (group, policy number,
seq). Every read through them lists a proposal's or a policy's entries in log order; with
``seq`` in the index the order comes with the rows. Without it SQLite, which keeps no
statistics here, preferred walking every entry of the group by its key on ``seq`` to
sorting a handful of rows: 60-80 ms a proposal or policy page at 200,000 entries, against
well under 1 ms now. Nothing in the log changes.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 15:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {"ix_entries_group_proposal": "proposal_number", "ix_entries_group_policy": "policy_number"}


def upgrade() -> None:
    for name, column in INDEXES.items():
        op.drop_index(name, table_name="entries")
        op.create_index(name, "entries", ["group_id", column, "seq"])


def downgrade() -> None:
    for name, column in INDEXES.items():
        op.drop_index(name, table_name="entries")
        op.create_index(name, "entries", ["group_id", column])
