"""a discussion on every proposal; reminders to members who have not responded

Comments belong to a proposal (and to the round open when they were written); a reply
points at the comment it answers. An edit keeps the earlier text in ``comment_versions``
(append-only, as proposal versions are); a facilitator hides a comment with a reason and
nobody deletes one. A reminder is sent at most once per round per member
(``reminders``' primary key); ``rounds.reminded_at`` marks a round whose automatic
reminder is done. The group chooses whether its discussions are public and how long
before a deadline the automatic reminder goes (0: never).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
VERSIONS = "comment_versions"


def upgrade() -> None:
    with op.batch_alter_table("group_rules") as table:
        table.add_column(
            sa.Column("public_comments", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        table.add_column(
            sa.Column("reminder_hours", sa.Integer(), server_default="24", nullable=False)
        )
    with op.batch_alter_table("rounds") as table:
        table.add_column(sa.Column("reminded_at", DateTimeUTC(timezone=True), nullable=True))
    op.create_table(
        "comments",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("proposal_id", BIG_ID, nullable=False),
        sa.Column("round_id", BIG_ID, nullable=True),
        sa.Column("reply_to_id", BIG_ID, nullable=True),
        sa.Column("author_id", BIG_ID, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("edited_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("hidden_at", DateTimeUTC(timezone=True), nullable=True),
        sa.Column("hidden_by_id", BIG_ID, nullable=True),
        sa.Column("hidden_reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"], ["proposals.id"], name=op.f("fk_comments_proposal_id_proposals")
        ),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_comments_round_id_rounds")
        ),
        sa.ForeignKeyConstraint(
            ["reply_to_id"], ["comments.id"], name=op.f("fk_comments_reply_to_id_comments")
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_comments_author_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["hidden_by_id"], ["users.id"], name=op.f("fk_comments_hidden_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comments")),
    )
    with op.batch_alter_table("comments") as table:
        table.create_index(table.f("ix_comments_proposal_id"), ["proposal_id"], unique=False)
        table.create_index(table.f("ix_comments_round_id"), ["round_id"], unique=False)
    op.create_table(
        VERSIONS,
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("comment_id", BIG_ID, nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("written_at", DateTimeUTC(timezone=True), nullable=False),
        sa.Column("replaced_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["comment_id"], ["comments.id"], name=op.f("fk_comment_versions_comment_id_comments")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_comment_versions")),
    )
    with op.batch_alter_table(VERSIONS) as table:
        table.create_index(table.f("ix_comment_versions_comment_id"), ["comment_id"])
    op.create_table(
        "reminders",
        sa.Column("round_id", BIG_ID, nullable=False),
        sa.Column("user_id", BIG_ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("sent_at", DateTimeUTC(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["round_id"], ["rounds.id"], name=op.f("fk_reminders_round_id_rounds")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_reminders_user_id_users")),
        sa.PrimaryKeyConstraint("round_id", "user_id", name=op.f("pk_reminders")),
    )
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {VERSIONS}_refuse_{action.lower()} BEFORE {action} ON {VERSIONS} "
                f"BEGIN SELECT RAISE(ABORT, '{VERSIONS} are append-only: {action} is refused'); END"
            )
    else:
        op.execute(
            f"CREATE TRIGGER {VERSIONS}_refuse_change BEFORE UPDATE OR DELETE ON {VERSIONS} "
            "FOR EACH ROW EXECUTE FUNCTION commonpurse_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {VERSIONS}_refuse_truncate BEFORE TRUNCATE ON {VERSIONS} "
            "FOR EACH STATEMENT EXECUTE FUNCTION commonpurse_refuse_change()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS {VERSIONS}_refuse_{action}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {VERSIONS}_refuse_change ON {VERSIONS}")
        op.execute(f"DROP TRIGGER IF EXISTS {VERSIONS}_refuse_truncate ON {VERSIONS}")
    op.drop_table("reminders")
    op.drop_table(VERSIONS)
    op.drop_table("comments")
    with op.batch_alter_table("rounds") as table:
        table.drop_column("reminded_at")
    with op.batch_alter_table("group_rules") as table:
        table.drop_column("reminder_hours")
        table.drop_column("public_comments")
