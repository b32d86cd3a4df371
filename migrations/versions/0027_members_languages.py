"""members' languages: the language a member reads their e-mails and inbox in, and the
words of each notification, kept to say it in that language

``users.language``: the language a member picked (the language picker while logged in, or
their settings); NULL, as for every member before, reads English. ``notifications.words``:
the notification's subject and body as messages of the catalogues and their values (JSON);
NULL for notifications written before, which keep their English subject and body.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 18:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN of nullable columns: nothing written before changes.
    op.add_column("users", sa.Column("language", sa.String(length=16), nullable=True))
    op.add_column("notifications", sa.Column("words", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("notifications", "words")
    op.drop_column("users", "language")
