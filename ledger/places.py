"""Places: where a group's money is held (a bank account, a cash box), beside what it is
for (funds). Every group has one default place, made with the group (and by migration 0024
for groups older than places); entries that name no place are in it, as every entry written
before places existed is. Creating, listing and reading places is in ``ledger.service``
beside funds, whose rules they share."""

from __future__ import annotations

from datetime import datetime

from ledger.models import Group, Place
from ledger.rules import DEFAULT_PLACE_NAME, DEFAULT_PLACE_SLUG

__all__ = ["DEFAULT_PLACE_NAME", "DEFAULT_PLACE_SLUG", "default_place"]


def default_place(group: Group, now: datetime) -> Place:
    """A new group's default place, in the group's currency."""
    return Place(
        group_id=group.id,
        slug=DEFAULT_PLACE_SLUG,
        name=DEFAULT_PLACE_NAME,
        currency=group.currency,
        is_default=True,
        allow_negative=False,
        balance=0,
        created_at=now,
    )
