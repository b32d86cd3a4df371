"""bank lines: one unique key by place, day and fingerprint; one foreign key, to the import

Storing a long statement's lines was mostly the upkeep of ``bank_lines``' keys (bench
import), so the table keeps fewer and says more:

- the unique key on (place, fingerprint) and the index on (place, day) become one unique
  key on (place, day, fingerprint). A fingerprint is made from its line's day, so two lines
  of a place with one fingerprint have one day: the key refuses what the old one refused,
  and serves the reads by a place's days the index served. Its inserts follow a statement's
  days instead of landing anywhere in the index.
- the line's three foreign keys (group, place, import) become one, to its import's
  (id, place, group), a unique index of ``bank_statements``: a line now belongs to an import
  of its own place and group, which the three did not say, and the import's own keys name
  the place and the group. PostgreSQL checked each line stored against three rows; one now.

Nothing in the log changes; the lines and their ids are kept as they are.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07 01:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_REFERENCES = {"group_id": "groups", "place_id": "places", "statement_id": "bank_statements"}


def upgrade() -> None:
    op.create_index(
        "ix_bank_statements_line_key",
        "bank_statements",
        ["id", "place_id", "group_id"],
        unique=True,
    )
    # SQLite rebuilds the table (its lines copied with their ids); PostgreSQL alters it.
    with op.batch_alter_table("bank_lines") as table:
        table.drop_index("ix_bank_lines_place_day")
        table.drop_constraint(op.f("uq_bank_lines_place_id_fingerprint"), type_="unique")
        for column, referred in _REFERENCES.items():
            table.drop_constraint(op.f(f"fk_bank_lines_{column}_{referred}"), type_="foreignkey")
        table.create_unique_constraint(
            op.f("uq_bank_lines_place_id_booked_on_fingerprint"),
            ["place_id", "booked_on", "fingerprint"],
        )
        table.create_foreign_key(
            op.f("fk_bank_lines_statement_id_bank_statements"),
            "bank_statements",
            ["statement_id", "place_id", "group_id"],
            ["id", "place_id", "group_id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("bank_lines") as table:
        table.drop_constraint(
            op.f("fk_bank_lines_statement_id_bank_statements"), type_="foreignkey"
        )
        table.drop_constraint(
            op.f("uq_bank_lines_place_id_booked_on_fingerprint"), type_="unique"
        )
        for column, referred in _REFERENCES.items():
            table.create_foreign_key(
                op.f(f"fk_bank_lines_{column}_{referred}"), referred, [column], ["id"]
            )
        table.create_unique_constraint(
            op.f("uq_bank_lines_place_id_fingerprint"), ["place_id", "fingerprint"]
        )
        table.create_index("ix_bank_lines_place_day", ["place_id", "booked_on"])
    op.drop_index("ix_bank_statements_line_key", table_name="bank_statements")
