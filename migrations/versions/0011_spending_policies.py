"""spending policies: a payment names the policy it is made under; policies' terms

A payment made under a standing spending policy names it (number and version), as a
payment under a proposal names the proposal; its leaf is of version 2 (ledger.canonical),
and entries written before keep their version-1 leaves. A policy's terms are written once
with the version of its proposal, and are append-only like the versions.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 07:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "policy_terms"


def upgrade() -> None:
    # Nullable columns without a default: no row is rewritten (nor any trigger fired).
    op.add_column("entries", sa.Column("policy_number", sa.Integer(), nullable=True))
    op.add_column("entries", sa.Column("policy_version", sa.Integer(), nullable=True))
    op.create_index("ix_entries_group_policy", "entries", ["group_id", "policy_number"])
    op.add_column(
        "group_rules",
        sa.Column(
            "policy_room_committed", sa.Boolean(), server_default=sa.false(), nullable=False
        ),
    )
    op.create_table(
        TABLE,
        sa.Column("version_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite")),
        sa.Column("max_per_payment", sa.BigInteger(), nullable=True),
        sa.Column("max_per_month", sa.BigInteger(), nullable=True),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("payers", sa.Text(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("replaces", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["proposal_versions.id"],
            name=op.f("fk_policy_terms_version_id_proposal_versions"),
        ),
        sa.PrimaryKeyConstraint("version_id", name=op.f("pk_policy_terms")),
    )
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {TABLE}_refuse_{action.lower()} BEFORE {action} ON {TABLE} "
                f"BEGIN SELECT RAISE(ABORT, '{TABLE} are append-only: {action} is refused'); END"
            )
    else:
        op.execute(
            f"CREATE TRIGGER {TABLE}_refuse_change BEFORE UPDATE OR DELETE ON {TABLE} "
            "FOR EACH ROW EXECUTE FUNCTION commonpurse_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {TABLE}_refuse_truncate BEFORE TRUNCATE ON {TABLE} "
            "FOR EACH STATEMENT EXECUTE FUNCTION commonpurse_refuse_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_refuse_{action}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_refuse_change ON {TABLE}")
        op.execute(f"DROP TRIGGER IF EXISTS {TABLE}_refuse_truncate ON {TABLE}")
    op.drop_table(TABLE)
    with op.batch_alter_table("group_rules") as batch_op:
        batch_op.drop_column("policy_room_committed")
    op.drop_index("ix_entries_group_policy", table_name="entries")
    # Plain ALTER TABLE ... DROP COLUMN on both engines (SQLite 3.35+): no table rebuild,
    # so the append-only triggers are not involved.
    op.drop_column("entries", "policy_version")
    op.drop_column("entries", "policy_number")
