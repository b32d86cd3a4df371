"""How to give to a group, and the donors it thanks: loading, checking (``giving_rules``) and
writing. Nothing here enters the log: the donations themselves are ledger entries, and a
donor's name, given only when they ask to be thanked by it, stays beside the log where it
can be erased."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ledger.canonical import timestamp
from ledger.errors import InvalidInput, NotFound
from ledger.giving_rules import (
    BankDetails,
    bank_details,
    check_account_holder,
    check_how_to_give,
    epc_payload,
)
from ledger.groups import utcnow
from ledger.kept import LogSums
from ledger.models import DonorThanks, Entry, GivingDetails, Group, Posting
from ledger.money import format_amount
from ledger.queries import is_reversed
from ledger.rules import HOLDING
from ledger.schemas import DonorsOut, GivingIn, GivingOut, MoneyOut, ThanksOut
from ledger.words import N_, Words

DONATION = "donation"
# The public pages and the API name at most this many donors (the newest).
NAMED_DONORS = 50


def donation_reference(group: Group) -> Words:
    """The text a donor's transfer carries, which the group reads on its statement; a page
    says it in its reader's language."""
    return Words(N_("Donation to %(group)s"), {"group": group.name})


@dataclass(frozen=True, slots=True)
class Giving:
    """What a group says on how to give, checked."""

    how_to_give: str
    bank: BankDetails | None
    # When an admin last changed it (donors may want to know the account is not new).
    updated_at: datetime | None = None

    def qr_payload(
        self, group: Group, amount: int | None = None, *, reference: str | None = None
    ) -> str | None:
        """The text of the SEPA payment QR code, or None (no IBAN, not euros, not SEPA);
        ``reference``: the transfer's text, by default ``donation_reference`` in English."""
        if self.bank is None:
            return None
        return epc_payload(
            self.bank,
            beneficiary=group.name,
            currency=group.currency,
            amount=amount,
            text=reference if reference is not None else donation_reference(group).english,
        )


@dataclass(frozen=True, slots=True)
class Donors:
    donations: int
    totals: dict[str, int]  # per currency, minor units
    named: list[str]


def check_giving(data: GivingIn) -> Giving:
    """The input checked, field by field (the first error raised names its field)."""
    text = check_how_to_give(data.how_to_give)
    bank = bank_details(data.iban, data.bic, data.account_holder)
    return Giving(text, bank)


def _giving(row: GivingDetails | None) -> Giving:
    if row is None or (not row.how_to_give and not row.iban):
        return Giving("", None)
    bank = BankDetails(row.iban, row.bic or "", row.account_holder or "") if row.iban else None
    return Giving(row.how_to_give, bank, row.updated_at)


async def get_giving(session: AsyncSession, group: Group) -> Giving:
    return _giving(await session.get(GivingDetails, group.id))


async def set_giving(
    session: AsyncSession, group: Group, data: GivingIn, *, user_id: int | None
) -> Giving:
    giving = check_giving(data)
    row = await session.get(GivingDetails, group.id)
    if row is None:
        row = GivingDetails(group_id=group.id)
        session.add(row)
    row.how_to_give = giving.how_to_give
    row.iban = giving.bank.iban if giving.bank else None
    row.bic = (giving.bank.bic or None) if giving.bank else None
    row.account_holder = (giving.bank.account_holder or None) if giving.bank else None
    row.updated_at = utcnow()
    row.updated_by = user_id
    await session.flush()
    return _giving(row)


# --- donors --------------------------------------------------------------------------------


def check_donor_name(text: str) -> str:
    name = check_account_holder(text, field="name", what="the donor's name")
    if not name:
        raise InvalidInput("Enter the name the donor asked to be thanked by.", field="name")
    return name


async def thank_donor(
    session: AsyncSession,
    group: Group,
    seq: int,
    name: str,
    *,
    user_id: int | None,
    now: datetime | None = None,
) -> DonorThanks:
    """Thank the donor of entry ``seq`` by ``name`` (replacing an earlier name)."""
    name = check_donor_name(name)
    kind = await session.scalar(
        select(Entry.kind).where(Entry.group_id == group.id, Entry.seq == seq)
    )
    if kind is None:
        raise NotFound(f"Group {group.slug!r} has no entry {seq}.")
    if kind != DONATION:
        raise InvalidInput(f"Entry {seq} is not a donation: only donors are thanked.", field="seq")
    row = await session.scalar(
        select(DonorThanks).where(DonorThanks.group_id == group.id, DonorThanks.entry_seq == seq)
    )
    if row is None:
        row = DonorThanks(group_id=group.id, entry_seq=seq)
        session.add(row)
    row.name = name
    row.recorded_by = user_id
    row.recorded_at = now or utcnow()
    await session.flush()
    return row


async def forget_donor(session: AsyncSession, group: Group, seq: int) -> None:
    """Erase the name a donation's donor is thanked by (the donation stays, anonymous)."""
    result = await session.execute(
        delete(DonorThanks).where(DonorThanks.group_id == group.id, DonorThanks.entry_seq == seq)
    )
    if not getattr(result, "rowcount", 0):
        raise NotFound(f"The donor of entry {seq} is not thanked by name.")


async def thanks_of(session: AsyncSession, group: Group, seq: int) -> DonorThanks | None:
    result = await session.scalars(
        select(DonorThanks).where(DonorThanks.group_id == group.id, DonorThanks.entry_seq == seq)
    )
    return result.one_or_none()


@dataclass(frozen=True, slots=True)
class ThankedDonation:
    """A donation whose donor is thanked by name, for the stewards' list."""

    seq: int
    occurred_on: date
    name: str
    reversed: bool


async def thanked_donations(session: AsyncSession, group: Group) -> list[ThankedDonation]:
    """Every donation whose donor is thanked by name, newest first (reversed ones too: the
    stewards may still erase their names)."""
    reversal = aliased(Entry)
    rows = await session.execute(
        select(Entry.seq, Entry.occurred_on, DonorThanks.name, reversal.seq)
        .join(
            Entry,
            and_(Entry.group_id == DonorThanks.group_id, Entry.seq == DonorThanks.entry_seq),
        )
        .outerjoin(
            reversal, and_(reversal.group_id == group.id, reversal.reverses_seq == Entry.seq)
        )
        .where(DonorThanks.group_id == group.id)
        .order_by(Entry.seq.desc())
    )
    return [
        ThankedDonation(seq, occurred_on, name, reversed_by is not None)
        for seq, occurred_on, name, reversed_by in rows
    ]


@dataclass(frozen=True, slots=True)
class DonationsCounted:
    """The standing donations (not reversed) of a log: how many, and their sum per
    currency (minor units)."""

    donations: int
    totals: dict[str, int]


# Kept between requests and grown by new entries (``ledger.kept``): the group page and the
# give page would otherwise read every donation of the log each time.
COUNTED: LogSums[DonationsCounted] = LogSums()


async def _counted(session: AsyncSession, group: Group) -> DonationsCounted:
    async def grow(last: DonationsCounted | None, after: int, through: int) -> DonationsCounted:
        # Donations recorded after ``after``, less the donations (of any age) reversed
        # after it: a donation is reversed at most once, and a reversal never leaves the log.
        donations = last.donations if last is not None else 0
        totals = dict(last.totals) if last is not None else {}
        newer = and_(Entry.group_id == group.id, Entry.seq > after, Entry.seq <= through)
        reversal = aliased(Entry)
        reversed_ = and_(
            reversal.group_id == group.id,
            reversal.reverses_seq == Entry.seq,
            reversal.seq > after,
            reversal.seq <= through,
        )
        counted = select(func.count(Entry.id))
        donations += int(await session.scalar(counted.where(newer, Entry.kind == DONATION)) or 0)
        donations -= int(
            await session.scalar(
                counted.join(reversal, reversed_).where(
                    Entry.group_id == group.id, Entry.kind == DONATION
                )
            )
            or 0
        )
        held = (
            select(Posting.currency, func.sum(Posting.amount))
            .join(Entry, Entry.id == Posting.entry_id)
            .where(Posting.account_type == HOLDING)
            .group_by(Posting.currency)
        )
        for currency, amount in await session.execute(held.where(newer, Entry.kind == DONATION)):
            totals[currency] = totals.get(currency, 0) + int(amount or 0)
        undone = held.join(reversal, reversed_).where(
            Entry.group_id == group.id, Entry.kind == DONATION
        )
        for currency, amount in await session.execute(undone):
            totals[currency] = totals.get(currency, 0) - int(amount or 0)
        return DonationsCounted(donations, totals)

    return await COUNTED.read(session, group, grow)


async def donors(session: AsyncSession, group: Group, *, named: int = NAMED_DONORS) -> Donors:
    """The group's standing donations counted and summed, and the donors thanked by name."""
    counted = await _counted(session, group)
    # Names are read each time, never kept: a steward may erase one at any moment.
    names = await session.scalars(
        select(DonorThanks.name)
        .join(
            Entry,
            and_(Entry.group_id == DonorThanks.group_id, Entry.seq == DonorThanks.entry_seq),
        )
        .where(
            DonorThanks.group_id == group.id,
            Entry.kind == DONATION,
            ~is_reversed(group),
        )
        # By the thanks' own key: SQLite then walks the few thanks, not every entry.
        .order_by(DonorThanks.entry_seq.desc())
        .limit(named)
    )
    # A donor thanked for several donations is named once, at their newest.
    totals = {currency: total for currency, total in sorted(counted.totals.items()) if total}
    return Donors(counted.donations, totals, list(dict.fromkeys(names)))


# --- read models ---------------------------------------------------------------------------


def donors_out(found: Donors) -> DonorsOut:
    return DonorsOut(
        donations=found.donations,
        totals=[
            MoneyOut(currency=currency, amount=format_amount(total, currency))
            for currency, total in found.totals.items()
        ],
        named=found.named,
    )


def giving_out(group: Group, giving: Giving, found: Donors) -> GivingOut:
    bank = giving.bank
    return GivingOut(
        how_to_give=giving.how_to_give,
        iban=bank.iban if bank else None,
        bic=(bank.bic or None) if bank else None,
        account_holder=(bank.account_holder or None) if bank else None,
        epc_qr=giving.qr_payload(group),
        updated_at=timestamp(giving.updated_at) if giving.updated_at else None,
        donors=donors_out(found),
    )


def thanks_out(row: DonorThanks) -> ThanksOut:
    return ThanksOut(entry=row.entry_seq, name=row.name, recorded_at=timestamp(row.recorded_at))
