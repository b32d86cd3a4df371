"""The books against the bank in a real browser, against the real server (#13): a steward
on a 360 px phone uploads a CSV export whose header names nothing the guess knows, maps its
columns in the editor against the file's first lines (a wrong date format is named at its
line), previews and imports it (the mapping is saved for the place); then, at a desk,
confirms the entry suggested for one bank line (takes the confirmation back and makes it
again), turns an unmatched credit into a donation,
and sees each line's status change; confirms the payment recorded for the last line; goes
from the statement to the place page's form and closes the reconciliation through the
statement's last day (a closing balance a cent off is refused at its field first); and a
visitor sees on the group page that the books match the bank, with the proof.

Each step is a function taking the ``BankFlow``, so the flow can grow. The statement's days
are counted back from today, so the public badge never ages into "not reconciled since"."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from babel.dates import format_date
from playwright.sync_api import expect

from ledger.merkle import verify_inclusion
from tests.browser.steps import (
    DESKTOP,
    NARROW_PHONE,
    Cast,
    accessibility_violations,
    adopt_policy,
    fits_the_screen,
    log_in,
)

# The statement's three days, about a month back (within ``STALE_AFTER`` of today).
DAYS = [date.today() - timedelta(days=back) for back in (34, 31, 26)]
# What the bank says the account held at the end of the last day: it was opened for the
# group, so the three lines are all it ever booked (50.00 + 120.00 - 84.37).
CLOSING_BALANCE = "85.63"
# A small bank's export: a preamble line, then a header in words no guess knows ("When",
# "Sum"), decimal commas, day-first dates.
STATEMENT = (
    "Account 0532013000 - statement\n"
    "When;What;Who;Sum\n"
    f"{DAYS[0]:%d/%m/%Y};Donation November;María López;50,00\n"
    f"{DAYS[1]:%d/%m/%Y};Spende Gemeinschaftskasse;Jonas Weiß;120,00\n"
    f"{DAYS[2]:%d/%m/%Y};Groceries pantry week 45;Biomarkt Nord;-84,37\n"
)


@dataclass
class BankFlow:
    """Where the flow stands: the steward's page, the place's statements and the imported
    statement's page (what a later step, such as closing a reconciliation, starts from)."""

    page: Any
    server: str
    slug: str
    place: str
    statements_url: str
    artifacts: Path
    statement_url: str = ""


def import_with_a_new_mapping(flow: BankFlow, file: Path, found: dict[str, list[str]]) -> None:
    """Upload the CSV, map its columns in the editor, preview, import."""
    page = flow.page
    page.goto(flow.statements_url)
    page.get_by_label("Statement file", exact=True).set_input_files(str(file))
    page.get_by_role("button", name="Preview").click()
    editor = page.locator("form", has=page.locator("input[name=editor]"))
    expect(page.get_by_role("heading", name=f"Map the columns of {file.name}")).to_be_visible()
    # The file's first lines, split into numbered columns, scroll inside their own box.
    lines = page.get_by_role("region", name="The file's first lines")
    expect(lines).to_contain_text("Biomarkt Nord")
    expect(lines.get_by_role("columnheader", name="Column 4")).to_be_attached()
    fits_the_screen(page, NARROW_PHONE["width"])
    found["mapping editor, as guessed"] = accessibility_violations(page)
    # The guess found the preamble, the dates and the amounts with their decimal comma
    # from the values alone, and already reads the file; the texts are the steward's.
    expect(editor.get_by_label("Lines to skip at the start", exact=True)).to_have_value("1")
    expect(editor.get_by_label("Date format", exact=True)).to_have_value("%d/%m/%Y")
    expect(editor.get_by_label("Amount column", exact=True)).to_have_value("4")
    expect(editor.get_by_label("Comma: 1234,50", exact=True)).to_be_checked()
    expect(page.get_by_role("status")).to_contain_text("3 lines read")
    # A wrong date format: the preview names the line it stops at, and keeps the fields.
    editor.get_by_label("Date format", exact=True).select_option("%Y-%m-%d")
    editor.get_by_role("button", name="Preview").click()
    expect(page.locator("#error-preview")).to_contain_text(
        f"Line 3: the date '{DAYS[0]:%d/%m/%Y}' is not a date written as '%Y-%m-%d'."
    )
    found["mapping editor with an error"] = accessibility_violations(page)
    # The steward maps the rest against the lines shown.
    editor.get_by_label("Date format", exact=True).select_option("%d/%m/%Y")
    editor.get_by_label("2: What", exact=True).check()
    editor.get_by_label("Counterparty column", exact=True).select_option("3")
    editor.get_by_role("button", name="Preview").click()
    read = page.get_by_role("region", name="Lines read")
    expect(page.get_by_role("status")).to_contain_text("3 lines read")
    expect(read).to_contain_text("Spende Gemeinschaftskasse")
    expect(read).to_contain_text("-€84.37")
    fits_the_screen(page, NARROW_PHONE["width"])
    found["mapping editor, previewed"] = accessibility_violations(page)
    page.screenshot(path=str(flow.artifacts / "bank-mapping-editor.png"), full_page=True)
    page.get_by_role("button", name="Import", exact=True).click()
    page.wait_for_url(f"{flow.statements_url}/*")
    flow.statement_url = page.url


def line_of(page: Any, text: str) -> Any:
    return page.locator("li.card", has_text=text)


def confirm_the_suggestion(flow: BankFlow, text: str, seq: int) -> None:
    """Confirm the entry suggested for the bank line that reads ``text``."""
    line = line_of(flow.page, text)
    expect(line.locator(".badge")).to_have_text("Suggested")
    expect(line).to_contain_text("Suggested entries:")
    expect(line).to_contain_text(f"#{seq}")
    line.get_by_role("button", name="Confirm").click()
    expect(line_of(flow.page, text).locator(".badge")).to_have_text("Matched")
    expect(line_of(flow.page, text)).to_contain_text(f"Matched with entry {seq}.")


def reject_and_take_back(flow: BankFlow, text: str, seq: int) -> None:
    """Say the entry suggested for the line that reads ``text`` is not it (a mis-tap), then
    take that back: the card lists the rejection, and the entry is suggested again."""
    line_of(flow.page, text).get_by_role("button", name="Not this one").click()
    line = line_of(flow.page, text)
    expect(line.locator(".badge")).to_have_text("Unmatched")
    expect(line).to_contain_text("Entries a steward said are not this line:")
    expect(line).to_contain_text(f"#{seq}, on")
    line.get_by_role("button", name="Suggest it again").click()
    line = line_of(flow.page, text)
    expect(line.locator(".badge")).to_have_text("Suggested")
    expect(line.get_by_role("button", name="Suggest it again")).to_have_count(0)


def undo_the_match(flow: BankFlow, text: str, seq: int) -> None:
    """Take the bank line that reads ``text`` out of its match (confirmed by mistake): it
    is open again, and its card says which match it left."""
    line_of(flow.page, text).get_by_role("button", name="Undo this match").click()
    line = line_of(flow.page, text)
    expect(line.locator(".badge")).to_have_text("Suggested")
    expect(line).to_contain_text(f"Taken out of a match with entry {seq} on")


def make_a_donation(flow: BankFlow, text: str, fund: str) -> None:
    """Turn the unmatched credit that reads ``text`` into a donation to ``fund``."""
    line = line_of(flow.page, text)
    expect(line.locator(".badge")).to_have_text("Unmatched")
    expect(line).to_contain_text("No entry matches this line.")
    line.get_by_label("Fund", exact=True).select_option(fund)
    line.get_by_role("button", name="Make it a donation").click()
    expect(line_of(flow.page, text).locator(".badge")).to_have_text("Matched")
    expect(line_of(flow.page, text)).to_contain_text("Matched with entry ")


def adopt_a_grocery_policy(flow: BankFlow, cast: Cast) -> int:
    """A spending policy for groceries that the whole group agreed to; its number."""
    policy = {
        "fund": "groceries",
        "max_per_payment": "150.00",
        "max_per_month": "400.00",
        "purpose": "Weekly pantry shopping",
    }
    return adopt_policy(flow.server, cast, "Pantry shopping", policy)


def record_the_payment(flow: BankFlow, cast: Cast, policy: int) -> int:
    """The steward records the shop's payment the bank booked on the last day; its number."""
    paid = httpx.post(
        f"{flow.server}/api/groups/{flow.slug}/entries",
        json={"kind": "disbursement", "fund": "groceries", "amount": "84.37",
              "counterparty": "Biomarkt Nord", "policy": policy,
              "occurred_on": DAYS[2].isoformat(), "memo": "Pantry, week 45"},
        headers=cast.steward.headers,
        timeout=30,
    )  # fmt: skip
    assert paid.status_code == 201, paid.text
    seq: int = paid.json()["seq"]
    return seq


def close_the_reconciliation(flow: BankFlow, found: dict[str, list[str]]) -> None:
    """From the statement's page to the place page's form, filled in with the statement's
    last day; a closing balance a cent off is refused at its field, then the right one
    closes the books."""
    page = flow.page
    page.goto(flow.statement_url)
    expect(page.locator("li.card .badge")).to_have_text(["Matched", "Matched", "Matched"])
    page.get_by_role("link", name="Close the reconciliation").click()
    page.wait_for_url(f"**/m/{flow.slug}/places/new?reconcile={flow.place}#reconcile")
    form = page.locator("form", has=page.get_by_role("heading", name="Close a reconciliation"))
    expect(form.get_by_label("Through the day", exact=True)).to_have_value(DAYS[2].isoformat())
    found["place page"] = accessibility_violations(page)
    balance = form.get_by_label("Closing balance", exact=True)
    # A cent off: refused, said at the field, with what the books hold.
    cent_off = str(Decimal(CLOSING_BALANCE) - Decimal("0.01"))
    balance.fill(cent_off)
    form.get_by_role("button", name="Close the reconciliation").click()
    error = page.locator("#error-closing_balance")
    expect(error).to_contain_text(f"The books put {CLOSING_BALANCE} EUR")
    expect(error).to_contain_text(f"the closing balance given is {cent_off} EUR")
    form = page.locator("form", has=page.get_by_role("heading", name="Close a reconciliation"))
    balance = form.get_by_label("Closing balance", exact=True)
    expect(balance).to_have_attribute("aria-invalid", "true")
    expect(balance).to_have_value(cent_off)  # what was typed is kept
    expect(page.get_by_role("alert")).to_contain_text(f"The books put {CLOSING_BALANCE} EUR")
    found["place page with a refusal"] = accessibility_violations(page)
    page.set_viewport_size(NARROW_PHONE)
    fits_the_screen(page, NARROW_PHONE["width"])
    page.screenshot(path=str(flow.artifacts / "bank-reconciliation-refused.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    balance.fill(CLOSING_BALANCE)
    form.get_by_role("button", name="Close the reconciliation").click()
    expect(page.get_by_role("status")).to_contain_text(
        "The reconciliation is closed and in the log."
    )
    found["place page, closed"] = accessibility_violations(page)
    # Closed through the statement's last day: the statement has nothing left to close.
    page.goto(flow.statement_url)
    expect(page.get_by_role("link", name="Close the reconciliation")).to_have_count(0)
    expect(page.get_by_text("The books of this place match the bank through")).to_be_visible()


def see_the_public_badge(flow: BankFlow, visitor: Any, found: dict[str, list[str]]) -> None:
    """A visitor reads on the group page that the books match the bank as of the statement's
    last day, and follows the proof: the reconciliation's inclusion proof in the log."""
    visitor.goto(f"{flow.server}/g/{flow.slug}")
    badge = visitor.locator(".reconciled--ok")
    day = format_date(DAYS[2], format="medium", locale="en")
    expect(badge).to_contain_text(f"Books match the bank as of {day}")
    found["group page"] = accessibility_violations(visitor)
    visitor.screenshot(path=str(flow.artifacts / "bank-reconciled-badge.png"), full_page=True)
    with visitor.expect_response(lambda response: "/proof" in response.url) as answered:
        badge.get_by_role("link", name="proof").click()
    response = answered.value
    assert response.status == 200, response.text()
    proof = json.loads(response.text())
    entry = httpx.get(
        f"{flow.server}/api/groups/{flow.slug}/entries/{proof['seq']}", timeout=30
    ).json()
    assert entry["kind"] == "reconciliation", entry
    assert verify_inclusion(
        bytes.fromhex(proof["leaf_hash"]),
        proof["leaf_index"],
        proof["tree_size"],
        [bytes.fromhex(node) for node in proof["audit_path"]],
        bytes.fromhex(proof["root"]),
    ), proof
    assert proof["leaf_hash"] == entry["hash"]


def test_a_steward_maps_a_new_csv_settles_its_lines_and_closes_the_reconciliation_in_public(
    chromium: Any, server: str, cast: Cast, artifacts: Path, tmp_path: Path
) -> None:
    slug = cast.world.slug
    recorded = httpx.post(
        f"{server}/api/groups/{slug}/entries",
        json={"kind": "donation", "fund": "rent-relief", "amount": "50.00",
              "occurred_on": DAYS[0].isoformat(), "memo": "Standing order"},
        headers=cast.steward.headers,
        timeout=30,
    )  # fmt: skip
    assert recorded.status_code == 201, recorded.text
    seq = recorded.json()["seq"]
    file = tmp_path / "export-2026-11.csv"
    file.write_text(STATEMENT, encoding="utf-8")
    found: dict[str, list[str]] = {}
    opened: list[Any] = []
    try:
        # 1. On a phone, the steward imports the file through the mapping editor.
        phone = chromium.new_context(viewport=NARROW_PHONE, is_mobile=True, has_touch=True)
        opened.append(phone)
        page = phone.new_page()
        log_in(page, server, cast.steward.user.email, cast.password)
        base = f"{server}/m/{slug}/places/bank/statements"
        flow = BankFlow(
            page=page,
            server=server,
            slug=slug,
            place="bank",
            statements_url=base,
            artifacts=artifacts,
        )
        import_with_a_new_mapping(flow, file, found)
        page.screenshot(path=str(artifacts / "bank-statement-imported.png"), full_page=True)

        # 2. At a desk, the lines: one suggested, one credit with no entry, one debit.
        desk = chromium.new_context(viewport=DESKTOP)
        opened.append(desk)
        flow.page = page = desk.new_page()
        log_in(page, server, cast.steward.user.email, cast.password)
        page.goto(flow.statement_url)
        found["statement lines"] = accessibility_violations(page)
        expect(line_of(page, "Biomarkt Nord")).to_contain_text("Money that left without an entry")
        # A suggestion rejected by mistake, taken back.
        reject_and_take_back(flow, "María López", seq)
        confirm_the_suggestion(flow, "María López", seq)
        # A confirmation taken back, then made again.
        undo_the_match(flow, "María López", seq)
        confirm_the_suggestion(flow, "María López", seq)
        make_a_donation(flow, "Jonas Weiß", "groceries")
        # 3. The statuses as they now stand, the same after a reload.
        page.reload()
        expect(page.locator("li.card .badge")).to_have_text(["Matched", "Matched", "Unmatched"])
        expect(line_of(page, "Biomarkt Nord")).to_contain_text("No entry matches this line.")
        lines = httpx.get(
            f"{server}/api/groups/{slug}/places/bank/statements/1/lines",
            headers=cast.steward.headers,
            timeout=30,
        ).json()
        assert [line["status"] for line in lines] == ["matched", "matched", "unmatched"]
        page.screenshot(path=str(artifacts / "bank-statement-settled.png"), full_page=True)

        # 4. The mapping was saved: the next export from this bank opens with it.
        page.goto(base)
        page.get_by_label("Statement file", exact=True).set_input_files(str(file))
        page.get_by_role("button", name="Preview").click()
        expect(page.get_by_text("The fields hold this place's saved mapping")).to_be_visible()
        expect(page.get_by_label("Amount column", exact=True)).to_have_value("4")

        # 5. The shop's payment, recorded under the group's policy, is suggested for the
        # debit; the steward confirms it, so every line of the statement is matched.
        paid = record_the_payment(flow, cast, adopt_a_grocery_policy(flow, cast))
        page.goto(flow.statement_url)
        confirm_the_suggestion(flow, "Biomarkt Nord", paid)

        # 6. The steward closes the reconciliation through the statement's last day.
        close_the_reconciliation(flow, found)

        # 7. Anyone sees that the books match the bank, and the proof.
        public = chromium.new_context(viewport=DESKTOP)
        opened.append(public)
        see_the_public_badge(flow, public.new_page(), found)
    finally:
        for context in opened:
            context.close()
    problems = {where: issues for where, issues in found.items() if issues}
    assert not problems, problems
