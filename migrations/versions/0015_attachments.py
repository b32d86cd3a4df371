"""receipts: files attached to entries, their erasures, and a group's choice to publish them

A file attached to an entry is a leaf of its own in the group's log (kind "attachment",
leaf version 3, ledger.canonical); ``attachments`` holds what that leaf states and is
append-only like entries. ``attachment_erasures`` records when a file was erased with a
person's data (the leaf and hash stay). ``groups.publish_receipts``: members see receipts
by default; a group may show them to everyone.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE = "attachments"


def upgrade() -> None:
    op.add_column(
        "groups",
        sa.Column("publish_receipts", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        TABLE,
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("group_id", BIG_ID, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("entry_seq", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content_type", sa.String(length=32), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("recorded_by", BIG_ID, nullable=True),
        sa.Column("recorded_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_attachments_group_id_groups")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["users.id"], name=op.f("fk_attachments_recorded_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
        sa.UniqueConstraint("group_id", "seq", name=op.f("uq_attachments_group_id_seq")),
    )
    op.create_index("ix_attachments_group_entry", TABLE, ["group_id", "entry_seq"])
    op.create_index("ix_attachments_sha256", TABLE, ["sha256"])
    op.create_table(
        "attachment_erasures",
        sa.Column("attachment_id", BIG_ID, nullable=False),
        sa.Column("erased_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["attachment_id"],
            ["attachments.id"],
            name=op.f("fk_attachment_erasures_attachment_id_attachments"),
        ),
        sa.PrimaryKeyConstraint("attachment_id", name=op.f("pk_attachment_erasures")),
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
    op.drop_table("attachment_erasures")
    op.drop_index("ix_attachments_sha256", table_name=TABLE)
    op.drop_index("ix_attachments_group_entry", table_name=TABLE)
    op.drop_table(TABLE)
    # Not batch mode: on SQLite it would copy "groups", which other tables refer to
    # (SQLite 3.35+ drops a plain column in place).
    op.execute("ALTER TABLE groups DROP COLUMN publish_receipts")
