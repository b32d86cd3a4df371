"""idempotency keys belong to the caller; records keep the outcome, not an HTTP answer

A second steward's retry with an equal key got the first steward's answer: the key is now
the caller's (primary key group, user, key). And a record keeps what happened (the entry
it recorded, or the refusal's kind, message and field) instead of a status and body.

Old records are converted: an answer 201 becomes its entry (the caller is who recorded it);
an old refusal cannot be given a caller and is dropped, so a retry of it is decided afresh
(it recorded nothing, so nothing can be recorded twice).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 17:30:00
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    bind = op.get_bind()
    old = bind.execute(
        sa.text(
            "SELECT group_id, key, request_hash, status_code, response, created_at "
            "FROM idempotency_records"
        )
    ).all()
    rows = []
    for group_id, key, request_hash, status, response, created_at in old:
        if status != 201:
            continue
        seq = int(json.loads(bytes(response))["seq"])
        recorded_by = bind.execute(
            sa.text("SELECT recorded_by FROM entries WHERE group_id = :group AND seq = :seq"),
            {"group": group_id, "seq": seq},
        ).scalar()
        if recorded_by is None:
            continue
        rows.append(
            {
                "group_id": group_id,
                "user_id": recorded_by,
                "key": key,
                "request_hash": request_hash,
                "entry_seq": seq,
                "refusal_kind": None,
                "refusal_message": None,
                "refusal_field": None,
                "created_at": created_at,
            }
        )
    op.drop_table("idempotency_records")
    _create()
    if rows:  # as read: each engine's own stored form of created_at, copied unchanged
        bind.execute(
            sa.text(
                "INSERT INTO idempotency_records (group_id, user_id, key, request_hash, "
                "entry_seq, refusal_kind, refusal_message, refusal_field, created_at) VALUES "
                "(:group_id, :user_id, :key, :request_hash, :entry_seq, :refusal_kind, "
                ":refusal_message, :refusal_field, :created_at)"
            ),
            rows,
        )


def _create() -> None:
    op.create_table(
        "idempotency_records",
        sa.Column("group_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("user_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("entry_seq", sa.BigInteger(), nullable=True),
        sa.Column("refusal_kind", sa.String(length=64), nullable=True),
        sa.Column("refusal_message", sa.Text(), nullable=True),
        sa.Column("refusal_field", sa.String(length=64), nullable=True),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_idempotency_records_group_id_groups")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_idempotency_records_user_id_users")
        ),
        sa.PrimaryKeyConstraint("group_id", "user_id", "key", name=op.f("pk_idempotency_records")),
    )


def downgrade() -> None:
    # Outcomes cannot be turned back into the HTTP answers they were: the records go (a
    # retry after a downgrade is decided afresh).
    op.drop_table("idempotency_records")
    op.create_table(
        "idempotency_records",
        sa.Column("group_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_idempotency_records_group_id_groups")
        ),
        sa.PrimaryKeyConstraint("group_id", "key", name=op.f("pk_idempotency_records")),
    )
