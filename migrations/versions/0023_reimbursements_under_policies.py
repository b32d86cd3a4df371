"""reimbursements under policies: a policy may pay members' claims without a round of their own

``policy_terms.reimbursements`` says whether a policy pays claims. A claim filed under such a
policy opens no proposal (``claims.proposal_id`` is null): it names the policy and keeps its
own fund, amount, purpose and the pseudonym it is paid to. ``claim_payments`` links a claim
paid under a policy to its payment (one payment per claim: the unique claim id).
``claims.receipt_erased_at``: when the receipt's file was erased with the claimant's data
(its hash stays).

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 02:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("policy_terms") as table:
        table.add_column(
            sa.Column("reimbursements", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    with op.batch_alter_table("claims") as table:
        table.alter_column("proposal_id", existing_type=BIG_ID, nullable=True)
        table.add_column(sa.Column("policy_number", sa.Integer(), nullable=True))
        table.add_column(sa.Column("fund_id", BIG_ID, nullable=True))
        table.add_column(sa.Column("amount", sa.BigInteger(), nullable=True))
        table.add_column(sa.Column("what_for", sa.Text(), nullable=True))
        table.add_column(sa.Column("body", sa.Text(), nullable=True))
        table.add_column(sa.Column("counterparty", sa.String(length=64), nullable=True))
        table.add_column(
            sa.Column("receipt_erased_at", DateTimeUTC(timezone=True), nullable=True)
        )
        table.create_foreign_key(op.f("fk_claims_fund_id_funds"), "funds", ["fund_id"], ["id"])
    op.create_table(
        "claim_payments",
        sa.Column("claim_id", BIG_ID, nullable=False),
        sa.Column("group_id", BIG_ID, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["claim_id"], ["claims.id"], name=op.f("fk_claim_payments_claim_id_claims")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_claim_payments_group_id_groups")
        ),
        sa.PrimaryKeyConstraint("claim_id", name=op.f("pk_claim_payments")),
        sa.UniqueConstraint("group_id", "seq", name=op.f("uq_claim_payments_group_id_seq")),
    )


def downgrade() -> None:
    op.drop_table("claim_payments")
    with op.batch_alter_table("claims") as table:
        table.drop_constraint(op.f("fk_claims_fund_id_funds"), type_="foreignkey")
        for name in ("receipt_erased_at", "counterparty", "body", "what_for", "amount", "fund_id", "policy_number"):
            table.drop_column(name)
        table.alter_column("proposal_id", existing_type=BIG_ID, nullable=False)
    with op.batch_alter_table("policy_terms") as table:
        table.drop_column("reimbursements")
