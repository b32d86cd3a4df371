"""The public pages: the directory of groups, a group's transparency page, its ledger, its
proposals and decisions, and its Atom feed. No login needed; a private group answers 404 to
everyone but its members (the ``public_or_member`` guard), and never appears in the
directory or a search."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

from litestar import Controller, Litestar, Request, Response, get
from litestar.di import Provide
from litestar.exceptions import NotFoundException
from litestar.params import PathParameter, QueryParameter
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import Caller, authenticate, provide_caller
from app.deps import CurrentCaller, DbSession
from app.documents.proposal import proposal_record_response
from app.guards import public_or_member
from app.web import decisions, queries
from app.web.chart import Chart, balance_chart
from app.web.forms import MAX_SEQ
from app.web.queries import LedgerFilter
from app.web.security import COOKIE_FREE
from app.web.templating import Formatter, page
from app.web.verification import VerificationKeeper
from app.web.views import KIND_LABELS, EntryView, FundView, entry_title, entry_view, fund_view
from ledger import log, service
from ledger.canonical import timestamp
from ledger.errors import NotFound
from ledger.groups import utcnow
from ledger.log import root_base64
from ledger.models import Checkpoint, Group
from ledger.rules import ENTRY_KINDS
from proposals import service as proposals
from proposals.labels import STATUS_LABELS

RECENT_ENTRIES = 10
FEED_ENTRIES = 50
# The group page shows this many open proposals and recent decisions; the list, all.
OVERVIEW_PROPOSALS = 5
OPEN_PROPOSALS = 100
# A proposal's page is /proposals/12, its decision record /proposals/12.pdf.
MAX_PROPOSAL = 999_999_999
PROPOSAL_PATH = re.compile(r"([1-9][0-9]{0,8})(\.pdf)?")


@dataclass(frozen=True, slots=True)
class FundPanel:
    fund: FundView
    chart: Chart | None


EXPORT_ROUTE = "/api/groups/{group:str}/export."


def export_extensions(app: Litestar) -> list[str]:
    """The export formats the API serves (read from its routes, so new ones show up)."""
    return sorted(
        route.path[len(EXPORT_ROUTE) :]
        for route in app.routes
        if route.path.startswith(EXPORT_ROUTE)
    )


def _settings(request: Request[Any, Any, Any]) -> Any:
    return request.app.state.settings


async def _entry_views(
    session: AsyncSession, group: Group, entries: list[Any], fmt: Formatter
) -> list[EntryView]:
    links = await queries.reversal_links(session, group, entries)
    return [entry_view(entry, fmt, links) for entry in entries]


async def _checkpoint(session: AsyncSession, group: Group) -> Checkpoint | None:
    try:
        return await log.latest_checkpoint(session, group)
    except NotFound:
        return None


class PublicPages(Controller):
    include_in_schema = False
    opt = {COOKIE_FREE: True}
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @get("/", name="directory")
    async def directory(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        q: Annotated[str, QueryParameter(max_length=120)] = "",
        after: Annotated[str | None, QueryParameter(max_length=64)] = None,
    ) -> Template:
        await authenticate(request)
        query = " ".join(q.split())
        groups, next_after = await queries.public_groups(db_session, query=query, after=after)
        return page(
            request,
            "public/directory.html",
            groups=groups,
            query=query,
            next_after=next_after,
            after=after,
            fmt=Formatter.for_group(None, _settings(request)),
        )

    @get("/g/{group:str}", guards=[public_or_member], name="group", closes_due_rounds=True)
    async def group_page(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template:
        group = caller.group
        fmt = Formatter.for_group(group, _settings(request))
        now = utcnow()
        panels: list[FundPanel] = []
        committed = await proposals.committed_by_fund(db_session, group)
        for fund in await service.list_funds(db_session, group):
            points, complete = await queries.fund_history(db_session, fund)
            chart = balance_chart(
                points,
                today=now.astimezone(fmt.zone).date(),
                fmt=fmt,
                currency=fund.currency,
                fund_name=fund.name,
                complete=complete,
            )
            panels.append(FundPanel(fund_view(fund, fmt, committed.get(fund.id, 0)), chart))
        entries, _ = await service.list_entries(db_session, group, limit=RECENT_ENTRIES)
        keeper: VerificationKeeper = request.app.state.verification_keeper
        verification = await keeper.view(db_session, group)
        checkpoint = await _checkpoint(db_session, group)
        return page(
            request,
            "public/group.html",
            group=group,
            fmt=fmt,
            caller=caller,
            panels=panels,
            entries=await _entry_views(db_session, group, entries, fmt),
            verification=verification,
            checkpoint=checkpoint,
            checkpoint_root=root_base64(checkpoint.root_hash) if checkpoint else "",
            exports=export_extensions(request.app),
            last_activity=await queries.last_activity(db_session, group),
            open_proposals=await decisions.proposal_lines(
                db_session,
                group,
                await queries.open_proposals(db_session, group, limit=OVERVIEW_PROPOSALS + 1),
                fmt,
            ),
            decided=await decisions.proposal_lines(
                db_session,
                group,
                await queries.recently_decided(db_session, group, limit=OVERVIEW_PROPOSALS),
                fmt,
            ),
            overview_proposals=OVERVIEW_PROPOSALS,
        )

    @get("/g/{group:str}/ledger", guards=[public_or_member], name="ledger")
    async def ledger(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        fund: Annotated[str, QueryParameter(max_length=64)] = "",
        kind: Annotated[str, QueryParameter(max_length=32)] = "",
        start: Annotated[str, QueryParameter(name="from", max_length=32)] = "",
        end: Annotated[str, QueryParameter(name="to", max_length=32)] = "",
        before: Annotated[str, QueryParameter(max_length=20)] = "",
    ) -> Template:
        group = caller.group
        fmt = Formatter.for_group(group, _settings(request))
        funds = await service.list_funds(db_session, group)
        values = {"fund": fund, "kind": kind, "from": start, "to": end}
        errors: dict[str, str] = {}
        fund_row = next((f for f in funds if f.slug == fund), None)
        if fund and fund_row is None:
            errors["fund"] = "Choose one of the group's funds."
        if kind and kind not in ENTRY_KINDS:
            errors["kind"] = "Choose one of the kinds listed."
        dates: dict[str, date | None] = {}
        for name, text in (("from", start), ("to", end)):
            try:
                dates[name] = date.fromisoformat(text) if text else None
            except ValueError:
                errors[name] = "Write the date as YYYY-MM-DD, e.g. 2026-03-31."
                dates[name] = None
        if dates["from"] and dates["to"] and dates["from"] > dates["to"]:
            errors["to"] = "The end date is before the start date."
        cursor: int | None = None
        if before:
            if before.isdigit() and 0 < int(before) <= MAX_SEQ:
                cursor = int(before)
            else:
                errors["before"] = "That page link is broken; start from the newest entries."
        entries: list[EntryView] = []
        next_before: int | None = None
        if not errors:
            where = LedgerFilter(fund_row, kind or None, dates["from"], dates["to"])
            rows, next_before = await queries.ledger_page(
                db_session, group, where, before=cursor, limit=queries.LEDGER_PAGE
            )
            entries = await _entry_views(db_session, group, rows, fmt)
        filters = {k: v for k, v in values.items() if v and k not in errors}
        return page(
            request,
            "public/ledger.html",
            status_code=400 if errors else 200,
            group=group,
            fmt=fmt,
            caller=caller,
            funds=funds,
            kinds=[(k, KIND_LABELS[k]) for k in ENTRY_KINDS],
            values=values,
            errors=errors,
            filters=filters,
            filtered=bool(filters),
            entries=entries,
            before=cursor,
            next_before=next_before,
        )

    @get(
        "/g/{group:str}/proposals",
        guards=[public_or_member],
        name="proposals",
        closes_due_rounds=True,
    )
    async def proposals(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        before: Annotated[str, QueryParameter(max_length=12)] = "",
    ) -> Template:
        group = caller.group
        fmt = Formatter.for_group(group, _settings(request))
        cursor: int | None = None
        if before:
            if not (before.isdigit() and 0 < int(before) <= MAX_PROPOSAL):
                raise NotFoundException("That page link is broken; start from the newest.")
            cursor = int(before)
        closed, next_before = await queries.closed_proposals(
            db_session, group, before=cursor, limit=queries.PROPOSALS_PAGE
        )
        open_now = (
            [] if cursor else await queries.open_proposals(db_session, group, limit=OPEN_PROPOSALS)
        )
        return page(
            request,
            "public/proposals.html",
            group=group,
            fmt=fmt,
            caller=caller,
            open_proposals=await decisions.proposal_lines(db_session, group, open_now, fmt),
            closed=await decisions.proposal_lines(db_session, group, closed, fmt),
            before=cursor,
            next_before=next_before,
        )

    @get(
        "/g/{group:str}/proposals/{number:str}",
        guards=[public_or_member],
        name="proposal",
        closes_due_rounds=True,
    )
    async def proposal(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        number: Annotated[str, PathParameter()],
    ) -> Response[Any]:
        """A proposal's page at ``/proposals/12``; its decision record at ``12.pdf`` (one
        route: Litestar cannot tell ``{n:int}`` and ``{n:str}`` apart in one place)."""
        match = PROPOSAL_PATH.fullmatch(number)
        if match is None:
            raise NotFoundException(f"There is no proposal {number!r}.")
        if match.group(2):
            return await proposal_record_response(request, db_session, caller, int(match.group(1)))
        return await self._proposal_page(request, db_session, caller, int(match.group(1)))

    async def _proposal_page(
        self,
        request: Request[Any, Any, Any],
        db_session: AsyncSession,
        caller: Caller,
        number: int,
    ) -> Template:
        group = caller.group
        fmt = Formatter.for_group(group, _settings(request))
        _, public_names = await proposals.get_rules(db_session, group)
        proposal = await proposals.get_proposal(db_session, group, number)
        payments = await queries.proposal_payments(db_session, group, number)
        links = await queries.reversal_links(db_session, group, payments)
        view = await decisions.proposal_page(
            db_session,
            group,
            proposal,
            fmt,
            # Who said what: members see it; everyone else when the group allows it.
            show_names=caller.membership is not None or public_names,
            paid=decisions.paid_under(payments, links),
        )
        return page(
            request,
            "public/proposal.html",
            group=group,
            fmt=fmt,
            caller=caller,
            proposal=view,
            payments=[entry_view(entry, fmt, links) for entry in payments],
        )


class Feeds(Controller):
    include_in_schema = False
    opt = {COOKIE_FREE: True}
    dependencies = {"caller": Provide(provide_caller, sync_to_thread=False)}

    @get(
        "/g/{group:str}/feed.atom",
        guards=[public_or_member],
        media_type="application/atom+xml; charset=utf-8",
        name="feed",
        closes_due_rounds=True,
    )
    async def feed(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Response[str]:
        group = caller.group
        settings = _settings(request)
        fmt = Formatter.for_group(group, settings)
        entries, _ = await service.list_entries(db_session, group, limit=FEED_ENTRIES)
        base = settings.base_url
        group_url = f"{base}/g/{group.slug}"
        items: list[dict[str, Any]] = [
            {
                "kind": "entry",
                "id": uuid.uuid5(uuid.NAMESPACE_URL, f"{group_url}/entries/{e.hash}").urn,
                "title": entry_title(e, fmt),
                "url": f"{group_url}/ledger?before={e.seq + 1}#entry-{e.seq}",
                "at": e.recorded_at,
                "updated": timestamp(e.recorded_at),
                "view": entry_view(e, fmt),
            }
            for e in entries
        ]
        # Decisions are news of their own: each round that ended passed, blocked or not
        # passed (a proposal blocked, amended and then passed made two).
        for d in await queries.recent_decisions(db_session, group, limit=FEED_ENTRIES):
            items.append(
                {
                    "kind": "decision",
                    "id": uuid.uuid5(
                        uuid.NAMESPACE_URL, f"{group_url}/proposals/{d.number}/rounds/{d.round}"
                    ).urn,
                    "title": f"Proposal {d.number} {STATUS_LABELS[d.status].lower()}: {d.title}",
                    "url": f"{group_url}/proposals/{d.number}#round-{d.round}",
                    "at": d.closed_at,
                    "updated": timestamp(d.closed_at),
                    "decision": d,
                    "status_label": STATUS_LABELS[d.status],
                }
            )
        items.sort(key=lambda item: item["at"], reverse=True)
        items = items[:FEED_ENTRIES]
        updated = timestamp(items[0]["at"] if items else group.created_at)
        environment = request.app.template_engine.engine  # type: ignore[union-attr]
        body = environment.get_template("public/feed.atom").render(
            group=group,
            feed_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{group_url}/feed.atom").urn,
            group_url=group_url,
            feed_url=f"{group_url}/feed.atom",
            updated=updated,
            items=items,
        )
        return Response(
            _xml_safe(body),
            media_type="application/atom+xml; charset=utf-8",
            headers={"Cache-Control": "no-cache"},
        )


def _xml_safe(text: str) -> str:
    """Drop characters XML 1.0 cannot carry (a memo may hold control characters)."""
    return "".join(
        ch
        for ch in text
        if ch in "\t\n\r"
        or ("\x20" <= ch <= "\ud7ff")
        or ("\ue000" <= ch <= "\ufffd")
        or ("\U00010000" <= ch <= "\U0010ffff")
    )
