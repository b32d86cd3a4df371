"""a request's history: what the person did on their status page; updates by e-mail

The person who asked may add information (a sealed note without an author), withdraw the
request, or erase their details; each is an event the stewards see. They may also leave
an address (sealed with their details) to be told of each change: an outbox of updates.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 08:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "request_events",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("request_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["support_requests.id"],
            name=op.f("fk_request_events_request_id_support_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_events")),
    )
    with op.batch_alter_table("request_events") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_request_events_request_id"), ["request_id"], unique=False
        )
    with op.batch_alter_table("request_notes") as batch_op:
        batch_op.alter_column("author_id", existing_type=BIG_ID, nullable=True)
    op.create_table(
        "request_updates",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("request_id", BIG_ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("sent_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["support_requests.id"],
            name=op.f("fk_request_updates_request_id_support_requests"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_request_updates")),
    )
    with op.batch_alter_table("request_updates") as batch_op:
        batch_op.create_index(
            batch_op.f("ix_request_updates_request_id"), ["request_id"], unique=False
        )
        batch_op.create_index(
            "ix_request_updates_pending", ["sent_at", "next_attempt_at"], unique=False
        )


def downgrade() -> None:
    op.drop_table("request_updates")
    # The person's own notes have no author to keep: they go (they were sealed anyway).
    op.execute("DELETE FROM request_notes WHERE author_id IS NULL")
    with op.batch_alter_table("request_notes") as batch_op:
        batch_op.alter_column("author_id", existing_type=BIG_ID, nullable=False)
    with op.batch_alter_table("request_events") as batch_op:
        batch_op.drop_index(batch_op.f("ix_request_events_request_id"))
    op.drop_table("request_events")
