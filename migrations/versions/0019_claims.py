"""reimbursements: a member's claim to be paid back, the proposal it became and its receipt

A claim is a disbursement proposal to the member's pseudonym (``M-<membership id>``);
``claims`` names its claimant (whose own response does not count on it) and the receipt's
SHA-256, type and size (the file is in the attachments store), attached to the payment
once a steward records it. Written once, like proposal versions.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 13:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "claims",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("group_id", BIG_ID, nullable=False),
        sa.Column("proposal_id", BIG_ID, nullable=False),
        sa.Column("claimant_id", BIG_ID, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["groups.id"], name=op.f("fk_claims_group_id_groups")),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name=op.f("fk_claims_proposal_id_proposals")
        ),
        sa.ForeignKeyConstraint(
            ["claimant_id"], ["users.id"], name=op.f("fk_claims_claimant_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
        sa.UniqueConstraint("proposal_id", name=op.f("uq_claims_proposal_id")),
    )
    op.create_index(op.f("ix_claims_group_id"), "claims", ["group_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_claims_group_id"), table_name="claims")
    op.drop_table("claims")
