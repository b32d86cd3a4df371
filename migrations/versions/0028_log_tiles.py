"""log tiles: the full hash tiles of a log above level 0, kept once built

``log_tiles``: tile ``tile_index`` of level ``level`` (1 and up) of a group's log, its 256
hashes of 32 bytes as served (C2SP tlog-tiles). A full tile never changes, so it is built
once, by the checkpoint signer, from the level below; proofs and tiles of a large log then
read a few of these rows instead of every leaf hash. Level 0 is the entries' own hashes.
Nothing else changes: the table starts empty and a log without kept tiles is read from its
entries, as before.

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 21:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "log_tiles",
        sa.Column("group_id", BIG_ID, nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("tile_index", sa.BigInteger(), nullable=False),
        sa.Column("hashes", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"], ["groups.id"], name=op.f("fk_log_tiles_group_id_groups")
        ),
        sa.PrimaryKeyConstraint("group_id", "level", "tile_index", name=op.f("pk_log_tiles")),
    )


def downgrade() -> None:
    op.drop_table("log_tiles")
