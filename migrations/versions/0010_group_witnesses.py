"""group_witnesses and cosignatures: the witnesses a group's log asks, and what they cosigned

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 07:30:00
"""

from __future__ import annotations

from collections.abc import Sequence

import advanced_alchemy.types
import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Moment = advanced_alchemy.types.datetime.DateTimeUTC(timezone=True)


def upgrade() -> None:
    op.create_table(
        "group_witnesses",
        sa.Column("id", BigId, nullable=False),
        sa.Column("group_id", BigId, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("vkey", sa.String(length=500), nullable=False),
        sa.Column("added_at", Moment, nullable=False),
        sa.Column("cosigned_size", sa.BigInteger(), nullable=False),
        sa.Column("cosigned_at", Moment, nullable=True),
        sa.Column("last_attempt_at", Moment, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_group_witnesses_group_id_groups")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_witnesses")),
        sa.UniqueConstraint("group_id", "name", name=op.f("uq_group_witnesses_group_id_name")),
    )
    op.create_index(op.f("ix_group_witnesses_group_id"), "group_witnesses", ["group_id"])
    op.create_table(
        "cosignatures",
        sa.Column("group_id", BigId, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("witness_id", BigId, nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("cosigned_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_cosignatures_group_id_groups")
        ),
        sa.ForeignKeyConstraint(
            ["witness_id"],
            ["group_witnesses.id"],
            name=op.f("fk_cosignatures_witness_id_group_witnesses"),
        ),
        sa.PrimaryKeyConstraint("group_id", "size", "witness_id", name=op.f("pk_cosignatures")),
    )


def downgrade() -> None:
    op.drop_table("cosignatures")
    op.drop_index(op.f("ix_group_witnesses_group_id"), table_name="group_witnesses")
    op.drop_table("group_witnesses")
