"""Bad input on every route of the API: a 4xx problem document (``application/problem+json``)
with a clear ``detail`` and, where a field is at fault, ``errors`` naming it; nothing changes
(the ledger's verify head, the fund balances and every row of the database are the same
after); never a 500.

Each case is one request. The cases of one engine share one database (a bad request changes
nothing, and each case compares before with after itself), so the list runs in seconds.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import MetaData, select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.asgi import create_app
from app.db import create_engine, create_session_maker
from app.settings import Settings
from ledger import groups, service
from ledger.schemas import FundIn, PlaceIn
from ledger.verify import verify_group
from tests.support.people import World, ask_for_support, build_world
from tests.support.receipts import png_with_text
from tests.support.routes import PATH_PARAMETER, app_routes

pytestmark = pytest.mark.asyncio(loop_scope="module")

Client = AsyncTestClient[Litestar]
PROBLEM = "application/problem+json"
GROUP = "rent-fund"
SOLO = "solo-purse"  # a group whose only admin is the target of the last-admin cases
HUGE = str(2**70)  # beyond any 64-bit column

# --- the cases ----------------------------------------------------------------------------

ENTRIES = "/api/groups/{group:str}/entries"
ENTRY = "/api/groups/{group:str}/entries/{seq:int}"
PROOF = "/api/groups/{group:str}/entries/{seq:int}/proof"
ATTACHMENTS = "/api/groups/{group:str}/entries/{seq:int}/attachments"
ATTACHMENT = "/api/groups/{group:str}/entries/{seq:int}/attachments/{sha256:str}"
RECEIPT_SETTINGS = "/api/groups/{group:str}/receipt-settings"
CLAIMS = "/api/groups/{group:str}/claims"
BOUNDARY = "receipt-boundary-7MA4YWxkTrZu0gW"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"
MEMBERS = "/api/groups/{group:str}/members"
MEMBER = "/api/groups/{group:str}/members/{member_id:int}"
MEMBER_DATA = "/api/groups/{group:str}/members/{member_id:int}/personal-data"
FUNDS = "/api/groups/{group:str}/funds"
FUND = FUNDS + "/{fund:str}"
RENT = {"fund": "rent-relief"}
PLACES = "/api/groups/{group:str}/places"
PLACE = PLACES + "/{place:str}"
BANK = {"place": "bank"}
STATEMENTS = PLACES + "/{place:str}/statements"
LINES = STATEMENTS + "/{statement:int}/lines"
LINE = LINES + "/{line:int}"
STATEMENT_SETTINGS = PLACES + "/{place:str}/statement-settings"
RECONCILIATIONS = PLACES + "/{place:str}/reconciliations"
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "statements"
GROUPS = "/api/groups"
PROPOSALS = "/api/groups/{group:str}/proposals"
PROPOSAL = "/api/groups/{group:str}/proposals/{number:int}"
RULES = "/api/groups/{group:str}/rules"
GIVING = "/api/groups/{group:str}/giving"
THANKS = ENTRY + "/thanks"  # entry 1 is a donation
GOOD_IBAN = "DE89 3704 0044 0532 0130 00"
COMMENTS = PROPOSAL + "/comments"
COMMENT = COMMENTS + "/{comment_id:int}"
REQUESTS = "/api/groups/{group:str}/requests"
REQUEST = "/api/groups/{group:str}/requests/{request_id:int}"
INVITES = "/api/groups/{group:str}/invites"
INVITE = "/api/groups/{group:str}/invites/{invite_id:int}"
WITNESSES = "/api/groups/{group:str}/witnesses"
# A witness's verifier key (C2SP tlog-cosignature, type 0x04), from Go's formats/note tests.
WITNESS_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"

NO_BODY = object()


@dataclass(frozen=True)
class Case:
    """One bad request and what it must get back."""

    id: str
    method: str
    route: str  # the route as Litestar names it
    body: Any = NO_BODY  # sent as JSON
    content: bytes | None = None  # sent as it is, with ``content_type``
    content_type: str | None = None
    query: str = ""
    params: dict[str, str] = field(default_factory=dict)  # path parameters
    headers: dict[str, str] = field(default_factory=dict)
    caller: str = "steward"
    status: tuple[int, ...] = (422,)
    field: str | None = None  # the field ``errors`` must name


def multipart(
    content: bytes, *, name: str = "file", filename: str = "receipt.jpg", kind: str = "image/jpeg"
) -> bytes:
    """A form with one file part, as a browser or ``curl -F`` sends it."""
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; '
            f'filename="{filename}"\r\nContent-Type: {kind}\r\n\r\n'
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def claim_form(content: bytes = b"\xff\xd8\xff", **changes: str) -> bytes:
    """A claim as the members' app sends it: its fields, then the receipt's file."""
    fields = {"fund": "groceries", "amount": "12.00", "what_for": "Soap", **changes}
    parts = b"".join(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    return parts + multipart(content)


def claim_case(id: str, status: int, field: str, content: bytes = b"", **changes: str) -> Case:
    return Case(
        id,
        "POST",
        CLAIMS,
        content=claim_form(content or png_with_text(), **changes),
        content_type=MULTIPART,
        caller="member",
        status=(status,),
        field=field,
    )


def attachment_case(id: str, content: bytes, status: int, **changes: Any) -> Case:
    return Case(
        id,
        "POST",
        ATTACHMENTS,
        content=multipart(content, **changes),
        content_type=MULTIPART,
        params={"seq": "1"},
        status=(status,),
        field="file",
    )


def statement_case(id: str, name: str, status: int = 422, place: str = "bank") -> Case:
    """A statement file from the samples, sent as the API takes it."""
    content = (SAMPLES / name).read_bytes()
    return Case(
        id,
        "POST",
        STATEMENTS,
        content=multipart(content, filename=name, kind="application/octet-stream"),
        content_type=MULTIPART,
        params={"place": place},
        status=(status,),
        field="file" if status == 422 else None,
    )


def donation(**changes: Any) -> dict[str, Any]:
    return {"kind": "donation", "fund": "groceries", "amount": "5.00", **changes}


def without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


CASES = [
    # Bank statements: every refusal stores nothing (no statement, no line).
    statement_case("statement with a date that does not parse", "mt940-bad-date.sta"),
    statement_case("statement in another currency", "camt-wrong-currency.xml"),
    statement_case("statement in no format read", "unknown.txt"),
    statement_case("statement with entity expansion", "billion-laughs.xml"),
    statement_case("statement of no such place", "november.sta", status=404, place="nowhere"),
    Case(
        "statements of no such place", "GET", STATEMENTS, params={"place": "nowhere"}, status=(404,)
    ),
    Case(
        "lines of statement 0",
        "GET",
        LINES,
        params={"place": "bank", "statement": "0"},
        status=(404,),
    ),
    Case(
        "lines of no such statement",
        "GET",
        LINES,
        params={"place": "bank", "statement": "999"},
        status=(404,),
    ),
    Case(
        "lines by the page of none",
        "GET",
        LINES,
        query="limit=0",
        params={"place": "bank", "statement": "1"},
        status=(400,),
    ),
    Case(
        "match naming no entry",
        "POST",
        LINE + "/match",
        {"entries": []},
        params={"place": "bank", "statement": "1", "line": "1"},
        field="entries",
    ),
    Case(
        "withdrawing import 0",
        "DELETE",
        STATEMENTS + "/{statement:int}",
        params={"place": "bank", "statement": "0"},
        status=(404,),
    ),
    Case(
        "withdrawing an import of no such place",
        "DELETE",
        STATEMENTS + "/{statement:int}",
        params={"place": "nowhere", "statement": "1"},
        status=(404,),
    ),
    Case(
        "undoing the match of line 0",
        "DELETE",
        LINE + "/match",
        params={"place": "bank", "statement": "1", "line": "0"},
        status=(404,),
    ),
    Case(
        "undoing the match of a line too large to be one",
        "DELETE",
        LINE + "/match",
        params={"place": "bank", "statement": "1", "line": HUGE},
        status=(404,),
        field="line",
    ),
    Case(
        "reject entry 0",
        "POST",
        LINE + "/reject",
        {"entry": 0},
        params={"place": "bank", "statement": "1", "line": "1"},
        field="entry",
    ),
    Case(
        "taking back the rejection of entry 0",
        "DELETE",
        LINE + "/rejections/{entry:int}",
        params={"place": "bank", "statement": "1", "line": "1", "entry": "0"},
        status=(404,),
        field="entry",
    ),
    Case(
        "taking back the rejection of an entry too large to be one",
        "DELETE",
        LINE + "/rejections/{entry:int}",
        params={"place": "bank", "statement": "1", "line": "1", "entry": HUGE},
        status=(404,),
        field="entry",
    ),
    Case(
        "donation to no fund",
        "POST",
        LINE + "/donation",
        {"fund": ""},
        params={"place": "bank", "statement": "1", "line": "1"},
        field="fund",
    ),
    Case(
        "reconciliation with a closing balance as a JSON number",
        "POST",
        RECONCILIATIONS,
        {"through": "2026-11-30", "closing_balance": 100},
        params={"place": "bank"},
        status=(400, 422),
        field="closing_balance",
    ),
    Case(
        "reconciliation through a day that is not one",
        "POST",
        RECONCILIATIONS,
        {"through": "2026-11-31", "closing_balance": "0.00"},
        params={"place": "bank"},
        status=(400, 422),
        field="through",
    ),
    Case(
        "reconciliation with more decimals than the currency has",
        "POST",
        RECONCILIATIONS,
        {"through": "2026-11-30", "closing_balance": "-0.001"},
        params={"place": "bank"},
        field="closing_balance",
    ),
    Case(
        "reconciliation no statement covers",
        "POST",
        RECONCILIATIONS,
        {"through": "2026-11-30", "closing_balance": "0.00"},
        params={"place": "bank"},
        field="through",
    ),
    Case(
        "reconciliations of no such place",
        "GET",
        RECONCILIATIONS,
        params={"place": "nowhere"},
        status=(404,),
    ),
    Case(
        "statement settings of no such place",
        "GET",
        STATEMENT_SETTINGS,
        params={"place": "nowhere"},
        status=(404,),
    ),
    Case(
        "matching window of 61 days",
        "PUT",
        STATEMENT_SETTINGS,
        {"match_window_days": 61},
        params={"place": "bank"},
        field="match_window_days",
    ),
    Case(
        "mapping without its in and out columns",
        "PUT",
        STATEMENT_SETTINGS,
        {"mapping": {"date": "Date", "sign": "in-out"}},
        params={"place": "bank"},
        field="mapping.amount_in",
    ),
    # Amounts (CONTRACT section 3: decimal strings in the currency's major unit).
    Case("amount as a JSON number", "POST", ENTRIES, donation(amount=12), field="amount"),
    Case("amount as a JSON float", "POST", ENTRIES, donation(amount=12.5), field="amount"),
    Case("amount with an exponent", "POST", ENTRIES, donation(amount="1e3"), field="amount"),
    Case("amount with a capital exponent", "POST", ENTRIES, donation(amount="5E2"), field="amount"),
    Case("3 decimals for EUR", "POST", ENTRIES, donation(amount="1.001"), field="amount"),
    Case("decimals for JPY", "POST", ENTRIES, donation(fund="yen", amount="1.5"), field="amount"),
    Case(
        "4 decimals for KWD",
        "POST",
        ENTRIES,
        donation(fund="dinar", amount="1.0001"),
        field="amount",
    ),
    Case("amount zero", "POST", ENTRIES, donation(amount="0"), field="amount"),
    Case("amount zero with decimals", "POST", ENTRIES, donation(amount="0.00"), field="amount"),
    Case("negative amount", "POST", ENTRIES, donation(amount="-5.00"), field="amount"),
    Case("amount with a plus sign", "POST", ENTRIES, donation(amount="+5.00"), field="amount"),
    Case("amount with a leading space", "POST", ENTRIES, donation(amount=" 5.00"), field="amount"),
    Case("amount with a trailing space", "POST", ENTRIES, donation(amount="5.00 "), field="amount"),
    Case("amount with an inner space", "POST", ENTRIES, donation(amount="5 .00"), field="amount"),
    Case("empty amount", "POST", ENTRIES, donation(amount=""), field="amount"),
    Case("amount with a leading zero", "POST", ENTRIES, donation(amount="05.00"), field="amount"),
    Case("amount with a comma", "POST", ENTRIES, donation(amount="5,00"), field="amount"),
    Case("huge amount", "POST", ENTRIES, donation(amount="9" * 20), field="amount"),
    Case("amount of 41 digits", "POST", ENTRIES, donation(amount="1" * 41), field="amount"),
    Case("amount as null", "POST", ENTRIES, donation(amount=None), field="amount"),
    # Funds, kinds and the shape of the body.
    Case("unknown fund", "POST", ENTRIES, donation(fund="nope"), field="fund"),
    Case(
        "fund with a NUL character",
        "POST",
        ENTRIES,
        donation(fund="groc\x00eries"),
        field="fund",
    ),
    Case("unknown kind", "POST", ENTRIES, donation(kind="gift"), field="kind"),
    Case("kind as a number", "POST", ENTRIES, donation(kind=1), field="kind"),
    Case("missing kind", "POST", ENTRIES, without(donation(), "kind"), field="kind"),
    Case("missing amount", "POST", ENTRIES, without(donation(), "amount"), field="amount"),
    Case("missing fund", "POST", ENTRIES, without(donation(), "fund"), field="fund"),
    Case("unknown extra field", "POST", ENTRIES, donation(note="hi"), field="note"),
    Case("malformed JSON", "POST", ENTRIES, content=b'{"kind": "donation",', status=(400,)),
    Case("JSON with trailing text", "POST", ENTRIES, content=b"{} and more", status=(400,)),
    Case("body that is not UTF-8", "POST", ENTRIES, content=b'{"memo": "\xff"}', status=(400,)),
    Case(
        "JSON sent as text/plain",
        "POST",
        ENTRIES,
        content=json.dumps(donation(amount="1.00")).encode(),
        content_type="text/plain",
        status=(415,),
    ),
    Case(
        "a form instead of JSON",
        "POST",
        ENTRIES,
        content=b"kind=donation&fund=groceries&amount=5.00",
        content_type="application/x-www-form-urlencoded",
        status=(400, 415),
    ),
    Case("body that is an array", "POST", ENTRIES, [donation()]),
    Case("body that is a string", "POST", ENTRIES, "donation"),
    Case("body that is null", "POST", ENTRIES, None, status=(400, 422)),
    Case("empty body", "POST", ENTRIES, content=b"", status=(400, 422)),
    Case(
        "JSON nested 1,000 levels deep",
        "POST",
        ENTRIES,
        content=b"[" * 1000 + b"]" * 1000,
        status=(400,),
    ),
    Case(
        "a memo nested 1,000 levels deep",
        "POST",
        ENTRIES,
        content=b'{"kind":"donation","fund":"groceries","amount":"1","memo":'
        + b"[" * 1000
        + b"]" * 1000
        + b"}",
        status=(400,),
    ),
    # Reversals, transfers, disbursements and their other fields.
    Case(
        "reversal without memo", "POST", ENTRIES, {"kind": "reversal", "reverses": 1}, field="memo"
    ),
    Case(
        "reversal with a blank memo",
        "POST",
        ENTRIES,
        {"kind": "reversal", "reverses": 1, "memo": "   "},
        field="memo",
    ),
    Case(
        "reversal of an entry that does not exist",
        "POST",
        ENTRIES,
        {"kind": "reversal", "reverses": 999, "memo": "Typo"},
        field="reverses",
    ),
    Case(
        "reversal of entry zero",
        "POST",
        ENTRIES,
        {"kind": "reversal", "reverses": 0, "memo": "Typo"},
        field="reverses",
    ),
    Case(
        "reversal of a huge entry number",
        "POST",
        ENTRIES,
        {"kind": "reversal", "reverses": 2**70, "memo": "Typo"},
        field="reverses",
    ),
    Case(
        "reversal of an entry number as a string",
        "POST",
        ENTRIES,
        {"kind": "reversal", "reverses": "1", "memo": "Typo"},
        field="reverses",
    ),
    Case(
        "transfer to the same fund",
        "POST",
        ENTRIES,
        {"kind": "transfer", "from_fund": "groceries", "to_fund": "groceries", "amount": "1.00"},
        field="to_fund",
    ),
    Case(
        "transfer between currencies",
        "POST",
        ENTRIES,
        {"kind": "transfer", "from_fund": "groceries", "to_fund": "yen", "amount": "1.00"},
        field="to_fund",
    ),
    Case(
        "transfer without a target",
        "POST",
        ENTRIES,
        {"kind": "transfer", "from_fund": "groceries", "amount": "1.00"},
        field="to_fund",
    ),
    Case(
        "disbursement under no decision",
        "POST",
        ENTRIES,
        donation(kind="disbursement", amount="1000.00"),
        status=(409,),
        field="proposal",
    ),
    Case(
        "disbursement under a policy that does not exist",
        "POST",
        ENTRIES,
        donation(kind="disbursement", amount="1.00", policy=999),
        status=(409,),
        field="policy",
    ),
    Case(
        "disbursement under a proposal and a policy",
        "POST",
        ENTRIES,
        donation(kind="disbursement", amount="1.00", proposal=1, policy=1),
        status=(422,),
        field="policy",
    ),
    Case(
        "disbursement under a proposal that does not exist",
        "POST",
        ENTRIES,
        donation(kind="disbursement", amount="1.00", proposal=999),
        status=(404, 409, 422),
        field="proposal",
    ),
    Case(
        "date that does not exist",
        "POST",
        ENTRIES,
        donation(occurred_on="2025-02-30"),
        field="occurred_on",
    ),
    Case("date in words", "POST", ENTRIES, donation(occurred_on="yesterday"), field="occurred_on"),
    Case(
        "date in year 9999",
        "POST",
        ENTRIES,
        donation(occurred_on="9999-12-31"),
        field="occurred_on",
    ),
    Case(
        "date before 1970", "POST", ENTRIES, donation(occurred_on="1969-12-31"), field="occurred_on"
    ),
    Case(
        "date in year 1", "POST", ENTRIES, donation(occurred_on="0001-01-01"), field="occurred_on"
    ),
    Case(
        "transfer dated in year 9999",
        "POST",
        ENTRIES,
        {
            "kind": "transfer",
            "from_fund": "groceries",
            "to_fund": "rent-relief",
            "amount": "1.00",
            "occurred_on": "9999-12-31",
        },
        field="occurred_on",
    ),
    Case("memo too long", "POST", ENTRIES, donation(memo="x" * 501), field="memo"),
    Case(
        "memo with a NUL character",
        "POST",
        ENTRIES,
        donation(memo="Rent\x00"),
        field="memo",
    ),
    Case(
        "counterparty with a line break",
        "POST",
        ENTRIES,
        donation(counterparty="R-1\n7"),
        field="counterparty",
    ),
    Case("empty counterparty", "POST", ENTRIES, donation(counterparty=""), field="counterparty"),
    Case(
        "empty Idempotency-Key",
        "POST",
        ENTRIES,
        donation(),
        headers={"Idempotency-Key": ""},
        status=(400, 422),
    ),
    Case(
        "Idempotency-Key too long",
        "POST",
        ENTRIES,
        donation(),
        headers={"Idempotency-Key": "k" * 201},
        status=(400, 422),
    ),
    # Listing entries.
    Case(
        "limit zero", "GET", ENTRIES, query="limit=0", caller="member", status=(400,), field="limit"
    ),
    Case(
        "limit 1000",
        "GET",
        ENTRIES,
        query="limit=1000",
        caller="member",
        status=(400,),
        field="limit",
    ),
    Case(
        "limit in words",
        "GET",
        ENTRIES,
        query="limit=ten",
        caller="member",
        status=(400,),
        field="limit",
    ),
    Case(
        "before -1",
        "GET",
        ENTRIES,
        query="before=-1",
        caller="member",
        status=(400,),
        field="before",
    ),
    Case(
        "before zero",
        "GET",
        ENTRIES,
        query="before=0",
        caller="member",
        status=(400,),
        field="before",
    ),
    Case(
        "before in words",
        "GET",
        ENTRIES,
        query="before=last",
        caller="member",
        status=(400,),
        field="before",
    ),
    Case(
        "huge before",
        "GET",
        ENTRIES,
        query=f"before={HUGE}",
        caller="member",
        status=(400, 422),
        field="before",
    ),
    Case(
        "filter by an unknown fund",
        "GET",
        ENTRIES,
        query="fund=nope",
        caller="member",
        field="fund",
    ),
    Case(
        "filter by a fund with a NUL character",
        "GET",
        ENTRIES,
        query="fund=a%00b",
        caller="member",
        field="fund",
    ),
    # Path parameters.
    Case(
        "entry number in words", "GET", ENTRY, params={"seq": "one"}, caller="member", status=(404,)
    ),
    Case(
        "entry number with decimals",
        "GET",
        ENTRY,
        params={"seq": "1.5"},
        caller="member",
        status=(404,),
    ),
    Case(
        "entry that does not exist",
        "GET",
        ENTRY,
        params={"seq": "999"},
        caller="member",
        status=(404,),
    ),
    Case(
        "huge entry number",
        "GET",
        ENTRY,
        params={"seq": HUGE},
        caller="member",
        status=(404,),
    ),
    # Receipts: the type is read from the bytes, whatever the name and header say.
    attachment_case("a GIF sent as a JPEG receipt", b"GIF89a\x04\x00\x04\x00", 415),
    attachment_case("a web page as a receipt", b"<html>receipt</html>", 415, kind="text/html"),
    attachment_case("a PDF that cannot be read", b"%PDF-1.7 torn", 422),
    attachment_case("a JPEG that cannot be read", b"\xff\xd8\xff\xe0 torn", 422),
    attachment_case("an empty file", b"", 422),
    # Claims: the fields as the JSON API checks them, the receipt as attachments do.
    claim_case("a claim's amount with an exponent", 422, "amount", amount="1e3"),
    claim_case("a claim's amount of zero", 422, "amount", amount="0.00"),
    claim_case("a claim for nothing said", 422, "what_for", what_for=""),
    claim_case("a claim from a fund that does not exist", 422, "fund", fund="nowhere"),
    claim_case("a claim whose receipt is text", 415, "file", content=b"a note I wrote"),
    Case("a claim sent as JSON", "POST", CLAIMS, body={"fund": "groceries"}, status=(400, 415)),
    Case(
        "a receipt under another field",
        "POST",
        ATTACHMENTS,
        content=multipart(b"%PDF-1.7", name="photo"),
        content_type=MULTIPART,
        params={"seq": "1"},
        status=(400, 422),
    ),
    Case(
        "a receipt sent as JSON",
        "POST",
        ATTACHMENTS,
        body={"file": "JVBERi0xLjc="},
        params={"seq": "1"},
        status=(400, 415, 422),
    ),
    Case(
        "a multipart body without its boundary",
        "POST",
        ATTACHMENTS,
        content=multipart(b"%PDF-1.7"),
        content_type="multipart/form-data",
        params={"seq": "1"},
        status=(400, 422),
    ),
    Case(
        "a receipt for an entry that does not exist",
        "POST",
        ATTACHMENTS,
        content=multipart(b"\x89PNG\r\n\x1a\n"),
        content_type=MULTIPART,
        params={"seq": "999"},
        status=(404, 422),
    ),
    Case(
        "receipts of an entry in words",
        "GET",
        ATTACHMENTS,
        params={"seq": "one"},
        caller="member",
        status=(404,),
    ),
    Case(
        "receipts of a huge entry number",
        "GET",
        ATTACHMENTS,
        params={"seq": HUGE},
        caller="member",
        status=(404,),
    ),
    Case(
        "a receipt named by something not a hash",
        "GET",
        ATTACHMENT,
        params={"seq": "1", "sha256": "receipt.jpg"},
        caller="member",
        status=(404,),
    ),
    Case(
        "a receipt that is not attached",
        "GET",
        ATTACHMENT,
        params={"seq": "1", "sha256": "a" * 64},
        caller="member",
        status=(404,),
    ),
    Case(
        "publishing receipts with a word",
        "PUT",
        RECEIPT_SETTINGS,
        {"published": "yes"},
        caller="admin",
        field="published",
    ),
    Case("receipt settings without a choice", "PUT", RECEIPT_SETTINGS, {}, caller="admin"),
    Case(
        "receipt settings with an unknown field",
        "PUT",
        RECEIPT_SETTINGS,
        {"published": True, "everyone": True},
        caller="admin",
    ),
    Case(
        "proof of an entry in words",
        "GET",
        PROOF,
        params={"seq": "one"},
        caller="member",
        status=(404,),
    ),
    Case(
        "proof for tree size zero",
        "GET",
        PROOF,
        query="size=0",
        caller="member",
        status=(400, 422),
        field="size",
    ),
    Case(
        "proof for a tree larger than the log",
        "GET",
        PROOF,
        query="size=999",
        caller="member",
        status=(400, 422),
        field="size",
    ),
    Case(
        "huge entry number for a proof",
        "GET",
        PROOF,
        params={"seq": HUGE},
        caller="member",
        status=(404,),
    ),
    Case(
        "consistency without a target size",
        "GET",
        "/api/groups/{group:str}/consistency",
        query="from=1",
        caller="member",
        status=(400,),
        field="to",
    ),
    Case(
        "consistency from a larger to a smaller tree",
        "GET",
        "/api/groups/{group:str}/consistency",
        query="from=2&to=1",
        caller="member",
        status=(400, 422),
    ),
    Case(
        "consistency from size zero",
        "GET",
        "/api/groups/{group:str}/consistency",
        query="from=0&to=1",
        caller="member",
        status=(400, 422),
        field="from",
    ),
    Case(
        "member id in words",
        "DELETE",
        MEMBER,
        params={"member_id": "one"},
        caller="admin",
        status=(404,),
    ),
    Case(
        "member that does not exist",
        "DELETE",
        MEMBER,
        params={"member_id": "999999"},
        caller="admin",
        status=(404,),
    ),
    Case(
        "huge member id",
        "DELETE",
        MEMBER,
        params={"member_id": HUGE},
        caller="admin",
        status=(404,),
    ),
    Case("removing the last admin", "DELETE", MEMBER, caller="admin", status=(409,)),
    Case(
        "erasing the data of a member that does not exist",
        "DELETE",
        MEMBER_DATA,
        params={"member_id": "999999"},
        caller="admin",
        status=(404,),
    ),
    Case(
        "erasing the data of a member id in words",
        "DELETE",
        MEMBER_DATA,
        params={"member_id": "one"},
        caller="admin",
        status=(404,),
    ),
    Case(
        "group slug with a NUL character",
        "GET",
        FUNDS,
        params={"group": "rent%00fund"},
        caller="member",
        status=(404,),
    ),
    # Members.
    Case(
        "member with an unknown e-mail",
        "POST",
        MEMBERS,
        {"email": "nobody@example.org", "roles": ["member"]},
        caller="admin",
        status=(404, 422),
        field="email",
    ),
    Case(
        "member e-mail that is not one",
        "POST",
        MEMBERS,
        {"email": "nobody"},
        caller="admin",
        status=(404, 422),
        field="email",
    ),
    Case(
        "member e-mail with a NUL character",
        "POST",
        MEMBERS,
        {"email": "no\x00body@example.org"},
        caller="admin",
        status=(404, 422),
        field="email",
    ),
    Case(
        "member without an e-mail",
        "POST",
        MEMBERS,
        {"roles": ["member"]},
        caller="admin",
        field="email",
    ),
    Case(
        "unknown role",
        "POST",
        MEMBERS,
        {"email": "member-rent-fund@example.org", "roles": ["owner"]},
        caller="admin",
        field="roles",
    ),
    Case(
        "roles as a string",
        "POST",
        MEMBERS,
        {"email": "member-rent-fund@example.org", "roles": "admin"},
        caller="admin",
        field="roles",
    ),
    Case(
        "member with an unknown extra field",
        "POST",
        MEMBERS,
        {"email": "member-rent-fund@example.org", "admin": True},
        caller="admin",
        field="admin",
    ),
    Case(
        "demoting the last admin",
        "POST",
        MEMBERS,
        {"email": f"admin-{SOLO}@example.org", "roles": ["member"]},
        params={"group": SOLO},
        caller="solo admin",
        status=(409,),
    ),
    # Witnesses of the group's log.
    Case(
        "witness at an ftp URL",
        "POST",
        WITNESSES,
        {"url": "ftp://witness.example", "vkey": WITNESS_VKEY},
        caller="admin",
        field="url",
    ),
    Case(
        "witness URL without a host",
        "POST",
        WITNESSES,
        {"url": "https://", "vkey": WITNESS_VKEY},
        caller="admin",
        field="url",
    ),
    Case(
        "witness with an empty URL",
        "POST",
        WITNESSES,
        {"url": "", "vkey": WITNESS_VKEY},
        caller="admin",
        field="url",
    ),
    Case(
        "witness key that is not a key",
        "POST",
        WITNESSES,
        {"url": "https://witness.example", "vkey": "witness.example+00000000+AAAA"},
        caller="admin",
        field="vkey",
    ),
    Case(
        "witness key with a wrong key ID",
        "POST",
        WITNESSES,
        {"url": "https://witness.example", "vkey": WITNESS_VKEY.replace("da77ade7", "da77ade8")},
        caller="admin",
        field="vkey",
    ),
    Case(
        "witness without a key",
        "POST",
        WITNESSES,
        {"url": "https://witness.example"},
        caller="admin",
        field="vkey",
    ),
    Case(
        "witness with an unknown extra field",
        "POST",
        WITNESSES,
        {"url": "https://witness.example", "vkey": WITNESS_VKEY, "name": "w"},
        caller="admin",
        field="name",
    ),
    Case(
        "witness body that is a list",
        "POST",
        WITNESSES,
        ["https://witness.example"],
        caller="admin",
        status=(400, 422),
    ),
    # Invites.
    Case(
        "invite with an unknown role",
        "POST",
        INVITES,
        {"roles": ["owner"]},
        caller="admin",
        field="roles",
    ),
    Case(
        "invite roles as a string",
        "POST",
        INVITES,
        {"roles": "admin"},
        caller="admin",
        field="roles",
    ),
    Case(
        "invite for zero days",
        "POST",
        INVITES,
        {"expires_in_days": 0},
        caller="admin",
        field="expires_in_days",
    ),
    Case(
        "invite for a year",
        "POST",
        INVITES,
        {"expires_in_days": 365},
        caller="admin",
        field="expires_in_days",
    ),
    Case(
        "invite days in words",
        "POST",
        INVITES,
        {"expires_in_days": "seven"},
        caller="admin",
        field="expires_in_days",
    ),
    Case(
        "invite days as a fraction",
        "POST",
        INVITES,
        {"expires_in_days": 1.5},
        caller="admin",
        field="expires_in_days",
    ),
    Case(
        "invite with an unknown extra field",
        "POST",
        INVITES,
        {"email": "someone@example.org"},
        caller="admin",
        field="email",
    ),
    Case(
        "invite body that is a list", "POST", INVITES, ["member"], caller="admin", status=(400, 422)
    ),
    Case(
        "invite id in words",
        "DELETE",
        INVITE,
        params={"invite_id": "one"},
        caller="admin",
        status=(404,),
    ),
    Case(
        "invite that does not exist",
        "DELETE",
        INVITE,
        params={"invite_id": "999999"},
        caller="admin",
        status=(404,),
    ),
    Case(
        "huge invite id",
        "DELETE",
        INVITE,
        params={"invite_id": HUGE},
        caller="admin",
        status=(404,),
    ),
    Case(
        "invite id zero",
        "DELETE",
        INVITE,
        params={"invite_id": "0"},
        caller="admin",
        status=(400, 404, 422),
    ),
    # Groups.
    Case(
        "group slug with a space",
        "POST",
        GROUPS,
        {"slug": "bad slug", "name": "X", "currency": "EUR"},
        caller="member",
        field="slug",
    ),
    Case(
        "group slug in capitals",
        "POST",
        GROUPS,
        {"slug": "Rent", "name": "X", "currency": "EUR"},
        caller="member",
        field="slug",
    ),
    Case(
        "group slug starting with a dash",
        "POST",
        GROUPS,
        {"slug": "-rent", "name": "X", "currency": "EUR"},
        caller="member",
        field="slug",
    ),
    Case(
        "group slug with two dashes",
        "POST",
        GROUPS,
        {"slug": "rent--x", "name": "X", "currency": "EUR"},
        caller="member",
        field="slug",
    ),
    Case(
        "group slug not in ASCII",
        "POST",
        GROUPS,
        {"slug": "café", "name": "X", "currency": "EUR"},
        caller="member",
        field="slug",
    ),
    Case(
        "group slug too long",
        "POST",
        GROUPS,
        {"slug": "a" * 65, "name": "X", "currency": "EUR"},
        caller="member",
        field="slug",
    ),
    Case(
        "empty group slug",
        "POST",
        GROUPS,
        {"slug": "", "name": "X", "currency": "EUR"},
        caller="member",
        field="slug",
    ),
    Case(
        "group slug taken",
        "POST",
        GROUPS,
        {"slug": GROUP, "name": "X", "currency": "EUR"},
        caller="member",
        status=(409,),
        field="slug",
    ),
    Case(
        "group currency in lower case",
        "POST",
        GROUPS,
        {"slug": "new-a", "name": "X", "currency": "eur"},
        caller="member",
        field="currency",
    ),
    Case(
        "group currency unknown",
        "POST",
        GROUPS,
        {"slug": "new-b", "name": "X", "currency": "XYZ"},
        caller="member",
        field="currency",
    ),
    Case(
        "group currency too long",
        "POST",
        GROUPS,
        {"slug": "new-c", "name": "X", "currency": "EURO"},
        caller="member",
        field="currency",
    ),
    Case(
        "group currency as a number",
        "POST",
        GROUPS,
        {"slug": "new-d", "name": "X", "currency": 978},
        caller="member",
        field="currency",
    ),
    Case(
        "group without a currency",
        "POST",
        GROUPS,
        {"slug": "new-e", "name": "X"},
        caller="member",
        field="currency",
    ),
    Case(
        "group with a blank name",
        "POST",
        GROUPS,
        {"slug": "new-f", "name": "   ", "currency": "EUR"},
        caller="member",
        field="name",
    ),
    Case(
        "group public as a string",
        "POST",
        GROUPS,
        {"slug": "new-g", "name": "X", "currency": "EUR", "public": "yes"},
        caller="member",
        field="public",
    ),
    # A JSON body's types are the caller's own: no true for 1, "true" or "1" (Litestar's
    # lenient conversion is for query strings).
    Case(
        "group public as the number 1",
        "POST",
        GROUPS,
        {"slug": "new-i", "name": "X", "currency": "EUR", "public": 1},
        caller="member",
        field="public",
    ),
    Case(
        "group public as the number 0",
        "POST",
        GROUPS,
        {"slug": "new-j", "name": "X", "currency": "EUR", "public": 0},
        caller="member",
        field="public",
    ),
    Case(
        "group public as the string true",
        "POST",
        GROUPS,
        {"slug": "new-k", "name": "X", "currency": "EUR", "public": "true"},
        caller="member",
        field="public",
    ),
    Case(
        "group name with a NUL character",
        "POST",
        GROUPS,
        {"slug": "new-h", "name": "Rent\x00", "currency": "EUR"},
        caller="member",
        field="name",
    ),
    # Places.
    Case(
        "place slug with a space", "POST", PLACES, {"slug": "cash box", "name": "X"}, field="slug"
    ),
    Case(
        "place slug taken (the default place)",
        "POST",
        PLACES,
        {"slug": "bank", "name": "X"},
        status=(409,),
        field="slug",
    ),
    Case(
        "place currency unknown",
        "POST",
        PLACES,
        {"slug": "cash", "name": "X", "currency": "XYZ"},
        field="currency",
    ),
    Case("place without a name", "POST", PLACES, {"slug": "cash"}, field="name"),
    Case(
        "place by a member who is not a steward",
        "POST",
        PLACES,
        {"slug": "cash", "name": "Cash box"},
        caller="member",
        status=(403,),
    ),
    Case("fund renamed to nothing", "PATCH", FUND, {"name": " "}, params=RENT, field="name"),
    Case("fund renamed without a name", "PATCH", FUND, {}, params=RENT, field="name"),
    Case("fund renamed with its slug", "PATCH", FUND, {"name": "X", "slug": "x"}, params=RENT),
    Case(
        "unknown fund renamed",
        "PATCH",
        FUND,
        {"name": "Food"},
        params={"fund": "food"},
        status=(404,),
    ),
    Case(
        "fund renamed by a member who is not a steward",
        "PATCH",
        FUND,
        {"name": "Mine"},
        params=RENT,
        caller="member",
        status=(403,),
    ),
    Case("place renamed to nothing", "PATCH", PLACE, {"name": "   "}, params=BANK, field="name"),
    Case("place renamed without a name", "PATCH", PLACE, {}, params=BANK, field="name"),
    Case(
        "place renamed to 121 characters",
        "PATCH",
        PLACE,
        {"name": "x" * 121},
        params=BANK,
        field="name",
    ),
    Case("place renamed with its slug", "PATCH", PLACE, {"name": "Till", "slug": "x"}, params=BANK),
    Case(
        "unknown place renamed",
        "PATCH",
        PLACE,
        {"name": "Till"},
        params={"place": "till"},
        status=(404,),
    ),
    Case(
        "place renamed by a member who is not a steward",
        "PATCH",
        PLACE,
        {"name": "Mine"},
        params=BANK,
        caller="member",
        status=(403,),
    ),
    Case("donation in an unknown place", "POST", ENTRIES, donation(place="safe"), field="place"),
    Case(
        "move to an unknown place",
        "POST",
        ENTRIES,
        {"kind": "move", "from_place": "bank", "to_place": "safe", "amount": "5.00"},
        field="to_place",
    ),
    Case(
        "move from a place to itself",
        "POST",
        ENTRIES,
        {"kind": "move", "from_place": "bank", "to_place": "bank", "amount": "5.00"},
        field="to_place",
    ),
    Case(
        "move of more than the place holds",
        "POST",
        ENTRIES,
        {"kind": "move", "from_place": "bank", "to_place": "spare", "amount": "99999.00"},
        status=(409,),
        field="from_place",
    ),
    # Funds.
    Case(
        "fund slug with a space", "POST", FUNDS, {"slug": "rent relief", "name": "X"}, field="slug"
    ),
    Case(
        "fund slug taken",
        "POST",
        FUNDS,
        {"slug": "groceries", "name": "X"},
        status=(409,),
        field="slug",
    ),
    Case(
        "fund currency in lower case",
        "POST",
        FUNDS,
        {"slug": "new-a", "name": "X", "currency": "eur"},
        field="currency",
    ),
    Case(
        "fund currency unknown",
        "POST",
        FUNDS,
        {"slug": "new-b", "name": "X", "currency": "XYZ"},
        field="currency",
    ),
    Case("fund with a blank name", "POST", FUNDS, {"slug": "new-c", "name": "  "}, field="name"),
    Case("fund without a name", "POST", FUNDS, {"slug": "new-d"}, field="name"),
    Case(
        "fund allow_negative as a string",
        "POST",
        FUNDS,
        {"slug": "new-e", "name": "X", "allow_negative": "no"},
        field="allow_negative",
    ),
    Case(
        "fund allow_negative as the number 1",
        "POST",
        FUNDS,
        {"slug": "new-g", "name": "X", "allow_negative": 1},
        field="allow_negative",
    ),
    Case(
        "fund allow_negative as the string false",
        "POST",
        FUNDS,
        {"slug": "new-h", "name": "X", "allow_negative": "false"},
        field="allow_negative",
    ),
    Case(
        "fund name with a NUL character",
        "POST",
        FUNDS,
        {"slug": "new-f", "name": "Rent\x00"},
        field="name",
    ),
    # Proposals and the decision rules.
    Case(
        "proposal without a title",
        "POST",
        PROPOSALS,
        {"body": "Why"},
        caller="member",
        field="title",
    ),
    Case(
        "proposal amount with an exponent",
        "POST",
        PROPOSALS,
        {"title": "Rent", "fund": "groceries", "amount": "1e3"},
        caller="member",
        field="amount",
    ),
    Case(
        "proposal for an unknown fund",
        "POST",
        PROPOSALS,
        {"title": "Rent", "fund": "nope", "amount": "10.00"},
        caller="member",
        field="fund",
    ),
    Case(
        "proposals of an unknown status",
        "GET",
        PROPOSALS,
        query="status=maybe",
        caller="member",
        status=(400, 422),
        field="status",
    ),
    Case(
        "proposal number in words",
        "GET",
        PROPOSAL,
        params={"number": "one"},
        caller="member",
        status=(404,),
    ),
    # Proposal numbers are 32-bit columns: PostgreSQL refused to compare a larger one (a 500).
    Case(
        "proposal number beyond 32 bits",
        "GET",
        PROPOSAL,
        params={"number": str(2**31)},
        caller="member",
        status=(400, 404),
        field="number",
    ),
    Case(
        "responding to a proposal number beyond 32 bits",
        "POST",
        PROPOSAL + "/responses",
        {"position": "agree"},
        params={"number": str(2**40)},
        caller="member",
        status=(400, 404),
        field="number",
    ),
    Case(
        "proposal that does not exist",
        "GET",
        PROPOSAL,
        params={"number": "999"},
        caller="member",
        status=(404,),
    ),
    Case(
        "response of an unknown position",
        "POST",
        PROPOSAL + "/responses",
        {"position": "maybe"},
        caller="member",
        field="position",
    ),
    Case(
        "block without a reason",
        "POST",
        PROPOSAL + "/responses",
        {"position": "block"},
        caller="member",
        field="reason",
    ),
    Case(
        "amendment without a reason",
        "POST",
        PROPOSAL + "/amendments",
        {"title": "Better"},
        caller="member",
        field="reason",
    ),
    Case(
        "closing a proposal that does not exist",
        "POST",
        PROPOSAL + "/close",
        params={"number": "999"},
        caller="admin",
        status=(404,),
    ),
    Case(
        "withdrawing a proposal that does not exist",
        "POST",
        PROPOSAL + "/withdraw",
        params={"number": "999"},
        caller="member",
        status=(404,),
    ),
    Case(
        "marking read a notification that is not the caller's",
        "POST",
        "/api/me/notifications/{notification_id:int}/read",
        params={"notification_id": "999999"},
        status=(404,),
    ),
    # The discussion: comment 1 on proposal 1 is the member's.
    Case("empty comment", "POST", COMMENTS, {"body": ""}, caller="member", field="body"),
    Case(
        "comment of blank lines", "POST", COMMENTS, {"body": " \n "}, caller="member", field="body"
    ),
    Case(
        "comment with a control character",
        "POST",
        COMMENTS,
        {"body": "Ring \x07"},
        caller="member",
        field="body",
    ),
    Case(
        "comment with an unknown field",
        "POST",
        COMMENTS,
        {"body": "Hi", "mood": "happy"},
        caller="member",
        field="mood",
    ),
    Case(
        "reply to a comment that does not exist",
        "POST",
        COMMENTS,
        {"body": "Hi", "reply_to": 999},
        caller="member",
        field="reply_to",
    ),
    Case(
        "reply_to in words",
        "POST",
        COMMENTS,
        {"body": "Hi", "reply_to": "one"},
        caller="member",
        field="reply_to",
    ),
    Case(
        "comment on a proposal that does not exist",
        "POST",
        COMMENTS,
        {"body": "Hi"},
        params={"number": "999"},
        caller="member",
        status=(404,),
    ),
    Case(
        "discussion of a proposal that does not exist",
        "GET",
        COMMENTS,
        params={"number": "999"},
        caller="member",
        status=(404,),
    ),
    Case(
        "edit that changes nothing",
        "PATCH",
        COMMENT,
        {"body": "A first thought."},
        caller="member",
        field="body",
    ),
    Case("edit to an empty comment", "PATCH", COMMENT, {"body": ""}, caller="member", field="body"),
    Case(
        "edit of someone else's comment",
        "PATCH",
        COMMENT,
        {"body": "Mine now."},
        caller="admin",
        status=(403,),
    ),
    Case(
        "edit of a comment that does not exist",
        "PATCH",
        COMMENT,
        {"body": "Hi"},
        params={"comment_id": "999"},
        caller="member",
        status=(404,),
    ),
    Case(
        "comment id beyond 64 bits",
        "PATCH",
        COMMENT,
        {"body": "Hi"},
        params={"comment_id": HUGE},
        caller="member",
        status=(400, 404),
    ),
    Case(
        "hiding without a reason",
        "POST",
        COMMENT + "/hide",
        {},
        caller="facilitator",
        field="reason",
    ),
    Case(
        "hiding with a blank reason",
        "POST",
        COMMENT + "/hide",
        {"reason": "   "},
        caller="facilitator",
        field="reason",
    ),
    Case(
        "hiding a comment that does not exist",
        "POST",
        COMMENT + "/hide",
        {"reason": "Off topic"},
        params={"comment_id": "999"},
        caller="facilitator",
        status=(404,),
    ),
    Case(
        "reminding on a proposal that does not exist",
        "POST",
        PROPOSAL + "/reminders",
        params={"number": "999"},
        caller="facilitator",
        status=(404,),
    ),
    Case(
        "reminder hours below zero",
        "PUT",
        RULES,
        {"reminder_hours_before": -1},
        caller="admin",
        field="reminder_hours_before",
    ),
    Case(
        "reminder hours beyond a year",
        "PUT",
        RULES,
        {"reminder_hours_before": 9000},
        caller="admin",
        field="reminder_hours_before",
    ),
    Case(
        "reminder hours as text",
        "PUT",
        RULES,
        {"reminder_hours_before": "24"},
        caller="admin",
        field="reminder_hours_before",
    ),
    Case(
        "public comments as the number 1",
        "PUT",
        RULES,
        {"public_comments": 1},
        caller="admin",
        field="public_comments",
    ),
    Case(
        "unknown decision rule",
        "PUT",
        RULES,
        {"rules": {"speed": "fast"}},
        caller="admin",
        field="rules",
    ),
    Case("quorum above one", "PUT", RULES, {"rules": {"quorum": 2}}, caller="admin", field="rules"),
    Case(
        "rounds open for ages",
        "PUT",
        RULES,
        {"rules": {"min_open_hours": 10**12}},
        caller="admin",
        field="rules",
    ),
    Case("rules as a list", "PUT", RULES, {"rules": []}, caller="admin", field="rules"),
    Case(
        "public names as the number 1",
        "PUT",
        RULES,
        {"public_names": 1},
        caller="admin",
        field="public_names",
    ),
    Case(
        "a rule's flag as the number 0",
        "PUT",
        RULES,
        {"rules": {"close_when_all_responded": 0}},
        caller="admin",
        field="rules",
    ),
    # How to give (admins) and donors thanked by name (stewards).
    Case(
        "IBAN with a mistyped digit",
        "PUT",
        GIVING,
        {"iban": "DE89 3704 0044 0532 0130 01"},
        caller="admin",
        field="iban",
    ),
    Case(
        "IBAN too short for its country",
        "PUT",
        GIVING,
        {"iban": "DE89 3704 0044 0532 0130"},
        caller="admin",
        field="iban",
    ),
    Case("IBAN of no country", "PUT", GIVING, {"iban": "XX12 3456"}, caller="admin", field="iban"),
    Case("IBAN as a number", "PUT", GIVING, {"iban": 1234}, caller="admin", field="iban"),
    Case(
        "BIC too short",
        "PUT",
        GIVING,
        {"iban": GOOD_IBAN, "bic": "COBA"},
        caller="admin",
        field="bic",
    ),
    Case(
        "BIC without an IBAN", "PUT", GIVING, {"bic": "COBADEFFXXX"}, caller="admin", field="iban"
    ),
    Case(
        "account holder beyond 70 characters",
        "PUT",
        GIVING,
        {"iban": GOOD_IBAN, "account_holder": "x" * 71},
        caller="admin",
        field="account_holder",
    ),
    Case(
        "how to give beyond 5000 characters",
        "PUT",
        GIVING,
        {"how_to_give": "x" * 5001},
        caller="admin",
        field="how_to_give",
    ),
    Case(
        "how to give with a control character",
        "PUT",
        GIVING,
        {"how_to_give": "Cash\x00"},
        caller="admin",
        field="how_to_give",
    ),
    Case(
        "how to give with an unknown field",
        "PUT",
        GIVING,
        {"how_to_give": "Cash", "paypal": "me"},
        caller="admin",
        field="paypal",
    ),
    Case("how to give by a steward", "PUT", GIVING, {"how_to_give": "Cash"}, status=(403,)),
    Case(
        "thanking by an empty name", "PUT", THANKS, {"name": ""}, params={"seq": "1"}, field="name"
    ),
    Case(
        "thanking by a name of spaces",
        "PUT",
        THANKS,
        {"name": "   "},
        params={"seq": "1"},
        field="name",
    ),
    Case(
        "thanking by a name beyond 70 characters",
        "PUT",
        THANKS,
        {"name": "x" * 71},
        params={"seq": "1"},
        field="name",
    ),
    Case(
        "thanking the donor of an entry that does not exist",
        "PUT",
        THANKS,
        {"name": "Ana"},
        params={"seq": "999"},
        status=(404,),
    ),
    Case(
        "thanking the donor of a huge entry number",
        "PUT",
        THANKS,
        {"name": "Ana"},
        params={"seq": HUGE},
        status=(404,),
    ),
    Case(
        "thanking as a member",
        "PUT",
        THANKS,
        {"name": "Ana"},
        params={"seq": "1"},
        caller="member",
        status=(403,),
    ),
    Case(
        "forgetting a donor who is not thanked by name",
        "DELETE",
        THANKS,
        params={"seq": "1"},
        status=(404,),
    ),
    Case(
        "forgetting a donor as a member",
        "DELETE",
        THANKS,
        params={"seq": "1"},
        caller="member",
        status=(403,),
    ),
    # Requests for support (request 1 was just received) and the group's settings.
    Case(
        "queue filter in words",
        "GET",
        REQUESTS,
        query="open_only=maybe",
        status=(400,),
        field="open_only",
    ),
    Case("request number in words", "GET", REQUEST, params={"request_id": "one"}, status=(404,)),
    Case(
        "request that does not exist", "GET", REQUEST, params={"request_id": "999"}, status=(404,)
    ),
    Case(
        "reads of a request that does not exist",
        "GET",
        REQUEST + "/reads",
        params={"request_id": "999"},
        status=(404,),
    ),
    Case("empty note", "POST", REQUEST + "/notes", {"text": ""}, field="text"),
    Case("note without text", "POST", REQUEST + "/notes", {}, field="text"),
    Case(
        "proposing with an amount with an exponent",
        "POST",
        REQUEST + "/propose",
        {"title": "Rent", "summary": "For March", "fund": "groceries", "amount": "1e2"},
        field="amount",
    ),
    Case(
        "proposing from an unknown fund",
        "POST",
        REQUEST + "/propose",
        {"title": "Rent", "summary": "For March", "fund": "nope", "amount": "10.00"},
        field="fund",
    ),
    Case(
        "proposing without a title",
        "POST",
        REQUEST + "/propose",
        {"summary": "x", "fund": "groceries", "amount": "1.00"},
        field="title",
    ),
    Case(
        "declining with a message as a number",
        "POST",
        REQUEST + "/decline",
        {"message": 5},
        field="message",
    ),
    Case("marking as paid what nobody paid", "POST", REQUEST + "/paid", status=(409,)),
    Case(
        "held filter in words",
        "GET",
        REQUESTS,
        query="held=maybe",
        status=(400,),
        field="held",
    ),
    Case("releasing a request that is not held", "POST", REQUEST + "/release", status=(409,)),
    Case(
        "releasing a request that does not exist",
        "POST",
        REQUEST + "/release",
        params={"request_id": "999"},
        status=(404,),
    ),
    Case(
        "clearing held requests up to id zero",
        "POST",
        REQUESTS + "/held/clear",
        query="up_to=0",
        status=(400,),
        field="up_to",
    ),
    Case(
        "clearing held requests up to a huge id",
        "POST",
        REQUESTS + "/held/clear",
        query=f"up_to={HUGE}",
        status=(400,),
        field="up_to",
    ),
    Case(
        "erasing the details of a request that does not exist",
        "DELETE",
        REQUEST + "/personal-data",
        params={"request_id": "999"},
        status=(404,),
    ),
    Case(
        "retention of zero days",
        "PUT",
        "/api/groups/{group:str}/support-settings",
        {"retention_days": 0},
        caller="admin",
        field="retention_days",
    ),
    Case(
        "ask form switched on in words",
        "PUT",
        "/api/groups/{group:str}/support-settings",
        {"ask_enabled": "maybe"},
        caller="admin",
        field="ask_enabled",
    ),
    Case(
        "ask form switched on as the number 1",
        "PUT",
        "/api/groups/{group:str}/support-settings",
        {"ask_enabled": 1},
        caller="admin",
        field="ask_enabled",
    ),
    Case(
        "retention in days as a string",
        "PUT",
        "/api/groups/{group:str}/support-settings",
        {"retention_days": "30"},
        caller="admin",
        field="retention_days",
    ),
    Case(
        "notifications of an unknown mode",
        "PUT",
        "/api/groups/{group:str}/notifications",
        {"mode": "hourly"},
        caller="member",
        field="mode",
    ),
]

# --- one database per engine --------------------------------------------------------------


@dataclass
class Stage:
    engine: str
    client: Client
    database: AsyncEngine
    world: World
    solo: World
    admin_membership: int
    tables: MetaData
    request_id: int
    openapi: dict[str, Any]  # the schema as /schema/openapi.json serves it
    # The state after the last case: the next case's "before".
    last: dict[str, Any] | None = None


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def stage(
    module_db_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stage]:
    """The usual world (EUR funds "rent-relief" and "groceries") with a JPY fund "yen", a
    KWD fund "dinar", money in groceries, one entry and one open proposal; and a group
    "solo-purse" of its own."""
    settings = Settings(
        database_url=module_db_url,
        secret_key="test-secret-" + "x" * 40,
        signing_key_file=tmp_path_factory.mktemp("keys") / "signing-key.pem",
        attachments_dir=tmp_path_factory.mktemp("attachments"),
        base_url="http://testserver.local",
    )
    database = create_engine(settings)
    async with create_session_maker(database)() as session:
        world = await build_world(session, slug=GROUP)
        solo = await build_world(session, slug=SOLO)
        await service.create_fund(
            session, world.group, FundIn(slug="yen", name="Yen", currency="JPY")
        )
        await service.create_fund(
            session, world.group, FundIn(slug="dinar", name="Dinar", currency="KWD")
        )
        await service.create_place(session, world.group, PlaceIn(slug="spare", name="Spare till"))
        admin = await groups.active_membership(session, world.group.id, world.admin.user.id)
        assert admin is not None
        request_id = (await ask_for_support(session, world)).id
        await session.commit()
    try:
        async with AsyncTestClient(app=create_app(settings), base_url=settings.base_url) as client:
            setup = [
                (ENTRIES, donation(amount="50.00"), world.steward.headers),
                (PROPOSALS, {"title": "Mend the roof", "body": "Rain."}, world.member.headers),
                (PROPOSAL + "/comments", {"body": "A first thought."}, world.member.headers),
            ]
            for route, body, headers in setup:
                response = await client.post(
                    route.replace("{group:str}", GROUP).replace("{number:int}", "1"),
                    json=body,
                    headers=headers,
                )
                assert response.status_code == 201, response.text
            tables = MetaData()
            async with database.connect() as connection:
                await connection.run_sync(tables.reflect)
            openapi = (await client.get("/schema/openapi.json")).json()
            yield Stage(
                "sqlite" if module_db_url.startswith("sqlite") else "postgres",
                client,
                database,
                world,
                solo,
                admin.id,
                tables,
                request_id,
                openapi,
            )
    finally:
        await database.dispose()


async def snapshot(stage: Stage) -> dict[str, Any]:
    """What must not change: the ledger's verified head and balances, and every row."""
    async with create_session_maker(stage.database)() as session:
        report = await verify_group(session, await groups.get_group(session, GROUP))
        rows = {
            table.name: sorted(map(repr, (await session.execute(select(table))).all()))
            for table in stage.tables.sorted_tables
        }
    assert report.ok, report.problem
    return {"head": (report.head_seq, report.head_hash), "balances": report.balances, **rows}


def url_of(stage: Stage, case: Case) -> str:
    samples = {
        "group": GROUP,
        "seq": "1",
        "number": "1",
        "member_id": str(stage.admin_membership),
        "request_id": str(stage.request_id),
        "comment_id": "1",
    }
    samples.update(case.params)
    url = PATH_PARAMETER.sub(lambda match: samples[match.group(1)], case.route)
    return f"{url}?{case.query}" if case.query else url


def headers_of(stage: Stage, case: Case) -> dict[str, str]:
    person = stage.solo.admin if case.caller == "solo admin" else getattr(stage.world, case.caller)
    headers = {**person.headers, **case.headers}
    if case.content_type:
        headers["Content-Type"] = case.content_type
    elif case.content is not None:
        headers["Content-Type"] = "application/json"
    return headers


def documented_statuses(stage: Stage, case: Case) -> set[int]:
    """The statuses the OpenAPI schema documents for the case's operation."""
    path = PATH_PARAMETER.sub(lambda match: "{" + match.group(1) + "}", case.route)
    responses = stage.openapi["paths"][path][case.method.lower()]["responses"]
    return {int(status) for status in responses}


async def send(stage: Stage, case: Case) -> Any:
    kwargs: dict[str, Any] = {"headers": headers_of(stage, case)}
    if case.content is not None:
        kwargs["content"] = case.content
    elif case.body is not NO_BODY:
        kwargs["content"] = json.dumps(case.body).encode()
        kwargs["headers"].setdefault("Content-Type", "application/json")
    return await stage.client.request(case.method, url_of(stage, case), **kwargs)


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
async def test_bad_input_is_a_clear_4xx_problem_and_changes_nothing(
    stage: Stage, case: Case
) -> None:
    before = stage.last or await snapshot(stage)
    response = await send(stage, case)
    after = stage.last = await snapshot(stage)

    assert response.status_code in case.status, response.text
    assert response.status_code in documented_statuses(stage, case), response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    problem = response.json()
    assert problem["status"] == response.status_code
    detail = problem.get("detail", "")
    # A sentence for people: not just the status's name, no internals.
    assert detail, problem
    assert detail.strip().lower() != problem["title"].lower(), problem
    assert not re.search(r"Traceback|File \"|sqlalchemy|asyncpg|sqlite3|'data'", detail), detail
    if case.field is not None:
        fields = [error.get("field") for error in problem.get("errors", [])]
        assert case.field in fields, problem
        assert all(error.get("message") for error in problem["errors"]), problem
    assert after == before


def test_every_api_route_has_bad_input_cases(tmp_path: Any) -> None:
    app = create_app(
        Settings(
            database_url=f"sqlite+aiosqlite:///{tmp_path}/unused.db",
            secret_key="test-secret-" + "x" * 40,
            signing_key_file=tmp_path / "signing-key.pem",
        )
    )
    covered = {(case.method, case.route) for case in CASES}
    # Reading a group with no input but its name: the access tests try unknown groups.
    group_only = {
        (method, path)
        for method, path in app_routes(app)
        if method == "GET" and PATH_PARAMETER.findall(path) == ["group"]
    }
    api = {(method, path) for method, path in app_routes(app) if path.startswith("/api/")}
    # Routes whose only input is the caller.
    caller_only = {
        ("GET", "/api/me"),
        ("GET", "/api/me/notifications"),
        ("POST", "/api/me/notifications/read"),
    }
    missing = sorted(api - covered - group_only - caller_only)
    assert not missing, f"add bad-input cases for {missing}"
