"""The audit statement, parsed back with pypdf, pdftotext and qpdf, on both engines."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncSession

from app.documents import DecisionLine, render_statement
from app.documents.pdf import Limits
from app.documents.routes import DECISIONS_STATE_KEY, LIMITS_STATE_KEY
from ledger.checkpoint import Verifier, verify_note
from ledger.models import Group
from proposals import service as proposals
from proposals.schemas import ProposalIn
from tests.pdf.ledger_data import (
    PERIOD,
    Client,
    all_entries,
    expected_balances,
    holding_moves,
    in_period,
    money,
    record,
    record_ledger,
)
from tests.pdf.reading import (
    fonts_without_embedded_file,
    pdftotext,
    qpdf_check,
    reader,
    uncompressed,
    without_bidi_marks,
    words_with_boxes,
    xmp,
)
from tests.support.people import World, build_world

ROW = re.compile(
    r"^\s*(?P<seq>\d+)\s+(?P<date>\d{4}-\d{2}-\d{2})\s+"
    r"(?P<kind>donation|disbursement|transfer|reversal)\s+"
    r"(?P<amount>[+-]\d+\.\d{2})\s+(?P<balance>-?\d+\.\d{2})(?:\s+|$)",
    re.MULTILINE,
)
OPENING = re.compile(r"Opening balance at the start of (\S+)\s+(-?\d+\.\d{2}) EUR")
CLOSING = re.compile(r"Closing balance at the end of (\S+)\s+(-?\d+\.\d{2}) EUR")


async def statement(client: Client, world: World, query: str = "") -> bytes:
    response = await client.get(f"/g/{world.slug}/audit.pdf{query}")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    return response.content


def period_query(start: date, end: date) -> str:
    return f"?from={start.isoformat()}&to={end.isoformat()}"


def fund_sections(text: str) -> list[str]:
    """The text of each fund's section, from its opening to its closing balance line."""
    starts = [m.start() for m in OPENING.finditer(text)]
    ends = [m.end() for m in CLOSING.finditer(text)]
    assert len(starts) == len(ends)
    return [text[a:b] for a, b in zip(starts, ends, strict=True)]


async def test_statement_lists_every_entry_of_the_period_with_the_ledgers_balances(
    client: Client, world: World, tmp_path: Path
) -> None:
    await record_ledger(client, world)
    entries = await all_entries(client, world)
    start, end = PERIOD
    pdf = await statement(client, world, period_query(start, end))
    text = pdftotext(pdf, tmp_path)
    opening, closing = expected_balances(entries, start, end)

    sections = fund_sections(text)
    assert len(sections) == 2
    for fund, section in zip(("rent-relief", "groceries"), sections, strict=True):
        assert OPENING.search(section)[2] == money(opening[fund])  # type: ignore[index]
        assert CLOSING.search(section)[2] == money(closing[fund])  # type: ignore[index]
        rows = [m.groupdict() for m in ROW.finditer(section)]
        expected = [
            (e, holding_moves(e)[fund])
            for e in entries
            if in_period(e, start, end) and fund in holding_moves(e)
        ]
        assert [int(r["seq"]) for r in rows] == [e["seq"] for e, _ in expected]
        balance = opening[fund]
        for row, (entry, amount) in zip(rows, expected, strict=True):
            balance += amount
            assert row["date"] == entry["occurred_on"]
            assert row["kind"] == entry["kind"]
            assert row["amount"] == ("+" if amount > 0 else "") + money(amount)
            assert row["balance"] == money(balance)
        assert balance == closing[fund]

    outside = [e["seq"] for e in entries if not in_period(e, start, end)]
    printed = {int(m["seq"]) for m in ROW.finditer(text)}
    assert printed.isdisjoint(outside)
    # pypdf reads the same rows: every memo of the period is in the text.
    pypdf_text = "\n".join(page.extract_text() for page in reader(pdf).pages)
    for entry in entries:
        if in_period(entry, start, end):
            assert entry["memo"] in pypdf_text
            assert entry["memo"] in text


async def test_statement_of_the_whole_history_closes_at_the_funds_balances(
    client: Client, world: World, tmp_path: Path
) -> None:
    await record_ledger(client, world)
    first = await record(
        client, world, {"kind": "reversal", "reverses": 2, "memo": "Counted twice"}
    )
    funds = (await client.get(f"/api/groups/{world.slug}/funds")).json()
    text = pdftotext(await statement(client, world), tmp_path)

    assert "Period 2024-01-05 to" in text  # from the first entry's day by default
    closings = [m[2] for m in CLOSING.finditer(text)]
    assert closings == [fund["balance"] for fund in funds]
    openings = [m[2] for m in OPENING.finditer(text)]
    assert openings == ["0.00", "0.00"]
    assert re.search(rf"^\s*{first['seq']}\s+\S+\s+reversal\s", text, re.MULTILINE)


async def test_statement_carries_the_periods_leaves_and_the_signed_checkpoint(
    client: Client, world: World, tmp_path: Path
) -> None:
    await record_ledger(client, world)
    start, end = PERIOD
    pdf = await statement(client, world, period_query(start, end))
    attachments = reader(pdf).attachments
    leaves_name = f"{world.slug}-leaves-{start.isoformat()}-{end.isoformat()}.jsonl"
    assert set(attachments) == {leaves_name, "checkpoint.txt"}

    export = (await client.get(f"/api/groups/{world.slug}/export.jsonl")).content
    expected = b"".join(
        line + b"\n"
        for line in export.splitlines()
        if start <= date.fromisoformat(json.loads(line)["occurred_on"]) <= end
    )
    assert expected
    assert attachments[leaves_name] == [expected]

    note = (await client.get(f"/api/groups/{world.slug}/checkpoint")).text
    assert attachments["checkpoint.txt"] == [note.encode()]
    verifier = Verifier.from_vkey((await client.get("/.well-known/commonpurse-key")).text)
    assert verify_note(attachments["checkpoint.txt"][0], verifier).size == 13  # two decisions too


async def test_statement_prints_the_checkpoint_verbatim_and_it_verifies(
    client: Client, world: World, tmp_path: Path
) -> None:
    await record_ledger(client, world)
    pdf = await statement(client, world, period_query(*PERIOD))
    text = pdftotext(pdf, tmp_path, layout=False)
    note = (await client.get(f"/api/groups/{world.slug}/checkpoint")).text
    origin = note.splitlines()[0]

    # Rebuild the note from the printed text alone: origin, size, root, blank, signature.
    lines = text.splitlines()
    top = lines.index(origin)
    signature = next(line for line in lines[top + 3 :] if line.startswith("\u2014 "))
    printed = "\n".join([*lines[top : top + 3], "", signature]) + "\n"
    verifier = Verifier.from_vkey((await client.get("/.well-known/commonpurse-key")).text)
    checkpoint = verify_note(printed, verifier)
    assert printed == note
    assert checkpoint.root.hex() in text
    assert "How to verify this document" in text
    assert "/.well-known/commonpurse-key" in text


async def test_statement_is_pdf_a_3_with_fonts_embedded_metadata_and_a_clean_qpdf_check(
    client: Client, world: World, tmp_path: Path
) -> None:
    await record_ledger(client, world)
    start, end = PERIOD
    pdf = await statement(client, world, period_query(start, end))

    qpdf_check(pdf, tmp_path)
    metadata = xmp(pdf)
    assert re.search(r'pdfaid:part(="|>)3', metadata), metadata
    assert re.search(r'pdfaid:conformance(="|>)U', metadata), metadata
    info = reader(pdf).metadata
    assert info is not None
    assert "Rent Fund" in info.title
    assert f"{start.isoformat()} to {end.isoformat()}" in info.title
    assert world.slug in (info.get("/Keywords") or "")
    assert fonts_without_embedded_file(pdf) == []
    assert "Page 1 of" in pdftotext(pdf, tmp_path)


async def test_statement_headers_and_page_numbers_repeat_on_every_page(
    client: Client, world: World, tmp_path: Path
) -> None:
    for day in range(1, 29):
        await record(
            client,
            world,
            {
                "kind": "donation",
                "fund": "groceries",
                "amount": f"{day}.00",
                "occurred_on": f"2024-02-{day:02d}",
                "memo": "A memo long enough to wrap onto a second line of the memo column, "
                "which makes each entry take two printed lines of the statement",
            },
        )
    pdf = await statement(client, world, period_query(*PERIOD))
    pages = reader(pdf).pages
    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        page_text = page.extract_text()
        assert f"Page {number} of {len(pages)}" in page_text
    # The entries' heading line is at the top of every page the groceries table runs onto.
    text = pdftotext(pdf, tmp_path)
    page_texts = text.split("\f")
    with_rows = [p for p in page_texts if ROW.search(p)]
    assert len(with_rows) >= 2
    for page_text in with_rows:
        assert re.search(r"#\s+Date\s+Kind\s+Amount\s+Balance\s+Counterparty\s+Memo", page_text)


HOSTILE_SCRIPT = '<script>alert("pwned")</script><img src="http://example.com/x.png">'
LONG_WORD = "Rent" + "a" * 400 + "Z"
ARABIC = "تبرع من الجيران"
HEBREW = "תרומה מהשכנים"


async def test_a_hostile_memo_prints_as_harmless_text(
    client: Client, world: World, tmp_path: Path
) -> None:
    memos = [
        HOSTILE_SCRIPT,
        LONG_WORD,
        f"{ARABIC} 12.50",
        f"{HEBREW} 40",
        "before \u202eoverride after",
    ]
    for memo in memos:
        await record(
            client,
            world,
            {
                "kind": "donation",
                "fund": "groceries",
                "amount": "1.00",
                "occurred_on": "2024-02-10",
                "memo": memo,
                "counterparty": "R-1",
            },
        )
    pdf = await statement(client, world, period_query(*PERIOD))
    text = pdftotext(pdf, tmp_path)
    plain = without_bidi_marks(text)

    # The markup is printed as text, literally (wrapped where it has a space).
    assert HOSTILE_SCRIPT in " ".join(text.split())
    # No script, no action, no link to the outside in the document.
    expanded = uncompressed(pdf, tmp_path)
    for name in ("/JavaScript", "/JS", "/OpenAction", "/AA", "/Launch", "/URI", "/SubmitForm"):
        assert not re.search(re.escape(name) + r"(?![A-Za-z0-9#+_.-])", expanded), name
    # The long word is all there, wrapped inside the page.
    assert LONG_WORD in re.sub(r"\s+", "", text)
    for word in words_with_boxes(pdf, tmp_path):
        assert word.x_max <= word.page_width, word
        assert word.y_max <= word.page_height, word
    # Right-to-left words are there, and every row still reads seq, date, kind, amounts.
    for rtl_word in (*ARABIC.split(), *HEBREW.split()):
        assert rtl_word in plain
    rows = [m for m in ROW.finditer(plain) if m["date"] == "2024-02-10"]
    assert len(rows) == len(memos)
    assert all(m["amount"] == "+1.00" for m in rows)
    # A bidi override in a memo is shown as a replacement character, not obeyed.
    assert "before \ufffdoverride after" in text
    qpdf_check(pdf, tmp_path)


async def test_bad_periods_are_422_problems(client: Client, world: World) -> None:
    await record_ledger(client, world)
    for query in (
        "?from=2024-13-01",
        "?from=2024-02-30",
        "?to=2024/02/01",
        "?from=yesterday",
        "?from=2024-03-01&to=2024-02-01",
    ):
        response = await client.get(f"/g/{world.slug}/audit.pdf{query}")
        assert response.status_code == 422, (query, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 422


async def test_a_private_groups_documents_are_404_to_non_members(
    client: Client, session: AsyncSession
) -> None:
    world = await build_world(session, slug="quiet-fund", public=False)
    await record(client, world, {"kind": "donation", "fund": "groceries", "amount": "5.00"})
    for path in ("audit.pdf", "entries/1/receipt.pdf"):
        url = f"/g/{world.slug}/{path}"
        assert (await client.get(url)).status_code == 404
        assert (await client.get(url, headers=world.outsider.headers)).status_code == 404
        response = await client.get(url, headers=world.member.headers)
        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "private, no-store"


async def test_a_statement_too_long_for_the_limits_is_refused_before_printing(
    app: Litestar, client: Client, world: World
) -> None:
    await record_ledger(client, world)
    app.state[LIMITS_STATE_KEY] = Limits(max_rows=3)
    response = await client.get(f"/g/{world.slug}/audit.pdf{period_query(*PERIOD)}")
    assert response.status_code == 422
    assert "at most 3" in response.json()["detail"]


async def test_decisions_of_the_period_come_from_the_decisions_hook(
    app: Litestar, client: Client, world: World, tmp_path: Path
) -> None:
    await record_ledger(client, world)
    text = pdftotext(await statement(client, world, period_query(*PERIOD)), tmp_path)
    assert "No decisions were recorded in this period." in text

    asked: list[tuple[date, date]] = []

    async def decisions(
        session: AsyncSession, group: Group, date_from: date, date_to: date
    ) -> list[DecisionLine]:
        asked.append((date_from, date_to))
        return [
            DecisionLine(
                7,
                "Pay <b>March</b> rent for R-17",
                "passed",
                date(2024, 2, 12),
                "300.00 EUR",
                "rent-relief",
            )
        ]

    app.state[DECISIONS_STATE_KEY] = decisions
    text = pdftotext(await statement(client, world, period_query(*PERIOD)), tmp_path)
    assert asked == [PERIOD]
    assert "Pay <b>March</b> rent for R-17" in text
    assert "No decisions were recorded" not in text


async def test_render_statement_works_without_http(
    client: Client, world: World, session: AsyncSession, tmp_path: Path
) -> None:
    await record_ledger(client, world)
    group = await world.fresh_group(session)
    pdf = await render_statement(session, group, *PERIOD, base_url="https://purse.example.org")
    text = pdftotext(pdf, tmp_path)
    assert "https://purse.example.org/.well-known/commonpurse-key" in text
    entries: list[dict[str, Any]] = await all_entries(client, world)
    for entry in entries:
        if in_period(entry, *PERIOD):
            assert re.search(rf"^\s*{entry['seq']}\s+{entry['occurred_on']}\s", text, re.MULTILINE)


async def test_a_group_without_entries_gets_a_statement_that_says_so(
    client: Client, world: World, tmp_path: Path
) -> None:
    pdf = await statement(client, world)
    text = pdftotext(pdf, tmp_path)
    assert [m[2] for m in CLOSING.finditer(text)] == ["0.00", "0.00"]
    assert text.count("No entries moved this fund in the period.") == 2
    assert "no signed checkpoint" in text
    attachments = reader(pdf).attachments
    today = datetime.now(UTC).date()
    assert list(attachments) == [f"{world.slug}-leaves-{today}-{today}.jsonl"]
    assert attachments[next(iter(attachments))] == [b""]
    qpdf_check(pdf, tmp_path)


async def test_entries_with_the_longest_memos_print_in_full_inside_the_pages(
    client: Client, world: World, tmp_path: Path
) -> None:
    memos = [" ".join(f"e{n}w{i:03d}" for i in range(100))[:500] for n in range(7)]
    for memo in memos:
        await record(
            client,
            world,
            {
                "kind": "donation",
                "fund": "groceries",
                "amount": "2.00",
                "occurred_on": "2024-02-11",
                "memo": memo,
            },
        )
    pdf = await statement(client, world, period_query(*PERIOD))
    words = words_with_boxes(pdf, tmp_path)
    printed = [w.text for w in words]
    for memo in memos:
        expected = memo.split()
        start = printed.index(expected[0])
        assert printed[start : start + len(expected)] == expected
    for word in words:
        assert word.x_max <= word.page_width, word
        assert word.y_max <= word.page_height, word


async def _decide(
    session: AsyncSession,
    world: World,
    title: str,
    opened: datetime,
    decided: datetime,
    *,
    block: bool = False,
    withdraw: bool = False,
    fund: str | None = None,
    amount: str | None = None,
) -> int:
    """A proposal opened at ``opened`` and decided at ``decided``: everyone agrees (or the
    admin blocks), or its author withdraws it."""
    group = await world.fresh_group(session)
    proposal = await proposals.create_proposal(
        session,
        group,
        world.member.user,
        ProposalIn(title=title, fund=fund, amount=amount),
        now=opened,
    )
    if withdraw:
        await proposals.withdraw(session, group, proposal.number, world.member.user, now=decided)
    else:
        for person in (world.admin, world.steward, world.facilitator, world.member):
            blocks = block and person is world.admin
            await proposals.respond(
                session,
                group,
                proposal.number,
                person.user,
                "block" if blocks else "agree",
                "The hall was painted last year." if blocks else "",
                now=decided,
            )
    await session.commit()
    return proposal.number


async def test_decisions_taken_in_the_period_are_on_the_statement_and_not_outside_it(
    client: Client, world: World, session: AsyncSession, tmp_path: Path
) -> None:
    await record_ledger(client, world)
    rent = await _decide(
        session,
        world,
        "Rent for R-17 in February",
        datetime(2024, 2, 5, 10, tzinfo=UTC),
        datetime(2024, 2, 12, 9, tzinfo=UTC),
        fund="rent-relief",
        amount="50.00",
    )
    hall = await _decide(
        session,
        world,
        "Paint the hall",
        datetime(2024, 2, 24, 10, tzinfo=UTC),
        datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC),
        block=True,
    )
    freezer = await _decide(
        session,
        world,
        "Buy a chest freezer",
        datetime(2024, 2, 25, 10, tzinfo=UTC),
        datetime(2024, 3, 1, 0, 0, 1, tzinfo=UTC),
        fund="groceries",
        amount="20.00",
    )
    trip = await _decide(
        session,
        world,
        "A trip to the sea",
        datetime(2024, 2, 14, 10, tzinfo=UTC),
        datetime(2024, 2, 15, 8, tzinfo=UTC),
        withdraw=True,
    )
    february = " ".join(
        pdftotext(await statement(client, world, period_query(*PERIOD)), tmp_path).split()
    )
    section = february[february.index("Decisions taken in the period") :]
    assert "No decisions were recorded" not in section
    for title in ("Rent for R-17 in February", "Paint the hall", "A trip to the sea"):
        assert title in section, title
    assert "Buy a chest freezer" not in february
    # Oldest first, each with its outcome, explanation, amount and fund.
    rows = re.findall(r"(\d+) (2024-\d\d-\d\d) (Rent for R-17|A trip|Paint the hall)", section)
    assert [(int(n), day) for n, day, _ in rows] == [
        (rent, "2024-02-12"),
        (trip, "2024-02-15"),
        (hall, "2024-02-29"),
    ]
    shown = (await client.get(f"/api/groups/{world.slug}/proposals/{rent}")).json()
    assert " ".join(shown["rounds"][0]["outcome"]["explanation"].split()) in section
    assert "50.00 EUR from rent-relief" in section
    assert "Blocked" in section
    assert "Withdrawn by its author." in section

    march = " ".join(
        pdftotext(
            await statement(client, world, period_query(date(2024, 3, 1), date(2024, 3, 31))),
            tmp_path,
        ).split()
    )
    section = march[march.index("Decisions taken in the period") :]
    assert f"{freezer} 2024-03-01 Buy a chest freezer" in section
    assert "20.00 EUR from groceries" in section
    for title in ("Rent for R-17", "Paint the hall", "A trip to the sea"):
        assert title not in march, title

    january = pdftotext(
        await statement(client, world, period_query(date(2024, 1, 1), date(2024, 1, 31))),
        tmp_path,
    )
    assert "No decisions were recorded in this period." in january
