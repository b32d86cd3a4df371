"""A group as a whole: the public directory, a group's transparency page and its Atom feed;
a member's dashboard and their group's home.

The public pages need no login; a private group answers 404 to everyone but its members
(the ``public_or_member`` guard), and never appears in the directory or a search.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from litestar import Controller, Litestar, Request, Response, get, post
from litestar.di import Provide
from litestar.exceptions import ValidationException
from litestar.params import QueryParameter
from litestar.response import Redirect, Template
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth import (
    authenticate,
    provide_caller,
    provide_user,
)
from app.deps import CurrentCaller, CurrentUser, DbSession, Id, settings_of
from app.guards import logged_in, member_with, public_or_member
from app.i18n import available_languages
from app.presenters.formatting import Formatter
from app.presenters.ledger import (
    FundView,
    entry_title,
    entry_view,
    fund_view,
    place_view,
    standing_view,
)
from app.presenters.proposals import (
    RECENT_DECISIONS,
    SHOWN_NOTIFICATIONS,
    awaiting_cards,
    notification_target,
    notification_views,
    proposal_card,
    proposal_lines,
)
from app.web.chart import Chart, balance_chart
from app.web.language import visitor_formatter
from app.web.ledger import entry_views
from app.web.security import COOKIE_FREE
from app.web.templating import language_cookie, local_path, page, see_other
from app.web.verification import VerificationKeeper
from ledger import bank, giving, groups, log, reconciliation, service, witnesses
from ledger import queries as ledger_queries
from ledger.canonical import timestamp
from ledger.errors import NotFound
from ledger.groups import utcnow
from ledger.log import root_base64
from ledger.models import Checkpoint, Group
from proposals import notify
from proposals import queries as proposal_queries
from proposals import service as proposals
from proposals.labels import STATUS_LABELS
from proposals.service import committed_by_fund

RECENT_ENTRIES = 10
MEMBER_RECENT_ENTRIES = 5
FEED_ENTRIES = 50
# The group page shows this many open proposals and recent decisions; the list, all.
OVERVIEW_PROPOSALS = 5
# The group page thanks this many donors by name (the newest; the give page names more).
DONORS_ON_GROUP_PAGE = 12


@dataclass(frozen=True, slots=True)
class MonthSummary:
    """A month on the group page: its name and, per currency, money in and money out."""

    name: str
    flows: list[tuple[str, str]]


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


async def _checkpoint(session: AsyncSession, group: Group) -> Checkpoint | None:
    try:
        return await log.latest_checkpoint(session, group)
    except NotFound:
        return None


class GroupPages(Controller):
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
        groups, next_after = await ledger_queries.public_groups(
            db_session, query=query, after=after
        )
        return page(
            request,
            "public/directory.html",
            groups=groups,
            query=query,
            next_after=next_after,
            after=after,
            fmt=visitor_formatter(request),
        )

    # A logged-in member's choice is saved: begin with the write lock (SQLite), as a POST.
    @get("/language", name="language", writes=True)
    async def choose_language(
        self,
        request: Request[Any, Any, Any],
        to: Annotated[str, QueryParameter(max_length=16)],
        next: Annotated[str, QueryParameter(max_length=2000)] = "/",
    ) -> Redirect:
        """The language picker: remember the language chosen and go back to the page. A
        member who is logged in keeps it too: their e-mails and inbox follow it."""
        if to not in available_languages():
            raise ValidationException(f"to: {to!r} is not a language of this site")
        user = await authenticate(request)
        if user is not None and user.language != to:
            user.language = to
        return see_other(local_path(next), cookies=[language_cookie(to)])

    @get("/g/{group:str}", guards=[public_or_member], name="group", closes_due_rounds=True)
    async def group_page(
        self, request: Request[Any, Any, Any], db_session: DbSession, caller: CurrentCaller
    ) -> Template:
        group = caller.group
        fmt = visitor_formatter(request, group)
        now = utcnow()
        panels: list[FundPanel] = []
        committed = await proposals.committed_by_fund(db_session, group)
        funds = await service.list_funds(db_session, group)
        held: dict[str, int] = {}
        for fund in funds:
            held[fund.currency] = held.get(fund.currency, 0) + fund.balance
            points, complete = await ledger_queries.fund_history(db_session, fund)
            chart = balance_chart(
                points,
                today=now.astimezone(fmt.zone).date(),
                fmt=fmt,
                currency=fund.currency,
                fund_name=fund.name,
                complete=complete,
            )
            panels.append(FundPanel(fund_view(fund, fmt, committed.get(fund.id, 0)), chart))
        entries, _ = await service.list_entries(
            db_session, group, limit=RECENT_ENTRIES, money_only=True
        )
        keeper: VerificationKeeper = request.app.state.verification_keeper
        verification = await keeper.view(db_session, group)
        checkpoint = await _checkpoint(db_session, group)
        open_now = await proposal_queries.open_proposals(
            db_session, group, limit=OVERVIEW_PROPOSALS + 1
        )
        this_month = now.astimezone(fmt.zone).date().replace(day=1)
        last_month = (this_month - timedelta(days=1)).replace(day=1)
        flows = await ledger_queries.monthly_flows(db_session, group, last_month)
        ways = await giving.get_giving(db_session, group)
        return page(
            request,
            "public/group.html",
            gives=bool(ways.how_to_give or ways.bank),
            donors=await giving.donors(db_session, group, named=DONORS_ON_GROUP_PAGE),
            held=[fmt.money(total, currency) for currency, total in sorted(held.items())],
            places=[place_view(p, fmt) for p in await service.list_places(db_session, group)],
            standings=[
                standing_view(s, fmt)
                for s in await reconciliation.standings(
                    db_session, group, now.astimezone(fmt.zone).date()
                )
            ],
            months=[
                MonthSummary(
                    fmt.month(month),
                    [
                        (fmt.money(f.money_in, f.currency), fmt.money(f.money_out, f.currency))
                        for f in flows
                        if f.month == month
                    ],
                )
                for month in (this_month, last_month)
            ],
            group=group,
            fmt=fmt,
            caller=caller,
            panels=panels,
            entries=await entry_views(db_session, group, entries, fmt, caller),
            verification=verification,
            checkpoint=checkpoint,
            witnesses=await witnesses.group_witnesses(db_session, group),
            checkpoint_root=root_base64(checkpoint.root_hash) if checkpoint else "",
            exports=export_extensions(request.app),
            last_activity=await ledger_queries.last_activity(db_session, group),
            open_proposals=proposal_lines(
                open_now, await proposal_queries.live_tallies(db_session, group, open_now), fmt
            ),
            decided=proposal_lines(
                await proposal_queries.recently_decided(
                    db_session, group, limit=OVERVIEW_PROPOSALS
                ),
                {},
                fmt,
            ),
            overview_proposals=OVERVIEW_PROPOSALS,
        )

    @get("/g/{group:str}/follow", guards=[public_or_member], name="follow")
    async def follow_page(self, request: Request[Any, Any, Any], caller: CurrentCaller) -> Template:
        """How to follow the group: a browser opening the Atom feed shows raw XML, so the
        pages link here, to the feed's address to copy into a feed reader."""
        group = caller.group
        return page(
            request,
            "public/follow.html",
            group=group,
            caller=caller,
            feed_url=f"{settings_of(request).base_url}/g/{group.slug}/feed.atom",
        )


class MemberGroupPages(Controller):
    include_in_schema = False
    dependencies = {
        "caller": Provide(provide_caller, sync_to_thread=False),
        "user": Provide(provide_user, sync_to_thread=False),
    }

    @get("/m", guards=[logged_in], name="dashboard")
    async def dashboard(
        self, request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser
    ) -> Template:
        fmt = visitor_formatter(request, None)
        return page(
            request,
            "member/dashboard.html",
            groups=await ledger_queries.member_groups(db_session, user.id),
            awaiting=awaiting_cards(
                await proposal_queries.awaiting_response(db_session, user.id), fmt, user.id
            ),
            # The dashboard shows what is new; the inbox keeps the rest.
            notifications=[
                view
                for view in notification_views(
                    await proposal_queries.inbox(db_session, user.id, limit=SHOWN_NOTIFICATIONS),
                    fmt,
                )
                if view.unread
            ],
            fmt=fmt,
        )

    @get("/notifications", guards=[logged_in], name="inbox")
    async def inbox(
        self, request: Request[Any, Any, Any], db_session: DbSession, user: CurrentUser
    ) -> Template:
        fmt = visitor_formatter(request, None)
        lines = await proposal_queries.inbox(
            db_session,
            user.id,
        )
        return page(request, "member/inbox.html", lines=notification_views(lines, fmt), fmt=fmt)

    @get(
        "/notifications/{notification_id:int}",
        guards=[logged_in],
        name="notification_open",
        writes=True,  # marks the line read: begin with the write lock (SQLite)
    )
    async def open_notification(
        self, db_session: DbSession, user: CurrentUser, notification_id: Id
    ) -> Redirect:
        """Opening a line marks it read and leads to what it is about."""
        opened = await notify.mark_read(db_session, user.id, notification_id)
        if opened is None:
            raise NotFound(f"You have no notification {notification_id}.")
        group = await db_session.get(Group, opened.group_id)
        assert group is not None  # notifications are never deleted with their group
        return see_other(notification_target(opened, group.slug))

    @post("/notifications/read", guards=[logged_in], name="notifications_read")
    async def mark_all_read(self, db_session: DbSession, user: CurrentUser) -> Redirect:
        await notify.mark_all_read(db_session, user.id)
        return see_other("/notifications")

    @get(
        "/m/{group:str}", guards=[member_with("member")], name="group_home", closes_due_rounds=True
    )
    async def group_home(
        self,
        request: Request[Any, Any, Any],
        db_session: DbSession,
        caller: CurrentCaller,
        fund: Annotated[str, QueryParameter(max_length=64)] = "",
    ) -> Template:
        group = caller.group
        fmt = visitor_formatter(request, group)
        funds = await service.list_funds(db_session, group)
        committed = await committed_by_fund(db_session, group)
        entries, _ = await service.list_entries(
            db_session, group, limit=MEMBER_RECENT_ENTRIES, money_only=True
        )
        reader = caller.logged_in_user.id
        discussed = await proposal_queries.in_discussion(db_session, group)
        live = await proposal_queries.live_tallies(db_session, group, discussed)
        # Blocked proposals are still in discussion here (their author may amend them).
        decided = await proposal_queries.recently_decided(
            db_session,
            group,
            limit=RECENT_DECISIONS,
            statuses=("passed", "not_passed", "withdrawn"),
        )
        return page(
            request,
            "member/group.html",
            group=group,
            fmt=fmt,
            caller=caller,
            roles=caller.roles,
            held_roles=caller.membership.roles.split() if caller.membership else [],
            funds=[fund_view(f, fmt, committed.get(f.id, 0)) for f in funds],
            entries=await entry_views(db_session, group, entries, fmt, caller),
            members=await groups.list_members(db_session, group.id),
            awaiting=awaiting_cards(
                await proposal_queries.awaiting_response(db_session, reader, group), fmt, reader
            ),
            open_proposals=[
                proposal_card(group, p, fmt, reader, live.get(p.number)) for p in discussed
            ],
            decided=[proposal_card(group, p, fmt, reader) for p in decided],
            created_fund=next((f.name for f in funds if f.slug == fund), ""),
            # Money that left by the bank's word with no entry: the stewards' to do.
            unmatched_debits=await bank.unmatched_debit_counts(db_session, group)
            if caller.may("steward")
            else [],
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
        settings = settings_of(request)
        fmt = Formatter.for_group(group, settings)
        entries, _ = await service.list_entries(
            db_session, group, limit=FEED_ENTRIES, money_only=True
        )
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
        for d in await proposal_queries.recent_decisions(db_session, group, limit=FEED_ENTRIES):
            items.append(
                {
                    "kind": "decision",
                    "id": uuid.uuid5(
                        uuid.NAMESPACE_URL, f"{group_url}/proposals/{d.number}/rounds/{d.round}"
                    ).urn,
                    "title": f"Proposal {d.number} {STATUS_LABELS[d.status].lower()}: {d.title}",
                    "url": f"{group_url}/proposals/{d.number}#round-{d.round}",
                    "at": d.decided_at,
                    "updated": timestamp(d.decided_at),
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
