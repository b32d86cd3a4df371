"""A proposal's discussion, and who has not spoken yet.

Members comment on a proposal and reply to a comment (one level of replies). A comment
written while a round is open belongs to that round, so the round's record can point at
what was said during it; the minute's stored bytes stay as they were written (the link is
read from the comments, never written into the minute). An author may edit their comment:
the earlier text is kept (``CommentVersion``) and members can read it. Nobody deletes a
comment; a facilitator hides one with a reason, and the discussion shows that it was hidden,
why and by whom.

The proposal's author and everyone who commented hear of a new comment through the
notification outbox, delivered as each chose (e-mail at once, the daily digest, or only
the inbox). The discussion is for members unless the group makes it public; then names
follow the group's ``public_names``, as responses do.

Who has not spoken: the eligible members of the open round (the round's own list, less a
beneficiary who does not count and anyone who has left) with no response in it. A
facilitator may remind them, and the group may have them reminded automatically some
hours before the deadline; either way a member is reminded at most once per round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ledger import service as ledger_service
from ledger.groups import active_membership, has_role, list_members, utcnow
from ledger.models import Group, User
from ledger.words import N_, Words
from proposals import service
from proposals.errors import (
    CommentHidden,
    CommentNotFound,
    InvalidProposal,
    NotAllowed,
)
from proposals.models import (
    Comment,
    CommentVersion,
    GroupRules,
    Proposal,
    Reminder,
    Response,
    Round,
)
from proposals.notify import Said, notify
from proposals.schemas import (
    CommentOut,
    EarlierTextOut,
    HiddenOut,
    NotRespondedOut,
)

DEFAULT_REMINDER_HOURS = 24


def _now(now: datetime | None) -> datetime:
    return (now or utcnow()).astimezone(UTC)


# --- the group's settings -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiscussionSettings:
    public_comments: bool = False
    reminder_hours: int = DEFAULT_REMINDER_HOURS  # 0: no automatic reminder


async def settings_of(session: AsyncSession, group: Group) -> DiscussionSettings:
    row = await session.get(GroupRules, group.id)
    if row is None:
        return DiscussionSettings()
    return DiscussionSettings(row.public_comments, row.reminder_hours)


async def set_settings(
    session: AsyncSession,
    group: Group,
    *,
    public_comments: bool | None = None,
    reminder_hours: int | None = None,
) -> DiscussionSettings:
    """Change what is given; the rest keeps its value."""
    if reminder_hours is not None and not 0 <= reminder_hours <= 24 * 365:
        raise InvalidProposal(
            "reminder_hours_before is a whole number of hours from 0 (no automatic "
            "reminder) to 8760.",
            field="reminder_hours_before",
        )
    row = await service.rules_row(session, group)
    if public_comments is not None:
        row.public_comments = public_comments
    if reminder_hours is not None:
        row.reminder_hours = reminder_hours
    await session.flush()
    return DiscussionSettings(row.public_comments, row.reminder_hours)


async def may_read(session: AsyncSession, group: Group, *, member: bool) -> bool:
    """Whether the reader may read the group's discussions: members always; anyone else
    who may read the proposals only when the group made its discussions public."""
    return member or (await settings_of(session, group)).public_comments


# --- writing --------------------------------------------------------------------------------


async def _comment_of(session: AsyncSession, proposal: Proposal, comment_id: int) -> Comment:
    comment = await session.get(Comment, comment_id, populate_existing=True)
    if comment is None or comment.proposal_id != proposal.id:
        raise CommentNotFound(f"Proposal {proposal.number} has no comment {comment_id}.")
    return comment


def _round_now(proposal: Proposal, now: datetime) -> Round | None:
    """The round open at ``now``, if any (a round past its deadline is over)."""
    round_ = service.current_round(proposal)
    if service.round_is_open(proposal, round_) and round_.closes_at > now:
        return round_
    return None


async def post_comment(
    session: AsyncSession,
    group: Group,
    number: int,
    author: User,
    body: str,
    reply_to: int | None = None,
    now: datetime | None = None,
) -> Comment:
    now = _now(now)
    text = service.clean_text(body, "body", required=True)
    # The group's lock, as closes take it: a comment lands in a round before it closes,
    # or after it, never in a round already decided.
    await ledger_service.lock_log(session, group)
    if await active_membership(session, group.id, author.id) is None:
        raise NotAllowed(f"Only members of {group.slug!r} take part in its discussions.")
    proposal = await service.get_proposal(session, group, number)
    if reply_to is not None:
        parent = await session.get(Comment, reply_to)
        if parent is None or parent.proposal_id != proposal.id:
            raise InvalidProposal(
                f"reply_to names no comment of proposal {number}.", field="reply_to"
            )
        if parent.reply_to_id is not None:
            raise InvalidProposal(
                f"Replies go one level deep: reply to comment {parent.reply_to_id}, which "
                f"comment {reply_to} answers.",
                field="reply_to",
            )
    round_ = _round_now(proposal, now)
    comment = Comment(
        proposal_id=proposal.id,
        round_id=round_.id if round_ is not None else None,
        reply_to_id=reply_to,
        author_id=author.id,
        body=text,
        created_at=now,
        hidden_reason="",
    )
    session.add(comment)
    await session.flush()
    await _tell_the_discussion(session, group, proposal, author, now)
    return await _comment_of(session, proposal, comment.id)


async def _tell_the_discussion(
    session: AsyncSession, group: Group, proposal: Proposal, author: User, now: datetime
) -> None:
    """The proposal's author and everyone who commented hear of the new comment (not its
    writer; nobody who has left the group)."""
    commenters = set(
        await session.scalars(
            select(Comment.author_id).where(Comment.proposal_id == proposal.id).distinct()
        )
    )
    members = {m.user_id for m in await list_members(session, group.id)}
    told = sorted(({proposal.author_id} | commenters) & members - {author.id})
    if not told:
        return
    title = service.current_version(proposal).title
    await notify(
        session,
        group,
        told,
        "comment",
        Said(
            Words(N_("New comment on \u201c%(title)s\u201d"), {"title": title}),
            Words(
                N_(
                    "%(author)s commented on proposal %(number)s in %(group)s, "
                    "\u201c%(title)s\u201d. Open the proposal to read the discussion."
                ),
                {
                    "author": author.name,
                    "number": proposal.number,
                    "group": group.name,
                    "title": title,
                },
            ),
        ),
        now,
        proposal_number=proposal.number,
    )


async def edit_comment(
    session: AsyncSession,
    group: Group,
    number: int,
    user: User,
    comment_id: int,
    body: str,
    now: datetime | None = None,
) -> Comment:
    """The author rewrites their comment; the text before is kept."""
    now = _now(now)
    text = service.clean_text(body, "body", required=True)
    proposal = await service.get_proposal(session, group, number)
    comment = await _comment_of(session, proposal, comment_id)
    if comment.author_id != user.id:
        raise NotAllowed("Only its author can edit a comment.")
    if comment.hidden_at is not None:
        raise CommentHidden(
            f"Comment {comment_id} was hidden by a facilitator; it stays as it was."
        )
    if text == comment.body:
        raise InvalidProposal("The edit changes nothing.", field="body")
    session.add(
        CommentVersion(
            comment_id=comment.id,
            body=comment.body,
            written_at=comment.edited_at or comment.created_at,
            replaced_at=now,
        )
    )
    comment.body = text
    comment.edited_at = now
    await session.flush()
    return await _comment_of(session, proposal, comment.id)


async def hide_comment(
    session: AsyncSession,
    group: Group,
    number: int,
    user: User,
    comment_id: int,
    reason: str,
    now: datetime | None = None,
) -> Comment:
    """A facilitator hides a comment, saying why; the comment and its history stay."""
    now = _now(now)
    membership = await active_membership(session, group.id, user.id)
    if membership is None or not has_role(membership.roles, "facilitator"):
        raise NotAllowed("Only a facilitator can hide a comment.")
    why = service.clean_text(reason, "reason", required=True)
    proposal = await service.get_proposal(session, group, number)
    comment = await _comment_of(session, proposal, comment_id)
    if comment.hidden_at is not None:
        raise CommentHidden(f"Comment {comment_id} is hidden already.")
    comment.hidden_at = now
    comment.hidden_by_id = user.id
    comment.hidden_reason = why
    await session.flush()
    return await _comment_of(session, proposal, comment.id)


# --- reading --------------------------------------------------------------------------------


def comment_out(
    comment: Comment,
    round_numbers: dict[int, int],
    *,
    show_names: bool,
    member: bool,
    facilitator: bool,
) -> CommentOut:
    """One comment as a reader may see it: a hidden one without its text (but for
    facilitators), earlier texts for members only."""
    readable = comment.hidden_at is None or facilitator
    return CommentOut(
        id=comment.id,
        author=comment.author.name if show_names else None,
        author_id=comment.author_id if show_names else None,
        body=comment.body if readable else None,
        created_at=comment.created_at,
        round=round_numbers.get(comment.round_id) if comment.round_id is not None else None,
        reply_to=comment.reply_to_id,
        edited_at=comment.edited_at,
        earlier=[
            EarlierTextOut(body=v.body, written_at=v.written_at, replaced_at=v.replaced_at)
            for v in comment.versions
        ]
        if member and readable
        else [],
        hidden=None
        if comment.hidden_at is None
        else HiddenOut(
            reason=comment.hidden_reason,
            at=comment.hidden_at,
            by=comment.hidden_by.name if show_names and comment.hidden_by else None,
        ),
    )


def round_numbers_of(proposal: Proposal) -> dict[int, int]:
    return {r.id: r.number for r in proposal.rounds}


async def comments_out(
    session: AsyncSession,
    proposal: Proposal,
    *,
    show_names: bool,
    member: bool,
    facilitator: bool,
) -> list[CommentOut]:
    """The discussion, oldest first, each comment with its replies (oldest first)."""
    rows = list(
        await session.scalars(
            select(Comment).where(Comment.proposal_id == proposal.id).order_by(Comment.id)
        )
    )
    numbers = round_numbers_of(proposal)
    top: list[CommentOut] = []
    by_id: dict[int, CommentOut] = {}
    for row in rows:
        out = comment_out(
            row, numbers, show_names=show_names, member=member, facilitator=facilitator
        )
        parent = by_id.get(row.reply_to_id) if row.reply_to_id is not None else None
        if parent is not None:
            parent.replies.append(out)
        else:
            by_id[row.id] = out
            top.append(out)
    return top


async def comments_per_round(session: AsyncSession, proposal: Proposal) -> dict[int, int]:
    """How many comments were written during each round, by round number."""
    counts = await session.execute(
        select(Comment.round_id, func.count())
        .where(Comment.proposal_id == proposal.id, Comment.round_id.is_not(None))
        .group_by(Comment.round_id)
    )
    numbers = round_numbers_of(proposal)
    return {numbers[round_id]: count for round_id, count in counts if round_id in numbers}


# --- who has not spoken yet -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Silent:
    """An eligible member who has not responded in the open round."""

    user_id: int
    name: str
    reminded_at: datetime | None


async def not_responded(session: AsyncSession, group: Group, proposal: Proposal) -> list[Silent]:
    """The members who count in the open round and have not responded, by name; none when
    no round is open."""
    round_ = service.current_round(proposal)
    if not service.round_is_open(proposal, round_):
        return []
    rules = service.rules_of(round_)
    eligible = set(service.eligible_of(round_))
    if rules.exclude_beneficiary and proposal.beneficiary_id is not None:
        eligible.discard(proposal.beneficiary_id)
    responded = set(
        await session.scalars(
            select(Response.user_id).where(Response.round_id == round_.id).distinct()
        )
    )
    reminded = dict(
        (
            await session.execute(
                select(Reminder.user_id, Reminder.sent_at).where(Reminder.round_id == round_.id)
            )
        ).all()
    )
    silent = [
        Silent(m.user_id, m.user.name, reminded.get(m.user_id))
        for m in await list_members(session, group.id)
        if m.user_id in eligible and m.user_id not in responded
    ]
    return sorted(silent, key=lambda s: (s.name.casefold(), s.user_id))


def not_responded_out(silent: Sequence[Silent]) -> list[NotRespondedOut]:
    return [
        NotRespondedOut(member_id=s.user_id, member=s.name, reminded_at=s.reminded_at)
        for s in silent
    ]


# --- reminders ------------------------------------------------------------------------------


async def remind(
    session: AsyncSession, group: Group, number: int, now: datetime | None = None
) -> int:
    """A facilitator reminds the members who have not responded in the open round; each
    member at most once per round. Returns how many were reminded now."""
    now = _now(now)
    await ledger_service.lock_log(session, group)
    proposal = await service.get_proposal(session, group, number)
    round_ = await service.open_round_of(session, group, proposal, now)
    return await _remind_round(session, group, proposal, round_, "facilitator", now)


async def _remind_round(
    session: AsyncSession,
    group: Group,
    proposal: Proposal,
    round_: Round,
    kind: str,
    now: datetime,
) -> int:
    """Remind who has not responded and was not reminded in this round yet (the caller
    holds the group's lock, so two reminders cannot both pass the check)."""
    silent = await not_responded(session, group, proposal)
    waiting = [s.user_id for s in silent if s.reminded_at is None]
    if not waiting:
        return 0
    for user_id in waiting:
        session.add(Reminder(round_id=round_.id, user_id=user_id, kind=kind, sent_at=now))
    title = service.current_version(proposal).title
    deadline = round_.closes_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    await notify(
        session,
        group,
        waiting,
        "reminder",
        Said(
            Words(N_("Reminder: your response is awaited: %(title)s"), {"title": title}),
            Words(
                N_(
                    "Proposal %(number)s in %(group)s, \u201c%(title)s\u201d, still awaits "
                    "your response. Round %(round)s closes on %(deadline)s."
                ),
                {
                    "number": proposal.number,
                    "group": group.name,
                    "title": title,
                    "round": round_.number,
                    "deadline": deadline,
                },
            ),
        ),
        now,
        proposal_number=proposal.number,
        delivery="each",
    )
    return len(waiting)


def reminder_due_at(closes_at: datetime, hours: int) -> datetime:
    return closes_at - timedelta(hours=hours)


async def remind_due(session: AsyncSession, now: datetime | None = None) -> int:
    """The automatic reminders: every open round whose group's reminder time has come
    (its ``reminder_hours`` before the deadline) reminds its silent members once. A round
    whose reminder time came before it opened needs none (the opening told everyone).
    Returns how many members were reminded."""
    now = _now(now)
    rows = (
        await session.execute(
            select(Proposal, Round, Group, GroupRules.reminder_hours)
            .join(Round, Round.proposal_id == Proposal.id)
            .join(Group, Group.id == Proposal.group_id)
            .outerjoin(GroupRules, GroupRules.group_id == Group.id)
            .where(
                # Also a round kept open to confirm an urgent decision.
                or_(Proposal.status == "open", Round.urgent_passed_at.is_not(None)),
                Round.closed_at.is_(None),
                Round.reminded_at.is_(None),
                Round.closes_at > now,
            )
            # One order for taking the groups' locks, as ``service.close_due`` does.
            .order_by(Group.id, Round.id)
        )
    ).all()
    reminded = 0
    for proposal, round_, owner, hours in rows:
        hours = DEFAULT_REMINDER_HOURS if hours is None else hours
        if hours == 0:
            continue  # off: a group that turns it on later still gets it
        due_at = reminder_due_at(round_.closes_at, hours)
        if now < due_at:
            continue
        async with session.begin_nested():
            await ledger_service.lock_log(session, owner)
            claimed = await session.execute(
                update(Round)
                .where(Round.id == round_.id, Round.reminded_at.is_(None))
                .values(reminded_at=now)
                .execution_options(synchronize_session=False)
            )
            if claimed.rowcount != 1:  # type: ignore[attr-defined]
                continue  # another worker reminded this round first
            if due_at > round_.opened_at:
                fresh = await service.get_proposal(session, owner, proposal.number)
                current = service.current_round(fresh)
                if current.id == round_.id and current.closed_at is None:
                    reminded += await _remind_round(
                        session, owner, fresh, current, "automatic", now
                    )
    return reminded
