"""A believable demo group: a neighbourhood fund with a few months of giving and support,
a receipt attached to a payment, and a member's claim paid back under a policy."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, datetime, time, timedelta

import click
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import create_token, hash_password
from app.db import session_scope
from app.settings import Settings
from app.signing import load_notary
from ledger import attachments, bank, giving, groups, reconciliation, service
from ledger.cleaning import CleanFile, clean
from ledger.errors import LedgerError
from ledger.files import DirectoryStore, FileStore
from ledger.log import Notary
from ledger.models import BankLine, Entry, Group, Membership, User
from ledger.money import format_amount
from ledger.schemas import (
    DisbursementIn,
    DonationIn,
    FundIn,
    GivingIn,
    ReversalIn,
    TransferIn,
)
from ledger.statements.csv_format import CsvMapping
from proposals import claims, pseudonyms, support
from proposals import service as proposals
from proposals.schemas import AmendmentIn, ClaimIn, PolicyIn, ProposalIn

DEMO_PASSWORD = "commonpurse-demo"
DEMO_SLUG = "northside"
PEOPLE = [
    ("ana@example.org", "Ana Okafor", ["admin"]),
    ("ben@example.org", "Ben Schulz", ["steward"]),
    ("chidi@example.org", "Chidi Mensah", ["facilitator"]),
    ("dara@example.org", "Dara Lopez", ["member"]),
    ("eli@example.org", "Eli Novak", ["member"]),
]
FUNDS = [
    ("rent-relief", "Rent relief"),
    ("groceries", "Groceries"),
    ("utilities", "Utilities"),
    ("emergency", "Emergency"),
]
DONORS = ["Bakery on 5th", "Tenants' union", "Parish collection", "Street fair", None, None]
MEMOS = {
    "donation": ["Monthly gift", "Bucket at the street fair", "Standing order", "Benefit gig"],
    "disbursement": [
        "Rent support",
        "Grocery vouchers",
        "Electricity top-up",
        "School shoes",
        "Bus passes",
    ],
}


async def load_demo(settings: Settings, *, entries: int = 320) -> None:
    async with session_scope(settings) as session:
        if await session.scalar(select(func.count()).select_from(Group)):
            click.echo("The database has groups already; the demo was not loaded.")
            return
        people = []
        for email, name, _ in PEOPLE:
            people.append(
                await groups.create_user(
                    session, email=email, name=name, password_hash=hash_password(DEMO_PASSWORD)
                )
            )
        group = await groups.create_group(
            session,
            slug=DEMO_SLUG,
            name="Northside Mutual Aid",
            currency="EUR",
            admin=people[0],
            description="Neighbours pooling money for rent, food and bills on the north side.",
        )
        for person, (_, _, roles) in zip(people[1:], PEOPLE[1:], strict=True):
            await groups.add_member(session, group, person, roles)
        for slug, name in FUNDS:
            await service.create_fund(session, group, FundIn(slug=slug, name=name))
        await giving.set_giving(
            session,
            group,
            GivingIn(
                how_to_give="Every euro goes to neighbours who need it; the ledger shows where.\n\n"
                "- **By bank transfer** to the account below (the QR code fills it in)\n"
                "- **In cash** at the Tuesday meeting, 7 pm, St Anne's hall: a steward "
                "records it the same evening\n\n"
                "Tell us if you would like to be thanked by name; otherwise you are thanked "
                "among all our donors.",
                iban="DE89 3704 0044 0532 0130 00",
                account_holder="Northside Mutual Aid",
            ),
            user_id=people[0].id,
        )
        notary = load_notary(settings)
        policy_of = await _policies(session, group, people)
        await _history(session, group, people[1].id, entries, policy_of)
        store = DirectoryStore(settings.attachments_dir)
        await _bank_statement(session, group, people[1], notary, store)
        await _decisions(session, group, people, notary, store)
        await _claim(session, group, people, notary, store)
        token = await create_token(session, people[1], "demo")
        # The history's entries and the story's (payments, receipts, decisions, the
        # reconciliation): what the group page and `commonpurse verify` count.
        logged = await session.scalar(
            select(func.count()).select_from(Entry).where(Entry.group_id == group.id)
        )
    click.echo(f"Loaded the demo group '{DEMO_SLUG}' with {logged} entries in its log.")
    click.echo(
        f"Demo login: {PEOPLE[0][0]} / {DEMO_PASSWORD} (admin); "
        f"{PEOPLE[1][0]} / {DEMO_PASSWORD} (steward)."
    )
    click.echo(f"Demo API token of the steward: {token}")


# The standing spending policies the demo group adopted before its history: fund, title,
# most per payment, most per month. Every payment of the history is made under one.
POLICIES = [
    ("groceries", "Emergency groceries", 60, 300),
    ("rent-relief", "Small rent top-ups", 150, 600),
    ("utilities", "Utility bills", 120, 400),
    ("emergency", "Emergencies that cannot wait", 200, 500),
]
HISTORY_DAYS = 180
# The story of the last two weeks (a proposal blocked, amended, passed and paid; another
# under discussion; requests; a claim) comes after the history, in the log as in time.
STORY_DAYS = 14


async def _policies(session: AsyncSession, group: Group, people: list[User]) -> dict[str, int]:
    """Adopt the demo's spending policies, each by everyone's agreement, before the
    history starts; the policy's number per fund."""
    adopted_at = datetime.now(UTC) - timedelta(days=STORY_DAYS + HISTORY_DAYS + 1)
    numbers: dict[str, int] = {}
    for fund, title, per_payment, per_month in POLICIES:
        policy = await proposals.create_proposal(
            session,
            group,
            people[2],
            ProposalIn(
                title=title,
                body=f"Stewards may pay up to {per_payment} EUR at a time, {per_month} EUR a "
                "month, without a round for each payment. Larger needs come as proposals.",
                kind="policy",
                policy=PolicyIn(
                    fund=fund,
                    max_per_payment=f"{per_payment}.00",
                    max_per_month=f"{per_month}.00",
                    purpose=title,
                ),
            ),
            now=adopted_at,
        )
        for person in people:
            await proposals.respond(
                session, group, policy.number, person, "agree", "", now=adopted_at
            )
        numbers[fund] = policy.number
    return numbers


async def _history(
    session: AsyncSession, group: Group, steward_id: int, count: int, policy_of: dict[str, int]
) -> None:
    """Months of giving and support, every payment under one of the group's spending
    policies; refused entries (an empty fund, a month's room used up, an entry reversed
    already) are skipped, as a steward would."""
    rng = random.Random(20261125)  # the same demo every time
    most = {fund: per_payment for fund, _, per_payment, _ in POLICIES}
    start = datetime.now(UTC) - timedelta(days=STORY_DAYS + HISTORY_DAYS)
    step = timedelta(days=HISTORY_DAYS) / count
    recorded = 0
    with click.progressbar(length=count, label="Recording demo entries") as bar:
        while recorded < count:
            moment = start + step * recorded
            roll = rng.random()
            fund = rng.choice(FUNDS)[0]
            entry: DonationIn | DisbursementIn | TransferIn | ReversalIn
            if roll < 0.5 or recorded < 12:
                entry = DonationIn(
                    fund=fund,
                    amount=f"{rng.choice([10, 20, 25, 50, 100, 250])}.00",
                    memo=rng.choice(MEMOS["donation"]),
                    counterparty=rng.choice(DONORS),
                )
            elif roll < 0.9:
                entry = DisbursementIn(
                    fund=fund,
                    amount=f"{rng.randint(15, most[fund] - 1)}.{rng.choice(['00', '50'])}",
                    memo=rng.choice(MEMOS["disbursement"]),
                    counterparty=f"R-{rng.randint(1, 60):02d}",
                    policy=policy_of[fund],
                )
            elif roll < 0.97:
                other = rng.choice([f for f, _ in FUNDS if f != fund])
                entry = TransferIn(
                    from_fund=fund,
                    to_fund=other,
                    amount="40.00",
                    memo="Rebalancing after the monthly meeting",
                )
            else:
                entry = ReversalIn(
                    reverses=rng.randint(1, recorded), memo="Recorded twice by mistake"
                )
            try:
                async with session.begin_nested():
                    await service.record_entry(
                        session,
                        group,
                        entry,
                        recorded_by=steward_id,
                        now=moment,
                        authority=proposals.authorise_payment,
                    )
            except LedgerError:
                continue
            recorded += 1
            bar.update(1)


# How many days of the bank account's history the demo's statement covers.
STATEMENT_DAYS = 31


async def _bank_statement(
    session: AsyncSession, group: Group, ben: User, notary: Notary, store: FileStore
) -> None:
    """The bank's statement of the history's last month, as the bank exports it (CSV, a
    line for each movement of the account), imported by Ben into the bank account; each
    line confirmed with its entry, and the books reconciled through its last day: the
    group page says that the books match the bank. The story after it is not yet on a
    statement."""
    place = next(p for p in await service.list_places(session, group) if p.is_default)
    # Through the history's last day, so that the import and the closing (the next morning)
    # come after every entry of the history, whatever the hour the demo is loaded.
    last = await session.scalar(
        select(func.max(Entry.occurred_on)).where(Entry.group_id == group.id)
    )
    if last is None:
        return
    first = last - timedelta(days=STATEMENT_DAYS - 1)
    moved = [
        c for c in await bank.candidates(session, group, place, since=first, until=last) if c.amount
    ]
    moved.sort(key=lambda c: (c.occurred_on, c.seq))
    rows = io.StringIO()
    export = csv.writer(rows, delimiter=";", lineterminator="\r\n")
    export.writerow(["Booking date", "Amount", "Counterparty", "Reference"])
    for number, movement in enumerate(moved, start=1):
        export.writerow(
            [
                movement.occurred_on.strftime("%d.%m.%Y"),
                format_amount(movement.amount, place.currency).replace(".", ","),
                movement.counterparty or "",
                f"NMA{movement.occurred_on:%y%m%d}{number:04d}",
            ]
        )
    data = rows.getvalue().encode()
    mapping = CsvMapping(
        date="Booking date",
        date_format="%d.%m.%Y",
        amount="Amount",
        decimal_mark=",",
        delimiter=";",
        counterparty="Counterparty",
        reference="Reference",
    )
    statement = bank.read_for_place(data, place, mapping=mapping)
    at = datetime.combine(last + timedelta(days=1), time(9), UTC)
    imported = await bank.store_statement(
        session, group, place, statement, imported_by=ben.id, mapping=mapping, now=at
    )
    store.put(data)
    lines = await session.scalars(
        select(BankLine)
        .where(BankLine.statement_id == imported.statement.id)
        .order_by(BankLine.booked_on, BankLine.id)
    )
    for line, movement in zip(lines, moved, strict=True):
        await bank.confirm_match(
            session, group, place, line, [movement.seq], confirmed_by=ben.id, now=at
        )
    closing = await reconciliation.balance_through(session, group, place, last)
    await reconciliation.close(
        session,
        group,
        place.slug,
        last,
        format_amount(closing, place.currency),
        recorded_by=ben.id,
        notary=notary,
        now=at,
    )


def _days_ago(days: float, hour: int = 0) -> datetime:
    """A moment of the story: ``days`` before now, at ``hour`` o'clock (UTC) that day."""
    day = datetime.now(UTC) - timedelta(days=days)
    return day.replace(hour=hour, minute=15 * (hour % 4), second=0, microsecond=0)


async def _decisions(
    session: AsyncSession, group: Group, people: list[User], notary: Notary, store: FileStore
) -> None:
    """The last two weeks, each step on its own day: a benefit gig's takings (its organisers
    asked to be thanked by name); a proposal blocked because it asked 50 EUR too much,
    amended to what the household owes, passed and paid, the landlord's receipt attached; a
    proposal still open; two requests for support waiting in the stewards' queue, one asked
    in Spanish. Every part of the site has something to show, and its texts agree."""
    ana, ben, chidi, dara, eli = people
    gig = await service.record_entry(
        session,
        group,
        DonationIn(fund="rent-relief", amount="500.00", memo="Benefit gig", counterparty=None),
        recorded_by=ben.id,
        notary=notary,
        now=_days_ago(13, 10),
    )
    await giving.thank_donor(
        session, group, gig.seq, "The Northside Ceilidh Band", user_id=ben.id, now=_days_ago(13, 10)
    )
    rent = await proposals.create_proposal(
        session,
        group,
        dara,
        ProposalIn(
            title="Two months of rent arrears for R-4K",
            body="A household on Elm Street is **two months behind** after a job loss.\n\n"
            "- March and April rent: 450 EUR\n- paid to the landlord directly",
            fund="rent-relief",
            amount="450.00",
            counterparty="R-4K",
        ),
        now=_days_ago(12, 9),
    )
    membership = {m.user_id: m for m in await groups.list_members(session, group.id)}
    await proposals.respond(
        session,
        group,
        rent.number,
        eli,
        "block",
        "The arrears are 400 EUR; the extra 50 would come out of next month's groceries.",
        now=_days_ago(11, 18),
    )
    await proposals.amend(
        session,
        group,
        rent.number,
        dara,
        membership[dara.id],
        AmendmentIn(
            amount="400.00",
            body="A household on Elm Street is **two months behind** after a job loss.\n\n"
            "- March and April rent: 400 EUR (checked with the household)\n"
            "- paid to the landlord directly",
            reason="Checked with the household: 400 EUR is the arrears.",
        ),
        now=_days_ago(10, 11),
    )
    for hour, person in enumerate((ana, ben, chidi, dara, eli)):
        await proposals.respond(
            session, group, rent.number, person, "agree", "", now=_days_ago(9, 8 + 2 * hour)
        )
    arrears = await service.record_entry(
        session,
        group,
        DisbursementIn(
            fund="rent-relief",
            amount="400.00",
            proposal=rent.number,
            counterparty="R-4K",
            memo="Arrears paid to the landlord",
        ),
        recorded_by=ben.id,
        authority=proposals.authorise_payment,
        notary=notary,
        now=_days_ago(8, 10),
    )
    landlords = _receipt_image(
        ["ELM STREET LETTINGS", "Rent received: arrears", "March and April", "EUR 400.00"]
    )
    store.put(landlords.content)
    await attachments.attach(
        session,
        group,
        arrears.seq,
        landlords,
        recorded_by=ben.id,
        notary=notary,
        now=_days_ago(8, 11),
    )
    fridge = await proposals.create_proposal(
        session,
        group,
        chidi,
        ProposalIn(
            title="Rice and oil for the community fridge",
            body="Bulk buy from the cash-and-carry, enough for a month: 180 EUR.",
            fund="groceries",
            amount="180.00",
            counterparty="Community fridge",
            closes_at=datetime.now(UTC) + timedelta(days=5),
        ),
        now=_days_ago(3, 9),
    )
    await proposals.respond(session, group, fridge.number, ana, "agree", "", now=_days_ago(3, 14))
    await proposals.respond(
        session,
        group,
        fridge.number,
        ben,
        "concern",
        "Could we split it over two months?",
        now=_days_ago(2, 19),
    )
    await support.ask(
        session,
        group,
        support.AskForm(
            need="Help with the electricity bill before it is cut off next week.",
            amount="85.00",
            urgency="urgent",
            phone="+44 7700 900123",
            language="en",
            consent=True,
        ),
        now=_days_ago(2, 8),
    )
    await support.ask(
        session,
        group,
        support.AskForm(
            need="Necesito ayuda con la compra de esta semana para mis dos hijos.",
            amount="60.50",
            urgency="normal",
            email="lucia.demo@example.org",
            language="es",
            consent=True,
        ),
        now=_days_ago(1, 17),
    )


async def _claim(
    session: AsyncSession, group: Group, people: list[User], notary: Notary, store: FileStore
) -> None:
    """The group adopts a policy that pays members back small costs; Dara, who paid for
    nappies out of her pocket, files her claim under it with a photo of the till receipt,
    and Ben pays it back: the payment carries the receipt. (A policy of its own, so the
    history's payments never used its month.)"""
    _, ben, chidi, dara, _ = people
    adopted = await proposals.create_proposal(
        session,
        group,
        chidi,
        ProposalIn(
            title="Out-of-pocket costs",
            body="Members who buy something for a distribution are paid back from the "
            "groceries fund, up to 40 EUR at a time and 120 EUR a month, with the receipt.",
            kind="policy",
            policy=PolicyIn(
                fund="groceries",
                max_per_payment="40.00",
                max_per_month="120.00",
                purpose="Paying members back what they bought for a distribution",
                reimbursements=True,
            ),
        ),
    )
    for person in people:
        await proposals.respond(session, group, adopted.number, person, "agree", "")
    policy = adopted.number
    await service.record_entry(
        session,
        group,
        DonationIn(fund="groceries", amount="60.00", memo="Collection tin at the pharmacy"),
        recorded_by=ben.id,
        notary=notary,
    )
    receipt = _receipt_image(
        ["CORNER PHARMACY", "Nappies size 4  x2", "Baby formula", "TOTAL EUR 23.40"]
    )
    _, claim = await claims.file_claim(
        session,
        group,
        dara,
        ClaimIn(
            fund="groceries",
            amount="23.40",
            what_for="Nappies and formula for the Tuesday distribution",
            policy=policy,
        ),
        receipt,
    )
    store.put(receipt.content)
    membership = await session.scalar(
        select(Membership).where(Membership.group_id == group.id, Membership.user_id == dara.id)
    )
    assert membership is not None
    paid = await service.record_entry(
        session,
        group,
        DisbursementIn(
            fund="groceries",
            amount="23.40",
            policy=policy,
            claim=claim.id,
            counterparty=pseudonyms.pseudonym(membership),
            memo="Paid back: nappies and formula",
        ),
        recorded_by=ben.id,
        authority=proposals.authorise_payment,
        notary=notary,
    )
    linked = await claims.receipt_to_attach(session, group, paid, claim.id)
    assert linked is not None
    await attachments.attach(session, group, paid.seq, receipt, recorded_by=ben.id, notary=notary)


def _receipt_image(lines: list[str]) -> CleanFile:
    """A small picture of a till receipt (drawn here, so the demo needs no files), cleaned
    as any receipt is."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (240, 40 + 22 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for row, line in enumerate(lines):
        draw.text((16, 16 + 22 * row), line, fill="black")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return clean(buffer.getvalue())
