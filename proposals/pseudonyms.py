"""How the ledger names a member who is paid: ``M-<membership id>``, stable and saying
nothing about who they are (their name never enters the ledger); and the rule that nobody
pays their own pseudonym under a spending policy."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ledger.errors import NotAuthorised
from ledger.groups import active_membership
from ledger.models import Group, Membership
from ledger.service import Payment

PREFIX = "M-"


def pseudonym(membership: Membership) -> str:
    """A member's name in the ledger and on the public pages: by their membership."""
    return f"{PREFIX}{membership.id}"


async def refuse_payment_to_oneself(session: AsyncSession, group: Group, payment: Payment) -> None:
    """A steward paying their own pseudonym under a policy would decide alone on money to
    themselves: refused (a claim, decided by the others, pays them back)."""
    if payment.recorded_by is None or not payment.counterparty:
        return
    membership = await active_membership(session, group.id, payment.recorded_by)
    if membership is not None and payment.counterparty == pseudonym(membership):
        raise NotAuthorised(
            f"{payment.counterparty} is you: nobody pays themselves under a policy. File a "
            "claim and the group decides on it.",
            field="counterparty",
        )
