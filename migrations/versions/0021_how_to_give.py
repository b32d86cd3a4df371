"""how to give: a group's words and bank details for donors, and donors thanked by name

``group_giving`` holds what a group's admins wrote on how to give (Markdown) and its bank
details (an IBAN checked by ``ledger.giving_rules``, an optional BIC and account holder),
from which the pages make a SEPA payment QR code. ``donor_thanks`` names a donation's donor
only when they asked to be thanked by name; it is personal data, outside the log, deleted
on request.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 03:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "group_giving",
        sa.Column("group_id", BIG_ID, nullable=False),
        sa.Column("how_to_give", sa.Text(), nullable=False),
        sa.Column("iban", sa.String(length=34), nullable=True),
        sa.Column("bic", sa.String(length=11), nullable=True),
        sa.Column("account_holder", sa.String(length=70), nullable=True),
        sa.Column("updated_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("updated_by", BIG_ID, nullable=True),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_group_giving_group_id_groups")
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"], ["users.id"], name=op.f("fk_group_giving_updated_by_users")
        ),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_group_giving")),
    )
    op.create_table(
        "donor_thanks",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("group_id", BIG_ID, nullable=False),
        sa.Column("entry_seq", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.String(length=70), nullable=False),
        sa.Column("recorded_by", BIG_ID, nullable=True),
        sa.Column("recorded_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_donor_thanks_group_id_groups")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_donor_thanks_recorded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_donor_thanks")),
        sa.UniqueConstraint(
            "group_id", "entry_seq", name=op.f("uq_donor_thanks_group_id_entry_seq")
        ),
    )


def downgrade() -> None:
    op.drop_table("donor_thanks")
    op.drop_table("group_giving")
